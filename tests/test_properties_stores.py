"""Property tests per SOPS store (yaml, json, dotenv, ini, binary), against the real `sops` 3.11 binary.

For random documents each store can hold: `sealer encrypt` -> `sops decrypt` gives the input back, and `sops
encrypt` -> `sealer decrypt` too. Examples are few (each one is two processes; sops costs ~40 ms a call, sealer
more), so each store gets a handful per direction; the generators are the point: each covers what its store
allows (dotenv: any key without `=` and one-line values, comments, repeated keys; INI: sections of string values;
binary: any bytes; YAML/JSON: nested data of every scalar type).

What "the input back" means per store: dotenv and binary byte for byte (sops' dotenv store writes what it read);
YAML, JSON and INI by content (sops re-indents YAML/JSON and pretty-prints INI as go-ini does).

Plus one-byte tampering of an encrypted value and of the MAC, refused by both tools (sops exits 25 for a value
that fails authentication and 51 for a MAC that does not verify; sealer exits 1 for both).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.sops_helpers import ENC_RE, AgeKey, Workspace, load_doc, make_age_key, needs_sops, normalise, ok

pytestmark = needs_sops

# No shrinking: each step is two processes, and a shrink can take minutes; the first failing example is reported.
EXAMPLES = settings(max_examples=15, deadline=None, derandomize=True,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SOPS_EXIT_BAD_VALUE = 25  # sops' codes.ErrorDecryptingTree
SOPS_EXIT_BAD_MAC = 51  # sops' codes.MacMismatch
SEALER_EXIT_FAILED = 1  # README "Exit codes"

_names = itertools.count()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, AgeKey]:
    root = tmp_path_factory.mktemp("store-properties")
    return Workspace(root), make_age_key(root / "keys", "k")


# --- generators -------------------------------------------------------------------------------------------------

# Text without surrogates, NUL or other control characters (sealer refuses NUL in dotenv/INI; YAML forbids most
# C0 controls unescaped); tabs and every other plane are in.
_TEXT = st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t")
_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not (f == 0 and str(f).startswith("-")))
# -0.0: sops turns it into -0 and then fails its own MAC (a known sops bug, see README)


def _tree(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict]:
    nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                          max_leaves=12)
    return st.dictionaries(keys, nested, min_size=1, max_size=5)


_KEY = st.text(_TEXT, min_size=1, max_size=12).filter(lambda k: k != "sops")
YAML_DOCS = _tree(st.none() | st.booleans() | _INT64 | _FLOAT | st.text(_TEXT, max_size=20), _KEY)
# sops' JSON store reads numbers as float64: integers beyond 2**53 would come back rounded
JSON_DOCS = _tree(st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _FLOAT | st.text(_TEXT, max_size=20),
                  _KEY)

# dotenv (sops' stores/dotenv): the key is everything before the first `=`; a line starting with `#` is a comment;
# values are one line (a `\n` in the file is a line break in the value and is written back as `\n`). Blank lines
# are not kept by sops, and `sops_` keys are its metadata.
_DOTENV_KEY = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="="),
                      min_size=1, max_size=12).filter(lambda k: not k.startswith(("#", "sops_")))
_DOTENV_LINE = (st.tuples(_DOTENV_KEY, st.text(_TEXT, max_size=20)).map(lambda kv: f"{kv[0]}={kv[1]}")
                | st.text(_TEXT, max_size=20).map(lambda c: "#" + c))
DOTENV_DOCS = st.lists(_DOTENV_LINE, min_size=1, max_size=8).filter(lambda ls: any(not x.startswith("#") for x in ls)) \
    .map(lambda lines: "".join(line + "\n" for line in lines))

# INI (go-ini via sops): sections of string values. Names and values here avoid what go-ini reads specially (quotes,
# a trailing `\` continuation, leading or trailing blanks); `#` and `;` in values are in (sops quotes them).
_INI_NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_.-"), min_size=1, max_size=10)
_INI_VALUE = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\"'`\\"),
                     max_size=20).map(str.strip)
INI_DOCS = st.dictionaries(_INI_NAME.filter(lambda s: s not in ("DEFAULT", "sops")),
                           st.dictionaries(_INI_NAME, _INI_VALUE, max_size=4), min_size=1, max_size=3)

BINARY_DOCS = st.binary(max_size=300)


def yaml_text(value: Any, indent: int = 0) -> str:
    """Block-style YAML with every string double-quoted (JSON escapes are YAML's), so no scalar is ambiguous."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        out = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}{json.dumps(k, ensure_ascii=False)}:\n{yaml_text(v, indent + 2)}")
            else:
                out.append(f"{pad}{json.dumps(k, ensure_ascii=False)}: {yaml_text(v).strip()}\n")
        return "".join(out)
    if isinstance(value, list) and value:
        out = []
        for v in value:
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}- " + yaml_text(v, indent + 2)[indent + 2:])
            else:
                out.append(f"{pad}- {yaml_text(v).strip()}\n")
        return "".join(out)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # str, int, bool, None, {} and []


def same_data(a: Any, b: Any) -> bool:
    """Equal as data; a number equal to a float by its float value (sops prints 4.2e16 as 42000000000000000)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same_data(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return a == b if isinstance(a, int) and isinstance(b, int) else float(a) == float(b)
    return type(a) is type(b) and a == b


def ini_text(doc: dict[str, dict[str, str]]) -> str:
    return "\n".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()) for name, keys in doc.items())


def read_ini(text: str) -> dict[str, dict[str, str]]:
    """sops' INI output read back: `[section]` lines and `key<padding> = value`, a value with `#`/`;` in backticks."""
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("["):
            section = out.setdefault(line[1:-1], {})
            continue
        assert section is not None, text
        key, value = line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "")
        if len(value) >= 2 and value[0] == value[-1] == "`":
            value = value[1:-1]
        section[key.rstrip()] = value
    return out


# --- the two directions -----------------------------------------------------------------------------------------

STORES: dict[str, tuple[str, Any]] = {
    "yaml": ("yaml", YAML_DOCS), "json": ("json", JSON_DOCS), "dotenv": ("env", DOTENV_DOCS),
    "ini": ("ini", INI_DOCS), "binary": ("bin", BINARY_DOCS),
}


def _file_bytes(store: str, doc: Any) -> bytes:
    if store == "yaml":
        return yaml_text(doc).encode()
    if store == "json":
        return json.dumps(doc, indent=4, ensure_ascii=False).encode()
    if store == "ini":
        return ini_text(doc).encode()
    if store == "dotenv":
        return doc.encode()
    return doc


def _same(store: str, doc: Any, out: bytes) -> None:
    if store in ("dotenv", "binary"):
        assert out == _file_bytes(store, doc)
    elif store == "ini":
        assert read_ini(out.decode()) == doc
    elif store == "json":
        assert same_data(normalise(json.loads(out)), normalise(doc)), out
    else:
        assert same_data(load_doc(out.decode()), normalise(doc)), out


def _round_trip(ws: tuple[Workspace, AgeKey], store: str, doc: Any, writer: str) -> None:
    w, key = ws
    ext = STORES[store][0]
    n = next(_names)
    plain = w.write(f"p{n}.{ext}", _file_bytes(store, doc))
    enc, out = f"e{n}.{ext}", w.files / f"d{n}.{ext}"
    encrypt, decrypt = (w.sealer, w.sops) if writer == "sealer" else (w.sops, w.sealer)
    ok(encrypt("encrypt", "--age", key.recipient, "--output", enc, plain.name, key=key))
    ok(decrypt("decrypt", "--output", out.name, enc, key=key))  # an output file: bytes, no text-mode folding
    _same(store, doc, out.read_bytes())


def _property(store: str, writer: str):
    @EXAMPLES
    @given(doc=STORES[store][1])
    def check(ws: tuple[Workspace, AgeKey], doc: Any) -> None:
        _round_trip(ws, store, doc, writer)

    check.__name__ = f"test_{store}_{writer}_encrypt_then_{'sops' if writer == 'sealer' else 'sealer'}_decrypt"
    return check


test_yaml_sealer_encrypt_then_sops_decrypt = _property("yaml", "sealer")
test_yaml_sops_encrypt_then_sealer_decrypt = _property("yaml", "sops")
test_json_sealer_encrypt_then_sops_decrypt = _property("json", "sealer")
test_json_sops_encrypt_then_sealer_decrypt = _property("json", "sops")
test_dotenv_sealer_encrypt_then_sops_decrypt = _property("dotenv", "sealer")
test_dotenv_sops_encrypt_then_sealer_decrypt = _property("dotenv", "sops")
test_ini_sealer_encrypt_then_sops_decrypt = _property("ini", "sealer")
test_ini_sops_encrypt_then_sealer_decrypt = _property("ini", "sops")
test_binary_sealer_encrypt_then_sops_decrypt = _property("binary", "sealer")
test_binary_sops_encrypt_then_sealer_decrypt = _property("binary", "sops")


# --- one-byte tampering -----------------------------------------------------------------------------------------

TAMPER_DOCS = {
    "yaml": {"a": "one secret value", "b": [1, 2.5, True]}, "json": {"a": "one secret value", "n": 7},
    "dotenv": "#note\nA=one secret value\nB=2\n", "ini": {"s": {"a": "one secret value", "b": "2"}},
    "binary": b"one secret value\x00\xff",
}


def _is_mac(text: str, m: re.Match[str]) -> bool:
    """Whether an ENC value is the MAC: `mac: `, `"mac": "`, `sops_mac=` or INI's padded `mac    = ` before it."""
    return re.search(r'mac"?\s*[:=]\s*"?$', text[max(m.start() - 80, 0):m.start()]) is not None


def _flip(text: str, m: re.Match[str]) -> str:
    """The same file with the first base64 character of one ENC value's data changed."""
    first = m.group(1)[0]
    return text[:m.start(1)] + ("B" if first == "A" else "A") + text[m.start(1) + 1:]


@pytest.mark.parametrize("store", sorted(STORES))
@pytest.mark.parametrize("writer", ["sealer", "sops"])
def test_one_byte_tampering_refused_by_both(ws: tuple[Workspace, AgeKey], store: str, writer: str) -> None:
    w, key = ws
    ext = STORES[store][0]
    plain = w.write(f"tamper-{writer}.{ext}", _file_bytes(store, TAMPER_DOCS[store]))
    enc = f"tamper-{writer}.enc.{ext}"
    run = w.sealer if writer == "sealer" else w.sops
    ok(run("encrypt", "--age", key.recipient, "--output", enc, plain.name, key=key))
    text = (w.files / enc).read_text()
    matches = list(ENC_RE.finditer(text))
    value = next(m for m in matches if m.group(4) == "str" and not _is_mac(text, m))
    mac = next(m for m in matches if _is_mac(text, m))
    for what, m, sops_code in (("value", value, SOPS_EXIT_BAD_VALUE), ("mac", mac, SOPS_EXIT_BAD_MAC)):
        bad = w.write(f"tampered-{what}-{writer}.{ext}", _flip(text, m))
        by_sops = w.sops("decrypt", bad.name, key=key)
        assert by_sops.returncode == sops_code, (what, by_sops.returncode, by_sops.stderr)
        out = w.files / f"never-{what}-{writer}.{ext}"
        by_sealer = w.sealer("decrypt", "--output", out.name, bad.name, key=key)
        assert by_sealer.returncode == SEALER_EXIT_FAILED, (what, by_sealer.stderr)
        assert by_sealer.stdout == "" and not out.exists()
        assert len(by_sealer.stderr.strip().splitlines()) == 1 and "Traceback" not in by_sealer.stderr
        assert bad.name in by_sealer.stderr


def test_read_ini_reads_what_sops_writes() -> None:
    """The test's own INI reader, on go-ini's layout (padding, an empty value, a backtick-quoted value)."""
    assert read_ini("[s]\na    = 1\nlong = x # y\nnone = \nq    = `a#b`\n\n[t]\n") == {
        "s": {"a": "1", "long": "x # y", "none": "", "q": "a#b"}, "t": {}}



def test_yaml_renderer_reads_back() -> None:
    doc = {"a": [1, {"b": [], "c": {"d": None}}, [2.5, "x: y"]], "e": {}, "f": True, "g": -7}
    assert load_doc(yaml_text(doc)) == doc


def test_flow_style_yaml_encrypts_to_a_file_sops_reads(ws: tuple[Workspace, AgeKey]) -> None:
    """A YAML file written in flow style (`{"a": 1}`, JSON is YAML) encrypts to a file whose `sops:` block sops
    finds: sops re-emits the document in block style."""
    w, key = ws
    w.write("flow.yaml", '{"a": "one secret value", "b": [1, 2.5, true]}\n')
    ok(w.sealer("encrypt", "--age", key.recipient, "--output", "flow.enc.yaml", "flow.yaml", key=key))
    assert load_doc(ok(w.sops("decrypt", "flow.enc.yaml", key=key))) == {"a": "one secret value", "b": [1, 2.5, True]}


@pytest.mark.parametrize(("name", "text"), [("empty-comment.env", "#\nA=1\n"),
                                            ("empty-comment.yaml", "a: 1\n#\nb: 2\n"),
                                            ("empty-comment.ini", "[s]\n;\na = 1\n")])
def test_an_empty_comment_stays_as_it_is(ws: tuple[Workspace, AgeKey], name: str, text: str) -> None:
    """Found by the dotenv property: sops leaves an empty comment unencrypted (an empty value is never encrypted);
    an encrypted empty comment is one sops cannot read back (it prints the ENC[...] text as the comment)."""
    w, key = ws
    w.write(name, text)
    ok(w.sealer("encrypt", "--age", key.recipient, "--output", f"enc.{name}", name, key=key))
    ok(w.sops("encrypt", "--age", key.recipient, "--output", f"sops.{name}", name, key=key))
    assert (w.files / f"enc.{name}").read_text().count("type:comment") == 0
    assert ok(w.sops("decrypt", f"enc.{name}", key=key)) == ok(w.sops("decrypt", f"sops.{name}", key=key))
