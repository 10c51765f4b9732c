"""The Kubernetes API fixture (`kube` in tests/conftest.py) itself: the emulator's API semantics, the process
helpers, and a real kopf operator run as its own process against it (the shape the controller's tests will take)."""

from __future__ import annotations

import http.client
import json
import sys
import textwrap
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("kmock")
pytest.importorskip("kopf")

from sealer_testkit.apiserver import (
    KubeError,
    KubeServer,
    WaitTimeout,
    parse_label_selector,
    pid_gone,
    spawn,
    wait_for,
)

SS = "sealer.dev/v1alpha1"
REPO = Path(__file__).resolve().parent.parent


def sealed(name: str, namespace: str = "ns1", **spec: object) -> dict:
    return {"apiVersion": SS, "kind": "SealedSecret", "metadata": {"name": name, "namespace": namespace},
            "spec": spec or {"encryptedData": {"a": "QUJD"}}}


# --- the emulator -------------------------------------------------------------------------------------------------


def test_server_discovery_and_kubeconfig(kube: KubeServer) -> None:
    config = json.loads(kube.kubeconfig.read_text())  # JSON is YAML: kopf and the kubernetes client read it
    assert config["clusters"][0]["cluster"]["server"] == kube.url
    assert kube.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(kube.url + "/version", timeout=5) as resp:
        assert json.load(resp)["major"] == "1"
    groups = {g["name"] for g in kube.client.request("GET", "/apis")["groups"]}
    assert {"sealer.dev", "bitnami.com", "kopf.dev", "apps", "apiextensions.k8s.io", "coordination.k8s.io"} <= groups
    core = {r["name"] for r in kube.client.request("GET", "/api/v1")["resources"]}
    assert {"namespaces", "events", "secrets", "configmaps"} <= core
    sealer = {r["name"]: r for r in kube.client.request("GET", "/apis/sealer.dev/v1alpha1")["resources"]}
    assert "sealedsecrets/status" in sealer and "clustervaultstores/status" in sealer
    assert sealer["clustervaultstores"]["namespaced"] is False and sealer["vaultstores"]["namespaced"] is True
    with pytest.raises(KubeError) as e:
        kube.client.request("GET", "/apis/nope.dev/v1/things")
    assert e.value.status == 404


def test_crud_and_server_metadata(kube: KubeServer) -> None:
    c = kube.client
    ss = c.create(sealed("a"))
    meta = ss["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    secret = c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "ns1"},
                       "stringData": {"pw": "hunter2"}})
    assert "generation" not in secret["metadata"]  # core kinds have none
    assert secret["data"] == {"pw": "aHVudGVyMg=="} and "stringData" not in secret  # folded, as the API server does
    assert int(secret["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])  # one cluster-wide counter
    with pytest.raises(KubeError) as e:
        c.create(sealed("a"))
    assert (e.value.status, e.value.reason) == (409, "AlreadyExists")
    assert c.get(SS, "SealedSecret", "a", "ns1")["metadata"]["uid"] == meta["uid"]
    assert [o["metadata"]["name"] for o in c.list(SS, "SealedSecret")] == ["a"]
    assert c.list(SS, "SealedSecret", "other") == []
    patched = c.patch(SS, "SealedSecret", "a", {"metadata": {"labels": {"x": "1"}}}, "ns1")
    assert patched["metadata"]["generation"] == 1  # metadata changes do not bump the generation
    assert c.patch(SS, "SealedSecret", "a", {"spec": {"encryptedData": {"b": "REVG"}}},
                   "ns1")["spec"]["encryptedData"] == {"a": "QUJD", "b": "REVG"}  # merge patch merges maps
    assert c.get(SS, "SealedSecret", "a", "ns1")["metadata"]["generation"] == 2
    c.delete(SS, "SealedSecret", "a", "ns1")
    assert c.find(SS, "SealedSecret", "a", "ns1") is None
    with pytest.raises(KubeError) as e:
        c.get(SS, "SealedSecret", "a", "ns1")
    assert e.value.status == 404
    assert c.delete(SS, "SealedSecret", "a", "ns1", missing_ok=True) is None
    ev = c.create({"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "kopf-event-",
                                                                     "namespace": "ns1"}})
    ev2 = c.create({"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "kopf-event-",
                                                                      "namespace": "ns1"}})
    assert ev["metadata"]["name"].startswith("kopf-event-") and ev["metadata"]["name"] != ev2["metadata"]["name"]
    with pytest.raises(KubeError) as e:
        c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": "ns1"},
                  "data": {"k": "not base64!"}})
    assert e.value.status == 422
    assert kube.server_errors() == []


def test_status_subresource_and_no_op_patches(kube: KubeServer) -> None:
    c = kube.client
    created = c.create({**sealed("s"), "status": {"forged": True}})
    assert "status" not in created  # dropped on create
    rv = created["metadata"]["resourceVersion"]
    main = c.patch(SS, "SealedSecret", "s", {"status": {"forged": True}}, "ns1")
    assert "status" not in main and main["metadata"]["resourceVersion"] == rv  # ignored, and so a no-op
    st = c.patch(SS, "SealedSecret", "s", {"spec": {"x": 1}, "metadata": {"labels": {"l": "1"}},
                                           "status": {"observedGeneration": 1}}, "ns1", subresource="status")
    assert st["status"] == {"observedGeneration": 1} and "x" not in st["spec"] and "labels" not in st["metadata"]
    assert st["metadata"]["generation"] == 1 and int(st["metadata"]["resourceVersion"]) > int(rv)
    again = c.patch(SS, "SealedSecret", "s", {"status": {"observedGeneration": 1}}, "ns1", subresource="status")
    assert again["metadata"]["resourceVersion"] == st["metadata"]["resourceVersion"]
    with pytest.raises(KubeError) as e:  # Secrets have no /status
        c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns1"}})
        c.patch("v1", "Secret", "s", {"status": {}}, "ns1", subresource="status")
    assert e.value.status == 404


def test_the_emulators_own_request_parse_agrees_with_kmocks(kube: KubeServer) -> None:
    """The emulator parses object API requests itself (`Emulator._parsed`, for speed): every field must be what
    kmock's `Request._parse` makes of the same request, for each verb, query, subresource and body shape."""
    import asyncio

    import kmock

    c = kube.client
    c.create(sealed("q"))
    c.list(SS, "SealedSecret", "ns1", label_selector="a=b")
    c.get(SS, "SealedSecret", "q", "ns1")
    c.patch(SS, "SealedSecret", "q", {"status": {"observedGeneration": 1}}, "ns1", subresource="status")
    c.patch(SS, "SealedSecret", "q", [{"op": "add", "path": "/metadata/labels", "value": {"x": "\u00fc"}}], "ns1",
            patch_type="json")
    utf8 = urllib.request.Request(kube.url + f"/apis/{SS}/namespaces/ns1/sealedsecrets/q", method="PATCH",
                                  data='{"metadata": {"annotations": {"a": "\u00fc\u6f22"}}}'.encode(),
                                  headers={"Content-Type": "application/merge-patch+json"})
    urllib.request.urlopen(utf8, timeout=10).close()
    host = urllib.parse.urlsplit(kube.url)
    raw = http.client.HTTPConnection(host.hostname, host.port, timeout=10)  # urllib would capitalise the name
    raw.request("GET", f"/apis/{SS}/namespaces/ns1/sealedsecrets/q", headers={"cookie": "session=abc; theme=dark"})
    raw.getresponse().read()
    raw.close()
    c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "q", "namespace": "ns1"}})
    c.request("GET", "/api/v1/namespaces/ns1/secrets", params={"watch": "true", "timeoutSeconds": "0"})
    c.request("GET", "/api/v1/namespaces")
    c.delete("v1", "Secret", "q", "ns1")
    not_json = urllib.request.Request(kube.url + "/api/v1/namespaces/ns1/secrets", data=b"{not json",
                                      method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(not_json, timeout=10)
    assert e.value.code == 400
    fields = ("id", "method", "url", "params", "headers", "cookies", "body", "text", "data", "action", "resource",
              "namespace", "name", "subresource")
    emulator, loop = kube.emulator, kube._loop
    assert emulator is not None and loop is not None

    async def differences() -> list[tuple[str, list[str]]]:
        out = []
        for ours in list(emulator._requests):
            theirs = await kmock.Request._parse(ours._raw_request, id=ours.id)
            out.append((ours.url.path_qs, [f for f in fields if getattr(ours, f) != getattr(theirs, f)]))
        return out

    compared = asyncio.run_coroutine_threadsafe(differences(), loop).result(10)
    assert len(compared) == 12
    assert [r.cookies for r in emulator._requests if r.cookies] == [{"session": "abc", "theme": "dark"}]
    assert [(path, diff) for path, diff in compared if diff] == []


def test_patch_types_and_conflicts(kube: KubeServer) -> None:
    c = kube.client
    ss = c.create(sealed("p"))
    rv = ss["metadata"]["resourceVersion"]
    with pytest.raises(KubeError) as e:  # kopf's finalizer patches rely on this being 422
        c.patch(SS, "SealedSecret", "p", [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
                                          {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}],
                "ns1", patch_type="json")
    assert e.value.status == 422
    ok = c.patch(SS, "SealedSecret", "p", [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                                           {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}],
                 "ns1", patch_type="json")
    assert ok["metadata"]["finalizers"] == ["f"]
    with pytest.raises(KubeError) as e:
        c.patch(SS, "SealedSecret", "p", {"spec": {}}, "ns1", patch_type="strategic")
    assert e.value.status == 415  # as on a real cluster: no strategic merge for custom resources
    with pytest.raises(KubeError) as e:  # a stale resourceVersion in a merge patch is a precondition
        c.patch(SS, "SealedSecret", "p", {"metadata": {"resourceVersion": rv}, "spec": {"y": 1}}, "ns1")
    assert (e.value.status, e.value.reason) == (409, "Conflict")
    sec = c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "p", "namespace": "ns1", "finalizers": ["a", "b"]}, "data": {"k": "dg=="}})
    smp = c.patch("v1", "Secret", "p", {"metadata": {"finalizers": ["c"]}, "data": {"j": "dw=="}}, "ns1",
                  patch_type="strategic")
    assert smp["metadata"]["finalizers"] == ["c"]  # GOTCHA: lists are replaced, not merged by key
    assert smp["data"] == {"k": "dg==", "j": "dw=="}
    replaced = c.replace({**smp, "metadata": {**smp["metadata"], "finalizers": []}, "data": {"z": "eg=="}})
    assert replaced["data"] == {"z": "eg=="} and replaced["metadata"]["uid"] == sec["metadata"]["uid"]
    with pytest.raises(KubeError) as e:
        c.replace(smp)  # smp carries an old resourceVersion
    assert e.value.status == 409
    c.patch("v1", "Secret", "p", {"immutable": True}, "ns1")
    with pytest.raises(KubeError) as e:
        c.patch("v1", "Secret", "p", {"data": {"z": "eQ=="}}, "ns1")
    assert e.value.status == 422


def test_selectors() -> None:
    sel = parse_label_selector("a=1,b!=2,c in (x, y),d notin (z),e,!f")
    assert all(p({"a": "1", "c": "y", "e": ""}) for p in sel)
    assert not all(p({"a": "1", "c": "y", "e": "", "f": "1"}) for p in sel)
    assert not all(p({"a": "1", "b": "2", "c": "x", "e": ""}) for p in sel)
    with pytest.raises(ValueError):
        parse_label_selector("a in b")


def test_list_selectors(kube: KubeServer) -> None:
    c = kube.client
    for name, labels in (("a", {"app": "x", "tier": "1"}), ("b", {"app": "y"}), ("c", {})):
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "n",
                                                                          "labels": labels}})
    names = lambda **kw: sorted(o["metadata"]["name"] for o in c.list("v1", "ConfigMap", **kw))  # noqa: E731
    assert names(label_selector="app=x") == ["a"]
    assert names(label_selector="app in (x,y),!tier") == ["b"]
    assert names(label_selector="app") == ["a", "b"]
    assert names(field_selector="metadata.name!=a") == ["b", "c"]
    with pytest.raises(KubeError) as e:
        c.list("v1", "ConfigMap", field_selector="spec.x=1")
    assert e.value.status == 400


def test_list_in_etcd_order_and_in_chunks(kube: KubeServer) -> None:
    c = kube.client
    for ns, name in (("b", "x"), ("a", "z"), ("a", "y"), ("c", "a")):
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}})
    path = c.resource("v1", "ConfigMap").path(None)
    keys, token = [], None
    for _ in range(3):  # pages of 2: (a,y) (a,z) | (b,x) (c,a)
        page = c.request("GET", path, params={"limit": "2", **({"continue": token} if token else {})})
        keys += [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert keys == [("a", "y"), ("a", "z"), ("b", "x"), ("c", "a")]
    with pytest.raises(KubeError) as e:
        c.request("GET", path, params={"limit": "2", "continue": "not-a-token"})
    assert e.value.status == 400


def test_finalizers_and_garbage_collection(kube: KubeServer) -> None:
    c = kube.client
    owner = c.create({**sealed("o"), "metadata": {"name": "o", "namespace": "ns1", "finalizers": ["x/y"]}})

    def child(name: str, uid: str) -> dict:
        return c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": name, "namespace": "ns1", "ownerReferences": [
                {"apiVersion": SS, "kind": "SealedSecret", "name": "o", "uid": uid, "controller": True}]}})

    child("owned", owner["metadata"]["uid"])
    c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free", "namespace": "ns1"}})
    deleting = c.delete(SS, "SealedSecret", "o", "ns1")
    assert deleting["metadata"]["deletionTimestamp"]  # held by the finalizer
    assert c.get(SS, "SealedSecret", "o", "ns1")["metadata"]["deletionTimestamp"]
    assert c.find("v1", "Secret", "owned", "ns1") is not None
    c.patch(SS, "SealedSecret", "o", {"metadata": {"finalizers": None}}, "ns1")
    assert c.find(SS, "SealedSecret", "o", "ns1") is None
    assert c.find("v1", "Secret", "owned", "ns1") is None  # collected: its only owner is gone
    assert c.find("v1", "ConfigMap", "free", "ns1") is not None
    c.ensure_namespace("doomed")
    c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "doomed"}})
    c.delete("v1", "Namespace", "doomed")
    assert c.list("v1", "ConfigMap", "doomed") == []


def test_watch_semantics(tmp_path: Path) -> None:
    with KubeServer(tmp_path, bookmark_interval=0.2) as server:
        c = server.client
        first = c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "a", "namespace": "n", "labels": {"keep": "yes"}}})
        initial = c.watch("v1", "ConfigMap", timeout=0.3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [("ADDED", "a")]
        since = first["metadata"]["resourceVersion"]
        results: list[list[dict]] = []
        watcher = threading.Thread(target=lambda: results.append(c.watch(
            "v1", "ConfigMap", "n", timeout=1.5, resource_version=since, label_selector="keep=yes", bookmarks=True)))
        watcher.start()
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "b", "namespace": "n", "labels": {"keep": "yes"}}})
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored", "namespace": "n"}})
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "elsewhere", "namespace": "m",
                                                                          "labels": {"keep": "yes"}}})
        c.patch("v1", "ConfigMap", "a", {"data": {"k": "v"}}, "n")
        c.patch("v1", "ConfigMap", "b", {"metadata": {"labels": {"keep": "no"}}}, "n")  # leaves the selector
        c.delete("v1", "ConfigMap", "a", "n")
        watcher.join(10)
        events = [(e["type"], e["object"]["metadata"].get("name")) for e in results[0]]
        assert [e for e in events if e[0] != "BOOKMARK"] == [
            ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b"), ("DELETED", "a")]  # no replay of "a"
        assert ("BOOKMARK", None) in events
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in results[0]]
        assert rvs == sorted(rvs)
        with pytest.raises(KubeError) as e:
            c.watch("v1", "ConfigMap", label_selector="a in b")
        assert e.value.status == 400


# --- processes --------------------------------------------------------------------------------------------------


def test_spawn_stop_escalates_and_logs(tmp_path: Path) -> None:
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(textwrap.dedent("""
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
        print("KUBECONFIG=" + os.environ["KUBECONFIG"], flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        while True:
            time.sleep(0.05)
    """))
    proc = spawn([sys.executable, str(stubborn)], kubeconfig=tmp_path / "kc", log=tmp_path / "s.log")
    proc.wait_for_log("to stderr")
    assert f"KUBECONFIG={tmp_path / 'kc'}" in proc.log_text()
    assert proc.stop(term_timeout=0.5) == -9  # SIGTERM ignored -> SIGKILL
    assert "ignoring SIGTERM" in proc.log_text()
    assert pid_gone(proc.pid)
    quitter = spawn([sys.executable, "-c", "print('bye')"], kubeconfig=None, log=tmp_path / "q.log")
    with pytest.raises(AssertionError, match="exited"):
        quitter.wait_for_log("never printed", timeout=10)
    assert quitter.stop() == 0 and pid_gone(quitter.pid)
    with pytest.raises(WaitTimeout):
        wait_for(lambda: False, timeout=0.1)


def test_module_runs_standalone(tmp_path: Path) -> None:
    proc = spawn([sys.executable, "-m", "sealer_testkit.apiserver", str(tmp_path)], kubeconfig=None,
                 log=tmp_path / "kube.log", cwd=REPO)
    try:
        text = proc.wait_for_log("kubeconfig:", timeout=20)
        url = text.split("url: ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "/api/v1/namespaces", timeout=5) as resp:
            assert json.load(resp)["items"] == []
    finally:
        assert proc.stop() == 0  # SIGTERM is a clean shutdown
    assert pid_gone(proc.pid)


# --- a kopf operator as its own process -----------------------------------------------------------------------------

OPERATOR = '''
import logging
import kopf
import kubernetes

GVR = ("sealer.dev", "v1alpha1", "sealedsecrets")
LABEL = "sealer.dev/managed"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, logger, **_):
    settings.posting.level = logging.INFO
    settings.persistence.finalizer = "sealer.dev/finalizer"
    kubernetes.config.load_kube_config()
    kubernetes.client.CoreV1Api()  # the first use imports every model (~1 s): not in the first handler


@kopf.on.resume(*GVR)
@kopf.on.create(*GVR)
@kopf.on.update(*GVR)
def reconcile(body, spec, name, namespace, meta, patch, logger, reason, **_):
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": name, "namespace": namespace, "labels": {LABEL: "true"}},
              "data": dict(spec.get("encryptedData", {}))}
    kopf.adopt(secret, owner=body)
    core = kubernetes.client.CoreV1Api()
    try:
        core.create_namespaced_secret(namespace, secret)
        done = "created"
    except kubernetes.client.ApiException as e:
        if e.status != 409:
            raise
        core.patch_namespaced_secret(name, namespace, secret)
        done = "patched"
    patch.status["observedGeneration"] = meta.get("generation")
    patch.status["conditions"] = [{"type": "Ready", "status": "True", "reason": "Unsealed", "message": done}]
    kopf.info(body, reason="Unsealed", message=f"Secret {done}")
    logger.info(f"OP reconcile reason={reason} {namespace}/{name} {done}")


@kopf.on.delete(*GVR)
def gone(name, namespace, logger, **_):
    logger.info(f"OP delete {namespace}/{name}")


@kopf.on.event("v1", "secrets", labels={LABEL: "true"})
def secret_event(type, name, namespace, logger, **_):
    logger.info(f"OP secret-event type={type} {namespace}/{name}")


@kopf.timer(*GVR, interval=0.5)
def tick(name, namespace, logger, **_):
    logger.info(f"OP timer {namespace}/{name}")
'''


def test_kopf_operator_process(kube: KubeServer, tmp_path: Path) -> None:
    script = tmp_path / "op.py"
    script.write_text(OPERATOR)
    argv = [sys.executable, "-m", "kopf", "run", "--all-namespaces", "--standalone", str(script)]
    c = kube.client
    planted = "cGxhbnRlZC1zZWNyZXQtdmFsdWU="  # base64("planted-secret-value")
    c.create(sealed("first", encryptedData={"password": planted}))  # exists before the operator starts
    op = kube.spawn(argv, log=tmp_path / "op1.log")

    secret = c.wait_for(lambda: c.find("v1", "Secret", "first", "ns1"), timeout=30)
    owner = c.get(SS, "SealedSecret", "first", "ns1")
    assert secret["data"] == {"password": planted}
    ref = secret["metadata"]["ownerReferences"][0]
    assert (ref["uid"], ref["kind"], ref["controller"]) == (owner["metadata"]["uid"], "SealedSecret", True)
    ready = c.wait_for(lambda: c.get(SS, "SealedSecret", "first", "ns1").get("status", {}).get("conditions"))
    assert ready[0]["type"] == "Ready" and ready[0]["status"] == "True"
    assert "kopf.zalando.org/last-handled-configuration" in c.get(SS, "SealedSecret", "first", "ns1")[
        "metadata"]["annotations"]  # kopf's diff base (the whole spec: ciphertext here, plaintext on a Secret)
    events = c.wait_for(lambda: c.events("ns1", name="first"))
    assert events[0]["reason"] == "Unsealed" and events[0]["involvedObject"]["uid"] == owner["metadata"]["uid"]
    op.wait_for_log("OP timer ns1/first", count=2)

    # a hand edit (sealer:allow on the next line: a planted value)
    c.patch("v1", "Secret", "first", {"data": {"password": "aGFuZC1lZGl0"}}, "ns1")  # sealer:allow credential
    op.wait_for_log("OP secret-event type=MODIFIED ns1/first")
    c.delete("v1", "Secret", "first", "ns1")
    op.wait_for_log("OP secret-event type=DELETED ns1/first")
    c.patch(SS, "SealedSecret", "first", {"spec": {"encryptedData": {"password": planted, "user": "dQ=="}}}, "ns1")
    c.wait_for(lambda: c.find("v1", "Secret", "first", "ns1"))
    status = c.wait_for(lambda: (s := c.get(SS, "SealedSecret", "first", "ns1")["status"])
                        ["observedGeneration"] == 2 and s)
    assert status["conditions"][0]["message"] == "created"

    rv = c.get("v1", "Secret", "first", "ns1")["metadata"]["resourceVersion"]
    pid1 = op.pid
    assert op.stop() == 0 and pid_gone(pid1)
    op2 = kube.spawn(argv, log=tmp_path / "op2.log")
    op2.wait_for_log("OP reconcile reason=resume ns1/first patched", timeout=30)
    assert "reason=create" not in op2.log_text() and "reason=update" not in op2.log_text()
    assert c.get("v1", "Secret", "first", "ns1")["metadata"]["resourceVersion"] == rv  # the patch was a no-op
    assert len(c.list("v1", "Secret", "ns1")) == 1

    c.create(sealed("second", "ns2"))
    c.wait_for(lambda: c.find("v1", "Secret", "second", "ns2"))
    c.delete(SS, "SealedSecret", "first", "ns1")  # held by kopf's finalizer until on.delete ran
    op2.wait_for_log("OP delete ns1/first")
    c.wait_for(lambda: c.find(SS, "SealedSecret", "first", "ns1") is None)
    assert c.find("v1", "Secret", "first", "ns1") is None  # garbage-collected through the ownerReference
    op2.wait_for_log("OP secret-event type=DELETED ns1/first")

    pid2 = op2.pid
    assert op2.stop() == 0 and pid_gone(pid2)
    for log in (op.log_text(), op2.log_text()):
        assert planted not in log and "planted-secret-value" not in log  # not with kopf's default (INFO) logging
        assert "Traceback" not in log
    assert kube.server_errors() == []


def test_a_watch_of_a_quiet_resource_outlives_the_history_of_busy_ones(tmp_path: Path) -> None:
    """A change wakes only the watches of what it changed. A watch of a quiet resource therefore lags behind the
    busy ones' changes, and that must not read as a gap: when the kept history is let go, only a watch that had
    changes of its own in it is expired (410). Resuming from a version older than the history is still 410."""
    with KubeServer(tmp_path) as server:
        c = server.client
        assert server.emulator is not None
        server.call(lambda: setattr(server.emulator, "history_limit", 10))
        since = c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s0", "namespace": "n"}})[
            "metadata"]["resourceVersion"]
        results: list[list[dict]] = []
        watcher = threading.Thread(target=lambda: results.append(
            c.watch("v1", "Secret", "n", timeout=2.0, resource_version=since)))
        watcher.start()
        c.wait_for(lambda: server.call(lambda: len(server.emulator._watchers)), message="the Secret watch waiting")
        for i in range(30):  # three times the kept history, none of it Secrets
            c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}", "namespace": "n"}})
        c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": "n"}})
        watcher.join(10)
        assert [(e["type"], e["object"]["metadata"].get("name")) for e in results[0]] == [("ADDED", "s1")]
        resumed = c.watch("v1", "ConfigMap", "n", timeout=0.5, resource_version=since)
        assert [(e["type"], e["object"].get("code")) for e in resumed] == [("ERROR", 410)]


@pytest.mark.parametrize("setting,loop", [(None, "uvloop"), ("asyncio", "asyncio")])
def test_the_emulator_process_runs_on_uvloop_unless_told_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    setting: str | None, loop: str) -> None:
    """As its own process (the controller bench's emulator) it serves on uvloop, and answers as on asyncio's loop."""
    pytest.importorskip("uvloop")
    if setting is None:
        monkeypatch.delenv("SEALER_EMULATOR_LOOP", raising=False)
    else:
        monkeypatch.setenv("SEALER_EMULATOR_LOOP", setting)
    from sealer_testkit.apiserver import _process_loop_factory

    factory = _process_loop_factory()
    with KubeServer(tmp_path, loop_factory=factory) as server:
        assert type(server._loop).__module__.partition(".")[0] == loop
        c = server.client
        made = c.create(sealed("s"))
        assert c.get(SS, "SealedSecret", "s", "ns1")["metadata"]["uid"] == made["metadata"]["uid"]
        events = c.watch(SS, "SealedSecret", "ns1", timeout=0.5, resource_version="0")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "s")]
