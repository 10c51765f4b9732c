"""Property tests for SOPS documents (hypothesis): arbitrary YAML and JSON trees survive `encrypt` -> `decrypt`,
the real `sops` binary agrees on a sample both ways, and any one-byte change to a ciphertext or to the `sops`
metadata is refused with a typed error.

Documents are generated as *text*, each scalar in one of the spellings a person or a tool writes (plain, quoted,
literal block, tagged), including the ones YAML versions read differently (`yes`, `on`, `017`, `1_000`, dates).
The expected content is the original text read with YAML 1.2 rules as Go's yaml.v3 reads it (what sops sees),
so the round trip is checked against what the file means, not against what the generator meant. That reader
(go_resolve below) is written from yaml.v3's rules, not taken from sealer; the sops sample keeps it honest.
Deviations the properties found are pinned at the end of the file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from sealer.errors import DecryptionError, InputError, SealerError
from sealer.sops import operations
from sealer.sops.keys import age
from sealer.sops.keys import service as keyservice
from tests import sops_helpers
from tests.sops_helpers import AgeKey, Workspace, make_age_key, needs_sops, ok

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SOPS_SAMPLE = settings(max_examples=12, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- scalars ----------------------------------------------------------------------------------------------------

# Plain scalars that YAML 1.1, YAML 1.2 and Go's yaml.v3 read differently, or that look like another type.
TRICKY_PLAIN = [
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "true", "True", "TRUE", "false", "False",
    "null", "Null", "NULL", "~", "017", "0o17", "0x1F", "0X1f", "1_000", "09", "+12", "-7", "0", "-0", "00",
    "1e3", "1E+3", "-1.5e-3", ".5", "5.", "3.0", "1.0e10", ".inf", "-.inf", "+.inf", ".Inf", ".nan", ".NaN",
    "1:20", "0b101", "2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+02:00",
    "2024-01-01t10:00:00.5z", "2024-13-01", "2024-02-30", "2001-12-14 21:59:43.10 -5", "12:30:45",
    "2024-01-01 1:2:3", "2024-1-2T3:4:5Z", "2024-01-01T10:00:00.1234567891Z", "2024-01-01  10:00:00",
    "2024-01-01T10:00:00,5Z", "2024-01-01T10:00:00+05:60", "2024-01-01T10:00:00+25:00", "2024-01-01T24:00:00Z",
    "2024-01-01T10:00:60Z", "2024-01-01T10:00:00", "2024-01-01 10:00:00Z", "0001-01-01",
    "18446744073709551616", "-9223372036854775809", "1__0", "_1", "1_", "0x_1F", "0b", "0o", "+0x10",
    "1e400", "-1e400", "4.9e-324", "1e-400", ".", "+.5", "-.5e3", "0x1p3", "1.e5", "00.5", "0_1",
    "=", "hello world", "a#b", "x:y", "home@", "100%", "1,000", "-x", "a",
]

_YAML_PRINTABLE = re.compile("[\t\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def double_quoted(text: str) -> str:
    """A YAML double-quoted scalar for any text: escapes for what is not printable, `\\`, `"` and line ends."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif _YAML_PRINTABLE.fullmatch(ch) and ch not in "\x85\u2028\u2029\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def single_quoted(text: str) -> str | None:
    if any(not _YAML_PRINTABLE.fullmatch(c) or c in "\n\t\x85\u2028\u2029\ufeff" for c in text):
        return None
    return "'" + text.replace("'", "''") + "'"


_any_char = st.characters(blacklist_categories=("Cs",))
_text = st.text(_any_char, max_size=20) | st.text(string.ascii_letters + string.digits + " ._-:#'\"\\", max_size=20)
_line_char = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff\x85\ufffe\uffff")
_lines = st.lists(st.text(_line_char, max_size=12), min_size=2, max_size=4)


@st.composite
def scalars(draw: st.DrawFn) -> tuple[str, bool]:
    """(YAML spelling, True when it is a block scalar that goes on its own lines)."""
    kind = draw(st.sampled_from(["tricky", "dq", "sq", "block", "int", "float", "bool", "null", "tagged"]))
    if kind == "tricky":
        return draw(st.sampled_from(TRICKY_PLAIN)), False
    if kind == "dq":
        return double_quoted(draw(_text | st.sampled_from(TRICKY_PLAIN))), False
    if kind == "sq":
        text = draw(_text | st.sampled_from(TRICKY_PLAIN))
        return (single_quoted(text) or double_quoted(text)), False
    if kind == "block":
        lines = draw(_lines)
        assume(lines[0].strip() and not lines[0][0].isspace())
        trailing = draw(st.sampled_from(["-", "", "+"]))
        body = "\n".join(lines) + {"-": "", "": "\n", "+": "\n\n"}[trailing]
        return f"|{trailing}\n" + body, True
    if kind == "int":
        n = draw(st.integers(-(2**63), 2**63 - 1))
        spelling = draw(st.sampled_from(["dec", "hex", "oct"])) if n >= 0 else "dec"
        return {"dec": str(n), "hex": hex(n), "oct": "0o" + format(n, "o")}[spelling], False
    if kind == "float":
        x = draw(st.floats(allow_nan=True, allow_infinity=True))
        # -0.0 is left out: sops writes a plaintext -0.0 back as `-0` and then fails its own MAC (sealer matches)
        assume(not (x == 0 and math.copysign(1, x) < 0))
        if math.isnan(x):
            return ".nan", False
        if math.isinf(x):
            return (".inf" if x > 0 else "-.inf"), False
        return repr(x), False
    if kind == "bool":
        return draw(st.sampled_from(["true", "false", "True", "FALSE"])), False
    if kind == "null":
        return draw(st.sampled_from(["null", "~", ""])), False
    text = draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=12))
    return draw(st.sampled_from([f"!!str {text}", f"!!binary {base64.b64encode(text.encode()).decode()}",
                                 f'!!str "{text}"', '!!str ""', f"!!int {draw(st.integers(-999, 999))}",
                                 f"!!float {draw(st.integers(-999, 999))}"])), False


# --- reading YAML as Go's yaml.v3 does (the oracle) ----------------------------------------------------------------

# time.Parse layouts yaml.v3 tries, written out: 1-2 digit fields, a fraction of any length after `.` or `,`
# (nanoseconds kept), a zone of `Z` or +hh:mm (hh <= 24, mm <= 60) after `T`/`t`, none after the spaces.
_GO_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d\d:\d\d))"
    r"|(?: +(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?))?")


_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_SPECIAL = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL")), **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False), **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}


def _go_time(text: str) -> dt.datetime | None:
    m = _GO_TIME.fullmatch(text)
    if not m:
        return None
    y, mo, d = (int(g) for g in m.group(1, 2, 3))
    hh, mm, ss, frac, zone = m.group(4, 5, 6, 7, 8) if m.group(4) else (*m.group(9, 10, 11, 12), None)
    try:
        day = dt.date(y, mo, d)
        if hh is None:
            return dt.datetime(y, mo, d)
        when = dt.datetime.combine(day, dt.time(int(hh), int(mm), int(ss), int((frac or "0")[:6].ljust(6, "0"))))
    except ValueError:
        return None
    if zone and zone != "Z":
        h, m_ = int(zone[1:3]), int(zone[4:6])
        if h > 24 or m_ > 60:
            return None
        when -= (1 if zone[0] == "+" else -1) * dt.timedelta(hours=h, minutes=m_)
    return when


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64)."""
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text[1:] if text[:1] == "+" else text)
    base = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}.get(digits[:2])
    if base:
        digits = digits[2:]
    elif len(digits) > 1 and digits[0] == "0":
        base, digits = 8, digits[1:]
    try:
        value = sign * int(digits, base or 10) if digits and digits.isalnum() else None
    except ValueError:
        return None
    if value is None or not -(2**63) <= value < 2**64 or (value >= 2**63 and sign < 0):
        return None
    return value


def go_resolve(text: str) -> Any:
    """A plain scalar as yaml.v3 resolves it: null, bool, special floats, then (text starting with a digit or
    sign or dot) timestamp, int, float; else the text."""
    if text in _GO_SPECIAL:
        return _GO_SPECIAL[text]
    if not text or text[0] not in "0123456789+-.":
        return text
    if (when := _go_time(text)) is not None:
        return when
    plain = text.replace("_", "")
    if (n := _go_int(plain)) is not None:
        return n
    if _GO_FLOAT.fullmatch(plain) and not math.isinf(x := float(plain)):
        return x  # strconv.ParseFloat reports overflow (`1e400`) as an error: the text stays a string
    return text


_PLAIN = "tag:sealer.test,2024:plain"


class _PlainToGo(VersionedResolver):
    """Every untagged plain scalar gets a tag of its own, so go_resolve (not ruamel) gives it its type."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return Tag(suffix=_PLAIN)
        return super().resolve(kind, value, implicit)


class _GoConstructor(SafeConstructor):
    pass


_GoConstructor.add_constructor(_PLAIN, lambda constructor, node: go_resolve(node.value))


def load_docs(text: str) -> list[Any]:
    """Every document read as Go's yaml.v3 reads it (every plain scalar through go_resolve), normalised for
    comparison (sops_helpers.normalise)."""
    y = YAML(typ="safe", pure=True)
    y.Resolver = _PlainToGo
    y.Constructor = _GoConstructor
    return [sops_helpers.normalise(d) for d in y.load_all(text) if d is not None]


# --- keys ---------------------------------------------------------------------------------------------------------

_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "<<"}
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
keys = st.one_of(
    st.from_regex(r"[a-z][a-zA-Z0-9_.-]{0,10}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9]{0,6}_unencrypted", fullmatch=True),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=10),
).filter(lambda k: k.lower() not in _RESERVED)


def key_text(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else double_quoted(key)


# --- trees --------------------------------------------------------------------------------------------------------

# A tree is ("map", [(key, tree)]) | ("seq", [tree]) | ("scalar", (spelling, is_block))
trees = st.recursive(
    st.builds(lambda s: ("scalar", s), scalars()),
    lambda children: st.one_of(
        st.builds(lambda d: ("map", list(d.items())), st.dictionaries(keys, children, max_size=4)),
        st.builds(lambda items: ("seq", items), st.lists(children, max_size=4)),
    ),
    max_leaves=14,
)
documents = st.dictionaries(keys.filter(lambda k: k != "sops"), trees, min_size=1, max_size=5)


def _lines_of(node: tuple[str, Any], indent: int) -> list[str]:
    """Block-style lines of a collection at ``indent`` (a scalar is never passed here)."""
    kind, value = node
    pad = " " * indent
    out: list[str] = []
    if kind == "map":
        for key, child in value:
            out.extend(_entry(f"{pad}{key_text(key)}:", child, indent))
    else:
        for child in value:
            if child[0] != "scalar" and child[1]:
                inner = _lines_of(child, indent + 2)
                out.append(f"{pad}- {inner[0][indent + 2:]}")
                out.extend(inner[1:])
            else:
                out.extend(_entry(f"{pad}-", child, indent))
    return out


def _entry(head: str, child: tuple[str, Any], indent: int) -> list[str]:
    kind, value = child
    if kind == "scalar":
        spelling, block = value
        if block:
            first, body = spelling.split("\n", 1)
            pad = " " * (indent + 2)
            lines = body.split("\n")
            if lines and lines[-1] == "":
                lines = lines[:-1]
            return [f"{head} {first}", *(f"{pad}{line}" if line else "" for line in lines)]
        return [f"{head} {spelling}" if spelling else head]
    if not value:
        return [f"{head} {{}}" if kind == "map" else f"{head} []"]
    return [head, *_lines_of(child, indent + 2)]


def render(doc: dict[str, tuple[str, Any]]) -> str:
    return "\n".join(_lines_of(("map", list(doc.items())), 0)) + "\n"


def plain_data(node: Any) -> Any:
    """JSON-like data of a tree read by load_docs: `!!binary` becomes the text it holds (sops types it str)."""
    if isinstance(node, dict):
        return {k: plain_data(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_data(v) for v in node]
    if isinstance(node, bytes):
        return node.decode()
    return node


# --- JSON trees ----------------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.text(_any_char, max_size=16), st.sampled_from(TRICKY_PLAIN), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not (x == 0 and math.copysign(1, x) < 0)),
    st.booleans(), st.none(),
)
json_trees = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                          | st.dictionaries(st.text(_any_char, min_size=1, max_size=8), children, max_size=4),
                          max_leaves=14)
json_documents = st.dictionaries(st.text(_any_char, min_size=1, max_size=8).filter(lambda k: k != "sops"),
                                 json_trees, min_size=1, max_size=5)


def json_data(text: str) -> Any:
    """JSON as sops reads it: every number a float64."""
    return json.loads(text, parse_int=float)


# --- the library round trip -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A working directory with no .sops.yaml above it and its own HOME, shared by the examples."""
    return Workspace(tmp_path_factory.mktemp("sops-properties"))


@pytest.fixture(scope="module")
def key(ws: Workspace) -> AgeKey:
    return make_age_key(ws.root / "keys", "k")


def encrypt_text(text: str, recipient: str, cwd: Path, source: str = "f.yaml") -> str:
    tree = operations.load(text.encode(), source)
    plan = keyservice.plan(source, age=recipient, is_secret=operations.is_secret_file(tree), env={}, cwd=str(cwd))
    return operations.encrypt(tree, plan, source)


def decrypt_text(text: str | bytes, identity: str, source: str = "f.yaml") -> str:
    opener = keyservice.Opener(identities=list(age.parse_identities(identity.encode(), "test identity")))
    data = text.encode() if isinstance(text, str) else text
    return operations.decrypt(operations.load(data, source), source, opener).text


@SETTINGS
@given(doc=documents)
def test_yaml_round_trip(ws: Workspace, key: AgeKey, doc: dict[str, Any]) -> None:
    text = render(doc)
    expected = plain_data(load_docs(text))
    encrypted = encrypt_text(text, key.recipient, ws.files)
    assert "ENC[AES256_GCM," in encrypted
    assert plain_data(load_docs(decrypt_text(encrypted, key.identity))) == expected


@SETTINGS
@given(doc=json_documents)
def test_json_round_trip(ws: Workspace, key: AgeKey, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=bool(len(doc) % 2))
    encrypted = encrypt_text(text, key.recipient, ws.files, "f.json")
    assert json_data(decrypt_text(encrypted, key.identity, "f.json")) == json_data(text)


# --- the same, checked against the real sops on a sample ------------------------------------------------------------

ENC_TYPE = re.compile(r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(\w+)\]")


def shape(data: Any) -> dict[tuple[Any, ...], Any]:
    """{path: ENC type, or the plaintext value} of every leaf outside the sops block."""
    out = {}
    for path, value in sops_helpers.leaves({k: v for k, v in data.items() if k != "sops"}).items():
        m = ENC_TYPE.fullmatch(value) if isinstance(value, str) else None
        out[path] = ("ENC", m.group(1)) if m else value
    return out


def check_against_sops(ws: Workspace, key: AgeKey, text: str, name: str, read: Any) -> None:
    """sealer's file opens with sops, sops' file opens with sealer, both to ``read(text)``; and both tools
    encrypt the same values with the same type tags and leave the same ones in plaintext."""
    expected = read(text)
    ours = encrypt_text(text, key.recipient, ws.files, name)
    assert read(ok(ws.sops("decrypt", ws.write(name, ours), key=key))) == expected
    theirs = ok(ws.sops("encrypt", "--age", key.recipient, ws.write(name, text), key=key))
    assert read(decrypt_text(theirs, key.identity, name)) == expected
    parse = (lambda t: json.loads(t)) if name.endswith(".json") else (lambda t: plain_data(load_docs(t))[0])
    assert shape(parse(ours)) == shape(parse(theirs))


@needs_sops
@SOPS_SAMPLE
@given(doc=documents)
def test_yaml_against_sops(ws: Workspace, key: AgeKey, doc: dict[str, Any]) -> None:
    check_against_sops(ws, key, render(doc), "f.yaml", lambda t: plain_data(load_docs(t)))


@needs_sops
@SOPS_SAMPLE
@given(doc=json_documents)
def test_json_against_sops(ws: Workspace, key: AgeKey, doc: dict[str, Any]) -> None:
    check_against_sops(ws, key, json.dumps(doc, indent=2), "f.json", json_data)


# --- tampering --------------------------------------------------------------------------------------------------------

_B64_RUN = re.compile(rb"[A-Za-z0-9+/]+=*")
_ARMOR = re.compile(rb"-----BEGIN AGE ENCRYPTED FILE-----\n.*?-----END AGE ENCRYPTED FILE-----", re.S)


def tamper_spans(encrypted: bytes) -> dict[str, list[tuple[int, int]]]:
    """Byte ranges a one-byte change must never get through: every ENC[...] value (the MAC's included), the
    lastmodified value, and the armoured age stanza (its text, not its indentation)."""
    spans: dict[str, list[tuple[int, int]]] = {"enc": [], "mac": [], "lastmodified": [], "armor": []}
    for m in re.finditer(rb"ENC\[[^\]\n]*\]", encrypted):
        spans["mac" if encrypted[: m.start()].endswith(b"mac: ") else "enc"].append(m.span())
    spans["lastmodified"] = [m.span(1) for m in re.finditer(rb'\n *lastmodified: "([^"\n]*)"', encrypted)]
    for m in _ARMOR.finditer(encrypted):
        for line in re.finditer(rb"[^ \n]+", m.group()):
            spans["armor"].append((m.start() + line.start(), m.start() + line.end()))
    return spans


def _same_bytes_in_base64(before: bytes, after: bytes, pos: int) -> bool:
    """True when the change at ``pos`` only touches the unused low bits of a base64 run's last character, so
    the run decodes to the same bytes (Go's and Python's decoders both accept such non-canonical text)."""
    for m in _B64_RUN.finditer(before):
        if m.start() <= pos < m.end():
            run_after = after[m.start(): m.end()]
            try:
                return base64.b64decode(run_after, validate=True) == base64.b64decode(m.group(), validate=True)
            except ValueError:
                return False
    return False


def draw_change(data: st.DataObject, encrypted: bytes) -> tuple[str, int, bytes]:
    """(where, position, the file with one byte changed there) for a change inside tamper_spans."""
    spans = tamper_spans(encrypted)
    # positions are drawn as numbers taken modulo the span: the file's length varies from run to run (age adds
    # a random grease stanza), and hypothesis needs the same draws to mean the same test
    where = data.draw(st.sampled_from(sorted(spans)), label="where")
    where = where if spans[where] else "mac"
    start, end = spans[where][data.draw(st.integers(0, 1000), label="span") % len(spans[where])]
    pos = start + data.draw(st.integers(0, 1 << 16), label="offset") % (end - start)
    new = data.draw(st.sampled_from(string.printable.encode()) | st.integers(0, 255), label="byte")
    assume(new != encrypted[pos])
    return where, pos, encrypted[:pos] + bytes([new]) + encrypted[pos + 1:]


@SETTINGS
@given(doc=documents, data=st.data())
def test_any_one_byte_change_to_ciphertext_or_metadata_is_refused(ws: Workspace, key: AgeKey,
                                                                 doc: dict[str, Any], data: st.DataObject) -> None:
    encrypted = encrypt_text(render(doc), key.recipient, ws.files).encode()
    where, pos, tampered = draw_change(data, encrypted)
    try:
        out = decrypt_text(tampered, key.identity)
    except SealerError:
        return
    # Accepted: only a change that decodes to the very same bytes may be, and then nothing changed.
    assert _same_bytes_in_base64(encrypted, tampered, pos), f"one-byte change in {where} accepted"
    assert out == decrypt_text(encrypted, key.identity)


@needs_sops
@SOPS_SAMPLE
@given(doc=documents, data=st.data())
def test_sops_refuses_the_same_changes(ws: Workspace, key: AgeKey, doc: dict[str, Any], data: st.DataObject) -> None:
    encrypted = encrypt_text(render(doc), key.recipient, ws.files).encode()
    where, _, tampered = draw_change(data, encrypted)
    try:
        decrypt_text(tampered, key.identity)
        sealer_opens = True
    except SealerError:
        sealer_opens = False
    proc = ws.sops("decrypt", ws.write("t.yaml", tampered), key=key)
    assert (proc.returncode == 0) == sealer_opens, f"{where}: sops exit {proc.returncode}, sealer opens: {sealer_opens}"


def _flip_in_enc(value: bytes, part: str, index: int, bit: int) -> bytes:
    m = re.search(rb"(" + part.encode() + rb":)([A-Za-z0-9+/=]*)", value)
    assert m is not None
    raw = bytearray(base64.b64decode(m.group(2)))
    raw[index % len(raw)] ^= 1 << bit
    return value[: m.start(2)] + base64.b64encode(bytes(raw)) + value[m.end(2):]


@SETTINGS
@given(doc=documents, data=st.data())
def test_any_changed_ciphertext_byte_fails_authentication(ws: Workspace, key: AgeKey, doc: dict[str, Any],
                                                          data: st.DataObject) -> None:
    """A flipped bit in the decoded data, IV or tag of any ENC value, or in the binary age stanza, re-encoded
    canonically: a DecryptionError (GCM, or no identity opens the stanza), never another error."""
    encrypted = encrypt_text(render(doc), key.recipient, ws.files).encode()
    index, bit = data.draw(st.integers(0, 1 << 16), label="index"), data.draw(st.integers(0, 7), label="bit")
    values = [m for m in re.finditer(rb"ENC\[[^\]\n]*\]", encrypted)]
    target = data.draw(st.sampled_from(["data", "iv", "tag", "age"]), label="target")
    if target == "age":
        m = _ARMOR.search(encrypted)
        assert m is not None
        indent = encrypted[: m.start()].rsplit(b"\n", 1)[1]
        binary = bytearray(age.dearmor(m.group().replace(b"\n" + indent, b"\n")))
        binary[index % len(binary)] ^= 1 << bit
        armored = age.armor(bytes(binary)).rstrip("\n").replace("\n", "\n" + indent.decode()).encode()
        tampered = encrypted[: m.start()] + armored + encrypted[m.end():]
    else:
        m = values[data.draw(st.integers(0, 1000), label="value") % len(values)]
        if target == "data" and b"data:," in m.group():
            target = "tag"
        tampered = encrypted[: m.start()] + _flip_in_enc(m.group(), target, index, bit) + encrypted[m.end():]
    with pytest.raises(DecryptionError):
        decrypt_text(tampered, key.identity)


# --- deviations from sops the properties found (fixed), pinned -------------------------------------------------------

FOUND = """\
# Go's time layouts: 1-digit minutes and seconds, several spaces, a long or comma fraction, a 60-minute offset
t1: 2024-01-01 1:2:3
t2: 2024-1-2T3:4:5Z
t3: 2024-01-01  10:00:00
t4: 2024-01-01T10:00:00.1234567891Z
t5: 2024-01-01T10:00:00,5Z
t6: 2024-01-01T10:00:00+05:60
q1: "2024-1-2T3:4:5Z"
# strconv.ParseFloat overflows: yaml.v3 keeps the text
f1: 1e400
f2: -1e400
q2: "1e400"
# control characters and YAML 1.1 line breaks in values: only double quotes keep them
c1: "x\\x1by\\n"
c2: "x\\x85y"
c3: "x\\u2028y"
c4: "x \\ny"
c5: "x\\ny "
plain_unencrypted:
  t1_unencrypted: 2024-01-01 1:2:3
  f1_unencrypted: 1e400
# a kept-trailing-newlines block at the very end: the sops block must not become a second document
z_unencrypted: |+
  0


"""


@needs_sops
def test_found_deviations_agree_with_sops(ws: Workspace, key: AgeKey) -> None:
    check_against_sops(ws, key, FOUND, "f.yaml", lambda t: plain_data(load_docs(t)))
    ours = encrypt_text(FOUND, key.recipient, ws.files)
    assert "\n...\n" not in ours and len(load_docs(ours)) == 1
    assert re.search(r"\nt6: ENC\[.*type:time\]", ours) and re.search(r"\nf1: ENC\[.*type:str\]", ours)
    out = decrypt_text(ours, key.identity)
    for line in ('c1: "x\\ey\\n"', 'c2: "x\\Ny"', 'c3: "x\\Ly"', 'c4: "x \\ny"', 't6: 2024-01-01T10:00:00+06:00'):
        assert f"\n{line}\n" in out  # as sops writes them (escapes, not raw characters in a block)


@needs_sops
def test_zone_offset_of_a_day_is_refused_like_sops(ws: Workspace, key: AgeKey) -> None:
    """Go parses +24:00 but cannot write it back (Time.MarshalText): sops fails, so sealer refuses too."""
    text = "t: 2024-01-01T10:00:00+24:00\n"
    assert ws.sops("encrypt", "--age", key.recipient, ws.write("z.yaml", text), key=key).returncode != 0
    with pytest.raises(InputError, match="zone offset"):
        encrypt_text(text, key.recipient, ws.files)


@needs_sops
def test_tagged_empty_string_stays_a_string(ws: Workspace, key: AgeKey) -> None:
    check_against_sops(ws, key, 'e: !!str ""\nn: 1\n', "f.yaml", lambda t: plain_data(load_docs(t)))
