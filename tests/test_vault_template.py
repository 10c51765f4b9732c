"""VaultSecret `spec.target.template`, as External Secrets Operator's v2 templates: the engine against Go's own
text/template + sprig with ESO's `missingkey=error` (tests/gotemplate), the ESO order and merge rules as pure
functions, ESO's extra functions (PEM, PKCS#12, JWK) against `cryptography`, and one end-to-end run with the
controller process, the API emulator and a real OpenBao."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.vault import spec as vs
from controller.vault import template as vt
from controller.vault.fields import SpecError
from sealer import gotemplate
from sealer.errors import InputError
from sealer.gotemplate.values import StrMap
from tests.controller_process import assert_no_leak
from tests.gotemplate import reference
from tests.openbao import Bao, kv2_put
from tests.vault_resources import VS, start_vault_controller, store, token_auth, token_secret, vault_secret, wait_cond

needs_go = pytest.mark.skipif(reference.missing() is not None, reason=reference.missing() or "")

# ESO's documented uses: a connection string, a .dockerconfigjson, a config file, keys with dashes.
DATA = {"user": "admin", "password": "p@ss:w/rd", "host": "db.example", "registry": "ghcr.io",
        "api-key": "k-1", "port": "5432"}
ESO_TEMPLATES = [
    "postgres://{{ .user }}:{{ .password | urlquery }}@{{ .host }}:{{ .port }}/app",
    '{"auths":{"{{ .registry }}":{"username":"{{ .user }}","password":"{{ .password }}",'
    '"auth":"{{ printf "%s:%s" .user .password | b64enc }}"}}}',
    "[db]\nuser = {{ .user | quote }}\nkey = {{ index . \"api-key\" }}\n"
    "{{- range $k, $v := . }}\n# {{ $k }}{{ end }}\n",
    "{{ .missing }}",  # ESO: missingkey=error
    "{{ .user.name }}",
    "{{ index . \"missing\" }}|{{ .user | default \"x\" }}",  # index is not affected by missingkey
    "{{ if .password }}{{ .password | b64enc | b64dec | sha256sum }}{{ end }}",
    "{{ toJson . }}",
    "{{ .user | upper | trunc 3 }}-{{ .host | replace \".\" \"_\" }}",
]


@needs_go
def test_eso_engine_matches_go_with_missingkey_error() -> None:
    cases = [(t, DATA) for t in ESO_TEMPLATES]
    go = reference.run(cases, missing_key_error=True)
    agree = 0
    for (template, data), want in zip(cases, go, strict=True):
        try:
            got: bytes | None = gotemplate.render(template, StrMap(sorted(data.items())), dialect=gotemplate.ESO)
        except InputError:
            got = None
        assert got == want, (template, got, want)
        agree += 1
    assert agree == len(ESO_TEMPLATES)
    assert go[3] is None and go[0] == b"postgres://admin:p%40ss%3Aw%2Frd@db.example:5432/app"


def _spec(target: dict[str, Any]) -> vs.VaultSecretSpec:
    return vs.parse_vault_secret(vault_secret("s", "app", "vault", data=[
        {"secretKey": "user", "remoteRef": {"path": "p", "property": "user"}}], target=target))


ITEMS = {"user": b"admin", "password": b"pw-1"}


def test_replace_merge_and_no_template_follow_eso() -> None:
    plain = _spec({"template": {"type": "kubernetes.io/basic-auth"}})
    assert not plain.target.template.active  # type only: the items pass through, no engine
    replace = _spec({"template": {"data": {"dsn": "{{ .user }}:{{ .password }}"}}})
    got = vt.render(replace.target.template, ITEMS, {})
    assert got.data == {"dsn": b"admin:pw-1"}
    merge = _spec({"template": {"mergePolicy": "Merge", "data": {"dsn": "{{ .user }}", "user": "root"}}})
    assert vt.render(merge.target.template, ITEMS, {}).data == {"dsn": b"admin", "user": b"root",
                                                                "password": b"pw-1"}
    meta_only = _spec({"template": {"metadata": {"labels": {"owner": "{{ .user }}", "plain": "x"},
                                                 "annotations": {"a": "{{ len .password }}"}}}})
    assert meta_only.target.template.active
    out = vt.render(meta_only.target.template, ITEMS, {})
    assert out.data == ITEMS and out.labels == {"owner": "admin", "plain": "x"} and out.annotations == {"a": "4"}


def test_template_from_configmap_secret_literal_in_eso_order() -> None:
    t = _spec({"template": {
        "templateFrom": [
            {"configMap": {"name": "tpl", "items": [{"key": "config.yaml"},
                                                    {"key": "more", "templateAs": "KeysAndValues"}]}},
            {"secret": {"name": "tpl-s", "items": [{"key": "token"}]}, "target": "Annotations"},
            {"literal": "lit-{{ .user }}: '{{ .password }}'"},
            {"literal": "team: '{{ .user }}'", "target": "Labels"}],
        "data": {"config.yaml": "data wins {{ .user }}"}}}).target.template
    assert t.reads() == [("ConfigMap", "tpl"), ("Secret", "tpl-s")]
    sources = {("ConfigMap", "tpl"): {"config.yaml": b"from cm {{ .user }}",
                                      "more": b"k1: '{{ .password }}'\nk2: plain\n"},
               ("Secret", "tpl-s"): {"token": b"t-{{ .password | b64enc }}"}}
    out = vt.render(t, ITEMS, sources)
    assert out.data == {"config.yaml": b"data wins admin", "k1": b"pw-1", "k2": b"plain", "lit-admin": b"pw-1"}
    assert out.annotations == {"token": "t-" + base64.b64encode(b"pw-1").decode()}
    assert out.labels == {"team": "admin"}


@pytest.mark.parametrize(("template", "sources", "field", "reason"), [
    ({"data": {"x": "{{ .nope }}"}}, {}, "spec.target.template.data.x", "no entry for key 'nope'"),
    ({"data": {"x": "{{ .user "}}, {}, "spec.target.template.data.x", "syntax error"),
    ({"data": {"x": "{{ toYaml . }}"}}, {}, "spec.target.template.data.x", "not supported by sealer"),
    ({"templateFrom": [{"configMap": {"name": "c", "items": [{"key": "k"}]}}]}, {("ConfigMap", "c"): {}},
     "spec.target.template.templateFrom[0].configMap[k]", "has no key 'k'"),
    ({"templateFrom": [{"literal": "{{ .password }}: x"}]}, {}, "spec.target.template.templateFrom[0].literal",
     "not a valid Secret item key"),
    ({"templateFrom": [{"literal": "a: {{ len .password }}"}]}, {}, "spec.target.template.templateFrom[0].literal",
     "map of strings"),
])
def test_render_errors_name_the_item_never_the_value(template: dict[str, Any], sources: dict[Any, Any],
                                                     field: str, reason: str) -> None:
    planted = {"user": b"admin", "password": b"PLANTED-" + secrets.token_hex(4).encode() + b"/x"}
    with pytest.raises(vt.TemplateError) as e:
        vt.render(_spec({"template": template}).target.template, planted, sources)
    assert e.value.field == field and reason in str(e.value)
    assert planted["password"].decode() not in str(e.value)


@pytest.mark.parametrize(("target", "field"), [
    ({"template": {"engineVersion": "v1"}}, "spec.target.template.engineVersion"),
    ({"template": {"mergePolicy": "Both"}}, "spec.target.template.mergePolicy"),
    ({"template": {"data": {"bad key": "x"}}}, "spec.target.template.data.bad key"),
    ({"template": {"data": {"k": 1}}}, "spec.target.template.data"),
    ({"template": {"templateFrom": [{"configMap": {"name": "c", "namespace": "other", "items": [{"key": "k"}]}}]}},
     "spec.target.template.templateFrom[0].configMap.namespace"),
    ({"template": {"templateFrom": [{"configMap": {"name": "c", "items": [{"key": "k"}]}, "literal": "x"}]}},
     "spec.target.template.templateFrom[0]"),
    ({"template": {"templateFrom": [{"literal": "x", "target": "spec.foo"}]}},
     "spec.target.template.templateFrom[0].target"),
    ({"template": {"data": {f"k{i}": "x" for i in range(300)}}}, "spec.target.template"),
    ({"immutable": "yes"}, "spec.target.immutable"),
])
def test_template_spec_errors_name_the_field(target: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as e:
        _spec(target)
    assert e.value.field == field


# --- ESO's extra functions ---------------------------------------------------------------------------------


def _cert_and_key() -> tuple[Any, Any, Any, Any]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def make(cn: str, key: Any, issuer: str, signer: Any, ca: bool) -> Any:
        now = dt.datetime.now(dt.UTC)
        return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = make("test-ca", ca_key, "test-ca", ca_key, True)
    leaf = make("leaf.example", leaf_key, "test-ca", ca_key, False)
    return leaf, leaf_key, ca, ca_key


def _eso(template: str, **data: str) -> str:
    return gotemplate.render(template, StrMap(sorted(data.items())), dialect=gotemplate.ESO).decode(
        "utf-8", "surrogateescape")


def test_eso_pem_and_pkcs12_functions() -> None:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.serialization import pkcs12

    leaf, leaf_key, ca, _ = _cert_and_key()
    leaf_pem = leaf.public_bytes(s.Encoding.PEM).decode()
    ca_pem = ca.public_bytes(s.Encoding.PEM).decode()
    key_pem = leaf_key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
    bundle = "junk before\n" + key_pem + leaf_pem + ca_pem
    assert _eso('{{ .b | filterPEM "CERTIFICATE" }}', b=bundle) == leaf_pem + ca_pem
    assert _eso('{{ .b | filterPEM "PRIVATE KEY" }}', b=bundle) == key_pem
    with pytest.raises(InputError, match="found junk"):
        _eso('{{ .b | filterPEM "CERTIFICATE" }}', b="no pem at all")
    for password in ("", "s3cret"):
        enc = s.BestAvailableEncryption(password.encode()) if password else s.NoEncryption()
        archive = pkcs12.serialize_key_and_certificates(b"x", leaf_key, leaf, [ca], enc)
        b64 = base64.b64encode(archive).decode()
        if password:
            key_out = _eso("{{ .p | b64dec | pkcs12keyPass .pw }}", p=b64, pw=password)
            certs_out = _eso("{{ .p | b64dec | pkcs12certPass .pw }}", p=b64, pw=password)
        else:
            key_out = _eso("{{ .p | b64dec | pkcs12key }}", p=b64)
            certs_out = _eso("{{ .p | b64dec | pkcs12cert }}", p=b64)
        assert key_out == key_pem
        assert certs_out == leaf_pem + ca_pem  # leaf first, then its issuer
    with pytest.raises(InputError, match="unable to decode pkcs12"):
        _eso("{{ .p | b64dec | pkcs12keyPass \"wrong\" }}", p=b64)


def test_eso_jwk_functions() -> None:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    def b64u(n: int | bytes) -> str:
        raw = n if isinstance(n, bytes) else n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    r = rsa.generate_private_key(65537, 2048)
    n = r.private_numbers()
    rsa_jwk = {"kty": "RSA", "n": b64u(n.public_numbers.n), "e": b64u(n.public_numbers.e), "d": b64u(n.d),
               "p": b64u(n.p), "q": b64u(n.q), "dp": b64u(n.dmp1), "dq": b64u(n.dmq1), "qi": b64u(n.iqmp)}
    e = ec.generate_private_key(ec.SECP384R1())
    en = e.private_numbers()
    ec_jwk = {"kty": "EC", "crv": "P-384", "x": b64u(en.public_numbers.x.to_bytes(48, "big")),
              "y": b64u(en.public_numbers.y.to_bytes(48, "big")), "d": b64u(en.private_value.to_bytes(48, "big"))}
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u(ed.public_key().public_bytes_raw()),
              "d": b64u(ed.private_bytes_raw())}
    for key, jwk in ((r, rsa_jwk), (e, ec_jwk), (ed, ed_jwk)):
        pub = key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode()
        priv = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
        assert _eso("{{ .j | jwkPublicKeyPem }}", j=json.dumps(jwk)) == pub
        assert _eso("{{ .j | jwkPrivateKeyPem }}", j=json.dumps(jwk)) == priv
    with pytest.raises(InputError, match="jwk"):
        _eso("{{ .j | jwkPublicKeyPem }}", j='{"kty": "oct", "k": "AAAA"}')


# --- end to end ---------------------------------------------------------------------------------------------


def test_templates_end_to_end(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = f"tpl-{secrets.token_hex(4)}"
    plant = "PLANTED-tpl-" + secrets.token_hex(6)
    kv2_put(openbao, f"{base}/db", {"user": "admin", "password": plant, "host": "db.internal"})
    openbao.write_policy(f"{base}-read", 'path "*" { capabilities = ["read", "list"] }')
    proc, _ = start_vault_controller(kube, tmp_path)
    token_secret(kube, "app", openbao.create_token(f"{base}-read"))
    kube.client.create(store(openbao, "vault", "app", token_auth()))
    kube.client.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-tpl", "namespace": "app"},
                       "data": {"app.ini": "[db]\nurl = postgres://{{ .user }}:{{ .password | urlquery }}@{{ .host }}"
                                           "/app\n"}})
    docker = ('{"auths":{"ghcr.io":{"username":"{{ .user }}","password":"{{ .password }}",'
              '"auth":"{{ printf "%s:%s" .user .password | b64enc }}"}}}')
    kube.client.create(vault_secret("creds", "app", "vault", dataFrom=[{"path": f"{base}/db"}], target={
        "immutable": False,
        "template": {"type": "kubernetes.io/dockerconfigjson",
                     "metadata": {"labels": {"db-user": "{{ .user }}"}},
                     "data": {".dockerconfigjson": docker},
                     "templateFrom": [{"configMap": {"name": "app-tpl", "items": [{"key": "app.ini"}]}}]}}))
    wait_cond(kube, "creds", "app", "True")
    secret = kube.client.get("v1", "Secret", "creds", "app")
    items = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    auth = base64.b64encode(f"admin:{plant}".encode()).decode()
    docker_json = {"auths": {"ghcr.io": {"username": "admin", "password": plant, "auth": auth}}}
    assert items == {".dockerconfigjson": json.dumps(docker_json, separators=(",", ":")).encode(),
                     "app.ini": f"[db]\nurl = postgres://admin:{plant}@db.internal/app\n".encode()}
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["labels"]["db-user"] == "admin"

    # a template that cannot render: the Secret stays as it was, the status names the item, not the value
    kube.client.patch(*VS, "creds", {"spec": {"target": {"template": {"data": {
        ".dockerconfigjson": "{{ .user }}{{ .nope }}"}}}}}, "app")
    cond = wait_cond(kube, "creds", "app", "False", "InvalidTemplate")
    assert "spec.target.template.data..dockerconfigjson" in cond["message"] and "nope" in cond["message"]
    assert kube.client.get("v1", "Secret", "creds", "app")["data"] == secret["data"]
    # a ConfigMap that does not exist: TemplateNotFound, retried
    kube.client.create(vault_secret("other", "app", "vault", dataFrom=[{"path": f"{base}/db"}], target={
        "template": {"templateFrom": [{"configMap": {"name": "absent", "items": [{"key": "k"}]}}]}}))
    wait_cond(kube, "other", "app", "False", "TemplateNotFound")
    proc.stop()
    assert_no_leak(proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS)), plant)
