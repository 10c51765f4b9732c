"""The VaultPushSecret runtime: read the Secret, and for each store and remote key read Vault once, then write
only what changed and only what this VaultPushSecret owns; delete (when `deletionPolicy: Delete`) the remote
keys dropped from the spec and, on deletion, every one it wrote, again only if owned. Decisions are in
`vault.push`; the store rules (which store a namespace may use) are `VaultSync.client_for`'s. Each object is synced
when the controller starts and every refreshInterval after that, by a scheduler (`PushSync.kind`), as ESO pushes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller import status
from controller.runtime import Result
from controller.vault import push
from controller.vault.cleanup import STORE_GONE, Cleanup
from controller.vault.client import StoreClient, VaultError
from controller.vault.fields import SpecError, vault_path
from controller.vault.scheduler import Kind, in_thread, store_of
from controller.vault.sync import Sync, VaultSync, now_rfc3339
from sealer.io.manifests import secret_items
from sealer.kube import API_VERSION

log = logging.getLogger("sealer.controller.vault")

KIND, PLURAL = "VaultPushSecret", "vaultpushsecrets"
# Failures a later sync may fix by itself (retried with backoff); InvalidSpec from the spec waits for a change.
_RETRIED = {"VaultUnavailable", "PermissionDenied", "StoreNotFound", "StoreNotReady", "StoreNotAllowed",
            "InvalidStore", "SecretNotFound", "NotOwned", "ApiError", "InvalidSpec"}


class PushSync:
    def __init__(self, vault: VaultSync) -> None:
        self.vault = vault
        self.scheduler: Any = None  # controller.vault.scheduler.Scheduler of the operator run, while it runs

    # --- one sync -----------------------------------------------------------------------------------------

    def sync(self, body: Mapping[str, Any]) -> Sync:
        try:
            spec = push.parse_push_secret(body)
        except SpecError as e:
            return Sync(Result(False, "InvalidSpec", str(e)))
        try:
            return self._sync(body, spec)
        except VaultError as e:
            return Sync(Result(False, e.reason, e.message), retry=e.reason in _RETRIED,
                        refresh_seconds=spec.refresh_seconds)
        except SpecError as e:  # the Secret's content (a missing key, not JSON): fixed by changing the Secret
            return Sync(Result(False, "InvalidSpec", str(e)), retry=True, refresh_seconds=spec.refresh_seconds)
        except Exception as e:  # an API hiccup: report it, retry later
            log.warning("VaultPushSecret sync failed: %s", type(e).__name__)
            why = getattr(e, "status", None) or type(e).__name__
            return Sync(Result(False, "ApiError", f"Kubernetes API error ({why})"), retry=True)

    def _secret_data(self, spec: push.PushSpec) -> dict[str, bytes]:
        secret = self.vault.controller.kube.get_secret(spec.namespace, spec.secret_name)
        if secret is None:
            raise VaultError("SecretNotFound", f"Secret {spec.namespace}/{spec.secret_name} not found")
        return secret_items(secret)

    def _sync(self, body: Mapping[str, Any], spec: push.PushSpec) -> Sync:
        wanted = push.desired(spec, self._secret_data(spec))
        synced: dict[str, dict[str, Any]] = {}
        written, refused, skipped = [], [], []
        first_error: VaultError | None = None
        failed: set[tuple[str, str]] = set()  # (store, remote key) not reached: their status entries stay
        for kind, name in spec.stores:
            skey = push.store_key(kind, name)
            try:
                client = self.vault.client_for(spec.namespace, kind, name)
            except VaultError as e:
                first_error = first_error or e
                failed.update((skey, k) for k in wanted)
                continue
            for remote_key, target in wanted.items():
                try:
                    outcome = self._push_one(client, spec, remote_key, target)
                except VaultError as e:
                    first_error = first_error or e
                    failed.add((skey, remote_key))
                    continue
                where = f"{skey}: {remote_key}"
                if outcome == push.REFUSE:
                    refused.append(where)
                    continue
                if outcome == push.SKIP:
                    skipped.append(where)
                    continue
                if outcome in (push.CREATE, push.UPDATE):
                    written.append(where)
                synced.setdefault(skey, {}).update({item.ref: item.as_status() for item in target.items})
        previous = (body.get("status") or {}).get("syncedPushSecrets") or {}
        for skey, refs in previous.items() if isinstance(previous, Mapping) else ():
            for ref, data in (refs or {}).items() if isinstance(refs, Mapping) else ():
                remote = ((data or {}).get("match") or {}).get("remoteRef") or {} if isinstance(data, Mapping) else {}
                if (skey, remote.get("remoteKey")) in failed:
                    synced.setdefault(skey, {})[ref] = data
        deleted, kept = self._drop_removed(body, spec, synced)
        for skey, refs in kept.items():  # a deletion that failed: listed until it is done
            synced.setdefault(skey, {}).update(refs)
        st = {"syncedPushSecrets": _merge_patch((body.get("status") or {}).get("syncedPushSecrets"), synced),
              "refreshTime": now_rfc3339()}
        if refused:
            msg = (f"not overwritten, not managed by this VaultPushSecret: {', '.join(refused)}"
                   + (f"; wrote {len(written)}" if written else ""))
            return Sync(Result(False, "NotOwned", msg), st, retry=True, refresh_seconds=spec.refresh_seconds)
        if first_error is not None:
            return Sync(Result(False, first_error.reason, first_error.message), st,
                        retry=first_error.reason in _RETRIED, refresh_seconds=spec.refresh_seconds)
        parts = [f"wrote {', '.join(written)}" if written else "Vault up to date"]
        if skipped:
            parts.append(f"exists, left as is (IfNotExists): {', '.join(skipped)}")
        if deleted:
            parts.append(f"deleted {', '.join(deleted)}")
        return Sync(Result(True, "Synced", "; ".join(parts), bool(written or deleted)), st,
                    refresh_seconds=spec.refresh_seconds)

    def _push_one(self, client: StoreClient, spec: push.PushSpec, remote_key: str, target: push.Desired) -> str:
        """One read, then at most one write (KV v2: metadata + data) of one remote key."""
        entry = client.read_kv(remote_key)
        current = entry.data if entry is not None else None
        wanted = target.merged(current)
        marks = spec.marks()
        meta = entry.custom_metadata if entry is not None else {}
        outcome = push.decide(entry is not None, meta, spec.owner, spec.update_policy, current, wanted, marks)
        if outcome == push.REFUSE:
            log.warning("VaultPushSecret %s: %s/%s is not ours: not overwritten", spec.owner, client.store.ref,
                        remote_key)
        if outcome in (push.CREATE, push.UPDATE):
            # keep other tools' metadata keys (ESO's Merge policy); ours always win
            client.write_kv(remote_key, wanted, {**meta, **marks}, entry.version if entry is not None else 0)
        return outcome

    def _drop_removed(self, body: Mapping[str, Any], spec: push.PushSpec, synced: Mapping[str, Mapping[str, Any]]
                      ) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """With deletionPolicy Delete: the refs the last status lists and the spec no longer names. Returns what
        was deleted and the refs whose deletion failed (kept in the status to be tried again)."""
        kept: dict[str, dict[str, Any]] = {}
        if spec.deletion_policy != "Delete":
            return [], kept
        previous = (body.get("status") or {}).get("syncedPushSecrets") or {}
        wanted_refs = {(s, item.ref) for s in (push.store_key(k, n) for k, n in spec.stores) for item in spec.items}
        dropped = {s: {r: d for r, d in (refs or {}).items() if (s, r) not in wanted_refs and r not in
                       (synced.get(s) or {})}
                   for s, refs in previous.items() if isinstance(refs, Mapping)}
        done: list[str] = []
        for skey, refs in dropped.items():
            for ref, data in refs.items():
                try:
                    if self._delete_ref(spec, skey, data):
                        done.append(f"{skey}: {ref}")
                except VaultError as e:
                    log.warning("VaultPushSecret %s: %s %s not deleted: %s", spec.owner, skey, ref, e.reason)
                    if e.reason not in STORE_GONE:  # a store that went or no longer allows us: nothing to retry
                        kept.setdefault(skey, {})[ref] = data
        return done, kept

    def _delete_ref(self, spec: push.PushSpec, skey: str, data: Any) -> bool:
        """Delete one ref (a status entry) if the secret is ours. True if something was deleted."""
        store = push.parse_store_key(skey)
        remote = ((data or {}).get("match") or {}).get("remoteRef") or {} if isinstance(data, Mapping) else {}
        remote_key, prop = remote.get("remoteKey"), remote.get("property") or None
        try:
            remote_key = vault_path(remote_key, "status.syncedPushSecrets")
        except SpecError:
            return False
        if store is None:
            return False
        client = self.vault.client_for(spec.namespace, *store)
        entry = client.read_kv(remote_key)
        if entry is None or not push.owned(entry.custom_metadata, spec.owner):
            return False
        rest = push.after_delete(entry.data or {}, prop)
        if rest is None:
            client.delete_kv(remote_key)
        else:
            client.write_kv(remote_key, rest, entry.custom_metadata, entry.version)
        log.info("VaultPushSecret %s: deleted %s %s", spec.owner, skey, remote_key + (f" {prop}" if prop else ""))
        return True

    def delete(self, body: Mapping[str, Any]) -> None:
        """On deletion with `deletionPolicy: Delete`: every ref the status lists, if ours. Raises VaultError to be
        retried (a store that no longer exists or allows it is skipped: nothing can be done)."""
        spec = push.parse_push_secret(body)
        previous = (body.get("status") or {}).get("syncedPushSecrets") or {}
        for skey, refs in previous.items():
            for data in (refs or {}).values() if isinstance(refs, Mapping) else ():
                try:
                    self._delete_ref(spec, skey, data)
                except VaultError as e:
                    if e.reason in STORE_GONE:
                        log.warning("VaultPushSecret %s: %s: %s", spec.owner, skey, e.message)
                        continue
                    raise

    # --- on the scheduler ---------------------------------------------------------------------------------

    def kind(self, refresher: Any) -> Kind:
        """VaultPushSecrets for the scheduler: each pushed when the controller starts and every refreshInterval
        after that (no spread added, as ESO), or after the backoff of a failed sync worth retrying. It holds a place
        of its first store's share. With `deletionPolicy: Delete`, what it wrote goes before it does (the
        scheduler's finalizer)."""

        def report(done: Sync, started: float, body: dict[str, Any], meta: Any, patch: Any,
                   post: status.Poster) -> None:
            status.set_ready(KIND, done.result, body, meta, patch, announce=done.result.changed, post=post)
            patch.status.update(done.status)

        return Kind(KIND, API_VERSION, PLURAL, sync=in_thread(refresher, self.sync),
                    store_of=lambda body: store_of(body, "storeRefs"), report=report, spread=False,
                    cleanup=Cleanup(lambda body: (body.get("spec") or {}).get("deletionPolicy") == "Delete",
                                    self.delete, "deletion from Vault"))


def _merge_patch(previous: Any, synced: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """`syncedPushSecrets` as a JSON merge patch over what the status held: refs no longer synced set to null."""
    out: dict[str, Any] = {k: dict(v) for k, v in synced.items()}
    for skey, refs in (previous or {}).items() if isinstance(previous, Mapping) else ():
        if skey not in synced:
            out[skey] = None
        elif isinstance(refs, Mapping):
            for ref in refs:
                out[skey].setdefault(ref, None)
    return out or None
