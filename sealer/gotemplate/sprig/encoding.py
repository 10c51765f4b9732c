"""sprig's encodings (base64, base32, JSON the way encoding/json writes it) and hashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from typing import Any

from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig.cast import fn, sized
from sealer.gotemplate.values import GoError, check_size, format_float, from_bytes, to_bytes

# --- encoding ----------------------------------------------------------------------------------------------

def _b64dec(s: str) -> str:
    try:
        return from_bytes(_strict_b64(s))
    except GoError as e:
        return str(e)


def _strict_b64(s: str) -> bytes:
    data = to_bytes(s).replace(b"\r", b"").replace(b"\n", b"")
    if not re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", data) or len(data) % 4:
        bad = next((i for i, c in enumerate(data) if chr(c) not in _B64_ALPHABET), None)
        if bad is None:
            bad = len(data) - len(data) % 4 if len(data) % 4 else len(data)
            pad = data.find(b"=")
            bad = pad if 0 <= pad < bad else bad
        raise GoError(f"illegal base64 data at input byte {bad}")
    try:
        out = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise GoError(f"illegal base64 data at input byte {len(data) - 1}") from None
    return out


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _b32dec(s: str) -> str:
    data = to_bytes(s).replace(b"\r", b"").replace(b"\n", b"")
    try:
        out = base64.b32decode(data)
    except binascii.Error:
        return "illegal base32 data at input byte 0"
    return from_bytes(out)


def _json_string(s: str, escape_html: bool) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif o < 0x20 or (escape_html and c in "<>&") or c in "\u2028\u2029":
            out.append(f"\\u{o:04x}")
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\ufffd")
        else:
            out.append(c)
    return "".join(out) + '"'


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise GoError("unsupported value")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = format_float(f, "e", -1)
        m, e = s.split("e")
        return m + "e" + e[0].replace("+", "+") + e[1:].lstrip("0") if e[0] == "-" else m + "e+" + e[1:].lstrip("0")
    return format_float(f, "f", -1)


def _json(v: Any, escape_html: bool, indent: str | None, level: int = 0) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return _json_string(v, escape_html)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    nl = "" if indent is None else "\n" + indent * (level + 1)
    end = "" if indent is None else "\n" + indent * level
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + ",".join(nl + _json(x, escape_html, indent, level + 1) for x in v) + end + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        sep = ":" if indent is None else ": "
        return "{" + ",".join(nl + _json_string(k, escape_html) + sep + _json(v[k], escape_html, indent, level + 1)
                              for k in sorted(v, key=to_bytes)) + end + "}"
    raise GoError("unsupported value")


def _to_json(v: Any) -> str:
    check_size(v)
    try:
        return sized(_json(v, True, None))
    except GoError:
        return ""


def _to_pretty_json(v: Any) -> str:
    check_size(v)
    try:
        return sized(_json(v, True, "  "))
    except GoError:
        return ""


def _to_raw_json(v: Any) -> str:
    check_size(v)
    return sized(_json(v, False, None))


def _from_json(s: str) -> Any:
    def bad_constant(_: str) -> Any:
        raise ValueError

    def number(text: str) -> float:
        f = float(text)
        if math.isinf(f):
            raise ValueError
        return f
    try:
        return json.loads(s, parse_float=number, parse_int=number, parse_constant=bad_constant)
    except (ValueError, RecursionError):
        return None


def _hash(name: str) -> Any:
    return lambda s: hashlib.new(name, to_bytes(s)).hexdigest()


FUNCS: dict[str, Func] = {
    "b64enc": fn("string", None, lambda s: base64.b64encode(to_bytes(s)).decode()),
    "b64dec": fn("string", None, _b64dec),
    "b32enc": fn("string", None, lambda s: base64.b32encode(to_bytes(s)).decode()),
    "b32dec": fn("string", None, _b32dec),
    "toJson": fn("any", None, _to_json),
    "toPrettyJson": fn("any", None, _to_pretty_json),
    "toRawJson": fn("any", None, _to_raw_json),
    "fromJson": fn("string", None, _from_json),
    "sha1sum": fn("string", None, _hash("sha1")),
    "sha256sum": fn("string", None, _hash("sha256")),
    "adler32sum": fn("string", None, lambda s: str(zlib.adler32(to_bytes(s)))),
}
