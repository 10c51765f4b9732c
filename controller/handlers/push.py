"""VaultPushSecrets: one daemon per object writes its Secret's items to Vault KV every refreshInterval (without a
finalizer, see `resync`); a spec change wakes it at once. With `spec.deletionPolicy: Delete` a deletion handler
(and so a finalizer) deletes what it wrote, if still its own, before the object goes."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from controller.app import App
from controller.handlers import resync
from controller.vault.client import VaultError
from controller.vault.fields import SpecError
from controller.vault.pushsync import PLURAL, PushSync
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    runtime = PushSync(app.vault)
    resync.daemon(registry, GROUP, VERSION, PLURAL, id="vault_push_loop", when=app.in_scope, run=runtime.run,
                  cancellation_backoff=2.0, cancellation_timeout=10.0)

    @kopf.on.update(GROUP, VERSION, PLURAL, id="vault_push_changed", field="spec", when=app.in_scope,
                    registry=registry)
    async def vault_push_changed(meta: Any, **_: Any) -> None:
        runtime.wake(meta.get("uid"))

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
