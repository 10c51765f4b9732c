"""SealedSecrets (sealer.dev, and bitnami.com with --bitnami-compat): on change, and every --resync-period (a
daemon without a finalizer, see `resync`)."""

from __future__ import annotations

from typing import Any

import kopf

from controller import metrics
from controller.app import App
from controller.handlers import resync
from sealer.kube import BITNAMI_GROUP, GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    sealed_secret, resync_sealed = resync.reconcilers(app, "SealedSecret", "sealedsecrets",
                                                      app.controller.reconcile_sealed)

    def gone(body: Any) -> None:
        meta = body.get("metadata") or {}
        metrics.forget_conditions(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    resync_seconds = app.config.resync_period.total_seconds()
    on: dict[str, Any] = {"id": "sealed_secret", "when": app.in_scope, "registry": registry}
    for group in (GROUP, BITNAMI_GROUP) if app.config.bitnami_compat else (GROUP,):
        kopf.on.update(group, VERSION, "sealedsecrets", field="spec", **on)(sealed_secret)
        kopf.on.create(group, VERSION, "sealedsecrets", **on)(sealed_secret)
        kopf.on.resume(group, VERSION, "sealedsecrets", **on)(sealed_secret)
        if resync_seconds > 0:
            resync.periodic(registry, group, VERSION, "sealedsecrets", id="sealed_secret_resync", when=app.in_scope,
                            interval=resync_seconds, tick=resync_sealed, on_gone=gone)
