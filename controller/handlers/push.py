"""VaultPushSecrets: a scheduler (`controller.handlers.scheduled`) writes each one's Secret items to Vault KV every
refreshInterval, a small record per object; a spec change or a new `sealer.dev/force-sync` value syncs one at once.
With `spec.deletionPolicy: Delete` the scheduler's own finalizer (`controller.vault.cleanup`) has what it wrote
deleted, if still its own, before the object goes. kopf keeps nothing per object."""

from __future__ import annotations

import kopf

from controller.app import App
from controller.handlers import scheduled
from controller.vault.pushsync import PushSync


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    runtime = PushSync(app.vault)
    scheduled.register(registry, app, runtime, lambda: runtime.kind(app.refresher), id="vault_push_scheduler")
