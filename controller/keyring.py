"""Sealing keys kept as `kubernetes.io/tls` Secrets in the controller's namespace, as Bitnami keeps them.

The newest active key seals; every loaded key opens. "Newest" is Bitnami's rule: the latest certificate NotBefore
(`--key-order-priority CertNotBefore`, its default), so keys copied from another cluster keep their order and age
(a copy's creationTimestamp is the day it was copied). Keys are never deleted here: renewal adds a key, and old
SealedSecrets keep opening with the old ones. Secrets added, relabelled or removed while running update the
ring without a restart.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sealer.errors import InputError, SealerError
from sealer.kube import CERTS_CONFIGMAP, CONTROLLER_NAME
from sealer.sealed import keys as sealer_keys

LABEL = "sealer.dev/sealing-key"
BITNAMI_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
BITNAMI_LEGACY_NAME = "sealed-secrets-key"  # Bitnami before 0.9: one unlabelled Secret named after its --key-prefix
ACTIVE = "active"
CREATED_ANNOTATION = "sealer.dev/created-at"
KEY_PREFIX = "sealer-key-"
CERT_NOT_BEFORE = "CertNotBefore"  # Bitnami's --key-order-priority values; the first is its default and ours
BY_CREATION_TIME = "SecretCreationTimestamp"
KEY_ORDERS = (CERT_NOT_BEFORE, BY_CREATION_TIME)
_EPOCH = dt.datetime.fromtimestamp(0, dt.UTC)


@dataclass(frozen=True)
class KeyPolicy:
    """How keys are ordered and made: Bitnami's --key-order-priority, --key-prefix, --my-cn, --key-ttl and
    --key-cutoff-time."""

    order: str = CERT_NOT_BEFORE
    prefix: str = KEY_PREFIX
    cn: str = CONTROLLER_NAME
    days: int = sealer_keys.DEFAULT_DAYS
    cutoff: dt.datetime | None = None  # at start-up, renew at once if the newest key is older than this
    labels: Mapping[str, str] = field(default_factory=dict)  # --privatekey-labels, on generated key Secrets
    annotations: Mapping[str, str] = field(default_factory=dict)  # --privatekey-annotations


@dataclass(frozen=True)
class SealingKey:
    name: str
    created: dt.datetime  # the Secret's: sealer.dev/created-at, else its creationTimestamp
    private: sealer_keys.PrivateKey
    cert: sealer_keys.SealingCert
    cert_pem: bytes
    generated: dt.datetime | None = None  # sealer.dev/created-at: when a sealer controller generated it

    @property
    def fingerprint(self) -> str:
        return self.private.fingerprint

    @property
    def not_before(self) -> dt.datetime:
        return self.cert.cert.not_valid_before_utc

    def ordering_time(self, order: str = CERT_NOT_BEFORE) -> dt.datetime:
        """Bitnami's orderingTime: the newest seals, and renewal is due `period` after it."""
        return self.created if order == BY_CREATION_TIME else self.not_before

    def age_start(self, order: str = CERT_NOT_BEFORE) -> dt.datetime:
        """Where the renewal clock starts: the ordering time, or the generation time sealer recorded (its certs'
        NotBefore is 5 minutes earlier, for clock skew). Never the day a key was copied into this cluster."""
        start = self.ordering_time(order)
        return max(start, self.generated) if self.generated and order == CERT_NOT_BEFORE else start


def _timestamp(text: Any) -> dt.datetime | None:
    if text:
        try:
            found = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return None
        return found if found.tzinfo else found.replace(tzinfo=dt.UTC)
    return None


def _created(obj: Mapping[str, Any]) -> dt.datetime:
    meta = obj.get("metadata") or {}
    return (_timestamp((meta.get("annotations") or {}).get(CREATED_ANNOTATION))
            or _timestamp(meta.get("creationTimestamp")) or _EPOCH)


def is_key_secret(obj: Mapping[str, Any], import_bitnami: bool) -> bool:
    """Labelled active; with `import_bitnami` also Bitnami's label, or Bitnami's legacy unlabelled key."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(LABEL) == ACTIVE:
        return True
    if not import_bitnami:
        return False
    legacy = meta.get("name") == BITNAMI_LEGACY_NAME and LABEL not in labels and BITNAMI_LABEL not in labels
    return labels.get(BITNAMI_LABEL) == ACTIVE or legacy


def list_key_secrets(kube: Any, namespace: str, import_bitnami: bool) -> list[dict[str, Any]]:
    """Every key Secret of the namespace: ours, and with `import_bitnami` Bitnami's labelled keys and its legacy
    `sealed-secrets-key` (read at start-up, as Bitnami reads it; it has no label to watch)."""
    found = kube.list_secrets(namespace, f"{LABEL}={ACTIVE}")
    if import_bitnami:
        found += kube.list_secrets(namespace, f"{BITNAMI_LABEL}={ACTIVE}")
        legacy = kube.get_secret(namespace, BITNAMI_LEGACY_NAME)
        if legacy is not None and is_key_secret(legacy, import_bitnami):
            found.append(legacy)
    return found


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
    generated = _timestamp((meta.get("annotations") or {}).get(CREATED_ANNOTATION))
    return SealingKey(name, _created(obj), private, cert, cert_pem, generated)


def next_key_name(ring: Keyring) -> str:
    """`sealer-key-00001`, `-00002`, ...: replicas that renew at the same moment compute the same name, so only
    one create succeeds (409 for the others) and the ring never gets two keys for one renewal."""
    prefix = ring.policy.prefix
    generations = [int(k.name[len(prefix):]) for k in ring.all()
                   if k.name.startswith(prefix) and k.name[len(prefix):].isdigit()]
    return f"{prefix}{max(generations, default=0) + 1:05d}"


def new_key_secret(namespace: str, bits: int = sealer_keys.DEFAULT_BITS, now: dt.datetime | None = None,
                   name: str | None = None, policy: KeyPolicy | None = None) -> dict[str, Any]:
    """A freshly generated key as the Secret that stores it."""
    now = now or dt.datetime.now(dt.UTC)
    policy = policy or KeyPolicy()
    key, cert = sealer_keys.generate(bits=bits, cn=policy.cn, days=policy.days, now=now)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name or f"{policy.prefix}{now.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}",
            "namespace": namespace,
            "labels": {**policy.labels, LABEL: ACTIVE},
            "annotations": {**policy.annotations, CREATED_ANNOTATION: now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
        "data": {
            "tls.key": base64.b64encode(sealer_keys.private_key_pem(key)).decode(),
            "tls.crt": base64.b64encode(sealer_keys.cert_pem(cert)).decode(),
        },
    }


class Keyring:
    """The keys loaded now. Thread-safe: kopf runs sync handlers in worker threads."""

    def __init__(self, policy: KeyPolicy | None = None) -> None:
        self.policy = policy or KeyPolicy()
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
        """Newest first (by the policy's ordering time, then the Secret's time and name, so the order is total):
        the sealing key, then the ones that only open."""
        order = self.policy.order
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.ordering_time(order), k.created, k.name),
                          reverse=True)

    def current(self) -> SealingKey | None:
        keys = self.all()
        return keys[0] if keys else None

    def private_keys(self) -> list[sealer_keys.PrivateKey]:
        return [k.private for k in self.all()]

    def needs_renewal(self, period: dt.timedelta, now: dt.datetime | None = None) -> bool:
        return self.renewal_due(period, now=now) is not None

    def next_renewal(self, period: dt.timedelta) -> dt.datetime | None:
        """When the newest key is `period` old (Bitnami: its ordering time + period); None without renewal."""
        current = self.current()
        if current is None or period.total_seconds() <= 0:
            return None
        return current.age_start(self.policy.order) + period

    def renewal_due(self, period: dt.timedelta, now: dt.datetime | None = None,
                    at_start: bool = False) -> str | None:
        """Why a new key is needed now, or None. The policy's cutoff counts only `at_start`, as in Bitnami: a cutoff
        later than the new key's NotBefore would otherwise renew on every check."""
        current = self.current()
        now = now or dt.datetime.now(dt.UTC)
        if current is None:
            return "no sealing key"
        cutoff = self.policy.cutoff
        if at_start and cutoff is not None and current.ordering_time(self.policy.order) < cutoff:
            return f"the newest key is older than --key-cutoff-time {cutoff.isoformat()}"
        due = self.next_renewal(period)
        return "renewal period elapsed" if due is not None and now >= due else None


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
