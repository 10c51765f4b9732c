"""How a VaultSecret is refreshed: when a (re)started controller first reads it, and one sync in the pool. The
scheduling itself (one loop for every VaultSecret, no task per object) is `controller.vault.scheduler`.

A VaultSecret that is not due (`schedule.resume_delay`) and whose Secret is intact waits until due without
reading Vault. Syncs run in a pool of their own, at most PER_STORE at once per store, after waiting in asyncio for
the store's rate limit: a slow, paused or rate-limited store holds neither the event loop nor the threads other
stores need.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from controller.vault import schedule
from controller.vault import spec as vs
from controller.vault.data import read_parts, reads
from controller.vault.ratelimit import Limiter
from controller.vault.sync import Sync, VaultSync

log = logging.getLogger("sealer.controller.vault")

POOL = 16  # worker threads for VaultSecret syncs (asyncio's default pool is min(32, CPUs + 4): 6 on 2 cores)
PER_STORE = 4  # syncs of one store in flight at once: one store can take at most this share of the pool


class Refresher:
    """The refresh of every VaultSecret: the sync and its limits here, the schedule in `scheduler` (one per
    operator run, set by the VaultSecret handlers)."""

    def __init__(self, vault: VaultSync) -> None:
        self.vault = vault
        self.scheduler: Any = None  # controller.vault.scheduler.Scheduler of the operator run, while it runs
        self._slots: dict[tuple[str, str | None, str], asyncio.Semaphore] = {}
        self._pool: ThreadPoolExecutor | None = None

    def wake(self, uid: str | None) -> None:
        """Sync the VaultSecret now (from any thread)."""
        scheduler = self.scheduler
        if scheduler is not None:
            scheduler.wake(uid)

    def _resume_delay(self, body: Any, listed: Mapping[str, Any] | None = None) -> float | None:
        """schedule.resume_delay, plus the Secret check it leaves to us (None: sync now). ``listed``: the produced
        Secrets of the object's namespace by name, as a pass just listed them (one not there is read)."""
        try:
            spec = vs.parse_vault_secret(body)
        except Exception:
            return None
        delay = schedule.resume_delay(body, spec.refresh_seconds, time.time())
        if delay is None or not self.vault.intact(body, listed, spec):
            return None
        return delay

    async def _sync(self, stopped: Any, body: Any) -> Sync | None:
        """One sync in the pool, within the store's share of it and its rate (None: stopped while waiting).
        ``stopped``: a flag with `wait()` (`scheduler.Stopped`)."""
        try:
            spec = vs.parse_vault_secret(body)
        except Exception:  # the sync reports it
            return await self._thread(self.vault.sync, body)
        key = (spec.store_kind, spec.namespace if spec.store_kind == "VaultStore" else None, spec.store_name)
        slot = self._slots.setdefault(key, asyncio.Semaphore(PER_STORE))
        async with slot:
            client = self.vault.clients.find(*key)
            limiter: Limiter | None = client.limiter if client is not None else None
            if limiter is not None and not await limiter.acquire(_requests(spec), stopped):
                return None
            try:
                return await self._thread(self.vault.sync, body)
            finally:
                if limiter is not None:
                    limiter.settle()

    async def _thread(self, fn: Any, *args: Any) -> Any:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(POOL, thread_name_prefix="sealer-vault")
        call = functools.partial(contextvars.copy_context().run, fn, *args)  # carries the limiter's credit
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)


def _requests(spec: vs.VaultSecretSpec) -> int:
    """The requests one sync makes to its own store, as far as the spec tells: one per read of that store, one
    list per `find` (what it matches is read after, uncredited). Items of other stores wait in the thread."""
    try:
        n = sum(1 for key in reads(spec) if read_parts(key)[2] is None)
        n += sum(1 for src in spec.data_from if getattr(src, "find", None) is not None
                 and getattr(src, "store", None) is None)
    except Exception:  # the sync reports a spec it cannot read
        return 1
    return max(1, n)

