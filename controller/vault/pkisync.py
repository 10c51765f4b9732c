"""The VaultPKISecret runtime: issue a certificate through the store's shared client, write the tls Secret through
`secrets.write`, renew when due, restart workloads after a renewal, revoke on deletion when asked.

A restart or a resync issues nothing while the Secret still holds the certificate the status names (same serial,
same keyed HMAC of its items, same spec) and its renewal time has not come. Decisions are in `vault.pki`.

One writer per object: only the scheduler issues. Our own write of the Secret comes back on the produced-Secret
watch before the status that names the new certificate is written; the drift check then compares the Secret with
what this process last issued (`_issued`, under the object's lock), not with the older status, and a Secret that
really changed by hand wakes the scheduler, whose sync issues and records the new serial in status. (Issuing from
the drift check itself issued a second certificate on every renewal whenever the echo won the race, and left the
status naming a certificate the Secret no longer held: the one a deletion with `revoke: true` then revoked.)
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from controller import secrets
from controller.objectlocks import ObjectLocks
from controller.runtime import Result
from controller.vault import pki
from controller.vault import spec as vs
from controller.vault.cleanup import STORE_GONE, Cleanup, Skipped
from controller.vault.client import VaultError
from controller.vault.fields import SpecError
from controller.vault.scheduler import Kind, in_thread
from controller.vault.sync import Sync, VaultSync, now_rfc3339
from sealer.io.manifests import secret_items
from sealer.kube import API_VERSION

log = logging.getLogger("sealer.controller.vault")

MIN_DELAY = 1.0


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _spec_hash(spec: pki.PkiSpec) -> str:
    """What the certificate was issued for: a change of any of these issues a new one."""
    return hashlib.sha256(repr((spec.store_kind, spec.store_name, spec.mount, spec.role, spec.issue_body(),
                                spec.secret_name)).encode()).hexdigest()[:16]


class Record(NamedTuple):
    """What a certificate was issued for and what its Secret holds: the status fields that name it."""

    spec_hash: str
    data_hash: str
    serial: str

    @classmethod
    def of(cls, status: Mapping[str, Any]) -> Record | None:
        found = cls(*(str(status.get(k) or "") for k in ("specHash", "dataHash", "serialNumber")))
        return found if all(found) else None


class PkiSync:
    def __init__(self, vault: VaultSync) -> None:
        self.vault = vault
        self.scheduler: Any = None  # controller.vault.scheduler.Scheduler of the operator run, while it runs
        self._lock = threading.Lock()  # guards _issued
        self._objects = ObjectLocks()  # a sync and a drift check of one object take turns
        self._issued: dict[str, Record] = {}  # uid -> what this process last wrote to its Secret

    def forget(self, uid: str) -> None:
        with self._lock:
            self._issued.pop(uid, None)

    # --- one sync -----------------------------------------------------------------------------------------

    def reconcile(self, body: Mapping[str, Any]) -> Result:
        """Drift restoration (`Source`): a Secret that no longer holds the issued certificate wakes the scheduler,
        which issues a new one (and says so in an Event); the echo of our own write costs one Secret read."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        try:
            spec = pki.parse_pki_secret(body)
            with self._objects.hold(uid):
                current = self._current(body, spec)
        except Exception:  # SpecError, an API hiccup: the scheduler's sync reports it
            current = None
        if current is None:
            self.wake(uid)
            return Result(True, "Valid", "the Secret changed: a new certificate is due")
        return Result(True, "Valid", f"certificate {current[1].serial} valid")

    def _current(self, body: Mapping[str, Any], spec: pki.PkiSpec) -> tuple[float, Record] | None:
        """(renewal time, what it holds) when the Secret still holds the certificate last issued for this spec: as
        this process wrote it or as the status says (another replica may have issued since), else None."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        spec_hash = _spec_hash(spec)
        with self._lock:
            wanted = {r for r in (self._issued.get(uid), Record.of(body.get("status") or {}))
                      if r is not None and r.spec_hash == spec_hash}
        if not wanted:
            return None
        secret = self.vault.controller.kube.get_secret(spec.namespace, spec.secret_name)
        if secret is None:
            return None
        if not any(r.get("uid") == uid for r in (secret.get("metadata") or {}).get("ownerReferences") or []):
            return None
        found = pki.serial_of(secret)
        if found is None:
            return None
        holds = Record(spec_hash, vs.data_hmac(self.vault.hmac_key(), secret_items(secret)), found[0])
        if holds not in wanted:
            return None
        return pki.renew_at(found[1], found[2], spec.expiry_offset), holds

    def sync(self, body: Mapping[str, Any]) -> Sync:
        """The scheduler's sync of one object (never two of one object at once; the lock keeps the drift check
        out while a certificate is being written)."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        try:
            spec = pki.parse_pki_secret(body)
            with self._objects.hold(uid):
                current = self._current(body, spec)
                now = time.time()
                if current is not None and now < current[0]:
                    renew, holds = current
                    st = {} if holds == Record.of(body.get("status") or {}) else {  # a status write lost after an issue
                        "serialNumber": holds.serial, "specHash": holds.spec_hash, "dataHash": holds.data_hash,
                        "renewTime": _rfc3339(renew)}
                    return Sync(Result(True, "Valid", f"certificate {holds.serial} valid; renewal at "
                                                      f"{_rfc3339(renew)}"), st, refresh_seconds=renew - now)
                return self._issue(body, spec, renewal=current is not None or bool((body.get("status") or {}).get(
                    "serialNumber")))
        except VaultError as e:
            return Sync(Result(False, e.reason, e.message), retry=True)
        except SpecError as e:
            return Sync(Result(False, "InvalidSpec", str(e)))
        except Exception as e:  # an API hiccup: report it, retry later
            log.warning("VaultPKISecret sync failed: %s", type(e).__name__)
            why = getattr(e, "status", None) or type(e).__name__
            return Sync(Result(False, "ApiError", f"Kubernetes API error ({why})"), retry=True)

    def _issue(self, body: Mapping[str, Any], spec: pki.PkiSpec, *, renewal: bool) -> Sync:
        client = self.vault.client_for(spec.namespace, spec.store_kind, spec.store_name)
        answer = client.write(f"{spec.mount}/issue/{spec.role}", spec.issue_body(), "issue")
        try:
            cert = pki.issued(answer)
        except ValueError:
            raise VaultError("VaultUnavailable", f"issue {spec.mount}/{spec.role}: unexpected answer from Vault "
                                                 f"({client.store.ref})") from None
        items = cert.items()
        spec_hash, data_hash = _spec_hash(spec), vs.data_hmac(self.vault.hmac_key(), items)
        done = secrets.write(self.vault.controller.kube, pki.desired_secret(body, spec, items), body)
        if done.refused:
            return Sync(Result(False, done.plan.reason, done.plan.message), retry=True)
        with self._lock:
            self._issued[str((body.get("metadata") or {}).get("uid") or "")] = Record(spec_hash, data_hash,
                                                                                      cert.serial_number)
        renew = pki.renew_at(cert.not_before, cert.not_after, spec.expiry_offset)
        message = f"issued certificate {cert.serial_number} (valid until {_rfc3339(cert.not_after)})"
        if renewal and spec.rollout_restart:
            restarted = self.vault.rollout_restart("VaultPKISecret", spec.namespace, spec.name, spec.rollout_restart,
                                                   now_rfc3339())
            if restarted:
                message += f"; restarted {restarted}"
        st = {"serialNumber": cert.serial_number, "notAfter": _rfc3339(cert.not_after),
              "renewTime": _rfc3339(renew), "lastIssued": now_rfc3339(), "specHash": spec_hash,
              "dataHash": data_hash}
        return Sync(Result(True, "Renewed" if renewal else "Issued", message, True), st,
                    refresh_seconds=max(MIN_DELAY, renew - time.time()))

    def revoke(self, body: Mapping[str, Any]) -> str | None:
        """On deletion with `revoke: true`: revoke the certificate the status names. Raises to be retried, or
        `Skipped` when its store is gone."""
        serial = (body.get("status") or {}).get("serialNumber")
        if not serial:
            return "no certificate issued, none to revoke"
        spec = pki.parse_pki_secret(body)
        try:
            client = self.vault.client_for(spec.namespace, spec.store_kind, spec.store_name)
        except VaultError as e:
            if e.reason in STORE_GONE:  # deleted with the namespace, most often: no retry brings it back
                raise Skipped(f"certificate {serial} not revoked: {e.message}") from None
            raise
        client.write(f"{spec.mount}/revoke", {"serial_number": serial}, "revoke")
        log.info("VaultPKISecret %s/%s: revoked certificate %s", spec.namespace, spec.name, serial)
        return None

    # --- on the scheduler ---------------------------------------------------------------------------------

    def wake(self, uid: str | None) -> None:
        """Sync the VaultPKISecret now (from any thread)."""
        scheduler = self.scheduler
        if scheduler is not None:
            scheduler.wake(uid)

    def kind(self, refresher: Any) -> Kind:
        """VaultPKISecrets for the scheduler: each checked when the controller starts (a valid certificate is kept,
        not issued again), then due at its renewal time, or after the backoff of a failed sync. With `revoke: true`,
        its certificate is revoked before it goes (the scheduler's finalizer)."""

        return Kind("VaultPKISecret", API_VERSION, "vaultpkisecrets", sync=in_thread(refresher, self.sync),
                    spread=False, forget=self.forget,
                    cleanup=Cleanup(lambda body: bool((body.get("spec") or {}).get("revoke")), self.revoke,
                                    "revocation"))
