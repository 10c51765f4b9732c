"""Durations as Kubernetes users write them: exactly what Go's `time.ParseDuration` accepts (`1h30m`, `90s`,
`250ms`, `1.5h`, `.5h`, `-2m`, `300us`, `0`), and where a caller allows it `30d`. One grammar for the controller's
period flags and a VaultSecret's refreshInterval (ESO's and Bitnami's are Go durations); callers refuse negatives
and word the error (a flag, a spec field) themselves.

`nanoseconds` follows Go's algorithm step by step (integer nanoseconds, a float64 only for a fraction, the same
overflow limits), so a value Go takes is taken with the same result and a value Go refuses is refused.
"""

from __future__ import annotations

NANOSECONDS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
               "m": 60_000_000_000, "h": 3_600_000_000_000}
DAY = 86_400_000_000_000
_LIMIT = 1 << 63  # Go's bound on the magnitude (a Duration is an int64 of nanoseconds)
_UINT64 = (1 << 64) - 1  # Go sums into a uint64, which wraps


def _digits(text: str, i: int) -> int:
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    return i


def nanoseconds(text: str, *, days: bool = False) -> int | None:
    """Signed nanoseconds in ``text``, or None when Go's `time.ParseDuration` refuses it. ``days``: also take `d`
    (Go's syntax has no days; the controller's flags do)."""
    units = {**NANOSECONDS, "d": DAY} if days else NANOSECONDS
    s = str(text)
    neg = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total, i = 0, 0
    while i < len(s):
        if not (s[i] == "." or "0" <= s[i] <= "9"):
            return None
        end = _digits(s, i)
        whole = 0
        for c in s[i:end]:  # Go's leadingInt: an error past 2**63
            if whole > _LIMIT // 10:
                return None
            whole = whole * 10 + ord(c) - 48
            if whole > _LIMIT:
                return None
        pre, i = end > i, end
        frac, scale, post = 0, 1.0, False
        if i < len(s) and s[i] == ".":
            end = _digits(s, i + 1)
            post = end > i + 1
            for c in s[i + 1:end]:  # Go's leadingFraction: stops gaining precision, never fails
                if frac > (_LIMIT - 1) // 10 or frac * 10 + ord(c) - 48 > _LIMIT:
                    break
                frac, scale = frac * 10 + ord(c) - 48, scale * 10
            i = end
        if not pre and not post:
            return None
        end = i
        while end < len(s) and not (s[end] == "." or "0" <= s[end] <= "9"):
            end += 1
        unit = units.get(s[i:end]) if end > i else None
        if unit is None:
            return None
        i = end
        if whole > _LIMIT // unit:
            return None
        value = whole * unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                return None
        total = (total + value) & _UINT64
        if total > _LIMIT:
            return None
    if not neg and total > _LIMIT - 1:
        return None
    return -total if neg else total


def seconds(text: str, *, days: bool = False) -> float | None:
    """Signed seconds in ``text``, or None when it is not a duration (see `nanoseconds`)."""
    found = nanoseconds(text, days=days)
    return None if found is None else found / 1e9
