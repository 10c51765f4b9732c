"""sprig's defaults, lists and dicts (merge follows mergo's rules)."""

from __future__ import annotations

from typing import Any

from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig.cast import MAX_STRING, fn, strval, to_int64
from sealer.gotemplate.values import GoError, StrList, kind, truth

# --- defaults ----------------------------------------------------------------------------------------------

def _default(d: Any, *given: Any) -> Any:
    if not given or not truth(given[0]):
        return d
    return given[0]


def _coalesce(*args: Any) -> Any:
    return next((a for a in args if truth(a)), None)


def _ternary(vt: Any, vf: Any, cond: bool) -> Any:
    return vt if cond else vf


# --- lists -------------------------------------------------------------------------------------------------

def _seq(v: Any, what: str) -> list[Any]:
    if isinstance(v, list):
        return v
    if v is None:
        raise GoError(f"cannot {what} on nil")
    raise GoError(f"cannot {what} on type {kind(v)}")


def _first(v: Any) -> Any:
    s = _seq(v, "find first")
    return s[0] if s else None


def _last(v: Any) -> Any:
    s = _seq(v, "find last")
    return s[-1] if s else None


def _rest(v: Any) -> Any:
    s = _seq(v, "find rest")
    return list(s[1:]) if s else []


def _initial(v: Any) -> Any:
    s = _seq(v, "find initial")
    return list(s[:-1]) if s else []


def _append(v: Any, x: Any) -> list[Any]:
    return _sized_list([*_seq(v, "push"), x])


def _prepend(v: Any, x: Any) -> list[Any]:
    return _sized_list([x, *_seq(v, "prepend")])


def _sized_list(v: list[Any]) -> list[Any]:
    if len(v) > MAX_STRING:
        raise GoError(f"list longer than {MAX_STRING}")
    return v


def _concat(*lists: Any) -> Any:
    out: list[Any] = []
    for x in lists:
        out.extend(_seq(x, "concat"))
    return _sized_list(out)


def _deep_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    return a == b


def _in(items: list[Any], x: Any) -> bool:
    return any(_deep_equal(x, y) for y in items)


def _uniq(v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _seq(v, "find uniq"):
        if not _in(out, x):
            out.append(x)
    return out


def _without(v: Any, *omit: Any) -> list[Any]:
    return [x for x in _seq(v, "find without") if not _in(list(omit), x)]


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    return _in(_seq(haystack, "find has"), needle)


def _compact(v: Any) -> list[Any]:
    return [x for x in _seq(v, "compact") if truth(x)]


def _slice(v: Any, *indices: Any) -> Any:
    if not isinstance(v, list):
        raise GoError("list should be type of slice or array")
    if not v:
        return None
    start = to_int64(indices[0]) if indices else 0
    end = to_int64(indices[1]) if len(indices) > 1 else len(v)
    if not 0 <= start <= end <= len(v):
        raise GoError("slice bounds out of range")
    return type(v)(v[start:end])


# --- dicts -------------------------------------------------------------------------------------------------

def _dict(*args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        out[strval(args[i])] = args[i + 1] if i + 1 < len(args) else ""
    return out


def _need_map(d: Any) -> dict[str, Any]:
    if d is None:
        raise GoError("assignment to entry in nil map")
    return d


def _set(d: Any, k: str, v: Any) -> dict[str, Any]:
    _need_map(d)[k] = v
    return d


def _unset(d: Any, k: str) -> Any:
    if d is not None:
        d.pop(k, None)
    return d


def _pluck(k: str, *ds: Any) -> list[Any]:
    return [d[k] for d in ds if d is not None and k in d]


def _keys(*ds: Any) -> StrList:
    return StrList(k for d in ds if d for k in sorted(d))


def _values(d: Any) -> list[Any]:
    return [d[k] for k in sorted(d)] if d else []


def _pick(d: Any, *ks: str) -> dict[str, Any]:
    return {k: d[k] for k in ks if d is not None and k in d}


def _omit(d: Any, *ks: str) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k not in ks}


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise GoError("dig needs at least three arguments")
    d, default, ks = args[-1], args[-2], args[:-2]
    if type(d) is not dict or not all(isinstance(k, str) for k in ks):
        raise GoError("dig: wrong argument type")
    for i, k in enumerate(ks):
        if k not in d:
            return default
        if i == len(ks) - 1:
            return d[k]
        d = d[k]
        if type(d) is not dict:
            raise GoError("dig: not a map")
    return default


def _merge_into(dst: dict[str, Any], src: dict[str, Any], overwrite: bool) -> None:
    """mergo.Merge / MergeWithOverwrite on map[string]interface{} (what sprig's merge calls), rule for rule."""
    for key, sv in src.items():
        present = key in dst
        dv = dst.get(key)
        if sv is None:
            if overwrite:
                dst[key] = None
            continue
        if isinstance(sv, dict) and type(dv) is dict:
            _merge_into(dv, sv, overwrite)
        elif isinstance(sv, list) and overwrite:  # (mergo sets a slice before its emptiness checks)
            dst[key] = sv
            continue
        if present and truth(dv) and isinstance(sv, (dict, list)):
            continue
        if overwrite or not present or not truth(dv):
            dst[key] = sv


def _merge(overwrite: bool) -> Any:
    def merge(dst: Any, *srcs: Any) -> Any:
        if dst is None:
            raise GoError("merge into a nil map")
        for src in srcs:
            if src:
                _merge_into(dst, src, overwrite)
        return dst
    return merge


def _fail(message: str) -> str:
    raise GoError("the template called fail")  # (its message may hold a secret value)


FUNCS: dict[str, Func] = {
    "default": fn("any", "any", _default),
    "empty": fn("any", None, lambda v: not truth(v)),
    "coalesce": fn("", "any", _coalesce),
    "all": fn("", "any", lambda *a: all(truth(x) for x in a)),
    "any": fn("", "any", lambda *a: any(truth(x) for x in a)),
    "ternary": fn("any any bool", None, _ternary),
    "fail": fn("string", None, _fail),
    "list": fn("", "any", lambda *a: list(a)),
    "tuple": fn("", "any", lambda *a: list(a)),
    "first": fn("any", None, _first),
    "last": fn("any", None, _last),
    "rest": fn("any", None, _rest),
    "initial": fn("any", None, _initial),
    "append": fn("any any", None, _append),
    "push": fn("any any", None, _append),
    "prepend": fn("any any", None, _prepend),
    "concat": fn("", "any", _concat),
    "reverse": fn("any", None, lambda v: list(reversed(_seq(v, "find reverse")))),
    "uniq": fn("any", None, _uniq),
    "without": fn("any", "any", _without),
    "has": fn("any any", None, _has),
    "compact": fn("any", None, _compact),
    "slice": fn("any", "any", _slice),
    "dict": fn("", "any", _dict),
    "get": fn("map string", None, lambda d, k: d[k] if d is not None and k in d else ""),
    "set": fn("map string any", None, _set),
    "unset": fn("map string", None, _unset),
    "hasKey": fn("map string", None, lambda d, k: d is not None and k in d),
    "pluck": fn("string", "map", _pluck),
    "keys": fn("", "map", _keys),
    "values": fn("map", None, _values),
    "pick": fn("map", "string", _pick),
    "omit": fn("map", "string", _omit),
    "dig": fn("", "any", _dig),
    "merge": fn("map", "map", _merge(False)),
    "mergeOverwrite": fn("map", "map", _merge(True)),
}
