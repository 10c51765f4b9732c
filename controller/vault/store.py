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

from controller.vault.auth import Auth, CertAuth, parse_auth
from controller.vault.fields import ITEM_KEY, SecretKeyRef, SpecError, key_ref, mount, object_name, text

STORE_KINDS = ("VaultStore", "ClusterVaultStore")
ESO_KINDS = {"VaultStore": "SecretStore", "ClusterVaultStore": "ClusterSecretStore"}  # --eso-compat: what they were
RESERVED_HEADERS = ("authorization", "x-vault-token", "x-vault-namespace", "x-vault-wrap-ttl", "host",
                    "content-length", "transfer-encoding", "cookie")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
MAX_HEADERS = 32


@dataclass(frozen=True)
class CaProvider:
    """ESO's caProvider: the CA bundle in a key of a Secret or ConfigMap (read when the client is made)."""

    kind: str  # Secret | ConfigMap
    namespace: str
    name: str
    key: str


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
    burst: int = 0  # requests allowed at once; 0 = 1 (evenly spaced)
    ca_provider: CaProvider | None = None
    tls_cert: SecretKeyRef | None = None  # spec.tls.certSecretRef: client certificate for mTLS (PEM)
    tls_key: SecretKeyRef | None = None  # spec.tls.keySecretRef: its private key (PEM)
    headers: tuple[tuple[str, str], ...] = ()  # spec.headers: sent with every request
    auth_namespace: str | None = None  # spec.auth.namespace: the Vault namespace to log in to (ESO)
    eso: bool = False  # an External Secrets SecretStore / ClusterSecretStore served with --eso-compat

    @property
    def ref(self) -> str:
        kind = ESO_KINDS[self.kind] if self.eso else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"

    @property
    def key(self) -> tuple[str | None, ...]:
        """The store's identity among the clients: an ESO store never shares a client with a sealer store."""
        ident = (self.kind, self.namespace, self.name)
        return ("eso", *ident) if self.eso else ident

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that affects login or reads changes: a new client is made then."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    @property
    def needs_namespace_labels(self) -> bool:
        return self.kind == "ClusterVaultStore" and self.namespace_selector is not None



def parse_selector(raw: Any, where: str = "spec.namespaceSelector") -> LabelSelector | None:
    """A Kubernetes label selector (matchLabels, matchExpressions), or SpecError naming the field."""
    if raw is None:
        return None
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


def _ca_provider(raw: Any, own_ns: str | None) -> CaProvider | None:
    if raw is None:
        return None
    where = "spec.caProvider"
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    kind = raw.get("type")
    if kind not in ("Secret", "ConfigMap"):
        raise SpecError("must be Secret or ConfigMap", field=f"{where}.type")
    name, key = text(raw, "name", where) or "", text(raw, "key", where) or ""
    object_name(name, f"{where}.name", kind)
    if not ITEM_KEY.match(key):
        raise SpecError(f"invalid key {key!r}", field=f"{where}.key")
    if own_ns is not None:  # a VaultStore reads only its own namespace
        if raw.get("namespace") not in (None, "", own_ns):
            raise SpecError("a VaultStore reads a CA only from its own namespace", field=f"{where}.namespace")
        namespace = own_ns
    else:
        namespace = text(raw, "namespace", where) or ""
        object_name(namespace, f"{where}.namespace", "namespace")
    return CaProvider(kind, namespace, name, key)


def _tls(raw: Any, own_ns: str | None, auth: Auth) -> tuple[SecretKeyRef | None, SecretKeyRef | None]:
    """ESO's spec.tls: the client certificate and key for mutual TLS with the server (keys default tls.crt and
    tls.key, as a kubernetes.io/tls Secret has them)."""
    if raw is None:
        return None, None
    where = "spec.tls"
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    if isinstance(auth, CertAuth):
        raise SpecError("cert auth brings its own client certificate: set it in spec.auth.cert only", field=where)
    refs = []
    for field_name, default in (("certSecretRef", "tls.crt"), ("keySecretRef", "tls.key")):
        ref = raw.get(field_name)
        if not isinstance(ref, Mapping):
            raise SpecError("is required", field=f"{where}.{field_name}")
        refs.append(key_ref({"key": default, **ref}, f"{where}.{field_name}", own_ns))
    return refs[0], refs[1]


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    where = "spec.headers"
    if not isinstance(raw, Mapping) or len(raw) > MAX_HEADERS:
        raise SpecError(f"must be a map of up to {MAX_HEADERS} header names to values", field=where)
    out = []
    for name, value in raw.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise SpecError("has an invalid header name", field=where)
        if name.lower() in RESERVED_HEADERS:
            raise SpecError(f"must not set {name}: the controller sets it (token, namespace)", field=f"{where}.{name}")
        if not isinstance(value, str) or len(value) > 4096 or any(c in value for c in "\r\n\0"):
            raise SpecError("must be a single-line string of up to 4096 characters", field=f"{where}.{name}")
        out.append((name, value))
    return tuple(sorted(out))


def parse_store_ref(raw: Any, where: str, namespace: str | None) -> tuple[str, str]:
    """A reference to a store, `{kind, name}` -> (kind, name). `namespace` given: the referring object's; a
    `namespace` field naming another is refused, never ignored (only a VaultStore of its own namespace, or a
    ClusterVaultStore that allows it, can be used)."""
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise SpecError("is required", field=f"{where}.name")
    kind = raw.get("kind") or "VaultStore"
    if kind not in STORE_KINDS:
        raise SpecError("must be VaultStore or ClusterVaultStore", field=f"{where}.kind")
    object_name(str(raw["name"]), f"{where}.name", kind)
    if namespace is not None and raw.get("namespace") not in (None, "", namespace):
        raise SpecError("is not supported: only a VaultStore of this namespace (or a ClusterVaultStore that allows "
                        "it) can be used", field=f"{where}.namespace")
    return str(kind), str(raw["name"])


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
    tls_cert, tls_key = _tls(spec.get("tls"), own_ns, auth)
    return StoreSpec(kind, str(meta.get("name") or ""), own_ns, server.rstrip("/"), auth, ca,
                     text(spec, "namespace", "spec", required=False),
                     mount(spec.get("mount"), "spec.mount", "secret"), int(kv), namespaces,
                     parse_selector(spec.get("namespaceSelector")) if kind == "ClusterVaultStore" else None,
                     float(rate), int(burst), _ca_provider(spec.get("caProvider"), own_ns), tls_cert, tls_key,
                     _headers(spec.get("headers")), text(spec["auth"], "namespace", "spec.auth", required=False),
                     str(obj.get("apiVersion") or "").startswith("external-secrets.io/"))


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

