"""VaultStores and ClusterVaultStores: status from a login and token lookup, and a loop that renews tokens when
due (--vault-store-check-period) and re-checks stores that are not ready. The loop is a daemon without a finalizer
(see `resync`): deleting a store needs nothing done (its client goes on the DELETED event), so none is added."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from controller import status
from controller.app import App
from controller.handlers import resync
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    vault = app.vault

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
            status.report_store(result, body, meta, patch)
            await asyncio.to_thread(app.write_status, body, plural, patch)

        return tick

    check = app.config.vault_store_check
    for plural in ("vaultstores", "clustervaultstores"):
        on: dict[str, Any] = {"when": app.in_served_namespace, "registry": registry}
        kopf.on.resume(GROUP, VERSION, plural, id="vault_store", **on)(vault_store)
        kopf.on.create(GROUP, VERSION, plural, id="vault_store", **on)(vault_store)
        kopf.on.update(GROUP, VERSION, plural, id="vault_store", field="spec", **on)(vault_store)
        kopf.on.event(GROUP, VERSION, plural, id="vault_store_event", **on)(vault_store_event)
        resync.periodic(registry, GROUP, VERSION, plural, id="vault_store_check", when=app.in_served_namespace,
                        interval=check, tick=check_loop(plural))
