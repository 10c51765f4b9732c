"""VaultPKISecrets: one daemon per object issues and renews its certificate (without a finalizer, see `resync`);
a spec change wakes it at once. With `spec.revoke: true` a deletion handler (and so a finalizer) revokes the
certificate in Vault before the object goes."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from controller.app import App
from controller.handlers import resync
from controller.vault.client import VaultError
from controller.vault.fields import SpecError
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    resync.daemon(registry, GROUP, VERSION, "vaultpkisecrets", id="vault_pki_loop", when=app.in_scope,
                  run=app.pki.run, cancellation_backoff=2.0, cancellation_timeout=10.0)

    @kopf.on.update(GROUP, VERSION, "vaultpkisecrets", id="vault_pki_changed", field="spec", when=app.in_scope,
                    registry=registry)
    async def vault_pki_changed(meta: Any, **_: Any) -> None:
        app.pki.wake(meta.get("uid"))

    def revokes(spec: Any, namespace: str | None, labels: Any, **_: Any) -> bool:
        return bool(spec.get("revoke")) and app.in_scope(namespace, labels)

    @kopf.on.delete(GROUP, VERSION, "vaultpkisecrets", id="vault_pki_revoke", when=revokes, retries=5,
                    backoff=5, registry=registry)
    async def vault_pki_revoke(body: Any, **_: Any) -> None:
        try:
            await asyncio.to_thread(app.pki.revoke, body)
        except SpecError:
            return  # nothing can be revoked for an invalid spec
        except VaultError as e:
            raise kopf.TemporaryError(f"revocation failed: {e.reason}: {e.message}", delay=5) from None
