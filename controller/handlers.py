"""kopf registrations only: each handler is a few lines calling the runtime.

Secrets are watched with `kopf.on.event` only: `on.create`/`on.update` would make kopf copy the Secret (with its
data) into a last-handled-configuration annotation.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import kopf

from controller import agekeys, metrics, runtime, served
from controller import keyring as kr
from controller.diffbase import DigestDiffBaseStorage
from controller.runtime import Config, Controller, condition
from controller.sealed import MANAGED_BY, MANAGED_BY_LABEL
from sealer.safetext import printable

GROUP, VERSION = "sealer.dev", "v1alpha1"
log = logging.getLogger("sealer.controller")
CONTROLLER = Controller(runtime.ACTIVE_CONFIG or Config())
# --namespaces, --label-selector: the `when=` filter of every handler of a served kind. kopf is blind to an object
# its filters reject: no handler, no status, no Event, no finalizer, not even its bookkeeping annotation.
SERVED = served.Served.of(CONTROLLER.config)


def _in_scope(namespace: str | None, labels: Any, **_: Any) -> bool:
    return SERVED.serves(namespace, labels)


def _in_served_namespace(namespace: str | None, **_: Any) -> bool:
    return SERVED.serves_namespace(namespace)


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, logger: Any, **_: Any) -> None:
    settings.persistence.finalizer = "sealer.dev/finalizer"
    settings.persistence.diffbase_storage = DigestDiffBaseStorage(prefix="kopf.zalando.org",
                                                                  key="last-handled-configuration")
    settings.posting.level = 20  # INFO and up become Kubernetes Events
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    CONTROLLER.load_keys()
    CONTROLLER.load_age_identities()
    threading.Thread(target=CONTROLLER.renewal_loop, name="key-renewal", daemon=True).start()
    from controller import http

    http.start(CONTROLLER)
    logger.info("sealer controller ready: %d sealing key(s), %d age identities, namespace %s, serving %s",
                len(CONTROLLER.keyring), len(CONTROLLER.age), CONTROLLER.config.namespace, SERVED.describe())


@kopf.on.cleanup()
def cleanup(**_: Any) -> None:
    CONTROLLER.stop()


def set_ready(name: str, result: runtime.Result, body: Any, meta: Any, patch: Any, *, announce: bool) -> None:
    """The Ready condition and its Events, for every kind; messages never carry plaintext. A failure is logged
    and posted as a Warning, but one that repeats unchanged (a resync, a retry with backoff) posts no new Event,
    and the condition keeps its lastTransitionTime, as Kubernetes conventions ask. ``announce``: post an
    informational Event for a success."""
    previous = next((c for c in ((body.get("status") or {}).get("conditions") or []) if c.get("type") == "Ready"), {})
    message = printable(result.message)  # names from objects: no control characters in status, Events or logs
    new = condition(result.ready, result.reason, message, meta.get("generation"))
    if previous.get("status") == new["status"] and previous.get("lastTransitionTime"):
        new["lastTransitionTime"] = previous["lastTransitionTime"]
    repeated = all(previous.get(k) == new[k] for k in ("status", "reason", "message"))
    patch.status["observedGeneration"] = meta.get("generation")
    patch.status["conditions"] = [new]
    if not result.ready:
        log.warning("%s %s/%s: %s: %s", name, meta.get("namespace"), meta.get("name"), result.reason, message)
        if not repeated:
            kopf.warn(body, reason=result.reason, message=message)
    elif result.warning and not repeated:  # ready, with something the owner must fix (an unscoped SopsSecret)
        log.warning("%s %s/%s: %s", name, meta.get("namespace"), meta.get("name"), message)
        kopf.warn(body, reason=result.reason, message=message)
    elif announce:
        kopf.info(body, reason=result.reason, message=message)


def report(kind: str, result: runtime.Result, started: float, body: Any, meta: Any, patch: Any) -> None:
    """One reconcile of any source: metrics, then the condition and Events (a success is announced when it
    changed the Secret)."""
    metrics.observe(kind, result.ready, result.reason, time.monotonic() - started)
    set_ready(kind, result, body, meta, patch, announce=result.changed)


@kopf.on.resume(GROUP, VERSION, "sealedsecrets", when=_in_scope)
@kopf.on.create(GROUP, VERSION, "sealedsecrets", when=_in_scope)
@kopf.on.update(GROUP, VERSION, "sealedsecrets", field="spec", when=_in_scope)
def sealed_secret(body: Any, meta: Any, patch: Any, **_: Any) -> None:
    started = time.monotonic()
    report("SealedSecret", CONTROLLER.reconcile_sealed(body), started, body, meta, patch)


_RESYNC = CONTROLLER.config.resync_period.total_seconds()
GROUPS = [GROUP, "bitnami.com"] if CONTROLLER.config.bitnami_compat else [GROUP]
for _group in GROUPS:
    if _group != GROUP:  # the sealer.dev registrations are the decorators above
        kopf.on.resume(_group, VERSION, "sealedsecrets", when=_in_scope)(sealed_secret)
        kopf.on.create(_group, VERSION, "sealedsecrets", when=_in_scope)(sealed_secret)
        kopf.on.update(_group, VERSION, "sealedsecrets", field="spec", when=_in_scope)(sealed_secret)
    if _RESYNC > 0:
        kopf.timer(_group, VERSION, "sealedsecrets", interval=_RESYNC, initial_delay=_RESYNC, idle=0,
                   when=_in_scope)(sealed_secret)


# --- SopsSecrets ----------------------------------------------------------------------------------------

@kopf.on.resume(GROUP, VERSION, "sopssecrets", when=_in_scope)
@kopf.on.create(GROUP, VERSION, "sopssecrets", when=_in_scope)
@kopf.on.update(GROUP, VERSION, "sopssecrets", when=_in_scope)
def sops_secret(body: Any, meta: Any, patch: Any, **_: Any) -> None:
    started = time.monotonic()
    report("SopsSecret", CONTROLLER.reconcile_sops(body), started, body, meta, patch)


if _RESYNC > 0:
    kopf.timer(GROUP, VERSION, "sopssecrets", interval=_RESYNC, initial_delay=_RESYNC, idle=0, when=_in_scope)(
        sops_secret)


# --- Secrets: produced ones (drift), sealing keys, age identities ----------------------------------------

def _owner_in_scope(secret: Any) -> bool:
    """With --label-selector, drift is undone only for a Secret whose owner this controller serves (another
    controller may serve the other labels)."""
    if SERVED.selector is None:
        return True
    found = CONTROLLER.owner_of(secret)
    return found is not None and SERVED.serves((found[1].get("metadata") or {}).get("namespace"),
                                              (found[1].get("metadata") or {}).get("labels"))


@kopf.on.event("v1", "secrets", labels={MANAGED_BY_LABEL: MANAGED_BY}, when=_in_served_namespace)
def produced_secret(type: str, body: Any, **_: Any) -> None:
    if type in ("MODIFIED", "DELETED") and _owner_in_scope(body):
        CONTROLLER.restore_drift(type, body,
                                 lambda owner, reason, msg: kopf.info(owner, reason=reason, message=printable(msg)))


def _in_controller_namespace(namespace: str | None, **_: Any) -> bool:
    return namespace == CONTROLLER.config.namespace


@kopf.on.event("v1", "secrets", labels={kr.LABEL: kopf.PRESENT}, when=_in_controller_namespace)
def key_secret(type: str, body: Any, **_: Any) -> None:
    if type is not None:
        CONTROLLER.on_key_event(type, body)


@kopf.on.event("v1", "secrets", labels={kr.BITNAMI_LABEL: kopf.PRESENT}, when=_in_controller_namespace)
def bitnami_key_secret(type: str, body: Any, **_: Any) -> None:
    if type is not None and CONTROLLER.config.import_bitnami_keys:
        CONTROLLER.on_key_event(type, body)


def _age_identity_secret(namespace: str | None, body: Any, **_: Any) -> bool:
    return namespace == CONTROLLER.config.namespace and (
        agekeys.holds_identities(body) or CONTROLLER.age.knows(body.get("metadata", {}).get("name", "")))


@kopf.on.event("v1", "secrets", when=_age_identity_secret)
def age_identity_secret(type: str, body: Any, **_: Any) -> None:
    if type is not None:
        CONTROLLER.on_age_event(type, body)


# === VaultSecret, VaultStore, ClusterVaultStore (issue 5, Vault part) =======================================
# One async daemon per VaultSecret runs its refresh loop (sync in a worker thread, status through the API, then
# sleep for refreshInterval, or backoff with jitter after a failure); spec changes and the force-sync annotation
# wake it at once. Stores get status from a login + token lookup, and a timer that renews tokens when due.

import asyncio  # noqa: E402

from controller.vault import spec as vaultspec  # noqa: E402
from controller.vault import sync as vaultsync  # noqa: E402

VAULT = vaultsync.VaultSync(CONTROLLER, retry_min=vaultsync.ACTIVE_OPTIONS.retry_min,
                            retry_max=vaultsync.ACTIVE_OPTIONS.retry_max)
CONTROLLER.register_source(runtime.Source("VaultSecret", "vaultsecrets", VAULT.reconcile))
_VAULT_WAKE: dict[str, asyncio.Event] = {}


def _vault_wake(uid: str | None) -> None:
    event = _VAULT_WAKE.get(uid or "")
    if event is not None:
        event.set()


async def _vault_pause(stopped: Any, wake: asyncio.Event, delay: float | None) -> None:
    """Sleep until the delay is over, the object changed (wake) or the daemon is asked to stop."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()


@kopf.daemon(GROUP, VERSION, "vaultsecrets", cancellation_backoff=2.0, cancellation_timeout=10.0, when=_in_scope)
async def vault_secret_loop(stopped: Any, body: Any, meta: Any, **_: Any) -> None:
    uid = meta.get("uid") or ""
    wake = _VAULT_WAKE.setdefault(uid, asyncio.Event())
    try:
        while not stopped:
            wake.clear()
            started = time.monotonic()
            sync = await asyncio.to_thread(VAULT.sync, body)
            patch = kopf.Patch()
            report("VaultSecret", sync.result, started, body, meta, patch)
            patch.status.update(sync.status)
            await asyncio.to_thread(VAULT.write_status, body, dict(patch.get("status") or {}))
            try:
                refresh = vaultspec.parse_vault_secret(body).refresh_seconds
            except vaultspec.SpecError:
                refresh = None
            delay = VAULT.next_delay(uid, sync, refresh)
            await _vault_pause(stopped, wake, delay)
    finally:
        if _VAULT_WAKE.get(uid) is wake:
            del _VAULT_WAKE[uid]
        VAULT.forget(uid)


@kopf.on.update(GROUP, VERSION, "vaultsecrets", field="spec", when=_in_scope)
@kopf.on.field(GROUP, VERSION, "vaultsecrets", field=("metadata", "annotations", vaultspec.FORCE_SYNC_ANNOTATION),
               when=_in_scope)
async def vault_secret_changed(meta: Any, **_: Any) -> None:
    _vault_wake(meta.get("uid"))


def _store_status(result: runtime.Result, body: Any, meta: Any, patch: Any) -> None:
    was = next((c for c in ((body.get("status") or {}).get("conditions") or []) if c.get("type") == "Ready"), {})
    set_ready(body.get("kind", "VaultStore"), result, body, meta, patch, announce=was.get("status") != "True")


def vault_store(body: Any, meta: Any, patch: Any, **_: Any) -> None:
    VAULT.store_event("MODIFIED", body)
    _store_status(VAULT.check_store(body), body, meta, patch)


def vault_store_timer(body: Any, meta: Any, patch: Any, **_: Any) -> None:
    failing = VAULT.maintain_store(body)
    ready = ((body.get("status") or {}).get("conditions") or [{}])[0].get("status") == "True"
    if failing or not ready:
        _store_status(VAULT.check_store(body), body, meta, patch)


def vault_store_event(type: str | None, body: Any, **_: Any) -> None:
    if type is not None:
        VAULT.store_event(type, body)


for _plural in ("vaultstores", "clustervaultstores"):
    kopf.on.resume(GROUP, VERSION, _plural, when=_in_served_namespace)(vault_store)
    kopf.on.create(GROUP, VERSION, _plural, when=_in_served_namespace)(vault_store)
    kopf.on.update(GROUP, VERSION, _plural, field="spec", when=_in_served_namespace)(vault_store)
    kopf.on.event(GROUP, VERSION, _plural, when=_in_served_namespace)(vault_store_event)
    kopf.timer(GROUP, VERSION, _plural, interval=vaultsync.ACTIVE_OPTIONS.store_check,
               initial_delay=vaultsync.ACTIVE_OPTIONS.store_check, idle=0, when=_in_served_namespace)(vault_store_timer)


@kopf.on.cleanup()
def vault_cleanup(**_: Any) -> None:
    VAULT.shutdown()  # revokes the tokens we logged in for
