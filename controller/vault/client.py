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
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from controller import metrics
from controller.vault.auth import AppRoleAuth, CertAuth, JwtAuth, KubernetesAuth, TokenAuth, UserPassAuth
from controller.vault.fields import SecretKeyRef
from controller.vault.ratelimit import Limiter, retry_after
from controller.vault.store import CaProvider, StoreSpec
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

    # Used only by the stores that need them (jwt with kubernetesServiceAccountToken, kubernetes auth without a
    # serviceAccount, caProvider): a Credentials without them serves every other store.
    def service_account_token_for(self, namespace: str, name: str, audiences: tuple[str, ...],
                                  expiration_seconds: int) -> str: ...

    def controller_token(self, audiences: tuple[str, ...]) -> str: ...

    def ca_value(self, provider: CaProvider) -> bytes: ...


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


KV1_METADATA = "custom_metadata"  # KV v1: where a writer's owner marks live inside the data (External Secrets' key)


@dataclass(frozen=True)
class KvEntry:
    """One KV secret as `read_kv` found it: data (None: the latest KV v2 version is deleted), owner marks, and
    the KV v2 version (0 for KV v1)."""

    data: dict[str, Any] | None
    custom_metadata: dict[str, Any]
    version: int


class StoreClient:
    """The hvac client and token of one store. Thread-safe: kopf runs syncs in worker threads."""

    def __init__(self, store: StoreSpec, credentials: Credentials, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._credentials = credentials
        self._clock = clock
        self._lock = threading.Lock()
        self._setup_lock = threading.Lock()
        self._token: _Token | None = None
        self._dir: str | None = None  # private dir of CA / client certificate files, removed on close
        self._hvac: Any = None  # reads (store namespace)
        self._hvac_auth: Any = None  # login and token calls (spec.auth.namespace, else the same client)
        self.limiter = Limiter(store.requests_per_second, store.burst)
        self.logins = 0
        self.unavailable = False  # the last call found Vault unreachable or failing: the store timer re-checks

    # --- the hvac clients: made on first use (TLS material may come from Secrets and ConfigMaps) ------------

    @property
    def _client(self) -> Any:
        return self._hvac if self._hvac is not None else self._setup()[0]

    @property
    def _auth_client(self) -> Any:
        return self._hvac_auth if self._hvac_auth is not None else self._setup()[1]

    def _file(self, name: str, data: bytes) -> str:
        """A 0600 file in the client's private 0700 dir (requests takes CA and client certificates only as
        files)."""
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="sealer-vault-")
        path = os.path.join(self._dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def _pem(self, ref: SecretKeyRef, what: str) -> bytes:
        value = self._credentials.secret_value(ref).encode()
        if b"-----BEGIN " not in value:
            raise VaultError(INVALID, f"{self.store.ref}: {what} in Secret {ref.namespace}/{ref.name} key "
                                      f"{ref.key!r} is not PEM")
        return value

    def _setup(self) -> tuple[Any, Any]:
        with self._setup_lock:
            if self._hvac is not None:
                return self._hvac, self._hvac_auth
            import hvac
            import requests

            store = self.store
            try:
                ca = store.ca_bundle or b""
                if store.ca_provider is not None:
                    ca = ca + b"\n" + self._credentials.ca_value(store.ca_provider)
                verify: bool | str = self._file("ca.pem", ca) if ca else True
                cert_ref, key_ref = store.tls_cert, store.tls_key
                if isinstance(store.auth, CertAuth):
                    cert_ref, key_ref = store.auth.client_cert, store.auth.client_key
                cert = None
                if cert_ref is not None and key_ref is not None:
                    cert = (self._file("client.crt", self._pem(cert_ref, "the client certificate")),
                            self._file("client.key", self._pem(key_ref, "the client key")))
            except BaseException:
                self._remove_files()
                raise
            session = requests.Session()
            session.headers.update(dict(store.headers))
            session.verify, session.cert = verify, cert  # hvac takes a given session's own settings over its args
            self._hvac = hvac.Client(url=store.server, verify=verify, cert=cert, timeout=TIMEOUT, session=session,
                                     namespace=store.vault_namespace or None)
            self._hvac_auth = self._hvac
            if store.auth_namespace and store.auth_namespace != store.vault_namespace:
                self._hvac_auth = hvac.Client(url=store.server, verify=verify, cert=cert, timeout=TIMEOUT,
                                              session=session, namespace=store.auth_namespace)
            return self._hvac, self._hvac_auth

    def _remove_files(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

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
            if status == 429:  # Vault's rate-limit quota: every VaultSecret of the store waits (no store re-check)
                pause = retry_after(e)
                self.limiter.pause(pause)
                raise VaultError(UNAVAILABLE, f"{what}: Vault is rate limiting requests (HTTP 429); requests to "
                                              f"{self.store.ref} paused for {pause:g} s", 429) from None
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
        c = self._auth_client
        now = self._clock()
        if isinstance(auth, TokenAuth):
            secret = auth.secret
            value = self._credentials.secret_value(secret).strip()
            if not value:
                raise VaultError(INVALID, f"Secret {secret.namespace}/{secret.name} key {secret.key} is empty")
            c.token = value
            data = self._call("lookup", c.auth.token.lookup_self, "token lookup")["data"]
            token = _Token(value, False, float(data.get("ttl") or 0), bool(data.get("renewable")), now)
        else:
            path, body = self._login_body()
            resp = self._call("login", lambda: c.adapter.login(f"/v1/auth/{path}", use_token=False, json=body),
                              f"{auth.kind} login ({auth.mount})")
            a = resp.get("auth") or {}
            if not a.get("client_token"):
                raise VaultError(UNAVAILABLE, f"login ({self.store.ref}): Vault returned no token")
            token = _Token(a["client_token"], True, float(a.get("lease_duration") or 0), bool(a.get("renewable")),
                           now)
            c.token = token.value
            self._client.token = token.value
        self._token = token
        self.logins += 1
        log.info("%s: logged in to Vault (%s auth, token ttl %ss)", self.store.ref, auth.kind, int(token.ttl))
        return token

    def _login_body(self) -> tuple[str, dict[str, Any]]:
        """The login path under auth/ and its body; credentials are read fresh (a rotated Secret is picked up)."""
        from hvac import utils

        auth, creds = self.store.auth, self._credentials
        if isinstance(auth, AppRoleAuth):
            role_id = auth.role_id
            if not role_id:
                assert auth.role_ref is not None  # parse_auth: exactly one of roleId, roleRef
                role_id = creds.secret_value(auth.role_ref).strip()
            return f"{auth.mount}/login", {"role_id": role_id,
                                           "secret_id": creds.secret_value(auth.secret_id).strip()}
        if isinstance(auth, UserPassAuth):
            return (utils.format_url("{0}/login/{1}", auth.mount, auth.username),
                    {"password": creds.secret_value(auth.password)})
        if isinstance(auth, CertAuth):  # the client certificate is on the TLS connection (_setup)
            return f"{auth.mount}/login", ({"name": auth.role} if auth.role else {})
        if isinstance(auth, JwtAuth):
            if auth.secret is not None:
                jwt = creds.secret_value(auth.secret).strip()
            else:
                assert auth.service_account_namespace and auth.service_account
                jwt = creds.service_account_token_for(auth.service_account_namespace, auth.service_account,
                                                      auth.audiences, auth.expiration_seconds)
            return f"{auth.mount}/login", {"jwt": jwt, **({"role": auth.role} if auth.role else {})}
        assert isinstance(auth, KubernetesAuth)
        if auth.own_identity:
            if self.store.kind != "ClusterVaultStore":  # parse_auth refuses it already; never lend the identity
                raise VaultError(INVALID, f"{self.store.ref}: only a ClusterVaultStore may use the controller's "
                                          "ServiceAccount")
            jwt = creds.controller_token(auth.audiences)
        else:
            assert auth.service_account_namespace and auth.service_account
            jwt = creds.service_account_token(auth.service_account_namespace, auth.service_account, auth.audiences)
        return f"{auth.mount}/login", {"role": auth.role, "jwt": jwt}

    def _renew_locked(self, token: _Token) -> None:
        c = self._auth_client
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
            c = self._auth_client
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
            c = self._auth_client
            c.token = value
            data = self._call("lookup", c.auth.token.lookup_self, "token lookup")["data"]
        ttl = int(data.get("ttl") or 0)
        policies = ", ".join(sorted(data.get("policies") or [])) or "none"
        return f"logged in ({self.store.auth.kind} auth); token ttl {ttl or 'none'}s, policies: {policies}"

    def close(self) -> None:
        """Revoke a token we logged in for (never a token the user gave us in a Secret); forget it."""
        with self._lock:
            tok, self._token = self._token, None
            c = self._hvac_auth
            if tok is not None and tok.from_login and not tok.expired(self._clock()) and c is not None:
                c.token = tok.value
                with contextlib.suppress(VaultError):
                    self._call("revoke", c.auth.token.revoke_self, "token revocation")
                    log.info("%s: revoked the Vault token", self.store.ref)
            for client in {id(x): x for x in (self._hvac, self._hvac_auth) if x is not None}.values():
                client.token = None
                with contextlib.suppress(Exception):
                    client.adapter.close()
        with self._setup_lock:
            self._remove_files()

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

    def _retry_denied(self, once: Callable[[str], Any]) -> Any:
        """`once(token)`; after a 403 with a token Vault no longer honours, one login and one retry."""
        token = self.token()
        try:
            return once(token)
        except VaultError as e:
            if e.reason != DENIED or not self._relogin(token):
                raise
        return once(self.token())

    def read(self, path: str, version: int | None = None) -> Mapping[str, Any]:
        """The key/value map of one secret (KV v2: `version`, latest if None). One request when the token is
        good; on a 403 with an invalid token, one login and one retry."""
        if version is not None and self.store.kv_version == 1:
            raise VaultError(INVALID, f"remoteRef.version is not valid with kvVersion 1 ({self.store.ref})")
        return self._retry_denied(lambda token: self._read_once(token, path, version))

    def list(self, path: str) -> list[str]:
        """The names in one folder (`path`, '' = the mount's root): secrets, and sub-folders ending in '/'. KV v2
        metadata LIST or KV v1 LIST (the policy needs the `list` capability). A folder with nothing in it is
        NotFound, as Vault answers. Same 403 handling as `read`."""
        store, kv = self.store, self._client.secrets.kv
        what = f"list {store.mount}/{path}"

        def once(token: str) -> list[str]:
            def call() -> Any:
                self._client.token = token
                if store.kv_version == 1:
                    return kv.v1.list_secrets(path, mount_point=store.mount)
                return kv.v2.list_secrets(path, mount_point=store.mount)

            keys = ((self._call("list", call, what) or {}).get("data") or {}).get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise VaultError(UNAVAILABLE, f"{what}: unexpected answer from Vault ({store.ref})")
            return keys

        return self._retry_denied(once)

    def read_metadata(self, path: str) -> Mapping[str, Any]:
        """KV v2 metadata of one secret (`custom_metadata`, `created_time`, `current_version`...), as Vault
        answers it. Same 403 handling as `read`."""
        store, kv = self.store, self._client.secrets.kv
        what = f"read metadata {store.mount}/{path}"
        if store.kv_version == 1:
            raise VaultError(INVALID, f"metadataPolicy Fetch is not valid with kvVersion 1 ({store.ref})")

        def once(token: str) -> Mapping[str, Any]:
            def call() -> Any:
                self._client.token = token
                return kv.v2.read_secret_metadata(path, mount_point=store.mount)

            data = (self._call("read", call, what) or {}).get("data")
            if not isinstance(data, Mapping):
                raise VaultError(UNAVAILABLE, f"{what}: unexpected answer from Vault ({store.ref})")
            return data

        return self._retry_denied(once)

    def write(self, path: str, body: Mapping[str, Any], operation: str) -> Mapping[str, Any]:
        """POST to a path below the server (a PKI issue or revoke): Vault's `data`. Same 403 handling as `read`.
        `operation` names the request in the metrics and messages."""
        what = f"{operation} {path}"

        def once(token: str) -> Mapping[str, Any]:
            def call() -> Any:
                self._client.token = token
                return self._client.write_data(path, data=dict(body))

            data = (self._call(operation, call, what) or {}).get("data")
            if not isinstance(data, Mapping):
                raise VaultError(UNAVAILABLE, f"{what}: unexpected answer from Vault ({self.store.ref})")
            return data

        return self._retry_denied(once)


    # --- KV writes (VaultPushSecret) ----------------------------------------------------------------------

    def read_kv(self, path: str) -> KvEntry | None:
        """One secret as a writer needs it: its data, its custom metadata (the owner marks) and its version; None
        when it does not exist. One request: KV v2 answers the latest version with its metadata (a deleted
        latest version has data None); KV v1 has no metadata, so the marks live in the data under
        `custom_metadata`, as External Secrets writes them. Same 403 handling as `read`."""
        store, kv = self.store, self._client.secrets.kv
        what = f"read {store.mount}/{path}"

        def once(token: str) -> KvEntry | None:
            def call() -> Any:
                self._client.token = token
                if store.kv_version == 1:
                    return kv.v1.read_secret(path, mount_point=store.mount)
                return kv.v2.read_secret_version(path, mount_point=store.mount, raise_on_deleted_version=False)

            try:
                answer = (self._call("read", call, what) or {}).get("data")
            except VaultError as e:
                if e.reason == NOT_FOUND:
                    return None
                raise
            if not isinstance(answer, Mapping):
                raise VaultError(UNAVAILABLE, f"{what}: unexpected answer from Vault ({store.ref})")
            if store.kv_version == 1:
                data = dict(answer)
                marks = data.pop(KV1_METADATA, None)
                return KvEntry(data, dict(marks) if isinstance(marks, Mapping) else {}, 0)
            meta = answer.get("metadata") or {}
            data = answer.get("data")
            return KvEntry(dict(data) if isinstance(data, Mapping) else None,
                           dict(meta.get("custom_metadata") or {}), int(meta.get("version") or 0))

        return self._retry_denied(once)

    def write_kv(self, path: str, data: Mapping[str, Any], custom_metadata: Mapping[str, str],
                 cas: int | None) -> None:
        """Write one secret with its owner marks. KV v2: the custom metadata first (so a data write that fails
        leaves a secret that is already marked as ours, as ESO does), then the data with check-and-set `cas`
        (0: only if it does not exist; n: only if version n is still the latest; None: unconditionally); a
        version written meanwhile by someone else is a 400, so InvalidSpec, and the next sync reads again.
        KV v1: the marks in the data under `custom_metadata`. Same 403 handling as `read`."""
        store, kv = self.store, self._client.secrets.kv
        what = f"write {store.mount}/{path}"

        def once(token: str) -> None:
            def meta() -> Any:
                self._client.token = token
                return self._client.write_data(f"{store.mount}/metadata/{path}",
                                               data={"custom_metadata": dict(custom_metadata)})

            def put() -> Any:
                self._client.token = token
                if store.kv_version == 1:
                    return kv.v1.create_or_update_secret(path, {**data, KV1_METADATA: dict(custom_metadata)},
                                                         mount_point=store.mount)
                return kv.v2.create_or_update_secret(path, dict(data), cas=cas, mount_point=store.mount)

            if store.kv_version == 2:
                self._call("write", meta, f"write metadata {store.mount}/{path}")
            self._call("write", put, what)

        self._retry_denied(once)

    def delete_kv(self, path: str) -> None:
        """Delete one secret: KV v2 every version and the metadata, KV v1 the secret. Gone already is fine.
        Same 403 handling as `read`."""
        store, kv = self.store, self._client.secrets.kv
        what = f"delete {store.mount}/{path}"

        def once(token: str) -> None:
            def call() -> Any:
                self._client.token = token
                if store.kv_version == 1:
                    return kv.v1.delete_secret(path, mount_point=store.mount)
                return kv.v2.delete_metadata_and_all_versions(path, mount_point=store.mount)

            try:
                self._call("delete", call, what)
            except VaultError as e:
                if e.reason != NOT_FOUND:
                    raise

        self._retry_denied(once)

class Clients:
    """The store clients, one per store: shared by every VaultSecret of the store, replaced when its spec
    changes (the old token is revoked), all closed on shutdown."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._lock = threading.Lock()
        self._clients: dict[tuple[str | None, ...], tuple[str, StoreClient]] = {}

    def get(self, store: StoreSpec) -> StoreClient:
        key = store.key
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
