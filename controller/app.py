"""The operator built from a Config: the controller's state, what it serves, the Vault runtime, and an explicit
kopf registry with every handler. Nothing is built at import time: `build` twice gives two independent apps."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kopf

from controller import agekeys, served
from controller.config import Config
from controller.runtime import Controller, Source
from controller.secretwatch import ProducedSecrets
from controller.shards import Sharding
from controller.vault import loop
from controller.vault.esocompat import ESO_GROUP, EsoCompat
from controller.vault.fanoutsync import FanOut
from controller.vault.pkisync import PkiSync
from controller.vault.refresh import Refresher
from controller.vault.sync import VaultSync

log = logging.getLogger("sealer.controller")
SWITCH_INTERVAL = 0.001  # seconds, see App.start


@dataclass
class App:
    """What the handlers share. The `when=` filters are here: kopf is blind to an object its filters reject (no
    handler, no status, no Event, no finalizer, not even its bookkeeping annotation)."""

    config: Config
    controller: Controller
    served: served.Served  # --namespaces, --label-selector
    vault: VaultSync
    refresher: Refresher
    pki: PkiSync
    eso: EsoCompat
    fanout: FanOut
    sharding: Sharding | None = None  # --shards: the namespaces this replica serves now
    produced_secrets: ProducedSecrets = field(default_factory=ProducedSecrets)  # as the Secret watches saw them
    rerun: threading.Event = field(default_factory=threading.Event)  # this operator run ends for another one
    # kopf peering's answer for work outside kopf's handlers (controller.peering); always active otherwise
    active: Callable[[], bool] = lambda: True
    _on_active: list[Callable[[], None]] = field(default_factory=list)
    _started: bool = False

    def when_active(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` each time this replica becomes the active one (a pass then catches up at once)."""
        self._on_active.append(fn)

    def activated(self) -> None:
        for fn in self._on_active:
            fn()

    def start(self) -> None:
        """At operator start-up (the first run's, with --shards): keys and age identities loaded, key renewal and
        HTTP running."""
        from controller import http

        if self._started:
            return
        self._started = True
        # A thread that wants the GIL waits one switch interval before the holder is asked to let go: at 1 ms
        # (Python's default is 5) /healthz and the API client wait less behind kopf's loop and the handlers.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.controller.load_keys()
        self.controller.load_age_identities()
        # What start-up made (modules, kopf, clients, keys) lives as long as the process: out of the collector's
        # full scans, which hold the GIL (and /healthz) for 100 ms and more during a burst of 1,000 SealedSecrets.
        gc.collect()
        gc.freeze()
        threading.Thread(target=self.controller.renewal_loop, name="key-renewal", daemon=True).start()
        http.start(self.controller)

    def stop(self) -> None:
        """At the operator's end (not between two runs of a shard): keys' loops stop, Vault tokens revoked."""
        if self.rerun.is_set():
            return
        self.controller.stop()
        self.vault.shutdown()  # revokes the tokens we logged in for

    def owns(self, namespace: str | None) -> bool:
        """This replica serves the namespace's shard now (always, without --shards)."""
        return self.sharding is None or self.sharding.owns(namespace)

    def in_scope(self, namespace: str | None, labels: Any, **_: Any) -> bool:
        """A SealedSecret, SopsSecret or VaultSecret this controller serves."""
        return self.served.serves(namespace, labels) and self.owns(namespace)

    def in_served_namespace(self, namespace: str | None, **_: Any) -> bool:
        return self.served.serves_namespace(namespace) and self.owns(namespace)

    def cluster_scoped(self, **_: Any) -> bool:
        """A cluster-scoped object (a ClusterVaultSecret): shard 0's."""
        return self.owns(None)

    def in_controller_namespace(self, namespace: str | None, **_: Any) -> bool:
        return namespace == self.config.namespace

    def holds_age_identities(self, namespace: str | None, body: Any, **_: Any) -> bool:
        """A Secret of the controller's namespace with `.agekey` items, or one that had them."""
        return namespace == self.config.namespace and (
            agekeys.holds_identities(body) or self.controller.age.knows(body.get("metadata", {}).get("name", "")))

    def produced(self, namespace: str | None, body: Any, **_: Any) -> bool:
        """A Secret one of our sources produced, in a served namespace: drift on it is put back. Found by its
        controller ownerReference (a template may set its own managed-by label); bitnami.com owners only with
        --bitnami-compat."""
        return (self.served.serves_namespace(namespace) and self.owns(namespace)
                and self.controller.source_ref(body) is not None)

    def write_status(self, body: Any, plural: str, patch: Any) -> None:
        """Merge-patch the status a loop computed (kopf applies no patch outside its handlers); nothing when the
        status already says it."""
        if patch.get("status"):
            loop.write_status(self.controller.kube, str(body.get("apiVersion")), plural, body, patch["status"])

    def owner_served(self, secret: Any) -> bool:
        """With --label-selector, drift is undone only for a Secret whose owner this controller serves (another
        controller may serve the other labels)."""
        if self.served.selector is None:
            return True
        found = self.controller.owner_of(secret)
        meta = (found[1].get("metadata") or {}) if found is not None else {}
        return found is not None and self.served.serves(meta.get("namespace"), meta.get("labels"))


def build(config: Config) -> App:
    controller = Controller(config)
    vault = VaultSync(controller)
    pki = PkiSync(vault)
    controller.register_source(Source("VaultSecret", "vaultsecrets", vault.reconcile))
    controller.register_source(Source("VaultPKISecret", "vaultpkisecrets", pki.reconcile))
    eso = EsoCompat(vault)
    if config.eso_compat:
        controller.register_source(Source("ExternalSecret", "externalsecrets", eso.reconcile, (ESO_GROUP,)))
    scope = served.Served.of(config)
    fan_out = FanOut(vault, scope.serves_namespace, scope.namespaces)
    sharding = None
    if config.shards > 1:
        sharding = Sharding(config.shards, config.shard_index, config.shard_identity)
    return App(config, controller, scope, vault, Refresher(vault), pki, eso, fan_out, sharding)


def registry(app: App) -> kopf.OperatorRegistry:
    """Every handler, registered with explicit ids (kopf keeps progress under them in annotations)."""
    from controller.handlers import eso, fanout, lifecycle, pki, push, sealed, secrets, sops, stores, vault

    registry = kopf.OperatorRegistry()
    for module in (lifecycle, sealed, sops, secrets, vault, pki, push, fanout, stores, eso):
        module.register(registry, app)
    return registry
