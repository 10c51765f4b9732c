"""SealedSecret in, desired Secret (or a reason it cannot be made) out. Pure: no API calls, no kopf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.secrets import PRODUCED_ANNOTATION
from sealer.errors import DecryptionError, InputError
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from sealer.sealed import sealedsecret as sealer_sealed
from sealer.sealed.keys import PrivateKey

SKIP_OWNER_ANNOTATION = "sealedsecrets.bitnami.com/skip-set-owner-references"


@dataclass(frozen=True)
class Outcome:
    """Ready with the Secret to write, or not ready with a reason (a CamelCase word) and a plaintext-free message."""

    ready: bool
    reason: str
    message: str
    secret: dict[str, Any] | None = None
    warning: bool = False  # ready, but the owner should hear about it (a Warning Event: e.g. an unscoped SopsSecret)
    opened_by: tuple[str, ...] = ()  # fingerprints of the keys that opened it
    decrypted: int = 0  # values decrypted to make it (RSA private-key operations for a SealedSecret)


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def _ours(secret: dict[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """Mark the Secret as produced by ``obj``: our managed-by label unless the template set its own, and an
    ownerReference unless the template asks for none (then our annotation if the label is not ours)."""
    meta = secret["metadata"]
    labels = meta.setdefault("labels", {})
    labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY)  # a template's own managed-by (Helm, Argo CD...) is kept
    template_annotations = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "annotations") or {}
    if template_annotations.get(SKIP_OWNER_ANNOTATION) != "true":
        meta["ownerReferences"] = [owner_reference(obj)]
    elif labels[MANAGED_BY_LABEL] != MANAGED_BY:  # no ownerReference and not our label: mark it ours another way
        meta.setdefault("annotations", {})[PRODUCED_ANNOTATION] = "true"
    return secret


def items_message(n: int) -> str:
    return f"unsealed {n} item{'s' if n != 1 else ''}"


def desired(obj: Mapping[str, Any], keys: Sequence[PrivateKey], accept_v1_data: bool = True,
            map: sealer_sealed.Mapper | None = None) -> Outcome:
    """``map``: runs the items' RSA operations (a thread pool's, to open them on several cores; default: in turn)."""
    if not keys:
        return Outcome(False, "NoKeys", "the controller has no sealing keys loaded")
    try:
        secret, opened_by = sealer_sealed.unseal_with_keys(obj, keys, accept_v1_data=accept_v1_data, map=map)
    except DecryptionError as e:
        return Outcome(False, "UnsealFailed", str(e))
    except InputError as e:
        return Outcome(False, "InvalidSpec", str(e))
    decrypted = 1 if sealer_sealed.is_v1_data(obj) else len((obj.get("spec") or {}).get("encryptedData") or {})
    return Outcome(True, "Unsealed", items_message(len(secret.get("data") or {})), _ours(secret, obj),
                   opened_by=opened_by, decrypted=decrypted)


def shell(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Secret `desired` would make, without data and without decrypting (None for the deprecated spec.data
    format, whose template is sealed, and for specs that do not parse: those take the full path)."""
    if sealer_sealed.is_v1_data(obj):
        return None
    try:
        return _ours(sealer_sealed.secret_shell(obj), obj)
    except InputError:
        return None
