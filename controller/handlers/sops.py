"""SopsSecrets: on change, and every --resync-period."""

from __future__ import annotations

import time
from typing import Any

import kopf

from controller import status
from controller.app import App
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    def sops_secret(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        started = time.monotonic()
        status.report("SopsSecret", app.controller.reconcile_sops(body), started, body, meta, patch)

    on: dict[str, Any] = {"id": "sops_secret", "when": app.in_scope, "registry": registry}
    kopf.on.update(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    kopf.on.create(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    kopf.on.resume(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    resync = app.config.resync_period.total_seconds()
    if resync > 0:
        kopf.timer(GROUP, VERSION, "sopssecrets", interval=resync, initial_delay=resync, idle=0, **on)(sops_secret)
