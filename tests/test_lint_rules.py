"""Each lint rule on its own: what it reports (rule, line, column), and the look-alikes it must leave alone.

Runs the library's per-file scan (`sealer.lint.scan.scan_text`) on text written here; ciphertext comes from the
real sealer (SealedSecrets from generated key pairs, SOPS files from `sealer encrypt`). Token-shaped values are
assembled at run time so this file itself stays clean under `sealer lint`.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sealer.io import manifests
from sealer.lint import detectors
from sealer.lint.context import CertInfo, Options
from sealer.lint.scan import scan_text
from sealer.sealed import sealedsecret as sealed
from tests.keypairs import KeyPair

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def lint(text: str, path: str = "f.yaml", options: Options | None = None, location: str | None = None):
    return scan_text(path, location, text, options or Options())


def where(findings) -> list[tuple[str, int, int]]:
    return [(f.rule, f.line, f.column) for f in findings]


# --- plaintext-secret ------------------------------------------------------------------------------------

SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: prod}
data:
  password: aHVudGVyMiZ4eQ==
  empty: ""
stringData:
  api-key: "v&7!Kp2#xQ"
  none:
"""


def test_plaintext_secret_one_finding_per_item_on_its_line():
    findings = [f for f in lint(SECRET) if f.rule == "plaintext-secret"]
    assert where(findings) == [("plaintext-secret", 5, 3), ("plaintext-secret", 8, 3)]
    assert "Secret prod/db: data.password" in findings[0].message
    assert all("aHVudGVy" not in f.message and "v&7" not in f.message for f in findings)


def test_plaintext_secret_in_a_list_and_in_json():
    as_list = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(SECRET)]})
    assert {f.rule for f in lint(as_list)} >= {"plaintext-secret"}
    as_json = manifests.dump_objects([yaml.safe_load(SECRET)], "json")
    assert len([f for f in lint(as_json, "s.json") if f.rule == "plaintext-secret"]) == 2


@pytest.mark.parametrize("value", ["${DB_PASSWORD}", "{{ .Values.password | b64enc }}", '""', "~"])
def test_plaintext_secret_ignores_references_and_empty_values(value):
    text = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\nstringData:\n  password: {value}\n"
    assert lint(text) == []


def test_plaintext_secret_only_for_core_v1_secrets():
    text = "apiVersion: example.com/v1\nkind: Secret\nmetadata: {name: x}\nstringData:\n  password: q8!Zx&2Lp\n"
    assert [f.rule for f in lint(text)] == ["credential"]  # still a credential, but not a core Secret


# --- credential ----------------------------------------------------------------------------------------------

def _tokens() -> dict[str, str]:
    b32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k1"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"sub":"system:serviceaccount:ci:deployer"}').rstrip(b"=").decode()
    return {
        "github-token": "gh" + "p_" + (body := rand(30)) + detectors.github_checksum(body),
        "gitlab-token": "gl" + "pat-" + rand(20),
        "slack-token": "xo" + "xb-" + rand(12, string.digits) + "-" + rand(24),
        "aws-access-key-id": "AK" + "IA" + rand(16, string.ascii_uppercase + "234567"),
        "gcp-api-key": "AI" + "za" + rand(35),
        "age-secret-key": "AGE-SECRET" + "-KEY-1" + rand(58, b32),
        "vault-token": "hv" + "s." + rand(90),
        "jwt": f"{header}.{payload}.{rand(43)}",
        "azure-storage-key": "AccountKey=" + rand(86) + "==",
    }


@pytest.mark.parametrize("detector", sorted(_tokens()))
def test_credential_token_formats_in_text(detector):
    token = _tokens()[detector]
    text = f"# config\n\nvalue = {token}\n"
    findings = lint(text, "notes.txt")
    assert [(f.rule, f.detector, f.line) for f in findings] == [("credential", detector, 3)]
    assert findings[0].column == 9 + (len("AccountKey=") if detector == "azure-storage-key" else 0)


def test_credential_private_key_block_needs_a_body():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert [(f.detector, f.line) for f in lint("x\n" + pem, "key.txt")] == [("private-key", 2)]
    header_only = pem.splitlines()[0] + "\n...\n" + pem.splitlines()[-1] + "\n"
    assert lint(header_only, "doc.md") == []
    b64 = base64.b64encode(pem.encode()).decode()
    assert [f.detector for f in lint(f"blob: {b64}\n", "x.txt")] == ["base64-private-key"]


@pytest.mark.parametrize("url,found", [
    ("postgres://app:Tr0ub4dor&3@db.prod.svc:5432/app", True),
    ("redis://:Rd7!kP2#xQ@redis:6379/0", True),
    ("https://deploy:Gh7%21kQ2%26zX@git.corp.internal/repo.git", True),
    ("postgres://user:password@localhost/db", False),
    ("postgres://app:${DB_PASSWORD}@db/app", False),
    ("https://user:s3cr3tPw!@api.example.com/v1", False),
    ("https://git.corp.internal/repo.git", False),
])
def test_credential_passwords_in_urls(url, found):
    findings = lint(f"DSN={url}\n", "app.txt")
    assert [f.detector for f in findings] == (["url-password"] if found else [])
    if found:
        assert findings[0].column == 5 + url.index(":", url.index("://") + 3) + 1


@pytest.mark.parametrize("line,found", [
    ('db_password = "S3cr3t&P@ss!"', True),
    ("PASSWORD=Xk9#mP2$vLq", True),
    ('client_secret: "q8Zx!2Lp&7Wm"', True),
    ("password: hunter2", False),  # raw text: below the entropy threshold
    ('password = "changeme123"', False),
    ("secretName: db-credentials", False),
    ("existingSecret: shop-db", False),
    ("password_file: /run/secrets/db", False),
    ("token_url: https://auth.corp.internal/token", False),
    ('TOKEN_ENV = "VAULT_TOKEN"', False),
])
def test_credential_generic_assignment(line, found):
    assert bool(lint(line + "\n", "app.conf")) is found


@pytest.mark.parametrize("line", [
    "    token: {secretRef: {name: vault-token, key: token}}",  # a YAML snippet in Markdown: a flow mapping
    "  auth_token: [tokenA, tokenB]",
])
def test_credential_flow_collections_in_raw_text_are_structure(line):
    assert lint(line + "\n", "README.md") == []


def test_credential_generic_in_code_counts_only_string_literals():
    code = ('password = os.environ["DB_PASSWORD"]\ntoken = tokens[0]\nsecret = "%s:%s" % (a, b)\n'
            'api_key = "v7!Kq2&Lp9xZ"\nprefix = "sk-" + suffix\n')
    assert [(f.line, f.detector) for f in lint(code, "app.py")] == [(4, "generic-assignment")]


def test_credential_structured_values_keep_special_characters_and_lower_threshold():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  DB_PASSWORD: \"hunter2 & co\"\n"
    findings = lint(text)
    assert [(f.detector, f.line, f.column) for f in findings] == [("sensitive-key", 5, 17)]


def test_credential_in_container_env_and_args():
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
        - name: app
          args: ["--api-token=Zq8!x2Lp&9"]
          env:
            - name: DB_PASSWORD
              value: "hunter2&x"
            - name: DB_HOST
              value: "hunter2&x.svc"
            - name: OTHER
              valueFrom: {secretKeyRef: {name: s, key: password}}
"""
    assert [(f.detector, f.line) for f in lint(text)] == [("sensitive-key", 9), ("container-env", 12)]


def test_credential_base64_hidden_in_secret_data_is_decoded():
    token = _tokens()["github-token"]
    text = ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n"
            f"  config: {base64.b64encode(f'TOKEN={token}'.encode()).decode()}\n")
    findings = lint(text)
    assert [(f.rule, f.line) for f in findings] == [("plaintext-secret", 5), ("credential", 5)]
    assert findings[1].detector == "github-token" and "base64" in findings[1].message


def test_credential_kubeconfig_users():
    text = ("apiVersion: v1\nkind: Config\nusers:\n  - name: ci\n    user:\n"
            f"      token: {rand(40)}\n      username: admin\n")
    assert [(f.detector, f.line) for f in lint(text, "kubeconfig.yaml")] == [("kubeconfig-credential", 6)]


def test_helm_templates_are_parsed_around_the_template_syntax():
    text = """\
{{- if .Values.enabled }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "x.fullname" . }}
stringData:
  password: {{ .Values.password | quote }}
  admin: "q8!Zx&2Lp"
{{- end }}
"""
    assert where(lint(text, "templates/secret.yaml")) == [("plaintext-secret", 8, 3)]


def test_unparseable_yaml_is_still_scanned_as_text():
    token = _tokens()["github-token"]
    text = f"key: [unclosed\ntoken: {token}\n"
    assert [f.detector for f in lint(text)] == ["github-token"]


# --- SealedSecrets -----------------------------------------------------------------------------------------------

def _sealed(kp: KeyPair, **meta) -> dict:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod", **meta},
              "stringData": {"password": "x", "token": "y"}}
    return sealed.seal_secret(secret, kp.cert)


def _cert_info(kp: KeyPair) -> CertInfo:
    return CertInfo(kp.cert.fingerprint, kp.cert.public_key.key_size // 8, str(kp.cert_path))


def test_sealed_secret_values_are_never_credentials(kp2048):
    text = manifests.dump_objects([_sealed(kp2048)], "yaml")
    assert "password: AQ" in text  # 2048-bit: the length prefix 0x0100
    assert lint(text) == []
    assert lint(text, options=Options(certs=(_cert_info(kp2048),))) == []


def test_sealed_unknown_key_by_size_and_by_fingerprint(kp2048, kp2048b, kp4096):
    text = manifests.dump_objects([_sealed(kp2048)], "yaml")
    by_size = lint(text, options=Options(certs=(_cert_info(kp4096),)))
    lines = text.splitlines()
    fp_line = next(i for i, line in enumerate(lines, 1) if "key-fingerprint" in line)
    item_lines = [i for i, line in enumerate(lines, 1) if line.strip().startswith(("password:", "token:"))]
    assert sorted((f.rule, f.line) for f in by_size) == sorted(
        [("sealed-unknown-key", fp_line)] + [("sealed-unknown-key", n) for n in item_lines])
    assert "RSA-2048" in by_size[-1].message or "RSA-2048" in by_size[0].message
    same_size = lint(text, options=Options(certs=(_cert_info(kp2048b),)))
    assert [(f.rule, f.line) for f in same_size] == [("sealed-unknown-key", fp_line)]
    either = lint(text, options=Options(certs=(_cert_info(kp2048b), _cert_info(kp2048))))
    assert either == []


def test_sealed_unknown_key_reports_values_that_are_not_sealed(kp2048):
    obj = _sealed(kp2048)
    obj["spec"]["encryptedData"]["password"] = "Hnt2&Zq9!xWp"
    obj["spec"]["encryptedData"]["token"] = obj["spec"]["encryptedData"]["token"][:200]
    findings = lint(manifests.dump_objects([obj], "yaml"))
    messages = sorted(f.message for f in findings if f.rule == "sealed-unknown-key")
    assert len(messages) == 2 and "not base64" in messages[0] and "not framed" in messages[1]


@pytest.mark.parametrize("edit,expect", [
    (lambda o: o["metadata"]["annotations"].update({"sealedsecrets.bitnami.com/namespace-wide": "yes"}), 1),
    (lambda o: o["metadata"]["annotations"].update({"sealedsecrets.bitnami.com/namespace-wide": "true",
                                                    "sealedsecrets.bitnami.com/cluster-wide": "true"}), 1),
    (lambda o: o["spec"]["template"]["metadata"].update(
        {"annotations": {"sealedsecrets.bitnami.com/cluster-wide": "true"}}), 1),
    (lambda o: o["spec"]["template"]["metadata"].update({"name": "other"}), 1),
    (lambda o: o["metadata"].pop("name") and o["metadata"].pop("namespace"), 1),
    (lambda o: None, 0),
])
def test_sealed_scope(kp2048, edit, expect):
    obj = _sealed(kp2048)
    edit(obj)
    assert [f.rule for f in lint(manifests.dump_objects([obj], "yaml"))] == ["sealed-scope"] * expect


def test_sealed_scope_consistent_namespace_wide_is_clean(kp2048):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
              "stringData": {"password": "x"}}
    obj = sealed.seal_secret(secret, kp2048.cert, scope=sealed.Scope.NAMESPACE_WIDE)
    obj["spec"]["template"]["metadata"]["name"] = "renamed-is-fine-namespace-wide"
    assert lint(manifests.dump_objects([obj], "yaml")) == []


# --- SOPS --------------------------------------------------------------------------------------------------------

def _age_recipient() -> str:
    from pyrage import x25519

    return str(x25519.Identity.generate().to_public())


def _sops_dir(tmp_path: Path, recipient: str, rule_recipient: str | None = None, extra: str = "") -> Path:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {rule_recipient or recipient}\n{extra}")
    (tmp_path / "secrets").mkdir()
    f = tmp_path / "secrets" / "db.yaml"
    f.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: q8!Zx&2Lp\n"
                 "  note_unencrypted: visible\n")
    subprocess.run([sys.executable, "-m", "sealer", "encrypt", "-i", "--age", recipient, str(f),
                    "--unencrypted-suffix", "_unencrypted"], check=True, cwd=tmp_path)
    return f


def scan_file(f: Path, options: Options | None = None):
    from sealer.lint.rules import sops_rules

    sops_rules.reset_cache()
    return scan_text(f.name, str(f), f.read_text(), options or Options())


def test_sops_file_written_by_sealer_is_clean(tmp_path):
    f = _sops_dir(tmp_path, _age_recipient())
    assert "ENC[AES256_GCM" in f.read_text() and "note_unencrypted: visible" in f.read_text()
    assert scan_file(f) == []


def test_sops_plaintext_value_where_the_rule_encrypts(tmp_path):
    f = _sops_dir(tmp_path, _age_recipient())
    lines = f.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("  password: ENC["))
    lines[n] = "  password: back-in-clear"
    f.write_text("\n".join(lines) + "\n")
    findings = scan_file(f)
    assert [(x.rule, x.line, x.column) for x in findings] == [("credential", n + 1, 13),
                                                             ("sops-plaintext-value", n + 1, 13)]
    assert "stringData.password" in findings[1].message and "back-in-clear" not in findings[1].message


@pytest.mark.parametrize("drop,field", [("  mac: ", "sops.mac"), ("  lastmodified: ", "sops.lastmodified")])
def test_sops_missing_metadata(tmp_path, drop, field):
    f = _sops_dir(tmp_path, _age_recipient())
    f.write_text("".join(line for line in f.read_text().splitlines(keepends=True) if not line.startswith(drop)))
    findings = scan_file(f)
    assert [x.rule for x in findings] == ["sops-plaintext-value"] and field in findings[0].message


def test_sops_mac_in_clear(tmp_path):
    f = _sops_dir(tmp_path, _age_recipient())
    f.write_text("".join("  mac: 0123ABCD\n" if line.startswith("  mac: ") else line
                         for line in f.read_text().splitlines(keepends=True)))
    assert ["sops.mac is not encrypted" in x.message for x in scan_file(f)] == [True]


def _sopssecret(tmp_path: Path, *flags: str, text: str | None = None) -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(text or "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: team-a}\n"
                         "stringData:\n  password: q8!Zx&2Lp\n")
    subprocess.run([sys.executable, "-m", "sealer", "encrypt", "-i", "--age", _age_recipient(), *flags, str(f)],
                   check=True, cwd=tmp_path)
    return f


def test_sopssecret_scope(tmp_path):
    """Bound (sealer encrypt --kind sopssecret): clean. Unscoped, or a binding edited in by hand: an error, as the
    controller would refuse it; the forged value is not in the message."""
    bound = _sopssecret(tmp_path, "--kind", "sopssecret")
    assert scan_file(bound) == []
    forged = tmp_path / "forged.yaml"
    forged.write_text(re.sub(r"binding: ENC\[[^\]]*\]", "binding: team-b/stolen", bound.read_text()))
    assert [(x.rule, "plaintext" in x.message, "team-b/stolen" in x.message)
            for x in scan_file(forged) if x.rule == "sopssecret-scope"] == [("sopssecret-scope", True, False)]
    legacy = _sopssecret(tmp_path, "--encrypted-regex", "^(data|stringData)$", text=(
        "apiVersion: sealer.dev/v1alpha1\nkind: SopsSecret\nmetadata: {name: db, namespace: team-a}\n"
        "spec:\n  stringData:\n    password: q8!Zx&2Lp\n"))
    assert [(x.rule, "rescope" in x.message) for x in scan_file(legacy)] == [("sopssecret-scope", True)]
    flux = _sopssecret(tmp_path)  # an encrypted kind: Secret for Flux has no binding, and needs none
    assert scan_file(flux) == []


def test_sops_recipients_differ_from_the_matching_rule(tmp_path):
    ours, theirs = _age_recipient(), _age_recipient()
    f = _sops_dir(tmp_path, theirs, rule_recipient=ours)
    findings = scan_file(f)
    assert [x.rule for x in findings] == ["sops-recipients"]
    assert ours in findings[0].message and theirs in findings[0].message


def test_sops_recipients_without_a_matching_rule_or_config(tmp_path):
    ours, theirs = _age_recipient(), _age_recipient()
    f = _sops_dir(tmp_path, theirs, rule_recipient=ours)
    moved = tmp_path / "elsewhere.yaml"  # path_regex does not match it
    moved.write_text(f.read_text())
    assert scan_file(moved) == []
    (tmp_path / ".sops.yaml").unlink()
    assert scan_file(f) == []


# --- detectors' value classification ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,sensitive", [
    ("password", True), ("DB_PASSWORD", True), ("apiKey", True), ("client_secret", True), ("key", True),
    ("secretName", False), ("existingSecret", False), ("tokenPath", False), ("password_file", False),
    ("secretKeyRef", False), ("username", False), ("TOKEN_TTL", False), ("monkey", False),
])
def test_sensitive_names(name, sensitive):
    assert detectors.sensitive_name(name) is sensitive


def test_sealed_shape_recognises_real_ciphertext(kp2048):
    value = sealed.seal_value(kp2048.cert, b"v", sealed.Scope.CLUSTER_WIDE, "", "")
    assert detectors.sealed_shape(value) == (256, 17)
    assert detectors.is_ciphertext(value)
    assert detectors.sealed_shape(base64.b64encode(secrets.token_bytes(300)).decode()) is None


def test_random_sops_ciphertext_is_never_a_generic_assignment():
    """A SOPS iv or tag is random base64: now and then it spells `pwd` or `key` right before its `=` padding
    (1 file in ~150 here; it once failed CI). Nothing inside ENC[...] is an assignment."""
    line = ("  password: ENC[AES256_GCM,data:Zm9vYmFy,iv:BjhBvqZisb5DLcburLiUlLH++s6Rf0r6NhpwdE=,"
            "tag:CqBEsaLcA2oIei8o2P0KXg==,type:str]\n")
    assert lint("stringData:\n" + line, "s.yaml") == []
    assert lint("x = 1\n" + line.replace("  password: ", "mac="), "app.conf") == []
