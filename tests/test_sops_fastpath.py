"""The fast paths of `sealer encrypt` / `sealer decrypt` change nothing but speed.

- `sealer.sops.fastyaml` reads plain YAML into the very tree ruamel.yaml's composer builds (values, styles,
  implicit tags, structure) and writes a tree byte for byte as ruamel.yaml's emitter does; for anything else it
  declines and ruamel.yaml is used. Checked on a corpus and on generated documents and trees.
- `sealer.sops.nodes.implicit_tag` is ruamel.yaml's YAML 1.2 implicit resolver.
- Through the stores and operations, a file gives the same text whichever YAML path reads and writes it.
- `sealer.cli` parses simple encrypt/decrypt command lines itself; it must accept only what click parses to the
  same parameters, and whole runs must give the same output, files and exit codes as through click.
"""

from __future__ import annotations

import ast
import io
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml import nodes as ruamel_nodes

from sealer import cli as sealer_cli
from sealer.cli import options as cli_options
from sealer.sops import codec, emit, nodes, operations, stores
from sealer.sops.fastyaml import read, write
from sealer.sops.keys.service import Opener, plan
from sealer.sops.stores import yaml as yaml_store
from sealer.sops.stores.values import scalar
from tests.sops_helpers import Workspace, make_age_key, needs_sops, ok

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers: the ruamel.yaml path ------------------------------------------------------------------------------

def ruamel_roots(text: str) -> list:
    return list(YAML(typ="rt").compose_all(text))


def ruamel_dump(root, mapping: int, sequence: int, offset: int, explicit: bool) -> str:
    y = YAML(typ="rt")
    y.width = 1 << 16
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    y.explicit_start = explicit
    out = io.StringIO()
    y.serialize(yaml_store.to_ruamel(root), out)
    return out.getvalue()


def shape(node) -> tuple:
    """Everything of a node that reading, the tree walk and writing look at."""
    if node.id == "scalar":
        return ("scalar", nodes.tag_name(node), node.value, node.style)
    if node.id == "mapping":
        return ("mapping", nodes.tag_name(node), bool(node.flow_style), [(shape(k), shape(v)) for k, v in node.value])
    return ("sequence", nodes.tag_name(node), bool(node.flow_style), [shape(v) for v in node.value])


def assert_same_as_ruamel(text: str, *, must_be_fast: bool = False) -> bool:
    """If the fast reader takes ``text``: the same tree as ruamel's, written back the same in every layout."""
    fast = read.compose_all(text)
    if fast is None:
        assert not must_be_fast, f"fast path declined {text!r}"
        return False
    theirs = ruamel_roots(text)  # the fast path never accepts what ruamel rejects
    assert [shape(r) for r in fast] == [shape(r) for r in theirs]
    guessed = yaml_store._guess_layout(text)
    for layout in {(guessed.mapping, guessed.sequence, guessed.offset), (2, 2, 0), (4, 6, 4), (4, 4, 2)}:
        for i, root in enumerate(fast):
            explicit = guessed.explicit_start or i > 0
            mine = write.serialize(root, *layout, explicit)
            assert mine is not None, f"fast writer declined a tree the fast reader built: {text!r}"
            assert mine == ruamel_dump(ruamel_roots(text)[i], *layout, explicit), (text, layout)
    return True


# --- implicit tags --------------------------------------------------------------------------------------------

_RESOLVER = YAML(typ="rt").resolver
TRICKY_SCALARS = [
    "", "~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "false", "yes", "no", "on", "off", "y",
    "n", "0", "-0", "+1", "017", "0o17", "0O17", "09", "0x1F", "0X1F", "0b101", "1_000", "_1", "1__0", "1.5", "1.",
    ".5", "-.5", "1e3", "1E3", "1e+3", "1.0e-3", ".1e+3", ".1e3", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "nan",
    "2024-01-01", "2024-1-1", "2024-01-01 10:00:00", "2024-01-01T10:00:00Z", "2024-01-01t10:00:00.5+02:00",
    "2024-01-01 10:00:00 -5", "2024-13-01", "2024-01-01\n", "true\n", "=", "<<", "!", "&", "*", "1:20", "190:20:30",
    "12:30:00", "0.1.2", "3.11.0", "- 1", "1 ", " 1", "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
]


def ruamel_tag(text: str) -> str:
    return _RESOLVER.resolve(ruamel_nodes.ScalarNode, text, (True, False)).value


@pytest.mark.parametrize("text", TRICKY_SCALARS)
def test_implicit_tag_is_ruamels(text: str) -> None:
    assert nodes.implicit_tag(text) == ruamel_tag(text)


@SETTINGS
@given(st.one_of(st.text(alphabet="0123456789+-._eExXoObB:TtZz ~nNulaseyrfi=<\n", max_size=14), st.text(max_size=6),
                 st.from_regex(r"[-+]?[0-9_]{0,4}(\.[0-9_]{0,3})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
                 st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ]+[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?"
                               r"( *(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?", fullmatch=True)))
def test_implicit_tag_is_ruamels_generated(text: str) -> None:
    assert nodes.implicit_tag(text) == ruamel_tag(text)


# --- the fast reader and writer against ruamel.yaml: corpus -------------------------------------------------------

PLAIN_CORPUS = [
    # what bench/sops_batch.py writes (PyYAML safe_dump of a Secret)
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: svc-0001-credentials\n  namespace: bench-1\n  labels:\n"
    "    app.kubernetes.io/name: svc-0001\n    app.kubernetes.io/part-of: shop-1\n"
    "    app.kubernetes.io/managed-by: flux\ntype: Opaque\ndata:\n  username: dXNlcjE=\n  password: cDRzcw==\n"
    "stringData:\n  api-token: 9f86d081884c7d65\n  database-url: postgres://user1:abc@db.bench.svc:5432/app1\n"
    "  config.json: '{\"endpoint\": \"https://api1.example.com\", \"retries\": 3}'\n",
    # what sops writes (go-yaml, indent 4)
    "apiVersion: v1\nkind: Secret\nmetadata:\n    name: app\n    namespace: prod\nstringData:\n"
    "    password: ENC[AES256_GCM,data:9rkuQg==,iv:ZmFrZWl2ZmFrZWl2ZmFrZWl2ZmFrZWl2ZmFrZWl2MTI=,tag:dGFndGFndGFndGFn"
    "dGFndA==,type:str]\nsops:\n    age:\n        - recipient: age1qqqq\n          enc: |\n"
    "            -----BEGIN AGE ENCRYPTED FILE-----\n            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBhYmMK\n"
    "            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2024-05-01T10:00:00Z\"\n"
    "    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n    encrypted_regex: ^(data|stringData)$\n"
    "    version: 3.11.0\n",
    # multi-document, explicit start
    "---\na: 1\n---\nb: two\nc:\n  - x\n",
    "a: 1\n---\nb: 2\n---\nc: 3\n",
    # flow style (empty only), nulls, sequences in every position
    "a: {}\nb: []\nc:\nd: ~\ne: null\nf:\n- 1\n-\n",
    "list:\n  - a: 1\n    b: {}\n  - []\n  - {}\n  -\n    nested: []\n",
    "list:\n    -   x: 1\n        y: 2\n    -   z\n",
    "top:\n- one\n- two: 2\n  three: 3\nnext: end\n",
    # quoted strings, escapes, unicode
    "s: 'it''s'\nd: \"a\\tb\\n\\\\ \\\" \\u00e9 \\U0001F600 \\x41\"\nu: héllo wörld ✓ 日本\nq: \"héllo\"\n",
    "\"quoted key\": 1\n'single key': 2\n\"\": empty\nk: ''\nl: \"\"\n",
    "a: \" leading\"\nb: \"trailing \"\nc: ' both '\nd: \"a: b\"\n",
    # multi-line strings
    "ml: |\n  line one\n  line two\nstrip: |-\n  no newline\nkeep: |+\n  kept\nblank: |\n  a\n\n  b\n",
    "deep:\n    block: |\n        indented\n          more\n        back\n",
    "seq:\n- |\n  in a list\n- |-\n  again\n",
    # every scalar type, YAML 1.1 vs 1.2 spellings
    "i: 42\nneg: -7\nf: 3.5\nf3: 3.0\nb: true\nbf: False\nn: null\ntilde: ~\nyes1: yes\non1: on\noct: 0o17\n"
    "oct2: 017\nund: 1_000\nhex: 0x1F\nnine: 09\ninf: .inf\nninf: -.inf\nnan: .nan\ne3: 1e3\nd: 2024-01-01\n"
    "ts: 2024-01-01 10:00:00\ntz: 2024-01-01T10:00:00+02:00\nbaddate: 2024-13-01\nver: 3.11.0\n",
    # plain scalars with indicators inside
    "url: http://x.y/z?q=1&r=2\ncolon: a:b\ndash: -1\nq: a?b\nbr: a[0]{1},2\nstar: a*b\namp: a&b\nbang: a!b\n"
    "pct: 50%\nat: a@b\ntick: a`b\ndots: ...\ndashes: ---\nspace: a b  c\n",
    "1: int key\ntrue: bool key\nnull: null key\n2024-01-01: date key\n",
]

FALLBACK_CORPUS = [
    "a: 1  # comment\n", "# head\na: 1\n", "a: 1\n\nb: 2\n", "a: &x 1\nb: *x\n", "base: &b {k: v}\nm:\n  <<: *b\n",
    "a: !!str 5\n", "%YAML 1.1\n---\na: yes\n", "a: [1, 2]\n", "a: {b: c}\n", "a: >\n  folded\n",
    "a: plain\n  continued\n", "a: 'multi\n  line'\n", "a:\tb\n", "a: 1\r\nb: 2\r\n", "a: 1", "a: 1 \n",
    "- a\n- b\n", "just a scalar\n", "", "---\n", "a: 1\n...\n", "? complex\n: key\n", "a: |2\n   x\n",
    "a: b: c\n", "a: - x\n", "a: \"#quoted\"\n", "a: \"unterminated\n", "a: \x07\n", "a: \u2028\n", "  a: 1\n",
    "a: |\n  x\n\nb: 1\n", "k" * 1100 + ": v\n", '"' + "k" * 1030 + '": v\n', "a:\n- " + "k" * 1100 + ": v\n",
]


@pytest.mark.parametrize("text", PLAIN_CORPUS)
def test_fast_reader_and_writer_match_ruamel_on_the_corpus(text: str) -> None:
    assert_same_as_ruamel(text, must_be_fast=True)


@pytest.mark.parametrize("text", FALLBACK_CORPUS)
def test_fast_reader_declines_what_it_does_not_know(text: str) -> None:
    assert read.compose_all(text) is None


def test_plain_scalars_keep_their_text_for_go_yaml_typing() -> None:
    """PyYAML and ruamel type `yes`, `017`, ... by YAML 1.1 or 1.2 rules; sops by go-yaml's. The fast reader
    keeps the text so `resolve_yaml` types it as go-yaml does (same as on the ruamel path)."""
    from sealer.sops.tree import resolve_yaml

    text = "a: yes\nb: on\nc: 017\nd: 2024-01-01\ne: 1_000\nf: 09\ng: 0o17\nh: .inf\n"
    fast = read.compose_all(text)[0]
    slow = ruamel_roots(text)[0]
    got = [resolve_yaml(v, nodes.implicit_tag) for _, v in fast.value]
    assert got == [resolve_yaml(v, nodes.implicit_tag) for _, v in slow.value]
    assert [kind for kind, _ in got] == ["str", "str", "int", "time", "int", "float", "int", "float"]
    assert got[2][1] == 15 and got[4][1] == 1000


# --- generated documents and trees --------------------------------------------------------------------------------

_WEIRD = [*"abcxyz019 :-?'\"\\#,[]{}&*!|>%@`.é~<=_e+", "\t", "\n", "\u2028", "\x85", "\ufeff", "\xa0", "日", "😀",
          "\x07", "  ", "yes", "no", "true", "null", "0o1", "1e3", "2024-01-01", ": ", "- ", "---", "..."]
_NICE = [*"abcxyz0192 :-./'\"é_=+@,[]{}", "yes", "1", "0", "true", "null", "~", "1.5", "0x1", "2024-01-01", " ",
         "-", "?", ":"]


def _text(rng: random.Random, maxlen: int = 8) -> str:
    alphabet = _WEIRD if rng.random() < 0.2 else _NICE
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, maxlen)))


def _scalar_source(rng: random.Random, s: str, indent: int) -> str:
    style = rng.choice(["plain", "plain", "single", "double", "literal"])
    if style == "plain":
        return s
    if style == "single":
        return "'" + s.replace("'", "''") + "'"
    if style == "double":
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    body = "\n".join(" " * (indent + 2) + line for line in s.split("\n"))
    return rng.choice(["|", "|-", "|+"]) + "\n" + body


def _structure(rng: random.Random, depth: int):
    r = rng.random()
    if depth <= 0 or r < 0.4:
        return None
    if r < 0.75:
        return "map", [(_text(rng, 5) or "k", _structure(rng, depth - 1)) for _ in range(rng.randint(0, 3))]
    return "seq", [_structure(rng, depth - 1) for _ in range(rng.randint(0, 3))]


def _render(rng: random.Random, t, indent: int, m: int, offset: int, lines: list[str], prefix: str) -> None:
    if t is None:
        s = rng.choice([_text(rng), _text(rng, 3), rng.choice(_WEIRD)])
        lines.append(prefix + (" " if prefix else "") + _scalar_source(rng, s, indent))
        return
    kind, items = t
    if not items:
        lines.append(prefix + (" " if prefix else "") + ("{}" if kind == "map" else "[]"))
        return
    if prefix:
        lines.append(prefix)
    if kind == "map":
        for k, v in items:
            key = rng.choice([k, "'" + k.replace("'", "''") + "'",
                              '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'])
            _render(rng, v, indent + m, m, offset, lines, " " * indent + key + ":")
    else:
        off = offset if prefix.strip().endswith(":") else 0
        for v in items:
            _render(rng, v, indent + off + 2, m, offset, lines, " " * (indent + off) + "-")


def generated_document(rng: random.Random) -> str:
    m, offset = rng.choice([2, 2, 4, 3]), rng.choice([0, 0, 2, 4])
    docs = []
    for _ in range(rng.choice([1, 1, 2])):
        lines: list[str] = []
        root = ("map", [(_text(rng, 5) or "k", _structure(rng, 3)) for _ in range(rng.randint(1, 4))])
        _render(rng, root, 0, m, offset, lines, "")
        docs.append("\n".join(lines) + "\n")
    text = ("---\n" if rng.random() < 0.2 else "") + "---\n".join(docs)
    return text.replace("\n", "\n\n", 1) if rng.random() < 0.05 else text


@SETTINGS
@given(st.randoms(use_true_random=False))
def test_fast_reader_and_writer_match_ruamel_on_generated_documents(rng: random.Random) -> None:
    text = generated_document(rng)
    try:
        ruamel_roots(text)
    except Exception:
        assert read.compose_all(text) is None  # what ruamel rejects, the fast path never accepts
        return
    assert_same_as_ruamel(text)


def _tree_scalar(rng: random.Random, key: bool = False) -> nodes.ScalarNode:
    alphabet = _WEIRD if rng.random() < 0.4 else _NICE
    value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6 if key else 12)))
    if rng.random() < 0.1:
        value += "\n"
    if rng.random() < 0.05:
        value = rng.choice(["\n", " ", "\n\n"]) + value
    style = rng.choice([None, None, '"', "'"] + ([] if key else ["|"]))
    tag = rng.choice([nodes.STR_TAG, nodes.implicit_tag(value), nodes.implicit_tag(value), "tag:yaml.org,2002:int"])
    return nodes.ScalarNode(tag, value, style=style)


def _tree(rng: random.Random, depth: int):
    r = rng.random()
    if depth == 0 or r < 0.4:
        return _tree_scalar(rng)
    if r < 0.75:
        return nodes.MappingNode(nodes.MAP_TAG, [(_tree_scalar(rng, True), _tree(rng, depth - 1))
                                                 for _ in range(rng.randint(0, 3))],
                                 flow_style=rng.choice([False, False, None, True]))
    return nodes.SequenceNode(nodes.SEQ_TAG, [_tree(rng, depth - 1) for _ in range(rng.randint(0, 3))],
                              flow_style=rng.choice([False, None]))


@SETTINGS
@given(st.randoms(use_true_random=False),
       st.sampled_from([(2, 2, 0), (4, 4, 0), (2, 4, 2), (4, 6, 4), (3, 3, 0), (2, 2, 2), (4, 4, 2)]), st.booleans())
def test_fast_writer_matches_ruamel_on_generated_trees(rng: random.Random, layout: tuple[int, int, int],
                                                       explicit: bool) -> None:
    """Trees as sealer builds them (decrypted values of every shape, quoting chosen by format_value or not)."""
    pairs = [(_tree_scalar(rng, True), _tree(rng, 3)) for _ in range(rng.randint(0, 4))]
    root = nodes.MappingNode(nodes.MAP_TAG, pairs, flow_style=False)
    mine = write.serialize(root, *layout, explicit)
    try:
        theirs = ruamel_dump(root, *layout, explicit)
    except Exception:
        assert mine is None
        return
    assert mine is None or mine == theirs


def test_fast_writer_declines_long_lines_comments_and_tags() -> None:
    long = nodes.MappingNode(nodes.MAP_TAG, [(scalar("k"), scalar("x " * 40000))], flow_style=False)
    assert write.serialize(long, 2, 2, 0, False) is None
    tagged = nodes.MappingNode(nodes.MAP_TAG, [(scalar("k"), scalar("5"))], flow_style=False)
    tagged.value[0][1].tag = "tag:yaml.org,2002:timestamp"
    assert write.serialize(tagged, 2, 2, 0, False) is None
    commented = nodes.MappingNode(nodes.MAP_TAG, [(scalar("k"), scalar("v"))], flow_style=False)
    commented.value[0][1].comment = [None, None]
    assert write.serialize(commented, 2, 2, 0, False) is None
    flow = nodes.MappingNode(nodes.MAP_TAG, [(scalar("k"), scalar("v"))], flow_style=True)
    assert write.serialize(flow, 2, 2, 0, False) is None
    ruamel_parsed = ruamel_roots("a: 1\n")[0]
    assert write.serialize(ruamel_parsed, 2, 2, 0, False) is None  # only trees of sealer's own nodes


# --- through the stores and operations: both YAML paths give the same text ----------------------------------------

@pytest.fixture
def ruamel_only(monkeypatch: pytest.MonkeyPatch):
    """Turn the fast YAML path off (reading and writing), as for files it declines."""
    def use_ruamel() -> None:
        monkeypatch.setattr(read, "compose_all", lambda text: None)
        monkeypatch.setattr(write, "serialize", lambda *a, **k: None)
        monkeypatch.setattr(emit, "serialize", lambda *a, **k: None)
    return use_ruamel


@pytest.mark.parametrize("text", PLAIN_CORPUS)
def test_store_round_trip_is_the_same_on_both_paths(text: str, ruamel_only) -> None:
    fast = stores.load(text.encode(), "f.yaml")
    fast_text = stores.dumps(fast)
    ruamel_only()
    slow = stores.load(text.encode(), "f.yaml")
    assert stores.dumps(slow) == fast_text
    assert fast.metadata == slow.metadata
    assert [shape(r) for r in fast.roots] == [shape(r) for r in slow.roots]


def _deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encryption without randomness or clock, so two runs can be compared byte for byte."""
    from sealer.sops import document
    from sealer.sops.keys import service as keyservice

    counter = iter(range(1 << 30))
    monkeypatch.setattr(codec.os, "urandom", lambda n: bytes([next(counter) % 256]) * n)
    monkeypatch.setattr(document, "now_lastmodified", lambda now=None: "2024-05-01T10:00:00Z")
    monkeypatch.setattr(keyservice, "wrap_key", lambda secret, spec: keyservice.MasterKey(
        "age", {"recipient": spec.value, "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nZmFrZQ==\n"
                "-----END AGE ENCRYPTED FILE-----\n"}))
    from sealer.sops import operations as ops

    monkeypatch.setattr(ops, "wrap_key", keyservice.wrap_key)


ENCRYPT_CORPUS = [t for t in PLAIN_CORPUS if "sops:" not in t] + [
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  multi: |\n    a\n    b\n  n: 5\n"
    "  f: 1.5\n  t: 2024-01-01\n  b: true\n  e: ''\n  ok_unencrypted: plain\n",
]


def _encrypt_decrypt(text: str, mp: pytest.MonkeyPatch, recipient: str) -> tuple[str, ...]:
    """Deterministic encrypt of ``text``, then its decryption (or the error either step gave)."""
    from sealer.errors import SealerError
    from sealer.sops import document

    _deterministic(mp)
    try:
        tree = operations.load(text.encode(), "f.yaml")
        the_plan = plan("f.yaml", age=recipient, is_secret=operations.is_secret_file(tree), env={})
        encrypted = operations.encrypt(tree, the_plan, "f.yaml")
        decrypted = operations.load(encrypted.encode(), "f.yaml")
        document.decrypt_tree(decrypted, "f.yaml", data_key=bytes(32))  # the first urandom call made the data key
        return encrypted, stores.dumps(decrypted)
    except SealerError as e:
        return type(e).__name__, str(e)


def _both_paths(text: str, tmp_path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from sealer.sops.keys import age

    recipient = age.generate()[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # no .sops.yaml above
        fast = _encrypt_decrypt(text, mp, recipient)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        mp.setattr(read, "compose_all", lambda text: None)
        mp.setattr(write, "serialize", lambda *a, **k: None)
        mp.setattr(emit, "serialize", lambda *a, **k: None)
        slow = _encrypt_decrypt(text, mp, recipient)
    return fast, slow


@pytest.mark.parametrize("text", ENCRYPT_CORPUS)
def test_encrypt_and_decrypt_give_the_same_text_on_both_paths(text: str, tmp_path: Path) -> None:
    fast, slow = _both_paths(text, tmp_path)
    assert fast == slow
    assert fast[0].count("ENC[AES256_GCM") > 1


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_generated_documents_encrypt_and_decrypt_the_same_on_both_paths(tmp_path: Path, rng: random.Random) -> None:
    fast, slow = _both_paths(generated_document(rng), tmp_path)
    assert fast == slow


# --- the command line: the fast parser against click ----------------------------------------------------------------

_ARG_WORDS = ["decrypt", "encrypt", "f.yaml", "g.json", "-", "-i", "--in-place", "-o", "--output", "out.yaml",
              "--extract", '["data"]["a"]', "--ignore-mac", "--decode", "--age-key-file", "k.txt", "--input-type",
              "yaml", "json", "toml", "--age", "age1x", "--hc-vault-transit", "--encrypted-regex", "^data$",
              "--unencrypted-regex", "--encrypted-suffix", "--unencrypted-suffix", "_x", "--mac-only-encrypted",
              "--kind", "secret", "sopssecret", "--filename-override", "--help", "-h", "--", "--output=o", "-io",
              "-x", "--bogus", "", "-5", "--age=age1y", "edit", "--version"]


def _click_params(args: list[str]) -> dict | None:
    """The parameters click's parser gives a command line, or None when it refuses it."""
    import click

    from sealer.cli import app as commands

    command = commands.cli.get_command(None, args[0]) if args else None
    if command is None:
        return None
    try:
        with command.make_context(args[0], list(args[1:])) as ctx:
            return dict(ctx.params)
    except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
        return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_ARG_WORDS), min_size=1, max_size=7))
def test_fast_parser_accepts_only_what_click_parses_the_same(args: list[str]) -> None:
    mine = sealer_cli.parse_simple(args)
    if mine is None:
        return
    command, kwargs = mine
    assert command == args[0]
    assert _click_params(args) == kwargs


@pytest.mark.parametrize(("args", "expected"), [
    (["decrypt", "a.yaml"], {"files": ("a.yaml",)}),
    (["decrypt", "a.yaml", "b.yaml", "-"], {"files": ("a.yaml", "b.yaml", "-")}),
    (["decrypt"], {"files": ()}),
    (["decrypt", "-i", "a.yaml", "--ignore-mac", "--decode"], {"files": ("a.yaml",), "in_place": True,
                                                               "ignore_mac": True, "decode": True}),
    (["encrypt", "-i", "--age", "age1x", "a.yaml"], {"files": ("a.yaml",), "in_place": True, "age": "age1x"}),
    (["encrypt", "--kind", "sopssecret", "--input-type", "json", "a"], {"files": ("a",), "kind": "sopssecret",
                                                                        "input_type": "json"}),
])
def test_fast_parser_simple_lines(args: list[str], expected: dict) -> None:
    command, kwargs = sealer_cli.parse_simple(args)
    defaults = cli_options.DECRYPT_DEFAULTS if command == "decrypt" else cli_options.ENCRYPT_DEFAULTS
    assert kwargs == {**defaults, **expected}
    assert _click_params(args) == kwargs


@pytest.mark.parametrize("args", [
    [], ["--help"], ["decrypt", "--help"], ["decrypt", "-h"], ["decrypt", "--output=x", "a"], ["decrypt", "--", "a"],
    ["decrypt", "-o"], ["decrypt", "-o", "-", "a"], ["decrypt", "-i", "-i", "a"], ["decrypt", "--input-type", "toml"],
    ["encrypt", "--kind", "Secret"], ["encrypt", "-io", "x"], ["decrypt", "--age", "x"], ["edit", "a"],
    ["seal", "a"], ["decrypt", "-5"],
])
def test_fast_parser_leaves_the_rest_to_click(args: list[str]) -> None:
    assert sealer_cli.parse_simple(args) is None


def test_cli_module_still_exposes_the_click_group() -> None:
    import click

    assert isinstance(sealer_cli.cli, click.Group)
    assert "decrypt" in sealer_cli.cli.list_commands(None)
    assert sealer_cli.cli.get_command(None, "decrypt").name == "decrypt"
    with pytest.raises(AttributeError):
        sealer_cli.no_such_name  # noqa: B018


def test_aesgcm_is_cryptographys_class() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert codec.AESGCM is AESGCM


# --- whole runs: fast path against click, in real processes -----------------------------------------------------------

_ENC = re.compile(r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(\w+)\]")
_ARMOR = re.compile(r"-----BEGIN AGE ENCRYPTED FILE-----[\s\S]*?-----END AGE ENCRYPTED FILE-----")
_LASTMODIFIED = re.compile(r'(lastmodified"?: )"[^"]*"')


def _normalized(text: str) -> str:
    """Encryption output without what is random (IVs, data keys, age stanzas) or the time of day."""
    return _LASTMODIFIED.sub(r"\1T", _ARMOR.sub("AGE", _ENC.sub(r"ENC[\1]", text)))


def _run(ws: Workspace, key, args: list[str], fast: bool, stdin: str = "") -> tuple[int, str, str]:
    code = f"import sealer.cli as c; c._FAST = {fast}; c.main()"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(ws.env(key))
    proc = subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True,
                          cwd=ws.files, env=env, timeout=120)
    return proc.returncode, _normalized(proc.stdout), _normalized(proc.stderr)


def _snapshot(directory: Path) -> dict[str, str]:
    return {p.name: _normalized(p.read_text(errors="replace")) for p in sorted(directory.iterdir()) if p.is_file()}


SECRET = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\ntype: Opaque\n"
          "data:\n  token: c2VjcmV0LXRva2Vu\nstringData:\n  password: hunter2\n  port: \"5432\"\n")
COMMENTED = "# a comment keeps this file on the ruamel path\nkey: value  # eol\nlist:\n  - 1\n"
CASES = [
    ["decrypt", "s.enc.yaml"],
    ["decrypt", "s.enc.yaml", "c.enc.yaml"],
    ["decrypt", "--decode", "s.enc.yaml"],
    ["decrypt", "--extract", '["stringData"]["password"]', "s.enc.yaml"],
    ["decrypt", "--extract", '["data"]', "s.enc.yaml"],
    ["decrypt", "--extract", '["nope"]', "s.enc.yaml"],
    ["decrypt", "--extract", '["data"]', "s.enc.yaml", "c.enc.yaml"],
    ["decrypt", "-o", "out.yaml", "s.enc.yaml"],
    ["decrypt", "-o", "out.yaml", "s.enc.yaml", "c.enc.yaml"],
    ["decrypt", "-i", "s.enc.yaml"],
    ["decrypt", "-i", "-o", "x.yaml", "s.enc.yaml"],
    ["decrypt", "-i", "-"],
    ["decrypt", "-"],
    ["decrypt", "--ignore-mac", "tampered.enc.yaml"],
    ["decrypt", "tampered.enc.yaml"],
    ["decrypt", "plain.yaml"],
    ["decrypt", "missing.yaml"],
    ["decrypt", "--age-key-file", "missing-key.txt", "s.enc.yaml"],
    ["decrypt", "--input-type", "json", "s.enc.yaml"],
    ["decrypt", "--input-type", "yaml", "j.enc.json"],
    ["decrypt", "j.enc.json"],
    ["encrypt", "--age", "RECIPIENT", "plain.yaml"],
    ["encrypt", "--age", "RECIPIENT", "plain.yaml", "c.yaml"],
    ["encrypt", "--age", "RECIPIENT", "-i", "plain.yaml", "c.yaml"],
    ["encrypt", "--age", "RECIPIENT", "-o", "out.yaml", "plain.yaml"],
    ["encrypt", "--age", "RECIPIENT", "--kind", "sopssecret", "plain.yaml"],
    ["encrypt", "--age", "RECIPIENT", "--kind", "sopssecret", "c.yaml"],
    ["encrypt", "--age", "RECIPIENT", "--encrypted-regex", "^password$", "--mac-only-encrypted", "plain.yaml"],
    ["encrypt", "--age", "RECIPIENT", "--encrypted-regex", "^a$", "--encrypted-suffix", "_x", "plain.yaml"],
    ["encrypt", "--age", "not-a-recipient", "plain.yaml"],
    ["encrypt", "plain.yaml"],
    ["encrypt", "--age", "RECIPIENT", "s.enc.yaml"],
    ["encrypt", "--age", "RECIPIENT", "--input-type", "json", "-", "--filename-override", "x.json"],
    ["encrypt", "--age", "RECIPIENT", "-"],
]


@pytest.fixture(scope="module")
def cli_workspace(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fastcli")
    ws = Workspace(root / "template")
    key = make_age_key(root / "keys", "k")
    ws.write("plain.yaml", SECRET)
    ws.write("c.yaml", COMMENTED)
    ws.write("j.json", '{\n  "a": "x",\n  "n": 5\n}\n')
    for src, dst in (("plain.yaml", "s.enc.yaml"), ("c.yaml", "c.enc.yaml"), ("j.json", "j.enc.json")):
        ws.write(dst, ok(ws.sealer("encrypt", "--age", key.recipient, src)))
    enc = (ws.files / "s.enc.yaml").read_text()
    ws.write("tampered.enc.yaml", enc.replace("namespace: prod", "namespace: dev"))
    return root, ws, key


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c) for c in CASES])
def test_fast_cli_runs_like_click(cli_workspace, case: list[str]) -> None:
    root, template, key = cli_workspace
    args = [key.recipient if a == "RECIPIENT" else a for a in case]
    stdin = SECRET if "-" in args else ""
    if "--input-type" in args and "json" in args and "-" in args:
        stdin = '{"a": "x"}\n'
    results = []
    for fast in (True, False):
        ws = Workspace(root / f"run-{fast}-{abs(hash(tuple(case)))}")
        shutil.rmtree(ws.files)
        shutil.copytree(template.files, ws.files)
        out = _run(ws, key, args, fast, stdin)
        results.append((out, _snapshot(ws.files)))
    assert results[0] == results[1]


def test_interrupt_and_broken_pipe_are_handled_as_click_handles_them(cli_workspace) -> None:
    """Errors click itself treats specially (here a broken pipe on stdout) end the same on the fast path."""
    _root, template, key = cli_workspace
    outcomes = []
    for fast in (True, False):
        code = (f"import os, sys, sealer.cli as c; c._FAST = {fast}; r, w = os.pipe(); os.close(r); "
                "sys.stdout = os.fdopen(w, 'w'); c.main()")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
        env.update(template.env(key))
        proc = subprocess.run([sys.executable, "-c", code, "decrypt", "s.enc.yaml"], capture_output=True, text=True,
                              cwd=template.files, env=env, timeout=120)
        outcomes.append((proc.returncode, proc.stderr))
    assert outcomes[0] == outcomes[1]


def test_one_file_decrypt_imports_neither_click_nor_ruamel(cli_workspace) -> None:
    """What keeps `sealer decrypt FILE` within a few times of `sops decrypt FILE`."""
    _root, template, key = cli_workspace
    code = ("import sys, sealer.cli as c\ntry:\n    c.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'click', 'ruamel', 'yaml', 'dataclasses', "
            "'typing', 'tempfile', 'subprocess', 'decimal'}), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(template.env(key))
    proc = subprocess.run([sys.executable, "-c", code, "decrypt", "s.enc.yaml"], capture_output=True, text=True,
                          cwd=template.files, env=env, timeout=120)
    assert proc.returncode == 0 and "password: hunter2" in proc.stdout
    imported = set(ast.literal_eval(proc.stderr.strip().splitlines()[-1]))
    if _cryptography_major() < 48:  # cryptography.utils imported typing until 48: slower, still correct
        imported -= {"typing", "dataclasses"}
    assert imported == set()


def _cryptography_major() -> int:
    import cryptography

    return int(cryptography.__version__.split(".")[0])


# What one `sealer encrypt`/`decrypt` of a small file may not import, whatever its store: click (~40 ms), the YAML
# libraries (ruamel.yaml, PyYAML: only for comments/odd YAML and for an existing .sops.yaml), hashlib and hmac (they
# load OpenSSL's libcrypto: the MAC uses CPython's own SHA-512), base64 (binascii is its primitive) and the slow
# standard modules below (dataclasses imports inspect, ast, dis and tokenize: ~13 ms; datetime ~3 ms).
ONE_FILE_FORBIDDEN = {"click", "ruamel", "yaml", "_hashlib", "hashlib", "hmac", "typing", "tempfile", "subprocess",
                      "inspect", "shutil", "argparse", "base64", "dataclasses", "datetime"}
ONE_FILE_INPUTS = {
    "s.yaml": SECRET,
    "s.json": '{\n  "user": "alice",\n  "password": "s3cr3t",\n  "nested": {"list": ["a", "b"]}\n}\n',
    "s.env": "USER=alice\nPASSWORD=s3cr3t\n",
    "s.ini": "[db]\nuser = alice\npassword = s3cr3t\n",
    "s.bin": "opaque bytes\n",
}


def _imported_by(ws: Workspace, key, args: list[str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Every module a run of `sealer ARGS` imported: top-level names, and sealer's own modules in full."""
    code = ("import sys, sealer.cli as c\ntry:\n    c.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted({m if m.startswith('sealer.') else m.split('.')[0] for m in sys.modules}), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(ws.env(key))
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ws.files, env=env,
                          timeout=120)
    return set(ast.literal_eval(proc.stderr.strip().splitlines()[-1])), proc


@pytest.mark.parametrize("name", sorted(ONE_FILE_INPUTS))
def test_one_file_of_any_store_imports_no_slow_module(tmp_path: Path, name: str) -> None:
    """Start-up is most of a one-file run (sops takes ~20-40 ms in all): encrypting or decrypting one file of any
    store, with no .sops.yaml around, stays off the slow imports."""
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path / "keys", "k")
    ws.write(name, ONE_FILE_INPUTS[name])
    forbidden = set(ONE_FILE_FORBIDDEN)
    if _cryptography_major() < 48:  # cryptography.utils imported typing until 48: slower, still correct
        forbidden -= {"typing"}
    imported, proc = _imported_by(ws, key, ["encrypt", "--age", key.recipient, name])
    assert proc.returncode == 0 and "ENC[AES256_GCM," in proc.stdout, proc.stderr
    assert imported & forbidden == set(), "encrypt"
    if name in ("s.json", "s.bin"):  # stores written without the YAML emitter, either way
        forbidden |= {"sealer.sops.emit", "sealer.sops.fastyaml.read", "sealer.sops.fastyaml.write"}
        assert imported & forbidden == set(), "encrypt"
    ws.write("enc-" + name, proc.stdout)
    imported, proc = _imported_by(ws, key, ["decrypt", "enc-" + name])
    assert proc.returncode == 0 and ("hunter2" if name == "s.yaml" else "s3cr3t" if "s3cr3t" in ONE_FILE_INPUTS[name]
                                     else "opaque bytes") in proc.stdout, proc.stderr
    assert imported & forbidden == set(), "decrypt"


def test_one_file_encrypt_skips_dataclasses(tmp_path: Path) -> None:
    """`sealer.sops.config` (looked up on every encrypt) and the lastmodified stamp stay off dataclasses (which
    imports inspect, ast, dis, tokenize: ~13 ms) and datetime."""
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path / "keys", "k")
    ws.write("s.yaml", SECRET)
    imported, proc = _imported_by(ws, key, ["encrypt", "--age", key.recipient, "s.yaml"])
    assert proc.returncode == 0, proc.stderr
    assert {"sealer.sops.config", "sealer.sops.metadata"} <= imported
    assert imported & {"dataclasses", "inspect", "datetime"} == set()
    assert re.search(r'lastmodified: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', proc.stdout), proc.stdout


def test_config_classes_behave_as_the_dataclasses_did() -> None:
    """What callers relied on when these were dataclasses: ConfigLookup frozen, hashable, equal by value;
    CreationRule mutable, equal by its fields (not the compiled regex), unhashable, fresh lists per instance."""
    from sealer.sops.config import ConfigLookup, CreationRule

    lookup = ConfigLookup("/a/.sops.yaml", "/a/b/.sops.yml")
    assert lookup == ConfigLookup("/a/.sops.yaml", ignored="/a/b/.sops.yml") != ConfigLookup("/a/.sops.yaml")
    assert ConfigLookup(None) == ConfigLookup(None, None) and lookup != ("/a/.sops.yaml", "/a/b/.sops.yml")
    assert len({lookup, ConfigLookup("/a/.sops.yaml", "/a/b/.sops.yml"), ConfigLookup(None)}) == 2
    assert repr(lookup) == "ConfigLookup(path='/a/.sops.yaml', ignored='/a/b/.sops.yml')"
    for action in (lambda: setattr(lookup, "path", "x"), lambda: delattr(lookup, "ignored"),
                   lambda: setattr(lookup, "other", 1)):
        with pytest.raises(AttributeError):
            action()

    first, second = CreationRule(index=0), CreationRule(0)
    assert first == second and first != CreationRule(1) and first != 0
    first.age.append("age1x")
    assert second.age == [] and first != second
    second.age = ["age1x"]
    assert first == second
    with pytest.raises(TypeError):
        hash(first)
    rule = CreationRule(2, path_regex=r"^prod/", age=["age1y"], shamir_threshold=2, mac_only_encrypted=True)
    assert rule.matches("prod/s.yaml") and not rule.matches("dev/prod/s.yaml") and first.matches("anything")
    assert (rule.age, rule.shamir_threshold, rule.mac_only_encrypted, rule.key_groups) == (["age1y"], 2, True, [])
    assert repr(CreationRule(3)).startswith("CreationRule(index=3, path_regex=None, age=[], ")
    assert "_path_re" not in repr(rule)


def test_lastmodified_without_datetime_is_utc_seconds() -> None:
    import datetime as dt

    from sealer.sops.metadata import now_lastmodified

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = dt.datetime.strptime(now_lastmodified(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before <= stamp <= dt.datetime.now(dt.UTC)
    assert now_lastmodified(dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == \
        "2024-05-01T10:00:00Z"


# --- files written by sops: list comments and go-yaml layout, on both paths ------------------------------------------

@needs_sops
def test_sops_files_decrypt_the_same_on_both_paths(tmp_path: Path, ruamel_only) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path / "keys", "k")
    src = ws.write("s.yaml", "kind: Secret\napiVersion: v1\nmetadata:\n  name: x\ndata:\n  list:\n    # in a list\n"
                              "    - a\n    - b\n    # after\n  v: c2VjcmV0\nstringData:\n  n: 5\n  yes: yes\n")
    encrypted = ok(ws.sops("encrypt", "--age", key.recipient, "--encrypted-regex", "^(data|stringData)$", src))
    assert "#" not in encrypted  # sops writes comments in lists as ENC[...] items: a file for the fast path
    opener = Opener(env={"SOPS_AGE_KEY_FILE": str(key.path), "HOME": str(ws.home)})
    fast = operations.decrypt(operations.load(encrypted.encode(), "s.yaml"), "s.yaml", opener).text
    ruamel_only()
    assert operations.decrypt(operations.load(encrypted.encode(), "s.yaml"), "s.yaml", opener).text == fast
    assert "# in a list" in fast
