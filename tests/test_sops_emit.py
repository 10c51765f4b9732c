"""Writing YAML in linear time (`sealer.sops.emit`) changes nothing but speed.

- `emit.scalar_flags` is ruamel.yaml's Emitter.analyze_scalar (and `fastyaml.write.analyze_scalar`, its per-character
  transcription): checked on edge cases and generated strings.
- The writers fold, quote and escape exactly as ruamel.yaml's: generated scalars of every style, in mappings and
  lists, at small line widths (where every folding rule of ruamel's plain, single- and double-quoted writers
  comes into play) are written the same by `emit.serialize`, by ruamel.yaml with `emit.ruamel_emitter()`, and by
  ruamel.yaml itself.
- Large values (hundreds of KB, several times the 65536-column width sealer writes with) come out as ruamel.yaml
  writes them, through the stores too; and sops reads what sealer writes for them, and the other way round.

Behaviour only: nothing here is timed (bench/sops_large.py measures the speed against sops).
"""

from __future__ import annotations

import base64
import io
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from sealer.sops import emit, nodes, stores
from sealer.sops.fastyaml import write
from sealer.sops.stores import yaml as yaml_store
from sealer.sops.stores.values import scalar
from tests.sops_helpers import SECRET_REGEX, Workspace, load_doc, make_age_key, needs_sops, ok

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# pieces of scalars: everything the analysis and the writers treat specially, and plain words and spaces
TOKENS = [*"abcxyz019 :-?'\"\\#,[]{}&*!|>%@`.~<=_+", "  ", " ", " ", "word", "x" * 17, "\t", "\n", "\n", "\r",
          "\u2028", "\u2029", "\x85", "\ufeff", "\xa0", "é", "日", "😀", "\x07", "\x00", "\x7f", "\x9f", "\ud800",
          "\ufffe", "yes", "null", "1.5", ": ", "- ", "? ", " #", "---", "...", "\n ", " \n"]
scalars = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


def ruamel_flags(text: str) -> tuple[bool, ...]:
    a = YAML(typ="rt").emitter.analyze_scalar(text)
    return (a.empty, a.multiline, a.allow_flow_plain, a.allow_block_plain, a.allow_single_quoted,
            a.allow_double_quoted, a.allow_block)


def fastyaml_flags(text: str) -> tuple[bool, ...]:
    a = write.analyze_scalar(text)
    return (a.empty, a.multiline, a.allow_flow_plain, a.allow_block_plain, a.allow_single_quoted,
            a.allow_double_quoted, a.allow_block)


EDGES = ["", " ", "a", "-", "- a", "-a", "?", "? a", "?a", ":", ": a", ":a", "a:", "a: b", "a:b", "a :", "#", "#a",
         "a #b", "a#b", "a\t#b", "---", "--- a", "---a", "...", "...a", "a,b", "[a]", "a[", "{", "a}", "a\n", "\na",
         "a\nb", "a \nb", "a\n b", "a ", " a", "a\u2028b", "a\x85", "\ufeff", "a\ufeffb", "\xa0", "日本", "\ud800",
         "a\tb", "a\rb", "\x00", "\x7f", "\x9f", "\ufffe", "😀", "'", '"', "a'b", "|", ">", "%", "@", "`", "&a", "*a",
         "!a", "a&", "x" * 70000, "a " * 40000]


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_analysis_is_ruamels_on_edge_cases(text: str) -> None:
    assert emit.scalar_flags(text) == ruamel_flags(text) == fastyaml_flags(text)


@SETTINGS
@given(scalars)
def test_analysis_is_ruamels_on_generated_strings(text: str) -> None:
    assert emit.scalar_flags(text) == ruamel_flags(text) == fastyaml_flags(text)


# --- the writers against ruamel.yaml -------------------------------------------------------------------------------

def ruamel_dump(root: nodes.Node, layout: tuple[int, int, int], width: int, emitter: object = None) -> str:
    y = YAML(typ="rt")
    y.width = width
    y.indent(mapping=layout[0], sequence=layout[1], offset=layout[2])
    if emitter is not None:
        y.Emitter = emitter
    out = io.StringIO()
    y.serialize(yaml_store.to_ruamel(root), out)
    return out.getvalue()


def in_context(value: nodes.ScalarNode, shape: str) -> nodes.MappingNode:
    """The value in a mapping, in a list, or in a mapping in a list (deeper indentation, a dash before it)."""
    key = scalar

    if shape == "map":
        return nodes.MappingNode(nodes.MAP_TAG, [(key("k"), value)], flow_style=False)
    if shape == "seq":
        return nodes.MappingNode(nodes.MAP_TAG, [(key("k"), nodes.SequenceNode(nodes.SEQ_TAG, [value],
                                                                               flow_style=False))], flow_style=False)
    inner = nodes.MappingNode(nodes.MAP_TAG, [(key("a-longer-key"), value)], flow_style=False)
    return nodes.MappingNode(nodes.MAP_TAG, [(key("k"), nodes.SequenceNode(nodes.SEQ_TAG, [inner],
                                                                           flow_style=False))], flow_style=False)


def value_node(text: str, style: str | None) -> nodes.ScalarNode:
    return nodes.ScalarNode(nodes.STR_TAG if style else nodes.implicit_tag(text), text, style=style)


def assert_written_as_ruamel_writes(root: nodes.MappingNode, layout: tuple[int, int, int], width: int,
                                    must_be_fast: bool = False) -> None:
    try:
        theirs = ruamel_dump(root, layout, width)
    except Exception:
        assert not must_be_fast
        return  # nothing to compare with
    mine = emit.serialize(root, *layout, False, width=width, go=False)
    assert not must_be_fast or mine is not None
    assert mine is None or mine == theirs
    assert ruamel_dump(root, layout, width, emit.ruamel_emitter()) == theirs


@SETTINGS
@given(scalars, st.sampled_from([None, None, '"', "'", "|"]), st.sampled_from(["map", "seq", "deep"]),
       st.sampled_from([(2, 2, 0), (4, 4, 2), (4, 6, 4), (3, 3, 0)]), st.integers(13, 40))
def test_writers_fold_quote_and_escape_as_ruamel_at_small_widths(text: str, style: str | None, shape: str,
                                                                layout: tuple[int, int, int], width: int) -> None:
    assert_written_as_ruamel_writes(in_context(value_node(text, style), shape), layout, width)


@SETTINGS
@given(st.randoms(use_true_random=False), st.integers(13, 80))
def test_trees_of_many_scalars_are_written_as_ruamel_writes_them(rng: random.Random, width: int) -> None:
    pairs = []
    for i in range(rng.randint(1, 6)):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 50)))
        pairs.append((scalar(f"k{i}"), in_context(value_node(text, rng.choice([None, '"', "'", "|"])),
                                                         rng.choice(["map", "seq", "deep"]))))
    root = nodes.MappingNode(nodes.MAP_TAG, pairs, flow_style=False)
    assert_written_as_ruamel_writes(root, rng.choice([(2, 2, 0), (4, 4, 2), (4, 6, 4)]), width)


CORNERS = [  # (text, style, shape, layout, width): a rule's boundary in each writer
    ("aaaaaaaaaa bbb", None, "map", (2, 2, 0), 13),  # plain: a single space at the width exactly
    ("aaaaaaaaa  bbb", None, "map", (2, 2, 0), 13),  # plain: two spaces there are kept
    ("aaaaaaaaaaaaaaaaaaaa bb", None, "map", (2, 2, 0), 13),  # plain: a word longer than the line
    (" ab cd", "'", "deep", (6, 6, 4), 13),  # single-quoted: the first space never breaks
    ("ab cd ", "'", "deep", (6, 6, 4), 13),  # single-quoted: nor the last
    ("aaaaaaaaaa'b c", "'", "map", (2, 2, 0), 13),  # single-quoted: a doubled quote moves the column
    ("aaaaaaaa\nb c d", '"', "map", (2, 2, 0), 13),  # double-quoted: an escape at the width
    ("aaaaaaaaaaaa\x01\x02bcd", '"', "map", (2, 2, 0), 13),  # double-quoted: a break right after an escape
    ("aaaaaaaaa  b c", '"', "map", (2, 2, 0), 13),  # double-quoted: two spaces keep the backslash
    ("aaaaaaaaaa 'b c", '"', "map", (2, 2, 0), 13),  # double-quoted: a quote before the next space
    ("a\n\nb\n", "|", "deep", (4, 6, 4), 13),  # literal: empty lines carry no indentation
]


@pytest.mark.parametrize("case", CORNERS, ids=range(len(CORNERS)))
def test_writers_match_ruamel_at_each_rules_boundary(case: tuple) -> None:
    text, style, shape, layout, width = case
    assert_written_as_ruamel_writes(in_context(value_node(text, style), shape), layout, width, must_be_fast=True)


@pytest.mark.parametrize("seed", range(4))
def test_writers_match_ruamel_on_many_seeded_cases(seed: int) -> None:
    """A fixed sample, dense in the corners: narrow widths, deep indentation, long runs of spaces and quotes."""
    rng = random.Random(seed)
    pieces = [" ", "  ", "'", '"', "\n", "\\", "\x01", "ab", "x" * 9, ": ", "é"]
    for _ in range(500):
        text = "".join(rng.choice(pieces if rng.random() < 0.5 else TOKENS) for _ in range(rng.randint(0, 40)))
        root = in_context(value_node(text, rng.choice([None, '"', "'", "|"])), rng.choice(["map", "seq", "deep"]))
        assert_written_as_ruamel_writes(root, rng.choice([(2, 2, 0), (4, 6, 4), (6, 6, 4)]), rng.randint(13, 24))


def test_ruamel_emitter_keeps_comments_anchors_and_flow_collections() -> None:
    """Files only ruamel.yaml can write (comments, anchors, flow collections) keep ruamel's own output."""
    text = ("# head\na: &x 1   # one\nb: *x\nc: [1, 2, {d: e}]\nf: 'it''s'\ng: |\n  line\n  \n  more\n"
            "h: \"tab\\there\"\ni: >\n  folded\n  text\n")

    def dump(emitter: object = None) -> str:
        y = YAML(typ="rt")
        y.width = 30
        if emitter is not None:
            y.Emitter = emitter
        out = io.StringIO()
        y.serialize(YAML(typ="rt").compose(text), out)
        return out.getvalue()

    reference = dump()
    assert "# one" in reference and "*id001" in reference and "[1, 2, d: e]" in reference
    assert dump(emit.ruamel_emitter()) == reference


# --- large values at the width sealer writes with ------------------------------------------------------------------

def large_values() -> dict[str, tuple[str, str | None]]:
    """Values several times the 65536-column width, one per writer and folding rule."""
    rng = random.Random(13)
    words = ["lorem", "ipsum", "dolor", "sit", "amet,", "it's", '"quoted"', "x" * 30]
    prose = " ".join(rng.choice(words) for _ in range(40000))
    unquoted = prose.replace("'", "").replace('"', "")
    blob = base64.b64encode(rng.randbytes(300_000)).decode()
    return {
        "enc": (f"ENC[AES256_GCM,data:{blob},iv:AAAA,tag:BBBB,type:str]", None),  # plain, one long word
        "prose": (unquoted, None),  # plain, folded at spaces past the width
        "json": (json.dumps({f"k{i}": unquoted[i * 50: i * 50 + 50] for i in range(5000)}), None),  # single-quoted
        "sq": (prose, "'"),  # single-quoted with quotes doubled, folded at spaces
        "dq": (" " + prose, '"'),  # double-quoted, folded at spaces
        "crlf": ("\r\n".join(blob[i: i + 76] for i in range(0, 200_000, 76)), '"'),  # escapes, no spaces
        "pem": ("".join(blob[i: i + 64] + "\n" for i in range(0, len(blob), 64)), "|"),  # literal block
    }


@pytest.mark.parametrize("name", list(large_values()))
def test_large_values_are_written_as_ruamel_writes_them(name: str) -> None:
    text, style = large_values()[name]
    for shape in ("map", "deep"):
        root = in_context(value_node(text, style), shape)
        assert_written_as_ruamel_writes(root, (2, 2, 0), 1 << 16, must_be_fast=True)


def test_large_values_through_the_stores_match_the_ruamel_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """`stores.dumps` of a tree with large values: the text ruamel.yaml's own emitter gives (the path sealer
    took for them before `emit`)."""
    values = large_values()
    pairs = [(scalar(name), value_node(text, style)) for name, (text, style) in values.items()]
    data = nodes.MappingNode(nodes.MAP_TAG, pairs, flow_style=False)
    root = nodes.MappingNode(nodes.MAP_TAG, [(scalar("kind"), scalar("Secret")),
                                             (scalar("stringData"), data)], flow_style=False)
    tree = stores.Tree([root], {"version": "3.11.0"}, "yaml")
    fast = stores.dumps(tree)
    monkeypatch.setattr(emit, "serialize", lambda *a, **k: None)
    monkeypatch.setattr(emit, "ruamel_emitter", lambda go=False: YAML(typ="rt").Emitter)  # ruamel.yaml's own emitter
    assert stores.dumps(tree) == fast
    assert fast.endswith("sops:\n  version: 3.11.0\n")


@needs_sops
def test_sops_and_sealer_read_each_others_large_values(tmp_path) -> None:
    """A Secret with large values, encrypted by each tool, decrypts in the other to the same data."""
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path / "keys", "k")
    values = {name: text for name, (text, _) in large_values().items()}
    values["enc"] = values["enc"][len("ENC["):]  # (a value that is already ciphertext is refused)
    body = "".join(f"  {name}: {json.dumps(text)}\n" for name, text in values.items())
    src = ws.write("big.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: big\nstringData:\n" + body)
    want = load_doc(src.read_text())["stringData"]
    by_sealer = ws.write("by-sealer.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, src)))
    assert load_doc(ok(ws.sops("decrypt", by_sealer, key=key)))["stringData"] == want
    by_sops = ws.write("by-sops.yaml", ok(ws.sops("encrypt", "--age", key.recipient, "--encrypted-regex",
                                                  SECRET_REGEX, src)))
    decrypted = ok(ws.sealer("decrypt", by_sops, key=key))
    assert load_doc(decrypted)["stringData"] == want
