"""VaultStores and ClusterVaultStores: status from a login and token lookup, and one loop per operator run
(`controller.vault.storecheck`) that renews tokens when due (--vault-store-check-period) and re-checks stores that
are not ready. Deleting a store needs nothing done (its client goes on the DELETED event): no finalizer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from controller import status
from controller.app import App
from controller.vault.storecheck import StoreChecks, StoreKind
from sealer.kube import API_VERSION, GROUP, VERSION


def register_checks(registry: kopf.OperatorRegistry, app: App, kinds: list[StoreKind], *, id: str) -> None:
    """The periodic check of ``kinds``' stores: one loop, started with each operator run and stopped at its end."""
    checks = StoreChecks(app, kinds)

    @kopf.on.startup(id=f"{id}_start", registry=registry)
    async def start(**_: Any) -> None:
        checks.start(app.config.vault_store_check)

    @kopf.on.cleanup(id=f"{id}_stop", registry=registry)
    async def stop(**_: Any) -> None:
        await checks.stop()


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    vault = app.vault
    post = status.api_poster(lambda: app.controller.kube)  # the loop runs outside kopf's handlers

    def vault_store(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        vault.store_event("MODIFIED", body)
        status.report_store(vault.check_store(body), body, meta, patch)

    def vault_store_event(type: str | None, body: Any, **_: Any) -> None:
        if type is not None:
            vault.store_event(type, body)

    def check_loop(plural: str) -> Callable[[Any, Any], Awaitable[None]]:
        async def tick(body: Any, meta: Any) -> None:
            due = await asyncio.to_thread(lambda: vault.maintain_store(body) or not status.is_ready(body))
            if not due:
                return
            result = await asyncio.to_thread(vault.check_store, body)
            patch = kopf.Patch()
            status.report_store(result, body, meta, patch, post)
            await asyncio.to_thread(app.write_status, body, plural, patch)

        return tick

    kinds = []
    for name, plural in (("VaultStore", "vaultstores"), ("ClusterVaultStore", "clustervaultstores")):
        on: dict[str, Any] = {"when": app.in_served_namespace, "registry": registry}
        kopf.on.resume(GROUP, VERSION, plural, id="vault_store", **on)(vault_store)
        kopf.on.create(GROUP, VERSION, plural, id="vault_store", **on)(vault_store)
        kopf.on.update(GROUP, VERSION, plural, id="vault_store", field="spec", **on)(vault_store)
        kopf.on.event(GROUP, VERSION, plural, id="vault_store_event", **on)(vault_store_event)
        kinds.append(StoreKind(name, API_VERSION, plural, name.startswith("Cluster"), check_loop(plural)))
    register_checks(registry, app, kinds, id="vault_store_check")
