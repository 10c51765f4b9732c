"""The refresh loop of one VaultSecret, run as a kopf daemon: sync in a worker thread, status through the API,
then sleep for refreshInterval plus the object's jitter (or backoff with jitter after a failure); a spec change
or the force-sync annotation wakes it at once.

A (re)started loop first asks `schedule.resume_delay`: a VaultSecret that is not due and whose Secret is intact
waits until due without reading Vault. Syncs run in a pool of their own, at most PER_STORE at once per store,
after waiting in asyncio for the store's rate limit: a slow, paused or rate-limited store holds neither the
event loop nor the threads other stores need.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from controller import status
from controller.vault import loop, schedule
from controller.vault import spec as vs
from controller.vault.data import read_parts, reads
from controller.vault.ratelimit import Limiter
from controller.vault.sync import Sync, VaultSync
from sealer.kube import API_VERSION

log = logging.getLogger("sealer.controller.vault")

POOL = 16  # worker threads for VaultSecret syncs (asyncio's default pool is min(32, CPUs + 4): 6 on 2 cores)
PER_STORE = 4  # syncs of one store in flight at once: one store can take at most this share of the pool


class Refresher:
    """The loops of every VaultSecret, and the events that wake them."""

    def __init__(self, vault: VaultSync) -> None:
        self.vault = vault
        self.wakers = loop.Wakers()
        self._slots: dict[tuple[str, str | None, str], asyncio.Semaphore] = {}
        self._pool: ThreadPoolExecutor | None = None

    def wake(self, uid: str | None) -> None:
        self.wakers.wake(uid)

    async def run(self, stopped: Any, body: Any, meta: Any) -> None:
        """Until kopf stops the daemon (the object is gone or the operator exits)."""
        uid = meta.get("uid") or ""
        wake = self.wakers.open(uid)
        try:
            delay = await self._thread(self._resume_delay, body)
            if delay is not None:
                log.debug("VaultSecret %s/%s: not due, next read in %.0f s", meta.get("namespace"), meta.get("name"),
                          delay)
                await loop.pause(stopped, wake, delay)
            while not stopped:
                wake.clear()
                started = time.monotonic()
                sync = await self._sync(stopped, body)
                if sync is None:
                    break
                patch = kopf.Patch()
                status.report("VaultSecret", sync.result, started, body, meta, patch)
                patch.status.update(sync.status)
                await asyncio.to_thread(loop.write_status, self.vault.controller.kube, API_VERSION, "vaultsecrets",
                                        body, patch.get("status") or {})
                delay = self.vault.next_delay(uid, sync)
                if sync.result.ready and delay:
                    delay = schedule.refresh_delay(uid, delay)
                await loop.pause(stopped, wake, delay)
        finally:
            self.wakers.close(uid, wake)
            self.vault.forget(uid)

    def _resume_delay(self, body: Any) -> float | None:
        """schedule.resume_delay, plus the Secret check it leaves to us (None: sync now)."""
        try:
            interval = vs.parse_vault_secret(body).refresh_seconds
        except Exception:
            return None
        delay = schedule.resume_delay(body, interval, time.time())
        if delay is None or not self.vault.intact(body):
            return None
        return delay

    async def _sync(self, stopped: Any, body: Any) -> Sync | None:
        """One sync in the pool, within the store's share of it and its rate (None: stopped while waiting)."""
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

