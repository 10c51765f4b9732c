"""`sealer seal` / `unseal` / `keys generate` / `cert` as a user runs them: real processes, real keys."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sealer.sealed import keys
from tests.cli_process import run_sealer, unsealed_items
from tests.keypairs import KeyPair

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  uid: 1234-5678
  resourceVersion: "42"
  creationTimestamp: "2024-01-01T00:00:00Z"
  labels: {app: db}
  annotations:
    team: payments
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"password":"LASTAPPLIEDPLAINTEXT"}}'
type: kubernetes.io/basic-auth
immutable: true
data:
  username: YWRtaW4=
  password: b2xk
stringData:
  password: "p&ss:w0rd@x/?#"
"""


def seal(kp: KeyPair, tmp_path: Path, text: str, *args: str):
    src = tmp_path / "in.yaml"
    src.write_text(text)
    return run_sealer("seal", src, "--cert", kp.cert_path, *args)


def test_seal_then_unseal_round_trip_keeps_metadata_and_strips_server_fields(kp2048, tmp_path):
    r = seal(kp2048, tmp_path, SECRET)
    assert r.returncode == 0, r.stderr
    assert "LASTAPPLIEDPLAINTEXT" not in r.stdout and "p&ss" not in r.stdout
    ss = yaml.safe_load(r.stdout)
    assert ss["apiVersion"] == "sealer.dev/v1alpha1" and ss["kind"] == "SealedSecret"
    assert ss["metadata"]["name"] == "db" and ss["metadata"]["namespace"] == "prod"
    assert ss["metadata"]["annotations"] == {"sealer.dev/key-fingerprint": kp2048.cert.fingerprint}
    tmeta = ss["spec"]["template"]["metadata"]
    assert tmeta["labels"] == {"app": "db"}
    assert tmeta["annotations"] == {"team": "payments"}
    for server_field in ("uid", "resourceVersion", "creationTimestamp"):
        assert server_field not in tmeta
    assert ss["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    assert ss["spec"]["template"]["immutable"] is True
    assert set(ss["spec"]["encryptedData"]) == {"username", "password"}

    sealed_file = tmp_path / "sealed.yaml"
    sealed_file.write_text(r.stdout)
    u = run_sealer("unseal", sealed_file, "--key", kp2048.key_path)
    assert u.returncode == 0, u.stderr
    # stringData wins over data on a clash, as in the Kubernetes API
    assert unsealed_items(u.stdout) == {"username": b"admin", "password": b"p&ss:w0rd@x/?#"}
    secret = yaml.safe_load(u.stdout)
    assert secret["type"] == "kubernetes.io/basic-auth" and secret["immutable"] is True
    assert secret["metadata"]["labels"] == {"app": "db"}


def test_multi_document_input_gives_one_sealed_secret_per_secret_in_order(kp2048, tmp_path):
    docs = "\n---\n".join(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}, namespace: ns}}\nstringData: {{v: value{i}}}"
        for i in range(5))
    r = seal(kp2048, tmp_path, docs)
    assert r.returncode == 0, r.stderr
    out = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert [d["metadata"]["name"] for d in out] == [f"s{i}" for i in range(5)]
    (tmp_path / "s.yaml").write_text(r.stdout)
    u = run_sealer("unseal", tmp_path / "s.yaml", "--key", kp2048.key_path, "-o", "json")
    assert u.returncode == 0, u.stderr
    listed = json.loads(u.stdout)
    assert listed["kind"] == "List"
    assert [base64.b64decode(s["data"]["v"]) for s in listed["items"]] == [f"value{i}".encode() for i in range(5)]


def test_json_input_and_output(kp2048, tmp_path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j", "namespace": "n"},
              "data": {"k": base64.b64encode(b"\x00\xffbinary").decode()}}
    r = seal(kp2048, tmp_path, json.dumps(secret), "-o", "json")
    assert r.returncode == 0, r.stderr
    ss = json.loads(r.stdout)
    assert ss["kind"] == "SealedSecret"
    (tmp_path / "s.json").write_text(r.stdout)
    u = run_sealer("unseal", tmp_path / "s.json", "--key", kp2048.key_path)
    assert unsealed_items(u.stdout) == {"k": b"\x00\xffbinary"}


def test_kubectl_list_input_is_flattened(kp2048, tmp_path):
    lst = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"x{i}", "namespace": "n"},
         "stringData": {"a": "b"}} for i in range(2)]}
    r = seal(kp2048, tmp_path, yaml.safe_dump(lst))
    assert r.returncode == 0, r.stderr
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(r.stdout) if d] == ["x0", "x1"]


@pytest.mark.parametrize(("annotation", "flag", "expected"), [
    (None, None, {}),
    ("sealedsecrets.bitnami.com/namespace-wide", None, {"sealedsecrets.bitnami.com/namespace-wide": "true"}),
    ("sealedsecrets.bitnami.com/cluster-wide", None, {"sealedsecrets.bitnami.com/cluster-wide": "true"}),
    ("sealedsecrets.bitnami.com/cluster-wide", "strict", {}),
    (None, "namespace-wide", {"sealedsecrets.bitnami.com/namespace-wide": "true"}),
])
def test_scope_from_flag_else_annotations_written_on_own_metadata(kp2048, tmp_path, annotation, flag, expected):
    ann = f"\n  annotations: {{{annotation}: 'true'}}" if annotation else ""
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b{ann}\nstringData: {{k: v}}\n"
    r = seal(kp2048, tmp_path, text, *(["--scope", flag] if flag else []))
    assert r.returncode == 0, r.stderr
    ss = yaml.safe_load(r.stdout)
    own = {k: v for k, v in ss["metadata"]["annotations"].items() if k.startswith("sealedsecrets")}
    assert own == expected
    tmpl = {k: v for k, v in (ss["spec"]["template"]["metadata"].get("annotations") or {}).items()
            if k.startswith("sealedsecrets")}
    assert tmpl == expected  # template agrees with the scope actually used (kubeseal tooling reads it there)


def test_namespace_and_name_flags_fill_gaps_and_refuse_contradictions(kp2048, tmp_path):
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n"
    r = seal(kp2048, tmp_path, text, "-n", "team")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["metadata"]["namespace"] == "team"
    r = seal(kp2048, tmp_path, text.replace("{name: a}", "{name: a, namespace: other}"), "-n", "team")
    assert r.returncode == 2 and "does not match -n" in r.stderr and not r.stdout


def test_bitnami_api_version(kp2048, tmp_path):
    r = seal(kp2048, tmp_path, SECRET, "--api-version", "bitnami.com/v1alpha1")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["apiVersion"] == "bitnami.com/v1alpha1"


def test_raw_prints_one_value_without_newline_that_opens_under_its_scope(kp2048, tmp_path):
    value = tmp_path / "value.bin"
    value.write_bytes(b"raw\nmulti-line\x00value")
    r = run_sealer("seal", "--raw", "--from-file", value, "-n", "ns", "--name", "nm", "--cert", kp2048.cert_path)
    assert r.returncode == 0, r.stderr
    assert not r.stdout.endswith("\n") and len(r.stdout.split()) == 1
    ss = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "nm", "namespace": "ns"},
          "spec": {"encryptedData": {"v": r.stdout}}}
    (tmp_path / "ss.yaml").write_text(yaml.safe_dump(ss))
    u = run_sealer("unseal", tmp_path / "ss.yaml", "--key", kp2048.key_path)
    assert u.returncode == 0, u.stderr
    assert unsealed_items(u.stdout) == {"v": b"raw\nmulti-line\x00value"}
    r = run_sealer("seal", "--raw", "--from-file", value, "-n", "ns", "--cert", kp2048.cert_path)
    assert r.returncode == 2 and "strict scope needs a name" in r.stderr and not r.stdout


def test_write_is_atomic_and_untouched_on_error(kp2048, tmp_path):
    out = tmp_path / "out.yaml"
    out.write_text("previous content\n")
    bad = SECRET + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\ndata: {k: '%%%'}\n"
    r = seal(kp2048, tmp_path, bad, "-w", str(out))
    assert r.returncode == 2 and "data.k" in r.stderr
    assert out.read_text() == "previous content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.yaml", "out.yaml"]  # no temp file left behind
    r = seal(kp2048, tmp_path, SECRET, "-w", str(out))
    assert r.returncode == 0 and not r.stdout
    assert yaml.safe_load(out.read_text())["kind"] == "SealedSecret"


MERGE_TARGET = """\
# sealed for prod; do not edit by hand
apiVersion: sealer.dev/v1alpha1
kind: SealedSecret
metadata:
  name: db
  namespace: prod
  annotations:
    sealedsecrets.bitnami.com/namespace-wide: "true"
spec:
  encryptedData:
    keep: {keep}   # the old one
  template:
    metadata:
      name: db
      namespace: prod
"""


def test_merge_into_adds_items_and_leaves_other_ciphertexts_and_comments_alone(kp2048, tmp_path):
    keep = run_sealer("seal", "--raw", "--from-file", "-", "-n", "prod", "--scope", "namespace-wide",
                      "--cert", kp2048.cert_path, input="kept value").stdout
    target = tmp_path / "sealed.yaml"
    target.write_text(MERGE_TARGET.format(keep=keep))
    new = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {added: new value}\n"
    r = seal(kp2048, tmp_path, new, "--merge-into", str(target))
    assert r.returncode == 0, r.stderr
    text = target.read_text()
    assert f"keep: {keep}   # the old one" in text
    assert text.startswith("# sealed for prod; do not edit by hand\n")
    u = run_sealer("unseal", target, "--key", kp2048.key_path)
    assert u.returncode == 0, u.stderr
    # sealed with the target's own scope (namespace-wide): it opens
    assert unsealed_items(u.stdout) == {"keep": b"kept value", "added": b"new value"}


def test_merge_into_refuses_a_secret_for_another_name(kp2048, tmp_path):
    target = tmp_path / "sealed.yaml"
    target.write_text(MERGE_TARGET.format(keep="AAAA"))
    before = target.read_text()
    new = "apiVersion: v1\nkind: Secret\nmetadata: {name: other}\nstringData: {added: v}\n"
    r = seal(kp2048, tmp_path, new, "--merge-into", str(target))
    assert r.returncode == 2 and "does not match" in r.stderr
    assert target.read_text() == before


def test_cert_from_url(kp2048, tmp_path):
    handler = partial(SimpleHTTPRequestHandler, directory=str(kp2048.cert_path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sealer.crt"
        r = seal(kp2048, tmp_path, SECRET.replace("immutable: true\n", ""), "--cert", url)
        assert r.returncode == 0, r.stderr
        r = run_sealer("cert", "--cert", url, "-o", "json")
        assert json.loads(r.stdout)["fingerprint"] == kp2048.cert.fingerprint
        r = run_sealer("seal", tmp_path / "in.yaml", "--cert", url + ".missing")
        assert r.returncode == 2 and "HTTP 404" in r.stderr
    finally:
        server.shutdown()


def test_seal_reads_cert_from_env(kp2048, kp2048b, tmp_path):
    (tmp_path / "in.yaml").write_text(SECRET)
    r = run_sealer("seal", tmp_path / "in.yaml", env={"SEALER_CERT": str(kp2048.cert_path)})
    assert r.returncode == 0, r.stderr
    # sealed to THAT cert: its fingerprint, its private key opens it, the other key does not
    ss = yaml.safe_load(r.stdout)
    assert ss["kind"] == "SealedSecret"
    assert ss["metadata"]["annotations"] == {"sealer.dev/key-fingerprint": kp2048.cert.fingerprint}
    (tmp_path / "sealed.yaml").write_text(r.stdout)
    u = run_sealer("unseal", tmp_path / "sealed.yaml", "--key", kp2048.key_path)
    assert u.returncode == 0, u.stderr
    assert unsealed_items(u.stdout) == {"username": b"admin", "password": b"p&ss:w0rd@x/?#"}
    wrong = run_sealer("unseal", tmp_path / "sealed.yaml", "--key", kp2048b.key_path)
    assert wrong.returncode != 0 and "p&ss" not in wrong.stdout
    # --cert on the command line wins over the variable
    r = run_sealer("seal", tmp_path / "in.yaml", "--cert", kp2048b.cert_path,
                   env={"SEALER_CERT": str(kp2048.cert_path)})
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["metadata"]["annotations"]["sealer.dev/key-fingerprint"] == kp2048b.cert.fingerprint
    # neither the variable nor --cert (and no kubeconfig to fetch from): refused, nothing sealed to another cert
    r = run_sealer("seal", tmp_path / "in.yaml",
                   env={"HOME": str(tmp_path / "home"), "KUBECONFIG": str(tmp_path / "no-kubeconfig")})
    assert r.returncode == 2 and r.stdout == ""
    assert "--cert" in r.stderr


# --- keys generate, cert ------------------------------------------------------------------------------

def test_keys_generate_writes_private_key_0600_pkcs1_and_refuses_overwrite(tmp_path):
    d = tmp_path / "k"
    r = run_sealer("keys", "generate", "--out-dir", d, "--bits", "2048", "--cn", "prod-cluster", "--days", "30")
    assert r.returncode == 0, r.stderr
    key, crt = d / "sealer.key", d / "sealer.crt"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    info = json.loads(run_sealer("cert", "--cert", crt, "-o", "json").stdout)
    assert info["subject"].endswith("CN=prod-cluster") and info["keyAlgorithm"] == "RSA-2048"
    not_after = dt.datetime.fromisoformat(info["notAfter"].replace("Z", "+00:00"))
    assert 29 <= (not_after - dt.datetime.now(dt.UTC)).days <= 30
    assert info["fingerprint"] in r.stdout
    before = key.read_bytes()
    r = run_sealer("keys", "generate", "--out-dir", d, "--bits", "2048")
    assert r.returncode == 2 and "--force" in r.stderr
    assert key.read_bytes() == before
    r = run_sealer("keys", "generate", "--out-dir", d, "--bits", "2048", "--force")
    assert r.returncode == 0 and key.read_bytes() != before
    assert "warning: replacing" in r.stderr
    assert key.stat().st_mode & 0o777 == 0o600


def test_keys_generate_rejects_tiny_keys(tmp_path):
    r = run_sealer("keys", "generate", "--out-dir", tmp_path / "k", "--bits", "1024")
    assert r.returncode == 2 and "--bits" in r.stderr and not (tmp_path / "k").exists()


def _expired_cert(tmp_path: Path) -> Path:
    _, cert = keys.generate(bits=2048, days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    path = tmp_path / "expired.crt"
    path.write_bytes(keys.cert_pem(cert))
    return path


def test_expired_cert_is_rejected_for_sealing_and_flagged_by_cert(tmp_path):
    crt = _expired_cert(tmp_path)
    (tmp_path / "in.yaml").write_text(SECRET)
    r = run_sealer("seal", tmp_path / "in.yaml", "--cert", crt)
    assert r.returncode == 2 and "expired" in r.stderr and not r.stdout
    r = run_sealer("cert", "--cert", crt)
    assert r.returncode == 1 and "status        expired" in r.stdout


def test_not_yet_valid_cert_is_not_called_expired(tmp_path):
    _, cert = keys.generate(bits=2048, days=30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    (tmp_path / "future.crt").write_bytes(keys.cert_pem(cert))
    r = run_sealer("cert", "--cert", tmp_path / "future.crt", "-o", "json")
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == "not yet valid"


# --- bad input: one line, exit 2, no traceback, no output, no plaintext ------------------------------

def _ec_cert(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = tmp_path / "ec.crt"
    path.write_bytes(cert.public_bytes(keys.serialization.Encoding.PEM))
    return path


PLANT = "PLANTEDsecretVALUE42"
HEAD = "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\n"
BAD_INPUTS = {
    "not yaml": (f"apiVersion: v1\nkind: Secret\nstringData:\n  password: {PLANT}\n   bad: [\n", "not valid YAML"),
    "tab yaml": f"stringData:\n\tpassword: {PLANT}\n",
    "not a secret": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n", "expected kind Secret"),
    "scalar doc": ("just a string\n", "expected a Kubernetes object"),
    "bad base64": (HEAD + f"data: {{password: '{PLANT}!'}}\n", "data.password: invalid base64"),
    "number in stringData": (HEAD + "stringData: {port: 5432}\n", "stringData.port: must be a string"),
    "missing namespace": ("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: v}\n",
                          "needs a namespace"),
    "missing name": ("apiVersion: v1\nkind: Secret\nmetadata: {namespace: a}\nstringData: {k: v}\n", "needs a name"),
    "bad key": ("apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\nstringData: {'a b': v}\n",
                "not a valid Secret key"),
    "dot-dot key": (HEAD + "stringData: {'..secret': v}\n", "not a valid Secret key"),
    "no data": ("apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\n", "--allow-empty-data"),
    "broken json": ('{"apiVersion": "v1", "kind": "Secret", "stringData": {"p": "' + PLANT + '"', "not valid"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_manifest_gets_one_line_exit_2_and_no_leak(kp2048, tmp_path, case):
    spec = BAD_INPUTS[case]
    text, expected = spec if isinstance(spec, tuple) else (spec, "in.yaml")
    out = tmp_path / "out.yaml"
    r = seal(kp2048, tmp_path, text, "-w", str(out))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert expected in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("sealer: error: ")
    assert "in.yaml" in r.stderr  # names the file
    assert "Traceback" not in r.stderr and not r.stdout and not out.exists()
    assert PLANT not in r.stderr


@pytest.mark.parametrize("which", ["ec", "garbage", "missing"])
def test_unusable_cert_is_exit_2(kp2048, tmp_path, which):
    cert = {"ec": lambda: _ec_cert(tmp_path), "garbage": lambda: _write(tmp_path / "g.crt", "nope"),
            "missing": lambda: tmp_path / "nothing.crt"}[which]()
    r = seal(kp2048, tmp_path, SECRET)  # sanity: the Secret itself is fine
    assert r.returncode == 0
    r = run_sealer("seal", tmp_path / "in.yaml", "--cert", cert)
    assert r.returncode == 2 and str(cert) in r.stderr and not r.stdout and "Traceback" not in r.stderr
    if which == "ec":
        assert "sealing needs RSA" in r.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_no_cert_at_all_is_a_usage_error(tmp_path):
    (tmp_path / "in.yaml").write_text(SECRET)
    r = run_sealer("seal", tmp_path / "in.yaml")
    assert r.returncode == 2 and "--cert" in r.stderr


def test_help_does_not_import_heavy_modules():
    import subprocess
    import sys

    code = ("import sys\nfrom sealer.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('kopf','kubernetes','hvac','cryptography','yaml','ruamel'))), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "Usage:" in r.stdout
    assert r.stderr.strip() == "", f"--help imported: {r.stderr}"
