"""VaultSecrets: one async daemon per object runs its refresh loop (without a finalizer, see `resync`); a spec change
or the force-sync annotation wakes it at once."""

from __future__ import annotations

from typing import Any

import kopf

from controller.app import App
from controller.handlers import resync
from controller.vault.spec import FORCE_SYNC_ANNOTATION
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    resync.daemon(registry, GROUP, VERSION, "vaultsecrets", id="vault_secret_loop", when=app.in_scope,
                  run=app.refresher.run, cancellation_backoff=2.0, cancellation_timeout=10.0)

    @kopf.on.update(GROUP, VERSION, "vaultsecrets", id="vault_secret_changed", field="spec", when=app.in_scope,
                    registry=registry)
    @kopf.on.field(GROUP, VERSION, "vaultsecrets", id="vault_secret_changed",
                   field=("metadata", "annotations", FORCE_SYNC_ANNOTATION), when=app.in_scope, registry=registry)
    async def vault_secret_changed(meta: Any, **_: Any) -> None:
        app.refresher.wake(meta.get("uid"))
