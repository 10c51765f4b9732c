"""One lock per object: the kopf change handler, a resync pass and a drift restore may all reconcile the same
object at once, and the second must find the Secret the first wrote (then the unchanged shortcut answers with no
decryption) rather than decrypt it again beside it. Locks live only while held, so memory does not grow with the
number of objects ever seen."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class ObjectLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[Hashable, list] = {}  # key -> [lock, number of threads holding or waiting]

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[bool]:
        """Yields True when another thread held or waited for this key as this one came: it may have just
        written the Secret, so what this one's body says about it can be stale."""
        with self._guard:
            entry = self._held.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
            shared = entry[1] > 1
        try:
            with entry[0]:
                yield shared
        finally:
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._held[key]

    def __len__(self) -> int:
        with self._guard:
            return len(self._held)
