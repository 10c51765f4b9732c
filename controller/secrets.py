"""Writing produced Secrets: who owns an existing Secret, when we may take it over, and what to change.

`plan` is pure (the emulator cannot show every API-server behaviour, so the decisions are unit-tested here);
`apply` performs the plan. A Secret we do not own is never touched unless it opts in with
`sealer.dev/managed: "true"` (take over) or `sealer.dev/patch: "true"` (merge our items in, keep its owner); a
Secret another sealer.dev object produces is never touched at all (Conflict), opt-in or not.
A failed unseal never reaches this module, so a good existing Secret is never blanked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.sealed import MANAGED_BY, MANAGED_BY_LABEL

MANAGED_ANNOTATION = "sealer.dev/managed"
PATCH_ANNOTATION = "sealer.dev/patch"

CREATE, UPDATE, NOOP, REFUSE = "create", "update", "noop", "refuse"


@dataclass(frozen=True)
class Plan:
    action: str
    body: dict[str, Any] | None = None
    reason: str = ""
    message: str = ""


def _owned_by(existing: Mapping[str, Any], owner_uid: str | None) -> bool:
    refs = (existing.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == owner_uid and r.get("controller") for r in refs) if owner_uid else False


SOURCE_GROUP = "sealer.dev"  # our own kinds: two of them never share a Secret


def _rival(existing: Mapping[str, Any], owner_uid: str | None) -> str | None:
    """`Kind name` of another sealer.dev object that controls this Secret, if any."""
    for ref in (existing.get("metadata") or {}).get("ownerReferences") or []:
        group = str(ref.get("apiVersion") or "").partition("/")[0]
        if ref.get("controller") and group == SOURCE_GROUP and ref.get("uid") != owner_uid:
            return f"{ref.get('kind')} {ref.get('name')}"
    return None


def _differs(existing: Mapping[str, Any], desired: Mapping[str, Any], merge: bool) -> bool:
    if merge:
        have = existing.get("data") or {}
        return any(have.get(k) != v for k, v in (desired.get("data") or {}).items())
    if (existing.get("data") or {}) != (desired.get("data") or {}):
        return True
    if existing.get("type", "Opaque") != desired.get("type", "Opaque"):
        return True
    em, dm = existing.get("metadata") or {}, desired.get("metadata") or {}
    for field in ("labels", "annotations"):
        have = em.get(field) or {}
        if any(have.get(k) != v for k, v in (dm.get(field) or {}).items()):
            return True
    have_uids = {r.get("uid") for r in em.get("ownerReferences") or []}
    return not {r.get("uid") for r in dm.get("ownerReferences") or []} <= have_uids


def plan(existing: Mapping[str, Any] | None, desired: dict[str, Any], owner_uid: str | None, *,
         merge: bool = False) -> Plan:
    """What to do so the Secret matches ``desired``. ``owner_uid`` is the SealedSecret's uid. A Secret made
    without ownerReferences (Bitnami's skip-set-owner-references) is recognised as ours by our label.

    ``merge=True`` (a VaultSecret's creationPolicy Merge): the owner asked to write its items into an existing
    Secret it does not own, so items are merged in as with `sealer.dev/patch`, without the annotation; nothing
    is created."""
    if merge:
        if existing is None:
            return Plan(REFUSE, None, "TargetNotFound", "the Secret to merge into does not exist")
        if not _differs(existing, desired, merge=True):
            return Plan(NOOP)
        if existing.get("immutable"):
            return Plan(REFUSE, None, "Immutable", "the Secret is immutable and its content differs")
        return Plan(UPDATE, {"data": dict(desired.get("data") or {})}, "Merged", "merged items into the Secret")
    if existing is None:
        return Plan(CREATE, desired, "Created", "created the Secret")
    rival = _rival(existing, owner_uid)
    if rival:  # first come, first served, whatever the annotations say: never a flip-flop between two sources
        return Plan(REFUSE, None, "Conflict", f"the Secret is already produced by {rival} of this namespace; two "
                    "sources cannot write one Secret: rename one of them (or delete the other)")
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    desired_refs = (desired.get("metadata") or {}).get("ownerReferences")
    labels = (existing.get("metadata") or {}).get("labels") or {}
    ours = _owned_by(existing, owner_uid) or (not desired_refs and labels.get(MANAGED_BY_LABEL) == MANAGED_BY)
    if not ours and annotations.get(PATCH_ANNOTATION) == "true":
        if not _differs(existing, desired, merge=True):
            return Plan(NOOP)
        return Plan(UPDATE, {"data": dict(desired.get("data") or {})}, "Merged",
                    "merged items into a Secret it does not own (sealer.dev/patch)")
    if not ours and annotations.get(MANAGED_ANNOTATION) != "true":
        return Plan(REFUSE, None, "NotOwned",
                    "a Secret with this name exists and is not managed by this SealedSecret; annotate it "
                    'sealer.dev/managed: "true" to let the controller take it over')
    if not _differs(existing, desired, merge=False):
        return Plan(NOOP)
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
    # data replaced wholesale (a merge patch cannot delete keys otherwise): keys no longer sealed go away
    stale = {k: None for k in (existing.get("data") or {}) if k not in (desired.get("data") or {})}
    if stale:
        body = {**body, "data": {**stale, **(desired.get("data") or {})}}
    if existing.get("immutable") and _differs(existing, desired, merge=False):
        return Plan(REFUSE, None, "Immutable", "the Secret is immutable and its content differs; delete it to "
                    "let the controller recreate it")
    taken = not ours
    return Plan(UPDATE, body, "TakenOver" if taken else "Updated",
                "took over the existing Secret" if taken else "updated the Secret")
