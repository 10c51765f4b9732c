"""What a produced Secret was made from and what it was given, kept on the Secret, so a restart or a resync costs
no decryption when nothing changed, while a hand edit or a removed key still forces a re-check.

- `sealer.dev/source-digest`: SHA-256 of the source object's identity (kind, group, uid), its spec, its
  annotations (scope annotations decide the label a value was sealed with) and the controller settings that
  change the result.
- `sealer.dev/data-hmac`: a keyed HMAC of the Secret's data as written and of the source digest. Keyed (the key
  is a Secret in the controller's namespace, shared by replicas) so the annotation cannot confirm a guessed
  value, nor be moved with a digest onto another object; compared with the Secret's data now, it shows a hand
  edit without decrypting anything.
- `sealer.dev/opened-by`: 16-hex prefixes of the fingerprints of the keys that opened the object; a key leaving
  the keyring forces a re-check of exactly the objects it opened, a new key forces nothing.

SopsSecrets: the digest also covers the `sops` block (wrapped data keys, MAC), and the keys are age identities
(fingerprint: SHA-256 of the recipient) from the controller's namespace or the object's own
`spec.decryption.secretRef` Secret, or Vault Transit keys (fingerprint of address, engine and key name). A
SopsSecret's template may be encrypted, so the Secret's expected type, labels and annotations cannot be computed
without decrypting; instead

- `sealer.dev/shape-hmac`: a keyed HMAC over what the Secret was given beyond its data (type, and the values of
  the labels and annotations the template set: their names are never encrypted, SOPS encrypts values only),
  bound to the three annotations above. Recomputed from the Secret now with the names read from the object, it
  shows a hand edit of the type, a template label or annotation, or of the other annotations (an opened-by
  edited to hide a removed key, a digest or data HMAC copied from another Secret), without decrypting.

And on the source object, `status.secretResourceVersion`: the Secret's resourceVersion when this controller last
wrote or checked it. While the Secret still has that version it cannot have changed, so a restart or a resync
checks only the digest and the keys, not the HMACs over its data (`untouched`). Whoever can write the object's
status could only make the controller skip restoring that object's own Secret: nothing is read or written for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as pysecrets
import threading
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controller.kube import Kube

SOURCE_DIGEST = "sealer.dev/source-digest"
DATA_HMAC = "sealer.dev/data-hmac"
OPENED_BY = "sealer.dev/opened-by"
SHAPE_HMAC = "sealer.dev/shape-hmac"
VERSION_STATUS = "secretResourceVersion"  # in the source object's status: the Secret's version last written or checked
ANNOTATIONS = (SOURCE_DIGEST, DATA_HMAC, OPENED_BY)
STAMPS = (*ANNOTATIONS, SHAPE_HMAC)
KEY_SECRET = "sealer-vault-hmac"  # noqa: S105 - a Secret's name (first made for VaultSecrets' status.dataHash)
# annotations (prefixes) that change without changing what the Secret is made from: kubectl's copy of the
# object, kopf's handling state
IGNORED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "kopf.zalando.org/")


class DataKeyError(Exception):
    """The HMAC key Secret exists but holds no usable key."""


class DataKey:
    """32 random bytes in the Secret `sealer-vault-hmac` of the controller's namespace, made by the first replica
    that needs it (create-if-absent, so replicas agree). Losing it costs one re-check per object, nothing else."""

    def __init__(self, kube: Callable[[], Kube], namespace: str) -> None:
        self._kube, self._namespace = kube, namespace
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        if self._key is not None:
            return self._key
        with self._lock:
            if self._key is None:
                kube, ns = self._kube(), self._namespace
                found = kube.get_secret(ns, KEY_SECRET)
                if found is None:
                    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": KEY_SECRET, "namespace": ns,
                                         "labels": {"app.kubernetes.io/part-of": "sealer"},
                                         "annotations": {"sealer.dev/purpose": "keys the data HMACs of produced "
                                                                               "Secrets and VaultSecret status"}},
                            "data": {"key": base64.b64encode(pysecrets.token_bytes(32)).decode()}}
                    found = kube.create_secret_if_absent(ns, body) or kube.get_secret(ns, KEY_SECRET)
                key = base64.b64decode(((found or {}).get("data") or {}).get("key") or "")
                if len(key) < 16:
                    raise DataKeyError(f"Secret {ns}/{KEY_SECRET} holds no usable key")
                self._key = key
        return self._key


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"sealer-vault-hmac-key-id\0" + key).hexdigest()[:8]


def data_hmac(key: bytes, data: Mapping[str, bytes]) -> str:
    """Keyed HMAC-SHA256 of the items, prefixed by a key id so a new key is not mistaken for changed data.
    Items are length-prefixed, so no two different maps encode alike."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for k in sorted(data):
        kb, vb = k.encode(), data[k]
        mac.update(len(kb).to_bytes(4, "big") + kb + len(vb).to_bytes(8, "big") + vb)
    return f"hmac-sha256:{key_id(key)}:{mac.hexdigest()}"


def hash_changed(previous: str | None, current: str, key: bytes) -> bool:
    """True when the data changed since `previous`. False on the first sync and when the previous hash was made
    with another key (nothing can be said then)."""
    if not previous:
        return False
    parts = previous.split(":")
    if len(parts) != 3 or parts[1] != key_id(key):
        return False
    return previous != current


def bound_data_hmac(key: bytes, secret: Mapping[str, Any], digest: str) -> str | None:
    """`data_hmac` of a Secret's base64 `data` as the API holds it, with the source digest as one more item (a
    Secret key never holds NUL), so data-hmac and source-digest copied together from another Secret (one whose data
    a tenant knows) do not match. None when an item is not valid base64."""
    items: dict[str, bytes] = {"\0source-digest": digest.encode()}
    for k, v in (secret.get("data") or {}).items():
        try:
            items[k] = base64.b64decode(v or "", validate=True)
        except (ValueError, TypeError):
            return None
    return data_hmac(key, items)


def source_digest(obj: Mapping[str, Any], settings: str = "") -> str:
    """SHA-256 of what a source object's Secret is made from, apart from the keys: identity, spec, annotations."""
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(IGNORED_ANNOTATIONS)}
    doc = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "uid": meta.get("uid"),
           "name": meta.get("name"), "namespace": meta.get("namespace"), "annotations": annotations,
           "spec": obj.get("spec"), "settings": settings}
    if "sops" in obj:  # a SopsSecret's wrapped data keys and MAC (only then: SealedSecret digests stay as they were)
        doc["sops"] = obj["sops"]
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def opened_by(fingerprints: Collection[str]) -> str:
    return ",".join(sorted({fp[:16] for fp in fingerprints}))


def stamp(secret: dict[str, Any], digest: str, key: bytes, fingerprints: Collection[str]) -> None:
    """Put the three annotations on a Secret about to be written (its `data` as it will be written)."""
    annotations = secret.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[SOURCE_DIGEST] = digest
    annotations[DATA_HMAC] = bound_data_hmac(key, secret, digest) or ""
    annotations[OPENED_BY] = opened_by(fingerprints)


def unchanged(existing: Mapping[str, Any] | None, digest: str, key: bytes, fingerprints: Collection[str]) -> bool:
    """The Secret holds what the source with this ``digest`` gave it, untouched since, opened by keys that are all
    still present (``fingerprints``: those the controller has now)."""
    if not existing or not made_from(existing, digest, fingerprints):
        return False
    recorded = ((existing.get("metadata") or {}).get("annotations") or {}).get(DATA_HMAC)
    return bool(recorded) and hmac.compare_digest(bound_data_hmac(key, existing, digest) or "", recorded)


def made_from(existing: Mapping[str, Any], digest: str, fingerprints: Collection[str]) -> bool:
    """The Secret says it was made from the source with this ``digest``, by keys all still present: what
    `unchanged` checks before the data HMAC."""
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    if annotations.get(SOURCE_DIGEST) != digest:
        return False
    used = [fp for fp in (annotations.get(OPENED_BY) or "").split(",") if fp]
    have = {fp[:16] for fp in fingerprints}
    return bool(used) and all(fp in have for fp in used)


def untouched(source: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """The Secret is the very version this controller last wrote or checked for the source object (recorded in its
    status, `VERSION_STATUS`): the API server gives every change of a Secret a new resourceVersion, so its data and
    shape are as they were then, and a restart or resync need not recompute the HMACs over them."""
    version = str(((existing.get("metadata") or {}).get("resourceVersion")) or "")
    return bool(version) and (source.get("status") or {}).get(VERSION_STATUS) == version


def age_fingerprint(recipient: str) -> str:
    """Fingerprint of an age identity, by its public recipient (never the identity itself)."""
    return hashlib.sha256(b"sealer-age-recipient\0" + recipient.encode()).hexdigest()


def vault_fingerprint(address: str, engine: str, key: str) -> str:
    """Fingerprint of a Vault Transit key, by where it lives."""
    return hashlib.sha256("\0".join(("sealer-vault-transit", address.rstrip("/"), engine, key)).encode()).hexdigest()


def shape_hmac(key: bytes, secret: Mapping[str, Any], labels: Collection[str], annotations: Collection[str]) -> str:
    """Keyed HMAC of a Secret's type, of its values (or absence) for the label and annotation names given, and of
    its three other stamps (so none can be edited or copied from another Secret unnoticed)."""
    meta = secret.get("metadata") or {}
    have_labels, have_annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    doc = {"type": secret.get("type", "Opaque"),
           "labels": {n: have_labels.get(n) for n in labels},
           "annotations": {n: have_annotations.get(n) for n in annotations if n not in STAMPS},
           "stamps": [have_annotations.get(n) for n in ANNOTATIONS]}
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    mac = hmac.new(key, b"sealer-shape\0" + raw, hashlib.sha256).hexdigest()
    return f"hmac-sha256:{key_id(key)}:{mac}"


def stamp_shape(secret: dict[str, Any], key: bytes, labels: Collection[str], annotations: Collection[str]) -> None:
    """After `stamp`: put `sealer.dev/shape-hmac` on a Secret about to be written."""
    secret.setdefault("metadata", {}).setdefault("annotations", {})[SHAPE_HMAC] = shape_hmac(
        key, secret, labels, annotations)


def shape_unchanged(existing: Mapping[str, Any], key: bytes, labels: Collection[str],
                    annotations: Collection[str], owner_uid: str | None) -> bool:
    """The Secret still has the type, labels and annotations it was given (names from the source object) and is
    still controlled by ``owner_uid``: what `secrets.shape_differs` checks, without knowing the values."""
    meta = existing.get("metadata") or {}
    recorded = (meta.get("annotations") or {}).get(SHAPE_HMAC)
    if not recorded or not owner_uid:
        return False
    if not any(r.get("uid") == owner_uid and r.get("controller") for r in meta.get("ownerReferences") or []):
        return False
    return hmac.compare_digest(recorded, shape_hmac(key, existing, labels, annotations))
