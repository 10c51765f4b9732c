"""ClusterVaultSecret: one VaultSecret spec fanned out to many namespaces (by list or label selector), as External
Secrets Operator's ClusterExternalSecret. Pure: the spec, the namespaces it targets, the VaultSecret each gets.

The VaultSecrets it makes are ordinary ones, owned by the ClusterVaultSecret and labelled with its name: each is
checked against its store's rules in its own namespace (a ClusterVaultStore's `namespaces` still decide), so a
fan-out never reaches a namespace its store does not allow. A VaultSecret of that name that someone else made is
left alone (that namespace is reported failed), never taken over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.vault.fields import SpecError, object_name, parse_go_duration
from controller.vault.store import LabelSelector, parse_selector
from sealer.kube import API_VERSION, MANAGED_BY, MANAGED_BY_LABEL

OWNER_LABEL = "sealer.dev/cluster-vault-secret"
MAX_NAMESPACES = 1000


@dataclass(frozen=True)
class FanOutSpec:
    name: str
    uid: str
    vault_secret_name: str
    vault_secret_spec: str  # JSON of spec.vaultSecretSpec (hashable; the same for every namespace)
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    namespaces: tuple[str, ...] = ()
    selectors: tuple[LabelSelector, ...] = ()
    refresh_seconds: float = 60.0

    def targets(self, namespaces: Sequence[tuple[str, Mapping[str, str]]]) -> list[str]:
        """The namespaces (name, labels) it applies to: listed by name, or matched by any selector (ESO ORs them)."""
        out = [ns for ns, labels in namespaces
               if ns in self.namespaces or any(sel.matches(labels) for sel in self.selectors)]
        return sorted(out)[:MAX_NAMESPACES]


def parse_cluster_vault_secret(obj: Mapping[str, Any]) -> FanOutSpec:
    """A ClusterVaultSecret object -> FanOutSpec, or SpecError naming the field. The embedded VaultSecret spec is
    checked as a VaultSecret's (in a namespace named `check`)."""
    from controller.vault.spec import parse_vault_secret

    meta = obj.get("metadata") or {}
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required", field="spec")
    inner = spec.get("vaultSecretSpec")
    if not isinstance(inner, Mapping):
        raise SpecError("is required", field="spec.vaultSecretSpec")
    name = str(meta.get("name") or "")
    vs_name = spec.get("vaultSecretName") or name
    object_name(str(vs_name), "spec.vaultSecretName", "VaultSecret")
    try:
        parse_vault_secret({"apiVersion": API_VERSION, "kind": "VaultSecret",
                            "metadata": {"name": vs_name, "namespace": "check"}, "spec": inner})
    except SpecError as e:
        raise SpecError(e.message, field=f"spec.vaultSecretSpec{(e.field or '')[len('spec'):]}") from None
    vs_meta = spec.get("vaultSecretMetadata") or {}
    if not isinstance(vs_meta, Mapping):
        raise SpecError("must be an object", field="spec.vaultSecretMetadata")
    labels, annotations = vs_meta.get("labels") or {}, vs_meta.get("annotations") or {}
    for what, m in (("labels", labels), ("annotations", annotations)):
        if not isinstance(m, Mapping) or not all(isinstance(v, str) for v in m.values()):
            raise SpecError("must be a map of strings", field=f"spec.vaultSecretMetadata.{what}")
    namespaces = spec.get("namespaces") or []
    if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
        raise SpecError("must be a list of namespace names", field="spec.namespaces")
    raw_selectors = spec.get("namespaceSelectors") or []
    if not isinstance(raw_selectors, list):
        raise SpecError("must be a list of label selectors", field="spec.namespaceSelectors")
    selectors = tuple(s for i, raw in enumerate(raw_selectors)
                      if (s := parse_selector(raw, f"spec.namespaceSelectors[{i}]")) is not None)
    if not namespaces and not selectors:
        raise SpecError("name namespaces or namespaceSelectors (none would select no namespace)", field="spec")
    refresh = parse_go_duration(str(spec.get("refreshTime") or "1m"), "spec.refreshTime")
    return FanOutSpec(name, str(meta.get("uid") or ""), str(vs_name), json.dumps(inner, sort_keys=True),
                      tuple(sorted(labels.items())), tuple(sorted(annotations.items())), tuple(namespaces),
                      selectors, max(refresh, 5.0) if refresh else 60.0)


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": API_VERSION, "kind": "ClusterVaultSecret", "name": meta.get("name"), "uid": meta.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def desired_vault_secret(obj: Mapping[str, Any], spec: FanOutSpec, namespace: str) -> dict[str, Any]:
    labels = {**dict(spec.labels), OWNER_LABEL: spec.name, MANAGED_BY_LABEL: MANAGED_BY}
    meta: dict[str, Any] = {"name": spec.vault_secret_name, "namespace": namespace, "labels": labels,
                            "ownerReferences": [owner_reference(obj)]}
    if spec.annotations:
        meta["annotations"] = dict(spec.annotations)
    return {"apiVersion": API_VERSION, "kind": "VaultSecret", "metadata": meta,
            "spec": json.loads(spec.vault_secret_spec)}


def owned(existing: Mapping[str, Any], uid: str) -> bool:
    return any(r.get("uid") == uid and r.get("controller")
               for r in (existing.get("metadata") or {}).get("ownerReferences") or [])


def differs(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """The VaultSecret lacks what the ClusterVaultSecret says (its spec, our labels and annotations)."""
    have, want = existing.get("metadata") or {}, desired["metadata"]
    return (existing.get("spec") != desired["spec"]
            or any((have.get("labels") or {}).get(k) != v for k, v in want["labels"].items())
            or any((have.get("annotations") or {}).get(k) != v for k, v in (want.get("annotations") or {}).items()))


def digest(spec: FanOutSpec) -> str:
    return hashlib.sha256(spec.vault_secret_spec.encode()).hexdigest()[:16]
