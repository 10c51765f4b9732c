"""sprig's string functions (trim, case, quote, indent, split/join, wrap...)."""

from __future__ import annotations

from typing import Any

from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig.cast import MAX_STRING, fn, sized, strval
from sealer.gotemplate.values import GoError, StrList, StrMap, check_size, from_bytes, quote, sprint_v, to_bytes

# --- strings -----------------------------------------------------------------------------------------------

def _title(s: str) -> str:
    out, prev = [], " "
    for c in s:
        out.append(_rune_case(c, str.title) if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def _is_separator(r: str) -> bool:
    if r.isascii():
        return not (r.isalnum() or r == "_")
    if r.isalpha() or r.isdigit():
        return False
    return r.isspace()


def _rune_case(c: str, fn: Any) -> str:
    """Go maps case rune by rune (unicode.ToUpper): no "ß" -> "SS"."""
    m = fn(c)
    return m if len(m) == 1 else c


def _nospace(s: str) -> str:
    """goutils.DeleteWhiteSpace: reads the string byte by byte, as Latin-1 runes (sic)."""
    b = to_bytes(s)
    kept = "".join(chr(c) for c in b if not chr(c).isspace() or 0x1C <= c <= 0x1F)  # (not spaces in Go)
    return s if len(kept) == len(b) else kept


def _untitle(s: str) -> str:
    out, nxt = [], True
    for c in s:
        if c.isspace():
            nxt = True
        elif nxt:
            out.append(_rune_case(c, str.lower))
            nxt = False
            continue
        out.append(c)
    return "".join(out)


def _repeat(count: int, s: str) -> str:
    if count < 0:
        raise GoError("negative repeat count")
    if count * len(s) > MAX_STRING:
        raise GoError(f"result larger than {MAX_STRING} bytes")
    return s * count


def _substr(start: int, end: int, s: str) -> str:
    b = to_bytes(s)
    if start < 0:
        if end < 0 or end > len(b):
            raise GoError("slice bounds out of range")
        return from_bytes(b[:end])
    if end < 0 or end > len(b):
        if start > len(b):
            raise GoError("slice bounds out of range")
        return from_bytes(b[start:])
    if start > end:
        raise GoError("slice bounds out of range")
    return from_bytes(b[start:end])


def _trunc(c: int, s: str) -> str:
    b = to_bytes(s)
    if c < 0 and len(b) + c > 0:
        return from_bytes(b[len(b) + c:])
    if c >= 0 and len(b) > c:
        return from_bytes(b[:c])
    return s


def _abbrev(width: int, s: str) -> str:
    if width < 4:
        return s
    b = to_bytes(s)
    if not b or len(b) <= width:
        return s
    return from_bytes(b[:width - 3]) + "..."


def _quote(*args: Any) -> str:
    return " ".join(quote(strval(a)) for a in args if a is not None)


def _squote(*args: Any) -> str:
    return " ".join(f"'{sprint_v(a)}'" for a in args if a is not None)


def _cat(*args: Any) -> str:
    return " ".join(sprint_v(a) for a in args if a is not None)


def _indent(n: int, s: str) -> str:
    if n < 0:
        raise GoError("negative repeat count")
    if n * (s.count("\n") + 1) + len(s) > MAX_STRING:
        raise GoError(f"result larger than {MAX_STRING} bytes")
    pad = " " * n
    return pad + s.replace("\n", "\n" + pad)


def _plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


def _wrap(width: int, s: str) -> str:
    b = to_bytes(s)
    if not b:
        return ""
    width = max(width, 1)
    out = bytearray()
    offset, n = 0, len(b)
    while n - offset > width:
        if b[offset] == 0x20:
            offset += 1
            continue
        at = b.rfind(b" ", offset, width + offset + 1)
        if at >= offset:
            out += b[offset:at] + b"\n"
            offset = at + 1
        else:
            nxt = b.find(b" ", width + offset)
            if nxt < 0:
                out += b[offset:]
                offset = n
            else:
                out += b[offset:nxt] + b"\n"
                offset = nxt + 1
    out += b[offset:]
    return from_bytes(bytes(out))


def _is_connector(c: str) -> bool:
    return c in "-_" or c.isspace()


def _camelcase(s: str) -> str:
    if not s:
        return ""
    out: list[str] = []
    i = 0
    while i < len(s) and _is_connector(s[i]):
        out.append(s[i])
        i += 1
    if i >= len(s):
        return "".join(out)
    r0 = s[i].upper()
    for c in s[i + 1:]:
        r1, r0 = r0, c
        if _is_connector(r0) and _is_connector(r1):
            out.append(r1)
            continue
        if _is_connector(r1):
            r0 = r0.upper()
        else:
            r0 = r0.lower()
            out.append(r1)
    out.append(r0)
    return "".join(out)


def _is_alpha(c: str) -> bool:
    return c.isalpha() and not ("\u4e00" <= c <= "\u9fcc")


def _is_punct(c: str) -> bool:
    import unicodedata

    return unicodedata.category(c).startswith("P")


def _next_word(s: str) -> tuple[str, str, str]:
    """xstrings' nextWord: (word type, word, rest)."""
    if not s:
        return "invalid", "", ""
    r = s[0]
    off = 1
    if _is_connector(r):
        wt = "connector"
        while off < len(s) and _is_connector(s[off]):
            off += 1
    elif _is_punct(r):
        wt = "punct"
        while off < len(s) and _is_punct(s[off]):
            off += 1
    elif r.isupper():
        wt = "upper"
        if off < len(s):
            if s[off].isupper():
                while off < len(s) and s[off].isupper():
                    off += 1
                if off < len(s) and _is_alpha(s[off]):
                    off -= 1
            elif _is_alpha(s[off]):
                while off < len(s) and _is_alpha(s[off]) and not s[off].isupper():
                    off += 1
    elif _is_alpha(r):
        wt = "alpha"
        while off < len(s) and _is_alpha(s[off]) and not s[off].isupper():
            off += 1
    elif r.isnumeric():
        wt = "number"
        while off < len(s) and s[off].isnumeric():
            off += 1
    else:
        wt = "other"
        while off < len(s) and not (_is_connector(s[off]) or _is_alpha(s[off]) or s[off].isnumeric()
                                    or _is_punct(s[off])):
            off += 1
    return wt, s[:off], s[off:]


def _to_lower(out: list[str], wt: str, word: str, conn: str) -> None:
    if wt not in ("upper", "connector"):
        out.append(word)
        return
    out.extend(conn if _is_connector(c) else c.lower() if c.isupper() else c for c in word)


def _lower_case(s: str, conn: str) -> str:
    """xstrings' camelCaseToLowerCase (snakecase, kebabcase)."""
    if not s:
        return ""
    out: list[str] = []
    wt, word, rest = _next_word(s)
    while rest:
        if wt != "connector":
            _to_lower(out, wt, word, conn)
        prev, last = wt, word
        wt, word, rest = _next_word(rest)
        if prev == "number":
            while wt in ("alpha", "number"):
                _to_lower(out, wt, word, conn)
                wt, word, rest = _next_word(rest)
            if wt not in ("invalid", "punct", "connector"):
                out.append(conn)
        elif prev == "connector":
            _to_lower(out, prev, last, conn)
        elif prev == "punct":
            pass
        else:
            if wt != "number":
                if wt not in ("connector", "punct"):
                    out.append(conn)
                continue
            if not rest:
                continue
            last = word
            wt, word, rest = _next_word(rest)
            if wt != "alpha":
                _to_lower(out, "number", last, conn)
                if wt not in ("connector", "punct"):
                    out.append(conn)
                continue
            out.append(conn)
            _to_lower(out, "number", last, conn)
            while wt in ("alpha", "number"):
                _to_lower(out, wt, word, conn)
                wt, word, rest = _next_word(rest)
            if wt not in ("invalid", "connector", "punct"):
                out.append(conn)
    _to_lower(out, wt, word, conn)
    return "".join(out)


def _split_list(sep: str, s: str) -> StrList:
    if sep == "":
        return StrList(s)
    return StrList(s.split(sep))


def _split(sep: str, s: str) -> StrMap:
    return StrMap((f"_{i}", v) for i, v in enumerate(_split_list(sep, s)))


def _strslice(v: Any) -> StrList:
    check_size(v)
    if isinstance(v, list):
        return StrList(strval(x) for x in v if x is not None)
    if v is None:
        return StrList()
    return StrList([strval(v)])


def _sort_alpha(v: Any) -> StrList:
    if isinstance(v, list):
        return StrList(sorted(_strslice(v), key=to_bytes))
    return StrList([strval(v)])


def _replace_empty(s: str, new: str) -> str:
    """strings.Replace with an empty old string: new before every rune and at the end."""
    return new + "".join(c + new for c in s)


FUNCS: dict[str, Func] = {
    "trim": fn("string", None, lambda s: s.strip(" \t\n\r\v\f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                                                  "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")),
    "trimAll": fn("string string", None, lambda cut, s: s.strip(cut)),
    "trimall": fn("string string", None, lambda cut, s: s.strip(cut)),
    "trimPrefix": fn("string string", None, lambda p, s: s[len(p):] if p and s.startswith(p) else s),
    "trimSuffix": fn("string string", None, lambda x, s: s[:-len(x)] if x and s.endswith(x) else s),
    "upper": fn("string", None, lambda s: "".join(_rune_case(c, str.upper) for c in s)),
    "lower": fn("string", None, lambda s: "".join(_rune_case(c, str.lower) for c in s)),
    "title": fn("string", None, _title),
    "untitle": fn("string", None, _untitle),
    "repeat": fn("int string", None, _repeat),
    "substr": fn("int int string", None, _substr),
    "trunc": fn("int string", None, _trunc),
    "abbrev": fn("int string", None, _abbrev),
    "contains": fn("string string", None, lambda sub, s: sub in s),
    "hasPrefix": fn("string string", None, lambda p, s: s.startswith(p)),
    "hasSuffix": fn("string string", None, lambda x, s: s.endswith(x)),
    "quote": fn("", "any", _quote),
    "squote": fn("", "any", _squote),
    "cat": fn("", "any", _cat),
    "indent": fn("int string", None, _indent),
    "nindent": fn("int string", None, lambda n, s: "\n" + _indent(n, s)),
    "replace": fn("string string string", None,
                  lambda old, new, s: sized(s.replace(old, new)) if old else sized(_replace_empty(s, new))),
    "plural": fn("string string int", None, _plural),
    "snakecase": fn("string", None, lambda s: _lower_case(s, "_")),
    "kebabcase": fn("string", None, lambda s: _lower_case(s, "-")),
    "camelcase": fn("string", None, _camelcase),
    "wrap": fn("int string", None, _wrap),
    "nospace": fn("string", None, _nospace),
    "splitList": fn("string string", None, _split_list),
    "split": fn("string string", None, _split),
    "join": fn("string any", None, lambda sep, v: sized(sep.join(_strslice(v)))),
    "sortAlpha": fn("any", None, _sort_alpha),
    "toStrings": fn("any", None, _strslice),
    "toString": fn("any", None, strval),
}
