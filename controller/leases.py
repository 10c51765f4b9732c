"""The Leases (coordination.k8s.io/v1, `sealer-shard-N` in the controller's namespace) that say which replica
serves which shard, with client-go's leader-election timing: a holder renews every retry period, gives a shard up
when it could not renew for the renew deadline, and another replica takes the shard once its Lease has not
changed for the lease duration, as seen by the taker's own clock (no trust in clocks across nodes).

Hand-over without a gap or an overlap: a stand-in holding another replica's home shard sees the home replica's
claim (annotation `sealer.dev/wanted-by`), stops serving the shard (the operator run ends, see
`controller.running`) and only then writes the claimant as the holder. A replica that stops gracefully empties the
holder of its Leases, so a peer takes them at its next pass instead of after the lease duration.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from controller import metrics
from controller.shards import Sharding, lease_name

log = logging.getLogger("sealer.controller")
WANTED_BY = "sealer.dev/wanted-by"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # a MicroTime


class ShardLeases:
    """One replica's Leases. `tick` runs on the lease thread; `settle` while the operator is stopped."""

    def __init__(self, kube: Any, namespace: str, sharding: Sharding, duration: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube, self.namespace, self.sharding = kube, namespace, sharding
        self.duration = duration
        self.renew_deadline = duration * 2 / 3
        self.retry = max(0.2, duration / 7.5)  # client-go's 15 s / 10 s / 2 s
        self.clock = clock
        self.held: frozenset[int] = frozenset()
        self.leaving: frozenset[int] = frozenset()  # held, to be handed over once no handler serves them
        self._renewed: dict[int, float] = {}
        self._seen: dict[int, tuple[tuple[Any, ...], float]] = {}  # shard -> (what the Lease said, since when)
        self.on_change: Callable[[], None] = lambda: None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # a pass and a release never interleave (a renewal would undo a release)

    # --- one pass ---------------------------------------------------------------------------------------

    def tick(self) -> bool:
        """One look at every Lease: renew, take, claim, or give up. True when the shards to serve changed."""
        with self._lock:
            return self._pass()

    def _pass(self) -> bool:
        changed = False
        for shard in range(self.sharding.count):
            if self._stop.is_set():
                return False
            try:
                changed |= self._one(shard)
            except Exception as e:  # an API hiccup: renewal is retried next pass, the deadline decides
                log.warning("shard %d: Lease %s not read or written (%s)", shard, lease_name(shard),
                            getattr(e, "status", None) or type(e).__name__)
            if shard in self.held and self.clock() - self._renewed.get(shard, 0.0) > self.renew_deadline:
                self._drop(shard, "lost", "not renewed within the renew deadline")
                changed = True
        return changed

    def _one(self, shard: int) -> bool:
        me = self.sharding.identity
        lease = self.kube.get_lease(self.namespace, lease_name(shard))
        if lease is None:
            made = self.kube.create_lease(self.namespace, self._body(shard, None))
            return made is not None and self._took(shard, "acquired")
        spec = lease.get("spec") or {}
        meta = lease.get("metadata") or {}
        holder = spec.get("holderIdentity") or ""
        wanted = (meta.get("annotations") or {}).get(WANTED_BY) or ""
        if holder == me:
            renewed = self.kube.replace_lease(self.namespace, self._body(shard, lease))
            if renewed is None:
                return False  # changed under us: the next pass reads who holds it
            changed = shard not in self.held and self._took(shard, "acquired")  # handed to us by a stand-in
            self._renewed[shard] = self.clock()
            if wanted and wanted != me and shard != self.sharding.home and shard not in self.leaving:
                log.info("shard %d: its home replica %s wants it back; handing it over", shard, wanted)
                self.leaving = self.leaving | {shard}
                changed = True
            return changed
        changed = False
        if shard in self.held:  # someone else holds what we thought ours: stop serving it now
            self._drop(shard, "lost", f"now held by {holder or 'nobody'}")
            changed = True
        if self._expired(shard, (holder, spec.get("renewTime"), meta.get("resourceVersion"))):
            taken = self.kube.replace_lease(self.namespace, self._body(shard, lease))
            return (taken is not None and self._took(shard, "acquired")) or changed
        if shard == self.sharding.home and wanted != me:
            claim = self._body(shard, lease, keep_holder=True)
            claim["metadata"].setdefault("annotations", {})[WANTED_BY] = me
            if self.kube.replace_lease(self.namespace, claim) is not None:
                log.info("shard %d: claimed from %s (this is its home replica)", shard, holder)
        return changed

    def _expired(self, shard: int, said: tuple[Any, ...]) -> bool:
        """Free, or unchanged for the lease duration by our own clock."""
        if not said[0]:
            return True
        now = self.clock()
        seen = self._seen.get(shard)
        if seen is None or seen[0] != said:
            self._seen[shard] = (said, now)
            return False
        return now - seen[1] >= self.duration

    def _body(self, shard: int, lease: dict[str, Any] | None, *, keep_holder: bool = False,
              holder: str | None = None) -> dict[str, Any]:
        meta = dict((lease or {}).get("metadata") or {})
        meta.update({"name": lease_name(shard), "namespace": self.namespace})
        meta.setdefault("labels", {"app.kubernetes.io/part-of": "sealer"})
        spec = dict((lease or {}).get("spec") or {})
        now = _now()
        if not keep_holder:
            new_holder = self.sharding.identity if holder is None else holder
            if lease is None or spec.get("holderIdentity") != new_holder:
                spec["acquireTime"] = now
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (lease is not None)
                annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != WANTED_BY}
                meta["annotations"] = annotations  # a claim is settled by a change of holder
            spec["holderIdentity"] = new_holder
            spec["renewTime"] = now
        spec["leaseDurationSeconds"] = max(1, round(self.duration))
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def _took(self, shard: int, change: str) -> bool:
        self.held = self.held | {shard}
        self._renewed[shard] = self.clock()
        metrics.SHARD_CHANGES.inc(str(shard), change)
        log.info("shard %d: %s Lease %s", shard, change, lease_name(shard))
        return True

    def _drop(self, shard: int, change: str, why: str) -> None:
        self.held, self.leaving = self.held - {shard}, self.leaving - {shard}
        self.sharding.lose(shard)
        metrics.SHARD_CHANGES.inc(str(shard), change)
        log.warning("shard %d: %s (%s); no longer serving it", shard, change, why)

    # --- between operator runs, and at the end ---------------------------------------------------------

    def settle(self) -> frozenset[int]:
        """With no handler running: hand the leaving shards to whoever claimed them, return the shards to serve."""
        with self._lock:
            for shard in sorted(self.leaving):
                self._release(shard, to_claimant=True)
            self.leaving = frozenset()
        for shard in range(self.sharding.count):
            metrics.SHARD_OWNED.set(1.0 if shard in self.held else 0.0, str(shard))
        return self.held

    def release_all(self) -> None:
        """At shutdown, after the last handler: peers take the shards at their next pass."""
        self._stop.set()
        with self._lock:
            for shard in sorted(self.held):
                self._release(shard, to_claimant=False)

    def _release(self, shard: int, *, to_claimant: bool) -> None:
        try:
            for _ in range(3):  # a claim written meanwhile changes the resourceVersion: read again
                lease = self.kube.get_lease(self.namespace, lease_name(shard))
                spec = (lease or {}).get("spec") or {}
                if lease is None or spec.get("holderIdentity") != self.sharding.identity:
                    break
                wanted = ((lease.get("metadata") or {}).get("annotations") or {}).get(WANTED_BY) or ""
                body = self._body(shard, lease, holder=wanted if to_claimant else "")
                if self.kube.replace_lease(self.namespace, body) is not None:
                    break
        except Exception as e:  # the Lease then expires on its own
            log.warning("shard %d: Lease not released (%s)", shard, getattr(e, "status", None) or type(e).__name__)
        self.held = self.held - {shard}
        metrics.SHARD_CHANGES.inc(str(shard), "released")
        log.info("shard %d: released Lease %s", shard, lease_name(shard))

    # --- the lease thread --------------------------------------------------------------------------------

    def run(self) -> None:
        """Every retry period until `release_all`: a pass, and `on_change` when the shards to serve changed."""
        while not self._stop.wait(self.retry):
            if self.tick():
                self.on_change()

    def start(self) -> None:
        threading.Thread(target=self.run, name="shard-leases", daemon=True).start()
