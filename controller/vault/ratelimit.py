"""Requests per second to one Vault store (`spec.requestsPerSecond`, `spec.burst`), shared by every VaultSecret
of the store, and the pause Vault asks for with HTTP 429 + Retry-After.

The waiting is done by the refresh loops in asyncio (`acquire`), not in worker threads: a store limited to a
fraction of a request per second, or paused, must not hold the threads other stores sync in. A request that was
not paid for that way (a login, a store check, a drift restoration) waits in its thread, but never longer than
`MAX_BLOCK` (then it goes; Vault's own quota answers 429 if it must, which pauses the store). So below
1 / MAX_BLOCK requests per second, a login or the second read of one sync may go sooner than the rate says.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

MAX_BLOCK = 10.0  # seconds a worker thread may wait for the limiter: as long as one slow Vault request
DEFAULT_PAUSE = 1.0  # after a 429 without Retry-After (hvac does not expose response headers)
MAX_PAUSE = 60.0  # a Retry-After above this is taken as this: a hostile server must not park a store for hours

# places taken in asyncio by the task whose worker thread runs now: [limiter, their times not used yet]
_CREDIT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("sealer_vault_credit", default=None)


class Limiter:
    """A token bucket in GCRA form (one 'theoretical arrival time'): `burst` requests at once, then `rate` per
    second, and no request while Vault asked for a pause. rate 0 = no limit (pauses still apply)."""

    def __init__(self, rate: float, burst: int = 0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = max(1, burst)  # 0 = 1: evenly spaced (at most rate + burst requests in any one second)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tat = clock()  # when the bucket is full again if nothing else is asked
        self._paused_until = 0.0

    @property
    def _step(self) -> float:
        return 1.0 / self.rate

    def _take(self, n: int) -> list[float]:
        """The (monotonic) times at which the next `n` requests may go, taken from the bucket now."""
        with self._lock:
            now = self._clock()
            slots = []
            for _ in range(max(1, n)):
                go = max(now, self._paused_until)
                if self.rate > 0:
                    go = max(go, self._tat - (self.burst - 1) * self._step)
                    self._tat = max(self._tat, go) + self._step
                slots.append(go)
            return slots

    def reserve(self, n: int = 1) -> float:
        """Take `n` requests' places now, without blocking: the seconds until the last of them may go."""
        return self._take(n)[-1] - self._clock()

    def refund(self, n: int) -> None:
        """Give back places taken but not used (a sync that needed fewer reads)."""
        if n > 0 and self.rate > 0:
            with self._lock:
                self._tat = max(self._clock(), self._tat - n * self._step)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def wait(self) -> None:
        """Before each request (in a worker thread). A request `acquire` took a place for waits for that place (its
        first one has come already) and any pause; any other takes a new place. Blocks at most MAX_BLOCK."""
        credit = _CREDIT.get()
        delay = None
        if credit is not None and credit[0] is self and credit[1]:
            slot = credit[1].pop(0)
            # a place more than one step in the past (the thread waited for a login, say) is dropped: using it
            # would send this request together with those that took the next places
            if self.rate <= 0 or self._clock() - slot <= self._step:
                delay = max(slot - self._clock(), self.paused_for())
        if delay is None:
            delay = self.reserve(1)
        delay = min(delay, MAX_BLOCK)
        if delay > 0:
            self._sleep(delay)

    async def acquire(self, n: int, stopped: Any = None) -> bool:
        """Take places for `n` requests and wait in asyncio until the first may go; the places are credited to
        this task's next worker thread (asyncio copies the context into `to_thread`/`run_in_executor` calls made
        after this), whose later requests wait there for theirs. False if `stopped` (an asyncio flag with
        `wait()`) came first: the places are given back."""
        slots = self._take(n)
        delay = slots[0] - self._clock()
        if delay > 0:
            if stopped is not None:
                try:
                    await asyncio.wait_for(stopped.wait(), timeout=delay)
                    self.refund(len(slots))
                    return False
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(delay)
        _CREDIT.set([self, slots])
        return True

    def settle(self) -> None:
        """After the thread that used the credit is done: places not used go back to the bucket."""
        credit = _CREDIT.get()
        if credit is not None and credit[0] is self:
            self.refund(len(credit[1]))
        _CREDIT.set(None)

    def pause(self, seconds: float) -> None:
        """Vault answered 429: no request to this store for `seconds` (Retry-After), and no burst after it."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._paused_until = max(self._paused_until, until)
            if self.rate > 0:  # the bucket starts empty at the end of the pause
                self._tat = max(self._tat, until + (self.burst - 1) * self._step)


def retry_after(error: BaseException, now: Callable[[], float] = time.time) -> float:
    """The pause a 429 asks for: its Retry-After header (seconds or an HTTP date) when the exception carries the
    response's headers, else DEFAULT_PAUSE; within 0..MAX_PAUSE."""
    headers: Mapping[str, str] | None = getattr(error, "headers", None)
    if headers is None:
        headers = getattr(getattr(error, "response", None), "headers", None)
    value = None
    if headers is not None:
        value = next((str(v) for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    if not value:
        return DEFAULT_PAUSE
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_PAUSE
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - now()
    if seconds != seconds:  # NaN
        return DEFAULT_PAUSE
    return min(MAX_PAUSE, max(0.0, seconds))
