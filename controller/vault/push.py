"""VaultPushSecret: a Kubernetes Secret's items written to Vault KV, shaped after External Secrets Operator's
PushSecret (Vault provider). Pure: the spec, what each remote key should hold, and the ownership rule.

What is written (ESO's rules): an item with `secretKey` and `remoteRef.property` sets that property of the KV
secret to the key's value; with `secretKey` and no property the key's value must be a JSON object and becomes the
whole KV secret; without `secretKey` the whole Secret (as `{key: value}`) is the KV secret, or, with a property,
that property's JSON text. Items naming the same remote key are merged into one write.

Ownership: a KV secret is ours when its custom metadata says `managed-by: sealer` and `sealer-owner:
<namespace>/<name>` of this VaultPushSecret; anything else (absent marks, another tool, another VaultPushSecret,
another namespace through a shared ClusterVaultStore) is never overwritten nor deleted. KV v1 has no metadata:
the marks are kept inside the data under `custom_metadata`, as ESO does, so an existing KV v1 secret without
them is refused too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.vault.fields import ITEM_KEY, SpecError, object_name, parse_go_duration, vault_path
from controller.vault.store import STORE_KINDS, parse_store_ref

MANAGED_BY_KEY, MANAGED_BY_VALUE, OWNER_KEY = "managed-by", "sealer", "sealer-owner"
DEFAULT_REFRESH = 3600.0
MAX_ITEMS = 256
MAX_STORES = 16
UPDATE_POLICIES = ("Replace", "IfNotExists")
DELETION_POLICIES = ("Delete", "None")


@dataclass(frozen=True)
class PushItem:
    """One `spec.data[]` entry."""

    secret_key: str | None  # None: the whole Secret
    remote_key: str
    property: str | None  # None: the whole KV secret

    @property
    def ref(self) -> str:
        """ESO's key of `status.syncedPushSecrets[store]`: the remote key, `/property` appended when set."""
        return f"{self.remote_key}/{self.property}" if self.property else self.remote_key

    def as_status(self) -> dict[str, Any]:
        """ESO's PushSecretData shape (names only, never a value)."""
        remote: dict[str, Any] = {"remoteKey": self.remote_key}
        if self.property:
            remote["property"] = self.property
        match: dict[str, Any] = {"remoteRef": remote}
        if self.secret_key:
            match["secretKey"] = self.secret_key
        return {"match": match}


@dataclass(frozen=True)
class PushSpec:
    namespace: str
    name: str
    stores: tuple[tuple[str, str], ...]  # (kind, name)
    secret_name: str
    items: tuple[PushItem, ...]
    update_policy: str = "Replace"
    deletion_policy: str = "None"
    refresh_seconds: float | None = DEFAULT_REFRESH  # None: only on a spec change

    @property
    def owner(self) -> str:
        return f"{self.namespace}/{self.name}"

    def marks(self) -> dict[str, str]:
        """The custom metadata every KV secret this VaultPushSecret writes carries."""
        return {MANAGED_BY_KEY: MANAGED_BY_VALUE, OWNER_KEY: self.owner}


def store_key(kind: str, name: str) -> str:
    """ESO's key of `status.syncedPushSecrets`: `<kind>/<name>`."""
    return f"{kind}/{name}"


def parse_store_key(key: str) -> tuple[str, str] | None:
    kind, _, name = key.partition("/")
    return (kind, name) if kind in STORE_KINDS and name else None


def _item(raw: Any, where: str) -> PushItem:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("match"), Mapping):
        raise SpecError("is required", field=f"{where}.match")
    match = raw["match"]
    secret_key = match.get("secretKey")
    if secret_key in (None, ""):
        secret_key = None
    elif not isinstance(secret_key, str) or not ITEM_KEY.match(secret_key):
        raise SpecError("must be a Secret key", field=f"{where}.match.secretKey")
    remote = match.get("remoteRef")
    if not isinstance(remote, Mapping):
        raise SpecError("is required", field=f"{where}.match.remoteRef")
    remote_key = vault_path(remote.get("remoteKey"), f"{where}.match.remoteRef.remoteKey")
    prop = remote.get("property")
    if prop in (None, ""):
        prop = None
    elif not isinstance(prop, str) or "/" in prop or len(prop) > 256:
        raise SpecError("must be a key name without '/'", field=f"{where}.match.remoteRef.property")
    return PushItem(secret_key, remote_key, prop)


def parse_push_secret(obj: Mapping[str, Any]) -> PushSpec:
    """A VaultPushSecret object -> PushSpec, or SpecError naming the field."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required", field="spec")
    refs = spec.get("storeRefs")
    if not isinstance(refs, list) or not refs:
        raise SpecError("needs at least one store", field="spec.storeRefs")
    if len(refs) > MAX_STORES:
        raise SpecError(f"more than {MAX_STORES} stores", field="spec.storeRefs")
    stores: list[tuple[str, str]] = []
    for i, ref in enumerate(refs):
        where = f"spec.storeRefs[{i}]"
        found = parse_store_ref(ref, where, namespace)
        if found not in stores:
            stores.append(found)
    selector = spec.get("selector")
    secret = selector.get("secret") if isinstance(selector, Mapping) else None
    if not isinstance(secret, Mapping) or not secret.get("name"):
        raise SpecError("is required", field="spec.selector.secret.name")
    if secret.get("namespace") not in (None, "", namespace):
        raise SpecError("is not supported: only a Secret of this namespace", field="spec.selector.secret.namespace")
    secret_name = object_name(str(secret["name"]), "spec.selector.secret.name")
    data = spec.get("data")
    if not isinstance(data, list) or not data:
        raise SpecError("needs at least one item", field="spec.data")
    if len(data) > MAX_ITEMS:
        raise SpecError(f"more than {MAX_ITEMS} items", field="spec.data")
    items = [_item(raw, f"spec.data[{i}]") for i, raw in enumerate(data)]
    refs_seen: set[str] = set()
    for i, item in enumerate(items):
        if item.ref in refs_seen:
            raise SpecError(f"remote key {item.ref!r} is written twice", field=f"spec.data[{i}].match.remoteRef")
        refs_seen.add(item.ref)
    update = spec.get("updatePolicy") or "Replace"
    if update not in UPDATE_POLICIES:
        raise SpecError("must be Replace or IfNotExists", field="spec.updatePolicy")
    deletion = spec.get("deletionPolicy") or "None"
    if deletion not in DELETION_POLICIES:
        raise SpecError("must be Delete or None", field="spec.deletionPolicy")
    interval = spec.get("refreshInterval")
    refresh = DEFAULT_REFRESH if interval in (None, "") else parse_go_duration(str(interval), "spec.refreshInterval")
    return PushSpec(namespace, name, tuple(stores), secret_name, tuple(items), str(update), str(deletion),
                    refresh or None)


# --- what to write ---------------------------------------------------------------------------------------------


@dataclass
class Desired:
    """What one remote key should hold: `whole` replaces the KV secret, `properties` are set on top."""

    whole: dict[str, Any] | None = None
    properties: dict[str, str] = field(default_factory=dict)
    items: list[PushItem] = field(default_factory=list)

    def merged(self, existing: Mapping[str, Any] | None) -> dict[str, Any]:
        base = dict(self.whole) if self.whole is not None else dict(existing or {})
        base.update(self.properties)
        return base


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise SpecError("is not UTF-8 text (Vault KV holds strings)", field=where) from None


def desired(spec: PushSpec, secret_data: Mapping[str, bytes]) -> dict[str, Desired]:
    """Remote key -> what it should hold, from the Secret's decoded items. SpecError (naming the Secret key, never
    a value) for a missing key, a value that is not text, or one that must be a JSON object and is not."""
    out: dict[str, Desired] = {}
    for item in spec.items:
        target = out.setdefault(item.remote_key, Desired())
        target.items.append(item)
        if item.secret_key is None:
            whole = {k: _text(v, f"Secret {spec.secret_name} key {k}") for k, v in sorted(secret_data.items())}
            if item.property:
                target.properties[item.property] = json.dumps(whole, sort_keys=True)
            else:
                target.whole = whole
            continue
        where = f"Secret {spec.secret_name} key {item.secret_key}"
        if item.secret_key not in secret_data:
            raise SpecError("does not exist", field=where)
        value = _text(secret_data[item.secret_key], where)
        if item.property:
            target.properties[item.property] = value
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise SpecError("must hold a JSON object to be the whole KV secret (or set remoteRef.property)",
                            field=where)
        target.whole = parsed
    return out


# --- ownership --------------------------------------------------------------------------------------------------


def owned(custom_metadata: Mapping[str, Any], owner: str) -> bool:
    """True only for a KV secret this VaultPushSecret (`<namespace>/<name>`) marked as its own."""
    return custom_metadata.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and custom_metadata.get(OWNER_KEY) == owner


CREATE, UPDATE, UNCHANGED, SKIP, REFUSE = "create", "update", "unchanged", "skip", "refuse"


def decide(exists: bool, custom_metadata: Mapping[str, Any], owner: str, update_policy: str,
           current: Mapping[str, Any] | None, wanted: Mapping[str, Any], marks: Mapping[str, str]) -> str:
    """What to do with one remote key. A secret that does not exist is created; with IfNotExists one that exists
    is left as it is, whoever owns it; otherwise one that is not ours is refused; ours is written only when the
    data (or our marks) differ. Under IfNotExists a secret we wrote before is kept as is."""
    if not exists:
        return CREATE
    if not owned(custom_metadata, owner):
        return SKIP if update_policy == "IfNotExists" else REFUSE
    if update_policy == "IfNotExists":
        return UNCHANGED  # ours, written before: left as it is, still ours to delete
    if current == wanted and all(custom_metadata.get(k) == v for k, v in marks.items()):
        return UNCHANGED
    return UPDATE


def after_delete(current: Mapping[str, Any], prop: str | None) -> dict[str, Any] | None:
    """What a remote key holds after one of our refs goes: None (delete the secret) for a whole-secret ref or the
    last property; otherwise the rest."""
    if prop is None:
        return None
    rest = {k: v for k, v in current.items() if k != prop}
    return rest or None
