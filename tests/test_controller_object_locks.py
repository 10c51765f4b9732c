"""Reconciles of one object take turns: kopf's change handler, a resync pass and a drift restore can all reach the
same SealedSecret at once (the CI race of 2026-12-03), and the later ones must find the Secret the first wrote
unchanged instead of decrypting it again."""

from __future__ import annotations

import threading
from pathlib import Path

from sealer_testkit.apiserver import KubeServer

from controller import metrics
from controller.config import Config
from controller.kube import Kube
from controller.objectlocks import ObjectLocks
from controller.runtime import Controller
from tests.controller_process import NS, published_cert, seal, secret_items


def test_concurrent_reconciles_of_one_sealedsecret_decrypt_it_once(kube: KubeServer, tmp_path: Path) -> None:
    controller = Controller(Config(namespace=NS, key_bits=2048))
    controller._kube = Kube(str(kube.kubeconfig))
    controller.load_keys()
    cert, _ = published_cert(kube, tmp_path)
    body = kube.client.create(seal(tmp_path, cert, "raced", "app", "PLANTED-locks-1"))
    before = metrics.DECRYPT_OPERATIONS.value("SealedSecret")
    start = threading.Barrier(6)
    results = []

    def reconcile() -> None:
        start.wait()
        results.append(controller.reconcile_sealed(body))

    threads = [threading.Thread(target=reconcile) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    controller.stop()
    assert len(results) == 6 and all(r.ready for r in results)
    assert metrics.DECRYPT_OPERATIONS.value("SealedSecret") - before == 2  # two items, opened once
    assert sum(r.changed for r in results) == 1
    assert secret_items(kube, "raced", "app")["password"] == b"PLANTED-locks-1"
    assert len(controller.objects) == 0  # no lock outlives its holders


def test_object_locks_serialise_one_key_and_not_others() -> None:
    locks = ObjectLocks()
    entered = {"same": threading.Event(), "other": threading.Event()}

    def enter(key: str, name: str) -> None:
        with locks.hold(key):
            entered[name].set()

    with locks.hold("ns/a"):
        same = threading.Thread(target=enter, args=("ns/a", "same"))
        other = threading.Thread(target=enter, args=("ns/b", "other"))
        same.start()
        other.start()
        assert entered["other"].wait(10)  # another object is not held up
        assert not entered["same"].wait(0.3)  # the same object waits its turn
    assert entered["same"].wait(10)
    same.join(10)
    other.join(10)
    assert len(locks) == 0
