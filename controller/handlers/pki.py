"""VaultPKISecrets: a scheduler (`controller.handlers.scheduled`) issues and renews their certificates, a small
record per object; a spec change or a new `sealer.dev/force-sync` value syncs one at once. With `spec.revoke: true`
the scheduler's own finalizer (`controller.vault.cleanup`) has the certificate revoked in Vault before the object
goes. kopf keeps nothing per object."""

from __future__ import annotations

import kopf

from controller.app import App
from controller.handlers import scheduled


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    scheduled.register(registry, app, app.pki, lambda: app.pki.kind(app.refresher), id="vault_pki_scheduler")
