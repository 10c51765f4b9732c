"""sealer prints YAML and JSON byte for byte as sops does: the real sops 3.11 and sealer on inputs written here.

Each case has sops encrypt a plaintext, then compares `sops decrypt` with `sealer decrypt` of that same file (or
runs `unset` / `decrypt --extract` with both tools): go-yaml v3's scalar styles and escapes, its block layout at
sops' indent 4 (nested lists, lists of maps), Go's encoding/json escapes, and where comments stay.
"""

from __future__ import annotations

import pytest

from sealer.sops import emit
from tests.sops_helpers import Workspace, make_age_key, needs_sops, ok

pytestmark = needs_sops

# go-yaml's choice of style for each value: plain, single quotes (leading/trailing spaces), double quotes with
# go-yaml's escapes (characters beyond the BMP, NEL, tabs, a leading BOM), literal blocks; strings that would
# read back as another type (YAML 1.1 booleans, base-60 numbers, dates) double-quoted
STYLES = """\
padded: "  padded  "
unicode: "värde ✓ 日本語 🔑"
lead: " lead"
trail: "trail "
nbsp: "\\u00a0nbsp"
tab: "tab\\there"
nel: "x\\u0085y"
bom: "\\ufeffbom x"
old_bool: "yes"
sexagesimal: "1:20"
date: "2001-12-14"
octal: "0o17"
dash: "- x"
colon: "a: b"
hash: "a #b"
apostrophe: "it's"
question: "?"
control: "x\\u0001"
block: "line\\nbreak\\n"
space_break: "sp \\nbreak"
"key 🔑": 1
" lk": 2
"""

LISTS = """\
servers:
  - name: a
    ports: [80, 443]
    tags:
      - web
      - {role: edge, weight: 1.5}
      - - nested
        - {deep: [1, [2, 3]]}
  - name: b
    ports: []
    env: {}
matrix:
  - [1, 2, 3]
  - [[4, 5], [6, []]]
  - - deep
    - - deeper
      - - deepest
  - "multi\\nline\\n"
  - x: |
      block in a list
"""

COMMENTED = """\
app:
    db:
        user: eve # who
        password: c4r1b0u
        # after the password
    other: 1
"""


EMPTIED = """\
x:
  f: [] # c
  g: 1
h: [] # d
i: 2
"""


@pytest.fixture
def ws(tmp_path):
    w = Workspace(tmp_path)
    w.key = make_age_key(tmp_path / "keys", "k")  # type: ignore[attr-defined]
    return w


def sops_made(ws: Workspace, name: str, text: str) -> None:
    ws.write(name, text)
    ok(ws.sops("encrypt", "--age", ws.key.recipient, "-i", name))  # type: ignore[attr-defined]


@pytest.mark.parametrize("name, text", [
    ("styles.yaml", STYLES), ("lists.yaml", LISTS),
    ("commented.yaml", "# a comment makes sealer write with ruamel.yaml\n" + STYLES),
    ("emptied.yaml", EMPTIED),  # sops keeps `# c` as the list's only item: sealer printed `f:`, `# c`, `[]`
    ("emptied_last.yaml", "a: 1\nf: [] # c\n# closing\n"),  # go-yaml: closing comments, blank line, `# c`
    # after `[]` / `{}` ruamel gives the closing comment to the next key, `sops`: it was lost with the metadata
    ("closing_list.yaml", "e: 1\nf: []\n# closing\n"), ("closing_map.yaml", "e: 1\nf: {}\n# closing\n"),
    # comments make sealer write with ruamel.yaml: the same go-yaml layout there
    ("commented_lists.yaml", "# c\n" + LISTS), ("commented_items.yaml", "l:\n  # c\n  - a # d\n  # e\n  - b\n"),
])
def test_decrypt_prints_go_yamls_styles_and_layout(ws: Workspace, name: str, text: str) -> None:
    sops_made(ws, name, text)
    theirs = ok(ws.sops("decrypt", name, key=ws.key))  # type: ignore[attr-defined]
    mine = ok(ws.sealer("decrypt", name, key=ws.key))  # type: ignore[attr-defined]
    assert mine == theirs


def test_decrypted_json_escapes_as_go(ws: Workspace) -> None:
    sops_made(ws, "j.json", '{"k<&>\\u2028": "a <b> & c \\u2028 \\u2029 \\b\\f\\u0001 🔑", "n": 1.5}')
    theirs = ok(ws.sops("decrypt", "j.json", key=ws.key))  # type: ignore[attr-defined]
    assert "\\u003c" in theirs and "\\u2028" in theirs
    assert ok(ws.sealer("decrypt", "j.json", key=ws.key)) == theirs  # type: ignore[attr-defined]


def test_unset_keeps_the_comment_after_the_removed_value(ws: Workspace) -> None:
    sops_made(ws, "a.yaml", COMMENTED)
    ws.write("b.yaml", (ws.files / "a.yaml").read_text())
    ok(ws.sops("unset", "a.yaml", '["app"]["db"]["password"]', key=ws.key))  # type: ignore[attr-defined]
    ok(ws.sealer("unset", "b.yaml", '["app"]["db"]["password"]', key=ws.key))  # type: ignore[attr-defined]
    theirs = ok(ws.sops("decrypt", "a.yaml", key=ws.key))  # type: ignore[attr-defined]
    assert "# after the password" in theirs
    assert ok(ws.sops("decrypt", "b.yaml", key=ws.key)) == theirs  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ['["app"]["db"]', '["app"]'])
def test_extracted_mapping_keeps_its_comments_at_its_own_indentation(ws: Workspace, path: str) -> None:
    sops_made(ws, "a.yaml", COMMENTED)
    theirs = ok(ws.sops("decrypt", "--extract", path, "a.yaml", key=ws.key))  # type: ignore[attr-defined]
    assert ok(ws.sealer("decrypt", "--extract", path, "a.yaml", key=ws.key)) == theirs  # type: ignore[attr-defined]


@pytest.mark.parametrize("text, style", [
    ("plain", None), ("  padded  ", "'"), ("värde 🔑", '"'), ("\xa0nbsp", None), ("tab\there", '"'),
    ("yes", '"'), ("1:20", '"'), ("- x", "'"), ("a\nb\n", "|"), ("sp \nb", '"'), ("", None), ("x\x85", '"'),
])
def test_go_string_style(text: str, style: str | None) -> None:
    """go-yaml's rule (`emit.go_string_style`), checked against what sops printed in the cases above."""
    assert emit.go_string_style(text, True) == style


def test_go_double_quoted_escapes() -> None:
    assert emit.go_double_quoted("a 🔑") == "a \\U0001F511"
    assert emit.go_double_quoted("\ufeffa b") == "\\uFEFF\\x61\\x20\\x62"  # go-yaml's whole-value BOM check
    assert emit.go_double_quoted("plain é") is None  # nothing beyond ruamel's escapes


@pytest.mark.parametrize("text", ["# before the marker\n---\nkey: value\n", "# a\n\n# b\n---\nk: v\n---\nj: 1\n"])
def test_sops_reads_sealers_encrypted_file_as_its_own(ws: Workspace, text: str) -> None:
    """`sops decrypt` prints the same for sealer's encrypted file as for sops' (a comment before `---` kept)."""
    ws.write("p.yaml", text)
    ws.write("s.yaml", ok(ws.sops("encrypt", "--age", ws.key.recipient, "p.yaml")))  # type: ignore[attr-defined]
    ws.write("l.yaml", ok(ws.sealer("encrypt", "--age", ws.key.recipient, "p.yaml")))  # type: ignore[attr-defined]
    theirs = ok(ws.sops("decrypt", "s.yaml", key=ws.key))  # type: ignore[attr-defined]
    assert text.split("\n")[0] in theirs
    assert ok(ws.sops("decrypt", "l.yaml", key=ws.key)) == theirs  # type: ignore[attr-defined]
    assert ok(ws.sealer("decrypt", "l.yaml", key=ws.key)).startswith(text.split("\n")[0])  # type: ignore[attr-defined]


LONG = "a: " + "x" * 70_000 + "\nb: " + "y" * 70_000 + " z\n"  # longer than any line width: never folded


@pytest.mark.parametrize("name, text", [
    ("flow_root.yaml", '{"a": 1, "b": [1, 2]}\n'),  # sealer wrote `{...}` then a block `sops:`: not YAML
    ("long.yaml", LONG),  # sealer moved a value past 65536 columns to a line of its own
    # comments on the line of an empty collection, placed as sops places them (README, SOPS: comment losses)
    ("empty_collections.yaml", "a:\n  e: {} # c1\n  g: 1\nl:\n  - x: {} # c3\n\"q\": {} # c5\nf: [] # c6\n"),
])
def test_sops_decrypts_sealers_file_as_it_decrypts_its_own(ws: Workspace, name: str, text: str) -> None:
    ws.write(name, text)
    ws.write("s.yaml", ok(ws.sops("encrypt", "--age", ws.key.recipient, name)))  # type: ignore[attr-defined]
    ws.write("l.yaml", ok(ws.sealer("encrypt", "--age", ws.key.recipient, name)))  # type: ignore[attr-defined]
    theirs = ok(ws.sops("decrypt", "s.yaml", key=ws.key))  # type: ignore[attr-defined]
    assert ok(ws.sops("decrypt", "l.yaml", key=ws.key)) == theirs  # type: ignore[attr-defined]
    assert ok(ws.sealer("decrypt", "s.yaml", key=ws.key)) == theirs  # type: ignore[attr-defined]
    mine = ok(ws.sealer("decrypt", "l.yaml", key=ws.key))  # type: ignore[attr-defined]
    assert mine == text if name == "long.yaml" else mine.count("\n") >= 2


@pytest.mark.parametrize("text", [
    "f: [] # clear\ng: {} # clear too\nb_unencrypted: |\n  x: {} # y\n  f: [] # z\n",  # block scalar: content
    "f: [] # clear\n", "f: [] # clear\n# closing\n", "a:\n  f: [] # clear\n# closing\n",
    "f: [] # clear\n\n# closing\n", "l:\n  - [] # clear\n  - 1\n",
])
def test_clear_comment_on_an_empty_collection_goes_where_sops_puts_it(ws: Workspace, text: str) -> None:
    """With `encrypted_comment_regex`, comments stay clear in the encrypted file: after `[]` sops moves one to the
    next line, or drops it when the document's closing comments follow; `sops decrypt` must not tell us apart."""
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {ws.key.recipient}\n"  # type: ignore[attr-defined]
             "    encrypted_comment_regex: ^ secret\n")
    ws.write("p.yaml", text)
    ws.write("l.yaml", ok(ws.sealer("encrypt", "p.yaml")))
    ws.write("s.yaml", ok(ws.sops("encrypt", "p.yaml")))
    if text.startswith("f: [] # clear\ng"):
        assert (ws.files / "l.yaml").read_text().startswith(
            "f: []\n# clear\ng: {\n    # clear too\n}\nb_unencrypted: |\n  x: {} # y\n  f: [] # z\nsops:")
    theirs = ok(ws.sops("decrypt", "s.yaml", key=ws.key))  # type: ignore[attr-defined]
    assert ok(ws.sops("decrypt", "l.yaml", key=ws.key)) == theirs  # type: ignore[attr-defined]
