"""The periodic store check (--vault-store-check-period): one loop per operator run for every store kind, not a
kopf daemon per store (a task, its frames and kopf's daemon state each, for every store: one per namespace in a
cluster of tenants; and an INFO line per store per period).

Each pass lists the kinds' stores a page at a time (every namespace, or each served one) and runs the kind's
`tick` (renew a token when due, check a store again when it is not ready: `stores`, `eso`) on the active
replica, a few stores at once. The first pass comes one period after the operator run starts: kopf's resume and
create handlers check each store at once. A store deleted is simply not listed again; no finalizer is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sealer.controller")

AT_ONCE = 8  # stores checked at the same time (each check is one thread: a login or lookup at most)


@dataclass(frozen=True)
class StoreKind:
    """A store kind and its check."""

    name: str  # for the log: VaultStore, ClusterSecretStore, ...
    api_version: str
    plural: str
    cluster: bool  # cluster-scoped
    tick: Callable[[Any, Any], Awaitable[None]]  # (body, meta): the kind's own check


class StoreChecks:
    """The loop of one operator run: `start` (in its event loop), then `stop`."""

    def __init__(self, app: Any, kinds: list[StoreKind]) -> None:
        self.app, self.kinds = app, kinds
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _listed(self, kind: StoreKind) -> list[dict[str, Any]]:
        """The kind's stores this replica serves (blocking: one paged list per namespace served, or one)."""
        kube, app = self.app.controller.kube, self.app
        if kind.cluster and not app.in_served_namespace(None):
            return []
        scopes = (None,) if kind.cluster else app.served.namespaces or (None,)
        return [obj for ns in scopes for obj in kube.iter_objects(kind.api_version, kind.plural, namespace=ns)
                if not (meta := obj.get("metadata") or {}).get("deletionTimestamp")
                and (kind.cluster or app.in_served_namespace(meta.get("namespace")))]

    async def run_pass(self) -> None:
        """One check of every store served."""
        places = asyncio.Semaphore(AT_ONCE)

        async def one(kind: StoreKind, body: dict[str, Any]) -> None:
            meta = body.get("metadata") or {}
            body.setdefault("apiVersion", kind.api_version)
            body.setdefault("kind", kind.name)
            async with places:
                try:
                    await kind.tick(body, meta)
                except Exception as e:  # one store's API hiccup: the next pass tries again
                    log.warning("%s %s: not checked (%s)", kind.name, meta.get("name"),
                                getattr(e, "status", None) or type(e).__name__)

        counts: list[str] = []  # "VaultStore 3", ... for the pass's log line
        for kind in self.kinds:
            try:
                stores = await asyncio.to_thread(self._listed, kind)
            except Exception as e:  # the API failed us: the next pass
                log.warning("%s: stores not listed (%s)", kind.name, getattr(e, "status", None) or type(e).__name__)
                continue
            if stores:
                counts.append(f"{kind.name} {len(stores)}")
            await asyncio.gather(*(one(kind, body) for body in stores))
        if counts:  # one line a period (a daemon per store logged one per store)
            log.info("store check: %s", ", ".join(counts))

    async def _run(self, period: float) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=period)
            if not self._stopped.is_set() and self.app.active():
                await self.run_pass()

    def start(self, period: float) -> None:
        self._stopped.clear()
        self._task = asyncio.create_task(self._run(period), name="store checks")

    async def stop(self) -> None:
        self._stopped.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
