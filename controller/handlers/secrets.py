"""Secrets: the ones we produce (drift is put back), sealing keys and age identities in the controller's namespace.

Watched by the controller itself (`controller.secretwatch`), not by kopf: the request selects what is ours (the
produced-by label; the controller's own namespace), where kopf would watch every Secret of the cluster and keep a
record of each. The watches start once, at the first operator run, and outlive shard changes. Drift is restored
on a small pool, so one slow reconcile does not hold up the watch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from controller import keyring, status
from controller.app import App
from controller.secrets import PRODUCED_LABEL
from controller.secretwatch import SecretWatch

DRIFT_WORKERS = 4


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    controller = app.controller
    post = status.api_poster(lambda: controller.kube)
    watches: list[SecretWatch] = []
    drift = ThreadPoolExecutor(DRIFT_WORKERS, thread_name_prefix="drift")

    def notify(owner: Any, reason: str, message: str) -> None:
        post(owner, "Normal", reason, message)

    def restore(event_type: str, secret: Any) -> None:
        if not app.owner_served(secret):
            return
        done = controller.restore_drift(event_type, secret, notify)
        if done is not None:  # the restored Secret's version: the next resync checks it without the HMACs
            patch = kopf.Patch()
            status.record_version(done.result, done.owner, patch)
            app.write_status(done.owner, done.source.plural, patch)

    def produced(event_type: str, secret: Any) -> None:
        """A produced Secret changed or went (our own create comes as ADDED: nothing to do)."""
        meta = secret.get("metadata") or {}
        if event_type in ("MODIFIED", "DELETED") and app.active() and app.produced(meta.get("namespace"), secret):
            drift.submit(restore, event_type, secret)

    def own_namespace(event_type: str, secret: Any) -> None:
        """Sealing keys (ours, and Bitnami's with --import-bitnami-keys) and age identities."""
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if keyring.LABEL in labels or (keyring.BITNAMI_LABEL in labels and app.config.import_bitnami_keys):
            controller.on_key_event(event_type, secret)
        if app.holds_age_identities(app.config.namespace, secret):
            controller.on_age_event(event_type, secret)

    @kopf.on.startup(id="secret_watches", registry=registry)
    def start(**_: Any) -> None:
        if watches:
            return  # a later operator run (--shards): the watches are running
        watches.append(SecretWatch(controller.kube, app.config.namespace, None, own_namespace, "own-namespace"))
        for ns in app.served.namespaces or (None,):
            watches.append(SecretWatch(controller.kube, ns, PRODUCED_LABEL, produced, f"produced-{ns or 'all'}"))
            app.produced_secrets.add(watches[-1])
        for watch in watches:
            watch.start()

    @kopf.on.cleanup(id="secret_watches_stop", registry=registry)
    def stop(**_: Any) -> None:
        if app.rerun.is_set():
            return
        for watch in watches:
            watch.stop()
        drift.shutdown(wait=False, cancel_futures=True)
