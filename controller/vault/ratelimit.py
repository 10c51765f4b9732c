"""Requests per second to one Vault store (`spec.requestsPerSecond`, `spec.burst`), shared by every VaultSecret
of the store, and the pause Vault asks for with HTTP 429 + Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Limiter:
    """A token bucket: `wait()` before each request blocks until the store's rate allows it. rate 0 = no limit."""

    def __init__(self, rate: float, burst: int = 0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = burst or max(1, int(rate))
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._at = clock()
        self._paused_until = 0.0

    def wait(self) -> None:
        """Block until one request may go."""
        while True:
            with self._lock:
                now = self._clock()
                delay = self._paused_until - now
                if delay <= 0 and self.rate <= 0:
                    return
                if delay <= 0:
                    self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
                    self._at = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    delay = (1 - self._tokens) / self.rate
            self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Vault answered 429: no request to this store for `seconds` (Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
