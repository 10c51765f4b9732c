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


def test_a_stale_new_body_after_its_secret_was_written_decrypts_nothing(kube: KubeServer, tmp_path: Path) -> None:
    """A pass listed the object before its first reconcile wrote the status, and reconciles it after that one
    finished (no contention left): the produced-Secret watch knows the Secret by then, so it is read, found
    unchanged, and nothing is decrypted or created again."""
    from controller.secretwatch import slim

    controller = Controller(Config(namespace=NS, key_bits=2048))
    controller._kube = Kube(str(kube.kubeconfig))
    controller.load_keys()
    cert, _ = published_cert(kube, tmp_path)
    body = kube.client.create(seal(tmp_path, cert, "stale", "app", "PLANTED-locks-2"))
    first = controller.reconcile_sealed(body)
    assert first.ready and first.changed
    before = metrics.DECRYPT_OPERATIONS.value("SealedSecret")
    secret = kube.client.get("v1", "Secret", "stale", "app")
    again = controller.reconcile_sealed(body, slim(secret))  # the body still has no status
    controller.stop()
    assert again.ready and not again.changed
    assert metrics.DECRYPT_OPERATIONS.value("SealedSecret") == before


def test_a_new_sealedsecret_whose_name_is_taken_is_refused_after_the_create_conflict(kube: KubeServer,
                                                                                      tmp_path: Path) -> None:
    """The create comes first for a new object; a Secret of that name that is not ours answers 409, is read, and
    is judged as always: refused, untouched."""
    import base64

    controller = Controller(Config(namespace=NS, key_bits=2048))
    controller._kube = Kube(str(kube.kubeconfig))
    controller.load_keys()
    cert, _ = published_cert(kube, tmp_path)
    theirs = kube.client.create({"apiVersion": "v1", "kind": "Secret",
                                 "metadata": {"name": "taken", "namespace": "app"},
                                 "data": {"password": base64.b64encode(b"theirs").decode()}})
    body = kube.client.create(seal(tmp_path, cert, "taken", "app", "PLANTED-locks-3"))
    result = controller.reconcile_sealed(body)
    controller.stop()
    assert not result.ready and result.reason == "NotOwned"
    after = kube.client.get("v1", "Secret", "taken", "app")
    assert after["data"] == theirs["data"] and not after["metadata"].get("ownerReferences")


def test_a_key_counts_as_shared_while_contended_and_for_a_while_after_its_release() -> None:
    now = [1000.0]
    locks = ObjectLocks(clock=lambda: now[0])
    with locks.hold("ns/a") as shared:
        assert not shared  # first sight
    with locks.hold("ns/a") as shared:
        assert shared  # just reconciled: this body may predate that reconcile's Secret
    with locks.hold("ns/b") as shared:
        assert not shared  # another object is not affected
    now[0] += 61
    with locks.hold("ns/b") as shared:
        assert not shared  # a minute on: no longer recent, even before anything pruned it
    with locks.hold("ns/c"):
        pass
    assert "ns/a" not in locks._released  # forgotten: memory stays a minute's worth
    with locks.hold("ns/a") as shared:
        assert not shared
