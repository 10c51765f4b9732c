"""New and changed SealedSecrets and SopsSecrets, seen by the controller's own watch and worked off a queue.

kopf would keep state for every object of the kind (a record, a per-object queue, a diff base written back as the
`last-handled-configuration` annotation: a second copy of all the ciphertext on each object) and spend ~2.5 ms
of CPU per object at each start before deciding there is nothing to do. Here an object needs work when its spec
generation has not been reported in `status.observedGeneration` (new, edited, or never reconciled by a served
replica), so the watch keeps nothing per object: it starts at the list's current resourceVersion, and what
happened before that (a start, a restart, a `410 Gone`) is left to a pass over the kind (`controller.sweep`),
which the watch asks for after a gap. Work runs on a few threads (`controller.workqueue`), so one slow object does
not hold up the rest, and each object's reconciles take turns (`Controller.objects`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from controller import metrics
from controller.digest import IGNORED_ANNOTATIONS
from controller.listwatch import ListWatch
from controller.logsafety import about
from controller.workqueue import WorkQueue
from sealer.kube import VERSION

log = logging.getLogger("sealer.controller")


def needs_work(body: Mapping[str, Any]) -> bool:
    """Its spec generation is not the one its status reports (a new object has no status at all)."""
    meta = body.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    return (body.get("status") or {}).get("observedGeneration") != meta.get("generation")


def waiting(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as it waits in the queue: without `managedFields` and the annotations no reconcile reads (the
    ones `digest.IGNORED_ANNOTATIONS` leaves out, such as kubectl's copy of the whole object), which together can
    double what a burst of thousands holds."""
    meta = dict(body.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if annotations and any(k.startswith(IGNORED_ANNOTATIONS) for k in annotations):
        meta["annotations"] = {k: v for k, v in annotations.items() if not k.startswith(IGNORED_ANNOTATIONS)}
    return {**body, "metadata": meta}


class ObjectWatch(ListWatch):
    """A custom resource's watch that keeps no copy of the objects: after a gap it calls ``on_gap`` instead."""

    def __init__(self, kube: Any, api_version: str, plural: str, namespace: str | None, handler: Any,
                 on_gap: Callable[[], None], name: str, timeout: int = 300) -> None:
        super().__init__(handler, name, timeout)
        self.kube, self.api_version, self.plural, self.namespace = kube, api_version, plural, namespace
        self.on_gap = on_gap
        self.what = plural

    def version(self) -> str:
        return self.kube.objects_version(self.api_version, self.plural, self.namespace)

    def relist(self) -> str:
        version = self.version()
        self.on_gap()
        return version

    def open(self, version: str) -> Any:
        return self.kube.watch_objects(self.api_version, self.plural, self.namespace, version, self.timeout)


def start_watches(app: Any, api_versions: tuple[str, ...], plural: str, handler: Any, on_gap: Callable[[], None],
                  name: str) -> list[ObjectWatch]:
    """One watch per API version and served namespace (or one for all), each from the list's current version,
    read before this returns: a pass begun after it sees everything the watches will not. Blocking."""
    watches = []
    for api_version in api_versions:
        for ns in app.served.namespaces or (None,):
            watch = ObjectWatch(app.controller.kube, api_version, plural, ns, handler, on_gap,
                                f"{name}.{api_version.partition('/')[0]}-{ns or 'all'}")
            version = watch.version()
            watches.append(watch)
            watch.start(version)
    return watches


class Changes:
    """The watches and the queue of one kind, for one operator run. ``work(body)``: reconcile and report; False
    when it should be tried again. ``catch_up()``: ask for a pass (after a gap in the watch)."""

    def __init__(self, app: Any, kind: str, plural: str, groups: tuple[str, ...], work: Callable[[Any], bool],
                 catch_up: Callable[[], None], workers: int) -> None:
        self.app, self.kind, self.plural, self.groups = app, kind, plural, groups
        self.work, self.catch_up, self.workers = work, catch_up, workers
        self.queue: WorkQueue | None = None
        self.watches: list[ObjectWatch] = []

    def on_event(self, event_type: str, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if event_type == "DELETED":
            metrics.forget_conditions(namespace, name)
            return
        if not needs_work(body) or not self.app.active() or not self.app.in_scope(namespace, meta.get("labels")):
            return
        log.debug("%s %s/%s: %s, generation %s to reconcile: %r", self.kind, namespace, name, event_type,
                  meta.get("generation"), body, extra=about(body))
        if self.queue is not None:
            self.queue.put((body.get("apiVersion"), namespace, name), waiting(body))

    def start(self) -> None:
        """Blocking (call from a thread): each watch's starting version is read before returning, so a pass begun
        after this sees everything the watches will not."""
        self.queue = WorkQueue(self.work, self.workers, f"{self.kind}-changes")
        self.watches = start_watches(self.app, tuple(f"{g}/{VERSION}" for g in self.groups), self.plural,
                                     self.on_event, self.catch_up, self.plural)
        self.queue.start()

    def stop(self) -> None:
        for watch in self.watches:
            watch.stop()
        self.watches.clear()
        if self.queue is not None:
            self.queue.stop()
