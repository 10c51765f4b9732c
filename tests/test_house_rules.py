"""Rules of the layout that a reader relies on, checked so they stay true: test modules share helpers through
helper modules and conftest.py, never by importing each other; the product never imports the test kit or the
controller at import time."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_no_test_module_imports_another() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module}" for path in sorted((ROOT / "tests").rglob("*.py"))
           for line, module in _imports(path) if module.startswith("tests.test_")]
    assert not bad, "move shared helpers into a helper module (tests/*.py without test_):\n" + "\n".join(bad)


def test_the_product_imports_neither_the_controller_nor_the_test_kit() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module}" for path in sorted((ROOT / "sealer").rglob("*.py"))
           for line, module in _imports(path)
           if module.split(".")[0] in ("controller", "tests", "kmock")
           or (module.startswith("sealer_testkit") and path.name != "demo.py")]
    assert not bad, "\n".join(bad)
