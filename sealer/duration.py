"""Durations as Kubernetes users write them: Go's `1h30m`, `90s`, `250ms`, `1.5h`, `0`, and where a caller allows
it `30d`. One grammar for the controller's period flags and a VaultSecret's refreshInterval; callers word the error
(a flag, a spec field) themselves."""

from __future__ import annotations

import re

UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TERM = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_GO = re.compile(r"^(0|(\d+(\.\d+)?(ms|s|m|h))+)$")
_WITH_DAYS = re.compile(r"^(0|(\d+(\.\d+)?(ms|s|m|h|d))+)$")


def seconds(text: str, *, days: bool = False) -> float | None:
    """Seconds in ``text`` (surrounding blanks ignored), or None when it is not a duration. ``days``: also take
    `d` (Go's syntax has no days; the controller's flags do)."""
    text = str(text).strip()
    if not (_WITH_DAYS if days else _GO).match(text):
        return None
    return sum(float(n) * UNIT_SECONDS[u] for n, u in _TERM.findall(text))
