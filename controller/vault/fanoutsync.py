"""The ClusterVaultSecret runtime: make, update and remove the VaultSecrets of its namespaces. Every refreshTime
and on any Namespace event it re-reads the namespaces, so a namespace that gains the label gets its VaultSecret
and one that loses it has it removed (with its Secret, by ownership)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf

from controller import status
from controller.runtime import Result
from controller.vault import fanout, loop
from controller.vault.fields import SpecError
from controller.vault.sync import VaultSync
from sealer.kube import API_VERSION

log = logging.getLogger("sealer.controller.vault")


class FanOut:
    def __init__(self, vault: VaultSync, serves_namespace: Callable[[str], bool],
                 namespaces: Sequence[str] = ()) -> None:
        self.vault = vault
        self.serves_namespace = serves_namespace
        self.namespaces = tuple(namespaces)  # --namespaces: list only there (the namespaced RBAC has no more)
        self.wakers = loop.Wakers()

    @property
    def kube(self) -> Any:
        return self.vault.controller.kube

    def reconcile(self, body: Mapping[str, Any]) -> tuple[Result, dict[str, Any]]:
        """One pass: (Ready outcome, status fields provisionedNamespaces / failedNamespaces)."""
        try:
            spec = fanout.parse_cluster_vault_secret(body)
        except SpecError as e:
            return Result(False, "InvalidSpec", str(e)), {}
        try:
            namespaces = [(str(n["metadata"]["name"]), (n["metadata"].get("labels") or {}))
                          for n in self.kube.list_namespaces()
                          if not (n.get("metadata") or {}).get("deletionTimestamp")]
            targets = [ns for ns in spec.targets(namespaces) if self.serves_namespace(ns)]
            provisioned, failed = [], []
            for ns in targets:
                problem = self._apply(body, spec, ns)
                if problem:
                    failed.append({"namespace": ns, "reason": problem})
                else:
                    provisioned.append(ns)
            removed = self._prune(spec, set(targets))
        except Exception as e:
            log.warning("ClusterVaultSecret %s: %s", (body.get("metadata") or {}).get("name"), type(e).__name__)
            return Result(False, "ApiError", f"Kubernetes API error ({getattr(e, 'status', None) or type(e).__name__})"
                          ), {}
        st = {"provisionedNamespaces": provisioned, "failedNamespaces": failed}
        message = f"VaultSecret {spec.vault_secret_name} in {len(provisioned)} namespaces"
        if removed:
            message += f"; removed from {', '.join(removed[:10])}"
        if failed:
            return Result(False, "PartiallyReady", message + f"; failed in {len(failed)}: " + ", ".join(
                f"{f['namespace']} ({f['reason']})" for f in failed[:10])), st
        return Result(True, "Ready", message, bool(removed)), st

    def _apply(self, body: Mapping[str, Any], spec: fanout.FanOutSpec, namespace: str) -> str | None:
        desired = fanout.desired_vault_secret(body, spec, namespace)
        existing = self.kube.get_object(API_VERSION, "vaultsecrets", namespace, spec.vault_secret_name)
        if existing is None:
            self.kube.create_object(API_VERSION, "vaultsecrets", namespace, desired)
            return None
        if not fanout.owned(existing, spec.uid):
            return "a VaultSecret of that name exists and is not this ClusterVaultSecret's"
        if fanout.differs(existing, desired):
            self.kube.patch_object(API_VERSION, "vaultsecrets", namespace, spec.vault_secret_name,
                                   {"metadata": {"labels": desired["metadata"]["labels"],
                                                 "annotations": desired["metadata"].get("annotations") or None},
                                    "spec": desired["spec"]})
        return None

    def _prune(self, spec: fanout.FanOutSpec, keep: set[str]) -> list[str]:
        """Delete the VaultSecrets it made in namespaces it no longer targets (or under an old name)."""
        removed = []
        selector = f"{fanout.OWNER_LABEL}={spec.name}"
        where: Sequence[str | None] = self.namespaces or (None,)
        found = [o for ns in where for o in self.kube.list_objects(API_VERSION, "vaultsecrets", selector, ns)]
        for obj in found:
            meta = obj.get("metadata") or {}
            ns, name = str(meta.get("namespace")), str(meta.get("name"))
            if not fanout.owned(obj, spec.uid) or (ns in keep and name == spec.vault_secret_name):
                continue
            self.kube.delete_object(API_VERSION, "vaultsecrets", ns, name)
            removed.append(ns)
        return removed

    def wake_all(self) -> None:
        self.wakers.wake_all()

    def wake(self, uid: str | None) -> None:
        self.wakers.wake(uid)

    async def run(self, stopped: Any, body: Any, meta: Any) -> None:
        async def step() -> float | None:
            started = time.monotonic()
            result, st = await asyncio.to_thread(self.reconcile, body)
            patch = kopf.Patch()
            status.report("ClusterVaultSecret", result, started, body, meta, patch)
            patch.status.update(st)
            await asyncio.to_thread(loop.write_status, self.kube, API_VERSION, "clustervaultsecrets", body,
                                    patch.get("status") or {})
            try:
                return fanout.parse_cluster_vault_secret(body).refresh_seconds
            except SpecError:
                return None

        await loop.run(stopped, str(meta.get("uid") or ""), self.wakers, step)
