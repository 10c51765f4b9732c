"""SopsSecrets: on change; at each operator run's start and every --resync-period in one pass over the kind
(`controller.sweep`)."""

from __future__ import annotations

from typing import Any

import kopf

from controller import sweep
from controller.app import App
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    sops_secret = sweep.change_handler("SopsSecret", app.controller.reconcile_sops)
    on: dict[str, Any] = {"id": "sops_secret", "when": app.in_scope, "registry": registry}
    kopf.on.update(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    kopf.on.create(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    passes = sweep.Sweeper(app, "SopsSecret", "sopssecrets", (GROUP,), app.controller.reconcile_sops,
                           app.config.resync_period.total_seconds())
    sweep.register(registry, passes, "sops_secret_passes")
