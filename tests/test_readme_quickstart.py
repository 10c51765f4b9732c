"""The README's Quick start, run as a newcomer runs it: every ```sh block of the section, in order, with bash in one
fresh directory, the venv's bin first on PATH. A block exits 0 unless it says `# exits N` (the lint of the
plaintext Secret). So a renamed flag, a changed output or a broken command in the README fails here, not for the
next newcomer."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent
_EXITS = re.compile(r"#\s*exits (\d+)\b")
_SCRUB = ("SOPS_", "SEALER_", "KUBECONFIG", "VAULT_", "BAO_")


def quickstart_blocks(markdown: str) -> list[str]:
    """The ```sh blocks of the `## Quick start` section, in order."""
    start = markdown.index("\n## Quick start\n")
    end = markdown.find("\n## ", start + 1)
    section = markdown[start:end if end != -1 else len(markdown)]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.M | re.S)


def expected_exit(block: str) -> int:
    """The exit code a block announces with `# exits N`, else 0."""
    codes = {int(m.group(1)) for m in _EXITS.finditer(block)}
    assert len(codes) <= 1, f"a block announces several exit codes: {block}"
    return codes.pop() if codes else 0


def run_blocks(blocks: list[str], cwd: Path, home: Path) -> list[tuple[str, int, int, str]]:
    """Run each block with `bash -e -o pipefail` (a failing command inside a block counts, not only the last);
    (block, expected, actual, stderr tail) for each block whose exit code differs from what it announces."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}", HOME=str(home),
               XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1")
    wrong = []
    for block in blocks:
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert "Traceback" not in r.stderr, f"{block}\n{r.stderr[-2000:]}"
        if r.returncode != expected_exit(block):
            wrong.append((block, expected_exit(block), r.returncode, r.stderr[-1500:]))
    return wrong


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    return work, home


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    blocks = quickstart_blocks(README.read_text())
    assert len(blocks) >= 5, "the Quick start lost its code blocks"
    assert any(expected_exit(b) == 1 for b in blocks), "the lint of the plaintext Secret must be shown failing"
    work, home = _dirs(tmp_path)
    wrong = run_blocks(blocks, work, home)
    assert not wrong, "\n\n".join(f"README block exited {got}, README says {want}:\n{b}\n{err}"
                                  for b, want, got, err in wrong)
    # what the prose promises about the files the blocks made
    identities = [p for p in work.rglob("*") if p.is_file() and p.read_bytes().startswith(b"# created: ")]
    assert identities, "the Quick start no longer writes an age identity file"
    for p in identities:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


@pytest.mark.parametrize("broken", [
    "sealer seal app/secret.yaml --no-such-flag > out.yaml",  # a renamed flag
    "sealer lint app    # exits 1: nothing to find in an empty directory",  # an announced failure that is not one
    "sealer lint app\nfalse\nsealer lint app",  # a failure mid-block
])
def test_a_broken_block_is_reported(tmp_path: Path, broken: str) -> None:
    """The runner above fails on a wrong exit code anywhere in a block, announced or not."""
    work, home = _dirs(tmp_path)
    (work / "app").mkdir()
    assert len(run_blocks([broken], work, home)) == 1


def test_blocks_are_found_in_order() -> None:
    text = ("# x\n\n## Quick start\n\n```sh\none\n```\n\n```yaml\nskip: 1\n```\n\n```sh\ntwo  # exits 3: why\n```\n"
            "\n## Status\n\n```sh\nthree\n```\n")
    blocks = quickstart_blocks(text)
    assert blocks == ["one\n", "two  # exits 3: why\n"]
    assert [expected_exit(b) for b in blocks] == [0, 3]
