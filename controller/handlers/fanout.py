"""ClusterVaultSecrets: one daemon per object keeps its VaultSecrets in the namespaces it targets (no finalizer: the
VaultSecrets it made go with it by ownership); a spec change or any Namespace event wakes the loops."""

from __future__ import annotations

from typing import Any

import kopf

from controller.app import App
from controller.handlers import resync
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    resync.daemon(registry, GROUP, VERSION, "clustervaultsecrets", id="cluster_vault_secret_loop",
                  when=app.cluster_scoped, run=app.fanout.run, cancellation_backoff=2.0, cancellation_timeout=10.0)

    @kopf.on.update(GROUP, VERSION, "clustervaultsecrets", id="cluster_vault_secret_changed", field="spec",
                    registry=registry)
    async def changed(meta: Any, **_: Any) -> None:
        app.fanout.wake(meta.get("uid"))

    @kopf.on.event("v1", "namespaces", id="namespace_for_cluster_vault_secrets", registry=registry)
    async def namespace_event(type: str | None, **_: Any) -> None:
        if type in ("ADDED", "MODIFIED", "DELETED"):
            app.fanout.wake_all()
