"""The labelled corpus as a directory: the committed files plus private keys generated now (never committed).

`materialize(dest)` returns every expected finding; tests compare sealer's findings with it exactly, and
bench/lint_bench.py scores sealer and gitleaks against it (a tool's finding counts for an expected entry when
file and line agree).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CERT = "k8s/cluster-cert.pem"  # give it with --cert: the sealed-unknown-key entries need it
AGE_PLACEHOLDER = "@GENERATED_AGE_IDENTITY@"
_NOT_CORPUS = {"expected.yaml", "build.py", "regenerate.py", "README.md", "__init__.py"}


@dataclass(frozen=True)
class Expected:
    file: str
    line: int
    rule: str
    leak: bool  # a secret in clear (any scanner should find it); False: a sealer-only integrity check

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.file, self.line, self.rule)


def load_expected() -> list[Expected]:
    """expected.yaml, checked: each entry's `at` text must be on its line (catches corpus edits that move lines)."""
    data = yaml.safe_load((HERE / "expected.yaml").read_text())
    out = []
    for entry in data["planted"]:
        lines = (HERE / entry["file"]).read_text().splitlines()
        line = lines[entry["line"] - 1]
        if entry["at"] not in line:
            raise AssertionError(f"expected.yaml: {entry['file']}:{entry['line']} does not contain {entry['at']!r}")
        out.append(Expected(entry["file"], entry["line"], entry["rule"], bool(entry.get("leak", True))))
    return out


def corpus_files() -> list[Path]:
    return sorted(p for p in HERE.rglob("*") if p.is_file() and p.name not in _NOT_CORPUS
                  and "__pycache__" not in p.parts)


def materialize(dest: Path) -> list[Expected]:
    """Copy the corpus into ``dest`` (made if missing) and add the generated files; all expected findings."""
    dest.mkdir(parents=True, exist_ok=True)
    import pyrage

    for path in corpus_files():
        target = dest / path.relative_to(HERE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        if path.suffix == ".env" and AGE_PLACEHOLDER in path.read_text():  # keys are made here, never committed
            target.write_text(path.read_text().replace(AGE_PLACEHOLDER, str(pyrage.x25519.Identity.generate())))
    return load_expected() + _generated(dest / "generated")


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in generated text")


def _generated(out: Path) -> list[Expected]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import NameOID

    out.mkdir(parents=True, exist_ok=True)
    pem, enc = serialization.Encoding.PEM, serialization.NoEncryption()
    expected: list[Expected] = []

    def write(name: str, text: str, *marks: tuple[str, str, bool]) -> None:
        (out / name).write_text(text)
        for needle, rule, leak in marks:
            expected.append(Expected(f"generated/{name}", _line_of(text, needle), rule, leak))

    ssh_key = ed25519.Ed25519PrivateKey.generate().private_bytes(pem, serialization.PrivateFormat.OpenSSH, enc)
    write("deploy_key", ssh_key.decode(), ("-----BEGIN", "credential", True))

    ec_key = ec.generate_private_key(ec.SECP256R1())
    key_pem = ec_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, enc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.corpus.svc")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ec_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30)).sign(ec_key, hashes.SHA256()))
    cert_b64 = base64.b64encode(cert.public_bytes(pem)).decode()
    key_b64 = base64.b64encode(key_pem).decode()
    write("tls-secret.yaml",
          "# Corpus: a TLS Secret exported with kubectl (generated key).\n"
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-tls\n  namespace: shop\n"
          f"type: kubernetes.io/tls\ndata:\n  tls.crt: {cert_b64}\n  tls.key: {key_b64}\n",
          ("tls.crt:", "plaintext-secret", False), ("tls.key:", "plaintext-secret", True),
          ("tls.key:", "credential", True))

    token = base64.b32encode(bytes(range(7, 27))).decode().lower()[:32].replace("a", "Q")
    write("kubeconfig.yaml",
          "apiVersion: v1\nkind: Config\nclusters:\n  - name: prod\n    cluster:\n"
          "      server: https://kube.prod.corpus.svc:6443\n"
          f"      certificate-authority-data: {cert_b64}\n"
          "users:\n  - name: admin\n    user:\n"
          f"      client-certificate-data: {cert_b64}\n"
          f"      client-key-data: {key_b64}\n"
          "  - name: ci\n    user:\n"
          f"      token: {token}9Zk2\n"
          "contexts:\n  - name: prod\n    context: {cluster: prod, user: admin}\ncurrent-context: prod\n",
          ("client-key-data:", "credential", True), ("token:", "credential", True))

    gcp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa = {"type": "service_account", "project_id": "corpus-shop",
          "private_key_id": "4f1c2e3d5b6a79881726354453627180a9b8c7d6",
          "private_key": gcp_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, enc).decode(),
          "client_email": "deployer@corpus-shop.iam.gserviceaccount.com", "client_id": "104857600000000000001"}
    write("gcp-service-account.json", json.dumps(sa, indent=2) + "\n", ('"private_key":', "credential", True))

    rsa_pem = gcp_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, enc).decode()
    block = "".join(f"    {line}\n" for line in rsa_pem.splitlines())
    write("configmap-ssh.yaml",
          "# Corpus: an SSH key pasted into a ConfigMap (generated key).\n"
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: git-sync\ndata:\n"
          "  known_hosts: git.corpus.svc ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO3mXb6r4b9cGp0aL9kQ2Zp7xYt5WvUe8sR\n"
          f"  id_rsa: |\n{block}",
          ("-----BEGIN", "credential", True))
    return expected
