"""SopsSecrets: changes from the controller's own watch (`controller.changes`); at each operator run's start and
every --resync-period, one pass over the kind (`controller.sweep`)."""

from __future__ import annotations

import kopf

from controller import sweep
from controller.app import App
from sealer.kube import GROUP


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    passes = sweep.Sweeper(app, "SopsSecret", "sopssecrets", (GROUP,), app.controller.reconcile_sops,
                           app.config.resync_period.total_seconds())
    sweep.register(registry, passes, "sops_secret_passes")
