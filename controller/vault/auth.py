"""Vault auth methods of a store: one dataclass per method and the parser of `spec.auth`. Pure.

Field names follow External Secrets Operator's Vault provider where sealer had no name of its own (userPass,
jwt, cert, appRole.roleRef, appRole.secretRef, auth.namespace). ESO's "referent" auth (a ClusterSecretStore
credential read from the ExternalSecret's namespace) is not supported: a ClusterVaultStore names the namespace of
every credential.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.vault.fields import SecretKeyRef, SpecError, key_ref, mount, object_name, text

AUTH_KINDS = ("token", "appRole", "kubernetes", "userPass", "jwt", "cert")
_USERNAME = re.compile(r"^[-._@a-zA-Z0-9]{1,256}$")


@dataclass(frozen=True)
class TokenAuth:
    secret: SecretKeyRef
    kind: str = "token"


@dataclass(frozen=True)
class AppRoleAuth:
    mount: str
    role_id: str | None  # inline roleId, or
    secret_id: SecretKeyRef
    role_ref: SecretKeyRef | None = None  # roleRef: the role id kept in a Secret (ESO)
    kind: str = "appRole"


@dataclass(frozen=True)
class KubernetesAuth:
    mount: str
    role: str
    service_account_namespace: str | None  # None (both): the controller's own ServiceAccount (ClusterVaultStore)
    service_account: str | None
    audiences: tuple[str, ...]
    kind: str = "kubernetes"

    @property
    def own_identity(self) -> bool:
        return self.service_account is None


@dataclass(frozen=True)
class UserPassAuth:
    mount: str
    username: str
    password: SecretKeyRef
    kind: str = "userPass"


@dataclass(frozen=True)
class JwtAuth:
    """A JWT from a Secret (`secret`), or a TokenRequest token of a ServiceAccount (`service_account`)."""

    mount: str
    role: str | None
    secret: SecretKeyRef | None = None
    service_account_namespace: str | None = None
    service_account: str | None = None
    audiences: tuple[str, ...] = ()
    expiration_seconds: int = 600
    kind: str = "jwt"


@dataclass(frozen=True)
class CertAuth:
    mount: str
    role: str | None
    client_cert: SecretKeyRef  # PEM certificate
    client_key: SecretKeyRef  # PEM private key
    kind: str = "cert"


Auth = TokenAuth | AppRoleAuth | KubernetesAuth | UserPassAuth | JwtAuth | CertAuth


def _audiences(body: Mapping[str, Any], where: str, default: list[str]) -> tuple[str, ...]:
    audiences = body.get("audiences") or default
    if not isinstance(audiences, list) or not audiences or len(audiences) > 16 or not all(
            isinstance(a, str) and a and len(a) <= 256 for a in audiences):
        raise SpecError("must be a list of up to 16 strings", field=f"{where}.audiences")
    return tuple(audiences)


def _service_account(sa: Any, where: str, own_namespace: str | None) -> tuple[str, str]:
    if not isinstance(sa, Mapping):
        raise SpecError("must be an object", field=where)
    name = text(sa, "name", where) or ""
    object_name(name, f"{where}.name", "ServiceAccount")
    if own_namespace is not None:
        if sa.get("namespace") not in (None, "", own_namespace):
            raise SpecError("a VaultStore uses a ServiceAccount of its own namespace", field=f"{where}.namespace")
        return own_namespace, name
    ns = text(sa, "namespace", where) or ""
    object_name(ns, f"{where}.namespace", "namespace")
    return ns, name


def parse_auth(raw: Any, own_namespace: str | None) -> Auth:
    """`spec.auth` -> one auth method. A namespaced store (own_namespace set) takes credentials only from there;
    a ClusterVaultStore names the namespace of every credential."""
    if not isinstance(raw, Mapping):
        raise SpecError("is required", field="spec.auth")
    kinds = [k for k in AUTH_KINDS if raw.get(k) is not None]
    if len(kinds) != 1:
        raise SpecError(f"needs exactly one of {', '.join(AUTH_KINDS)}", field="spec.auth")
    kind = kinds[0]
    body = raw[kind]
    where = f"spec.auth.{kind}"
    if not isinstance(body, Mapping):
        raise SpecError("must be an object", field=where)
    def ref(key: str) -> SecretKeyRef:
        return key_ref(body.get(key), f"{where}.{key}", own_namespace)

    if kind == "token":
        return TokenAuth(ref("secretRef"))
    if kind == "appRole":
        if (body.get("roleId") is None) == (body.get("roleRef") is None):
            raise SpecError("needs exactly one of roleId, roleRef", field=where)
        if (body.get("secretIdRef") is None) == (body.get("secretRef") is None):
            raise SpecError("needs exactly one of secretIdRef, secretRef (ESO's name for it)", field=where)
        role_id = text(body, "roleId", where, required=False)
        return AppRoleAuth(mount(body.get("mount"), f"{where}.mount", "approle"), role_id,
                           ref("secretIdRef" if body.get("secretIdRef") is not None else "secretRef"),
                           None if role_id else ref("roleRef"))
    if kind == "userPass":
        username = text(body, "username", where) or ""
        if not _USERNAME.match(username):
            raise SpecError("must be 1-256 letters, digits, '-', '.', '_' or '@'", field=f"{where}.username")
        return UserPassAuth(mount(body.get("mount"), f"{where}.mount", "userpass"), username, ref("secretRef"))
    if kind == "cert":
        return CertAuth(mount(body.get("mount"), f"{where}.mount", "cert"),
                        text(body, "role", where, required=False), ref("clientCert"), ref("secretRef"))
    if kind == "jwt":
        jwt_mount = mount(body.get("mount"), f"{where}.mount", "jwt")
        role = text(body, "role", where, required=False)
        sat = body.get("kubernetesServiceAccountToken")
        if (body.get("secretRef") is None) == (sat is None):
            raise SpecError("needs exactly one of secretRef, kubernetesServiceAccountToken", field=where)
        if sat is None:
            return JwtAuth(jwt_mount, role, ref("secretRef"))
        swhere = f"{where}.kubernetesServiceAccountToken"
        if not isinstance(sat, Mapping):
            raise SpecError("must be an object", field=swhere)
        if sat.get("serviceAccountRef") is None:
            raise SpecError("is required", field=f"{swhere}.serviceAccountRef")
        sa_ns, sa_name = _service_account(sat.get("serviceAccountRef"), f"{swhere}.serviceAccountRef",
                                          own_namespace)
        expiry = sat.get("expirationSeconds", 600)
        if isinstance(expiry, bool) or not isinstance(expiry, int) or not 600 <= expiry <= 86400:
            raise SpecError("must be an integer from 600 to 86400", field=f"{swhere}.expirationSeconds")
        return JwtAuth(jwt_mount, role, None, sa_ns, sa_name, _audiences(sat, swhere, ["vault"]), expiry)
    role = text(body, "role", where)
    assert role
    k8s_mount = mount(body.get("mount"), f"{where}.mount", "kubernetes")
    audiences = _audiences(body, where, ["vault"])
    if body.get("serviceAccount") is None:
        if own_namespace is not None:  # a tenant must never borrow the controller's identity
            raise SpecError("is required in a VaultStore (only a ClusterVaultStore may log in as the controller's "
                            "own ServiceAccount)", field=f"{where}.serviceAccount")
        return KubernetesAuth(k8s_mount, role, None, None, audiences)
    sa_ns, sa_name = _service_account(body["serviceAccount"], f"{where}.serviceAccount", own_namespace)
    return KubernetesAuth(k8s_mount, role, sa_ns, sa_name, audiences)

