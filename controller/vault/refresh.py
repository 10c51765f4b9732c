"""The refresh loop of one VaultSecret, run as a kopf daemon: sync in a worker thread, status through the API,
then sleep for refreshInterval (or backoff with jitter after a failure); a spec change or the force-sync
annotation wakes it at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import kopf

from controller import status
from controller.vault.sync import VaultSync


class Refresher:
    """The loops of every VaultSecret, and the events that wake them."""

    def __init__(self, vault: VaultSync) -> None:
        self.vault = vault
        self._wake: dict[str, asyncio.Event] = {}

    def wake(self, uid: str | None) -> None:
        event = self._wake.get(uid or "")
        if event is not None:
            event.set()

    async def run(self, stopped: Any, body: Any, meta: Any) -> None:
        """Until kopf stops the daemon (the object is gone or the operator exits)."""
        uid = meta.get("uid") or ""
        wake = self._wake.setdefault(uid, asyncio.Event())
        try:
            while not stopped:
                wake.clear()
                started = time.monotonic()
                sync = await asyncio.to_thread(self.vault.sync, body)
                patch = kopf.Patch()
                status.report("VaultSecret", sync.result, started, body, meta, patch)
                patch.status.update(sync.status)
                await asyncio.to_thread(self.vault.write_status, body, dict(patch.get("status") or {}))
                await _pause(stopped, wake, self.vault.next_delay(uid, sync))
        finally:
            if self._wake.get(uid) is wake:
                del self._wake[uid]
            self.vault.forget(uid)


async def _pause(stopped: Any, wake: asyncio.Event, delay: float | None) -> None:
    """Sleep until the delay is over, the object changed (wake) or the daemon is asked to stop."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
