"""What the controller watches and who does the work outside kopf's handlers (issue 19): Secret watches narrowed
in the request (the produced-by label; the controller's own namespace), a watch that reports every change across
a relist, resume/resync passes instead of a task per object, and only kopf peering's active replica doing them."""

from __future__ import annotations

import base64
import datetime as dt
import sys
import threading
import urllib.parse
from pathlib import Path

from sealer_testkit.apiserver import KubeServer, free_port

from controller.peering import leads
from controller.secrets import PRODUCED_LABEL
from controller.secretwatch import SecretWatch
from tests.controller_process import NS, metric, published_cert, seal, secret_items, start_controller, wait_ready


def secret(name: str, namespace: str, value: bytes, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace,
                                                                "labels": labels or {}},
            "data": {"v": base64.b64encode(value).decode()}}


def test_the_secret_watches_select_what_is_ours(kube: KubeServer, tmp_path: Path) -> None:
    kube.client.create(secret("helm-release", "other", b"not ours"))
    proc, _port = start_controller(kube, tmp_path)
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "db", "app", "watched-value"))
    kube.client.wait_for(lambda: secret_items(kube, "db", "app"), timeout=30)
    made = kube.client.get("v1", "Secret", "db", "app")
    assert made["metadata"]["labels"][PRODUCED_LABEL] == "SealedSecret"
    secret_watches = [urllib.parse.urlsplit(path) for method, path in kube.requests()
                      if method == "GET" and "watch=true" in path and path.split("?")[0].endswith("/secrets")]
    assert secret_watches
    for w in secret_watches:
        query = urllib.parse.parse_qs(w.query)
        assert w.path == f"/api/v1/namespaces/{NS}/secrets" or query.get("labelSelector") == [PRODUCED_LABEL], w
    # drift is still seen through the narrowed watch, and so is a new key in the controller's namespace
    kube.client.patch("v1", "Secret", "db", {"data": {"password": base64.b64encode(b"edited").decode()}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "db", "app")["password"] == b"watched-value", timeout=30,
                         message="drift restored")
    proc.stop()
    assert "watched-value" not in proc.log_text()


def test_a_produced_secret_without_the_label_gets_it_back(kube: KubeServer, tmp_path: Path) -> None:
    proc, _port = start_controller(kube, tmp_path, resync_period="1s")
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "old", "app", "unlabelled"))
    kube.client.wait_for(lambda: secret_items(kube, "old", "app"), timeout=30)
    kube.client.patch("v1", "Secret", "old", {"metadata": {"labels": {PRODUCED_LABEL: None}}}, "app")
    kube.client.wait_for(lambda: PRODUCED_LABEL in (kube.client.get("v1", "Secret", "old", "app")["metadata"]
                                                    .get("labels") or {}), timeout=30, message="label put back")
    assert secret_items(kube, "old", "app")["password"] == b"unlabelled"
    proc.stop()


def test_a_watch_reports_every_change_across_a_relist(kube: KubeServer) -> None:
    from controller.kube import Kube

    seen: list[tuple[str, str]] = []
    watch = SecretWatch(Kube(str(kube.kubeconfig)), "app", PRODUCED_LABEL,
                        lambda t, s: seen.append((t, s["metadata"]["name"])), "test")
    for name in ("a", "b", "c"):
        kube.client.create(secret(name, "app", b"1", {PRODUCED_LABEL: "SealedSecret"}))
    kube.client.create(secret("unlabelled", "app", b"1"))
    watch.relist()
    assert sorted(seen) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    seen.clear()
    # while the watch is away (a dropped stream, then 410 Gone): one edited, one deleted, one new, one unlabelled
    kube.client.patch("v1", "Secret", "a", {"data": {"v": base64.b64encode(b"2").decode()}}, "app")
    kube.client.delete("v1", "Secret", "b", "app")
    kube.client.create(secret("d", "app", b"1", {PRODUCED_LABEL: "SopsSecret"}))
    kube.client.patch("v1", "Secret", "c", {"metadata": {"labels": {PRODUCED_LABEL: None}}}, "app")
    version = watch.relist()
    assert sorted(seen) == [("ADDED", "d"), ("DELETED", "b"), ("DELETED", "c"), ("MODIFIED", "a")]
    # and a live watch from the list's version sees the next change as it happens
    seen.clear()
    threading.Thread(target=watch.follow, args=(version,), daemon=True).start()
    kube.client.patch("v1", "Secret", "d", {"data": {"v": base64.b64encode(b"3").decode()}}, "app")
    kube.client.wait_for(lambda: ("MODIFIED", "d") in seen, timeout=10, message="a live event")
    watch.stop()


def test_kopf_peering_rule() -> None:
    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    fresh, stale = "2026-12-03T11:59:50+00:00", "2026-12-03T11:50:00+00:00"
    me = {"priority": 5, "lastseen": fresh, "lifetime": 60}
    assert leads({"me": me, "other": {"priority": 3, "lastseen": fresh, "lifetime": 60}}, "me", 5, now)
    assert not leads({"me": me, "other": {"priority": 9, "lastseen": fresh, "lifetime": 60}}, "me", 5, now)
    assert not leads({"me": me, "other": {"priority": 5, "lastseen": fresh, "lifetime": 60}}, "me", 5, now)
    assert leads({"me": me, "other": {"priority": 9, "lastseen": stale, "lifetime": 60}}, "me", 5, now)


def test_only_the_active_peered_replica_resumes_and_restores(kube: KubeServer, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "controller", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--resync-period", "1s", "--key-renew-period", "0"]
    ports = [free_port(), free_port()]
    procs = [kube.spawn([*argv, "--http-port", str(ports[i])], log=tmp_path / f"replica-{i}.log",
                        env={"POD_NAMESPACE": NS}) for i in range(2)]
    for p in procs:
        p.wait_for_log("sealer controller ready", timeout=60)
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "ha", "app", "peered-value"))
    assert wait_ready(kube, "ha", "app", "True", timeout=60)
    for p in procs:  # a few resync passes
        p.wait_for_log("SealedSecret resync: ", timeout=30, count=3)
    work = [metric(port, "sealer_decrypt_operations_total") + metric(port, "sealer_reconcile_unchanged_total")
            for port in ports]
    assert sorted(w > 0 for w in work) == [False, True], work  # one replica did it all, the other nothing


def test_a_pass_finds_each_object_s_own_secret_only(kube: KubeServer) -> None:
    """The passes' hints are the produced-Secret watch's slim copies: by namespace, name and producing kind; the
    item names without values; a Secret made again under its name is a deletion and an addition."""
    from controller.kube import Kube
    from controller.secretwatch import ProducedSecrets

    seen: list[tuple[str, str]] = []
    watch = SecretWatch(Kube(str(kube.kubeconfig)), None, PRODUCED_LABEL,
                        lambda t, s: seen.append((t, s["metadata"]["name"])), "test")
    index = ProducedSecrets()
    assert not index.wait(0.2)  # no watch yet: a pass goes without hints rather than wait for none
    index.add(watch)
    kube.client.create(secret("x", "a", b"PLANTED-hint-value", {PRODUCED_LABEL: "SealedSecret"}))
    kube.client.create(secret("y", "a", b"1", {PRODUCED_LABEL: "SopsSecret"}))
    kube.client.create(secret("x", "b", b"1", {PRODUCED_LABEL: "SealedSecret"}))
    assert not index.wait(0.2)  # not listed yet
    watch.relist()
    assert index.wait(0.2)
    hint = index.get("a", "x", "SealedSecret")
    assert hint is not None and hint["metadata"]["namespace"] == "a" and hint["data"] == {"v": ""}
    assert index.get("a", "y", "SealedSecret") is None  # another kind's Secret is never the hint
    assert index.get("a", "y", "SopsSecret") is not None and index.get("c", "x", "SealedSecret") is None
    assert index.get("b", "x", "SealedSecret")["metadata"]["namespace"] == "b"
    before = index.get("a", "x", "SealedSecret")["metadata"]["uid"]
    kube.client.delete("v1", "Secret", "x", "a")
    kube.client.create(secret("x", "a", b"2", {PRODUCED_LABEL: "SealedSecret"}))
    seen.clear()
    watch.relist()
    assert seen == [("DELETED", "x"), ("ADDED", "x")]
    assert index.get("a", "x", "SealedSecret")["metadata"]["uid"] != before
    watch.seen("DELETED", kube.client.get("v1", "Secret", "x", "a"))
    assert index.get("a", "x", "SealedSecret") is None


def test_a_relist_reads_secrets_a_page_at_a_time(kube: KubeServer) -> None:
    from controller.kube import Kube

    for i in range(5):
        kube.client.create(secret(f"p{i}", "paged", b"1", {PRODUCED_LABEL: "SealedSecret"}))
    served = len(kube.requests())
    items, version = Kube(str(kube.kubeconfig)).list_secrets_versioned("paged", PRODUCED_LABEL, limit=2)
    first = len(kube.requests()) - served
    names = [s["metadata"]["name"] for s in items]
    assert names == [f"p{i}" for i in range(5)] and version.isdigit()
    lists = [p for m, p in kube.requests()[served:] if "/namespaces/paged/secrets" in p]
    assert first == 1 and len(lists) == 3 and all("limit=2" in p for p in lists)
