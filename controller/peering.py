"""Whether kopf peering has this replica active, for the work the controller does outside kopf's handlers (resume
and resync passes, the Secret watches' drift restores): kopf pauses only its own handlers.

Read from the peering object kopf keeps (ClusterKopfPeering NAME, or the KopfPeering NAME of the first watched
namespace with --namespaces; one replica has one priority everywhere, so it leads everywhere or nowhere), with
kopf's own rule: active when no live peer has a higher priority and none has the same one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("sealer.controller")


def _seen(peer: Mapping[str, Any]) -> dt.datetime | None:
    text = str(peer.get("lastseen") or "")
    try:
        seen = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return seen if seen.tzinfo else seen.replace(tzinfo=dt.UTC)


def leads(status: Mapping[str, Any], identity: str, priority: int, now: dt.datetime) -> bool:
    """kopf's rule over the peering object's status (identity -> priority, lastseen, lifetime)."""
    for peer_id, peer in (status or {}).items():
        if peer_id == identity or not isinstance(peer, Mapping):
            continue
        seen = _seen(peer)
        if seen is None or seen + dt.timedelta(seconds=float(peer.get("lifetime") or 60)) < now:
            continue  # dead: kopf ignores it (and cleans it up)
        if int(peer.get("priority") or 0) >= priority:
            return False
    return True


class PeeringView:
    """Polls the peering object; `active()` is the last answer (False until the first read)."""

    def __init__(self, kube: Callable[[], Any], name: str, namespace: str | None, identity: str, priority: int,
                 interval: float = 3.0) -> None:
        self.kube, self.name, self.namespace = kube, name, namespace
        self.identity, self.priority, self.interval = identity, priority, interval
        self._active = False
        self.on_activate: Callable[[], None] = lambda: None
        self._stop = threading.Event()

    def active(self) -> bool:
        return self._active

    def poll(self) -> None:
        kube = self.kube()
        if self.namespace is None:
            obj = kube.get_cluster_object("kopf.dev/v1", "clusterkopfpeerings", self.name)
        else:
            obj = kube.get_object("kopf.dev/v1", "kopfpeerings", self.namespace, self.name)
        status = (obj or {}).get("status") or {}
        now_active = self.identity in status and leads(status, self.identity, self.priority, dt.datetime.now(dt.UTC))
        if now_active != self._active:
            self._active = now_active
            log.info("peering: this replica is %s", "active" if now_active else "standing by")
            if now_active:
                self.on_activate()

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as e:  # keep the last answer; the next poll tries again
                log.warning("peering object %s not read (%s)", self.name,
                            getattr(e, "status", None) or type(e).__name__)

    def start(self) -> None:
        threading.Thread(target=self.run, name="peering-view", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
