"""SealedSecrets (sealer.dev, and bitnami.com with --bitnami-compat): on change, and every --resync-period."""

from __future__ import annotations

import time
from typing import Any

import kopf

from controller import status
from controller.app import App
from sealer.kube import BITNAMI_GROUP, GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    def sealed_secret(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        started = time.monotonic()
        status.report("SealedSecret", app.controller.reconcile_sealed(body), started, body, meta, patch)

    resync = app.config.resync_period.total_seconds()
    on: dict[str, Any] = {"id": "sealed_secret", "when": app.in_scope, "registry": registry}
    for group in (GROUP, BITNAMI_GROUP) if app.config.bitnami_compat else (GROUP,):
        kopf.on.update(group, VERSION, "sealedsecrets", field="spec", **on)(sealed_secret)
        kopf.on.create(group, VERSION, "sealedsecrets", **on)(sealed_secret)
        kopf.on.resume(group, VERSION, "sealedsecrets", **on)(sealed_secret)
        if resync > 0:
            kopf.timer(group, VERSION, "sealedsecrets", interval=resync, initial_delay=resync, idle=0, **on)(
                sealed_secret)
