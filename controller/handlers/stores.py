"""VaultStores and ClusterVaultStores: status from a login and token lookup, and a timer that renews tokens when
due (--vault-store-check-period) and re-checks stores that are not ready."""

from __future__ import annotations

from typing import Any

import kopf

from controller import status
from controller.app import App
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    vault = app.vault

    def vault_store(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        vault.store_event("MODIFIED", body)
        status.report_store(vault.check_store(body), body, meta, patch)

    def vault_store_timer(body: Any, meta: Any, patch: Any, **_: Any) -> None:
        if vault.maintain_store(body) or not status.is_ready(body):
            status.report_store(vault.check_store(body), body, meta, patch)

    def vault_store_event(type: str | None, body: Any, **_: Any) -> None:
        if type is not None:
            vault.store_event(type, body)

    check = app.config.vault_store_check
    for plural in ("vaultstores", "clustervaultstores"):
        on: dict[str, Any] = {"when": app.in_served_namespace, "registry": registry}
        kopf.on.resume(GROUP, VERSION, plural, id="vault_store", **on)(vault_store)
        kopf.on.create(GROUP, VERSION, plural, id="vault_store", **on)(vault_store)
        kopf.on.update(GROUP, VERSION, plural, id="vault_store", field="spec", **on)(vault_store)
        kopf.on.event(GROUP, VERSION, plural, id="vault_store_event", **on)(vault_store_event)
        kopf.timer(GROUP, VERSION, plural, id="vault_store_timer", interval=check, initial_delay=check, idle=0,
                   **on)(vault_store_timer)
