"""Hostile and oversized input against the CLI as a process (issue 13): alias bombs and alias loops, endless and
oversized input, duplicate mapping keys, and files `sealer lint` cannot scan.

Every run has a timeout (and an address-space cap), so a regression fails fast instead of hanging the suite or
eating the machine. A refusal is exit 2 with one line on stderr naming the file (and the key, for a duplicate),
nothing on stdout, the file untouched, and the planted value nowhere in any output. `sealer lint` never passes a
file it did not scan: it reports a `scan-limit` finding (exit 1), as it does for any other finding.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.fuzz import alias_bomb
from sealer.sops.keys import age
from tests.keypairs import KeyPair

PLANT = "planted-Zq8vLm3nP0rT-value"  # must never appear in any output
TIMEOUT = 60  # seconds; each case takes well under 2 s when it works
MEMORY = 2 << 30  # address space per run: endless input must stop at the limit, not die with MemoryError
HEAD = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\n"
SECRET = f"{HEAD}stringData:\n  password: {PLANT}\n"
BOMB = alias_bomb(9, 9, head=SECRET.encode())  # 9 levels of 9 aliases: ~700 bytes, 387 million nodes expanded
ALIAS_BOMB = "aliases expand too much (alias bomb?)"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


@dataclass
class Workspace:
    root: Path
    kp: KeyPair
    identity: Path
    recipient: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SEALER_", "SOPS_", "VAULT_")) and k not in ("EDITOR", "VISUAL")}
        env.update(HOME=str(self.root / "home"), XDG_CONFIG_HOME=str(self.root / "home" / ".config"),
                   SOPS_AGE_KEY_FILE=str(self.identity), EDITOR="true", VISUAL="true")
        env.update(extra)
        return env

    def run(self, *args: str | os.PathLike[str], stdin: bytes | Path | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
        """`python -m sealer ARGS` in the workspace; a hang is a test failure, not a stuck suite."""
        handle = open(stdin, "rb") if isinstance(stdin, Path) else None  # noqa: SIM115 - closed below
        try:
            return subprocess.run([sys.executable, "-m", "sealer", *map(str, args)], cwd=self.root,
                                  env=self.env(**env), capture_output=True, text=True, timeout=TIMEOUT,
                                  stdin=handle if handle else None, input=None if handle else (stdin or b"").decode(),
                                  preexec_fn=_limit_memory)
        except subprocess.TimeoutExpired:
            pytest.fail(f"sealer {' '.join(map(str, args))} still running after {TIMEOUT} s")
        finally:
            if handle:
                handle.close()

    def write(self, name: str, data: str | bytes) -> Path:
        path = self.root / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, kp2048: KeyPair) -> Workspace:
    root = tmp_path_factory.mktemp("faults")
    (root / "home").mkdir()
    identity, recipient = age.generate()
    key_file = root / "home" / "age.txt"
    key_file.write_text(identity + "\n")
    key_file.chmod(0o600)
    (root / ".sops.yaml").write_text(f"creation_rules:\n  - age: {recipient}\n")
    w = Workspace(root, kp2048, key_file, recipient)
    r = w.run("encrypt", "--age", recipient, w.write("secret.yaml", SECRET))
    assert r.returncode == 0, r.stderr
    w.write("secret.enc.yaml", r.stdout)
    r = w.run("seal", "--cert", kp2048.cert_path, "secret.yaml")
    assert r.returncode == 0, r.stderr
    w.write("secret.sealed.yaml", r.stdout)
    return w


def refused(r: subprocess.CompletedProcess[str], name: str, *needles: str) -> None:
    """Exit 2, one line on stderr naming the file and saying what, nothing on stdout, no planted value."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert name in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert r.stdout == ""
    assert PLANT not in r.stdout + r.stderr


def unchanged(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")], "temp file left"


def commands(ws: Workspace, f: Path) -> dict[str, list[str | os.PathLike[str]]]:
    """Every command that reads FILE, with the flags it needs (validate: a controller URL nothing listens on, so
    a refusal must come from reading the input, before any request)."""
    kp = ws.kp
    return {
        "encrypt": ["encrypt", "--age", ws.recipient, f],
        "encrypt -i": ["encrypt", "-i", "--age", ws.recipient, f],
        "decrypt": ["decrypt", f],
        "set": ["set", f, '["stringData"]["x"]', '"y"'],
        "unset": ["unset", f, '["stringData"]["password"]'],
        "rotate": ["rotate", f],
        "updatekeys": ["updatekeys", "-y", f],
        "edit": ["edit", f],
        "seal": ["seal", "--cert", kp.cert_path, f],
        "unseal": ["unseal", "--key", kp.key_path, f],
        "validate": ["validate", "--controller-url", "http://127.0.0.1:9", "--timeout", "2", f],
        "reencrypt": ["reencrypt", "--key", kp.key_path, "--cert", kp.cert_path, f],
    }


COMMANDS = ["encrypt", "encrypt -i", "decrypt", "set", "unset", "rotate", "updatekeys", "edit", "seal", "unseal",
            "validate", "reencrypt"]


# --- alias bombs and loops ------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_an_alias_bomb_is_refused_at_once(ws: Workspace, command: str) -> None:
    """Was: every one of these ran without end (exponential in the levels), seal/unseal/validate through PyYAML,
    the SOPS commands through ruamel.yaml and the copy that expands aliases."""
    f = ws.write("bomb.yaml", BOMB)
    r = ws.run(*commands(ws, f)[command])
    refused(r, "bomb.yaml", ALIAS_BOMB)
    unchanged(f, BOMB)


@pytest.mark.parametrize("command", ["encrypt", "decrypt", "seal", "unseal", "reencrypt"])
def test_an_alias_loop_is_refused_by_name(ws: Workspace, command: str) -> None:
    """`&a [*a]`: a node that contains itself (was "nested too deeply", or a RecursionError's wording)."""
    text = f"{SECRET}x: &a [*a]\n".encode()
    f = ws.write("loop.yaml", text)
    refused(ws.run(*commands(ws, f)[command]), "loop.yaml", "an alias refers to a node that contains it")
    unchanged(f, text)


def test_an_alias_bomb_in_stdin_is_refused(ws: Workspace) -> None:
    r = ws.run("seal", "--cert", ws.kp.cert_path, stdin=BOMB)
    refused(r, "<stdin>", ALIAS_BOMB)


def test_sops_config_with_an_alias_bomb_is_refused(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_bytes(alias_bomb(9, 9, head=f"creation_rules:\n  - age: {ws.recipient}\n".encode()))
    (tmp_path / "s.yaml").write_text(SECRET)
    r = subprocess.run([sys.executable, "-m", "sealer", "encrypt", "s.yaml"], cwd=tmp_path, env=ws.env(),
                       capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=_limit_memory)
    refused(r, ".sops.yaml", ALIAS_BOMB)


def test_modest_aliases_still_work(ws: Workspace) -> None:
    """The neighbour that must not be refused: anchors shared a few times, a merge key."""
    text = (f"{HEAD}  labels: &labels\n    app: web\n  annotations: *labels\nstringData:\n  password: &pw {PLANT}\n"
            "  again: *pw\nx:\n  l0: &l0 [a, b, c]\n  l1: &l1 [*l0, *l0, *l0]\n  l2: [*l1, *l1, *l1]\n")
    f = ws.write("aliases.yaml", text)
    sealed = ws.run("seal", "--cert", ws.kp.cert_path, f)
    assert sealed.returncode == 0, sealed.stderr
    encrypted = ws.run("encrypt", "--age", ws.recipient, f)
    assert encrypted.returncode == 0, encrypted.stderr
    ws.write("aliases.enc.yaml", encrypted.stdout)
    decrypted = ws.run("decrypt", "aliases.enc.yaml")
    assert decrypted.returncode == 0 and decrypted.stdout.count(PLANT) == 2, decrypted.stderr


# --- input size ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["decrypt"], ["encrypt", "--age", "RECIPIENT", "-"], ["seal", "--cert", "CERT"],
                                  ["unseal", "--key", "KEY"]], ids=["decrypt", "encrypt", "seal", "unseal"])
def test_endless_stdin_stops_at_the_limit(ws: Workspace, args: list[str]) -> None:
    """`sealer decrypt < /dev/zero` read until MemoryError (3 GiB, exit 70); now it stops at the 64 MiB default."""
    args = [{"RECIPIENT": ws.recipient, "CERT": str(ws.kp.cert_path), "KEY": str(ws.kp.key_path)}.get(a, a)
            for a in args]
    r = ws.run(*args, stdin=Path("/dev/zero"))
    refused(r, "<stdin>", "input larger than the 64 MiB limit", "SEALER_MAX_INPUT")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_over_the_input_limit_is_refused(ws: Workspace, command: str) -> None:
    pad = "#" * 3000 + "\n"
    sources = {"decrypt": "secret.enc.yaml", "set": "secret.enc.yaml", "unset": "secret.enc.yaml",
               "rotate": "secret.enc.yaml", "updatekeys": "secret.enc.yaml", "edit": "secret.enc.yaml",
               "unseal": "secret.sealed.yaml", "validate": "secret.sealed.yaml", "reencrypt": "secret.sealed.yaml"}
    data = ((ws.root / sources.get(command, "secret.yaml")).read_text() + pad).encode()
    f = ws.write("large.yaml", data)
    r = ws.run(*commands(ws, f)[command], SEALER_MAX_INPUT="2k")
    refused(r, "large.yaml", "input larger than the 2 KiB limit", "SEALER_MAX_INPUT")
    unchanged(f, data)


def test_raising_the_limit_lets_the_file_through(ws: Workspace) -> None:
    f = ws.write("large.yaml", SECRET + "#" * 3000 + "\n")
    assert ws.run("seal", "--cert", ws.kp.cert_path, f, SEALER_MAX_INPUT="2k").returncode == 2
    for size in ("4k", "4096", "1M", "1MiB"):
        r = ws.run("seal", "--cert", ws.kp.cert_path, f, SEALER_MAX_INPUT=size)
        assert r.returncode == 0 and "kind: SealedSecret" in r.stdout, (size, r.stderr)


def test_a_value_file_over_the_limit_is_refused(ws: Workspace) -> None:
    value = ws.write("value.txt", PLANT * 2000)  # 50 kB; the file it goes into is 2 kB
    before = (ws.root / "secret.enc.yaml").read_bytes()
    r = ws.run("set", "--value-file", value, "secret.enc.yaml", '["stringData"]["x"]', SEALER_MAX_INPUT="16k")
    refused(r, "value.txt", "input larger than the 16 KiB limit")
    unchanged(ws.root / "secret.enc.yaml", before)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5M", "12X"])
def test_a_bad_limit_is_a_usage_error_naming_the_variable(ws: Workspace, value: str) -> None:
    r = ws.run("seal", "--cert", ws.kp.cert_path, "secret.yaml", SEALER_MAX_INPUT=value)
    refused(r, "SEALER_MAX_INPUT", "positive number of bytes")


# --- duplicate keys --------------------------------------------------------------------------------------------------

def _duplicated(text: str, key: str) -> str:
    """TEXT with the line holding ``key:`` repeated with another planted value."""
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.lstrip().startswith(f"{key}:"))
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    return "".join([*lines[: i + 1], f"{indent}{key}: {PLANT}2\n", *lines[i + 1:]])


@pytest.mark.parametrize("command", ["seal", "encrypt"])
def test_duplicate_keys_in_a_secret_are_refused_naming_the_key(ws: Workspace, command: str) -> None:
    """Was: seal kept the last value without a word (encrypt, the API server and sops refuse)."""
    text = _duplicated(SECRET, "password")
    f = ws.write("dup.yaml", text)
    refused(ws.run(*commands(ws, f)[command]), "dup.yaml", "stringData", "appears twice", "'password'", "line 8")
    unchanged(f, text.encode())


@pytest.mark.parametrize("command", ["unseal", "validate", "reencrypt"])
def test_duplicate_keys_in_a_sealed_secret_are_refused_naming_the_key(ws: Workspace, command: str) -> None:
    """Was: unseal and validate kept the last value without a word (validate then asked the controller)."""
    text = (ws.root / "secret.sealed.yaml").read_text()
    text = text.replace("  encryptedData:\n", f"  encryptedData:\n    password: {PLANT}\n", 1)
    f = ws.write("dup.sealed.yaml", text)
    refused(ws.run(*commands(ws, f)[command]), "dup.sealed.yaml", "spec.encryptedData", "appears twice",
            "'password'")
    unchanged(f, text.encode())


def test_duplicate_keys_in_json_are_refused_naming_the_key(ws: Workspace) -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
           "stringData": {"password": PLANT}}
    text = json.dumps(obj).replace(f'"password": "{PLANT}"', f'"password": "{PLANT}", "password": "{PLANT}2"')
    for command in ("seal", "unseal"):
        f = ws.write("dup.json", text)
        refused(ws.run(*commands(ws, f)[command]), "dup.json", "not valid JSON", "appears twice", "'password'")


def test_keys_that_collide_once_read_are_refused(ws: Workspace) -> None:
    """YAML 1.1 (PyYAML): `yes` and `true` are the same key once read; last-wins would drop one silently."""
    f = ws.write("collide.yaml", f"{SECRET}extra:\n  yes: a\n  true: b\n")
    refused(ws.run("seal", "--cert", ws.kp.cert_path, f), "collide.yaml", "appears twice", "'True'")


# --- sealer lint: never pass what was not scanned ---------------------------------------------------------------

def lint(ws: Workspace, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]:
    r = subprocess.run([sys.executable, "-m", "sealer", "lint", "--format", "json", *args], cwd=cwd,
                       env=ws.env(), capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=_limit_memory)
    assert PLANT not in r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return r, json.loads(r.stdout)["findings"] if r.stdout else []


def padded_secret(size: int) -> bytes:
    """A plaintext Secret under a name no credential detector knows, padded with a comment to ``size`` bytes."""
    text = f"{HEAD}stringData:\n  config: {PLANT}\n".encode()
    return text + b"#" + b"x" * (size - len(text) - 2) + b"\n"


def test_lint_reports_a_file_over_max_file_size(ws: Workspace, tmp_path: Path) -> None:
    """Was: "skipped 1 too large", exit 0: padding a Secret to 11 MB passed the gate."""
    (tmp_path / "big.yaml").write_bytes(padded_secret(11 << 20))
    r, found = lint(ws, tmp_path, ".")
    assert r.returncode == 1, r.stderr
    assert [(f["rule"], f["file"], f["line"], f["severity"]) for f in found] == [
        ("scan-limit", "big.yaml", 1, "error")]
    assert "max_file_size" in str(found[0]["message"])
    assert json.loads(r.stdout)["summary"]["skipped_large"] == 1
    assert "1 over max_file_size not scanned" in r.stderr
    sarif = subprocess.run([sys.executable, "-m", "sealer", "lint", "--format", "sarif", "."], cwd=tmp_path,
                           env=ws.env(), capture_output=True, text=True, timeout=TIMEOUT)
    (result,) = json.loads(sarif.stdout)["runs"][0]["results"]
    assert (sarif.returncode, result["ruleId"], result["level"]) == (1, "scan-limit", "error")
    # raising max_file_size scans it, and finds the Secret
    (tmp_path / ".sealer-lint.yaml").write_text("max_file_size: 20000000\n")
    r, found = lint(ws, tmp_path, ".")
    assert r.returncode == 1 and [f["rule"] for f in found] == ["plaintext-secret"], r.stderr


def test_lint_parses_a_large_yaml_file_it_reads(ws: Workspace, tmp_path: Path) -> None:
    """Was: YAML over 5 MiB (under max_file_size) was scanned as text only, and a plaintext Secret passed."""
    (tmp_path / "six.yaml").write_bytes(padded_secret(6 << 20))
    r, found = lint(ws, tmp_path, ".")
    assert r.returncode == 1 and [(f["rule"], f["line"]) for f in found] == [("plaintext-secret", 7)], r.stderr


def test_lint_reports_a_large_staged_blob(ws: Workspace, tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".sealer-lint.yaml").write_text("max_file_size: 1000\n")
    (tmp_path / "s.yaml").write_bytes(padded_secret(5000))
    subprocess.run([*git, "add", "s.yaml"], cwd=tmp_path, check=True)
    (tmp_path / "s.yaml").write_text("kind: ConfigMap\n")  # the working tree is clean; the index is not
    r, found = lint(ws, tmp_path, "--staged")
    assert r.returncode == 1 and [(f["rule"], f["file"]) for f in found] == [("scan-limit", "s.yaml")], r.stderr


def test_lint_large_file_finding_is_baselined_until_the_file_changes(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / ".sealer-lint.yaml").write_text("max_file_size: 1000\n")
    (tmp_path / "big.yaml").write_bytes(padded_secret(5000))
    r = subprocess.run([sys.executable, "-m", "sealer", "lint", "--format", "json", "-o", "base.json", "big.yaml"],
                       cwd=tmp_path, env=ws.env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1, r.stderr
    r, found = lint(ws, tmp_path, "--baseline", "base.json", "big.yaml")
    assert (r.returncode, found) == (0, []), r.stderr
    (tmp_path / "big.yaml").write_bytes(padded_secret(5000).replace(b"#x", b"#y"))  # same size, other content
    r, found = lint(ws, tmp_path, "--baseline", "base.json", "big.yaml")
    assert r.returncode == 1 and [f["rule"] for f in found] == ["scan-limit"]


def test_lint_scan_limit_can_be_disabled_and_is_then_counted(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / ".sealer-lint.yaml").write_text("max_file_size: 1000\ndisable: [scan-limit]\n")
    (tmp_path / "big.yaml").write_bytes(padded_secret(5000))
    r, found = lint(ws, tmp_path, ".")
    assert (r.returncode, found) == (0, []) and "1 over max_file_size not scanned" in r.stderr


def test_lint_an_alias_bomb_is_a_finding_and_the_text_is_still_scanned(ws: Workspace, tmp_path: Path) -> None:
    """Was: lint ran without end (1.7 s at 7 levels, 12.6 s at 8): any pull request could stall the gate."""
    from sealer.lint.detectors import github_checksum

    body = "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsT"  # 30 characters + GitHub's CRC32 suffix: a well-formed token
    token = f"ghp_{body}{github_checksum(body)}"
    (tmp_path / "bomb.yaml").write_bytes(alias_bomb(9, 9, head=f"{HEAD}data:\n  token: {token}\n".encode()))
    r, found = lint(ws, tmp_path, ".")
    assert r.returncode == 1, r.stderr
    assert [(f["rule"], f["line"]) for f in found] == [("scan-limit", 1), ("credential", 7)]
    assert ALIAS_BOMB in str(found[0]["message"])


@pytest.mark.parametrize(("text", "needle"), [
    ("disable: [credential]\ndisable: []\n", "a key appears twice in one mapping ('disable')"),
    (alias_bomb(9, 9, head=b"disable: []\n").decode(), ALIAS_BOMB),
])
def test_lint_config_duplicates_and_bombs_are_refused(ws: Workspace, tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / ".sealer-lint.yaml").write_text(text)
    r = subprocess.run([sys.executable, "-m", "sealer", "lint", "."], cwd=tmp_path, env=ws.env(),
                       capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=_limit_memory)
    refused(r, ".sealer-lint.yaml", needle)
