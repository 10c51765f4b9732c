"""The controller's own watches (kopf's watch keeps per-object state the controller does not need): list or fetch a
resourceVersion, then watch from it with bookmarks. A dropped stream resumes from the last version seen; `410
Gone` (the version is older than the server keeps) starts over with `relist`, which reports what was missed as
its flavour can. Handlers run on the watch's thread: they must be quick or hand their work on.

Two flavours: `controller.secretwatch` (Secrets; remembers a slim copy of each so a relist reports the changes) and
`controller.changes` (SealedSecrets, SopsSecrets; remembers nothing: a relist asks for a pass over the kind).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger("sealer.controller")
Handler = Callable[[str, Mapping[str, Any]], None]  # (ADDED | MODIFIED | DELETED, the object)


class Gone(Exception):
    """The version to resume from is older than the server keeps: list again."""


class ListWatch:
    """Subclasses say how to list (`relist` -> the version to watch from) and how to open the stream."""

    what = "object"

    def __init__(self, handler: Handler, name: str, timeout: int = 300) -> None:
        self.handler, self.name, self.timeout = handler, name, timeout
        self._stop = threading.Event()

    def relist(self) -> str:
        raise NotImplementedError

    def open(self, version: str) -> Any:
        """The event lines of a watch from ``version`` (an object with `close`)."""
        raise NotImplementedError

    def seen(self, event_type: str, obj: Mapping[str, Any]) -> None:
        """Called for each live event before the handler (a flavour's own bookkeeping)."""

    def emit(self, event_type: str, obj: Mapping[str, Any]) -> None:
        try:
            self.handler(event_type, obj)
        except Exception as e:  # a handler's failure never stops the watch
            meta = obj.get("metadata") or {}
            log.warning("%s %s/%s: %s handler failed (%s)", self.what, meta.get("namespace"), meta.get("name"),
                        self.name, type(e).__name__)

    def follow(self, version: str) -> str:
        """Watch from ``version`` until the server ends the stream; the last version seen."""
        response = self.open(version)
        try:
            lines: Iterable[str] = response
            for line in lines:
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
                self.seen(str(kind), obj)
                self.emit(str(kind), obj)
        finally:
            response.close()
        return version

    def run(self, version: str | None = None) -> None:
        """Until `stop`; from ``version`` when the caller already listed."""
        backoff = 1.0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self.relist()
                version = self.follow(version)
                backoff = 1.0
            except Gone:
                version = None
            except Exception as e:  # API down or a broken stream: resume (a stale version ends in 410, a relist)
                if self._stop.is_set():
                    return
                log.warning("%s watch %s interrupted (%s); again in %.0f s", self.what, self.name,
                            getattr(e, "status", None) or type(e).__name__, backoff)
                self._stop.wait(backoff)
                backoff = min(30.0, backoff * 2)

    def start(self, version: str | None = None) -> None:
        """Watch on a thread of its own."""
        threading.Thread(target=self.run, args=(version,), name=f"watch-{self.name}", daemon=True).start()

    def stop(self) -> None:
        """The thread ends at its next event or bookmark; it is a daemon, so it never holds up the process's exit
        (closing the stream from here could block on the socket the watch thread is reading)."""
        self._stop.set()
