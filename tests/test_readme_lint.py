"""Every example value in README.md and keys/README.md passes `sealer lint` without `sealer:allow`: a reader copies
them into a repository that runs the lint in CI, and a documented example that fails the gate teaches people to
silence it. Linted twice: each file as it stands (text rules), and each fenced code block as a file of its own
language (so a YAML example also meets the structural rules: plaintext Secrets, values under sensitive keys)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from tests.cli_process import run_sealer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "keys/README.md")
_SUFFIX = {"yaml": "yaml", "yml": "yaml", "json": "json", "sh": "sh", "bash": "sh", "console": "txt", "": "txt"}
# (file, rule) of findings the docs plant on purpose; each needs a reason. None today.
INTENDED: set[tuple[str, str]] = set()


def _unsilenced(text: str) -> str:
    return text.replace("sealer:allow", "sealer-allow")  # an allow comment must not hide an example


def _blocks(text: str) -> list[tuple[int, str, str]]:
    """(line, language, body) of each fenced code block."""
    out = []
    for m in re.finditer(r"^ *```([\w-]*)[^\n]*\n(.*?)^ *```[ \t]*$", text, re.M | re.S):
        lines = m.group(2).splitlines(True)
        indent = min((len(x) - len(x.lstrip(" ")) for x in lines if x.strip()), default=0)  # blocks in a list
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1).lower(), "".join(x[indent:] for x in lines)))
    return out


def _stage(tmp_path: Path, docs: dict[str, str]) -> Path:
    """The docs and their code blocks as files under tmp_path/docs, ready for one lint run."""
    base = tmp_path / "docs"
    for name, text in docs.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(_unsilenced(text))
        for line, lang, body in _blocks(text):
            block = base / "blocks" / f"{name.replace('/', '_')}-{line}.{_SUFFIX.get(lang, lang or 'txt')}"
            block.parent.mkdir(parents=True, exist_ok=True)
            block.write_text(_unsilenced(body))
    return base


def _findings(base: Path) -> list[dict]:
    r = run_sealer("lint", "-f", "json", ".", cwd=base)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)["findings"]


def test_docs_examples_pass_lint(tmp_path: Path) -> None:
    docs = {name: (ROOT / name).read_text() for name in DOCS}
    base = _stage(tmp_path, docs)
    assert len(list((base / "blocks").iterdir())) >= 20  # the blocks were found
    found = {(f["file"], f["rule"]) for f in _findings(base)}
    unexpected = sorted(found - INTENDED)
    assert not unexpected, ("README examples sealer lint reports (use an obviously fake value, e.g. one with "
                            f"`example` in it): {unexpected}")


def test_a_leaky_example_is_caught(tmp_path: Path) -> None:
    """The check above fails when an example leaks: in prose, in a YAML block, behind a `sealer:allow`."""
    value = secrets.token_urlsafe(24)
    docs = {"README.md": "# x\n\n```yaml\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
                         f"stringData:\n  password: {value}\n```\n",
            "keys/README.md": f"Set `DB_PASSWORD={value}` first.  <!-- sealer:allow -->\n"}
    found = {(f["file"], f["rule"]) for f in _findings(_stage(tmp_path, docs))}
    assert ("blocks/README.md-3.yaml", "plaintext-secret") in found
    assert ("keys/README.md", "credential") in found
