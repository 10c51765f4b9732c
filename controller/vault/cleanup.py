"""Work done in Vault before a scheduled object goes (a VaultPKISecret's revocation, a VaultPushSecret's deletion of
what it wrote), under the scheduler's own finalizer: kopf's deletion handler cost 12-14 KiB of RSS per object,
for every object of the kind, to serve the few that ask for it.

The finalizer is `sealer.dev/finalizer`, the name kopf put there before (`handlers.lifecycle`), so an object deleted
across an upgrade is still cleaned up. The scheduler adds it, before any Vault write, to the objects the kind's
`wanted` picks, and takes it off those it no longer picks. An object deleted with it: `run` up to TRIES times (as
kopf's handler was), apart by the Vault retry backoff (--vault-retry-min, doubling: 1, 2, 4, 8 s by default), then
the finalizer comes off whatever the outcome, so a Vault gone for good does not hold the namespace's deletion
forever; a Warning Event says what was left undone. A store that is gone (deleted with the namespace, or no
longer allowing it) cannot be fixed by trying again: `Skipped`, at once, with the same Warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sealer.kube import GROUP

FINALIZER = f"{GROUP}/finalizer"
TRIES = 5
# VaultError reasons no retry fixes: the store is gone or no longer serves the object's namespace
STORE_GONE = frozenset({"StoreNotFound", "StoreNotAllowed", "InvalidStore"})


class Skipped(Exception):
    """The cleanup cannot be done at all (its store is gone); the message says why, in sealer's words."""


@dataclass(frozen=True)
class Cleanup:
    """What a kind does in Vault when one of its objects goes, and which objects need it."""

    wanted: Callable[[Mapping[str, Any]], bool]  # the object (its spec) asks for it
    run: Callable[[Mapping[str, Any]], str | None]  # blocking; what was done, for the log (None: `what` done);
    # raises to be tried again (SpecError: nothing to do, Skipped: cannot be done)
    what: str  # for the log and Events: "revocation", "deletion from Vault"


def holds(body: Mapping[str, Any]) -> bool:
    """The object carries our finalizer."""
    return FINALIZER in ((body.get("metadata") or {}).get("finalizers") or [])


def deleting(body: Mapping[str, Any]) -> bool:
    return bool((body.get("metadata") or {}).get("deletionTimestamp"))


def finalizers_patch(body: Mapping[str, Any], want: bool) -> dict[str, Any] | None:
    """The merge patch that adds (``want``) or removes our finalizer, None when there is nothing to change. The
    whole list is sent, with the resourceVersion it was read at, so another controller's finalizer added meanwhile
    is not dropped (the API server refuses the patch instead: 409)."""
    meta = body.get("metadata") or {}
    current = list(meta.get("finalizers") or [])
    if (FINALIZER in current) == want:
        return None
    changed = [*current, FINALIZER] if want else [f for f in current if f != FINALIZER]
    patch: dict[str, Any] = {"metadata": {"finalizers": changed}}
    if meta.get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta["resourceVersion"]
    return patch
