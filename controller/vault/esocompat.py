"""--eso-compat: External Secrets Operator's own objects served as they are. An `external-secrets.io/v1`
ExternalSecret, SecretStore or ClusterSecretStore of the Vault provider is converted in memory by the same code as
`sealer migrate eso` (`sealer.eso`) and synced by the VaultSecret runtime; status is written in ESO's terms
(condition `Ready` with reason `SecretSynced` / `SecretSyncedError`, `refreshTime`, `binding`; stores `Valid` /
`InvalidProviderConfig` / `ValidationFailed`) so dashboards, alerts and Argo CD's ExternalSecret health keep working.

A store of another provider, or an object using a field sealer does not have, is not served: its status says so
(one line naming the field), nothing else is touched.

ExternalSecrets are refreshed by the VaultSecrets' scheduler (`controller.vault.scheduler`, with `EsoCompat.kind`):
a small record per object, not a kopf daemon (~50 KiB each). As in ESO, each is read from Vault when the
controller starts, and refreshed every refreshInterval after that; ESO's `force-sync` annotation and a spec change
sync it at once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

from controller import status
from controller.runtime import Result
from controller.vault.client import VaultError
from controller.vault.scheduler import Kind, store_of
from controller.vault.sync import Sync, VaultSync

log = logging.getLogger("sealer.controller.vault")

ESO_API = "external-secrets.io/v1"
ESO_GROUP = "external-secrets.io"
PLURALS = {"ExternalSecret": "externalsecrets", "SecretStore": "secretstores",
           "ClusterSecretStore": "clustersecretstores"}
SYNCED, SYNC_ERROR = "SecretSynced", "SecretSyncedError"
FORCE_SYNC = "force-sync"  # ESO's annotation: a new value syncs the ExternalSecret now


def eso_store(kube: Any, eso_kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    """An ESO store object from the API (None when absent)."""
    if eso_kind == "ClusterSecretStore":
        return kube.get_cluster_object(ESO_API, PLURALS[eso_kind], name)
    return kube.get_object(ESO_API, PLURALS[eso_kind], namespace, name)


def as_sealer_store(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An ESO store as the VaultStore / ClusterVaultStore it stands for; VaultError InvalidStore when sealer cannot
    serve it. The apiVersion stays ESO's, so its client is not confused with a sealer store of the same name."""
    from sealer import eso

    try:
        converted = eso.convert_store(obj)
    except eso.Unconvertible as e:
        raise VaultError("InvalidStore", f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}: "
                                         f"{e.field}: {e.why}") from None
    converted["apiVersion"] = obj.get("apiVersion") or ESO_API
    return converted


class EsoCompat:
    """ExternalSecret loops and ESO store checks on top of the VaultSecret runtime."""

    def __init__(self, vault: VaultSync) -> None:
        self.vault = vault
        self.scheduler: Any = None  # controller.vault.scheduler.Scheduler of the operator run, while it runs

    @property
    def kube(self) -> Any:
        return self.vault.controller.kube

    # --- ExternalSecrets ----------------------------------------------------------------------------------

    def as_vault_secret(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ExternalSecret with its spec converted to a VaultSecret's: apiVersion, kind and metadata stay ESO's
        (the Secret is owned by the ExternalSecret; its stores are looked up among ESO's)."""
        from sealer import eso

        namespace = str((body.get("metadata") or {}).get("namespace") or "")
        stores = {}
        for kind, name in eso.store_refs(body):
            if kind not in PLURALS or kind == "ExternalSecret":
                continue
            found = eso_store(self.kube, kind, namespace, name)
            if found is None:
                where = f"namespace {namespace}" if kind == "SecretStore" else "the cluster"
                raise VaultError("StoreNotFound", f"{kind} {name} not found in {where}")
            stores[(kind, name)] = found
        try:
            converted = eso.convert_external_secret(body, stores)
        except eso.Unconvertible as e:
            raise VaultError("InvalidSpec", f"{e.field}: {e.why}") from None
        return {**body, "spec": converted["spec"]}

    def prepare(self, body: Mapping[str, Any]) -> dict[str, Any] | Sync:
        """The ExternalSecret as a VaultSecret to sync, or the failed sync that says why it cannot be."""
        try:
            return self.as_vault_secret(body)
        except VaultError as e:
            return Sync(Result(False, e.reason, e.message), retry=e.reason != "InvalidSpec")

    def reconcile(self, body: Mapping[str, Any]) -> Result:
        """Drift restoration (`Source`) of a Secret an ExternalSecret owns."""
        try:
            converted = self.as_vault_secret(body)
        except VaultError as e:
            return Result(False, e.reason, e.message)
        return self.vault.reconcile(converted)

    @staticmethod
    def eso_status(done: Sync, started: float, body: Mapping[str, Any], meta: Any, patch: Any,
                   post: status.Poster = status.kopf_event) -> None:
        """ESO's condition and fields: Ready with SecretSynced / SecretSyncedError (sealer's own reason leads the
        message of a failure), refreshTime and binding; nothing ESO's CRD would prune."""
        r = done.result
        mapped = Result(r.ready, SYNCED if r.ready else SYNC_ERROR,
                        r.message if r.ready else f"{r.reason}: {r.message}", r.changed, r.warning)
        status.report("ExternalSecret", mapped, started, body, meta, patch, post=post)
        patch.status.pop("observedGeneration", None)
        if done.status.get("refreshTime"):
            patch.status["refreshTime"] = done.status["refreshTime"]
        target = ((body.get("spec") or {}).get("target") or {}).get("name") or meta.get("name")
        patch.status["binding"] = {"name": target}

    def wake(self, uid: str | None) -> None:
        """Sync the ExternalSecret now (from any thread)."""
        scheduler = self.scheduler
        if scheduler is not None:
            scheduler.wake(uid)

    def kind(self, refresher: Any) -> Kind:
        """ExternalSecrets for the scheduler: converted at each sync (their stores read then), synced within the
        converted store's share and rate, status in ESO's terms; due when the controller starts (as in ESO) and
        refreshed every refreshInterval, without sealer's spread (ESO has none)."""

        async def sync(stopped: Any, body: dict[str, Any]) -> Sync | None:
            prepared = await refresher._thread(self.prepare, body)
            return prepared if isinstance(prepared, Sync) else await refresher._sync(stopped, prepared)

        return Kind("ExternalSecret", ESO_API, PLURALS["ExternalSecret"], sync=sync, force_annotation=FORCE_SYNC,
                    store_of=functools.partial(store_of, field="secretStoreRef", namespaced="SecretStore"),
                    report=self.eso_status, spread=False)

    # --- stores -------------------------------------------------------------------------------------------

    def check_store(self, body: Mapping[str, Any]) -> Result:
        """ESO's store condition: Valid, InvalidProviderConfig (not something sealer can serve), ValidationFailed
        (Vault refused or is unreachable)."""
        try:
            converted = as_sealer_store(body)
        except VaultError as e:
            return Result(False, "InvalidProviderConfig", f"not served by sealer: {e.message}")
        result = self.vault.check_store(converted)
        if result.ready:
            return Result(True, "Valid", f"store validated: {result.message}")
        reason = "InvalidProviderConfig" if result.reason in ("InvalidStore", "InvalidSpec") else "ValidationFailed"
        return Result(False, reason, f"{result.reason}: {result.message}")

    def write_store_status(self, body: Mapping[str, Any], meta: Any, patch: Any, result: Result,
                           post: status.Poster = status.kopf_event) -> None:
        status.set_ready(str(body.get("kind")), result, body, meta, patch, announce=not status.is_ready(body),
                         post=post)
        patch.status.pop("observedGeneration", None)
        patch.status["capabilities"] = "ReadOnly"
