"""SOPS semantics against the real sops 3.11 binary: `set` values decoded as Go's encoding/json decodes them,
key groups (with Shamir) read and written per store as sops writes them, and the comment regexes
(`encrypted_comment_regex` / `unencrypted_comment_regex`) deciding what is encrypted as sops decides it.

Each behaviour runs both directions: sops writes -> sealer reads, sealer writes -> sops reads, and compares the
bytes sops prints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.sops_helpers import (
    ENC_RE,
    AgeKey,
    Workspace,
    enc_types,
    make_age_key,
    needs_sops,
    ok,
    parallel,
    sops_block,
)

pytestmark = needs_sops


def _enc_kinds(text: str) -> list[str]:
    """The ENC types of a file's values, in file order, the metadata block left out."""
    body = text.split("\nsops:", 1)[0] if not text.lstrip().startswith("{") else text.split('"sops":', 1)[0]
    return [m.group(4) for m in ENC_RE.finditer(body) if m.group(4) != "comment"]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def key(tmp_path: Path) -> AgeKey:
    return make_age_key(tmp_path / "keys", "a")


def _sops_made(ws: Workspace, key: AgeKey, name: str, plain: str) -> Path:
    f = ws.write(name, plain)
    ok(ws.sops("encrypt", "--age", key.recipient, "-i", name, key=key))
    return f


# --- set: JSON values as Go decodes them into interface{} ----------------------------------------------------

OBJECTS = [
    '{"x": [2.5, 1e3, 1.0, -0.0, 12345678901234567890, 7, 1e21, 1e-7, 0.1, 123456789, 1e6, null, true, "s"]}',
    '{"a": {"b": [1, 2.5, null, true]}, "1": "yes"}',
]
NUMBERS = ["12345678901234567890", "1e3", "7"]  # JSON files had these right already: YAML files only


@pytest.mark.parametrize(("store", "value"), [*((s, v) for s in ("yaml", "json") for v in OBJECTS),
                                              *(("yaml", v) for v in NUMBERS)])
def test_set_stores_json_numbers_as_sops_does(ws: Workspace, key: AgeKey, store: str, value: str) -> None:
    plain = "a: 1\nb:\n  c: x\n" if store == "yaml" else '{"a": 1, "b": {"c": "x"}}'
    by_sops = _sops_made(ws, key, f"by-sops.{store}", plain)
    by_sealer = ws.write(f"by-sealer.{store}", by_sops.read_text())
    ok(ws.sops("set", by_sops.name, '["b"]["new"]', value, key=key))
    ok(ws.sealer("set", by_sealer.name, '["b"]["new"]', value, key=key))
    want, got = (ok(ws.sops("decrypt", f.name, key=key)) for f in (by_sops, by_sealer))
    assert got == want  # the bytes sops prints: 2.5 stays 2.5, 12345678901234567890 is 1.2345678901234567e+19
    assert _enc_kinds(by_sealer.read_text()) == _enc_kinds(by_sops.read_text())  # numbers are type:float
    assert ok(ws.sealer("decrypt", by_sops.name, key=key)) == want


@pytest.mark.parametrize("value", ["-0.5", "-7", "-1e3"])
def test_set_takes_a_negative_number_without_dashes_as_sops_does(ws: Workspace, key: AgeKey, value: str) -> None:
    by_sops = _sops_made(ws, key, "by-sops.yaml", "a: 1\n")
    by_sealer = ws.write("by-sealer.yaml", by_sops.read_text())
    ok(ws.sops("set", by_sops.name, '["a"]', value, key=key))
    ok(ws.sealer("set", by_sealer.name, '["a"]', value, key=key))  # not read as an option `-0`
    want = ok(ws.sops("decrypt", by_sops.name, key=key))
    assert ok(ws.sops("decrypt", by_sealer.name, key=key)) == want


@pytest.mark.parametrize("store", ["yaml", "json"])
def test_rotate_keeps_every_value_and_type_as_sops_rotate_does(ws: Workspace, key: AgeKey, store: str) -> None:
    """Decrypted text prints the float 1.0 as `1` and -0.0 as `-0`: rotate re-encrypts from the values
    themselves, or the file's floats became ints (JSON output then changes)."""
    plain = ("a: 1.0\nb: -0.0\nc: 2.5\nd: x\ne: 7\nf: true\n" if store == "yaml"
             else '{"a": 1.0, "b": -0.0, "c": 2.5, "d": "x", "e": 7, "f": true}')
    by_sops = _sops_made(ws, key, f"by-sops.{store}", plain)
    by_sealer = ws.write(f"by-sealer.{store}", by_sops.read_text())
    ok(ws.sealer("rotate", by_sealer.name, key=key))
    ok(ws.sops("rotate", "-i", by_sops.name, key=key))
    assert _enc_kinds(by_sealer.read_text()) == _enc_kinds(by_sops.read_text())
    for output_type in ("json", "yaml"):
        want = ok(ws.sops("decrypt", "--output-type", output_type, by_sops.name, key=key))
        assert ok(ws.sops("decrypt", "--output-type", output_type, by_sealer.name, key=key)) == want


@pytest.mark.parametrize("value", ["1e400", "NaN", "Infinity", "[1, 2]", '{"a": 1, "a": 2}'])
def test_set_refuses_what_sops_cannot_store(ws: Workspace, key: AgeKey, value: str) -> None:
    f = _sops_made(ws, key, "f.yaml", "a: 1\n")
    before = f.read_text()
    r = ws.sealer("set", f.name, '["k"]', value, key=key)
    assert r.returncode == 2 and r.stderr.startswith("sealer: error:") and "Traceback" not in r.stderr
    assert "VALUE" in r.stderr and f.read_text() == before
    if value != '{"a": 1, "a": 2}':  # sops writes both keys, a file go-yaml itself then refuses
        assert ws.sops("set", f.name, '["k"]', value, key=key).returncode != 0


# --- key groups and Shamir, per store -------------------------------------------------------------------------

# The dotenv and INI stores flatten the metadata and drop empty lists (sops too): nothing differs there.
GROUP_PLAIN = {
    "yaml": "a: 1\nb:\n  - x\n",
    "json": '{"a": 1, "b": ["x"]}',
    "bin": "raw bytes\n",
}


@pytest.fixture
def two_keys(tmp_path: Path) -> tuple[AgeKey, AgeKey, Path]:
    k1, k2 = make_age_key(tmp_path / "keys", "one"), make_age_key(tmp_path / "keys", "two")
    both = tmp_path / "keys" / "both.txt"
    both.write_text(k1.path.read_text() + k2.path.read_text())
    both.chmod(0o600)
    return k1, k2, both


def _groups_config(ws: Workspace, k1: AgeKey, k2: AgeKey) -> None:
    ws.write(".sops.yaml", f"creation_rules:\n  - key_groups:\n      - age: [{k1.recipient}]\n"
                           f"      - age: [{k2.recipient}]\n    shamir_threshold: 2\n")


def _metadata(text: str, store: str) -> dict[str, object]:
    if store in ("json", "bin"):
        return json.loads(text)["sops"]
    return sops_block(text)


@pytest.mark.parametrize("store", list(GROUP_PLAIN))
def test_key_groups_both_ways_per_store(ws: Workspace, two_keys: tuple[AgeKey, AgeKey, Path], store: str) -> None:
    k1, k2, both = two_keys
    _groups_config(ws, k1, k2)
    name = f"g.{store}"
    ws.write(name, GROUP_PLAIN[store])
    by_sops, by_sealer = map(ok, parallel(lambda: ws.sops("encrypt", name, key=both),
                                          lambda: ws.sealer("encrypt", name, key=both)))
    s, m = ws.write(f"s.{name}", by_sops), ws.write(f"m.{name}", by_sealer)
    want = ok(ws.sops("decrypt", s.name, key=both))
    assert ok(ws.sealer("decrypt", s.name, key=both)) == want  # sops' JSON groups hold "hc_vault": null
    assert ok(ws.sops("decrypt", m.name, key=both)) == want
    theirs, ours = _metadata(by_sops, store), _metadata(by_sealer, store)
    assert set(ours) == set(theirs)  # binary: no encryption rule, as sops writes it
    shape = [{k: (v if not isinstance(v, list) else len(v)) for k, v in g.items()} for g in theirs["key_groups"]]
    assert [{k: (v if not isinstance(v, list) else len(v)) for k, v in g.items()} for g in ours["key_groups"]] \
        == shape
    assert [list(g) for g in ours["key_groups"]] == [list(g) for g in theirs["key_groups"]] == \
        [["hc_vault", "age"]] * 2
    if store in ("json", "bin"):
        assert all(g["hc_vault"] is None for g in ours["key_groups"])
        assert isinstance(ours["shamir_threshold"], int)
    else:
        assert all(g["hc_vault"] == [] for g in ours["key_groups"])


def test_one_key_group_short_of_the_threshold_is_refused(ws: Workspace,
                                                        two_keys: tuple[AgeKey, AgeKey, Path]) -> None:
    k1, k2, both = two_keys
    _groups_config(ws, k1, k2)
    ws.write("g.json", GROUP_PLAIN["json"])
    f = ws.write("s.json", ok(ws.sops("encrypt", "g.json", key=both)))
    r = ws.sealer("decrypt", f.name, key=k1)
    assert r.returncode != 0 and r.stdout == "" and "key group" in r.stderr and "Traceback" not in r.stderr


# --- comment regexes ------------------------------------------------------------------------------------------

COMMENTED = """\
# top comment

# second top comment after a blank line
a: 1 # inline after a value
# between keys
b:
  # first in a map
  c: 2
  # last in a map
d:
  - x # inline in a list
  # between list items
  - y
  # last in a list
e:
  f: 3
  g: 4
# trailing comment at end of file
"""

COMMENT_RULES = [
    ("encrypted_comment_regex", "^ (first|between)"),
    ("encrypted_comment_regex", "^ (inline|last)"),
    ("unencrypted_comment_regex", "^ (top|last)"),
    ("unencrypted_comment_regex", "^ (between|inline)"),
]


def _encrypted_values(text: str) -> list[tuple[object, ...]]:
    """(keys on the path, type) of each encrypted value, sorted; sops writes some encrypted comments as list
    items (`- ENC[...,type:comment]`), which shifts list indices, so those are left out."""
    return sorted((*(p for p in path if isinstance(p, str)), kind) for path, kind in enc_types(text).items()
                  if kind != "comment")


def _plain_comments(text: str) -> list[str]:
    """Comment lines left readable in an encrypted file, sorted (sops and sealer place some differently)."""
    return sorted(m.group(1) for m in re.finditer(r"#(?!ENC\[)([^\n]*)", text.split("\nsops:", 1)[0]))


@pytest.mark.parametrize(("field", "regex"), COMMENT_RULES)
def test_comment_regex_both_ways(ws: Workspace, key: AgeKey, field: str, regex: str) -> None:
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n    {field}: '{regex}'\n")
    ws.write("c.yaml", COMMENTED)
    by_sops, by_sealer = map(ok, parallel(lambda: ws.sops("encrypt", "c.yaml", key=key),
                                          lambda: ws.sealer("encrypt", "c.yaml", key=key)))
    s, m = ws.write("s.yaml", by_sops), ws.write("m.yaml", by_sealer)
    want = ok(ws.sops("decrypt", s.name, key=key))
    assert ok(ws.sealer("decrypt", s.name, key=key)) == want
    assert ok(ws.sops("decrypt", m.name, key=key)) == want
    # the same values and comments are encrypted, and the rule is recorded as sops records it (no suffix)
    assert _encrypted_values(by_sealer) == _encrypted_values(by_sops)
    assert _plain_comments(by_sealer) == _plain_comments(by_sops)
    theirs, ours = sops_block(by_sops), sops_block(by_sealer)
    assert ours[field] == theirs[field] == regex
    assert "unencrypted_suffix" not in ours and "unencrypted_suffix" not in theirs


def test_comment_regex_decides_values_by_the_comments_above_them(ws: Workspace, key: AgeKey) -> None:
    """A matching comment selects the values after it in its mapping or list until the next value, and everything
    nested in the value it precedes; it does not select itself."""
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n    encrypted_comment_regex: '^ secret'\n")
    ws.write("c.yaml", "# secret\n# note\na: 1\nb: 2\n# secret\nc:\n  d: 3\n  e:\n    - 4\nf: 5 # secret\n")
    f = ws.write("enc.yaml", ok(ws.sealer("encrypt", "c.yaml", key=key)))
    text = f.read_text()
    assert set(enc_types(text)) == {(0, "a"), (0, "c", "d"), (0, "c", "e", 0), (0, "f")}
    assert _plain_comments(text) == [" secret", " secret", " secret"]  # " note" follows a match: encrypted
    by_sops = ws.write("s.yaml", ok(ws.sops("encrypt", "c.yaml", key=key)))
    assert set(enc_types(by_sops.read_text())) == set(enc_types(text))
    assert ok(ws.sops("decrypt", f.name, key=key)) == ok(ws.sops("decrypt", by_sops.name, key=key))


def test_set_keeps_a_comment_regex_file_readable_by_sops(ws: Workspace, key: AgeKey) -> None:
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n    unencrypted_comment_regex: '^ public'\n")
    ws.write("c.yaml", "# public\nname: app\nb:\n  token: t0\n")
    by_sops = ws.write("s.yaml", ok(ws.sops("encrypt", "c.yaml", key=key)))
    by_sealer = ws.write("m.yaml", by_sops.read_text())
    ok(ws.sops("set", by_sops.name, '["b"]["token"]', '"t1"', key=key))
    ok(ws.sealer("set", by_sealer.name, '["b"]["token"]', '"t1"', key=key))
    want = ok(ws.sops("decrypt", by_sops.name, key=key))
    assert ok(ws.sops("decrypt", by_sealer.name, key=key)) == want
    assert enc_types(by_sealer.read_text()) == enc_types(by_sops.read_text()) == {(0, "b", "token"): "str"}


# --- which block a comment after nested blocks belongs to (its AAD path), as go-yaml places it ---------------

FOOT_COMMENTS = [
    "a:\n  b:\n    c:\n      - v0\n# z0\n  d: 1\n",  # left of every block: the innermost one that ended
    "a:\n  b:\n    c:\n      - v0\n   # z3\n  d: 1\n",
    "a:\n  b:\n    c:\n      - v0\n    # z4\n  d: 1\n",
    "k01:\n  k12:\n    - v0\n  # z5\n# y2\n",  # at the key's column: still the list's
    "k00:\n  k10: 66\n  k11:\n    k20: 93\n  # x0\nk01: 17\n",
    "d:\n- x\n  # c2\n# c0\ne: 1\n",  # an indentless list is no block of its own
    "d:\n  - - x\n    # c4\n  # c2\ne: 1\n",
]


@pytest.mark.parametrize("plain", FOOT_COMMENTS)
def test_comments_after_nested_blocks_are_encrypted_under_sops_path(ws: Workspace, key: AgeKey, plain: str) -> None:
    ws.write("f.yaml", plain)
    by_sops, by_sealer = map(ok, parallel(lambda: ws.sops("encrypt", "--age", key.recipient, "f.yaml", key=key),
                                          lambda: ws.sealer("encrypt", "--age", key.recipient, "f.yaml", key=key)))
    s, m = ws.write("s.yaml", by_sops), ws.write("m.yaml", by_sealer)
    want = ok(ws.sops("decrypt", s.name, key=key))
    got = ws.sops("decrypt", m.name, key=key)
    assert ok(got) == want and "ENC[" not in got.stdout  # sops opens every comment sealer encrypted
    assert "possibly unencrypted comment" not in got.stderr
