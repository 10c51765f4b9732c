"""Bad input to the SealedSecret verbs is exit 2 with one line that says what to do (issue 20): ciphertext that is
not base64 (seal, unseal, reencrypt, validate, kubeseal --recovery-unseal), a certificate given where the private
key belongs, and `--key -` (the key on stdin). Real processes, real keys made at test time."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import free_port

from tests.cli_process import run_sealer, unsealed_items
from tests.keypairs import KeyPair

VALUE = f"test-value-{secrets.token_hex(6)}"  # made at run time; must never reach stderr
SECRET = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\nstringData:\n  password: {VALUE}\n"
NOT_BASE64 = "not*base64!"
CERT_MESSAGE = ("is a certificate (public); unsealing needs the private key: the key Secret's tls.key, or the key "
                "Secret itself (kubectl get secret -o yaml)")
STDIN_MESSAGE = ("'-' reads the private key from stdin, which already carries the input: give the input as a "
                 "FILE")


def sealer(*args, **kw):
    r = run_sealer(*args, **kw)
    assert "Traceback" not in r.stderr, r.stderr
    assert VALUE not in r.stderr
    return r


def refused(r, line: str) -> None:
    """Exit 2, nothing on stdout, exactly ``line`` on stderr."""
    assert (r.returncode, r.stdout, r.stderr) == (2, "", line + "\n")


@pytest.fixture(scope="module")
def sealed(kp2048: KeyPair, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sealed")
    (d / "secret.yaml").write_text(SECRET)
    r = sealer("seal", d / "secret.yaml", "--cert", kp2048.cert_path)
    assert r.returncode == 0, r.stderr
    (d / "sealed.yaml").write_text(r.stdout)
    return d / "sealed.yaml"


@pytest.fixture
def not_base64(sealed: Path, tmp_path: Path) -> Path:
    doc = yaml.safe_load(sealed.read_text())
    doc["spec"]["encryptedData"]["password"] = NOT_BASE64
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


BAD_ITEM = "SealedSecret app/db: spec.encryptedData.password: ciphertext is not valid base64"


# --- invalid base64 is bad input (exit 2) on every verb -------------------------------------------------------------

def test_unseal_of_ciphertext_that_is_not_base64_is_exit_2(not_base64: Path, kp2048: KeyPair) -> None:
    refused(sealer("unseal", not_base64, "--key", kp2048.key_path), f"sealer: error: {not_base64}: {BAD_ITEM}")


def test_unseal_of_the_deprecated_blob_that_is_not_base64_is_exit_2(kp2048: KeyPair, tmp_path: Path) -> None:
    path = tmp_path / "v1.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                                    "metadata": {"name": "db", "namespace": "app"}, "spec": {"data": NOT_BASE64}}))
    refused(sealer("unseal", path, "--key", kp2048.key_path),
            f"sealer: error: {path}: SealedSecret app/db: spec.data: ciphertext is not valid base64")


def test_reencrypt_of_ciphertext_that_is_not_base64_is_exit_2(not_base64: Path, kp2048: KeyPair) -> None:
    before = not_base64.read_text()
    refused(sealer("reencrypt", not_base64, "--key", kp2048.key_path, "--cert", kp2048.cert_path, "-i"),
            f"sealer: error: {not_base64}: {BAD_ITEM}")
    assert not_base64.read_text() == before


def test_validate_of_ciphertext_that_is_not_base64_is_exit_2_before_asking_the_controller(not_base64: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # checked locally: nothing listens there
    refused(sealer("validate", not_base64, "--controller-url", dead), f"sealer: error: {not_base64}: {BAD_ITEM}")


def test_kubeseal_recovery_unseal_of_ciphertext_that_is_not_base64_is_exit_2(not_base64: Path,
                                                                            kp2048: KeyPair) -> None:
    refused(sealer("kubeseal", "--recovery-unseal", "--recovery-private-key", kp2048.key_path,
                   input=not_base64.read_text()), f"sealer: error: <stdin>: {BAD_ITEM}")


def test_seal_of_a_secret_whose_data_is_not_base64_is_exit_2(kp2048: KeyPair, tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: app}}\n"
                    f"data:\n  password: {NOT_BASE64}\n")
    refused(sealer("seal", path, "--cert", kp2048.cert_path),
            f"sealer: error: {path}: Secret app/db: data.password: invalid base64 (use stringData for plain text)")


def test_the_controller_reports_ciphertext_that_is_not_base64_as_an_invalid_spec(not_base64: Path,
                                                                                  kp2048: KeyPair) -> None:
    """The same error class reaches the controller: a spec problem (InvalidSpec), not a key problem."""
    from controller import sealed as controller_sealed

    outcome = controller_sealed.desired(yaml.safe_load(not_base64.read_text()), [kp2048.private])
    assert (outcome.ready, outcome.reason) == (False, "InvalidSpec")
    assert outcome.message == "spec.encryptedData.password: ciphertext is not valid base64"


def test_a_value_no_key_opens_is_still_exit_1(sealed: Path, kp2048b: KeyPair) -> None:
    """The line between 1 and 2: well-formed ciphertext for another key is the operation saying no."""
    r = sealer("unseal", sealed, "--key", kp2048b.key_path)
    assert (r.returncode, r.stdout) == (1, "")


# --- --key: a certificate, and stdin ----------------------------------------------------------------------------------

def test_unseal_with_the_certificate_as_key_says_it_needs_the_private_key(sealed: Path, kp2048: KeyPair) -> None:
    refused(sealer("unseal", sealed, "--key", kp2048.cert_path), f"sealer: error: {kp2048.cert_path}: {CERT_MESSAGE}")


def test_reencrypt_and_keys_list_say_the_same_of_a_certificate(sealed: Path, kp2048: KeyPair) -> None:
    expected = f"sealer: error: {kp2048.cert_path}: {CERT_MESSAGE}"
    refused(sealer("reencrypt", sealed, "--key", kp2048.cert_path, "--cert", kp2048.cert_path), expected)
    refused(sealer("keys", "list", "--key", kp2048.cert_path), expected)


def test_unseal_reads_the_key_from_stdin(sealed: Path, kp2048: KeyPair) -> None:
    r = sealer("unseal", sealed, "--key", "-", input=kp2048.key_path.read_text())
    assert r.returncode == 0, r.stderr
    assert unsealed_items(r.stdout) == {"password": VALUE.encode()}


def test_unseal_reads_a_key_secret_backup_from_stdin(sealed: Path, kp2048: KeyPair) -> None:
    backup = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                             "metadata": {"name": "sealer-key-1", "namespace": "sealer-system"},
                             "data": {"tls.key": base64.b64encode(kp2048.key_path.read_bytes()).decode(),
                                      "tls.crt": base64.b64encode(kp2048.cert_path.read_bytes()).decode()}})
    r = sealer("unseal", sealed, "--recovery-private-key", "-", input=backup)
    assert r.returncode == 0, r.stderr
    assert unsealed_items(r.stdout) == {"password": VALUE.encode()}


def test_unseal_key_from_stdin_when_stdin_is_the_input_is_a_usage_error(sealed: Path, kp2048: KeyPair) -> None:
    for args in (["--key", "-"], ["-", "--key", "-"], ["-", "--key", str(kp2048.key_path), "--key", "-"]):
        refused(sealer("unseal", *args, input=sealed.read_text()), f"sealer: error: --key: {STDIN_MESSAGE}")


def test_reencrypt_key_from_stdin_when_stdin_is_an_input_is_a_usage_error(sealed: Path, kp2048: KeyPair) -> None:
    refused(sealer("reencrypt", "-", "--key", "-", "--cert", kp2048.cert_path, input=sealed.read_text()),
            f"sealer: error: --key: {STDIN_MESSAGE}")


def test_kubeseal_recovery_key_from_stdin(sealed: Path, kp2048: KeyPair) -> None:
    r = sealer("kubeseal", "--recovery-unseal", "--recovery-private-key", "-", "-f", sealed,
               input=kp2048.key_path.read_text())
    assert r.returncode == 0, r.stderr
    items = {k: base64.b64decode(v) for k, v in json.loads(r.stdout)["data"].items()}  # kubeseal: JSON
    assert items == {"password": VALUE.encode()}
    refused(sealer("kubeseal", "--recovery-unseal", "--recovery-private-key", "-", input=sealed.read_text()),
            "sealer: error: --recovery-private-key: '-' reads the private key from stdin, which already carries "
            "the input: give the input with -f FILE")

