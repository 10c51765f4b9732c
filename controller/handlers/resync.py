"""Per-object loops that put no finalizer on their objects (a ClusterVaultSecret's; the kinds that come by the
thousand run on schedulers instead, `scheduled`).

kopf gives every object with a timer or daemon a finalizer (`kopf.timer` and `kopf.daemon` register
`requires_finalizer=True`): an object deleted without one vanishes with no deletionTimestamp in its DELETED event, so
kopf would not know to stop the loop. A resync or refresh needs nothing done at deletion (the Secret goes by garbage
collection of its ownerReference), so the loops here are daemons registered without a finalizer that end themselves
when an event handler sees their object DELETED.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import kopf


class Gone:
    """Deleted objects by uid, for the loops of one resource: set from its DELETED events."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def watch(self, uid: str) -> asyncio.Event:
        return self._events.setdefault(uid, asyncio.Event())

    def mark(self, uid: str) -> None:
        event = self._events.get(uid)
        if event is not None:
            event.set()

    def drop(self, uid: str) -> None:
        self._events.pop(uid, None)


class Until:
    """kopf's `stopped` flag or the object's deletion, whichever comes first: what a loop waits on."""

    def __init__(self, stopped: Any, gone: asyncio.Event) -> None:
        self.stopped, self.gone = stopped, gone

    def __bool__(self) -> bool:
        return bool(self.stopped) or self.gone.is_set()

    async def wait(self) -> None:
        waits = [asyncio.ensure_future(self.stopped.wait()), asyncio.ensure_future(self.gone.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()


def daemon(registry: kopf.OperatorRegistry, group: str, version: str, plural: str, *, id: str, when: Any,
           run: Callable[[Until, Any, Any], Awaitable[None]],
           on_gone: Callable[[Any], None] | None = None, **options: Any) -> None:
    """``run(until, body, meta)`` as a kopf daemon per object, without a finalizer; it must return once ``until``
    is true. ``on_gone(body)``: also called when an object is deleted."""
    gone = Gone()

    async def loop(stopped: Any, body: Any, meta: Any, **_: Any) -> None:
        uid = str(meta.get("uid") or "")
        try:
            await run(Until(stopped, gone.watch(uid)), body, meta)
        finally:
            gone.drop(uid)

    async def deleted(type: str | None, body: Any, **_: Any) -> None:
        if type == "DELETED":
            gone.mark(str((body.get("metadata") or {}).get("uid") or ""))
            if on_gone is not None:
                on_gone(body)

    kopf.daemon(group, version, plural, id=id, when=when, registry=registry, **options)(loop)
    # only DELETED events reach the handler: kopf then skips the others before invoking (and logging) anything
    kopf.on.event(group, version, plural, id=f"{id}_gone", when=deletion, registry=registry)(deleted)
    spawning = registry._spawning  # kopf has no option for this; its handlers are frozen dataclasses
    spawning._handlers = [dataclasses.replace(h, requires_finalizer=False) if h.id == id else h
                          for h in spawning._handlers]


def deletion(type: str | None, **_: Any) -> bool:
    return type == "DELETED"
