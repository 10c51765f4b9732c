"""SopsSecrets as the controller sees them, for tests of its pure functions: the object a real API server returns
and the age identities the controller holds."""

from __future__ import annotations

import base64
import json

from controller import agekeys
from tests.controller_process import NS
from tests.sops_helpers import AgeKey


def as_stored(obj: dict, uid: str = "uid-1") -> dict:
    """What a real API server returns: keys sorted (objects are stored as JSON), server metadata, GitOps labels,
    kopf's bookkeeping annotation and our own status."""
    stored = json.loads(json.dumps(obj, sort_keys=True))
    meta = stored["metadata"]
    meta.update(uid=uid, resourceVersion="4711", generation=3, creationTimestamp="2026-11-22T09:00:00Z",
                managedFields=[{"manager": "kustomize-controller", "operation": "Apply"}])
    meta.setdefault("labels", {})["kustomize.toolkit.fluxcd.io/name"] = "apps"
    meta.setdefault("annotations", {})["kopf.zalando.org/last-handled-configuration"] = "{}"
    stored["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    return json.loads(json.dumps(stored, sort_keys=True))


def identities_secret(key: AgeKey, name: str = "sealer-age", item: str = "age.agekey") -> dict:
    """The Secret in the controller's namespace that gives it the age identity `key`."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
            "data": {item: base64.b64encode(key.path.read_bytes()).decode()}}


def ring(*keys: AgeKey) -> list:
    """The identities the controller's age ring holds after reading one identities Secret per key."""
    r = agekeys.AgeRing()
    for i, k in enumerate(keys):
        r.sync(identities_secret(k, name=f"id-{i}"))
    return r.identities()
