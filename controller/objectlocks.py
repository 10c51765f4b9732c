"""One lock per object: the kopf change handler, a resync pass and a drift restore may all reconcile the same
object at once, and the second must find the Secret the first wrote (then the unchanged shortcut answers with no
decryption) rather than decrypt it again beside it. Locks live only while held, so memory does not grow with the
number of objects ever seen; the keys released in the last RECENT seconds are remembered (a burst's worth), so a
reconcile that comes just after another one knows its body may be older than the Secret that one wrote."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

RECENT = 60.0  # seconds a released key counts as just reconciled


class ObjectLocks:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._guard = threading.Lock()
        self._held: dict[Hashable, list] = {}  # key -> [lock, number of threads holding or waiting]
        self._released: OrderedDict[Hashable, float] = OrderedDict()  # key -> when, oldest first
        self._clock = clock

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[bool]:
        """Yields True when another thread held or waited for this key as this one came, or released it less than
        RECENT seconds ago: it may have just written the Secret, so what this one's body says can be stale."""
        with self._guard:
            entry = self._held.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
            shared = entry[1] > 1 or self._clock() - self._released.get(key, -RECENT) < RECENT
        try:
            with entry[0]:
                yield shared
        finally:
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._held[key]
                now = self._clock()
                self._released.pop(key, None)
                self._released[key] = now
                while self._released and next(iter(self._released.values())) < now - RECENT:
                    self._released.popitem(last=False)

    def __len__(self) -> int:
        with self._guard:
            return len(self._held)
