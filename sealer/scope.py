"""Scopes: how far a ciphertext may travel, for SealedSecrets (the OAEP label, `sealer.sealed.hybrid`) and SopsSecrets
(spec.binding, `sealer.sops.binding`) alike, and the Bitnami annotations that choose one. No crypto here, so the
SOPS paths can use it without importing RSA."""

from __future__ import annotations

import enum
from collections.abc import Mapping

ANNOTATION_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
ANNOTATION_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"


class Scope(enum.Enum):
    """How far a sealed value may travel: pinned to namespace+name, to a namespace, or anywhere."""

    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"


def scope_from_annotations(annotations: Mapping[str, object] | None) -> Scope:
    """Scope as Bitnami reads it: only the exact string "true" counts, and cluster-wide wins."""
    annotations = annotations or {}
    if annotations.get(ANNOTATION_CLUSTER_WIDE) == "true":
        return Scope.CLUSTER_WIDE
    if annotations.get(ANNOTATION_NAMESPACE_WIDE) == "true":
        return Scope.NAMESPACE_WIDE
    return Scope.STRICT


def scope_annotations(annotations: Mapping[str, str] | None, scope: Scope) -> dict[str, str]:
    """A copy of ``annotations`` whose scope annotations say exactly ``scope`` (strict has none)."""
    out = {k: v for k, v in (annotations or {}).items()
           if k not in (ANNOTATION_NAMESPACE_WIDE, ANNOTATION_CLUSTER_WIDE)}
    if scope is Scope.NAMESPACE_WIDE:
        out[ANNOTATION_NAMESPACE_WIDE] = "true"
    elif scope is Scope.CLUSTER_WIDE:
        out[ANNOTATION_CLUSTER_WIDE] = "true"
    return out
