"""The one way sealer runs git: output captured, no terminal input, and a git that is missing or cannot start
reported as None (callers decide: lint asks for it, the key commands refuse the path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealer import gitcmd


def test_a_repository_and_a_failing_command(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("*.key\n")
    ignored = gitcmd.run(["check-ignore", "-q", "--", "age.key"], str(tmp_path))
    tracked = gitcmd.run(["check-ignore", "-q", "--", "notes.txt"], str(tmp_path))
    assert ignored is not None and ignored.returncode == 0
    assert tracked is not None and tracked.returncode == 1
    top = gitcmd.run(["rev-parse", "--show-toplevel"], str(tmp_path))
    assert top is not None and Path(top.stdout.decode().strip()).resolve() == tmp_path.resolve()


def test_no_git_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no git on the PATH
    assert gitcmd.run(["status"], str(tmp_path)) is None
