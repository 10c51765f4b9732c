"""SealedSecret in, desired Secret (or a reason it cannot be made) out. Pure: no API calls, no kopf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def desired(obj: Mapping[str, Any], keys: Sequence[PrivateKey]) -> Outcome:
    if not keys:
        return Outcome(False, "NoKeys", "the controller has no sealing keys loaded")
    try:
        secret = sealer_sealed.unseal(obj, keys)
    except DecryptionError as e:
        return Outcome(False, "UnsealFailed", str(e))
    except InputError as e:
        return Outcome(False, "InvalidSpec", str(e))
    meta = secret["metadata"]
    meta.setdefault("labels", {})[MANAGED_BY_LABEL] = MANAGED_BY
    template_annotations = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "annotations") or {}
    if template_annotations.get(SKIP_OWNER_ANNOTATION) != "true":
        meta["ownerReferences"] = [owner_reference(obj)]
    n = len(secret.get("data") or {})
    return Outcome(True, "Unsealed", f"unsealed {n} item{'s' if n != 1 else ''}", secret)
