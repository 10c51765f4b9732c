"""Vault auth methods of a store: one dataclass per method and the parser of `spec.auth`. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.vault.fields import SecretKeyRef, SpecError, key_ref, mount, object_name, text


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


def parse_auth(raw: Any, own_namespace: str | None) -> Auth:
    """`spec.auth` -> one auth method. A namespaced store (own_namespace set) takes credentials only from there."""
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
        return TokenAuth(key_ref(body.get("secretRef"), f"{where}.secretRef", own_namespace))
    if kind == "appRole":
        role_id = text(body, "roleId", where)
        assert role_id
        return AppRoleAuth(mount(body.get("mount"), f"{where}.mount", "approle"), role_id,
                           key_ref(body.get("secretIdRef"), f"{where}.secretIdRef", own_namespace))
    role = text(body, "role", where)
    sa = body.get("serviceAccount")
    if not isinstance(sa, Mapping):
        raise SpecError("is required", field=f"{where}.serviceAccount")
    sa_name = text(sa, "name", f"{where}.serviceAccount")
    object_name(sa_name or "", f"{where}.serviceAccount.name", "ServiceAccount")
    if own_namespace is not None:
        if sa.get("namespace") not in (None, "", own_namespace):
            raise SpecError("a VaultStore uses a ServiceAccount of its own namespace",
                            field=f"{where}.serviceAccount.namespace")
        sa_ns: str | None = own_namespace
    else:
        sa_ns = text(sa, "namespace", f"{where}.serviceAccount")
    audiences = body.get("audiences") or ["vault"]
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        raise SpecError("must be a list of strings", field=f"{where}.audiences")
    assert role and sa_name and sa_ns
    return KubernetesAuth(mount(body.get("mount"), f"{where}.mount", "kubernetes"), role, sa_ns, sa_name,
                          tuple(audiences))
