"""What a VaultSecret reads (`spec.data`, `spec.dataFrom`) and the Secret items made of what Vault answered.
Pure: the reads are made by `sync`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from controller.vault.fields import ITEM_KEY, SpecError, vault_path


@dataclass(frozen=True)
class DataRef:
    secret_key: str
    path: str
    property: str | None = None
    version: int | None = None


class Sources(Protocol):
    """What build_data needs of a VaultSecretSpec."""

    data: tuple[DataRef, ...]
    data_from: tuple[str, ...]


def parse_sources(spec: Mapping[str, Any]) -> tuple[tuple[DataRef, ...], tuple[str, ...]]:
    """`spec.data` and `spec.dataFrom` of a VaultSecret, or SpecError naming the field."""
    data: list[DataRef] = []
    keys: set[str] = set()
    for i, item in enumerate(spec.get("data") or []):
        where = f"spec.data[{i}]"
        if not isinstance(item, Mapping):
            raise SpecError("must be an object", field=where)
        key = item.get("secretKey")
        if not isinstance(key, str) or not ITEM_KEY.match(key) or key in (".", ".."):
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
        data.append(DataRef(key, vault_path(remote.get("path"), f"{where}.remoteRef.path"), prop, version))
    data_from: list[str] = []
    for i, item in enumerate(spec.get("dataFrom") or []):
        data_from.append(vault_path((item or {}).get("path") if isinstance(item, Mapping) else None,
                               f"spec.dataFrom[{i}].path"))
    return tuple(data), tuple(data_from)


def reads(spec: Sources) -> list[tuple[str, int | None]]:
    """Each (path, version) to read once per sync, in a stable order: several items of one path cost one read."""
    seen: dict[tuple[str, int | None], None] = {}
    for path in spec.data_from:
        seen.setdefault((path, None), None)
    for ref in spec.data:
        seen.setdefault((ref.path, ref.version), None)
    return list(seen)


class DataError(SpecError):
    """Vault returned something that cannot become the Secret (a missing property, an invalid item key)."""


def _encode(value: Any) -> bytes:
    """Strings as they are; anything else (numbers, booleans, maps) as compact JSON, as ESO does."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def build_data(spec: Sources, fetched: Mapping[tuple[str, int | None], Mapping[str, Any]]
               ) -> dict[str, bytes]:
    """Secret items from the Vault secrets read for `reads(spec)`. dataFrom first, then data (data wins on a
    clash, as in ESO). Without `property` an item holds the whole secret as JSON."""
    out: dict[str, bytes] = {}
    for path in spec.data_from:
        for key, value in fetched[(path, None)].items():
            if not isinstance(key, str) or not ITEM_KEY.match(key) or key in (".", ".."):
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
