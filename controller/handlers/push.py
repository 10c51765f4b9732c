"""VaultPushSecrets: a scheduler (`controller.handlers.scheduled`) writes each one's Secret items to Vault KV every
refreshInterval, a small record per object; a spec change or a new `sealer.dev/force-sync` value syncs one at once.
With `spec.deletionPolicy: Delete` a deletion handler (and so a finalizer) deletes what it wrote, if still its own,
before the object goes."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from controller.app import App
from controller.handlers import scheduled
from controller.vault.client import VaultError
from controller.vault.fields import SpecError
from controller.vault.pushsync import PLURAL, PushSync
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    runtime = PushSync(app.vault)
    scheduled.register(registry, app, runtime, lambda: runtime.kind(app.refresher), id="vault_push_scheduler")

    def deletes(spec: Any, namespace: str | None, labels: Any, **_: Any) -> bool:
        return spec.get("deletionPolicy") == "Delete" and app.in_scope(namespace, labels)

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="vault_push_delete", when=deletes, retries=5, backoff=5,
                    registry=registry)
    async def vault_push_delete(body: Any, **_: Any) -> None:
        try:
            await asyncio.to_thread(runtime.delete, body)
        except SpecError:
            return  # nothing can be deleted for an invalid spec
        except VaultError as e:
            raise kopf.TemporaryError(f"deletion in Vault failed: {e.reason}: {e.message}", delay=5) from None
