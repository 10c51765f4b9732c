"""Bitnami's users switching to the sealer controller (issue 15): the controller process against the API emulator,
started with --bitnami-compat on a "cluster" where Bitnami's controller made Secrets for bitnami.com SealedSecrets.

Checks: Bitnami's Secrets are adopted with byte-identical data; its `managed` / `patch` annotations work as Bitnami's
controller treats them (patch merges data, labels and annotations; patch + managed takes ownership); condition
`Synced` beside `Ready`; Bitnami's metric names on /metrics; a template's managed-by label is kept; no finalizers.
"""

from __future__ import annotations

import base64
import copy
import urllib.request
from pathlib import Path

import pytest
from sealer_testkit.apiserver import SEALER_RESOURCES, KubeServer, Resource

from controller import status
from tests.argocd_health import bitnami_health, sealer_health
from tests.bitnami_cluster import BITNAMI, SEALER, b64, bitnami_secret, wait_synced
from tests.controller_process import published_cert, seal, secret_items, start_controller

PLANT = "PLANTED-bitnami-switch-5c1e"


@pytest.fixture
def bkube(tmp_path: Path):
    with KubeServer(tmp_path / "kube", resources=(*SEALER_RESOURCES, Resource(
            "bitnami.com/v1alpha1", "sealedsecrets", "SealedSecret", namespaced=True, status=True))) as server:
        yield server


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()


def test_switch_from_bitnami(bkube: KubeServer, tmp_path: Path) -> None:
    kube = bkube
    first, _ = start_controller(kube, tmp_path, log_name="first.log")
    cert, _fp = published_cert(kube, tmp_path)
    first.stop()

    # the "cluster" Bitnami's controller leaves behind
    def bitnami_sealed(name: str) -> dict:
        obj = seal(tmp_path, cert, name, "app", PLANT)
        obj["apiVersion"] = BITNAMI[0]
        return obj

    db = kube.client.create(bitnami_sealed("db"))
    kube.client.create(bitnami_secret(db, {"password": b64(PLANT), "user": b64("admin")}, labels={"app": "web"}))
    before = kube.client.get("v1", "Secret", "db", "app")["data"]
    # a template with its own managed-by label
    helm = bitnami_sealed("helm")
    helm["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
    kube.client.create(helm)
    # Secrets of other origin that opt in with Bitnami's annotations: patch alone, and patch + managed
    for name, opt_in in (("patched", {"sealedsecrets.bitnami.com/patch": "true"}),
                              ("owned", {"sealedsecrets.bitnami.com/patch": "true",
                                         "sealedsecrets.bitnami.com/managed": "true"})):
        kube.client.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": name, "namespace": "app", "annotations": opt_in,
                                         "labels": {"keep": "me"}},
                            "data": {"theirs": b64("kept"), "password": b64("old")}})
        kube.client.create(seal(tmp_path, cert, name, "app", PLANT))
    # one that cannot unseal (tampered)
    bad = bitnami_sealed("bad")
    ct = bytearray(base64.b64decode(bad["spec"]["encryptedData"]["password"]))
    ct[-1] ^= 1
    bad["spec"]["encryptedData"]["password"] = base64.b64encode(bytes(ct)).decode()
    kube.client.create(bad)

    proc, port = start_controller(kube, tmp_path, "--bitnami-compat")

    # 1. Bitnami's Secret: same uid semantics as Bitnami (controller ownerReference), data byte-identical
    cond = wait_synced(kube, BITNAMI, "db", "app", "True")
    assert cond["Ready"]["status"] == "True" and {k: cond["Synced"][k] for k in ("status", "reason", "message")} == {
        k: cond["Ready"][k] for k in ("status", "reason", "message")}
    secret = kube.client.get("v1", "Secret", "db", "app")
    assert secret["data"] == before
    assert [r["uid"] for r in secret["metadata"]["ownerReferences"]] == [db["metadata"]["uid"]]

    # 2. the template's managed-by label is kept
    wait_synced(kube, BITNAMI, "helm", "app", "True")
    assert kube.client.get("v1", "Secret", "helm", "app")["metadata"]["labels"][
        "app.kubernetes.io/managed-by"] == "Helm"

    # 3. patch merges items and labels and keeps the rest; patch + managed also takes ownership
    for name in ("patched", "owned"):
        wait_synced(kube, SEALER, name, "app", "True")
        s = kube.client.get("v1", "Secret", name, "app")
        assert secret_items(kube, name, "app") == {"theirs": b"kept", "password": PLANT.encode(), "user": b"admin"}
        assert s["metadata"]["labels"]["keep"] == "me" and s["metadata"]["labels"]["app"] == "web"
        refs = s["metadata"].get("ownerReferences") or []
        owner = kube.client.get(*SEALER, name, "app")
        assert [r["uid"] for r in refs] == ([owner["metadata"]["uid"]] if name == "owned" else [])

    # 4. a failure: Synced=False, and both Argo CD checks say Degraded
    failed = wait_synced(kube, BITNAMI, "bad", "app", "False")
    assert failed["Synced"]["reason"] == "UnsealFailed"
    obj = kube.client.get(*BITNAMI, "bad", "app")
    assert bitnami_health(obj)["status"] == "Degraded" and sealer_health(obj)["status"] == "Degraded"
    ok = kube.client.get(*BITNAMI, "db", "app")
    assert bitnami_health(ok)["status"] == "Healthy" and sealer_health(ok)["status"] == "Healthy"

    # 5. Bitnami's metric names, beside ours
    text = kube.client.wait_for(lambda: (t := scrape(port)) and 'reason="unseal",namespace="app"' in t and t,
                                timeout=30, message="Bitnami metrics")
    assert "# TYPE sealed_secrets_controller_unseal_errors_total counter" in text
    assert 'sealed_secrets_controller_condition_info{namespace="app",name="db",condition="Synced"} 1' in text
    assert 'sealed_secrets_controller_condition_info{namespace="app",name="bad",condition="Synced"} -1' in text
    requests = [ln for ln in text.splitlines() if ln.startswith("sealed_secrets_controller_unseal_requests_total")]
    assert requests and int(requests[0].split()[-1]) >= 5
    assert "sealer_unseal_total" in text

    # 6. resyncs (every 2 s) run without finalizers; a deleted SealedSecret goes at once and its series with it
    proc.wait_for_log("SealedSecret app/bad: UnsealFailed", timeout=30, count=3)
    for api in (BITNAMI, SEALER):
        for o in kube.client.list(*api, "app"):
            assert not o["metadata"].get("finalizers"), o["metadata"]
    kube.client.delete(*BITNAMI, "bad", "app")
    assert kube.client.find(*BITNAMI, "bad", "app") is None
    kube.client.wait_for(lambda: 'name="bad"' not in scrape(port), timeout=30, message="series forgotten")


def test_sealer_dev_object_adopts_bitnamis_secret(bkube: KubeServer, tmp_path: Path) -> None:
    """After `sealer migrate bitnami`, the sealer.dev SealedSecret of the same name adopts the Secret Bitnami's
    controller made (its owner is still the bitnami.com object), data untouched."""
    kube = bkube
    start_controller(kube, tmp_path)
    cert, _fp = published_cert(kube, tmp_path)
    old = seal(tmp_path, cert, "db", "app", PLANT)
    old["apiVersion"] = BITNAMI[0]
    old = kube.client.create(old)  # not served: no --bitnami-compat
    kube.client.create(bitnami_secret(old, {"password": b64(PLANT), "user": b64("admin")}))
    before = kube.client.get("v1", "Secret", "db", "app")["data"]
    new = kube.client.create(seal(tmp_path, cert, "db", "app", PLANT))
    cond = wait_synced(kube, SEALER, "db", "app", "True")
    assert cond["Ready"]["reason"] == "Unsealed"
    secret = kube.client.get("v1", "Secret", "db", "app")
    assert secret["data"] == before
    assert [r["uid"] for r in secret["metadata"]["ownerReferences"]] == [new["metadata"]["uid"]]
    assert any("adopted" in (e.get("message") or "") for e in kube.client.events("app", name="db"))


def test_synced_condition_only_on_sealed_secrets() -> None:
    import kopf

    from controller.runtime import Result
    for kind, want in (("SealedSecret", ["Ready", "Synced"]), ("SopsSecret", ["Ready"]), ("VaultStore", ["Ready"])):
        patch = kopf.Patch()
        status.set_ready(kind, Result(True, "Unsealed", "ok"), {}, {"generation": 1, "name": "x", "namespace": "n"},
                         patch, announce=False)
        assert [c["type"] for c in copy.deepcopy(patch["status"]["conditions"])] == want
