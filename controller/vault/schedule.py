"""When a VaultSecret's refresh loop reads Vault: pure decisions (no API, no clock of its own).

A restarted controller must not read every VaultSecret at once: one that is not due (its last successful sync,
`status.refreshTime`, plus refreshInterval is still ahead, for the spec generation it was made with) and whose
Secret is intact waits until it is due. Refreshes are spread: each object's interval gets a fixed extra delay
from a hash of its uid (up to 10% of the interval, at most 5 minutes), so objects created or restored together
drift apart instead of reading in step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping
from typing import Any

JITTER_FRACTION = 0.1
JITTER_CAP = 300.0  # seconds
NEVER = math.inf  # refreshInterval 0: read again only when woken (spec change, force-sync, drift)


def jitter(uid: str, interval: float) -> float:
    """The object's fixed share of min(10% of interval, JITTER_CAP): deterministic, so a restart keeps it."""
    if interval <= 0:
        return 0.0
    fraction = int.from_bytes(hashlib.sha256(b"sealer-refresh\0" + uid.encode()).digest()[:8], "big") / 2 ** 64
    return fraction * min(interval * JITTER_FRACTION, JITTER_CAP)


def refresh_delay(uid: str, interval: float) -> float:
    """Seconds from a successful sync to the next one (0 interval = NEVER)."""
    return interval + jitter(uid, interval) if interval > 0 else NEVER


def parse_time(value: Any) -> float | None:
    """An RFC 3339 timestamp as written in status (UTC, seconds) -> epoch seconds; None if absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def resume_delay(body: Mapping[str, Any], interval: float, now: float) -> float | None:
    """When a loop (re)starts: None = sync now; else seconds to wait (NEVER: until woken), provided the Secret
    still holds `status.dataHash` (the caller checks that, it needs the API). Sync now when there was no
    successful sync, the spec changed since (generation), or the last one failed. An overdue object waits only
    its jitter, so many overdue objects do not read in the same second."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if not status.get("dataHash"):
        return None
    generation = meta.get("generation")
    if generation is None or status.get("observedGeneration") != generation:
        return None
    ready = next((c for c in status.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") == "Ready"),
                 None)
    if ready is None or ready.get("status") != "True":
        return None
    last = parse_time(status.get("refreshTime"))
    if last is None:
        return None
    if interval <= 0:
        return NEVER
    uid = str(meta.get("uid") or "")
    wait = last + refresh_delay(uid, interval) - now
    if wait > interval + jitter(uid, interval):  # refreshTime in the future: a clock step; do not trust it
        return None
    return wait if wait > 0 else jitter(uid, interval)
