"""Readers for the fields of Vault specs (stores and VaultSecrets): each checks one field and names it in a
`SpecError`. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealer import duration
from sealer.errors import InputError

ITEM_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
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



@dataclass(frozen=True)
class SecretKeyRef:
    """A key of a Kubernetes Secret that holds a credential (token, AppRole secret id)."""

    namespace: str
    name: str
    key: str


def text(spec: Mapping[str, Any], key: str, where: str, *, required: bool = True, default: str | None = None
         ) -> str | None:
    value = spec.get(key, default)
    if value is None or value == "":
        if required:
            raise SpecError("is required", field=f"{where}.{key}")
        return default
    if not isinstance(value, str):
        raise SpecError("must be a string", field=f"{where}.{key}")
    return value



def object_name(name: str, where: str, what: str = "Secret") -> str:
    """A Kubernetes object name (DNS-1123 subdomain): anything else could only be a path trick (`../x`)."""
    if len(name) > 253 or not _OBJECT_NAME.match(name):
        raise SpecError(f"must be a valid {what} name (lower-case letters, digits, '-' and '.')", field=where)
    return name



def key_ref(raw: Any, where: str, own_namespace: str | None) -> SecretKeyRef:
    """A Secret key reference. In a namespaced object (own_namespace set) only that namespace."""
    if not isinstance(raw, Mapping):
        raise SpecError("is required", field=where)
    name, key = text(raw, "name", where), text(raw, "key", where)
    object_name(name or "", f"{where}.name")
    if own_namespace is not None:  # a VaultStore reads credentials only from its own namespace
        if raw.get("namespace") not in (None, "", own_namespace):
            raise SpecError("a VaultStore reads credentials only from its own namespace", field=f"{where}.namespace")
        namespace = own_namespace
    else:
        namespace = text(raw, "namespace", where)
    assert name and key and namespace
    if not ITEM_KEY.match(key):
        raise SpecError(f"invalid Secret key {key!r}", field=f"{where}.key")
    return SecretKeyRef(namespace, name, key)


def mount(raw: Any, where: str, default: str) -> str:
    value = default if raw in (None, "") else raw
    if not isinstance(value, str) or value.startswith("/") or value.endswith("/"):
        raise SpecError("must be a path without leading or trailing '/'", field=where)
    return value


def vault_path(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip("/"):
        raise SpecError("is required", field=where)
    path = raw.strip("/")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise SpecError("must not contain empty, '.' or '..' segments", field=where)
    return path
