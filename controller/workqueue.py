"""A work queue keyed by object, as client-go's: an object waits at most once however many events it gets (the
newest body wins), is never worked on by two threads at once, and one that failed is tried again after a backoff
(1 s, doubling to 60 s) unless a newer event brings it back sooner. It holds an object only while its work is
pending, so memory does not grow with the number of objects watched."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger("sealer.controller")
Work = Callable[[Any], bool]  # the newest body -> done (False: try again after a backoff)


class WorkQueue:
    def __init__(self, work: Work, workers: int, name: str, backoff: tuple[float, float] = (1.0, 60.0),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.work, self.workers, self.name = work, workers, name
        self.backoff, self.clock = backoff, clock
        self._cond = threading.Condition()
        self._latest: dict[Hashable, Any] = {}  # key -> the newest body not yet worked on
        self._ready: deque[Hashable] = deque()
        self._queued: set[Hashable] = set()  # in _ready
        self._busy: set[Hashable] = set()
        self._later: list[tuple[float, int, Hashable]] = []  # (due, tie-break, key): failed, to try again
        self._failures: dict[Hashable, int] = {}
        self._seq = itertools.count()
        self._stopped = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._worker, name=f"{self.name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Workers finish the item in hand; pending work is dropped (the next operator run's pass sees it)."""
        with self._cond:
            self._stopped = True
            self._latest.clear()
            self._ready.clear()
            self._queued.clear()
            self._later.clear()
            self._cond.notify_all()

    def put(self, key: Hashable, body: Any) -> None:
        with self._cond:
            if self._stopped:
                return
            self._latest[key] = body
            self._failures.pop(key, None)  # a new event: no backoff owed
            self._enqueue(key)

    def _enqueue(self, key: Hashable) -> None:
        if key not in self._queued and key not in self._busy:
            self._ready.append(key)
            self._queued.add(key)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._latest)

    def _next(self) -> tuple[Hashable, Any] | None:
        with self._cond:
            while not self._stopped:
                now = self.clock()
                while self._later and self._later[0][0] <= now:
                    _, _, key = heapq.heappop(self._later)
                    if key in self._latest:
                        self._enqueue(key)
                if self._ready:
                    key = self._ready.popleft()
                    self._queued.discard(key)
                    self._busy.add(key)
                    return key, self._latest.pop(key)
                self._cond.wait(self._later[0][0] - now if self._later else None)
            return None

    def _worker(self) -> None:
        while (item := self._next()) is not None:
            key, body = item
            try:
                done = self.work(body)
            except Exception as e:  # the work reports its own failures; this is a bug, retried all the same
                log.warning("%s: work failed (%s)", self.name, type(e).__name__)
                done = False
            with self._cond:
                self._busy.discard(key)
                if key in self._latest:  # a newer event came meanwhile: that body next
                    self._enqueue(key)
                elif done:
                    self._failures.pop(key, None)
                elif not self._stopped:
                    tries = self._failures[key] = self._failures.get(key, 0) + 1
                    delay = min(self.backoff[1], self.backoff[0] * 2 ** (tries - 1))
                    self._latest[key] = body
                    heapq.heappush(self._later, (self.clock() + delay, next(self._seq), key))
                    self._cond.notify()
