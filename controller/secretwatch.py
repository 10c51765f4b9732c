"""The controller's own Secret watches, narrowed in the request: the Secrets it produced (label
`sealer.dev/produced-by`, every served namespace) and the Secrets of its own namespace (sealing keys, age
identities). kopf would watch every Secret of the cluster and keep a record per Secret (Helm releases,
ServiceAccount tokens, everyone's credentials) to run our filters on each of their events.

The loop is `controller.listwatch`'s. A relist (at start, after `410 Gone`) reports what changed meanwhile
(MODIFIED / DELETED against the versions it knew, ADDED for new ones), so no change is lost across reconnects.

The slim copies a watch keeps of the produced Secrets are also the hints of a pass (`ProducedSecrets`): the
Secrets are listed once at start, by the watch, not again by each kind's pass.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from controller.listwatch import Handler, ListWatch
from controller.secrets import PRODUCED_LABEL

_KEPT = ("name", "namespace", "uid", "resourceVersion", "labels", "annotations", "ownerReferences")


def slim(secret: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of a Secret: what a DELETED found by a relist carries, and what a pass's unchanged check
    reads when the Secret is the version the source's status records. `data` keeps the item names only, every
    value "" (a data HMAC over it fails, so any deeper check reads the Secret again)."""
    meta = secret.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Secret", "type": secret.get("type"),
            "metadata": {k: meta[k] for k in _KEPT if k in meta},
            "data": dict.fromkeys(map(sys.intern, secret.get("data") or {}), "")}


def _key(secret: Mapping[str, Any]) -> tuple[str, str]:
    meta = secret.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class SecretWatch(ListWatch):
    what = "Secret"

    def __init__(self, kube: Any, namespace: str | None, selector: str | None, handler: Handler, name: str,
                 timeout: int = 300) -> None:
        super().__init__(handler, name, timeout)
        self.kube, self.namespace, self.selector = kube, namespace, selector
        self._known: dict[tuple[str, str], dict[str, Any]] = {}  # (namespace, name) -> slim Secret, as last seen
        self.synced = threading.Event()  # the first relist is done: `known` answers for every Secret

    def known(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The slim copy of the Secret as last seen (None: not there, as far as this watch knows)."""
        return self._known.get((namespace, name))

    def relist(self) -> str:
        """List; report the difference with what was known (a Secret deleted and made again under its name is a
        DELETED and an ADDED); the list's resourceVersion."""
        items, version = self.kube.list_secrets_versioned(self.namespace, self.selector)
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for secret in items:
            meta = secret.get("metadata") or {}
            key = _key(secret)
            seen[key] = slim(secret)
            before = self._known.get(key)
            if before is not None and before["metadata"].get("uid") != meta.get("uid"):
                self.emit("DELETED", before)
                before = None
            if before is None:
                self.emit("ADDED", secret)
            elif before["metadata"].get("resourceVersion") != meta.get("resourceVersion"):
                self.emit("MODIFIED", secret)
        for key, gone in self._known.items():
            if key not in seen:
                self.emit("DELETED", gone)
        self._known = seen
        self.synced.set()
        return version

    def open(self, version: str) -> Any:
        return self.kube.watch_secrets(self.namespace, self.selector, version, self.timeout)

    def seen(self, event_type: str, obj: Mapping[str, Any]) -> None:
        if event_type == "DELETED":
            self._known.pop(_key(obj), None)
        else:
            self._known[_key(obj)] = slim(obj)


class ProducedSecrets:
    """The produced-Secret watches' slim copies, by namespace and name: where a pass finds each object's Secret
    (a hint for the unchanged check; anything the hint cannot settle reads the Secret itself)."""

    def __init__(self) -> None:
        self._watches: dict[str | None, SecretWatch] = {}  # by namespace watched (None: every namespace)

    def add(self, watch: SecretWatch) -> None:
        self._watches[watch.namespace] = watch

    def wait(self, timeout: float, stopped: Callable[[], bool] = lambda: False) -> bool:
        """The watches are started and have each listed once (False: not within ``timeout`` seconds, or
        ``stopped``)."""
        deadline = time.monotonic() + timeout
        while not (self._watches and all(w.synced.is_set() for w in list(self._watches.values()))):
            if stopped() or time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def get(self, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
        """The Secret ``kind`` produced under this name, as last seen (None: unknown)."""
        watch = self._watches.get(namespace) or self._watches.get(None)
        secret = watch.known(namespace, name) if watch is not None else None
        labels = (secret or {}).get("metadata", {}).get("labels") or {}
        return secret if labels.get(PRODUCED_LABEL) == kind else None
