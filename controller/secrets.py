"""Writing produced Secrets, for every source (SealedSecret, SopsSecret, VaultSecret): who owns an existing Secret,
when we may take it over, and what to change.

`plan` is pure (the emulator cannot show every API-server behaviour, so the decisions are unit-tested here);
`write` reads the Secret, plans and performs the plan: the one write path. A Secret we do not own is never
touched unless it opts in with `sealer.dev/managed: "true"` (take over) or `sealer.dev/patch: "true"` (merge our
items, labels and annotations in, keep its owner; with both, merge and take ownership), or Bitnami's
`sealedsecrets.bitnami.com/` spellings of the same, which mean exactly the same; a Secret another sealer.dev object
produces is never touched at all (Conflict), opt-in or not. A Secret Bitnami's controller made for a bitnami.com
SealedSecret is adopted by the sealer.dev SealedSecret of the same name (what `sealer migrate bitnami` turns it into).
A failed unseal never reaches this module, so a good existing Secret is never blanked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sealer.kube import BITNAMI_GROUP, GROUP, MANAGED_BY, MANAGED_BY_LABEL

if TYPE_CHECKING:
    from controller.kube import Kube

MANAGED_ANNOTATION = "sealer.dev/managed"
PATCH_ANNOTATION = "sealer.dev/patch"
BITNAMI_MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"
BITNAMI_PATCH_ANNOTATION = "sealedsecrets.bitnami.com/patch"
# on a Secret made without ownerReferences whose template sets its own managed-by label: our mark instead of the label
PRODUCED_ANNOTATION = "sealer.dev/produced"
# on every Secret we create or own, whatever the template's labels: the controller watches Secrets with this label
# only (controller.secretwatch), so a Secret without it gets no drift check until a resync puts it back
PRODUCED_LABEL = "sealer.dev/produced-by"

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


def other_controller(existing: Mapping[str, Any], owner_uid: str | None, group: str | None = GROUP) -> str | None:
    """`Kind name` of an object other than ``owner_uid`` that controls this Secret, of API ``group`` (None: any
    group). Our own kinds (group sealer.dev) never share a Secret."""
    for ref in (existing.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") != owner_uid and (
                group is None or _group(ref) == group):
            return f"{ref.get('kind')} {ref.get('name')}"
    return None


def _opted(existing: Mapping[str, Any], *names: str) -> bool:
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(n) == "true" for n in names)


def produced_mark(secret: Mapping[str, Any]) -> bool:
    """Our mark on a Secret made without ownerReferences (Bitnami's skip-set-owner-references)."""
    meta = secret.get("metadata") or {}
    return ((meta.get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
            or (meta.get("annotations") or {}).get(PRODUCED_ANNOTATION) == "true")


def labelled(secret: Mapping[str, Any] | None) -> bool:
    """The Secret carries our produced-by label (what the Secret watch selects)."""
    return bool((((secret or {}).get("metadata") or {}).get("labels") or {}).get(PRODUCED_LABEL))


def mark(desired: dict[str, Any], kind: str) -> dict[str, Any]:
    """``desired`` with the produced-by label (the source's kind)."""
    desired.setdefault("metadata", {}).setdefault("labels", {})[PRODUCED_LABEL] = kind
    return desired


def _group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").partition("/")[0]


def _twin_controls(existing: Mapping[str, Any], owner: Mapping[str, Any], owner_group: str, twin_group: str) -> bool:
    """``owner`` is a SealedSecret of ``owner_group``, and the SealedSecret of its name in ``twin_group`` controls
    the Secret. Bitnami names a Secret after its SealedSecret and owns it by a controller ownerReference
    (`metav1.IsControlledBy`, which compares uids), so same kind and name, the other group."""
    if _group(owner) != owner_group or owner.get("kind") != "SealedSecret":
        return False
    name = (owner.get("metadata") or {}).get("name")
    return any(r.get("controller") and r.get("kind") == "SealedSecret" and r.get("name") == name
               and _group(r) == twin_group for r in (existing.get("metadata") or {}).get("ownerReferences") or [])


def bitnami_predecessor(existing: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """The Secret was made by Bitnami's controller for the bitnami.com SealedSecret that ``owner`` (a sealer.dev
    SealedSecret) replaces: ours to adopt."""
    return _twin_controls(existing, owner, GROUP, BITNAMI_GROUP)


def _adopted_from(existing: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """``owner`` is a bitnami.com SealedSecret whose Secret the sealer.dev one of its name adopted (the migration)."""
    return _twin_controls(existing, owner, BITNAMI_GROUP, GROUP)


def _merge_meta(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The labels and annotations a patch merges in (Bitnami merges the template's): not our managed-by mark,
    which would claim a Secret we only write items into."""
    em, dm = existing.get("metadata") or {}, desired.get("metadata") or {}
    out: dict[str, dict[str, str]] = {}
    for field in ("labels", "annotations"):
        want = {k: v for k, v in (dm.get(field) or {}).items()
                if not (field == "labels" and (k == PRODUCED_LABEL or (k == MANAGED_BY_LABEL and v == MANAGED_BY)))
                and not (field == "annotations" and k == PRODUCED_ANNOTATION)}
        have = em.get(field) or {}
        changed = {k: v for k, v in want.items() if have.get(k) != v}
        if changed:
            out[field] = changed
    return out


def _differs(existing: Mapping[str, Any], desired: Mapping[str, Any], merge: bool) -> bool:
    if merge:
        have = existing.get("data") or {}
        return any(have.get(k) != v for k, v in (desired.get("data") or {}).items())
    if (existing.get("data") or {}) != (desired.get("data") or {}):
        return True
    return shape_differs(existing, desired)


def shape_differs(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Everything but the data: type, the labels and annotations we set, our ownerReference."""
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
         merge: bool = False, kind: str = "SealedSecret", adopt: bool = False, superseded: bool = False) -> Plan:
    """What to do so the Secret matches ``desired``. ``owner_uid`` and ``kind`` are the source object's (``kind``
    names it in messages). A Secret made without ownerReferences (Bitnami's skip-set-owner-references) is
    recognised as ours by our mark (`produced_mark`). ``adopt``: the Secret is Bitnami's for the object we replace
    (`bitnami_predecessor`), ours to take over without an annotation.

    A `patch` annotation (either spelling) merges, as Bitnami does, whoever owns the Secret: items, and the
    template's labels and annotations, never removing anything; with `managed` too, our ownerReference replaces
    the Secret's (Bitnami's "take ownership").

    ``superseded``: the owner is a bitnami.com SealedSecret whose Secret the sealer.dev one of its name adopted.

    ``merge=True`` (a VaultSecret's creationPolicy Merge): the owner asked to write its items into an existing
    Secret it does not own, so items are merged in as with `sealer.dev/patch`, without the annotation; nothing
    is created, and a Secret another sealer.dev object produces is left alone."""
    name = (desired.get("metadata") or {}).get("name")
    if merge:
        if existing is None:
            return Plan(REFUSE, None, "TargetNotFound", f"Secret {name} does not exist; creationPolicy Merge writes "
                        "into an existing Secret only")
        rival = other_controller(existing, owner_uid)
        if rival:
            return Plan(REFUSE, None, "Conflict", f"Secret {name} is produced by {rival}; creationPolicy Merge does "
                        "not write into another sealer object's Secret")
        if not _differs(existing, desired, merge=True):
            return Plan(NOOP)
        if existing.get("immutable"):
            return Plan(REFUSE, None, "Immutable", "the Secret is immutable and its content differs")
        return Plan(UPDATE, {"data": dict(desired.get("data") or {})}, "Merged", "merged items into the Secret")
    if existing is None:
        return Plan(CREATE, desired, "Created", "created the Secret")
    rival = other_controller(existing, owner_uid)
    if rival and superseded:
        return Plan(REFUSE, None, "Superseded", f"the Secret was adopted by the {GROUP} {kind} of the same name "
                    f"(the migration): delete this one with `kubectl delete sealedsecrets.bitnami.com {name} "
                    "--cascade=orphan`; the Secret stays")
    if rival:  # first come, first served, whatever the annotations say: never a flip-flop between two sources
        return Plan(REFUSE, None, "Conflict", f"the Secret is already produced by {rival} of this namespace; two "
                    "sources cannot write one Secret: rename one of them (or delete the other)")
    desired_refs = (desired.get("metadata") or {}).get("ownerReferences")
    ours = _owned_by(existing, owner_uid) or adopt or (not desired_refs and produced_mark(existing))
    managed = _opted(existing, MANAGED_ANNOTATION, BITNAMI_MANAGED_ANNOTATION)
    if _opted(existing, PATCH_ANNOTATION, BITNAMI_PATCH_ANNOTATION):
        body: dict[str, Any] = {}
        if _differs(existing, desired, merge=True):
            body["data"] = dict(desired.get("data") or {})
        meta = _merge_meta(existing, desired)
        take = managed and desired_refs and not _owned_by(existing, owner_uid)
        if take:
            meta["ownerReferences"] = desired_refs  # type: ignore[assignment]
        if meta:
            body["metadata"] = meta
        if not body:
            return Plan(NOOP)
        if existing.get("immutable") and "data" in body:
            return Plan(REFUSE, None, "Immutable", "the Secret is immutable and its content differs")
        return Plan(UPDATE, body, "TakenOver" if take else "Merged",
                    "merged into the Secret and took ownership (managed and patch)" if take else
                    "merged into the Secret (patch)")
    if not ours and not managed:
        return Plan(REFUSE, None, "NotOwned",
                    f"a Secret with this name exists and is not managed by this {kind}; annotate it "
                    'sealer.dev/managed: "true" (or sealedsecrets.bitnami.com/managed) to let the controller take '
                    "it over")
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
    if adopt and not _owned_by(existing, owner_uid):
        return Plan(UPDATE, body, "Adopted", "adopted the Secret Bitnami's controller made for the bitnami.com "
                    "SealedSecret of this name")
    taken = not ours
    return Plan(UPDATE, body, "TakenOver" if taken else "Updated",
                "took over the existing Secret" if taken else "updated the Secret")


@dataclass(frozen=True)
class Written:
    """What `write` did: the plan, and the Secret as the API returned it (the existing one when nothing changed;
    None when refused)."""

    plan: Plan
    secret: dict[str, Any] | None = None

    @property
    def refused(self) -> bool:
        return self.plan.action == REFUSE

    @property
    def changed(self) -> bool:
        return self.plan.action in (CREATE, UPDATE)


READ: Any = object()  # `write` reads the Secret itself
NEW: Any = object()  # the owner was just made (no status yet): `write` creates first and reads only on a 409


def write(kube: Kube, desired: dict[str, Any], owner: Mapping[str, Any], *, merge: bool = False,
          existing: Any = READ) -> Written:
    """Make the Secret match ``desired`` for the source object ``owner``: read it (unless the caller just did:
    ``existing``, None when absent), plan, create or patch it. Never deletes; API errors propagate (the caller
    reports them). ``existing=NEW``: the Secret is most likely absent, so the create is tried first (one call
    instead of a GET that answers 404 and then the create); when it exists (409) it is read and planned as
    always, so an existing Secret is judged by the same rules whichever way it is found."""
    meta = desired["metadata"]
    if not merge:
        mark(desired, str(owner.get("kind") or "SealedSecret"))
    if existing is NEW:
        existing = READ
        if not merge:  # creationPolicy Merge never creates
            created = kube.create_secret_if_absent(meta["namespace"], desired)
            if created is not None:
                return Written(plan(None, desired, None), created)
    if existing is READ:
        existing = kube.get_secret(meta["namespace"], meta["name"])
    step = plan(existing, desired, (owner.get("metadata") or {}).get("uid"), merge=merge,
                kind=str(owner.get("kind") or "SealedSecret"),
                adopt=existing is not None and bitnami_predecessor(existing, owner),
                superseded=existing is not None and _adopted_from(existing, owner))
    if step.action == CREATE:
        return Written(step, kube.create_secret(meta["namespace"], step.body or {}))
    if step.action == UPDATE:
        return Written(step, kube.patch_secret(meta["namespace"], meta["name"], step.body or {}))
    return Written(step, None if step.action == REFUSE else existing)
