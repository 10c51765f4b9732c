"""VaultSecrets: one scheduler per operator run (`controller.vault.scheduler`) keeps a small record per object,
watches the kind itself and syncs each object when it is due; kopf runs no handler and keeps no state for them
(a kopf daemon per object cost ~50-87 KiB of RSS each)."""

from __future__ import annotations

import kopf

from controller.app import App
from controller.handlers import scheduled


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    scheduled.register(registry, app, app.refresher, None, id="vault_secret_scheduler")
