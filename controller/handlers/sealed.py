"""SealedSecrets (sealer.dev, and bitnami.com with --bitnami-compat): on change; at each operator run's start and
every --resync-period in one pass over the kind (`controller.sweep`), not a resume handler and a timer per object."""

from __future__ import annotations

from typing import Any

import kopf

from controller import metrics, sweep
from controller.app import App
from controller.handlers import resync
from sealer.kube import BITNAMI_GROUP, GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    groups = (GROUP, BITNAMI_GROUP) if app.config.bitnami_compat else (GROUP,)
    sealed_secret = sweep.change_handler("SealedSecret", app.controller.reconcile_sealed)

    def gone(type: str | None, body: Any, **_: Any) -> None:
        if type == "DELETED":
            meta = body.get("metadata") or {}
            metrics.forget_conditions(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    on: dict[str, Any] = {"id": "sealed_secret", "when": app.in_scope, "registry": registry}
    for group in groups:
        kopf.on.update(group, VERSION, "sealedsecrets", field="spec", **on)(sealed_secret)
        kopf.on.create(group, VERSION, "sealedsecrets", **on)(sealed_secret)
        kopf.on.event(group, VERSION, "sealedsecrets", id="sealed_secret_gone", when=resync.deletion,
                      registry=registry)(gone)
    passes = sweep.Sweeper(app, "SealedSecret", "sealedsecrets", groups, app.controller.reconcile_sealed,
                           app.config.resync_period.total_seconds())
    sweep.register(registry, passes, "sealed_secret_passes")
