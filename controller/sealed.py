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


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def desired(obj: Mapping[str, Any], keys: Sequence[PrivateKey], accept_v1_data: bool = True) -> Outcome:
    if not keys:
        return Outcome(False, "NoKeys", "the controller has no sealing keys loaded")
    try:
        secret = sealer_sealed.unseal(obj, keys, accept_v1_data=accept_v1_data)
    except DecryptionError as e:
        return Outcome(False, "UnsealFailed", str(e))
    except InputError as e:
        return Outcome(False, "InvalidSpec", str(e))
    meta = secret["metadata"]
    labels = meta.setdefault("labels", {})
    labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY)  # a template's own managed-by (Helm, Argo CD...) is kept
    template_annotations = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "annotations") or {}
    if template_annotations.get(SKIP_OWNER_ANNOTATION) != "true":
        meta["ownerReferences"] = [owner_reference(obj)]
    elif labels[MANAGED_BY_LABEL] != MANAGED_BY:  # no ownerReference and not our label: mark it ours another way
        meta.setdefault("annotations", {})[PRODUCED_ANNOTATION] = "true"
    n = len(secret.get("data") or {})
    return Outcome(True, "Unsealed", f"unsealed {n} item{'s' if n != 1 else ''}", secret)
