"""The controller's own Secret watches, narrowed in the request: the Secrets it produced (label
`sealer.dev/produced-by`, every served namespace) and the Secrets of its own namespace (sealing keys, age
identities). kopf would watch every Secret of the cluster and keep a record per Secret (Helm releases,
ServiceAccount tokens, everyone's credentials) to run our filters on each of their events.

A watch lists, then watches from the list's resourceVersion (with bookmarks); a dropped stream resumes from the
last version seen, a `410 Gone` relists and reports what changed meanwhile (MODIFIED / DELETED against the versions
it knew, ADDED for new ones), so no change is lost across reconnects. Handlers run on the watch's thread: they
must be quick or hand their work on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("sealer.controller")
Handler = Callable[[str, Mapping[str, Any]], None]  # (ADDED | MODIFIED | DELETED, the Secret)
_KEPT = ("name", "namespace", "uid", "resourceVersion", "labels", "annotations", "ownerReferences")


class Gone(Exception):
    """The version to resume from is older than the server keeps: list again."""


def slim(secret: Mapping[str, Any]) -> dict[str, Any]:
    """What a DELETED found by a relist carries (no data, which the handlers of a deletion never need)."""
    meta = secret.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Secret", "type": secret.get("type"),
            "metadata": {k: meta[k] for k in _KEPT if k in meta}}


class SecretWatch:
    def __init__(self, kube: Any, namespace: str | None, selector: str | None, handler: Handler, name: str,
                 timeout: int = 300) -> None:
        self.kube, self.namespace, self.selector, self.handler, self.name = kube, namespace, selector, handler, name
        self.timeout = timeout
        self._known: dict[str, dict[str, Any]] = {}  # uid -> slim Secret, as last seen
        self._stop = threading.Event()

    def _emit(self, event_type: str, secret: Mapping[str, Any]) -> None:
        try:
            self.handler(event_type, secret)
        except Exception as e:  # a handler's failure never stops the watch
            meta = secret.get("metadata") or {}
            log.warning("Secret %s/%s: %s handler failed (%s)", meta.get("namespace"), meta.get("name"), self.name,
                        type(e).__name__)

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
                self._emit("ADDED", secret)
            elif before["metadata"].get("resourceVersion") != meta.get("resourceVersion"):
                self._emit("MODIFIED", secret)
        for uid, gone in self._known.items():
            if uid not in seen:
                self._emit("DELETED", gone)
        self._known = seen
        return version

    def _follow(self, version: str) -> str:
        """Watch from ``version`` until the server ends the stream; the last version seen."""
        response = self.kube.watch_secrets(self.namespace, self.selector, version, self.timeout)
        try:
            for line in response:
                if self._stop.is_set():
                    break
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                kind = event.get("type")
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone()
                    raise RuntimeError(f"watch error {obj.get('code')}")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                uid = str((obj.get("metadata") or {}).get("uid") or "")
                if kind == "DELETED":
                    self._known.pop(uid, None)
                else:
                    self._known[uid] = slim(obj)
                self._emit(str(kind), obj)
        finally:
            response.close()
        return version

    def run(self) -> None:
        version: str | None = None
        backoff = 1.0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self.relist()
                version = self._follow(version)
                backoff = 1.0
            except Gone:
                version = None
            except Exception as e:  # API down or a broken stream: resume (a stale version ends in 410, a relist)
                if self._stop.is_set():
                    return
                log.warning("Secret watch %s interrupted (%s); again in %.0f s", self.name,
                            getattr(e, "status", None) or type(e).__name__, backoff)
                self._stop.wait(backoff)
                backoff = min(30.0, backoff * 2)

    def start(self) -> None:
        threading.Thread(target=self.run, name=f"watch-{self.name}", daemon=True).start()

    def stop(self) -> None:
        """The thread ends at its next event or bookmark; it is a daemon, so it never holds up the process's exit
        (closing the stream from here could block on the socket the watch thread is reading)."""
        self._stop.set()
