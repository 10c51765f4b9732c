"""New and changed SealedSecrets and SopsSecrets through the controller's own watch and work queue, not kopf
(issue 19): kopf keeps no state on them, a restart makes no request per object, a gap in the watch asks for a
pass, and the queue runs each object once at a time with the newest body, retrying failures after a backoff."""

from __future__ import annotations

import threading
import time
import urllib.parse
from pathlib import Path

from sealer_testkit.apiserver import KubeServer

from controller.changes import ObjectWatch, needs_work
from controller.kube import Kube
from controller.workqueue import WorkQueue
from tests.controller_process import metric, published_cert, seal, secret_items, start_controller, wait_ready

SS = ("sealer.dev/v1alpha1", "SealedSecret")


def test_needs_work_is_an_unreported_generation() -> None:
    def obj(generation: int, observed: int | None = None, deleting: bool = False) -> dict:
        meta = {"generation": generation, **({"deletionTimestamp": "2026-12-03T00:00:00Z"} if deleting else {})}
        return {"metadata": meta, **({"status": {"observedGeneration": observed}} if observed else {})}

    assert needs_work(obj(1))  # new: no status
    assert not needs_work(obj(2, 2))  # reported: a status write or a label change
    assert needs_work(obj(3, 2))  # the spec changed since
    assert not needs_work(obj(3, 2, deleting=True))


def test_the_queue_runs_an_object_once_at_a_time_with_its_newest_body() -> None:
    seen: list[tuple[str, int]] = []
    inside: dict[str, int] = {}
    overlap: list[str] = []
    first = threading.Event()
    release = threading.Event()

    def work(body: dict) -> bool:
        key = body["key"]
        inside[key] = inside.get(key, 0) + 1
        if inside[key] > 1:
            overlap.append(key)
        if body["n"] == 0:
            first.set()
            release.wait(10)
        seen.append((key, body["n"]))
        inside[key] -= 1
        return True

    queue = WorkQueue(work, 4, "test")
    queue.start()
    queue.put("a", {"key": "a", "n": 0})
    assert first.wait(10)
    for n in range(1, 6):  # while "a" is being worked on: only the newest waits, and not beside it
        queue.put("a", {"key": "a", "n": n})
    queue.put("b", {"key": "b", "n": 1})
    deadline = time.monotonic() + 10
    while ("b", 1) not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("b", 1) in seen  # another object is not held up
    release.set()
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    queue.stop()
    assert [s for s in seen if s[0] == "a"] == [("a", 0), ("a", 5)] and overlap == []
    assert queue.pending() == 0


def test_a_failure_is_retried_after_a_backoff_unless_a_newer_body_comes() -> None:
    now = [0.0]
    tries: list[int] = []
    done = threading.Event()

    def work(body: dict) -> bool:
        tries.append(body["n"])
        if len(tries) >= 3:
            done.set()
        return body["n"] > 1 or len(tries) >= 3

    queue = WorkQueue(work, 1, "test", backoff=(5.0, 60.0), clock=lambda: now[0])
    queue.start()
    queue.put("a", {"n": 0})
    time.sleep(0.3)
    assert tries == [0] and queue.pending() == 1  # failed: held for a retry, not spun on
    now[0] = 5.1
    queue.put("other", {"n": 9})  # wakes the worker; "a" is due now
    deadline = time.monotonic() + 10
    while len(tries) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(tries[1:]) == [0, 9]
    queue.stop()


def test_an_object_watch_asks_for_a_pass_after_a_gap_and_then_follows(kube: KubeServer) -> None:
    client = Kube(str(kube.kubeconfig))
    seen: list[tuple[str, str]] = []
    gaps: list[int] = []
    watch = ObjectWatch(client, "sealer.dev/v1alpha1", "sealedsecrets", "app",
                        lambda t, o: seen.append((t, o["metadata"]["name"])), lambda: gaps.append(1), "test")
    kube.client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "before", "namespace": "app"},
                        "spec": {"encryptedData": {"v": "AgA="}}})
    watch.start("999999999")  # a version the server does not have: 410 Gone
    kube.client.wait_for(lambda: gaps, timeout=10, message="a pass asked for")
    time.sleep(0.3)
    kube.client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "after", "namespace": "app"},
                        "spec": {"encryptedData": {"v": "AgA="}}})
    kube.client.wait_for(lambda: ("ADDED", "after") in seen, timeout=10, message="a live event")
    watch.stop()
    assert ("ADDED", "before") not in seen  # nothing replayed: the pass covers what came before


def test_kopf_keeps_no_state_on_sealedsecrets_and_a_restart_asks_nothing_per_object(kube: KubeServer,
                                                                                    tmp_path: Path) -> None:
    proc, port = start_controller(kube, tmp_path)
    cert, _ = published_cert(kube, tmp_path)
    names = [f"s{i}" for i in range(4)]
    for name in names:
        kube.client.create(seal(tmp_path, cert, name, "app", f"PLANTED-changes-{name}"))
    for name in names:
        wait_ready(kube, name, "app", "True")
    # a new object's Secret is created, not read first (the GET would answer 404: one call of four saved)
    assert [p for m, p in kube.requests() if m == "GET" and "/namespaces/app/secrets/" in p] == []
    for name in names:
        annotations = kube.client.get(*SS, name, "app")["metadata"].get("annotations") or {}
        assert not any(k.startswith("kopf.zalando.org/") for k in annotations), annotations
    # a label change is not a spec change: no decryption; a spec change is
    decrypted = metric(port, "sealer_decrypt_operations_total")
    kube.client.patch(*SS, "s0", {"metadata": {"labels": {"team": "a"}}}, "app")
    fresh = seal(tmp_path, cert, "s1", "app", "PLANTED-changes-new")
    kube.client.patch(*SS, "s1", {"spec": fresh["spec"]}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "s1", "app")["password"] == b"PLANTED-changes-new", timeout=30)
    assert metric(port, "sealer_decrypt_operations_total") == decrypted + 2
    proc.stop()

    served = len(kube.requests())
    proc, port = start_controller(kube, tmp_path, log_name="controller-2.log")
    proc.wait_for_log("SealedSecret resume: 4 object(s)", timeout=30)
    per_object = [(m, p) for m, p in kube.requests()[served:]
                  if "/sealedsecrets/" in p.split("?")[0] or "/namespaces/app/secrets/" in p.split("?")[0]]
    assert per_object == []  # a list, a watch; no GET, PATCH or status write for any object or its Secret
    # the produced Secrets are listed once, by their watch; the passes find them in what it keeps
    secret_lists = [p for m, p in kube.requests()[served:] if m == "GET" and p.split("?")[0].endswith("/secrets")
                    and "produced-by" in urllib.parse.unquote(p) and "watch=true" not in p]
    assert len(secret_lists) == 1, secret_lists
    assert metric(port, "sealer_decrypt_operations_total") == 0
    proc.stop()


def test_a_waiting_body_drops_what_no_reconcile_reads() -> None:
    from controller import digest
    from controller.changes import waiting

    body = {"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret", "spec": {"encryptedData": {"a": "AgA="}},
            "metadata": {"name": "x", "namespace": "app", "uid": "u", "managedFields": [{"manager": "kubectl"}],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}",
                                         "kubecfg.ksonnet.io/last-applied-configuration": "{...}",
                                         "sealedsecrets.bitnami.com/cluster-wide": "true"}}}
    slim = waiting(body)
    assert "managedFields" not in slim["metadata"]
    assert slim["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/cluster-wide": "true",
                                               "kubecfg.ksonnet.io/last-applied-configuration": "{...}"}
    assert digest.source_digest(slim) == digest.source_digest(body)  # the same source for the unchanged check
    assert "managedFields" in body["metadata"]  # the event's own body is left as it was


def test_a_pass_forgets_the_condition_series_of_sealed_secrets_it_no_longer_finds(kube: KubeServer) -> None:
    """A SealedSecret deleted while the watch had a gap sends no DELETED: the catch-up pass is what notices it,
    and its `sealed_secrets_controller_condition_info` series goes (an alert on -1 would fire for ever). A series
    that appears while the pass runs (an object the watch handled meanwhile) is not the pass's to judge."""
    from types import SimpleNamespace

    from controller import metrics
    from controller.runtime import Result
    from controller.sweep import Sweeper

    kube.client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "kept", "namespace": "app"},
                        "spec": {"encryptedData": {}}})
    failed = [{"type": "Synced", "status": "False"}]
    metrics.observe_conditions("app", "kept", failed)
    metrics.observe_conditions("app", "gone-unseen", failed)

    def reconcile(body: dict, hint: object) -> Result:
        metrics.observe_conditions("app", "born-meanwhile", failed)  # the watch's work during the pass
        return Result(False, "UnsealFailed", "no key could decrypt it")

    produced = SimpleNamespace(wait=lambda *_: True, get=lambda *_: None)
    app = SimpleNamespace(controller=SimpleNamespace(kube=Kube(str(kube.kubeconfig))), produced_secrets=produced,
                          served=SimpleNamespace(namespaces=None), in_scope=lambda *_: True, active=lambda: True,
                          when_active=lambda _: None, write_status=lambda *_: None)
    sweeper = Sweeper(app, "SealedSecret", "sealedsecrets", ("sealer.dev",), reconcile, 600)
    try:
        assert sweeper.one_pass("catch-up") == 1
        assert metrics.BITNAMI_CONDITION.value("app", "gone-unseen", "Synced") is None
        assert metrics.BITNAMI_CONDITION.value("app", "kept", "Synced") == -1
        assert metrics.BITNAMI_CONDITION.value("app", "born-meanwhile", "Synced") == -1
    finally:
        for name in ("kept", "gone-unseen", "born-meanwhile"):
            metrics.forget_conditions("app", name)
