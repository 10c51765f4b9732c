"""Go values as Python sees them, and Go's way of printing them (package fmt) and judging them true.

Go's types matter to the output (`{{ 1.0 }}` prints 1, `printf "%T"`) and to which calls Go refuses (`repeat`
wants an int, `add` returns an int64), so the few Go types templates meet are kept apart:

  string -> str, bool -> bool, int -> int, int64 -> Int64, float64 -> float,
  []interface{} -> list, []string -> StrList, map[string]interface{} -> dict, map[string]string -> StrMap,
  a nil interface inside a container -> None, "no value" (an invalid reflect.Value) -> None at the top level.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any


class Int64(int):
    """Go's int64 (sprig's arithmetic returns it; Go refuses it where an int is wanted)."""

    __slots__ = ()


class StrList(list):
    """Go's []string (splitList, keys, sortAlpha, regexFindAll...)."""

    __slots__ = ()


class StrMap(dict):
    """Go's map[string]string: the decrypted items a SealedSecret template sees, and sprig's split."""

    __slots__ = ()


class GoError(Exception):
    """An execution error; the executor adds the position."""


def type_name(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Int64):
        return "int64"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, StrList):
        return "[]string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, StrMap):
        return "map[string]string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    raise GoError(f"unsupported value of type {type(v).__name__}")


def kind(v: Any) -> str:
    """Go's reflect.Kind family: string, bool, int, float, slice, map, invalid."""
    if v is None:
        return "invalid"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, list):
        return "slice"
    return "map"


def truth(v: Any) -> bool:
    """text/template's isTrue (and sprig's empty, negated)."""
    if v is None:
        return False
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return bool(v)


# --- numbers -------------------------------------------------------------------------------------------

def format_float(f: float, verb: str = "g", prec: int = -1) -> str:
    """strconv.FormatFloat(f, verb, prec, 64) for verbs e, f, g and E, F, G; prec -1 is the shortest repr."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    low = verb.lower()
    neg = math.copysign(1.0, f) < 0
    a = abs(f)
    if prec >= 0:
        out = f"{a:.{prec}{low}}"
    else:
        ds, dp = _digits(a) if a else ("0", 1)
        x = dp - 1
        if low == "e" or (low == "g" and (x < -4 or x >= 6)):  # shortest %g switches to %e at 1e+06, as Go
            out = ds[0] + ("." + ds[1:] if len(ds) > 1 else "") + ("e-" if x < 0 else "e+") + f"{abs(x):02d}"
        elif dp <= 0:
            out = "0." + "0" * -dp + ds
        elif dp >= len(ds):
            out = ds + "0" * (dp - len(ds))
        else:
            out = ds[:dp] + "." + ds[dp:]
    if verb.isupper():
        out = out.upper()
    return ("-" if neg else "") + out


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite positive f and the decimal point position, as strconv has them."""
    _, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    return "".join(map(str, digits)), len(digits) + int(exp)


# --- strings are Go byte strings --------------------------------------------------------------------------

def to_bytes(s: str) -> bytes:
    """A Go string's bytes (bytes that are not UTF-8 ride along as surrogate escapes)."""
    return s.encode("utf-8", "surrogateescape")


def from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def quote(s: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "".join(out) + '"'


_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


# --- fmt ---------------------------------------------------------------------------------------------------

MAX_TEXT = 1 << 20  # characters: no string a template builds may be longer (a Secret holds at most 1 MiB)


def check_size(*values: Any, limit: int = MAX_TEXT) -> None:
    """Refuse before printing or encoding values whose text would surely exceed ``limit``: a lower bound (each
    string's length, one character per element) found by a walk that stops early, so a list of 200 one-MiB
    strings costs nothing instead of building 200 MiB first."""
    total, seen, stack = 0, 0, list(values)
    while stack:
        v = stack.pop()
        seen += 1
        if isinstance(v, str | bytes):
            total += len(v)
        elif isinstance(v, dict):
            total += 2 * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            total += len(v)
            stack.extend(v)
        else:
            total += 1
        if total > limit or seen > limit:
            raise GoError(f"result larger than {limit} bytes")


def sprint_v(v: Any) -> str:
    """fmt's %v."""
    if isinstance(v, list | dict):
        check_size(v)
    return fmt_arg(v, "v", "", None, None)


def sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    check_size(*args)
    out: list[str] = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_v(a))
    return "".join(out)


def sprintln(args: list[Any]) -> str:
    check_size(*args)
    return " ".join(sprint_v(a) for a in args) + "\n"


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf for the verbs templates use; misuse is printed the way Go prints it (%!d(string=x))."""
    check_size(fmt, *args)
    out: list[str] = []
    i, n, argi = 0, len(fmt), 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width, i, argi = _number(fmt, i, args, argi)
        prec = None
        if i < n and fmt[i] == ".":
            prec, i, argi = _number(fmt, i + 1, args, argi)
            prec = prec or 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(fmt_arg(args[argi], verb, flags, width, prec))
            argi += 1
    if argi < len(args):
        extra = ["<nil>" if a is None else f"{type_name(a)}={sprint_v(a)}" for a in args[argi:]]
        out.append("%!(EXTRA " + ", ".join(extra) + ")")
    return "".join(out)


_TOO_LARGE = 1_000_000  # Go's fmt: a width or precision beyond this is not a number (tooLarge in fmt/print.go)


def _number(fmt: str, i: int, args: list[Any], argi: int) -> tuple[int | None, int, int]:
    if i < len(fmt) and fmt[i] == "*":
        if argi < len(args) and type(args[argi]) is int and abs(args[argi]) <= _TOO_LARGE:
            return args[argi], i + 1, argi + 1
        raise GoError("printf: unsupported * width")
    # Go's parsenum: digits until the number passes 1e6; then the whole rest of the format is consumed, and
    # Go prints %!(NOVERB). So no width reaches 10^8: padding stays within what the output budget checks.
    num, j = 0, i
    while j < len(fmt) and fmt[j].isdigit():
        if num > _TOO_LARGE:
            return None, len(fmt), argi
        num = num * 10 + ord(fmt[j]) - 48
        j += 1
    return (num if j > i else None), j, argi


def _pad(s: str, flags: str, width: int | None, zero_ok: bool = True) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s + " " * (width - len(s))
    if "0" in flags and zero_ok:
        sign = s[0] if s[:1] in ("-", "+", " ") else ""
        return sign + "0" * (width - len(s)) + s[len(sign):]
    return " " * (width - len(s)) + s


def _bad(v: Any, verb: str) -> str:
    return f"%!{verb}({type_name(v)}={sprint_v(v)})"


def fmt_arg(v: Any, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb == "T":
        return _pad(type_name(v), flags, width, False)
    if v is None:
        return _pad("<nil>", flags, width, False) if verb == "v" else f"%!{verb}(<nil>)"
    if isinstance(v, str):
        return _fmt_str(v, verb, flags, width, prec)
    if isinstance(v, bool):
        return _pad("true" if v else "false", flags, width, False) if verb in "vt" else _bad(v, verb)
    if isinstance(v, int):
        return _fmt_int(v, verb, flags, width, prec)
    if isinstance(v, float):
        return _fmt_float(v, verb, flags, width, prec)
    if isinstance(v, list):
        return "[" + " ".join(fmt_arg(e, verb, flags, width, prec) for e in v) + "]"
    if isinstance(v, dict):
        items = (fmt_arg(k, verb, flags, width, prec) + ":" + fmt_arg(v[k], verb, flags, width, prec)
                 for k in sorted(v))
        return "map[" + " ".join(items) + "]"
    raise GoError(f"cannot format {type(v).__name__}")


def _fmt_str(s: str, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb in "vs":
        return _pad(s[:prec] if prec is not None else s, flags, width)
    if verb == "q":
        return _pad(quote(s[:prec] if prec is not None else s), flags, width)
    if verb in "xX":
        b = to_bytes(s)[:prec] if prec is not None else to_bytes(s)
        sep = " " if " " in flags else ""
        pre = ("0x" if verb == "x" else "0X") if "#" in flags else ""
        h = sep.join(pre + format(c, "02" + verb) for c in b) if sep else pre + b.hex()
        return _pad(h.upper() if verb == "X" else h, flags, width)
    return _bad(s, verb)


def _fmt_int(n: int, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", flags, width, False)
    if verb == "q":
        return _pad("'" + quote(chr(n))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'", flags, width, False)
    if verb == "U":
        return _pad(f"U+{n:04X}", flags, width, False)
    spec = {"v": "d", "d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}.get(verb)
    if spec is None:
        return _bad(n, verb)
    digits = format(abs(n), spec)
    if prec is not None:
        digits = "" if prec == 0 and n == 0 else digits.rjust(prec, "0")
    prefix = ""
    if verb == "O" or ("#" in flags and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif "#" in flags and verb in "xXb":
        prefix = {"x": "0x", "X": "0X", "b": "0b"}[verb]
    sign = "-" if n < 0 else "+" if "+" in flags else " " if " " in flags else ""
    body = prefix + digits
    if prec is None and "0" in flags and "-" not in flags and width is not None:
        body = body.rjust(width - len(sign), "0") if not prefix else prefix + digits.rjust(
            width - len(sign) - len(prefix), "0")
        return sign + body
    return _pad(sign + body, flags, width, False)


def _fmt_float(f: float, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb not in "vfFeEgG":
        return _bad(f, verb)
    real = "g" if verb == "v" else verb
    p = prec if prec is not None else (-1 if real in "gG" else 6)
    s = format_float(f, real, p)
    if "+" in flags and not s.startswith("-"):
        s = "+" + s
    elif " " in flags and not s.startswith("-"):
        s = " " + s
    return _pad(s, flags, width, not math.isinf(f) and not math.isnan(f))
