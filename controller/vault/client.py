"""One Vault client per store: log in once, share the token with every VaultSecret of the store, renew it before
it expires, log in again when Vault says it is no longer valid, revoke it on shutdown, and read KV v1/v2.

Errors come out as `VaultError` with a reason the status shows: `VaultUnavailable` (no answer, 5xx, 429, sealed),
`PermissionDenied` (403 with a valid token, or a login Vault refuses), `NotFound` (404: authoritative),
`InvalidSpec` (a credential Secret or key that does not exist). Messages name paths and Secrets, never a token,
a secret id or a value; Vault's own error text is left out too (it may quote request input).

Every call to Vault counts in `sealer_vault_requests_total{operation,status}`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from controller import metrics
from controller.vault.auth import AppRoleAuth, KubernetesAuth, TokenAuth
from controller.vault.fields import SecretKeyRef
from controller.vault.ratelimit import Limiter
from controller.vault.store import StoreSpec
from sealer.errors import SealerError
from sealer.vaulterrors import http_status

log = logging.getLogger("sealer.controller.vault")

UNAVAILABLE, DENIED, NOT_FOUND, INVALID = "VaultUnavailable", "PermissionDenied", "NotFound", "InvalidSpec"
RENEW_FRACTION = 2 / 3  # renew a renewable token once this much of its TTL has passed
TIMEOUT = 10.0  # seconds per Vault request


class VaultError(SealerError):
    """A Vault call that did not give what was asked; `reason` is the status condition's reason."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class Credentials(Protocol):
    """Where login material comes from (the Kubernetes API in the controller)."""

    def secret_value(self, ref: SecretKeyRef) -> str: ...

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...]) -> str: ...


@dataclass
class _Token:
    value: str
    from_login: bool  # we logged in for it (AppRole, Kubernetes): ours to revoke
    ttl: float  # seconds at issue/renewal; 0 = does not expire
    renewable: bool
    since: float  # monotonic time of issue/renewal

    def expires_at(self) -> float | None:
        return self.since + self.ttl if self.ttl > 0 else None

    def expired(self, now: float) -> bool:
        at = self.expires_at()
        return at is not None and now >= at - min(1.0, self.ttl / 10)  # a margin for the request in flight

    def renew_due(self, now: float) -> bool:
        return self.renewable and self.ttl > 0 and now >= self.since + self.ttl * RENEW_FRACTION


class StoreClient:
    """The hvac client and token of one store. Thread-safe: kopf runs syncs in worker threads."""

    def __init__(self, store: StoreSpec, credentials: Credentials, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import hvac

        self.store = store
        self._credentials = credentials
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._ca_file: str | None = None
        verify: bool | str = True
        if store.ca_bundle:
            fd, self._ca_file = tempfile.mkstemp(prefix="sealer-vault-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as f:
                f.write(store.ca_bundle)
            verify = self._ca_file
        self._client = hvac.Client(url=store.server, verify=verify, timeout=TIMEOUT,
                                   namespace=store.vault_namespace or None)
        self.limiter = Limiter(store.requests_per_second, store.burst)
        self.logins = 0
        self.unavailable = False  # the last call found Vault unreachable or failing: the store timer re-checks

    # --- one request ------------------------------------------------------------------------------------

    def _call(self, operation: str, fn: Callable[[], Any], what: str) -> Any:
        """Run one hvac call, count it, and turn failures into VaultError (no Vault text, no token)."""
        import hvac.exceptions as hx
        import requests

        self.limiter.wait()
        try:
            result = fn()
        except hx.VaultError as e:
            status = http_status(e)
            metrics.VAULT_REQUESTS.inc(operation, str(status or "error"))
            if status == 404:
                raise VaultError(NOT_FOUND, f"{what}: not found in Vault ({self.store.ref})", 404) from None
            if status in (401, 403):
                raise VaultError(DENIED, f"{what}: permission denied by Vault ({self.store.ref})", status) from None
            if status == 400:
                raise VaultError(DENIED if operation == "login" else INVALID,
                                 f"{what}: Vault refused the request (HTTP 400) ({self.store.ref})", 400) from None
            self.unavailable = True
            raise VaultError(UNAVAILABLE, f"{what}: Vault answered HTTP {status or 'error'} ({self.store.ref})",
                             status) from None
        except (requests.exceptions.RequestException, OSError) as e:
            metrics.VAULT_REQUESTS.inc(operation, "error")
            self.unavailable = True
            raise VaultError(UNAVAILABLE, f"{what}: Vault at {self.store.server} is unreachable "
                                          f"({type(e).__name__})") from None
        code = getattr(result, "status_code", 200)
        metrics.VAULT_REQUESTS.inc(operation, str(code))
        self.unavailable = False
        return result

    # --- tokens ------------------------------------------------------------------------------------------

    def _login_locked(self) -> _Token:
        """Get a token from the store's auth method (reads credentials fresh: a rotated Secret is picked up)."""
        auth = self.store.auth
        c = self._client
        now = self._clock()
        if isinstance(auth, TokenAuth):
            value = self._credentials.secret_value(auth.secret).strip()
            if not value:
                raise VaultError(INVALID, f"Secret {auth.secret.namespace}/{auth.secret.name} key {auth.secret.key} "
                                          "is empty")
            c.token = value
            data = self._call("lookup", c.auth.token.lookup_self, "token lookup")["data"]
            token = _Token(value, False, float(data.get("ttl") or 0), bool(data.get("renewable")), now)
        else:
            if isinstance(auth, AppRoleAuth):
                secret_id = self._credentials.secret_value(auth.secret_id).strip()
                resp = self._call("login", lambda: c.auth.approle.login(
                    auth.role_id, secret_id, use_token=False, mount_point=auth.mount), f"AppRole login ({auth.mount})")
            else:
                assert isinstance(auth, KubernetesAuth)
                jwt = self._credentials.service_account_token(auth.service_account_namespace, auth.service_account,
                                                              auth.audiences)
                resp = self._call("login", lambda: c.auth.kubernetes.login(
                    auth.role, jwt, use_token=False, mount_point=auth.mount), f"Kubernetes login ({auth.mount})")
            a = resp.get("auth") or {}
            if not a.get("client_token"):
                raise VaultError(UNAVAILABLE, f"login ({self.store.ref}): Vault returned no token")
            token = _Token(a["client_token"], True, float(a.get("lease_duration") or 0), bool(a.get("renewable")),
                           now)
            c.token = token.value
        self._token = token
        self.logins += 1
        log.info("%s: logged in to Vault (%s auth, token ttl %ss)", self.store.ref, auth.kind, int(token.ttl))
        return token

    def _renew_locked(self, token: _Token) -> None:
        c = self._client
        try:
            resp = self._call("renew", lambda: c.auth.token.renew_self(), "token renewal")
        except VaultError as e:
            if e.reason == UNAVAILABLE:
                raise
            self._token = None  # not renewable any more: log in again on next use
            return
        a = resp.get("auth") or {}
        token.ttl, token.since = float(a.get("lease_duration") or token.ttl), self._clock()
        token.renewable = bool(a.get("renewable", token.renewable))
        # At the max TTL a renewal gives less than asked; when little is left, a fresh login is due soon.
        log.debug("%s: renewed the Vault token (ttl %ss)", self.store.ref, int(token.ttl))

    def token(self) -> str:
        """A valid token: logging in if there is none or it expired, renewing it when two thirds of its TTL
        have passed."""
        with self._lock:
            tok = self._token
            now = self._clock()
            if tok is None or tok.expired(now):
                tok = self._login_locked()
            elif tok.renew_due(now):
                self._renew_locked(tok)
                tok = self._token or self._login_locked()
            return tok.value

    def _relogin(self, stale: str) -> bool:
        """After a 403: is our token still valid? If not (revoked, expired), log in again. True if a new token."""
        with self._lock:
            if self._token is not None and self._token.value != stale:
                return True  # another thread already logged in again
            c = self._client
            c.token = stale
            try:
                self._call("lookup", c.auth.token.lookup_self, "token lookup")
                return False  # the token is fine: the 403 is the policy's answer
            except VaultError as e:
                if e.reason != DENIED:
                    raise
            self._token = None
            self._login_locked()
            return True

    def maintain(self) -> None:
        """Renew or drop the token when due, without other traffic (called by the store timer)."""
        with self._lock:
            tok = self._token
            if tok is None:
                return
            now = self._clock()
            if tok.expired(now):
                self._token = None
            elif tok.renew_due(now):
                self._renew_locked(tok)

    def check(self) -> str:
        """Log in if needed and look the token up: the store's Ready condition. Returns a status message."""
        value = self.token()
        with self._lock:
            self._client.token = value
            data = self._call("lookup", self._client.auth.token.lookup_self, "token lookup")["data"]
        ttl = int(data.get("ttl") or 0)
        policies = ", ".join(sorted(data.get("policies") or [])) or "none"
        return f"logged in ({self.store.auth.kind} auth); token ttl {ttl or 'none'}s, policies: {policies}"

    def close(self) -> None:
        """Revoke a token we logged in for (never a token the user gave us in a Secret); forget it."""
        with self._lock:
            tok, self._token = self._token, None
            if tok is not None and tok.from_login and not tok.expired(self._clock()):
                self._client.token = tok.value
                with contextlib.suppress(VaultError):
                    self._call("revoke", self._client.auth.token.revoke_self, "token revocation")
                    log.info("%s: revoked the Vault token", self.store.ref)
            self._client.token = None
        if self._ca_file:
            with contextlib.suppress(OSError):
                os.unlink(self._ca_file)
            self._ca_file = None
        with contextlib.suppress(Exception):
            self._client.adapter.close()

    # --- reads -------------------------------------------------------------------------------------------

    def _read_once(self, token: str, path: str, version: int | None) -> Mapping[str, Any]:
        store = self.store
        kv = self._client.secrets.kv
        what = f"read {store.mount}/{path}" + (f" version {version}" if version else "")

        def call() -> Any:
            self._client.token = token  # the adapter is shared; a token set per call keeps threads consistent
            if store.kv_version == 1:
                return kv.v1.read_secret(path, mount_point=store.mount)
            return kv.v2.read_secret_version(path, version=version, mount_point=store.mount,
                                             raise_on_deleted_version=True)

        resp = self._call("read", call, what)
        data = (resp or {}).get("data") or {}
        if store.kv_version == 2:
            data = data.get("data")
            if data is None:  # a deleted or destroyed version
                raise VaultError(NOT_FOUND, f"{what}: deleted in Vault ({store.ref})", 404)
        if not isinstance(data, Mapping):
            raise VaultError(UNAVAILABLE, f"{what}: unexpected answer from Vault ({store.ref})")
        return data

    def read(self, path: str, version: int | None = None) -> Mapping[str, Any]:
        """The key/value map of one secret (KV v2: `version`, latest if None). One request when the token is
        good; on a 403 with an invalid token, one login and one retry."""
        if version is not None and self.store.kv_version == 1:
            raise VaultError(INVALID, f"remoteRef.version is not valid with kvVersion 1 ({self.store.ref})")
        token = self.token()
        try:
            return self._read_once(token, path, version)
        except VaultError as e:
            if e.reason != DENIED or not self._relogin(token):
                raise
        return self._read_once(self.token(), path, version)


class Clients:
    """The store clients, one per store: shared by every VaultSecret of the store, replaced when its spec
    changes (the old token is revoked), all closed on shutdown."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None, str], tuple[str, StoreClient]] = {}

    def get(self, store: StoreSpec) -> StoreClient:
        key = (store.kind, store.namespace, store.name)
        old = None
        with self._lock:
            have = self._clients.get(key)
            if have is not None and have[0] == store.fingerprint:
                return have[1]
            client = StoreClient(store, self._credentials)
            self._clients[key] = (store.fingerprint, client)
            old = have[1] if have else None
        if old is not None:
            old.close()
        return client

    def find(self, kind: str, namespace: str | None, name: str) -> StoreClient | None:
        with self._lock:
            have = self._clients.get((kind, namespace, name))
        return have[1] if have else None

    def drop(self, kind: str, namespace: str | None, name: str) -> None:
        with self._lock:
            have = self._clients.pop((kind, namespace, name), None)
        if have is not None:
            have[1].close()

    def all(self) -> list[StoreClient]:
        with self._lock:
            return [c for _, c in self._clients.values()]

    def close(self) -> None:
        with self._lock:
            clients, self._clients = [c for _, c in self._clients.values()], {}
        for c in clients:
            c.close()
