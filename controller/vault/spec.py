"""VaultStore / ClusterVaultStore / VaultSecret specs as dataclasses, who may use which store, and the Secret a
VaultSecret wants from the data read out of Vault. Pure: no API calls, no hvac, no kopf.

The API server applies the CRDs' defaults and validation; this module applies them again (the same defaults,
and the checks the controller relies on) so a store or VaultSecret created without them (an old CRD, an
emulator) fails with a clear `InvalidSpec` instead of a KeyError.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.secrets import PRODUCED_ANNOTATION
from sealer import duration
from sealer.errors import InputError
from sealer.kube import API_VERSION, MANAGED_BY, MANAGED_BY_LABEL

FORCE_SYNC_ANNOTATION = "sealer.dev/force-sync"
RESTARTED_AT_ANNOTATION = "sealer.dev/restartedAt"
STORE_KINDS = ("VaultStore", "ClusterVaultStore")
OWNER, MERGE, ORPHAN = "Owner", "Merge", "Orphan"
RETAIN, DELETE = "Retain", "Delete"
WORKLOAD_KINDS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}

_ITEM_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # DNS-1123 subdomain


class SpecError(InputError):
    """A store or VaultSecret spec the controller cannot use; the message names the field."""


def parse_go_duration(text: str, field_name: str) -> float:
    """Seconds from a Go/Kubernetes duration (`1h30m`, `15m`, `90s`, `1.5h`; `0` = never). ESO writes these; a
    negative one, which Go's syntax allows, means nothing here."""
    found = duration.seconds(text)
    if found is None or found < 0:
        raise SpecError(f"invalid duration {str(text).strip()!r} (use e.g. 1h, 15m, 90s, 1h30m or 0)",
                        field=field_name)
    return found


# --- stores -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretKeyRef:
    """A key of a Kubernetes Secret that holds a credential (token, AppRole secret id)."""

    namespace: str
    name: str
    key: str


@dataclass(frozen=True)
class TokenAuth:
    secret: SecretKeyRef
    kind: str = "token"


@dataclass(frozen=True)
class AppRoleAuth:
    mount: str
    role_id: str
    secret_id: SecretKeyRef
    kind: str = "appRole"


@dataclass(frozen=True)
class KubernetesAuth:
    mount: str
    role: str
    service_account_namespace: str
    service_account: str
    audiences: tuple[str, ...]
    kind: str = "kubernetes"


Auth = TokenAuth | AppRoleAuth | KubernetesAuth


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


def _str(spec: Mapping[str, Any], key: str, where: str, *, required: bool = True, default: str | None = None
         ) -> str | None:
    value = spec.get(key, default)
    if value is None or value == "":
        if required:
            raise SpecError("is required", field=f"{where}.{key}")
        return default
    if not isinstance(value, str):
        raise SpecError("must be a string", field=f"{where}.{key}")
    return value


def _object_name(name: str, where: str, what: str = "Secret") -> str:
    """A Kubernetes object name (DNS-1123 subdomain): anything else could only be a path trick (`../x`)."""
    if len(name) > 253 or not _OBJECT_NAME.match(name):
        raise SpecError(f"must be a valid {what} name (lower-case letters, digits, '-' and '.')", field=where)
    return name


def _key_ref(raw: Any, where: str, own_namespace: str | None) -> SecretKeyRef:
    if not isinstance(raw, Mapping):
        raise SpecError("is required", field=where)
    name, key = _str(raw, "name", where), _str(raw, "key", where)
    _object_name(name or "", f"{where}.name")
    if own_namespace is not None:  # a VaultStore reads credentials only from its own namespace
        if raw.get("namespace") not in (None, "", own_namespace):
            raise SpecError("a VaultStore reads credentials only from its own namespace", field=f"{where}.namespace")
        namespace = own_namespace
    else:
        namespace = _str(raw, "namespace", where)
    assert name and key and namespace
    if not _ITEM_KEY.match(key):
        raise SpecError(f"invalid Secret key {key!r}", field=f"{where}.key")
    return SecretKeyRef(namespace, name, key)


def _mount(raw: Any, where: str, default: str) -> str:
    value = default if raw in (None, "") else raw
    if not isinstance(value, str) or value.startswith("/") or value.endswith("/"):
        raise SpecError("must be a path without leading or trailing '/'", field=where)
    return value


def _auth(raw: Any, own_namespace: str | None) -> Auth:
    if not isinstance(raw, Mapping):
        raise SpecError("is required", field="spec.auth")
    kinds = [k for k in ("token", "appRole", "kubernetes") if raw.get(k) is not None]
    if len(kinds) != 1:
        raise SpecError("needs exactly one of token, appRole, kubernetes", field="spec.auth")
    kind = kinds[0]
    body = raw[kind]
    where = f"spec.auth.{kind}"
    if not isinstance(body, Mapping):
        raise SpecError("must be an object", field=where)
    if kind == "token":
        return TokenAuth(_key_ref(body.get("secretRef"), f"{where}.secretRef", own_namespace))
    if kind == "appRole":
        role_id = _str(body, "roleId", where)
        assert role_id
        return AppRoleAuth(_mount(body.get("mount"), f"{where}.mount", "approle"), role_id,
                           _key_ref(body.get("secretIdRef"), f"{where}.secretIdRef", own_namespace))
    role = _str(body, "role", where)
    sa = body.get("serviceAccount")
    if not isinstance(sa, Mapping):
        raise SpecError("is required", field=f"{where}.serviceAccount")
    sa_name = _str(sa, "name", f"{where}.serviceAccount")
    _object_name(sa_name or "", f"{where}.serviceAccount.name", "ServiceAccount")
    if own_namespace is not None:
        if sa.get("namespace") not in (None, "", own_namespace):
            raise SpecError("a VaultStore uses a ServiceAccount of its own namespace",
                            field=f"{where}.serviceAccount.namespace")
        sa_ns: str | None = own_namespace
    else:
        sa_ns = _str(sa, "namespace", f"{where}.serviceAccount")
    audiences = body.get("audiences") or ["vault"]
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        raise SpecError("must be a list of strings", field=f"{where}.audiences")
    assert role and sa_name and sa_ns
    return KubernetesAuth(_mount(body.get("mount"), f"{where}.mount", "kubernetes"), role, sa_ns, sa_name,
                          tuple(audiences))


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
    server = _str(spec, "server", "spec")
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
    return StoreSpec(kind, str(meta.get("name") or ""), own_ns, server.rstrip("/"), _auth(spec.get("auth"), own_ns),
                     ca, _str(spec, "namespace", "spec", required=False), _mount(spec.get("mount"), "spec.mount",
                                                                                 "secret"),
                     int(kv), namespaces, _selector(spec.get("namespaceSelector")) if kind == "ClusterVaultStore"
                     else None)


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


# --- VaultSecrets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataRef:
    secret_key: str
    path: str
    property: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class Target:
    name: str
    creation_policy: str = OWNER
    deletion_policy: str = RETAIN
    type: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VaultSecretSpec:
    namespace: str
    name: str
    store_kind: str
    store_name: str
    refresh_seconds: float  # 0 = read once (force-sync still works)
    data: tuple[DataRef, ...] = ()
    data_from: tuple[str, ...] = ()
    target: Target = field(default_factory=lambda: Target(""))
    rollout_restart: tuple[tuple[str, str], ...] = ()  # (kind, name)

    def reads(self) -> list[tuple[str, int | None]]:
        """Each (path, version) to read once per sync, in a stable order: several items of one path cost one read."""
        seen: dict[tuple[str, int | None], None] = {}
        for path in self.data_from:
            seen.setdefault((path, None), None)
        for ref in self.data:
            seen.setdefault((ref.path, ref.version), None)
        return list(seen)


def _path(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip("/"):
        raise SpecError("is required", field=where)
    path = raw.strip("/")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise SpecError("must not contain empty, '.' or '..' segments", field=where)
    return path


def parse_vault_secret(obj: Mapping[str, Any]) -> VaultSecretSpec:
    """A VaultSecret object -> VaultSecretSpec (CRD defaults applied), or SpecError naming the field."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required", field="spec")
    store_ref = spec.get("storeRef")
    if not isinstance(store_ref, Mapping) or not store_ref.get("name"):
        raise SpecError("is required", field="spec.storeRef.name")
    store_kind = store_ref.get("kind") or "VaultStore"
    if store_kind not in STORE_KINDS:
        raise SpecError("must be VaultStore or ClusterVaultStore", field="spec.storeRef.kind")
    _object_name(str(store_ref["name"]), "spec.storeRef.name", store_kind)
    if store_ref.get("namespace") not in (None, "", namespace):  # not a CRD field: refused, not silently ignored
        raise SpecError("is not supported: a VaultSecret can use only a VaultStore of its own namespace (or a "
                        "ClusterVaultStore that allows it)", field="spec.storeRef.namespace")
    refresh = parse_go_duration(spec.get("refreshInterval", "1h"), "spec.refreshInterval")
    data: list[DataRef] = []
    keys: set[str] = set()
    for i, item in enumerate(spec.get("data") or []):
        where = f"spec.data[{i}]"
        if not isinstance(item, Mapping):
            raise SpecError("must be an object", field=where)
        key = item.get("secretKey")
        if not isinstance(key, str) or not _ITEM_KEY.match(key) or key in (".", ".."):
            raise SpecError("must be a valid Secret item key ([-._a-zA-Z0-9]+)", field=f"{where}.secretKey")
        if key in keys:
            raise SpecError(f"item {key!r} is listed twice", field=f"{where}.secretKey")
        keys.add(key)
        remote = item.get("remoteRef")
        if not isinstance(remote, Mapping):
            raise SpecError("is required", field=f"{where}.remoteRef")
        prop = remote.get("property")
        if prop is not None and (not isinstance(prop, str) or not prop):
            raise SpecError("must be a non-empty string", field=f"{where}.remoteRef.property")
        version = remote.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
            raise SpecError("must be a positive integer", field=f"{where}.remoteRef.version")
        data.append(DataRef(key, _path(remote.get("path"), f"{where}.remoteRef.path"), prop, version))
    data_from = []
    for i, item in enumerate(spec.get("dataFrom") or []):
        data_from.append(_path((item or {}).get("path") if isinstance(item, Mapping) else None,
                               f"spec.dataFrom[{i}].path"))
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
    template = raw_target.get("template") or {}
    tmeta = template.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (tmeta.get("labels") or {}).items()}
    target_name = raw_target.get("name") or name
    if not isinstance(target_name, str):
        raise SpecError("must be a string", field="spec.target.name")
    _object_name(target_name, "spec.target.name")
    target = Target(target_name, creation, deletion, template.get("type") or None,
                    tuple(sorted(labels.items())),
                    tuple(sorted((str(k), str(v)) for k, v in (tmeta.get("annotations") or {}).items())))
    restarts = []
    for i, r in enumerate(spec.get("rolloutRestartTargets") or []):
        if not isinstance(r, Mapping) or r.get("kind") not in WORKLOAD_KINDS or not r.get("name"):
            raise SpecError("needs kind Deployment, StatefulSet or DaemonSet and a name",
                            field=f"spec.rolloutRestartTargets[{i}]")
        _object_name(str(r["name"]), f"spec.rolloutRestartTargets[{i}].name", r["kind"])
        if r.get("namespace") not in (None, "", namespace):
            raise SpecError("is not supported: only workloads of the VaultSecret's own namespace are restarted",
                            field=f"spec.rolloutRestartTargets[{i}].namespace")
        restarts.append((r["kind"], r["name"]))
    return VaultSecretSpec(namespace, name, store_kind, str(store_ref["name"]), refresh, tuple(data),
                           tuple(data_from), target, tuple(restarts))


# --- data -> Secret -----------------------------------------------------------------------------------------


class DataError(SpecError):
    """Vault returned something that cannot become the Secret (a missing property, an invalid item key)."""


def _encode(value: Any) -> bytes:
    """Strings as they are; anything else (numbers, booleans, maps) as compact JSON, as ESO does."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def build_data(spec: VaultSecretSpec, fetched: Mapping[tuple[str, int | None], Mapping[str, Any]]
               ) -> dict[str, bytes]:
    """Secret items from the Vault secrets read for `spec.reads()`. dataFrom first, then data (data wins on a
    clash, as in ESO). Without `property` an item holds the whole secret as JSON."""
    out: dict[str, bytes] = {}
    for path in spec.data_from:
        for key, value in fetched[(path, None)].items():
            if not isinstance(key, str) or not _ITEM_KEY.match(key) or key in (".", ".."):
                raise DataError(f"Vault secret {path} has a key {str(key)[:64]!r} that is not a valid Secret item "
                                "key; read it with data[].remoteRef.property and a secretKey instead",
                                field="spec.dataFrom")
            out[key] = _encode(value)
    for ref in spec.data:
        secret = fetched[(ref.path, ref.version)]
        if ref.property is None:
            out[ref.secret_key] = _encode(dict(secret))
        elif ref.property not in secret:
            raise DataError(f"Vault secret {ref.path} has no property {ref.property!r}",
                            field=f"spec.data[{ref.secret_key}]")
        else:
            out[ref.secret_key] = _encode(secret[ref.property])
    return out


def data_hmac(key: bytes, data: Mapping[str, bytes]) -> str:
    """Keyed HMAC-SHA256 of the items, for status.dataHash. Keyed so values cannot be confirmed by guessing
    (a plain hash of a short password is a dictionary attack away); prefixed by a key id so a new key is not
    mistaken for changed data. Items are length-prefixed, so no two different maps encode alike."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for k in sorted(data):
        kb, vb = k.encode(), data[k]
        mac.update(len(kb).to_bytes(4, "big") + kb + len(vb).to_bytes(8, "big") + vb)
    return f"hmac-sha256:{key_id(key)}:{mac.hexdigest()}"


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"sealer-vault-hmac-key-id\0" + key).hexdigest()[:8]


def hash_changed(previous: str | None, current: str, key: bytes) -> bool:
    """True when the data changed since `previous` (status.dataHash). False on the first sync and when the
    previous hash was made with another key (nothing can be said then)."""
    if not previous:
        return False
    parts = previous.split(":")
    if len(parts) != 3 or parts[1] != key_id(key):
        return False
    return previous != current


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion") or API_VERSION, "kind": obj.get("kind") or "VaultSecret",
            "name": meta.get("name"), "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def desired_secret(obj: Mapping[str, Any], spec: VaultSecretSpec, data: Mapping[str, bytes]) -> dict[str, Any]:
    """The Secret to write. Owner: ownerReference (controller) + our label; Orphan: our label, no reference;
    Merge: only the items matter (secrets.plan merges them into the existing Secret). A template's own managed-by
    label (Helm, Argo CD...) is kept, as for a SealedSecret; an Orphan Secret then carries our produced mark."""
    t = spec.target
    meta: dict[str, Any] = {"name": t.name, "namespace": spec.namespace}
    labels = dict(t.labels)
    annotations = dict(t.annotations)
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
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": t.type or "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
