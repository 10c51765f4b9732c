"""Sealing keys kept as `kubernetes.io/tls` Secrets in the controller's namespace, as Bitnami keeps them.

The newest active key seals; every loaded key opens. Keys are never deleted here: renewal adds a key, and old
SealedSecrets keep opening with the old ones. Secrets added, relabelled or removed while running update the
ring without a restart.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealer.errors import InputError, SealerError
from sealer.kube import CERTS_CONFIGMAP, CONTROLLER_NAME
from sealer.sealed import keys as sealer_keys

LABEL = "sealer.dev/sealing-key"
BITNAMI_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
ACTIVE = "active"
CREATED_ANNOTATION = "sealer.dev/created-at"
KEY_PREFIX = "sealer-key-"


@dataclass(frozen=True)
class SealingKey:
    name: str
    created: dt.datetime
    private: sealer_keys.PrivateKey
    cert: sealer_keys.SealingCert
    cert_pem: bytes

    @property
    def fingerprint(self) -> str:
        return self.private.fingerprint


def _created(obj: Mapping[str, Any]) -> dt.datetime:
    meta = obj.get("metadata") or {}
    text = (meta.get("annotations") or {}).get(CREATED_ANNOTATION) or meta.get("creationTimestamp")
    if text:
        try:
            return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(0, dt.UTC)


def is_key_secret(obj: Mapping[str, Any], import_bitnami: bool) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL) == ACTIVE or (import_bitnami and labels.get(BITNAMI_LABEL) == ACTIVE)


def parse_key_secret(obj: Mapping[str, Any]) -> SealingKey:
    """A key from a tls Secret; InputError (never showing key material) when it is unusable."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "?")
    data = obj.get("data") or {}
    try:
        key_pem, cert_pem = sealer_keys.secret_pem(data, "tls.key"), sealer_keys.secret_pem(data, "tls.crt")
    except ValueError:
        raise InputError("invalid base64 in tls.key or tls.crt", source=f"Secret {name}") from None
    if not key_pem or not cert_pem:
        raise InputError("needs tls.key and tls.crt", source=f"Secret {name}")
    private = sealer_keys.keys_from_pem(key_pem, f"Secret {name}")[0]
    cert = sealer_keys.parse_cert(cert_pem, f"Secret {name}")
    if cert.fingerprint != private.fingerprint:
        raise InputError("tls.crt does not belong to tls.key", source=f"Secret {name}")
    return SealingKey(name, _created(obj), private, cert, cert_pem)


def next_key_name(ring: Keyring) -> str:
    """`sealer-key-00001`, `-00002`, ...: replicas that renew at the same moment compute the same name, so only
    one create succeeds (409 for the others) and the ring never gets two keys for one renewal."""
    generations = [int(k.name[len(KEY_PREFIX):]) for k in ring.all()
                   if k.name.startswith(KEY_PREFIX) and k.name[len(KEY_PREFIX):].isdigit()]
    return f"{KEY_PREFIX}{max(generations, default=0) + 1:05d}"


def new_key_secret(namespace: str, bits: int = sealer_keys.DEFAULT_BITS, now: dt.datetime | None = None,
                   name: str | None = None) -> dict[str, Any]:
    """A freshly generated key as the Secret that stores it."""
    now = now or dt.datetime.now(dt.UTC)
    key, cert = sealer_keys.generate(bits=bits, cn=CONTROLLER_NAME)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name or f"{KEY_PREFIX}{now.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}",
            "namespace": namespace,
            "labels": {LABEL: ACTIVE},
            "annotations": {CREATED_ANNOTATION: now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
        "data": {
            "tls.key": base64.b64encode(sealer_keys.private_key_pem(key)).decode(),
            "tls.crt": base64.b64encode(sealer_keys.cert_pem(cert)).decode(),
        },
    }


class Keyring:
    """The keys loaded now. Thread-safe: kopf runs sync handlers in worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, SealingKey] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def put(self, obj: Mapping[str, Any]) -> SealingKey:
        key = parse_key_secret(obj)
        with self._lock:
            self._keys[key.name] = key
        return key

    def discard(self, name: str) -> bool:
        with self._lock:
            return self._keys.pop(name, None) is not None

    def sync(self, obj: Mapping[str, Any], import_bitnami: bool, deleted: bool = False) -> str | None:
        """Apply a watch event for a Secret in the controller namespace; returns what changed, for logs."""
        name = str((obj.get("metadata") or {}).get("name"))
        if deleted or not is_key_secret(obj, import_bitnami):
            return f"removed key {name}" if self.discard(name) else None
        try:
            key = self.put(obj)
        except SealerError as e:
            self.discard(name)
            return f"ignored key Secret {name}: {e.message}"
        return f"loaded key {name} ({key.fingerprint[:16]})"

    def all(self) -> list[SealingKey]:
        """Newest first: the sealing key, then the ones that only open."""
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.created, k.name), reverse=True)

    def current(self) -> SealingKey | None:
        keys = self.all()
        return keys[0] if keys else None

    def private_keys(self) -> list[sealer_keys.PrivateKey]:
        return [k.private for k in self.all()]

    def needs_renewal(self, period: dt.timedelta, now: dt.datetime | None = None) -> bool:
        current = self.current()
        now = now or dt.datetime.now(dt.UTC)
        return current is None or (period.total_seconds() > 0 and now - current.created >= period)


def certs_configmap(namespace: str, ring: Keyring) -> dict[str, Any]:
    """The public half, readable by every authenticated user: `cert.pem` seals, `certs.pem` lists all."""
    keys = ring.all()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CERTS_CONFIGMAP, "namespace": namespace,
                     "labels": {"app.kubernetes.io/name": "sealer", "app.kubernetes.io/component": "certs"}},
        "data": {
            "cert.pem": keys[0].cert_pem.decode() if keys else "",
            "certs.pem": "".join(k.cert_pem.decode() for k in keys),
            "fingerprint": keys[0].fingerprint if keys else "",
        },
    }
