"""Resume and resync of SealedSecrets and SopsSecrets as one pass over the kind, not a loop per object.

kopf would run a resume handler for each object it sees at start and keep a daemon (a task, its frames, its
waiters) per object for the resync timer: ~21 KiB and most of a restart's CPU per object before any work. A pass
instead reads the kind a page at a time (memory: one page however many objects there are) and finds each object's
Secret in what the produced-Secret watch keeps of it (`controller.secretwatch.ProducedSecrets`: the Secrets are
listed once, by that watch, not again by every pass), so an object whose Secret is the version its status records
(see `controller.digest`) costs no decryption and no API call of its own, and is checked on the pass's own thread
(pure Python: more threads only fight for the GIL; a restart with 5,000 took 1.0-1.2 s of CPU that way, 2.5 s on four
threads); the others, which may decrypt or write, on a few threads. One pass runs when an operator run starts (what
resume did, including changes made while the controller was down), then every `--resync-period`, at once when this
replica becomes the active one (kopf peering), and after a gap in the watch of changes (`controller.changes`, which
serves changes between passes).

Status and Events are written as a handler's would be (Events through the API client: there is no kopf handler
around a pass).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from controller import digest, metrics, status
from controller.changes import Changes
from controller.decryptpool import cores
from controller.logsafety import about
from sealer.kube import VERSION

log = logging.getLogger("sealer.controller")
HINTS_WAIT = 120.0  # seconds a pass waits for the produced-Secret watch's first list before going without hints
Reconcile = Callable[[Mapping[str, Any], Any], Any]  # (object, the Secret as listed or None) -> Result


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Sweeper:
    """The passes of one kind. ``reconcile(body, hint)``: ``hint`` is the slim copy the produced-Secret watch keeps
    (None: unknown), good for the version check only; anything else reads the Secret again."""

    def __init__(self, app: Any, kind: str, plural: str, groups: tuple[str, ...], reconcile: Reconcile,
                 interval: float) -> None:
        self.app, self.kind, self.plural, self.groups = app, kind, plural, groups
        self.reconcile, self.interval = reconcile, interval
        self.parallel = max(4, 2 * cores())
        self._post = status.api_poster(lambda: app.controller.kube)
        self._stopped = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        app.when_active(self.wake)

    # --- a pass (in threads) -----------------------------------------------------------------------------------

    def _pairs(self) -> Iterator[tuple[dict[str, Any], Any]]:
        kube, index = self.app.controller.kube, self.app.produced_secrets
        hints = index.wait(HINTS_WAIT, self._stopped.is_set)
        if not hints:
            log.info("%s pass: the produced-Secret watch has not listed yet; each object reads its Secret",
                     self.kind)
        for group in self.groups:
            for ns in self.app.served.namespaces or (None,):  # None: every namespace, one paged list
                for obj in kube.iter_objects(f"{group}/{VERSION}", self.plural, namespace=ns):
                    obj.setdefault("apiVersion", f"{group}/{VERSION}")
                    obj.setdefault("kind", self.kind)
                    meta = obj.get("metadata") or {}
                    if not meta.get("deletionTimestamp") and self.app.in_scope(meta.get("namespace"),
                                                                               meta.get("labels")):
                        namespace, name = _key(obj)
                        yield obj, index.get(namespace, name, self.kind) if hints else None

    def one_pass(self, reason: str) -> int:
        """Reconcile every served object once; the number reconciled."""
        if not self.app.active():
            log.info("%s %s: standing by (kopf peering: another replica is active)", self.kind, reason)
            return 0
        started = time.monotonic()
        done, lock = [0], threading.Lock()
        slots = threading.BoundedSemaphore(2 * self.parallel)  # objects handed on and not done: memory stays flat
        series = metrics.conditions_observed() if self.kind in status.SYNCED_KINDS else set()
        listed: set[tuple[str, str]] = set()

        def one(obj: dict[str, Any], hint: Any) -> None:
            try:
                self._one(obj, hint)
                with lock:
                    done[0] += 1
            finally:
                slots.release()

        try:
            with ThreadPoolExecutor(self.parallel, thread_name_prefix=f"{self.kind}-pass") as pool:
                for obj, hint in self._pairs():
                    if self._stopped.is_set():
                        break
                    listed.add(_key(obj))
                    slots.acquire()
                    if hint is not None and digest.untouched(obj, hint):
                        one(obj, hint)  # most likely unchanged, pure Python: here (threads would fight for the GIL)
                    else:
                        pool.submit(one, obj, hint)  # may decrypt or write: waits on the API and the decrypt pool
            if not self._stopped.is_set():  # a whole list: a series it did not find is of an object gone unseen
                for owner in series - listed:  # (deleted while the watch had a gap, or out of scope now)
                    metrics.forget_conditions(*owner)
        except Exception as e:  # a failed list: the next pass tries again; handlers still serve changes
            log.warning("%s %s: objects not listed (%s)", self.kind, reason,
                        getattr(e, "status", None) or type(e).__name__)
        seconds = time.monotonic() - started
        metrics.SWEEP_SECONDS.set(seconds, self.kind)
        log.info("%s %s: %d object(s) in %.1f s", self.kind, reason, done[0], seconds)
        return done[0]

    def _one(self, obj: dict[str, Any], hint: Any) -> bool:
        """Reconcile and report one object; False when it failed in a way worth trying again (an API error).
        ``hint`` None: looked up now."""
        meta = obj.get("metadata") or {}
        started = time.monotonic()
        if hint is None:  # what the produced-Secret watch knows of the Secret now (a pass's listing can be older)
            hint = self.app.produced_secrets.get(*_key(obj), self.kind)
        try:
            result = self.reconcile(obj, hint)
            patch = kopf.Patch()
            status.report(self.kind, result, started, obj, meta, patch, post=self._post)
            self.app.write_status(obj, self.plural, patch)
            if log.isEnabledFor(logging.DEBUG):  # `about` builds a dict: not for each of 10,000 objects unasked
                log.debug("%s %s/%s reconciled (%s)", self.kind, meta.get("namespace"), meta.get("name"),
                          result.reason, extra=about(obj))
            return True
        except Exception as e:  # one object's failure never stops the pass
            log.warning("%s %s/%s: reconcile failed (%s)", self.kind, meta.get("namespace"), meta.get("name"),
                        getattr(e, "status", None) or type(e).__name__, extra=about(obj))
            return False

    def changed(self, obj: dict[str, Any]) -> bool:
        """A new or edited object (`controller.changes`)."""
        return self._one(obj, None)

    # --- the loop of one operator run ------------------------------------------------------------------------

    async def run(self) -> None:
        """A pass at once (the resume), then one every interval, or when woken, until `stop`."""
        self._stopped.clear()
        wake = asyncio.Event()
        self._wake, self._loop = wake, asyncio.get_running_loop()
        await asyncio.to_thread(self.one_pass, "resume")
        while not self._stopped.is_set():
            try:
                await asyncio.wait_for(wake.wait(), timeout=self.interval if self.interval > 0 else None)
                reason = "catch-up"
            except TimeoutError:
                reason = "resync"
            wake.clear()
            if not self._stopped.is_set():
                await asyncio.to_thread(self.one_pass, reason)

    def wake(self) -> None:
        """From any thread: a pass now (this replica just became the active one)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stopped.set()
        self.wake()


def register(registry: kopf.OperatorRegistry, sweeper: Sweeper, id: str) -> None:
    """With each operator run: watch the kind for changes (`controller.changes`), then start the passes (the first
    one is the resume); stop both at the run's end."""
    tasks: list[asyncio.Task[None]] = []
    changes = Changes(sweeper.app, sweeper.kind, sweeper.plural, sweeper.groups, sweeper.changed, sweeper.wake,
                      sweeper.parallel)

    @kopf.on.startup(id=f"{id}_start", registry=registry)
    async def start(**_: Any) -> None:
        await asyncio.to_thread(changes.start)  # the watches' versions first: the resume pass covers the rest
        tasks.append(asyncio.create_task(sweeper.run(), name=f"{id} passes"))

    @kopf.on.cleanup(id=f"{id}_stop", registry=registry)
    async def stop(**_: Any) -> None:
        changes.stop()
        sweeper.stop()
        for task in tasks:
            task.cancel()
        tasks.clear()
