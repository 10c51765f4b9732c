"""Scalars as sops sees them: resolved the way Go's yaml.v3 resolves plain YAML scalars, turned into the bytes
sops encrypts and hashes, and written back the way sops' Go encoder writes them.

The MAC covers these bytes, so every quirk matters: `yes`/`on` are strings (YAML 1.2), `017` is octal 15,
`09` is the float 9, `1_000` is 1000, dates become RFC 3339 timestamps, floats hash in shortest form without
an exponent ('f', -1) but print in Go's %g form.
"""

from __future__ import annotations

import math
import re

STR, INT, FLOAT, BOOL, TIME, NULL, COMMENT, BYTES = "str", "int", "float", "bool", "time", "null", "comment", "bytes"
TYPES = (STR, INT, FLOAT, BOOL, TIME, COMMENT, BYTES)

_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64_MAX = (1 << 64) - 1
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL = {
    **dict.fromkeys(("true", "True", "TRUE"), (BOOL, True)),
    **dict.fromkeys(("false", "False", "FALSE"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf)),
}
# Go's time.Parse with yaml.v3's layouts: 1-2 digit month, day, hour, minute and second; a fraction of any
# length after '.' or ',' (nanoseconds kept); one or more spaces before a zoneless time.
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:([Tt])| +)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})?)?$")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class UnsupportedValue(ValueError):
    """A value sops itself cannot encrypt (e.g. an integer beyond int64)."""


class Timestamp:
    """A Go time.Time, kept as its RFC 3339 text (nanosecond precision, offset as written). Immutable, compared
    and hashed by its text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        object.__setattr__(self, "text", text)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not Timestamp:
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        return hash((self.text,))

    def __repr__(self) -> str:
        return f"Timestamp(text={self.text!r})"


# --- reading YAML scalars the way go-yaml v3 does -------------------------------------------------------

def go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(s, 0, 64), then ParseUint: sign, 0x/0o/0b prefixes, a leading 0 means octal."""
    s = text
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        return None
    base, digits = 10, s
    lower = s[:2].lower()
    if lower in ("0x", "0o", "0b"):
        base, digits = {"0x": 16, "0o": 8, "0b": 2}[lower], s[2:]
    elif len(s) > 1 and s[0] == "0":
        base, digits = 8, s[1:]
    if not digits or not all(c in "0123456789abcdefABCDEF"[: base + (6 if base == 16 else 0)] for c in digits):
        return None
    value = sign * int(digits, base)
    if _INT64[0] <= value <= _INT64[1]:
        return value
    if 0 <= value <= _UINT64_MAX and sign > 0:
        raise UnsupportedValue("integer beyond int64: sops cannot encrypt it (quote it as a string)")
    return None


def _timestamp(text: str) -> Timestamp | None:
    m = _TIMESTAMP.match(text)
    if not m:
        return None
    year, month, day, t_sep, hh, mm, ss, frac, zone = m.groups()
    y, mo, d = int(year), int(month), int(day)
    if not (1 <= mo <= 12 and 1 <= d <= _DAYS[mo - 1]) or (mo == 2 and d == 29 and not _leap(y)):
        return None
    if hh is None:
        return Timestamp(f"{y:04d}-{mo:02d}-{d:02d}T00:00:00Z")
    if (t_sep and zone is None) or (not t_sep and zone is not None):
        return None  # Go's layouts: 'T' requires a zone, ' ' forbids one
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 59:
        return None
    if zone and zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 24 or zm > 60:  # Go's range check; within it, +05:60 is the offset +06:00
            return None
        minutes = zh * 60 + zm
        if minutes >= 24 * 60:
            raise UnsupportedValue("a timestamp with a zone offset of 24 hours or more: sops cannot encrypt it "
                                   "(quote it as a string)")
        zone = f"{zone[0]}{minutes // 60:02d}:{minutes % 60:02d}" if minutes else "Z"
    frac = (frac or "")[:9].rstrip("0")
    return Timestamp(f"{y:04d}-{mo:02d}-{d:02d}T{int(hh):02d}:{int(mm):02d}:{int(ss):02d}"
                     f"{'.' + frac if frac else ''}{zone or 'Z'}")


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def resolve_plain(text: str) -> tuple[str, object]:
    """(type, value) of a plain (unquoted, untagged) YAML scalar, as go-yaml v3 resolves it."""
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    if not text or text[0] not in "0123456789+-.":
        return STR, text
    ts = _timestamp(text)
    if ts is not None:
        return TIME, ts
    plain = text.replace("_", "")
    n = go_parse_int(plain)
    if n is not None:
        return INT, n
    if _YAML_FLOAT.match(plain) and not math.isinf(value := float(plain)):
        return FLOAT, value  # an overflow (`1e400`) is an error to strconv.ParseFloat: yaml.v3 keeps the text
    return STR, text


def resolve_tagged(tag: str, text: str) -> tuple[str, object]:
    """(type, value) for an explicitly tagged scalar (`!!str 5`)."""
    short = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
    if short == "str":
        return STR, text
    if short == "binary":
        import base64
        import binascii

        try:
            return BYTES, base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise UnsupportedValue("invalid base64 in a !!binary value") from None
    if short in ("int", "float", "bool", "null", "timestamp"):
        kind, value = resolve_plain(text)
        if {"int": INT, "float": FLOAT, "bool": BOOL, "null": NULL, "timestamp": TIME}[short] == kind:
            return kind, value
        if short == "float" and kind == INT:
            return FLOAT, float(value)  # type: ignore[arg-type]
    raise UnsupportedValue(f"unsupported YAML tag {tag!r}")


# --- bytes that sops encrypts and hashes ---------------------------------------------------------------

def go_format_float_f(x: float) -> str:
    """strconv.FormatFloat(x, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    from decimal import Decimal

    text = format(Decimal(repr(x)).normalize(), "f")
    return "-0" if text == "0" and math.copysign(1, x) < 0 else text


def go_format_float_g(x: float) -> str:
    """strconv.FormatFloat(x, 'g', -1, 64), as go-yaml prints floats: an exponent from 1e+06 and below 1e-04."""
    if math.isnan(x) or math.isinf(x):
        return {"NaN": ".nan", "+Inf": ".inf", "-Inf": "-.inf"}[go_format_float_f(x)]
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    digits, exp = _shortest(x)
    if exp < -4 or exp >= 6:
        return _exponent_form(x, digits, exp, pad=2)
    return go_format_float_f(x)


def go_format_float_json(x: float) -> str:
    """How Go's encoding/json prints a float64: 'f' form, 'e' form outside [1e-6, 1e21), as in `1e+21`."""
    if math.isfinite(x) and x != 0 and (abs(x) < 1e-6 or abs(x) >= 1e21):
        digits, exp = _shortest(x)
        return _exponent_form(x, digits, exp, pad=1)
    return go_format_float_f(x)


def _exponent_form(x: float, digits: str, exp: int, pad: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if x < 0 else ''}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):0{pad}d}"


def _shortest(x: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |x| and the decimal exponent of the first digit."""
    from decimal import Decimal

    _sign, digits, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) + int(exponent) - 1


def to_bytes(kind: str, value: object) -> bytes:
    """The plaintext sops encrypts and feeds to the MAC for a value of this type."""
    if kind in (STR, COMMENT, BYTES):
        return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]
    if kind == INT:
        return str(value).encode()
    if kind == FLOAT:
        return go_format_float_f(value).encode()  # type: ignore[arg-type]
    if kind == BOOL:
        return b"True" if value else b"False"
    if kind == TIME:
        return value.text.encode()  # type: ignore[union-attr]
    raise UnsupportedValue(f"cannot encode a {kind} value")


def from_bytes(kind: str, data: bytes) -> object:
    """Inverse of `to_bytes`: the typed value of a decrypted plaintext."""
    text = data.decode("utf-8", errors="surrogateescape")
    if kind in (STR, COMMENT, BYTES):
        return text
    if kind == INT:
        return int(text)
    if kind == FLOAT:
        special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
        return special[text] if text in special else float(text)
    if kind == BOOL:
        if text not in ("True", "False"):
            raise ValueError(f"bool plaintext must be True or False, got {len(text)} bytes")
        return text == "True"
    if kind == TIME:
        if _timestamp(text) is None:
            raise ValueError("time plaintext is not RFC 3339")
        return Timestamp(text)
    raise ValueError(f"unknown type {kind!r}")
