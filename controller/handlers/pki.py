"""VaultPKISecrets: a scheduler (`controller.handlers.scheduled`) issues and renews their certificates, a small
record per object; a spec change or a new `sealer.dev/force-sync` value syncs one at once. With `spec.revoke: true`
a deletion handler (and so a finalizer) revokes the certificate in Vault before the object goes."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from controller.app import App
from controller.handlers import scheduled
from controller.vault.client import VaultError
from controller.vault.fields import SpecError
from sealer.kube import GROUP, VERSION


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    scheduled.register(registry, app, app.pki, lambda: app.pki.kind(app.refresher), id="vault_pki_scheduler")

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
