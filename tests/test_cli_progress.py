"""Progress bars on stderr (sealer/cli/progress.py): drawn for bulk work when stderr is a terminal, or with
SEALER_PROGRESS=1; never in a pipe by default; stdout byte for byte the same with or without a bar. Real
processes on real files; a pty stands in for the user's terminal."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from sealer.cli import progress
from tests.cli_process import run_on_pty
from tests.keypairs import KeyPair
from tests.sops_helpers import AgeKey, Workspace, make_age_key, ok

MANY = progress.MIN_UNITS + 5
QUIET = {"NO_COLOR": "", "FORCE_COLOR": "", "CLICOLOR_FORCE": ""}


def secret(i: int) -> str:
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\nstringData:\n"
            f"  token: {secrets.token_hex(8)}\n")


@pytest.fixture
def encrypted(tmp_path: Path) -> tuple[Workspace, AgeKey, list[str]]:
    """MANY SOPS files encrypted for a fresh age key (by one sealer run, without a bar: piped)."""
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path / "keys", "me")
    names = [f"f{i:02}.yaml" for i in range(MANY)]
    for i, name in enumerate(names):
        ws.write(name, secret(i))
    r = ws.sealer("encrypt", "-i", "--age", key.recipient, *names, **QUIET)
    ok(r)
    assert r.stderr == ""  # piped: no bar
    return ws, key, names


def bar(stderr: str, label: str, total: int) -> bool:
    return f"{label}  [" in stderr and f"{total}/{total}" in stderr


def test_decrypt_many_files_bar_on_stderr_stdout_unchanged(encrypted) -> None:
    ws, key, names = encrypted
    plain = ws.sealer("decrypt", *names, key=key, **QUIET)
    shown = ws.sealer("decrypt", *names, key=key, SEALER_PROGRESS="1", **QUIET)
    assert ok(plain) == ok(shown) and plain.stdout.count("kind: Secret") == MANY
    assert plain.stderr == ""
    assert bar(shown.stderr, "decrypting", MANY) and "\x1b[3" not in shown.stderr  # not coloured: not a terminal
    off = ws.sealer("decrypt", *names, key=key, SEALER_PROGRESS="0", **QUIET)
    assert off.stdout == plain.stdout and off.stderr == ""


def test_encrypt_rotate_updatekeys_in_place(encrypted) -> None:
    ws, key, names = encrypted
    for name in names:
        ws.write(name, secret(0))
    r = ws.sealer("encrypt", "-i", "--age", key.recipient, *names, SEALER_PROGRESS="1", **QUIET)
    assert ok(r) == "" and bar(r.stderr, "encrypting", MANY)

    r = ws.sealer("rotate", *names, key=key, SEALER_PROGRESS="1", **QUIET)
    assert ok(r) == "" and bar(r.stderr, "rotating", MANY)
    quiet = ws.sealer("rotate", *names, key=key, **QUIET)
    assert ok(quiet) == "" and "rotating" not in quiet.stderr

    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n")
    r = ws.sealer("updatekeys", "-y", *names, key=key, SEALER_PROGRESS="1", **QUIET)
    assert ok(r) == "" and bar(r.stderr, "updating keys", MANY)
    # a note erases the bar's line, then the bar is drawn again under it: they never share a line (text mode
    # reads click's "\r" as a line end)
    assert f"\n\x1b[K{names[0]}: already up to date\n\nupdating keys  [" in r.stderr
    assert "updating keys" not in ws.sealer("updatekeys", "-y", *names, key=key, **QUIET).stderr
    assert ok(ws.sealer("decrypt", names[-1], key=key, **QUIET)).count("token:") == 1


def test_an_error_mid_batch_starts_on_a_line_of_its_own(encrypted) -> None:
    ws, key, names = encrypted
    ws.write(names[5], "not: [valid\n")
    r = ws.sealer("decrypt", *names, key=key, SEALER_PROGRESS="1", **QUIET)
    assert r.returncode == 2 and r.stdout == ""
    assert "decrypting  [" in r.stderr and f"5/{MANY}" in r.stderr
    assert r.stderr.splitlines()[-1].startswith(f"sealer: error: {names[5]}: not valid YAML")


def test_few_files_draw_no_bar(encrypted) -> None:
    ws, key, names = encrypted
    few = names[:progress.MIN_UNITS]
    r = ws.sealer("decrypt", *few, key=key, SEALER_PROGRESS="1", **QUIET)
    assert ok(r) and r.stderr == ""  # quick work on few files: no bar, even when forced


def test_colour_of_the_bar_follows_no_color(encrypted) -> None:
    ws, key, names = encrypted
    green = ws.sealer("decrypt", *names, key=key, SEALER_PROGRESS="1", **{**QUIET, "FORCE_COLOR": "1"})
    assert "[\x1b[32m#" in green.stderr
    plain = ws.sealer("decrypt", *names, key=key, SEALER_PROGRESS="1", **{**QUIET, "FORCE_COLOR": "1",
                                                                         "NO_COLOR": "1"})
    assert bar(plain.stderr, "decrypting", MANY) and not re.search(r"\x1b\[[0-9;]*m", plain.stderr)
    assert green.stdout == plain.stdout


def test_reencrypt_many_files(tmp_path: Path, kp2048: KeyPair) -> None:
    ws = Workspace(tmp_path)
    src = ws.write("secret.yaml", secret(1))
    sealed = ok(ws.sealer("seal", src, "--cert", kp2048.cert_path, "--namespace", "default", **QUIET))
    names = [f"s{i:02}.yaml" for i in range(MANY)]
    for name in names:
        ws.write(name, sealed)
    args = ("reencrypt", *names, "--key", str(kp2048.key_path), "--cert", str(kp2048.cert_path))
    plain = ws.sealer(*args, **QUIET)
    shown = ws.sealer(*args, SEALER_PROGRESS="1", **QUIET)
    assert ok(plain) == ok(shown) and plain.stdout.count("kind: SealedSecret") == MANY
    assert bar(shown.stderr, "re-encrypting", MANY) and "re-encrypting" not in plain.stderr


def test_lint_large_tree(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for i in range(MANY):
        ws.write(f"d{i % 3}/f{i:02}.yaml", secret(i) if i % 5 == 0 else f"name: app{i}\n")
    plain = ws.sealer("lint", ".", **QUIET)
    shown = ws.sealer("lint", ".", SEALER_PROGRESS="1", **QUIET)
    assert plain.returncode == shown.returncode == 1
    assert plain.stdout == shown.stdout and "plaintext-secret" in plain.stdout
    assert bar(shown.stderr, "scanning", MANY) and "scanning" not in plain.stderr
    assert shown.stderr.endswith(plain.stderr)  # the summary line still ends stderr, on a line of its own


def test_scan_all_reports_every_file_done_in_both_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sealer.lint import scan, walk
    from sealer.lint.context import Options

    for i in range(30):
        (tmp_path / f"f{i}.yaml").write_text(secret(i))
    (tmp_path / "big.txt").write_text("x" * 100)
    sources = walk.sources_from_files(walk.discover([str(tmp_path)]), None, str(tmp_path))
    monkeypatch.setattr(scan, "_PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(scan, "_PARALLEL_MIN_BYTES", 1)
    for jobs in (1, 2):
        counted: list[int] = []
        scan.scan_all(sources, Options(max_bytes=50), jobs, counted.append)  # big.txt: over the cap, not read
        assert sum(counted) == len(sources) == 31, jobs


def test_slow_work_on_few_units_draws_a_bar_after_the_delay(monkeypatch: pytest.MonkeyPatch,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SEALER_PROGRESS", "1")
    for name in QUIET:
        monkeypatch.delenv(name, raising=False)
    with progress.Progress(3, "waiting") as p:
        p.advance()
    assert capfd.readouterr().err == ""  # fast: nothing
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with progress.Progress(3, "waiting") as p:
        for _ in range(3):
            p.advance()
    err = capfd.readouterr().err
    assert "waiting  [" in err and "3/3" in err and err.endswith("\n")


def pty_text(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    pytest.importorskip("pty")
    return run_on_pty(args, cwd, env).decode()


def test_terminal_gets_a_bar_and_sealer_progress_0_turns_it_off(encrypted) -> None:
    ws, key, names = encrypted
    base = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_") and k not in QUIET}
    env = {**base, **ws.env(key), "TERM": "xterm"}
    assert bar(pty_text(["decrypt", *names], ws.files, env), "decrypting", MANY)
    assert "decrypting" not in pty_text(["decrypt", *names], ws.files, {**env, "SEALER_PROGRESS": "0"})
    assert "decrypting" not in pty_text(["decrypt", *names], ws.files, {**env, "TERM": "dumb"})

