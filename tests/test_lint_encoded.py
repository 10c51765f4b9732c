"""`sealer lint` finds credentials that Kubernetes objects carry encoded: base64 of JSON/YAML in Secret `data`,
JSON or a base64 blob in ConfigMap `data`, Docker registry configs, nesting (issue 18).

Runs the CLI as its own process on files written here (`sealer lint DIR --format json`). Every planted value is
generated at run time; ciphertext comes from the real `sealer encrypt`, certificates from `cryptography`. The
negative cases share a run with a positive control, so each test fails when the decoding is switched off.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealer.lint import detectors
from tests.cli_process import run_sealer

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def value() -> str:
    """A fresh password-like literal (24 random letters and digits)."""
    return "".join(secrets.choice(ALNUM) for _ in range(24))


def short_value() -> str:
    """Seven distinct random characters: a typed password. Under a sensitive key in parsed JSON it counts; the
    text scan wants more entropy (3 bits per character) and lets it pass."""
    return "".join(secrets.SystemRandom().sample(ALNUM, 7))


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def secret(items: dict[str, str], field: str = "data", kind: str = "Secret", type_: str = "Opaque") -> str:
    """A manifest with ``items`` under ``field``, each value a YAML double-quoted string (JSON escapes)."""
    lines = "".join(f"  {json.dumps(k)}: {json.dumps(v)}\n" for k, v in items.items())
    head = f"type: {type_}\n" if kind == "Secret" else ""
    return f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: x\n  namespace: app\n{head}{field}:\n{lines}"


def configmap(items: dict[str, str], field: str = "data") -> str:
    return secret(items, field, kind="ConfigMap")


def lint(tmp_path: Path, files: dict[str, str], fmt: str = "json") -> subprocess.CompletedProcess[str]:
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    for name, text in files.items():
        (tree / name).write_text(text)
    return run_sealer("lint", tree, "--format", fmt, "--jobs", "1", cwd=tmp_path)


def credentials(r: subprocess.CompletedProcess[str]) -> dict[str, list[dict]]:
    """file -> its credential findings (rule `credential`)."""
    assert r.returncode in (0, 1), r.stderr
    out: dict[str, list[dict]] = {}
    for f in json.loads(r.stdout)["findings"]:
        if f["rule"] == "credential":
            out.setdefault(f["file"].rsplit("/", 1)[-1], []).append(f)
    return out


def only(found: dict[str, list[dict]], name: str) -> dict:
    (f,) = found[name]
    return f


# --- Docker registry configs ---------------------------------------------------------------------------------

REGISTRY = "registry.corp.internal:5000"


@pytest.mark.parametrize("form", ["auth", "password", "identitytoken", "legacy-dockercfg", "stringData"])
def test_dockerconfigjson_credential_names_the_registry_never_the_value(tmp_path, form):
    password = value()
    auth = b64(f"ci-bot:{password}")
    entry = {"auth": {"auth": auth}, "password": {"username": "ci-bot", "password": password},
             "identitytoken": {"identitytoken": password}}.get(form, {"auth": auth, "email": "ci@corp.internal"})
    config = json.dumps({REGISTRY: entry} if form == "legacy-dockercfg" else {"auths": {REGISTRY: entry}})
    if form == "stringData":
        text = secret({".dockerconfigjson": config}, "stringData", type_="kubernetes.io/dockerconfigjson")
    elif form == "legacy-dockercfg":
        text = secret({".dockercfg": b64(config)}, type_="kubernetes.io/dockercfg")
    else:
        text = secret({".dockerconfigjson": b64(config)}, type_="kubernetes.io/dockerconfigjson")
    r = lint(tmp_path, {"pull.yaml": text})
    findings = json.loads(r.stdout)["findings"]
    assert r.returncode == 1
    rules = [f["rule"] for f in findings]
    # the plaintext Secret is reported too (not for JSON in stringData: is_reference reads its closing `}}` as
    # the end of a template; plaintext_secret's business, left alone here)
    assert rules == ["plaintext-secret", "credential"] or (form == "stringData" and rules == ["credential"])
    f = findings[-1]
    assert f["detector"] == "docker-config-auth"
    item = ".dockercfg" if form == "legacy-dockercfg" else ".dockerconfigjson"
    assert (f["line"], f["column"]) == (8, len(f'  "{item}": "') + 1)  # the item's value, after its quote
    key = "auth" if form in ("auth", "legacy-dockercfg", "stringData") else form
    where = f'"{REGISTRY}".{key}' if form == "legacy-dockercfg" else f'auths."{REGISTRY}".{key}'
    encoding = "JSON" if form == "stringData" else "base64-encoded JSON"
    assert f["message"].endswith(f"({encoding}: {where})"), f["message"]
    outputs = [r.stdout] + [lint(tmp_path, {}, fmt).stdout for fmt in ("text", "sarif")]
    assert all(REGISTRY in out for out in outputs)
    for out in outputs:
        for leaked in (password, auth, b64(config), config[:40]):
            assert leaked not in out


def test_registry_password_that_is_a_known_token_keeps_its_family_and_the_registry(tmp_path):
    body = rand(30)
    pat = "gh" + "p_" + body + detectors.github_checksum(body)  # ghcr.io takes a GitHub token as the password
    config = json.dumps({"auths": {"ghcr.io": {"username": "ci-bot", "password": pat,
                                               "auth": b64(f"ci-bot:{pat}")}}})
    found = credentials(lint(tmp_path, {"pull.yaml": secret({".dockerconfigjson": b64(config)})}))
    f = only(found, "pull.yaml")
    assert f["detector"] == "github-token" and pat not in json.dumps(f)
    assert f["message"].endswith('(base64-encoded JSON: auths."ghcr.io".password)'), f["message"]


def test_dockerconfigjson_placeholders_and_references_are_not_credentials(tmp_path):
    def pull(entry: dict) -> str:
        return secret({".dockerconfigjson": b64(json.dumps({"auths": {REGISTRY: entry}}))},
                      type_="kubernetes.io/dockerconfigjson")

    files = {
        "env-auth.yaml": pull({"auth": "${REGISTRY_AUTH}"}),
        "env-password.yaml": pull({"auth": b64("ci-bot:${REGISTRY_PASSWORD}")}),
        "helm-password.yaml": pull({"username": "ci-bot", "password": "{{ .Values.registry.password }}"}),
        "changeme.yaml": pull({"username": "ci-bot", "password": "changeme", "auth": b64("ci-bot:changeme")}),
        "angle.yaml": pull({"auth": b64("ci-bot:<registry-password>")}),
        "json-refs.yaml": configmap({"settings.json": json.dumps(
            {"db": {"password": "${DB_PASSWORD}"}, "apiKey": "<your-api-key>", "token": "$(TOKEN)"})}),
        "control.yaml": pull({"auth": b64(f"ci-bot:{value()}")}),
    }
    found = credentials(lint(tmp_path, files))
    assert sorted(found) == ["control.yaml"]
    assert only(found, "control.yaml")["detector"] == "docker-config-auth"


# --- JSON and YAML inside Secret and ConfigMap items -----------------------------------------------------------

def test_base64_of_json_and_yaml_in_secret_data(tmp_path):
    files = {
        "json.yaml": secret({"config.json": b64(json.dumps({"db": {"host": "pg", "password": value()}}))}),
        "yaml.yaml": secret({"application.yaml": b64(f"spring:\n  datasource:\n    password: {value()}\n")}),
        "list.yaml": secret({"hosts.json": b64(json.dumps({"hosts": [{"name": "a"}, {"name": "b",
                                                                                      "token": value()}]}))}),
    }
    found = credentials(lint(tmp_path, files))
    assert {name: (f["detector"], f["line"], f["message"].rsplit(" (", 1)[1]) for name in found
            for f in found[name]} == {
        "json.yaml": ("encoded-sensitive-key", 8, "base64-encoded JSON: db.password)"),
        "yaml.yaml": ("encoded-sensitive-key", 8, "base64-encoded YAML: spring.datasource.password)"),
        "list.yaml": ("encoded-sensitive-key", 8, "base64-encoded JSON: hosts[1].token)"),
    }


def test_json_in_configmap_data_and_secret_string_data(tmp_path):
    key = value()
    settings = json.dumps({"service": {"apiKey": key, "timeout": 30}})
    as_json_manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                   "data": {"settings.json": settings}}, indent=2)  # kubectl get -o json
    block = "".join(f"    {line}\n" for line in json.dumps({"apiKey": value()}, indent=2).splitlines())
    files = {
        "cm.yaml": configmap({"settings.json": settings}),
        "cm.json": as_json_manifest,
        "string-data.yaml": secret({"config.json": json.dumps({"db": {"password": value()}})}, "stringData"),
        "block.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  settings.json: |\n" + block,
    }
    found = credentials(lint(tmp_path, files))
    assert [(f["detector"], f["line"], f["column"]) for f in found["cm.yaml"]] == [("encoded-sensitive-key", 7, 21)]
    assert found["cm.yaml"][0]["message"].endswith("(JSON: service.apiKey)")
    assert [(f["detector"], f["line"]) for f in found["cm.json"]] == [("encoded-sensitive-key", 8)]
    assert only(found, "string-data.yaml")["message"].endswith("(JSON: db.password)")
    # a block scalar's text stands in the file: the text scan reports it once, on its own line
    assert [(f["detector"], f["line"]) for f in found["block.yaml"]] == [("generic-assignment", 7)]


def test_base64_blob_in_configmap_data(tmp_path):
    body = rand(30)
    token = "gh" + "p_" + body + detectors.github_checksum(body)
    wrapped = b64(json.dumps({"token": value(), "pad": rand(80)}))
    files = {
        "env.yaml": configmap({"app.env": b64(f"LOG_LEVEL=info\nDB_PASSWORD={value()}\n")}),
        "token.yaml": configmap({"ci": b64(f"export GITHUB={token}\n")}),
        "wrapped.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  blob: |\n"
                        + "".join(f"    {wrapped[i:i + 40]}\n" for i in range(0, len(wrapped), 40)),
    }
    found = credentials(lint(tmp_path, files))
    assert [(f["detector"], f["line"], f["message"]) for f in found["env.yaml"]] == [
        ("generic-assignment", 7, "credential assigned to a sensitive name (base64-encoded)")]
    assert [(f["detector"], f["line"]) for f in found["token.yaml"]] == [("github-token", 7)]
    assert only(found, "wrapped.yaml")["message"].endswith("(base64-encoded JSON: token)")
    assert token not in json.dumps(found)


def _nested(levels: int, inner: str) -> str:
    """base64(JSON {"blob": base64(JSON {"blob": ... base64(inner)})}): ``levels`` base64 layers."""
    text = b64(inner)
    for _ in range(levels - 1):
        text = b64(json.dumps({"blob": text}))
    return text


def test_triple_nesting_found_and_the_depth_is_bounded(tmp_path):
    inner = json.dumps({"password": value()})
    files = {
        "three.yaml": secret({"bundle": _nested(3, inner)}),
        "three-cm.yaml": configmap({"bundle.json": json.dumps({"blob": _nested(2, inner)})}),
        "four.yaml": secret({"bundle": _nested(4, inner)}),  # deeper than lint looks
    }
    found = credentials(lint(tmp_path, files))
    assert sorted(found) == ["three-cm.yaml", "three.yaml"]
    assert only(found, "three.yaml")["message"].endswith(
        "(base64-encoded JSON: blob > base64-encoded JSON: blob > base64-encoded JSON: password)")
    assert only(found, "three-cm.yaml")["message"].endswith(
        "(JSON: blob > base64-encoded JSON: blob > base64-encoded JSON: password)")


def test_bombs_and_huge_values_are_bounded(tmp_path):
    password = short_value()
    pad = [rand(6) + " " + rand(6) for _ in range(80_000)]  # ~1.1 MB of JSON, no long token runs
    alias_bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True))
    files = {
        "layers.yaml": configmap({"v": _nested(12, json.dumps({"password": password}))}),
        "json-nesting.yaml": secret({"v": b64("[" * 200_000 + "]" * 200_000)}),
        "yaml-nesting.yaml": secret({"v": b64("a:\n  b: " + "[" * 100_000)}),
        "alias-bomb.yaml": secret({"v": b64(alias_bomb)}),
        "huge.yaml": configmap({"settings.json": json.dumps({"pad": pad, "password": password})}),
        "under-limit.yaml": configmap({"settings.json": json.dumps({"pad": pad[:40_000], "password": password})}),
    }
    start = time.monotonic()
    found = credentials(lint(tmp_path, files))
    assert time.monotonic() - start < 60
    assert sorted(found) == ["under-limit.yaml"]  # larger than 1 MiB: not parsed


# --- what is not a credential ------------------------------------------------------------------------------------

def _certificate() -> tuple[bytes, bytes]:
    """(DER, PEM) of a fresh self-signed certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.corp.internal")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER), cert.public_bytes(serialization.Encoding.PEM)


def test_certificates_and_binary_base64_are_not_credentials(tmp_path):
    der, pem = _certificate()
    png = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(3000)
    files = {
        "binary-data.yaml": configmap({"ca.der": b64(der), "logo.png": b64(png)}, "binaryData"),
        "b64-in-data.yaml": configmap({"ca.der": b64(der), "logo.png": b64(png), "ca.pem": b64(pem),
                                       "bundle.json": json.dumps({"caBundle": b64(pem), "logo": b64(png)})}),
        "tls.yaml": secret({"tls.crt": b64(pem), "ca.crt": b64(pem + pem)}, type_="kubernetes.io/tls"),
        "pem-in-data.yaml": configmap({"ca.crt": pem.decode()}),
        "control.yaml": configmap({"bundle.json": json.dumps({"caBundle": b64(pem), "token": short_value()})}),
    }
    found = credentials(lint(tmp_path, files))
    assert sorted(found) == ["control.yaml"]


def test_sops_encrypted_documents_inside_are_not_credentials(tmp_path):
    from pyrage import x25519

    plain = json.dumps({"db": {"password": value()}, "apiKey": value()})
    sops_file = tmp_path / "settings.json"
    sops_file.write_text(plain)
    recipient = str(x25519.Identity.generate().to_public())
    subprocess.run([sys.executable, "-m", "sealer", "encrypt", "-i", "--age", recipient, str(sops_file)],
                   check=True, cwd=tmp_path, capture_output=True)
    encrypted = sops_file.read_text()
    assert encrypted.count("ENC[AES256_GCM,") >= 3  # the two values and the MAC
    files = {
        "cm.yaml": configmap({"settings.json": encrypted}),
        "secret.yaml": secret({"settings.json": b64(encrypted)}),
        "nested.yaml": secret({"bundle": b64(json.dumps({"blob": b64(encrypted)}))}),
        "values.yaml": configmap({"v": json.dumps({"password": json.loads(encrypted)["db"]["password"]})}),
        "control.yaml": secret({"settings.json": b64(plain)}),
    }
    found = credentials(lint(tmp_path, files))
    assert sorted(found) == ["control.yaml"] and len(found["control.yaml"]) == 2
