"""What sprig's functions share: spf13/cast's conversions (toInt64, toFloat64), fmt's %v for strval, the size
limit on strings a function builds, and the table-entry helper."""

from __future__ import annotations

import math
from typing import Any

from sealer.gotemplate.execute import Func
from sealer.gotemplate.values import GoError, sprint_v


def fn(params: str, variadic: str | None, impl: Any) -> Func:
    """A table entry: Go parameter kinds as a space-separated string, the variadic tail's kind or None."""
    return Func(tuple(params.split()) if params else (), variadic, impl)


MAX_STRING = 1 << 20


def sized(s: str) -> str:
    if len(s) > MAX_STRING:
        raise GoError(f"result larger than {MAX_STRING} bytes")
    return s


def strval(v: Any) -> str:
    return v if isinstance(v, str) else sprint_v(v)


def _parse_int(s: str) -> int | None:
    from sealer.gotemplate.parser import parse_int

    return parse_int(_trim_zero_decimal(s)) if s else None


def _trim_zero_decimal(s: str) -> str:
    found_zero = False
    for i in range(len(s), 0, -1):
        c = s[i - 1]
        if c == ".":
            if found_zero:
                return s[:i - 1]
        elif c == "0":
            found_zero = True
        else:
            return s
    return s


def to_int64(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return -(1 << 63)
        return int(v)
    if isinstance(v, str):
        n = _parse_int(v)
        return 0 if n is None else n
    return 0


def to_float64(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, (bool, int, float)):
        return float(v)
    if isinstance(v, str):
        from sealer.gotemplate.parser import parse_float

        f = parse_float(v) if v.strip() == v and v else None
        return 0.0 if f is None else f
    return 0.0


def wrap64(n: int) -> int:
    return (n + (1 << 63)) % (1 << 64) - (1 << 63)
