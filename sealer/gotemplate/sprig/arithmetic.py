"""sprig's integer arithmetic (int64, wrapping as Go does) and float helpers."""

from __future__ import annotations

import math
import re
from typing import Any

from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig.cast import fn, to_float64, to_int64, wrap64
from sealer.gotemplate.values import GoError, Int64

# --- math --------------------------------------------------------------------------------------------------

def _add(*args: Any) -> Int64:
    return Int64(wrap64(sum(to_int64(a) for a in args)))


def _mul(a: Any, *args: Any) -> Int64:
    v = to_int64(a)
    for b in args:
        v = wrap64(v * to_int64(b))
    return Int64(v)


def _div(a: Any, b: Any) -> Int64:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise GoError("integer divide by zero")
    q = abs(x) // abs(y)
    return Int64(wrap64(q if (x >= 0) == (y >= 0) else -q))


def _mod(a: Any, b: Any) -> Int64:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise GoError("integer divide by zero")
    r = abs(x) % abs(y)
    return Int64(r if x >= 0 else -r)


def _max(a: Any, *rest: Any) -> Int64:
    return Int64(max([to_int64(a), *(to_int64(b) for b in rest)]))


def _min(a: Any, *rest: Any) -> Int64:
    return Int64(min([to_int64(a), *(to_int64(b) for b in rest)]))


def _round(a: Any, places: int, *opt: float) -> float:
    on = opt[0] if opt else 0.5
    val = to_float64(a)
    pw = math.pow(10, float(places))
    digit = pw * val
    frac = math.modf(digit)[0]
    r = math.ceil(digit) if frac >= on else math.floor(digit)
    return float(r) / pw


def _atoi(s: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        return 0
    v = int(s)
    return v if -(1 << 63) <= v < (1 << 63) else 0


FUNCS: dict[str, Func] = {
    "add": fn("", "any", _add),
    "add1": fn("any", None, lambda a: Int64(wrap64(to_int64(a) + 1))),
    "sub": fn("any any", None, lambda a, b: Int64(wrap64(to_int64(a) - to_int64(b)))),
    "mul": fn("any", "any", _mul),
    "div": fn("any any", None, _div),
    "mod": fn("any any", None, _mod),
    "max": fn("any", "any", _max),
    "biggest": fn("any", "any", _max),
    "min": fn("any", "any", _min),
    "floor": fn("any", None, lambda a: float(math.floor(to_float64(a))) if math.isfinite(to_float64(a))
                else to_float64(a)),
    "ceil": fn("any", None, lambda a: float(math.ceil(to_float64(a))) if math.isfinite(to_float64(a))
               else to_float64(a)),
    "round": fn("any int", "float64", _round),
    "atoi": fn("string", None, _atoi),
    "int": fn("any", None, lambda a: wrap64(to_int64(a))),
    "int64": fn("any", None, lambda a: Int64(wrap64(to_int64(a)))),
    "float64": fn("any", None, to_float64),
}
