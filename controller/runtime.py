"""The controller's state and the reconcile steps that touch the API. Handlers call these; decisions are made by
the pure modules (`keyring`, `sealed`, `secrets`)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller import keyring as kr
from controller import sealed, secrets
from controller.kube import Kube

log = logging.getLogger("sealer.controller")

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")


def parse_duration(text: str) -> dt.timedelta:
    """`30d`, `12h`, `90s`, `0` (off) — the forms Kubernetes users write."""
    if text.strip() == "0":
        return dt.timedelta(0)
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30d, 12h, 15m, 90s)")
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": dt.timedelta(milliseconds=n), "s": dt.timedelta(seconds=n), "m": dt.timedelta(minutes=n),
            "h": dt.timedelta(hours=n), "d": dt.timedelta(days=n)}[unit]


@dataclass
class Config:
    namespace: str = field(default_factory=lambda: os.environ.get("POD_NAMESPACE") or "sealer-system")
    import_bitnami_keys: bool = False
    bitnami_compat: bool = False
    key_renew_period: dt.timedelta = dt.timedelta(days=30)
    resync_period: dt.timedelta = dt.timedelta(minutes=10)
    key_bits: int = 4096
    http_host: str = "0.0.0.0"  # noqa: S104 - a pod serves its probes and cert on its own IP
    http_port: int = 8080


ACTIVE_CONFIG: Config | None = None  # set by __main__ before `controller.handlers` is imported


def condition(ready: bool, reason: str, message: str, generation: int | None) -> dict[str, Any]:
    return {"type": "Ready", "status": "True" if ready else "False", "reason": reason, "message": message,
            "lastTransitionTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "observedGeneration": generation}


@dataclass
class Result:
    ready: bool
    reason: str
    message: str
    changed: bool = False


class Controller:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.keyring = kr.Keyring()
        self._kube: Kube | None = None
        self._stop = threading.Event()

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube()
        return self._kube

    # --- keys -----------------------------------------------------------------------------------------

    def load_keys(self) -> None:
        ns = self.config.namespace
        found = self.kube.list_secrets(ns, f"{kr.LABEL}={kr.ACTIVE}")
        if self.config.import_bitnami_keys:
            found += self.kube.list_secrets(ns, f"{kr.BITNAMI_LABEL}={kr.ACTIVE}")
        for obj in found:
            note = self.keyring.sync(obj, self.config.import_bitnami_keys)
            if note:
                log.info(note)
        if self.keyring.needs_renewal(self.config.key_renew_period):
            self.create_key("no sealing key" if not len(self.keyring) else "renewal period elapsed")
        self.publish_certs()

    def create_key(self, why: str) -> None:
        body = kr.new_key_secret(self.config.namespace, self.config.key_bits)
        created = self.kube.create_secret(self.config.namespace, body)
        key = self.keyring.put(created)
        log.info("generated sealing key %s (%s): %s", key.name, key.fingerprint[:16], why)

    def publish_certs(self) -> None:
        self.kube.apply_configmap(self.config.namespace, kr.certs_configmap(self.config.namespace, self.keyring))

    def on_key_event(self, event_type: str, body: Mapping[str, Any]) -> None:
        note = self.keyring.sync(body, self.config.import_bitnami_keys, deleted=event_type == "DELETED")
        if note:
            log.info(note)
            self.publish_certs()

    def renewal_loop(self) -> None:
        """Runs in a thread: renew when the newest key is older than the period (checked every minute)."""
        period = self.config.key_renew_period
        if period.total_seconds() <= 0:
            return
        interval = max(0.5, min(60.0, period.total_seconds() / 4))
        while not self._stop.wait(interval):
            try:
                if self.keyring.needs_renewal(period):
                    self.create_key("renewal period elapsed")
                    self.publish_certs()
            except Exception as e:  # keep renewing later; never crash the controller on an API hiccup
                log.warning("key renewal failed: %s", type(e).__name__)

    def stop(self) -> None:
        self._stop.set()

    # --- SealedSecrets --------------------------------------------------------------------------------

    def reconcile_sealed(self, body: Mapping[str, Any]) -> Result:
        outcome = sealed.desired(body, self.keyring.private_keys())
        if not outcome.ready or outcome.secret is None:
            return Result(False, outcome.reason, outcome.message)
        meta = outcome.secret["metadata"]
        existing = self.kube.get_secret(meta["namespace"], meta["name"])
        step = secrets.plan(existing, outcome.secret, (body.get("metadata") or {}).get("uid"))
        if step.action == secrets.REFUSE:
            return Result(False, step.reason, step.message)
        if step.action == secrets.CREATE:
            self.kube.create_secret(meta["namespace"], step.body or {})
        elif step.action == secrets.UPDATE:
            self.kube.patch_secret(meta["namespace"], meta["name"], step.body or {})
        changed = step.action != secrets.NOOP
        return Result(True, outcome.reason, step.message if changed else outcome.message, changed)

    def owner_of(self, secret: Mapping[str, Any], kinds: tuple[str, ...] = ("SealedSecret",)) -> dict | None:
        meta = secret.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") in kinds and ref.get("controller"):
                plural = "sealedsecrets"
                return self.kube.get_object(ref["apiVersion"], plural, meta.get("namespace"), ref["name"])
        return None

    def restore_drift(self, event_type: str, secret: Mapping[str, Any],
                      notify: Callable[[Mapping[str, Any], str, str], None]) -> bool:
        """A produced Secret was edited or deleted by hand: put it back from its SealedSecret."""
        owner = self.owner_of(secret)
        if owner is None or (owner.get("metadata") or {}).get("deletionTimestamp"):
            return False
        result = self.reconcile_sealed(owner)
        if result.changed:
            what = "deleted" if event_type == "DELETED" else "edited"
            notify(owner, "Restored", f"the Secret was {what} by hand; restored it from the SealedSecret")
        return result.changed
