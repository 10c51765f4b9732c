"""VaultSecret specs as dataclasses and the Secret a VaultSecret wants. Pure: no API calls, no hvac, no kopf.

The API server applies the CRDs' defaults and validation; this module applies them again (the same defaults,
and the checks the controller relies on) so a VaultSecret created without them (an old CRD, an emulator) fails
with a clear `InvalidSpec` instead of a KeyError. Stores are in `store`, what is read in `data`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.digest import data_hmac, hash_changed, key_id  # noqa: F401 - status.dataHash, used as vs.*
from controller.secrets import PRODUCED_ANNOTATION
from controller.vault.data import DataFrom, DataRef, parse_sources
from controller.vault.fields import SpecError, object_name, parse_go_duration
from controller.vault.store import parse_store_ref
from controller.vault.template import Template, parse_template
from sealer.kube import API_VERSION, MANAGED_BY, MANAGED_BY_LABEL

FORCE_SYNC_ANNOTATION = "sealer.dev/force-sync"
RESTARTED_AT_ANNOTATION = "sealer.dev/restartedAt"
OWNER, MERGE, ORPHAN = "Owner", "Merge", "Orphan"
RETAIN, DELETE = "Retain", "Delete"
WORKLOAD_KINDS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


@dataclass(frozen=True)
class Target:
    name: str
    creation_policy: str = OWNER
    deletion_policy: str = RETAIN
    type: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    template: Template = field(default_factory=Template)
    immutable: bool = False


@dataclass(frozen=True)
class VaultSecretSpec:
    namespace: str
    name: str
    store_kind: str
    store_name: str
    refresh_seconds: float  # 0 = read once (force-sync still works)
    data: tuple[DataRef, ...] = ()
    data_from: tuple[DataFrom, ...] = ()
    target: Target = field(default_factory=lambda: Target(""))
    rollout_restart: tuple[tuple[str, str], ...] = ()  # (kind, name)
    eso: bool = False  # an ExternalSecret served with --eso-compat: its stores are ESO's (same names, other kinds)


def parse_vault_secret(obj: Mapping[str, Any]) -> VaultSecretSpec:
    """A VaultSecret object -> VaultSecretSpec (CRD defaults applied), or SpecError naming the field."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required", field="spec")
    store_kind, store_name = parse_store_ref(spec.get("storeRef"), "spec.storeRef", namespace)
    refresh = parse_go_duration(spec.get("refreshInterval", "1h"), "spec.refreshInterval")
    data, data_from = parse_sources(spec)
    if not data and not data_from:
        raise SpecError("set data, dataFrom, or both", field="spec")
    raw_target = spec.get("target") or {}
    if not isinstance(raw_target, Mapping):
        raise SpecError("must be an object", field="spec.target")
    creation = raw_target.get("creationPolicy") or OWNER
    deletion = raw_target.get("deletionPolicy") or RETAIN
    if raw_target.get("namespace") not in (None, "", namespace):
        raise SpecError("is not supported: the Secret is always written in the VaultSecret's own namespace",
                        field="spec.target.namespace")
    if creation not in (OWNER, MERGE, ORPHAN):
        raise SpecError("must be Owner, Merge or Orphan", field="spec.target.creationPolicy")
    if deletion not in (RETAIN, DELETE):
        raise SpecError("must be Retain or Delete", field="spec.target.deletionPolicy")
    if creation == MERGE and deletion == DELETE:
        raise SpecError("Delete is not allowed with creationPolicy Merge: the Secret is not ours to delete",
                        field="spec.target.deletionPolicy")
    raw_template = raw_target.get("template")
    template = parse_template(raw_template)
    secret_type = (raw_template or {}).get("type") or None
    if secret_type is not None and not isinstance(secret_type, str):
        raise SpecError("must be a string", field="spec.target.template.type")
    immutable = raw_target.get("immutable", False)
    if not isinstance(immutable, bool):
        raise SpecError("must be true or false", field="spec.target.immutable")
    target_name = raw_target.get("name") or name
    if not isinstance(target_name, str):
        raise SpecError("must be a string", field="spec.target.name")
    object_name(target_name, "spec.target.name")
    target = Target(target_name, creation, deletion, secret_type, tuple(sorted(template.labels)),
                    tuple(sorted(template.annotations)), template, immutable)
    restarts = parse_rollout_targets(spec.get("rolloutRestartTargets"), namespace)
    return VaultSecretSpec(namespace, name, store_kind, store_name, refresh, data, data_from, target,
                           restarts, str(obj.get("apiVersion") or "").startswith("external-secrets.io/"))


def parse_rollout_targets(raw: Any, namespace: str) -> tuple[tuple[str, str], ...]:
    """`spec.rolloutRestartTargets` -> (kind, name) pairs; a namespace naming another is refused, not ignored."""
    restarts = []
    for i, r in enumerate(raw or []):
        if not isinstance(r, Mapping) or r.get("kind") not in WORKLOAD_KINDS or not r.get("name"):
            raise SpecError("needs kind Deployment, StatefulSet or DaemonSet and a name",
                            field=f"spec.rolloutRestartTargets[{i}]")
        object_name(str(r["name"]), f"spec.rolloutRestartTargets[{i}].name", r["kind"])
        if r.get("namespace") not in (None, "", namespace):
            raise SpecError("is not supported: only workloads of the object's own namespace are restarted",
                            field=f"spec.rolloutRestartTargets[{i}].namespace")
        restarts.append((str(r["kind"]), str(r["name"])))
    return tuple(restarts)


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion") or API_VERSION, "kind": obj.get("kind") or "VaultSecret",
            "name": meta.get("name"), "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def desired_secret(obj: Mapping[str, Any], spec: VaultSecretSpec, data: Mapping[str, bytes],
                   labels: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """The Secret to write. Owner: ownerReference (controller) + our label; Orphan: our label, no reference;
    Merge: only the items matter (secrets.plan merges them into the existing Secret). A template's own managed-by
    label (Helm, Argo CD...) is kept, as for a SealedSecret; an Orphan Secret then carries our produced mark.
    `labels`/`annotations`: the template's, rendered (else taken as written)."""
    t = spec.target
    meta: dict[str, Any] = {"name": t.name, "namespace": spec.namespace}
    labels = dict(t.labels if labels is None else labels)
    annotations = dict(t.annotations if annotations is None else annotations)
    if t.creation_policy != MERGE:
        labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY)
    if t.creation_policy == ORPHAN and labels[MANAGED_BY_LABEL] != MANAGED_BY:  # no ownerReference, not our label
        annotations[PRODUCED_ANNOTATION] = "true"
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if t.creation_policy == OWNER:
        meta["ownerReferences"] = [owner_reference(obj)]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": t.type or "Opaque",
              "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}}
    if t.immutable:
        secret["immutable"] = True
    return secret


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
