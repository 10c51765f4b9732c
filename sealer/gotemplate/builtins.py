"""text/template's predefined functions (and, or, not, len, index, eq..., print*, html, js, urlquery, call)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from sealer.gotemplate.execute import Func
from sealer.gotemplate.values import GoError, StrMap, kind, sprint, sprintf, sprintln, to_bytes, truth


def _len(v: Any) -> int:
    if v is None:
        raise GoError("len of nil")
    if isinstance(v, str):
        return len(to_bytes(v))
    if isinstance(v, (list, dict)):
        return len(v)
    raise GoError(f"len of type {kind(v)}")


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise GoError("index of untyped nil")
    for ix in indexes:
        if item is None:
            raise GoError("index of untyped nil")
        if isinstance(item, (list, str)):
            if ix is None or kind(ix) != "int":
                raise GoError("cannot index slice/array with a non-integer")
            seq = to_bytes(item) if isinstance(item, str) else item
            if ix < 0 or ix >= len(seq):
                raise GoError("index out of range")
            item = seq[ix]
        elif isinstance(item, dict):
            if not isinstance(ix, str):
                raise GoError("index of a map must be a string")
            item = item.get(ix, "" if isinstance(item, StrMap) else None)  # (the zero value of the element)
        else:
            raise GoError(f"can't index item of type {kind(item)}")
    return item


def _basic(v: Any) -> str:
    k = kind(v)
    return k if k in ("bool", "int", "float", "string") else "other"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise GoError("missing argument for comparison")
    ka = _basic(a)
    for b in others:
        kb = _basic(b)
        if ka != kb:
            if a is not None and b is not None:
                raise GoError("incompatible types for comparison")
            continue
        if ka == "other":
            if a is None or b is None:
                if a is None and b is None:
                    return True
                continue
            raise GoError("non-comparable types")
        if a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _basic(a), _basic(b)
    if ka == "other" or kb == "other":
        raise GoError("invalid type for comparison")
    if ka != kb:
        raise GoError("incompatible types for comparison")
    if ka == "bool":
        raise GoError("invalid type for comparison")
    return a < b


def _args_string(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None else a for a in args])  # (text/template's evalArgs)


_HTML = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}


def _html(*args: Any) -> str:
    return "".join(_HTML.get(c, c) for c in _args_string(args))


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def _js(*args: Any) -> str:
    out = []
    for c in _args_string(args):
        if c in _JS:
            out.append(_JS[c])
        elif c < " ":
            out.append(f"\\u{ord(c):04X}")
        elif ord(c) < 0x80 or (c.isprintable() and not 0xDC80 <= ord(c) <= 0xDCFF):
            out.append(c)
        else:
            out.append("\\uFFFD" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04X}")
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return quote_plus(to_bytes(_args_string(args)), safe="")


def _call(fn: Any, *args: Any) -> Any:
    raise GoError("call of a non-function")


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, list(args))


BUILTINS: dict[str, Func] = {
    "and": Func(("value",), "value", lambda *a: None),  # short-circuits in the executor
    "or": Func(("value",), "value", lambda *a: None),
    "not": Func(("value",), None, lambda v: not truth(v)),
    "len": Func(("value",), None, _len),
    "index": Func(("value",), "value", _index),
    "eq": Func(("value",), "value", _eq),
    "ne": Func(("value", "value"), None, lambda a, b: not _eq(a, b)),
    "lt": Func(("value", "value"), None, _lt),
    "le": Func(("value", "value"), None, lambda a, b: _lt(a, b) or _eq(a, b)),
    "gt": Func(("value", "value"), None, lambda a, b: not (_lt(a, b) or _eq(a, b))),
    "ge": Func(("value", "value"), None, lambda a, b: not _lt(a, b)),
    "html": Func((), "any", _html),
    "js": Func((), "any", _js),
    "urlquery": Func((), "any", _urlquery),
    "print": Func((), "any", lambda *a: sprint(list(a))),
    "println": Func((), "any", lambda *a: sprintln(list(a))),
    "printf": Func(("string",), "any", _printf),
    "call": Func(("value",), "value", _call),
}
