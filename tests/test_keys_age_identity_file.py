"""`sealer keys age-generate --identity-file PATH`: one identity, written as age-keygen's file for SOPS_AGE_KEY_FILE
and printed as the controller's Secret; proven with the real `sops` binary, `sealer decrypt` and the `age` CLI.
And `sealer lint` on such a file: the secret key line is a finding, the `# public key: age1...` line is not."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli_process import run_sealer
from tests.sops_helpers import SOPS, needs_sops

PLANT = "PLANTED-identity-file-7c31"
HAS_AGE = shutil.which("age-keygen") is not None


def generate(tmp_path: Path, *args: str, identity: str = "keys.txt") -> tuple[subprocess.CompletedProcess[str], str]:
    """(the run, the recipient it printed on stderr); the identity file is written in ``tmp_path``."""
    r = run_sealer("keys", "age-generate", "--identity-file", identity, *args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "AGE-SECRET-KEY" not in r.stderr  # the identity is in the file and on stdout, never on stderr
    (recipient,) = [line.split(": ", 1)[1] for line in r.stderr.splitlines() if line.startswith("age recipient: ")]
    return r, recipient


def _secret_keyfile(secret: dict) -> str:
    return base64.b64decode(secret["data"]["age.agekey"]).decode()


def test_file_and_secret_hold_the_same_identity(tmp_path: Path) -> None:
    old = os.umask(0)  # a permissive umask must not widen the file
    try:
        r, recipient = generate(tmp_path)
    finally:
        os.umask(old)
    path = tmp_path / "keys.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0].startswith("# created: ") and lines[1] == f"# public key: {recipient}"
    assert lines[2].startswith("AGE-SECRET-KEY-1") and len(lines) == 3
    secret = yaml.safe_load(r.stdout)
    assert secret["kind"] == "Secret" and _secret_keyfile(secret) == text  # one identity, not two
    assert "SOPS_AGE_KEY_FILE=keys.txt" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keys.txt"]  # no temp file left behind


def test_missing_directories_are_made_private(tmp_path: Path) -> None:
    generate(tmp_path, identity="config/sops/age/keys.txt")
    for d in ("config", "config/sops", "config/sops/age"):
        assert stat.S_IMODE((tmp_path / d).stat().st_mode) == 0o700, d
    assert stat.S_IMODE((tmp_path / "config/sops/age/keys.txt").stat().st_mode) == 0o600


@needs_sops
def test_sops_and_sealer_decrypt_with_the_file(tmp_path: Path) -> None:
    _, recipient = generate(tmp_path)
    src = tmp_path / "secret.yaml"
    src.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{password: {PLANT}}}\n")
    enc = run_sealer("encrypt", src, "--age", recipient, "-i")
    assert enc.returncode == 0, enc.stderr
    assert PLANT not in src.read_text()
    env = {"SOPS_AGE_KEY_FILE": str(tmp_path / "keys.txt")}
    dec = run_sealer("decrypt", src, env=env)
    assert dec.returncode == 0, dec.stderr
    assert yaml.safe_load(dec.stdout)["stringData"]["password"] == PLANT
    out = subprocess.run([SOPS, "decrypt", src], capture_output=True, text=True,
                         env={**env, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout)["stringData"]["password"] == PLANT
    # the file the Secret holds is the same identity: another run's file does not open it
    generate(tmp_path, identity="other.txt")
    assert run_sealer("decrypt", src, env={"SOPS_AGE_KEY_FILE": str(tmp_path / "other.txt")}).returncode == 1


@pytest.mark.skipif(not HAS_AGE, reason="age CLI not installed")
def test_age_cli_reads_the_file(tmp_path: Path) -> None:
    _, recipient = generate(tmp_path)
    derived = subprocess.run(["age-keygen", "-y", tmp_path / "keys.txt"], capture_output=True, text=True, check=True)
    assert derived.stdout.strip() == recipient


def test_json_output(tmp_path: Path) -> None:
    r, _ = generate(tmp_path, "-o", "json")
    secret = json.loads(r.stdout)
    assert secret["metadata"]["name"] == "sealer-age" and _secret_keyfile(secret) == (tmp_path / "keys.txt").read_text()
    bad = run_sealer("keys", "age-generate", "-o", "toml", "--identity-file", "k.txt", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == "" and not (tmp_path / "k.txt").exists()


def test_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / "keys.txt"
    existing.write_text("# an identity kept from before\n")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    for name in ("keys.txt", "dangling.txt"):
        r = run_sealer("keys", "age-generate", "--identity-file", name, cwd=tmp_path)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert r.stderr.startswith(f"sealer: error: {name}: already exists") and r.stderr.count("\n") == 1
    assert existing.read_text() == "# an identity kept from before\n"
    assert not (tmp_path / "nowhere.txt").exists()


def _git(*args: str | Path) -> None:
    subprocess.run(["git", *map(str, args)], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_work_tree_only_where_ignored(tmp_path: Path) -> None:
    """In a repository the file is one `git add .` from a commit: refused unless Git ignores the path."""
    repo = tmp_path / "repo"
    _git("init", "-q", repo)
    (repo / "sub").mkdir()
    for name, cwd in (("keys.txt", repo), ("sub/keys.txt", repo), ("keys.txt", repo / "sub")):
        r = run_sealer("keys", "age-generate", "--identity-file", name, cwd=cwd)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert f"inside the Git work tree {repo} and not git-ignored" in r.stderr and r.stderr.count("\n") == 1
        assert not (cwd / name).exists()
    (repo / ".gitignore").write_text("*.agekey.txt\n")
    r, _ = generate(repo, identity="team.agekey.txt")
    assert stat.S_IMODE((repo / "team.agekey.txt").stat().st_mode) == 0o600


def _lint(path: Path) -> list[dict]:
    r = run_sealer("lint", "-f", "json", path.name, cwd=path.parent)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)["findings"]


def _identity_files(tmp_path: Path) -> list[Path]:
    """The identity file sealer writes and, when the age CLI is here, one age-keygen writes."""
    generate(tmp_path, identity="sealer.txt")
    files = [tmp_path / "sealer.txt"]
    if HAS_AGE:
        subprocess.run(["age-keygen", "-o", tmp_path / "age-keygen.txt"], check=True, capture_output=True)
        files.append(tmp_path / "age-keygen.txt")
    return files


def test_lint_finds_the_secret_key_but_not_the_public_key(tmp_path: Path) -> None:
    for path in _identity_files(tmp_path):
        findings = _lint(path)
        assert [(f["line"], f["rule"]) for f in findings] == [(3, "credential")], (path.name, findings)
        assert findings[0]["message"] == "age secret key"
        public_only = path.with_suffix(".pub")
        public_only.write_text("".join(line for line in path.read_text().splitlines(True)
                                       if not line.startswith("AGE-SECRET-KEY-")))
        assert _lint(public_only) == [], path.name


def test_lint_age_recipient_under_a_sensitive_name(tmp_path: Path) -> None:
    """Where a recipient sits under a name that reads as sensitive (`key:`, `token=`), it is still public."""
    _, recipient = generate(tmp_path, identity="id.txt")
    cfg = tmp_path / "recipients.yaml"
    cfg.write_text(f"key: {recipient}\nbackup:\n  key: {recipient}\n")
    env = tmp_path / "recipients.env"
    env.write_text(f"SOPS_AGE_KEY={recipient}\napi_token = {recipient}\n")
    assert _lint(cfg) == [] and _lint(env) == []
    # the same shape with one character outside the bech32 alphabet is not a recipient
    env.write_text(f"api_token = {recipient[:-1]}b\n")
    assert [f["rule"] for f in _lint(env)] == ["credential"]
