"""--eso-compat: External Secrets Operator's external-secrets.io/v1 ExternalSecrets, SecretStores and
ClusterSecretStores (Vault provider), served through the VaultSecret runtime (`vault.esocompat`). Registered only
with the flag: without it the controller never watches ESO's kinds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from controller import status
from controller.app import App
from controller.handlers import scheduled
from controller.handlers.stores import register_checks
from controller.vault import loop
from controller.vault.esocompat import ESO_API, ESO_GROUP, PLURALS
from controller.vault.storecheck import StoreKind

VERSION = "v1"


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    if not app.config.eso_compat:
        return
    eso = app.eso
    post = status.api_poster(lambda: app.controller.kube)  # the store check loop runs outside kopf's handlers
    # ExternalSecrets: the VaultSecrets' scheduler with ESO's kind (no kopf handler or state per object)
    scheduled.register(registry, app, eso, lambda: eso.kind(app.refresher), id="eso_external_secret_scheduler")

    def store_check(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        eso.write_store_status(body, meta, patch, eso.check_store(body))

    def check_loop(plural: str) -> Callable[[Any, Any], Awaitable[None]]:
        async def tick(body: Any, meta: Any) -> None:
            result = await asyncio.to_thread(eso.check_store, body)
            patch = kopf.Patch()
            eso.write_store_status(body, meta, patch, result, post)
            await asyncio.to_thread(loop.write_status, app.controller.kube, ESO_API, plural, body,
                                    patch.get("status") or {})

        return tick

    kinds = []
    for kind in ("SecretStore", "ClusterSecretStore"):
        plural = PLURALS[kind]
        on: dict[str, Any] = {"when": app.in_served_namespace, "registry": registry}
        kopf.on.resume(ESO_GROUP, VERSION, plural, id="eso_store", **on)(store_check)
        kopf.on.create(ESO_GROUP, VERSION, plural, id="eso_store", **on)(store_check)
        kopf.on.update(ESO_GROUP, VERSION, plural, id="eso_store", field="spec", **on)(store_check)
        kinds.append(StoreKind(kind, ESO_API, plural, kind.startswith("Cluster"), check_loop(plural)))
    register_checks(registry, app, kinds, id="eso_store_check")
