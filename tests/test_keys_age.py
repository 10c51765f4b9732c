"""`sealer keys age-generate`: a fresh age identity as a kubectl-ready Secret, proven with the real `age` CLI, with
`sealer encrypt/decrypt` and `sops`, and applied to the Kubernetes API emulator."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer

from tests.cli_process import run_sealer
from tests.sops_helpers import SOPS, needs_sops

PLANT = "PLANTED-age-generate-51d2"


def generate(*args: str, cwd: Path | None = None) -> tuple[dict, str, str]:
    """(the Secret, its age.agekey text, the recipient printed on stderr)."""
    r = run_sealer("keys", "age-generate", *args, cwd=cwd)
    assert r.returncode == 0, r.stderr
    secret = yaml.safe_load(r.stdout)
    keyfile = base64.b64decode(secret["data"]["age.agekey"]).decode()
    recipients = [line.split(": ", 1)[1] for line in r.stderr.splitlines() if line.startswith("age recipient: ")]
    assert len(recipients) == 1, r.stderr
    assert "AGE-SECRET-KEY" not in r.stderr  # the identity goes to stdout only
    return secret, keyfile, recipients[0]


def test_secret_shape_and_sops_rule(tmp_path: Path) -> None:
    r = run_sealer("keys", "age-generate")
    assert r.returncode == 0, r.stderr
    secret, keyfile, recipient = generate()
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret" and secret["type"] == "Opaque"
    assert secret["metadata"] == {"name": "sealer-age", "namespace": "sealer-system",
                                  "labels": {"app.kubernetes.io/part-of": "sealer"}}
    assert list(secret["data"]) == ["age.agekey"]
    lines = keyfile.splitlines()
    assert lines[0].startswith("# created: ") and lines[1] == f"# public key: {recipient}"
    assert lines[2].startswith("AGE-SECRET-KEY-1") and len(lines) == 3
    assert recipient.startswith("age1")
    # a second run makes another identity
    assert generate()[2] != recipient

    # the .sops.yaml snippet on stderr is a working rule: sealer encrypt picks the recipient up from it
    rule = r.stderr[r.stderr.index("creation_rules:"):r.stderr.index("The identity")]
    first = yaml.safe_load(rule)["creation_rules"][0]
    assert first["encrypted_regex"] == "^(data|stringData)$"
    (tmp_path / ".sops.yaml").write_text(rule)
    (tmp_path / "s.yaml").write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n"
                                     f"stringData: {{password: {PLANT}}}\n")
    enc = run_sealer("encrypt", "s.yaml", cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    assert yaml.safe_load(enc.stdout)["sops"]["age"][0]["recipient"] == first["age"]


def test_custom_name_and_namespace() -> None:
    secret, _, _ = generate("--namespace", "flux-system", "--name", "sops-age")
    assert (secret["metadata"]["namespace"], secret["metadata"]["name"]) == ("flux-system", "sops-age")
    for args, field in ((["--name", "Bad_Name"], "--name"), (["-n", "UPPER"], "--namespace"),
                        (["--name", "x" * 254], "--name")):
        r = run_sealer("keys", "age-generate", *args)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.startswith(f"sealer: error: {field}: ") and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None, reason="age CLI not installed")
def test_real_age_cli_accepts_the_identity(tmp_path: Path) -> None:
    _, keyfile, recipient = generate()
    identity = tmp_path / "keys.txt"
    identity.write_text(keyfile)
    identity.chmod(0o600)
    assert subprocess.run(["age-keygen", "-y", identity], capture_output=True, text=True,
                          check=True).stdout.strip() == recipient
    ct = subprocess.run(["age", "-r", recipient, "-a"], input=PLANT, capture_output=True, text=True, check=True)
    pt = subprocess.run(["age", "-d", "-i", identity], input=ct.stdout, capture_output=True, text=True, check=True)
    assert pt.stdout == PLANT


def test_identity_decrypts_what_sealer_encrypts_for_the_recipient(tmp_path: Path) -> None:
    _, keyfile, recipient = generate()
    identity = tmp_path / "keys.txt"
    identity.write_text(keyfile)
    src = tmp_path / "secret.yaml"
    src.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: app}}\n"
                   f"stringData: {{password: {PLANT}}}\n")
    enc = run_sealer("encrypt", src, "--age", recipient, "-i")
    assert enc.returncode == 0, enc.stderr
    assert PLANT not in src.read_text()
    dec = run_sealer("decrypt", src, env={"SOPS_AGE_KEY_FILE": str(identity)})
    assert dec.returncode == 0, dec.stderr
    assert yaml.safe_load(dec.stdout)["stringData"]["password"] == PLANT
    # a different identity does not open it
    _, other, _ = generate()
    (tmp_path / "other.txt").write_text(other)
    assert run_sealer("decrypt", src, env={"SOPS_AGE_KEY_FILE": str(tmp_path / "other.txt")}).returncode == 1


@needs_sops
def test_sops_reads_the_identity(tmp_path: Path) -> None:
    """The Go reference (what Flux's kustomize-controller runs) opens files for the recipient with the identity."""
    _, keyfile, recipient = generate()
    identity = tmp_path / "keys.txt"
    identity.write_text(keyfile)
    src = tmp_path / "secret.yaml"
    src.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{password: {PLANT}}}\n")
    assert run_sealer("encrypt", src, "--age", recipient, "-i").returncode == 0
    out = subprocess.run([SOPS, "decrypt", src], capture_output=True, text=True,
                         env={"SOPS_AGE_KEY_FILE": str(identity), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout)["stringData"]["password"] == PLANT


def test_kubectl_ready(kube: KubeServer) -> None:
    """What `| kubectl apply -f -` sends: the API server takes it as it is."""
    secret, keyfile, _ = generate()
    created = kube.client.create(secret)
    stored = kube.client.get("v1", "Secret", "sealer-age", "sealer-system")
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]
    assert base64.b64decode(stored["data"]["age.agekey"]).decode() == keyfile
    assert stored["metadata"]["labels"] == {"app.kubernetes.io/part-of": "sealer"}


def _git_init(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", path], check=True)
    else:  # what `git init` leaves behind, as far as the check is concerned
        (path / ".git").mkdir()


def _generate_into(target: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    with open(target, "w") as out:  # what the shell does for `> target`
        return subprocess.run([sys.executable, "-m", "sealer", "keys", "age-generate"], stdout=out,
                              stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=60)


def test_refuses_to_write_into_a_git_work_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _git_init(repo)
    (repo / "clusters" / "prod").mkdir(parents=True)
    for target, cwd in ((repo / "age.yaml", repo), (repo / "clusters" / "prod" / "age.yaml", tmp_path),
                        (repo / "clusters" / "prod" / "key.yaml", repo / "clusters")):
        r = _generate_into(target, cwd)
        assert r.returncode == 2
        assert r.stderr.count("\n") == 1 and f"{target}: stdout is a file inside the Git work tree {repo}" in r.stderr
        assert target.read_bytes() == b""  # nothing was written (the shell made the empty file)

    # outside any work tree, a file is fine (e.g. an encrypted backup volume); so are pipes and /dev/null
    outside = tmp_path / "outside"
    outside.mkdir()
    r = _generate_into(outside / "backup.yaml", repo)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((outside / "backup.yaml").read_text())["kind"] == "Secret"
    with open("/dev/null", "w") as null:
        assert subprocess.run([sys.executable, "-m", "sealer", "keys", "age-generate"], stdout=null,
                              stderr=subprocess.DEVNULL, cwd=repo, timeout=60).returncode == 0
