"""The controller's own Secret watches, narrowed in the request: the Secrets it produced (label
`sealer.dev/produced-by`, every served namespace) and the Secrets of its own namespace (sealing keys, age
identities). kopf would watch every Secret of the cluster and keep a record per Secret (Helm releases,
ServiceAccount tokens, everyone's credentials) to run our filters on each of their events.

The loop is `controller.listwatch`'s. A relist (at start, after `410 Gone`) reports what changed meanwhile
(MODIFIED / DELETED against the versions it knew, ADDED for new ones), so no change is lost across reconnects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.listwatch import Handler, ListWatch

_KEPT = ("name", "namespace", "uid", "resourceVersion", "labels", "annotations", "ownerReferences")


def slim(secret: Mapping[str, Any]) -> dict[str, Any]:
    """What a DELETED found by a relist carries (no data, which the handlers of a deletion never need)."""
    meta = secret.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Secret", "type": secret.get("type"),
            "metadata": {k: meta[k] for k in _KEPT if k in meta}}


class SecretWatch(ListWatch):
    what = "Secret"

    def __init__(self, kube: Any, namespace: str | None, selector: str | None, handler: Handler, name: str,
                 timeout: int = 300) -> None:
        super().__init__(handler, name, timeout)
        self.kube, self.namespace, self.selector = kube, namespace, selector
        self._known: dict[str, dict[str, Any]] = {}  # uid -> slim Secret, as last seen

    def relist(self) -> str:
        """List; report the difference with what was known; the list's resourceVersion."""
        items, version = self.kube.list_secrets_versioned(self.namespace, self.selector)
        seen: dict[str, dict[str, Any]] = {}
        for secret in items:
            meta = secret.get("metadata") or {}
            uid = str(meta.get("uid") or "")
            seen[uid] = slim(secret)
            before = self._known.get(uid)
            if before is None:
                self.emit("ADDED", secret)
            elif before["metadata"].get("resourceVersion") != meta.get("resourceVersion"):
                self.emit("MODIFIED", secret)
        for uid, gone in self._known.items():
            if uid not in seen:
                self.emit("DELETED", gone)
        self._known = seen
        return version

    def open(self, version: str) -> Any:
        return self.kube.watch_secrets(self.namespace, self.selector, version, self.timeout)

    def seen(self, event_type: str, obj: Mapping[str, Any]) -> None:
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        if event_type == "DELETED":
            self._known.pop(uid, None)
        else:
            self._known[uid] = slim(obj)
