"""--eso-compat: External Secrets Operator's external-secrets.io/v1 ExternalSecrets, SecretStores and
ClusterSecretStores (Vault provider), served through the VaultSecret runtime (`vault.esocompat`). Registered only
with the flag: without it the controller never watches ESO's kinds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from controller.app import App
from controller.handlers import resync, scheduled
from controller.vault import loop
from controller.vault.esocompat import ESO_API, ESO_GROUP, PLURALS

VERSION = "v1"


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    if not app.config.eso_compat:
        return
    eso = app.eso
    # ExternalSecrets: the VaultSecrets' scheduler with ESO's kind (no kopf handler or state per object)
    scheduled.register(registry, app, eso, lambda: eso.kind(app.refresher), id="eso_external_secret_scheduler")

    def store_check(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        eso.write_store_status(body, meta, patch, eso.check_store(body))

    def check_loop(plural: str) -> Callable[[Any, Any], Awaitable[None]]:
        async def tick(body: Any, meta: Any) -> None:
            result = await asyncio.to_thread(eso.check_store, body)
            patch = kopf.Patch()
            eso.write_store_status(body, meta, patch, result)
            await asyncio.to_thread(loop.write_status, app.controller.kube, ESO_API, plural, body,
                                    patch.get("status") or {})

        return tick

    for kind in ("SecretStore", "ClusterSecretStore"):
        plural = PLURALS[kind]
        on: dict[str, Any] = {"when": app.in_served_namespace, "registry": registry}
        kopf.on.resume(ESO_GROUP, VERSION, plural, id="eso_store", **on)(store_check)
        kopf.on.create(ESO_GROUP, VERSION, plural, id="eso_store", **on)(store_check)
        kopf.on.update(ESO_GROUP, VERSION, plural, id="eso_store", field="spec", **on)(store_check)
        resync.periodic(registry, ESO_GROUP, VERSION, plural, id="eso_store_check", when=app.in_served_namespace,
                        interval=app.config.vault_store_check, tick=check_loop(plural))
