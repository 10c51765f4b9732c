"""Colour (sealer/cli/style.py): error lines, lint findings and the lint summary are coloured on a terminal or
with FORCE_COLOR / CLICOLOR_FORCE; never with NO_COLOR, never in a pipe by default, never in JSON/SARIF or a
report written to a file. Each run is a real `python -m sealer` process whose stdout/stderr are pipes."""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from sealer.cli import style
from tests.cli_process import run_on_pty, run_sealer

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED = style.CODES["error"]
PLAIN = {"NO_COLOR": "", "FORCE_COLOR": "", "CLICOLOR_FORCE": ""}  # the caller's settings do not leak in


def sealer(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return run_sealer(*args, cwd=cwd, env={**PLAIN, **env})


def planted(directory: Path) -> Path:
    """A Secret with a plaintext value made now (a plaintext-secret and a credential finding)."""
    value = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12)) + "&!9Zq"
    path = directory / "s.yaml"
    path.write_text(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \"{value}\"\n")
    return path


FORCING = [{"FORCE_COLOR": "1"}, {"CLICOLOR_FORCE": "1"}]


@pytest.mark.parametrize("force", FORCING, ids=["FORCE_COLOR", "CLICOLOR_FORCE"])
def test_error_line_is_red_when_forced(tmp_path: Path, force: dict[str, str]) -> None:
    r = sealer("decrypt", str(tmp_path / "missing.yaml"), **force)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{RED}sealer: error:{style.RESET} ")
    assert ANSI.sub("", r.stderr) == sealer("decrypt", str(tmp_path / "missing.yaml")).stderr


def test_usage_error_marks_clicks_error_line(tmp_path: Path) -> None:
    r = sealer("lint", "--no-such-flag", cwd=tmp_path, FORCE_COLOR="1")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].startswith(f"{RED}Error:{style.RESET} No such option")


@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, {"FORCE_COLOR": "0"}],
                         ids=["piped", "NO_COLOR-wins", "FORCE_COLOR=0"])
def test_no_colour_in_pipes_or_with_no_color(tmp_path: Path, env: dict[str, str]) -> None:
    planted(tmp_path)
    for args in (("decrypt", "missing.yaml"), ("lint", "."), ("lint", "--no-such-flag")):
        r = sealer(*args, cwd=tmp_path, **env)
        assert r.returncode in (1, 2)
        assert "\x1b" not in r.stdout + r.stderr, args


def test_lint_text_findings_and_summary_coloured_when_forced(tmp_path: Path) -> None:
    planted(tmp_path)
    plain = sealer("lint", ".", cwd=tmp_path)
    coloured = sealer("lint", ".", cwd=tmp_path, FORCE_COLOR="1")
    assert plain.returncode == coloured.returncode == 1
    assert f"{RED}error{style.RESET} {style.CODES['rule']}plaintext-secret{style.RESET}:" in coloured.stdout
    assert coloured.stderr.startswith(RED + "sealer lint: ")
    # the colour codes go between the parts: without them, byte for byte the plain report
    assert ANSI.sub("", coloured.stdout) == plain.stdout
    assert ANSI.sub("", coloured.stderr) == plain.stderr

    (tmp_path / "s.yaml").unlink()
    clean = sealer("lint", ".", cwd=tmp_path, FORCE_COLOR="1")
    assert clean.returncode == 0 and clean.stderr.startswith(style.CODES["ok"] + "sealer lint: 0 findings")


def test_machine_formats_and_report_files_never_coloured(tmp_path: Path) -> None:
    planted(tmp_path)
    for fmt in ("json", "sarif"):
        r = sealer("lint", ".", "--format", fmt, cwd=tmp_path, FORCE_COLOR="1")
        assert r.returncode == 1 and "\x1b" not in r.stdout
        json.loads(r.stdout)
    r = sealer("lint", ".", "--output-file", "report.txt", cwd=tmp_path, FORCE_COLOR="1")
    assert r.returncode == 1 and r.stdout == ""
    report = (tmp_path / "report.txt").read_text()
    assert "plaintext-secret" in report and "\x1b" not in report


def test_terminal_decides_without_environment(tmp_path: Path) -> None:
    """On a real terminal (a pty) the error line is red with no variable set; TERM=dumb keeps it plain."""
    pytest.importorskip("pty")

    def on_tty(term: str) -> bytes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_") and k not in PLAIN}
        return run_on_pty(["decrypt", "missing.yaml"], tmp_path, {**env, "TERM": term})

    assert on_tty("xterm").startswith(RED.encode() + b"sealer: error:")
    assert on_tty("dumb").startswith(b"sealer: error:")


def test_style_decision_order(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    for name in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert style.enabled(Tty()) and not style.enabled(Pipe())  # type: ignore[arg-type]
    monkeypatch.setenv("CLICOLOR_FORCE", "0")
    assert not style.enabled(Pipe())  # type: ignore[arg-type]
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert style.enabled(Pipe())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not style.enabled(Tty()) and not style.enabled(Pipe())  # type: ignore[arg-type]
    assert style.paint("x", "ok", on=False) == "x" and style.paint("", "ok") == ""
