"""The docs name only files that exist, and the README's layout block covers every package: a module moved
without its docs (or a new package nobody listed) fails here instead of misleading the next reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "keys/README.md", "bench/README.md", "deploy/README.md")
TOP = ("sealer", "controller", "testkit", "tests", "bench", "deploy", "keys", "requirements")
# `sealer/sops/emit.py`, `controller/vault/`, `tests/test_wheel.py`: a backticked source path or directory under a
# top-level directory (not `keys/prod.crt`, a file the reader makes, nor `sealer/v1`, a SARIF fingerprint name)
_PATH = re.compile(r"`((?:" + "|".join(TOP) + r")/[\w./-]*(?:/|\.py|\.md|\.yaml|\.txt|\.toml|\.in))`")


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


@pytest.mark.parametrize("doc", [d for d in DOCS if (ROOT / d).exists()])
def test_backticked_paths_exist(doc: str) -> None:
    missing = sorted({p for p in _PATH.findall((ROOT / doc).read_text())
                      if "*" not in p and not (ROOT / p).exists()})
    assert not missing, f"{doc} names paths that do not exist: {missing}"


def test_layout_block_names_existing_files_and_every_package() -> None:
    """Each `name.py` / `name/` the layout block shows exists where the block's indentation puts it, and every
    package of the product and the test kit has a line."""
    stack: list[tuple[int, str]] = []
    shown: set[str] = set()
    for line in _layout_block().splitlines():
        m = re.match(r"^( *)([\w.]+(?:/|\.py))(?:\s|$)", line)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "".join(p for _, p in stack) + name
        assert (ROOT / path).exists(), f"README layout shows {path}, which does not exist"
        shown.add(path.rstrip("/"))
        if name.endswith("/"):
            stack.append((indent, name))
    packages = {str(p.parent.relative_to(ROOT)) for top in ("sealer", "controller", "testkit")
                for p in (ROOT / top).rglob("__init__.py")}
    unlisted = sorted(p for p in packages if p not in shown)
    assert not unlisted, f"packages missing from the README layout block: {unlisted}"
