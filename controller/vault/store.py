"""VaultStore / ClusterVaultStore specs and who may use which store. Pure: no API calls, no hvac, no kopf.

The API server applies the CRDs' defaults and validation; this module applies them again so a store created
without them (an old CRD, an emulator) fails with a clear `SpecError` instead of a KeyError.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.vault.auth import Auth, parse_auth
from controller.vault.fields import SpecError, mount, text

STORE_KINDS = ("VaultStore", "ClusterVaultStore")


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        for key, op, values in self.match_expressions:
            have = key in labels
            if op == "In" and (not have or labels[key] not in values):
                return False
            if op == "NotIn" and have and labels[key] in values:
                return False
            if op == "Exists" and not have:
                return False
            if op == "DoesNotExist" and have:
                return False
        return True


@dataclass(frozen=True)
class StoreSpec:
    kind: str  # VaultStore | ClusterVaultStore
    name: str
    namespace: str | None  # the VaultStore's namespace; None for a ClusterVaultStore
    server: str
    auth: Auth
    ca_bundle: bytes | None = None  # PEM
    vault_namespace: str | None = None
    mount: str = "secret"
    kv_version: int = 2
    namespaces: tuple[str, ...] | None = None  # ClusterVaultStore: listed namespaces
    namespace_selector: LabelSelector | None = None  # ClusterVaultStore: namespaces by label
    requests_per_second: float = 0.0  # 0 = no limit (ratelimit.py)
    burst: int = 0  # requests allowed at once above the rate; 0 = max(1, rate)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that affects login or reads changes: a new client is made then."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    @property
    def needs_namespace_labels(self) -> bool:
        return self.kind == "ClusterVaultStore" and self.namespace_selector is not None



def _selector(raw: Any) -> LabelSelector | None:
    if raw is None:
        return None
    where = "spec.namespaceSelector"
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise SpecError("must be a map", field=f"{where}.matchLabels")
    exprs = []
    for i, e in enumerate(raw.get("matchExpressions") or []):
        op = (e or {}).get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist") or not (e or {}).get("key"):
            raise SpecError("needs a key and an operator In, NotIn, Exists or DoesNotExist",
                            field=f"{where}.matchExpressions[{i}]")
        exprs.append((e["key"], op, tuple(e.get("values") or ())))
    return LabelSelector(tuple(sorted((str(k), str(v)) for k, v in labels.items())), tuple(exprs))


def parse_store(obj: Mapping[str, Any]) -> StoreSpec:
    """A VaultStore or ClusterVaultStore object -> StoreSpec, or SpecError naming the field."""
    kind = obj.get("kind")
    if kind not in STORE_KINDS:
        raise SpecError(f"is {kind!r}, not a VaultStore or ClusterVaultStore", field="kind")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required", field="spec")
    own_ns = meta.get("namespace") if kind == "VaultStore" else None
    if kind == "VaultStore" and not own_ns:
        raise SpecError("a VaultStore needs a namespace", field="metadata.namespace")
    server = text(spec, "server", "spec")
    assert server
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", server):
        raise SpecError("must be an http:// or https:// address", field="spec.server")
    ca = None
    if spec.get("caBundle"):
        try:
            ca = base64.b64decode(spec["caBundle"], validate=True)
        except (ValueError, TypeError):
            raise SpecError("is not valid base64", field="spec.caBundle") from None
        if b"-----BEGIN CERTIFICATE-----" not in ca:
            raise SpecError("holds no PEM certificate", field="spec.caBundle")
    if spec.get("conditions") is not None:  # fail closed: ignoring it would let every namespace use the store
        raise SpecError("is External Secrets Operator's field, not sealer's: list the namespaces in spec.namespaces "
                        "or select them with spec.namespaceSelector", field="spec.conditions")
    kv = spec.get("kvVersion", 2)
    if kv not in (1, 2):
        raise SpecError("must be 1 or 2", field="spec.kvVersion")
    namespaces = None
    if kind == "ClusterVaultStore" and spec.get("namespaces") is not None:
        if not isinstance(spec["namespaces"], list):
            raise SpecError("must be a list of namespace names", field="spec.namespaces")
        namespaces = tuple(str(n) for n in spec["namespaces"])
    rate = spec.get("requestsPerSecond", 0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
        raise SpecError("must be a number >= 0 (0 = no limit)", field="spec.requestsPerSecond")
    burst = spec.get("burst", 0)
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
        raise SpecError("must be an integer >= 0", field="spec.burst")
    auth = parse_auth(spec.get("auth"), own_ns)
    return StoreSpec(kind, str(meta.get("name") or ""), own_ns, server.rstrip("/"), auth, ca,
                     text(spec, "namespace", "spec", required=False),
                     mount(spec.get("mount"), "spec.mount", "secret"), int(kv), namespaces,
                     _selector(spec.get("namespaceSelector")) if kind == "ClusterVaultStore" else None,
                     float(rate), int(burst))


def store_allows(store: StoreSpec, namespace: str, namespace_labels: Mapping[str, str] | None) -> str | None:
    """None if a VaultSecret in `namespace` may use `store`, else why not (a message, no secrets).

    A VaultStore serves only its own namespace. A ClusterVaultStore serves the namespaces it lists OR that its
    selector matches; with neither set, every namespace (as ESO's ClusterSecretStore without conditions)."""
    if store.kind == "VaultStore":
        if store.namespace != namespace:
            return f"{store.ref} is in another namespace; a VaultSecret can use only a VaultStore of its own"
        return None
    if store.namespaces is None and store.namespace_selector is None:
        return None
    if store.namespaces is not None and namespace in store.namespaces:
        return None
    if store.namespace_selector is not None and store.namespace_selector.matches(namespace_labels or {}):
        return None
    return f"{store.ref} does not allow namespace {namespace} (spec.namespaces / spec.namespaceSelector)"

