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

from controller import agekeys, sealed, secrets, sopssecret
from controller import keyring as kr
from controller.kube import Kube
from sealer.errors import InputError

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
    allow_unscoped_sops: bool = False  # SopsSecrets without spec.binding (written before scopes) are refused
    namespaces: tuple[str, ...] = ()  # --namespaces: serve only these (and read `namespace`); () = every namespace
    label_selector: str = ""  # --label-selector for SealedSecrets, SopsSecrets, VaultSecrets; "" = every object


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
    warning: bool = False  # ready, but worth a Warning Event (see sealed.Outcome.warning)


@dataclass(frozen=True)
class Source:
    """A kind whose objects produce Secrets: how to find its objects and how to reconcile one. Drift restoration
    goes through here, so a hand-edited Secret is put back by whichever kind owns it."""

    kind: str
    plural: str
    reconcile: Callable[[Mapping[str, Any]], Result]
    groups: tuple[str, ...] = ("sealer.dev",)


class Controller:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.keyring = kr.Keyring()
        self.age = agekeys.AgeRing()
        self._kube: Kube | None = None
        self._stop = threading.Event()
        self.sources: dict[str, Source] = {}
        self.register_source(Source("SealedSecret", "sealedsecrets", self.reconcile_sealed,
                                    ("sealer.dev", "bitnami.com")))
        self.register_source(Source("SopsSecret", "sopssecrets", self.reconcile_sops))

    def register_source(self, source: Source) -> None:
        self.sources[source.kind] = source

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
        name = kr.next_key_name(self.keyring)
        body = kr.new_key_secret(self.config.namespace, self.config.key_bits, name=name)
        created = self.kube.create_secret_if_absent(self.config.namespace, body)
        if created is None:  # another replica made this generation first: use theirs
            created = self.kube.get_secret(self.config.namespace, name)
            if created is None:
                raise RuntimeError(f"key Secret {name} vanished after a create conflict")
            log.info("sealing key %s was generated by another replica", name)
        key = self.keyring.put(created)
        log.info("sealing key %s (%s): %s", key.name, key.fingerprint[:16], why)

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
        return self.write(sealed.desired(body, self.keyring.private_keys()), body)

    # --- SopsSecrets ----------------------------------------------------------------------------------

    def load_age_identities(self) -> None:
        for obj in self.kube.list_secrets(self.config.namespace, None):
            if agekeys.holds_identities(obj):
                for note in self.age.sync(obj):
                    log.info(note)

    def on_age_event(self, event_type: str, body: Mapping[str, Any]) -> None:
        for note in self.age.sync(body, deleted=event_type == "DELETED"):
            log.info(note)

    def reconcile_sops(self, body: Mapping[str, Any]) -> Result:
        namespace = (body.get("metadata") or {}).get("namespace") or ""
        try:
            ref = sopssecret.decryption_secret(body)
        except InputError as e:
            return Result(False, "InvalidSpec", str(e))
        own: list[Any] = []
        if ref is not None:  # read from the SopsSecret's own namespace, never another
            found = self.kube.get_secret(namespace, ref)
            if found is None:
                return Result(False, "DecryptionSecretNotFound",
                              f"spec.decryption.secretRef: no Secret {ref} in namespace {namespace}")
            own, notes = agekeys.parse_secret(found)
            for note in notes:
                log.info("%s (spec.decryption of SopsSecret %s)", note, namespace)
        return self.write(sopssecret.desired(body, self.age.identities(), os.environ, own_identities=own,
                                             allow_unscoped=self.config.allow_unscoped_sops), body)

    # --- the one write path for every source ---------------------------------------------------------

    def write(self, outcome: sealed.Outcome, owner: Mapping[str, Any]) -> Result:
        """Make the Secret match a ready outcome (create, update or leave it); a failed one never touches it."""
        if not outcome.ready or outcome.secret is None:
            return Result(False, outcome.reason, outcome.message)
        meta = outcome.secret["metadata"]
        existing = self.kube.get_secret(meta["namespace"], meta["name"])
        step = secrets.plan(existing, outcome.secret, (owner.get("metadata") or {}).get("uid"))
        if step.action == secrets.REFUSE:
            return Result(False, step.reason, step.message)
        if step.action == secrets.CREATE:
            self.kube.create_secret(meta["namespace"], step.body or {})
        elif step.action == secrets.UPDATE:
            self.kube.patch_secret(meta["namespace"], meta["name"], step.body or {})
        changed = step.action != secrets.NOOP
        return Result(True, outcome.reason, step.message if changed else outcome.message, changed, outcome.warning)

    def owner_of(self, secret: Mapping[str, Any]) -> tuple[Source, dict] | None:
        """The live object (and its source) that controls this Secret, if it is one of ours."""
        meta = secret.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            source = self.sources.get(ref.get("kind") or "")
            group = (ref.get("apiVersion") or "").partition("/")[0]
            if source and ref.get("controller") and group in source.groups:
                owner = self.kube.get_object(ref["apiVersion"], source.plural, meta.get("namespace"), ref["name"])
                return (source, owner) if owner is not None else None
        return None

    def restore_drift(self, event_type: str, secret: Mapping[str, Any],
                      notify: Callable[[Mapping[str, Any], str, str], None]) -> bool:
        """A produced Secret was edited or deleted by hand: put it back from the object that owns it."""
        found = self.owner_of(secret)
        if found is None:
            return False
        source, owner = found
        if (owner.get("metadata") or {}).get("deletionTimestamp"):
            return False
        result = source.reconcile(owner)
        if result.changed:
            what = "deleted" if event_type == "DELETED" else "edited"
            notify(owner, "Restored", f"the Secret was {what} by hand; restored it from the {source.kind}")
        return result.changed
