"""What kopf remembers about each object between events: a digest of each top-level stanza, not a copy.

kopf's default keeps a JSON copy of the object's spec in the annotation `kopf.zalando.org/last-handled-
configuration` to compute diffs. The API server caps all of an object's annotations at 256 KiB, so a SealedSecret
with more than about 250 KiB of ciphertext could never be marked handled: kopf retried it forever. It also stored
every object twice. Handlers here never read `old`/`new`/`diff`, they only need to know *whether* a field changed,
so the stored essence keeps `metadata` (labels and annotations, for annotation handlers such as force-sync) as kopf
builds it and replaces every other stanza by its SHA-256. A handler on `spec` still fires when the spec changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import kopf


class DigestDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    def build(self, *, body: Any, extra_fields: Iterable[Any] | None = None) -> Any:
        essence = super().build(body=body, extra_fields=extra_fields)
        return {key: value if key == "metadata" else {"sha256": digest(value)} for key, value in essence.items()}


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
