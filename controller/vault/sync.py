"""The VaultSecret runtime: read Vault through the store's shared client, write the Secret through
`secrets.write` (the one write path of every source), restart workloads when the data changed, decide when to
read again.

Decisions live in the pure modules (`vault.spec`, `secrets`); this module makes the API and Vault calls. A failed
read never reaches `secrets.write`: the existing Secret stays byte-identical whatever Vault does. The only
deletion is the one the user asked for: every path answered 404 and `deletionPolicy: Delete`.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller import metrics, secrets
from controller.digest import DataKeyError
from controller.runtime import Controller, Result
from controller.vault import fetch, template
from controller.vault import spec as vs
from controller.vault.client import NOT_FOUND, Clients, StoreClient, VaultError
from controller.vault.credentials import KubeCredentials
from controller.vault.data import build_data
from controller.vault.fields import SpecError
from controller.vault.store import ESO_KINDS, parse_store, store_allows
from sealer.io.manifests import secret_items
from sealer.kube import API_VERSION

log = logging.getLogger("sealer.controller.vault")

PLURALS = {"VaultStore": "vaultstores", "ClusterVaultStore": "clustervaultstores", "VaultSecret": "vaultsecrets"}
# Reasons that a later read may fix by itself: retried with backoff. Anything else waits for a spec change.
RETRIED = {"VaultUnavailable", "PermissionDenied", "NotFound", "StoreNotFound", "StoreNotReady", "StoreNotAllowed",
           "TemplateNotFound", "InvalidStore", "TargetNotFound", "NotOwned", "Immutable", "ApiError", "InvalidSpec"}


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Sync:
    """One sync: the Ready outcome plus the VaultSecret status fields it sets."""

    result: Result
    status: dict[str, Any] = field(default_factory=dict)
    retry: bool = False  # a failure worth retrying with backoff
    refresh_seconds: float | None = None  # spec.refreshInterval, when the spec could be read


@dataclass
class Backoff:
    """Exponential backoff with jitter for failed syncs: min * 2^(n-1), capped, times a random 0.5..1."""

    minimum: float = 1.0
    maximum: float = 300.0
    failures: int = 0

    def next(self) -> float:
        self.failures += 1
        base = min(self.maximum, self.minimum * (2 ** min(self.failures - 1, 30)))
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        self.failures = 0


class VaultSync:
    """State shared by the Vault handlers: store objects seen on the watch, store clients, the HMAC key,
    per-VaultSecret locks and backoff."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.clients = Clients(KubeCredentials(controller))
        self.retry_min, self.retry_max = controller.config.vault_retry_min, controller.config.vault_retry_max
        self._stores: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._backoff: dict[str, Backoff] = {}
        self._written: dict[str, tuple[str, str]] = {}  # uid -> (Secret name, digest of what it held after a sync)

    # --- the HMAC key -------------------------------------------------------------------------------------

    def hmac_key(self) -> bytes:
        """The controller's data HMAC key (see `controller.digest.DataKey`)."""
        try:
            return self.controller.data_key.get()
        except DataKeyError as e:
            raise VaultError("ApiError", str(e)) from None

    # --- stores -------------------------------------------------------------------------------------------

    def store_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A VaultStore / ClusterVaultStore watch event: keep the object, drop its client when it goes."""
        meta = body.get("metadata") or {}
        key = (str(body.get("kind")), meta.get("namespace") if body.get("kind") == "VaultStore" else None,
               str(meta.get("name")))
        with self._lock:
            if event_type == "DELETED":
                self._stores.pop(key, None)
            else:
                self._stores[key] = dict(body)
        if event_type == "DELETED":
            self.clients.drop(*key)

    def find_store(self, kind: str, namespace: str | None, name: str, *, eso: bool = False) -> dict[str, Any] | None:
        """The store object a VaultSecret names; with `eso`, the External Secrets store of that name (an
        ExternalSecret served with --eso-compat), converted to the sealer kind it stands for."""
        if eso:
            from controller.vault import esocompat

            found = esocompat.eso_store(self.controller.kube, ESO_KINDS[kind], namespace or "", name)
            return None if found is None else esocompat.as_sealer_store(found)
        key = (kind, namespace if kind == "VaultStore" else None, name)
        with self._lock:
            found = self._stores.get(key)
        if found is not None:
            return found
        # not seen on the watch yet (start-up order): ask the API
        kube = self.controller.kube
        if kind == "VaultStore":
            return kube.get_object(API_VERSION, PLURALS[kind], namespace or "", name)
        return kube.get_cluster_object(API_VERSION, PLURALS[kind], name)

    def store_client(self, obj: Mapping[str, Any]) -> StoreClient:
        return self.clients.get(parse_store(obj))

    def check_store(self, obj: Mapping[str, Any]) -> Result:
        """Log in and look the token up: the store's Ready condition."""
        try:
            client = self.store_client(obj)
            return Result(True, "Valid", client.check())
        except SpecError as e:
            return Result(False, "InvalidStore", str(e))
        except VaultError as e:
            return Result(False, e.reason, e.message)

    def maintain_store(self, obj: Mapping[str, Any]) -> bool:
        """Renew the store's token when due (no request otherwise). True if the store needs a fresh check: its
        client found Vault unavailable since the last one."""
        try:
            spec = parse_store(obj)
        except SpecError:
            return False
        client = self.clients.find(spec.kind, spec.namespace, spec.name)
        if client is None or client.store.fingerprint != spec.fingerprint:
            return False
        try:
            client.maintain()
        except VaultError as e:
            log.warning("%s: token renewal failed: %s", spec.ref, e.reason)
        return client.unavailable

    def shutdown(self) -> None:
        self.clients.close()

    # --- VaultSecrets -------------------------------------------------------------------------------------

    def _lock_for(self, uid: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(uid, threading.Lock())

    def forget(self, uid: str) -> None:
        with self._lock:
            self._written.pop(uid, None)
            self._locks.pop(uid, None)
            self._backoff.pop(uid, None)

    def next_delay(self, uid: str, sync: Sync) -> float | None:
        """Seconds until the next sync: the refresh interval after a success (None = only when woken),
        backoff with jitter after a failure worth retrying."""
        if sync.result.ready:  # the backoff starts over: no record kept for an object that syncs
            with self._lock:
                self._backoff.pop(uid, None)
            return sync.refresh_seconds if sync.refresh_seconds else None
        with self._lock:
            backoff = self._backoff.setdefault(uid, Backoff(self.retry_min, self.retry_max))
        if sync.retry:
            return backoff.next()
        return None

    def reconcile(self, body: Mapping[str, Any]) -> Result:
        """The `Source` entry point (drift restoration): sync once, status left to the refresh loop. Our own
        writes come back as MODIFIED events too: a Secret that still holds what we last wrote costs no Vault
        read."""
        return self.sync(body, drift=True).result

    def intact(self, body: Mapping[str, Any], listed: Mapping[str, Any] | None = None,
               spec: vs.VaultSecretSpec | None = None) -> bool:
        """The Secret still holds what `status.dataHash` says the last sync wrote (one API read, none when it is in
        ``listed``, and no Vault read): a restarted refresh loop then waits until due. Remembered as our last write,
        so the echo of a later unrelated Secret event costs no Vault read either. Any doubt (Merge target, other
        key, error) -> False."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        try:
            spec = spec or vs.parse_vault_secret(body)  # ``spec``: the caller parsed this body already
            want = (body.get("status") or {}).get("dataHash")
            secret = None
            if want:
                secret = (listed or {}).get(spec.target.name) or self.controller.kube.get_secret(spec.namespace,
                                                                                                spec.target.name)
            if secret is None or spec.target.creation_policy == vs.MERGE:
                return False
            data = secret_items(secret)
            if vs.data_hmac(self.hmac_key(), data) != want:
                return False
            digest = self._secret_digest(secret)
        except Exception:
            return False
        with self._lock:
            self._written[uid] = (spec.target.name, digest)
        return True

    def _untouched(self, uid: str, spec: vs.VaultSecretSpec) -> bool:
        with self._lock:
            written = self._written.get(uid)
        if written is None:
            return False
        try:
            secret = self.controller.kube.get_secret(spec.namespace, spec.target.name)
        except Exception:
            return False
        return secret is not None and written == (spec.target.name, self._secret_digest(secret))

    def _secret_digest(self, secret: Mapping[str, Any]) -> str:
        data = secret_items(secret)
        return vs.data_hmac(self.hmac_key(), data) + "|" + repr(sorted(((secret.get("metadata") or {}).get(
            "labels") or {}).items())) + repr(sorted(((secret.get("metadata") or {}).get("annotations") or {}).items()))

    def sync(self, body: Mapping[str, Any], *, drift: bool = False) -> Sync:
        uid = str((body.get("metadata") or {}).get("uid") or "")
        started = time.monotonic()
        with self._lock_for(uid):
            timed = True
            try:
                spec = vs.parse_vault_secret(body)  # once per sync: the refresh loop reads refresh_seconds back
                if drift and self._untouched(uid, spec):
                    timed = False  # no Vault read, no write: not a sync to time
                    return Sync(Result(True, "Synced", "the Secret holds the synced data"),
                                refresh_seconds=spec.refresh_seconds)
                done = self._sync(body, spec)
                done.refresh_seconds = spec.refresh_seconds
                return done
            except VaultError as e:
                return Sync(Result(False, e.reason, e.message), retry=e.reason in RETRIED)
            except template.TemplateError as e:  # may depend on the data read: tried again with backoff
                return Sync(Result(False, "InvalidTemplate", str(e)), retry=True)
            except SpecError as e:
                return Sync(Result(False, "InvalidSpec", str(e)))
            except Exception as e:  # an API hiccup: report it, retry later, never crash the loop
                status = getattr(e, "status", None)
                log.warning("VaultSecret sync failed: %s", type(e).__name__)
                return Sync(Result(False, "ApiError", f"Kubernetes API error ({status or type(e).__name__})"),
                            retry=True)
            finally:
                if timed:
                    metrics.VAULT_SYNC_DURATION.observe(time.monotonic() - started)

    def _sync(self, body: Mapping[str, Any], spec: vs.VaultSecretSpec) -> Sync:
        meta = body.get("metadata") or {}
        client = self.client_for(spec.namespace, spec.store_kind, spec.store_name, eso=spec.eso)

        fetched, missing = fetch.read_all(client, spec, lambda ref: self.client_for(spec.namespace, ref.kind, ref.name,
                                                                                   eso=spec.eso))
        if missing:
            return self._not_found(body, spec, missing, all_missing=not fetched)
        data = build_data(spec, fetched, fetched.found)
        labels = annotations = None
        if spec.target.template.active:
            rendered = template.render(spec.target.template, data, self._template_sources(spec))
            data, labels, annotations = rendered.data, rendered.labels, rendered.annotations

        previous = (body.get("status") or {}).get("dataHash")
        key = self.hmac_key()
        digest = vs.data_hmac(key, data)
        merge = spec.target.creation_policy == vs.MERGE
        desired = vs.desired_secret(body, spec, data, labels, annotations)
        done = secrets.write(self.controller.kube, desired, body, merge=merge)
        step = done.plan
        if done.refused:
            return Sync(Result(False, step.reason, step.message), retry=True)
        wrote = done.changed
        if not merge and done.secret is not None:
            with self._lock:
                self._written[str(meta.get("uid") or "")] = (spec.target.name, self._secret_digest(done.secret))
        now = now_rfc3339()
        status: dict[str, Any] = {"refreshTime": now, "dataHash": digest}
        items = vs.plural(len(data), "item")
        reads = vs.plural(len(fetched), "Vault secret")
        if wrote:
            status["syncedAt"] = now
            message = f"{step.message}: {items} from {reads}"
            if vs.hash_changed(previous, digest, key):
                restarted = self.rollout_restart("VaultSecret", spec.namespace, spec.name, spec.rollout_restart,
                                                 now)
                if restarted:
                    message += f"; restarted {restarted}"
        else:
            message = f"{items} from {reads}, unchanged"
        return Sync(Result(True, step.reason if wrote else "Synced", message, wrote), status)

    def _template_sources(self, spec: vs.VaultSecretSpec) -> dict[tuple[str, str], dict[str, bytes]]:
        """The ConfigMaps and Secrets holding templateFrom templates, from the VaultSecret's own namespace only."""
        kube = self.controller.kube
        found: dict[tuple[str, str], dict[str, bytes]] = {}
        for kind, name in spec.target.template.reads():
            if kind == "ConfigMap":
                obj = kube.get_configmap(spec.namespace, name)
                items = {k: str(v).encode() for k, v in ((obj or {}).get("data") or {}).items()}
                items.update({k: base64.b64decode(v) for k, v in ((obj or {}).get("binaryData") or {}).items()})
            else:
                obj = kube.get_secret(spec.namespace, name)
                items = secret_items(obj) if obj is not None else {}
            if obj is None:
                raise VaultError("TemplateNotFound", f"{kind} {name} (spec.target.template.templateFrom) not found in "
                                                     f"namespace {spec.namespace}")
            found[(kind, name)] = items
        return found

    def client_for(self, namespace: str, kind: str, name: str, *, eso: bool = False) -> StoreClient:
        """The client of a store an object of `namespace` names (a storeRef, an item's sourceRef, a PKI or push
        store), under the same rules for every kind; VaultError (StoreNotFound, InvalidStore, StoreNotAllowed:
        retried) otherwise. `eso`: the names are External Secrets stores (--eso-compat)."""
        store_obj = self.find_store(kind, namespace, name, eso=eso)
        if store_obj is None:
            where = f"namespace {namespace}" if kind == "VaultStore" else "the cluster"
            raise VaultError("StoreNotFound", f"{ESO_KINDS[kind] if eso else kind} {name} not found in {where}")
        try:
            store = parse_store(store_obj)
        except SpecError as e:
            raise VaultError("InvalidStore", f"{kind} {name}: {e}") from None
        labels = self._namespace_labels(namespace) if store.needs_namespace_labels else None
        refused = store_allows(store, namespace, labels)
        if refused:
            raise VaultError("StoreNotAllowed", refused)
        return self.clients.get(store)

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        found = self.controller.kube.get_namespace(namespace) or {}
        return (found.get("metadata") or {}).get("labels") or {}

    def _not_found(self, body: Mapping[str, Any], spec: vs.VaultSecretSpec, missing: list[str],
                   all_missing: bool) -> Sync:
        """Vault says (authoritatively) that a path does not exist. The Secret stays, unless every path is gone
        and the user chose deletionPolicy Delete."""
        message = f"not found in Vault: {', '.join(missing[:10])}"
        if all_missing and spec.target.deletion_policy == vs.DELETE:
            kube = self.controller.kube
            existing = kube.get_secret(spec.namespace, spec.target.name)
            if existing is not None and _ours(existing, (body.get("metadata") or {}).get("uid"), spec):
                kube.delete_secret(spec.namespace, spec.target.name)
                message += f"; deleted Secret {spec.target.name} (deletionPolicy Delete)"
                return Sync(Result(False, NOT_FOUND, message, True), {"dataHash": None}, retry=True)
        return Sync(Result(False, NOT_FOUND, message + "; the existing Secret is kept"), retry=True)

    def rollout_restart(self, kind_of: str, namespace: str, owner: str, targets: tuple[tuple[str, str], ...],
                        now: str) -> str:
        """Patch the pod template annotation of each target (as `kubectl rollout restart` does). A missing
        workload is logged, not an error: the Secret is already written."""
        if not targets:
            return ""
        patch = {"spec": {"template": {"metadata": {"annotations": {vs.RESTARTED_AT_ANNOTATION: now}}}}}
        done = []
        for kind, name in targets:
            try:
                self.controller.kube.patch_workload(kind, namespace, name, patch)
                done.append(f"{kind} {name}")
            except Exception as e:
                log.warning("%s %s/%s: could not restart %s %s (%s)", kind_of, namespace, owner, kind, name,
                            getattr(e, "status", None) or type(e).__name__)
        return ", ".join(done)


def _ours(existing: Mapping[str, Any], uid: str | None, spec: vs.VaultSecretSpec) -> bool:
    """Ours to delete: controlled by this VaultSecret, or (Orphan) marked by us and controlled by nothing else
    (our label alone is also on every Secret another sealer object produces)."""
    meta = existing.get("metadata") or {}
    if any(r.get("uid") == uid and r.get("controller") for r in meta.get("ownerReferences") or []):
        return True
    return (spec.target.creation_policy == vs.ORPHAN and secrets.other_controller(existing, uid, None) is None
            and secrets.produced_mark(existing))
