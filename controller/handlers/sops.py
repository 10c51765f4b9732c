"""SopsSecrets: on change, and every --resync-period (a daemon without a finalizer, see `resync`)."""

from __future__ import annotations

from typing import Any

import kopf

from controller.app import App
from controller.handlers import resync
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    sops_secret, resync_sops = resync.reconcilers(app, "SopsSecret", "sopssecrets", app.controller.reconcile_sops)
    on: dict[str, Any] = {"id": "sops_secret", "when": app.in_scope, "registry": registry}
    kopf.on.update(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    kopf.on.create(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    kopf.on.resume(GROUP, VERSION, "sopssecrets", **on)(sops_secret)
    resync_seconds = app.config.resync_period.total_seconds()
    if resync_seconds > 0:
        resync.periodic(registry, GROUP, VERSION, "sopssecrets", id="sops_secret_resync", when=app.in_scope,
                        interval=resync_seconds, tick=resync_sops)
