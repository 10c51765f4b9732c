"""What the per-object loops of the Vault kinds share (ClusterVaultSecret; the schedulers of VaultSecrets,
VaultPKISecrets, VaultPushSecrets and ExternalSecrets use the status write): the events that end a pause early (a spec
change, a Namespace event), the pause itself, and the status write (a kopf daemon gets no patch applied while it
runs)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

log = logging.getLogger("sealer.controller.vault")


class Wakers:
    """One asyncio Event per running loop, by object uid."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def wake(self, uid: str | None) -> None:
        event = self._events.get(uid or "")
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        for event in list(self._events.values()):
            event.set()

    def open(self, uid: str) -> asyncio.Event:
        return self._events.setdefault(uid, asyncio.Event())

    def close(self, uid: str, event: asyncio.Event) -> None:
        if self._events.get(uid) is event:
            del self._events[uid]


async def pause(stopped: Any, wake: asyncio.Event, delay: float | None) -> None:
    """Sleep until the delay is over (None: until woken), the object changed (wake) or the daemon must stop."""
    if delay is not None and math.isinf(delay):
        delay = None
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()


async def run(stopped: Any, uid: str, wakers: Wakers, step: Callable[[], Awaitable[float | None]],
              on_exit: Callable[[], None] | None = None) -> None:
    """`step()` (one pass: sync and status; returns the pause before the next) until the daemon stops."""
    wake = wakers.open(uid)
    try:
        while not stopped:
            wake.clear()
            await pause(stopped, wake, await step())
    finally:
        wakers.close(uid, wake)
        if on_exit is not None:
            on_exit()


def write_status(kube: Any, api_version: str, plural: str, body: Mapping[str, Any], st: Mapping[str, Any]) -> None:
    """Merge-patch an object's status subresource; an object deleted meanwhile has nothing to be told."""
    meta = body.get("metadata") or {}
    try:
        kube.patch_status(api_version, plural, meta.get("namespace"), meta.get("name"), dict(st))
    except Exception as e:
        if getattr(e, "status", None) != 404:
            log.warning("%s %s/%s: status not written (%s)", body.get("kind"), meta.get("namespace"), meta.get("name"),
                        getattr(e, "status", None) or type(e).__name__)
