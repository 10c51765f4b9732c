"""SealedSecrets (sealer.dev, and bitnami.com with --bitnami-compat): changes from the controller's own watch
(`controller.changes`); at each operator run's start and every --resync-period, one pass over the kind
(`controller.sweep`). kopf runs no handler for them and keeps no state per object."""

from __future__ import annotations

import kopf

from controller import sweep
from controller.app import App
from sealer.kube import BITNAMI_GROUP, GROUP


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    groups = (GROUP, BITNAMI_GROUP) if app.config.bitnami_compat else (GROUP,)
    passes = sweep.Sweeper(app, "SealedSecret", "sealedsecrets", groups, app.controller.reconcile_sealed,
                           app.config.resync_period.total_seconds())
    sweep.register(registry, passes, "sealed_secret_passes")
