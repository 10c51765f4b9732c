"""Every VaultSecret's refreshes from one asyncio loop: a heap of due times, not a kopf daemon per object (one
scheduler each does the same for VaultPKISecrets, VaultPushSecrets and, with --eso-compat, ESO's ExternalSecrets:
`Kind` says what differs).

A kopf daemon per VaultSecret (a task, its frames and waiters, kopf's per-object state) cost ~50-87 KiB of RSS
each. Here an object is a small record (`Entry`: namespace, name, uid, due time, generation, the force-sync
annotation's value) until it is due; its body is read (GET) only then. Where the records come from:

- a start pass, with each operator run: the VaultSecrets a page at a time, each due when `Refresher._resume_delay`
  says (one that is not due and whose Secret is intact waits without reading Vault, as the daemon's restart did);
- a watch of the kind that keeps no copy (`controller.changes.ObjectWatch`, started before the pass so the pass
  covers what it does not): a new object, a spec change (generation) or a new force-sync value makes it due now,
  DELETED drops it; after a gap in the watch the pass runs again (new objects due now, vanished ones dropped);
- `wake(uid)`.

A kind with a `Cleanup` (work in Vault when an object goes) gets the scheduler's own finalizer on the objects that
ask for it, and an object deleted with it is cleaned up here (`controller.vault.cleanup`), not by a kopf handler.

Due objects are synced as the daemon did (`Refresher._sync`: the store's share of the pool and its rate limit),
at most CONCURRENT at once and never one object twice at once: a wake while it syncs makes it due right after.
At most PER_STORE of one store's objects are in flight: the others wait off the heap for one of those to end
(`Due.pop`), so a slow or rate-limited store (any tenant can make one, with as many VaultSecrets as they like)
cannot fill the CONCURRENT places while other stores' objects come due. The namespaces waiting for one store's
places (tenants sharing a ClusterVaultStore) take turns, so one tenant's hundreds of due objects do not queue ahead
of another tenant's one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import kopf

from controller import status
from controller.changes import ObjectWatch, start_watches
from controller.secrets import PRODUCED_LABEL
from controller.vault import cleanup, loop, schedule
from controller.vault.cleanup import Cleanup
from controller.vault.client import VaultError
from controller.vault.fields import SpecError
from controller.vault.refresh import PER_STORE
from controller.vault.spec import FORCE_SYNC_ANNOTATION
from controller.vault.sync import Backoff, Sync
from sealer.kube import API_VERSION

log = logging.getLogger("sealer.controller.vault")

PLURAL = "vaultsecrets"
CONCURRENT = 64  # syncs in flight (most wait in asyncio for their store's slot or rate; PER_STORE bounds a store)
READS = 4  # GETs of due objects at once: a burst of them would take every connection of the API client's pool
RETRY_LOOKUP = 5.0  # seconds: after the object could not be read (API error) before its sync


class Entry:
    """What is kept of one VaultSecret between its syncs."""

    __slots__ = ("again", "due", "force", "generation", "name", "namespace", "running", "seen", "store")

    def __init__(self, namespace: str, name: str, generation: int, force: str | None, seen: float) -> None:
        self.namespace, self.name, self.generation, self.force = namespace, name, generation, force
        self.due = math.inf  # monotonic seconds; inf: only when woken
        self.running = False  # a sync is in flight
        self.again = False  # woken while in flight: due again right after
        self.seen = seen  # monotonic time it was last listed or seen on the watch
        self.store = ""  # `store_of` its spec when last seen ("": unknown, not bounded)


def facts(body: Mapping[str, Any], force_annotation: str = FORCE_SYNC_ANNOTATION
          ) -> tuple[str, str, str, int, str | None]:
    """(uid, namespace, name, generation, force-sync value) of an object."""
    meta = body.get("metadata") or {}
    force = (meta.get("annotations") or {}).get(force_annotation)
    return (str(meta.get("uid") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""),
            int(meta.get("generation") or 0), None if force is None else str(force))


def store_of(body: Mapping[str, Any], field: str = "storeRef", namespaced: str = "VaultStore") -> str:
    """The store an object syncs from, as a key: its spec's ``field`` reference (the first, of a list), with the
    object's namespace when the store's kind is the ``namespaced`` one; "" when the spec names none."""
    ref = ((body.get("spec") or {}).get(field)) if isinstance(body.get("spec"), Mapping) else None
    if isinstance(ref, list):
        ref = ref[0] if ref else None
    if not isinstance(ref, Mapping) or not ref.get("name"):
        return ""
    kind = str(ref.get("kind") or namespaced)
    namespace = str((body.get("metadata") or {}).get("namespace") or "") if kind == namespaced else ""
    return f"{kind}/{namespace}/{ref['name']}"


@dataclass(frozen=True)
class Kind:
    """What the scheduler needs to know of the kind it runs: its API, how a pass decides when a listed object is
    due, how one sync runs and how its outcome lands in status. VaultSecrets (`vault_secrets`), VaultPKISecrets
    (`controller.vault.pkisync.PkiSync.kind`), VaultPushSecrets (`controller.vault.pushsync.PushSync.kind`) and,
    with --eso-compat, ESO's ExternalSecrets (`controller.vault.esocompat.EsoCompat.kind`)."""

    name: str
    api_version: str
    plural: str
    _: KW_ONLY
    sync: Callable[[Any, dict[str, Any]], Awaitable[Sync | None]]
    force_annotation: str = FORCE_SYNC_ANNOTATION
    store_of: Callable[[Mapping[str, Any]], str] = store_of
    # (sync, started, body, meta, patch, post) -> None; None: the Ready condition and the sync's status fields
    report: Callable[[Sync, float, dict[str, Any], Any, Any, status.Poster], None] | None = None
    resume: Callable[[dict[str, Any], Mapping[str, Any]], float | None] | None = None  # None: due at start
    spread: bool = True  # a per-object delay added to each refresh (`schedule.refresh_delay`)
    next_delay: Callable[[str, Sync], float | None] | None = None  # None: `VaultSync.next_delay`
    forget: Callable[[str], None] | None = None  # what the kind keeps of an object dropped (beside `VaultSync`'s)
    cleanup: Cleanup | None = None  # work in Vault before an object goes, under our finalizer

    def write(self, sync: Sync, started: float, body: dict[str, Any], meta: Any, patch: Any,
              post: status.Poster) -> None:
        """The outcome of one sync into ``patch``: the kind's own `report`, else sealer's condition and fields."""
        if self.report is not None:
            self.report(sync, started, body, meta, patch, post)
            return
        status.report(self.name, sync.result, started, body, meta, patch, post=post)
        patch.status.update(sync.status)


def in_thread(refresher: Any, fn: Callable[[dict[str, Any]], Sync]) -> Callable[[Any, dict[str, Any]],
                                                                             Awaitable[Sync | None]]:
    """A kind's blocking ``fn(body)`` as its `Kind.sync`, in the refresher's worker pool (no rate to wait for)."""

    async def sync(stopped: Any, body: dict[str, Any]) -> Sync | None:
        return await refresher._thread(fn, body)

    return sync


def vault_secrets(refresher: Any) -> Kind:
    """sealer's VaultSecrets: resumed without reads when not due, refreshes spread."""
    return Kind("VaultSecret", API_VERSION, PLURAL, sync=refresher._sync, resume=refresher._resume_delay)


class Due:
    """The records and a heap of (due, uid), pure bookkeeping (no clock of its own, no I/O, one thread).

    Heap items are not removed when a record's due time changes: an item whose time is not its record's current
    one is skipped when it comes up. ``per_store``: objects of one store in flight at once (0: no bound); one that
    comes up while its store has that many waits off the heap (parked, counted as in flight) until one ends."""

    def __init__(self, per_store: int = 0) -> None:
        self.entries: dict[str, Entry] = {}
        self._heap: list[tuple[float, str]] = []
        self.per_store = per_store
        self._holding: dict[str, str] = {}  # uid -> the store whose place its sync in flight holds
        self._in_flight: collections.Counter[str] = collections.Counter()
        # store -> namespace -> uids waiting for a place of that store, namespaces in turn order (see _release)
        self._parked: dict[str, dict[str, collections.deque[str]]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, uid: object) -> bool:
        return uid in self.entries

    def _at(self, uid: str, entry: Entry, when: float) -> None:
        entry.due = when
        if not math.isinf(when):
            heapq.heappush(self._heap, (when, uid))
            if len(self._heap) > 2 * len(self.entries) + 1024:  # mostly superseded items: keep the current ones
                self._heap = [(e.due, u) for u, e in self.entries.items() if not e.running and not math.isinf(e.due)]
                heapq.heapify(self._heap)

    def add(self, uid: str, namespace: str, name: str, generation: int, force: str | None, when: float,
            now: float, store: str = "") -> None:
        """A record due at ``when`` (inf: only when woken); an existing one is replaced."""
        entry = self.entries.get(uid)
        if entry is None:
            entry = self.entries[uid] = Entry(namespace, name, generation, force, now)
        else:
            entry.generation, entry.force, entry.seen = max(entry.generation, generation), force, now
        entry.store = store
        if entry.running:
            entry.again = entry.again or when <= now
        else:
            self._at(uid, entry, when)

    def changed(self, uid: str, namespace: str, name: str, generation: int, force: str | None, now: float,
                store: str = "") -> bool:
        """An object as the watch or a pass saw it: due now if it is new, its spec generation is newer or its
        force-sync value differs from the record's. True when that made it due."""
        entry = self.entries.get(uid)
        if entry is None:
            self.add(uid, namespace, name, generation, force, now, now, store)
            return True
        entry.seen, entry.store = now, store
        if generation <= entry.generation and force == entry.force:
            return False
        entry.generation, entry.force = max(entry.generation, generation), force
        self.wake(uid, now)
        return True

    def wake(self, uid: str, now: float) -> bool:
        """Due now (right after the sync in flight, if one is). False: no such record."""
        entry = self.entries.get(uid)
        if entry is None:
            return False
        if entry.running:
            entry.again = True
        elif entry.due > now:
            self._at(uid, entry, now)
        return True

    def drop(self, uid: str) -> bool:
        return self.entries.pop(uid, None) is not None

    def stale(self, before: float, listed: set[str]) -> list[str]:
        """Records neither listed nor seen since ``before``: objects gone while the watch had a gap."""
        return [uid for uid, e in self.entries.items() if uid not in listed and e.seen < before]

    def pop(self, now: float) -> str | None:
        """The uid of an object due by ``now`` and not in flight, marked in flight; None if there is none. One
        whose store has ``per_store`` in flight is parked on the way."""
        while self._heap and self._heap[0][0] <= now:
            when, uid = heapq.heappop(self._heap)
            entry = self.entries.get(uid)
            if entry is None or entry.running or entry.due != when:
                continue
            entry.running, entry.again, entry.due = True, False, math.inf
            store = entry.store
            if self.per_store and store and self._in_flight[store] >= self.per_store:
                self._parked.setdefault(store, {}).setdefault(entry.namespace, collections.deque()).append(uid)
                continue
            self._holding[uid] = store
            self._in_flight[store] += 1
            return uid
        return None

    def release(self, uid: str, now: float) -> None:
        """The sync popped for ``uid`` is over, however it ended: its place in its store's share goes to a parked
        object of that store still waiting (due now): the first of the namespace whose turn it is, the namespaces
        in turn. Once per pop; `done` does it too."""
        store = self._holding.pop(uid, None)
        if store is not None:
            self._release(store, now)

    def _release(self, store: str, now: float) -> None:
        self._in_flight[store] -= 1
        if self._in_flight[store] <= 0:
            del self._in_flight[store]
        waiting = self._parked.get(store)
        while waiting:
            namespace = next(iter(waiting))
            parked = waiting.pop(namespace)  # its turn: to the back of the line, if it has more waiting
            uid = parked.popleft()
            if parked:
                waiting[namespace] = parked
            entry = self.entries.get(uid)
            if entry is not None and entry.running and uid not in self._holding:  # not dropped, not re-added
                entry.running = entry.again = False
                self._at(uid, entry, now)
                break
        if waiting is not None and not waiting:
            del self._parked[store]

    def done(self, uid: str, delay: float | None, now: float) -> bool:
        """The sync in flight is over: next due after ``delay`` seconds (None or inf: only when woken), or now if
        it was woken meanwhile. False: the record was dropped meanwhile."""
        self.release(uid, now)
        entry = self.entries.get(uid)
        if entry is None:
            return False
        entry.running = False
        if entry.again:
            entry.again = False
            self._at(uid, entry, now)
        else:
            self._at(uid, entry, math.inf if delay is None else now + delay)
        return True

    def next_in(self, now: float) -> float | None:
        """Seconds until the earliest due record (0: one is due), None when none is."""
        while self._heap:
            when, uid = self._heap[0]
            entry = self.entries.get(uid)
            if entry is None or entry.running or entry.due != when:
                heapq.heappop(self._heap)
                continue
            return max(0.0, when - now)
        return None


class Stopped:
    """The flag a sync waiting for its store's rate limit gives up on (kopf's `stopped` had this shape)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


class Scheduler:
    """The objects of one kind (VaultSecrets, or ExternalSecrets: `Kind`) of one operator run. `start` (in the
    run's event loop), then `stop`."""

    def __init__(self, app: Any, refresher: Any, kind: Kind | None = None) -> None:
        self.app, self.refresher, self.vault = app, refresher, refresher.vault
        self.kind = kind or vault_secrets(refresher)
        self.due = Due(PER_STORE)
        self.watches: list[ObjectWatch] = []
        self.stopped = Stopped()
        self._kick = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}  # uid -> its sync in flight
        self._reads = asyncio.Semaphore(READS)
        self._main: asyncio.Task[None] | None = None
        self._post = status.api_poster(lambda: app.controller.kube)
        self._scan_wanted: bool | None = None  # a pass asked for: None none, False after a gap, True reset all
        self._scanner: asyncio.Task[None] | None = None
        self._finalizing: dict[str, asyncio.Task[None]] = {}  # uid -> its cleanup, while it runs

    # --- from any thread -----------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the event loop (at once when called there)."""
        loop_ = self._loop
        if loop_ is None or loop_.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop_:
            fn(*args)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the operator run is over
            loop_.call_soon_threadsafe(fn, *args)

    def wake(self, uid: str | None) -> None:
        """Sync the object now (after the sync in flight, if one is)."""
        if uid:
            self._call(self._wake, uid)

    def gap(self) -> None:
        """The watch missed events: a pass over the kind (new objects due now, vanished ones dropped)."""
        self._call(self._want_scan, False)

    def activated(self) -> None:
        """This replica became the active one: every due time again from what status says now."""
        self._call(self._want_scan, True)

    def on_event(self, event_type: str, body: Mapping[str, Any]) -> None:
        """A watch event (on the watch's thread): only the facts go to the loop, not the body."""
        uid, namespace, name, generation, force = facts(body, self.kind.force_annotation)
        meta = body.get("metadata") or {}
        gone = event_type == "DELETED" or bool(meta.get("deletionTimestamp"))
        scoped = not gone and self.app.in_scope(namespace, meta.get("labels"))
        if event_type != "DELETED" and self._to_finalize(body):
            self._call(self._finalize, dict(body))
        self._call(self._event, uid, namespace, name, generation, force, scoped, self.kind.store_of(body))

    def _to_finalize(self, body: Mapping[str, Any]) -> bool:
        """Deleted, with our finalizer, and ours to serve."""
        meta = body.get("metadata") or {}
        return (self.kind.cleanup is not None and cleanup.deleting(body) and cleanup.holds(body)
                and self.app.in_scope(meta.get("namespace"), meta.get("labels")))

    # --- on the event loop ---------------------------------------------------------------------------------

    def _kicked(self) -> None:
        self._kick.set()

    def _wake(self, uid: str) -> None:
        if self.due.wake(uid, time.monotonic()):
            self._kicked()

    def _want_scan(self, reset: bool) -> None:
        self._scan_wanted = reset or bool(self._scan_wanted)
        self._kicked()

    def _event(self, uid: str, namespace: str, name: str, generation: int, force: str | None, scoped: bool,
               store: str) -> None:
        if not scoped:
            self._drop(uid)
            return
        if self.due.changed(uid, namespace, name, generation, force, time.monotonic(), store):
            log.debug("%s %s/%s: due now (new or changed, generation %d)", self.kind.name, namespace, name,
                      generation)
            self._kicked()

    def _drop(self, uid: str) -> None:
        if self.due.drop(uid):
            self._forget(uid)

    def _forget(self, uid: str) -> None:
        self.vault.forget(uid)
        if self.kind.forget is not None:
            self.kind.forget(uid)

    def _listed(self, uid: str, namespace: str, name: str, generation: int, force: str | None,
                delay: float | None, reset: bool, store: str) -> None:
        """One object of a pass; ``delay``: seconds until it is due (None: now), only for a new record or
        ``reset``."""
        now = time.monotonic()
        if uid in self.due and not reset:
            self.due.changed(uid, namespace, name, generation, force, now, store)
        else:
            self.due.add(uid, namespace, name, generation, force, now if delay is None else now + delay, now, store)
        self._kicked()

    # --- the start pass (in a thread) ---------------------------------------------------------------------

    def scan(self, reset: bool) -> set[str]:
        """Every served object of the kind, a page at a time: new records (all of them with ``reset``) due when
        the kind's `resume` says, others due now if changed. The uids listed. The Secrets the check of each
        compares are listed a namespace at a time (not one GET per object)."""
        kube, listed, active, kind = self.app.controller.kube, set(), self.app.active(), self.kind
        produced: tuple[str | None, dict[str, Any]] = (None, {})  # one namespace's produced Secrets by name
        for ns in self.app.served.namespaces or (None,):  # None: every namespace, one paged list
            for obj in kube.iter_objects(kind.api_version, kind.plural, namespace=ns):
                if self.stopped:
                    return listed
                meta = obj.get("metadata") or {}
                if self._to_finalize(obj):  # deleted while no replica was there to clean up
                    self._call(self._finalize, obj)
                if meta.get("deletionTimestamp") or not self.app.in_scope(meta.get("namespace"), meta.get("labels")):
                    continue
                uid, namespace, name, generation, force = facts(obj, kind.force_annotation)
                listed.add(uid)
                fresh = reset or uid not in self.due
                delay = None
                if fresh and active and kind.resume is not None:  # standing by: no API reads (activation resets)
                    obj.setdefault("apiVersion", kind.api_version)
                    obj.setdefault("kind", kind.name)
                    if produced[0] != namespace:  # objects come in namespace order: one list per namespace
                        produced = (namespace, {str(sec["metadata"]["name"]): sec for sec in kube.iter_secrets(
                            namespace, f"{PRODUCED_LABEL}={kind.name}")})
                    delay = kind.resume(obj, produced[1])
                    if delay is not None:
                        log.debug("%s %s/%s: not due, next read in %.0f s", kind.name, namespace, name, delay)
                self._call(self._listed, uid, namespace, name, generation, force, delay, reset, kind.store_of(obj))
        return listed

    async def _scan(self, reset: bool, reason: str) -> None:
        started, t0 = time.monotonic(), time.perf_counter()
        try:
            listed = await asyncio.to_thread(self.scan, reset)
        except Exception as e:  # a failed list: the watch still serves changes; the next gap or start tries again
            log.warning("%s %s: objects not listed (%s)", self.kind.name, reason, getattr(e, "status", None) or
                        type(e).__name__)
            return
        if self.stopped:
            return
        await asyncio.sleep(0)  # the records sent from the pass's thread are in before the check for stale ones
        for uid in self.due.stale(started, listed):
            self._drop(uid)
        now = time.monotonic()
        due_now = sum(1 for e in self.due.entries.values() if e.running or e.due <= now)
        log.info("%s %s: %d object(s), %d due now or syncing, in %.1f s", self.kind.name, reason, len(listed),
                 due_now, time.perf_counter() - t0)

    # --- the loop ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Syncs as objects come due, beside the passes, until `stop`. The start pass runs as a task of its own:
        what it finds due syncs while it goes on."""
        self._loop = asyncio.get_running_loop()
        self._scan_wanted = bool(self._scan_wanted)  # the start pass (a reset if activated meanwhile)
        while not self.stopped:
            if self._scan_wanted is not None and (self._scanner is None or self._scanner.done()):
                reset, self._scan_wanted = self._scan_wanted, None
                reason = "start" if self._scanner is None else "reset" if reset else "catch-up"
                self._scanner = asyncio.create_task(self._scan(reset, reason), name=f"{self.kind.plural} {reason} pass")
                self._scanner.add_done_callback(lambda _: self._kicked())
            wait: float | None = None
            if self.app.active():
                now = time.monotonic()
                while len(self._tasks) < CONCURRENT and (uid := self.due.pop(now)) is not None:
                    task = asyncio.create_task(self._one(uid), name=f"{self.kind.plural} {uid}")
                    self._tasks[uid] = task
                    task.add_done_callback(lambda done, uid=uid: self._finished(uid, done))
                if len(self._tasks) < CONCURRENT:
                    wait = self.due.next_in(now)
            else:
                wait = 5.0  # standing by: look again (activation also kicks)
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=wait)

    def _finished(self, uid: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(uid) is task:
            del self._tasks[uid]
        self._kicked()

    async def _one(self, uid: str) -> None:
        """GET the object, sync it, report, and set its next due time. Its place in its store's share is given
        back however this ends (dropped before it began, gone, stopped)."""
        try:
            entry = self.due.entries.get(uid)
            if entry is None:
                return
            delay: float | None = RETRY_LOOKUP
            try:
                delay = await self._sync_one(uid, entry)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the API failed us: try again shortly, never end the loop
                log.warning("%s %s/%s: not synced (%s)", self.kind.name, entry.namespace, entry.name,
                            getattr(e, "status", None) or type(e).__name__)
            if self.stopped:
                return
            if delay is not None and delay < 0:  # gone
                self._drop(uid)
            elif not self.due.done(uid, delay, time.monotonic()):
                self._forget(uid)  # dropped while in flight: the sync may have remembered it again
        finally:
            self.due.release(uid, time.monotonic())

    async def _sync_one(self, uid: str, entry: Entry) -> float | None:
        """The next delay (None: only when woken, negative: the object is gone)."""
        kube, kind = self.vault.controller.kube, self.kind
        async with self._reads:
            body = await self.refresher._thread(kube.get_object, kind.api_version, kind.plural, entry.namespace,
                                                entry.name)
        meta = (body or {}).get("metadata") or {}
        if body is None or meta.get("uid") != uid or meta.get("deletionTimestamp") or not self.app.in_scope(
                meta.get("namespace"), meta.get("labels")):
            return -1.0
        body.setdefault("apiVersion", kind.api_version)
        body.setdefault("kind", kind.name)
        if kind.cleanup is not None:  # our finalizer on an object that asks for a cleanup, before any Vault write
            patch = cleanup.finalizers_patch(body, kind.cleanup.wanted(body))
            if patch is not None:
                await self.refresher._thread(kube.patch_object, kind.api_version, kind.plural, entry.namespace,
                                             entry.name, patch)
        _, _, _, generation, force = facts(body, kind.force_annotation)
        entry.generation, entry.force, entry.store = max(entry.generation, generation), force, kind.store_of(body)
        started = time.monotonic()
        sync = await kind.sync(self.stopped, body)
        if sync is None:
            return None
        patch = kopf.Patch()
        kind.write(sync, started, body, meta, patch, self._post)
        await asyncio.to_thread(loop.write_status, kube, kind.api_version, kind.plural, body,
                                patch.get("status") or {})
        delay = (kind.next_delay or self.vault.next_delay)(uid, sync)
        if sync.result.ready and delay and kind.spread:
            delay = schedule.refresh_delay(uid, delay)
        return delay

    # --- cleanup of deleted objects ------------------------------------------------------------------------

    def _finalize(self, body: dict[str, Any]) -> None:
        """A deleted object with our finalizer: its cleanup as a task of its own (once at a time per object; only
        on the active replica, which a reset pass finds them for on activation)."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if not uid or uid in self._finalizing or self.stopped or not self.app.active():
            return
        task = asyncio.create_task(self._cleanup(uid, body), name=f"{self.kind.plural} {uid} cleanup")
        self._finalizing[uid] = task
        task.add_done_callback(lambda _: self._finalizing.pop(uid, None))

    async def _cleanup(self, uid: str, body: dict[str, Any]) -> None:
        """After the object's sync in flight, if one is (a certificate being issued is revoked too): the cleanup
        with the object as it is now (the status that sync wrote), then the finalizer off."""
        kind, work = self.kind, self.kind.cleanup
        assert work is not None
        meta = body.get("metadata") or {}
        where = f"{meta.get('namespace')}/{meta.get('name')}"
        syncing = self._tasks.get(uid)
        if syncing is not None:
            await asyncio.wait([syncing])
            try:
                live = await self.refresher._thread(self.vault.controller.kube.get_object, kind.api_version,
                                                    kind.plural, str(meta.get("namespace") or ""),
                                                    str(meta.get("name") or ""))
            except Exception:  # not read: the object as the deletion showed it
                live = body
            if live is None or (live.get("metadata") or {}).get("uid") != uid:
                return
            body = live
        backoff = Backoff(self.vault.retry_min, self.vault.retry_max)
        outcome = f"{work.what} not asked for"  # the spec no longer asks: just let go
        for attempt in range(1, cleanup.TRIES + 1 if work.wanted(body) else 1):
            try:
                outcome = await self.refresher._thread(work.run, body) or f"{work.what} done"
                break
            except SpecError:
                outcome = f"no {work.what} for an invalid spec"
                break
            except cleanup.Skipped as e:
                log.warning("%s %s: %s skipped: %s", kind.name, where, work.what, e)
                self._post(body, "Warning", "CleanupFailed", f"{work.what} skipped: {e}")
                outcome = f"{work.what} skipped"
                break
            except Exception as e:
                why = f"{e.reason}: {e.message}" if isinstance(e, VaultError) else (
                    getattr(e, "status", None) or type(e).__name__)
                log.warning("%s %s: %s failed (try %d of %d): %s", kind.name, where, work.what, attempt,
                            cleanup.TRIES, why)
                if attempt == cleanup.TRIES:
                    self._post(body, "Warning", "CleanupFailed", f"{work.what} failed {cleanup.TRIES} times, the "
                                                                 f"object goes without it: {why}")
                    outcome = f"{work.what} given up"
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), timeout=backoff.next())
                if self.stopped:
                    return  # the next run's pass finds it again
        if await self._release(uid, body):
            log.info("%s %s: %s, finalizer removed", kind.name, where, outcome)

    async def _release(self, uid: str, body: dict[str, Any]) -> bool:
        """Our finalizer off the object, read again for the current list (a 409: read and try again). True when
        this removed it."""
        kube, kind, meta = self.vault.controller.kube, self.kind, body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        for _ in range(3):
            try:
                live = await self.refresher._thread(kube.get_object, kind.api_version, kind.plural, namespace, name)
                patch = None if live is None or (live.get("metadata") or {}).get("uid") != uid else (
                    cleanup.finalizers_patch(live, False))
                if patch is None:
                    return False
                await self.refresher._thread(kube.patch_object, kind.api_version, kind.plural, namespace, name, patch)
                return True
            except Exception as e:
                log.warning("%s %s/%s: finalizer not removed (%s)", kind.name, namespace, name,
                            getattr(e, "status", None) or type(e).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), timeout=1.0)
                if self.stopped:
                    return False
        return False

    # --- one operator run ----------------------------------------------------------------------------------

    def start_watches(self) -> None:
        """Blocking (call from a thread): see `changes.start_watches`."""
        kind = self.kind
        self.watches = start_watches(self.app, (kind.api_version,), kind.plural, self.on_event, self.gap, kind.plural)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.start_watches)
        self._main = asyncio.create_task(self.run(), name=f"{self.kind.plural} scheduler")

    async def stop(self) -> None:
        self.stopped.set()
        self._kicked()
        for watch in self.watches:
            watch.stop()
        self.watches.clear()
        tasks = [t for t in (self._main, self._scanner, *self._tasks.values(), *self._finalizing.values())
                 if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for uid in list(self.due.entries):
            self._drop(uid)
