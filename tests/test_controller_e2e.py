"""The controller as its own process (`python -m controller`) against the Kubernetes API emulator.

What the emulator cannot show is tested as pure functions in test_controller_units.py (e.g. resourceVersion
conflicts, garbage collection of Secrets when their SealedSecret is deleted in a real cluster).
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeError, KubeServer, free_port

from controller import keyring as kr
from tests.cli_process import run_sealer
from tests.controller_process import (
    NS,
    SS,
    published_cert,
    ready_condition,
    seal,
    secret_items,
    start_controller,
    wait_ready,
)

PLANT = "PLANTED-e2e-secret-7f3a"


def test_a_restore_records_the_secrets_new_version(kube: KubeServer, tmp_path: Path) -> None:
    """After drift is put back, the source's status.secretResourceVersion is the restored Secret's: the next
    resync then checks the Secret without the HMACs over its data (no resync runs here to record it instead)."""
    start_controller(kube, tmp_path, resync_period="1h")
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "db", "app", PLANT))
    wait_ready(kube, "db", "app", "True")

    def recorded() -> bool:
        version = (kube.client.get(*SS, "db", "app").get("status") or {}).get("secretResourceVersion")
        return version == kube.client.get("v1", "Secret", "db", "app")["metadata"]["resourceVersion"]

    kube.client.wait_for(recorded, timeout=30, message="the created Secret's version in status")
    kube.client.patch("v1", "Secret", "db", {"data": {"password": base64.b64encode(b"hacked").decode()}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "db", "app")["password"] == PLANT.encode(), timeout=30,
                         message="restored after edit")
    kube.client.wait_for(recorded, timeout=30, message="the restored Secret's version in status")


def test_sealed_secret_lifecycle(kube: KubeServer, tmp_path: Path) -> None:
    proc, _ = start_controller(kube, tmp_path)
    cert, _fingerprint = published_cert(kube, tmp_path)
    keys = kube.client.list("v1", "Secret", NS, label_selector=f"{kr.LABEL}={kr.ACTIVE}")
    assert len(keys) == 1 and keys[0]["type"] == "kubernetes.io/tls"

    # 1. sealed with the published cert -> the right Secret, owned by the SealedSecret, Ready=True
    created = kube.client.create(seal(tmp_path, cert, "db", "app", PLANT))
    kube.client.wait_for(lambda: secret_items(kube, "db", "app"), timeout=30, message="Secret app/db")
    assert secret_items(kube, "db", "app") == {"password": PLANT.encode(), "user": b"admin"}
    secret = kube.client.get("v1", "Secret", "db", "app")
    assert secret["metadata"]["labels"]["app"] == "web"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    cond = wait_ready(kube, "db", "app", "True")
    assert cond["reason"] == "Unsealed"

    # 2. strict scope: the same ciphertext in another namespace does not unseal
    moved = seal(tmp_path, cert, "db", "app", PLANT)
    moved["metadata"]["namespace"] = "other"
    kube.client.create(moved)
    first = wait_ready(kube, "db", "other", "False")
    assert first["reason"] == "UnsealFailed"
    assert secret_items(kube, "db", "other") is None
    # the 2 s resync retries it; the unchanged failure posts no new Event and keeps its transition time
    proc.wait_for_log("SealedSecret other/db: UnsealFailed", timeout=30, count=3)
    warnings = [e for e in kube.client.events("other", name="db") if e.get("type") == "Warning"]
    assert len(warnings) == 1, warnings
    assert ready_condition(kube, "db", "other")["lastTransitionTime"] == first["lastTransitionTime"]

    # 3. a hand-edited Secret is restored, and so is a deleted one
    kube.client.patch("v1", "Secret", "db", {"data": {"password": base64.b64encode(b"hacked").decode()}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "db", "app")["password"] == PLANT.encode(), timeout=30,
                         message="restored after edit")
    kube.client.delete("v1", "Secret", "db", "app")
    kube.client.wait_for(lambda: (secret_items(kube, "db", "app") or {}).get("password") == PLANT.encode(),
                         timeout=30, message="restored after delete")
    assert any(e.get("reason") == "Restored" for e in kube.client.events("app", name="db"))

    # 4. a tampered value fails, and the existing good Secret stays as it is
    good = kube.client.get("v1", "Secret", "db", "app")["data"]
    obj = kube.client.get(*SS, "db", "app")
    ct = bytearray(base64.b64decode(obj["spec"]["encryptedData"]["password"]))
    ct[-1] ^= 1
    kube.client.patch(*SS, "db", {"spec": {"encryptedData": {"password": base64.b64encode(bytes(ct)).decode()}}},
                      "app")
    assert wait_ready(kube, "db", "app", "False")["reason"] == "UnsealFailed"
    assert "password" in ready_condition(kube, "db", "app")["message"]
    assert kube.client.get("v1", "Secret", "db", "app")["data"] == good

    # 5. planted plaintext never reaches logs, events or status
    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*SS))
    assert PLANT not in everything and base64.b64encode(PLANT.encode()).decode() not in everything
    assert not kube.server_errors()


def test_key_renewal_and_restart(kube: KubeServer, tmp_path: Path) -> None:
    proc, _ = start_controller(kube, tmp_path)
    old_cert, old_fp = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, old_cert, "one", "app", "first"))
    kube.client.wait_for(lambda: secret_items(kube, "one", "app"), timeout=30)

    # a new key appears while running (what renewal does): picked up without a restart, becomes the sealing key
    kube.client.create(kr.new_key_secret(NS, bits=2048))
    new_cert, new_fp = published_cert(kube, tmp_path, fingerprint_not=old_fp)
    assert new_fp != old_fp
    kube.client.create(seal(tmp_path, new_cert, "two", "app", "second"))
    kube.client.wait_for(lambda: secret_items(kube, "two", "app"), timeout=30)
    assert secret_items(kube, "one", "app")["password"] == b"first"  # old key still opens old ones

    # stop; a SealedSecret created while the controller is down is handled after restart, nothing duplicated
    proc.stop()
    kube.client.create(seal(tmp_path, new_cert, "three", "app", "third"))
    start_controller(kube, tmp_path, log_name="controller-2.log")
    kube.client.wait_for(lambda: secret_items(kube, "three", "app"), timeout=30)
    secrets = kube.client.list("v1", "Secret", "app")
    assert sorted(s["metadata"]["name"] for s in secrets) == ["one", "three", "two"]
    assert len(kube.client.list("v1", "Secret", NS, label_selector=f"{kr.LABEL}={kr.ACTIVE}")) == 2


@pytest.mark.parametrize("endpoint", ["healthz", "cert", "verify", "metrics"])
def test_http_endpoints(kube: KubeServer, tmp_path: Path, endpoint: str) -> None:
    import urllib.error
    import urllib.request

    _, port = start_controller(kube, tmp_path)
    base = f"http://127.0.0.1:{port}"
    cert, _fp = published_cert(kube, tmp_path)
    if endpoint == "healthz":
        assert urllib.request.urlopen(f"{base}/healthz", timeout=10).status == 200
    elif endpoint == "cert":
        assert urllib.request.urlopen(f"{base}/v1/cert.pem", timeout=10).read().decode() == cert.read_text()
    elif endpoint == "verify":
        body = yaml.safe_dump(seal(tmp_path, cert, "v", "app", "x")).encode()
        assert urllib.request.urlopen(urllib.request.Request(f"{base}/v1/verify", body), timeout=10).status == 200
        other = seal(tmp_path, cert, "v", "app", "x")
        other["metadata"]["name"] = "renamed"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(f"{base}/v1/verify", yaml.safe_dump(other).encode()),
                                   timeout=10)
        assert e.value.code == 409
    else:
        kube.client.create(seal(tmp_path, cert, "m-ok", "app", "x"))
        moved = seal(tmp_path, cert, "m-bad", "app", "x")
        moved["metadata"]["namespace"] = "other"
        kube.client.ensure_namespace("other")
        kube.client.create(moved)
        wait_ready(kube, "m-ok", "app", "True")
        wait_ready(kube, "m-bad", "other", "False")

        def scraped() -> str | None:
            text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
            return text if 'sealer_unseal_errors_total{reason="UnsealFailed"}' in text else None

        text = kube.client.wait_for(scraped, timeout=10, message="error counted")
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
        ok = int(values["sealer_unseal_total"])
        failed = int(values['sealer_unseal_errors_total{reason="UnsealFailed"}'])
        assert values["sealer_keys_loaded"] == "1" and ok >= 1 and failed >= 1  # the 2 s resync may count again
        assert int(values['sealer_reconcile_duration_seconds_count{kind="SealedSecret"}']) == ok + failed
        assert "# TYPE sealer_reconcile_duration_seconds histogram" in text


def test_two_peered_replicas_make_one_key_and_one_leads(kube: KubeServer, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "controller", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--resync-period", "0", "--key-renew-period", "0"]
    procs = [kube.spawn([*argv, "--http-port", str(free_port())], log=tmp_path / f"replica-{i}.log",
                        env={"POD_NAMESPACE": NS}) for i in range(2)]
    for p in procs:
        p.wait_for_log("sealer controller ready", timeout=60)
    assert len(kube.client.list("v1", "Secret", NS, label_selector=f"{kr.LABEL}={kr.ACTIVE}")) == 1
    assert kube.client.find("kopf.dev/v1", "ClusterKopfPeering", "sealer") is not None
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "ha", "app", "peered"))
    kube.client.wait_for(lambda: secret_items(kube, "ha", "app"), timeout=60, message="Secret from the leader")
    assert secret_items(kube, "ha", "app")["password"] == b"peered"


def test_large_sealedsecret_is_handled(kube: KubeServer, tmp_path: Path) -> None:
    """A SealedSecret whose ciphertext alone is over the API server's 256 KiB annotation limit: nothing may copy
    its spec into an annotation (the emulator enforces the limit as the API server does)."""
    proc, _port = start_controller(kube, tmp_path)
    cert, _ = published_cert(kube, tmp_path)
    blob = tmp_path / "bundle.pem"
    blob.write_bytes(base64.b64encode(bytes(range(256)) * 800))  # 273 KB of item, ~365 KB of ciphertext
    src = tmp_path / "big.yaml"
    src.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: big, namespace: app}\ntype: Opaque\n"
                   f"data: {{bundle: {base64.b64encode(blob.read_bytes()).decode()}}}\n")
    r = run_sealer("seal", src, "--cert", cert)
    assert r.returncode == 0, r.stderr
    obj = yaml.safe_load(r.stdout)
    assert len(obj["spec"]["encryptedData"]["bundle"]) > 256 * 1024
    kube.client.create(obj)
    assert wait_ready(kube, "big", "app", "True", timeout=60)["reason"] == "Unsealed"
    assert secret_items(kube, "big", "app")["bundle"] == blob.read_bytes()
    # an update is still noticed (by its generation: no diff base is stored at all)
    resealed = yaml.safe_load(run_sealer("seal", src, "--cert", cert).stdout)
    extra = seal(tmp_path, cert, "big", "app", "more")["spec"]["encryptedData"]["password"]
    for attempt in range(5):  # the controller may still be writing its own annotations: get, change, replace again
        live = kube.client.get(*SS, "big", "app")
        live["spec"]["encryptedData"]["bundle"] = resealed["spec"]["encryptedData"]["bundle"]
        live["spec"]["encryptedData"]["extra"] = extra
        try:
            kube.client.replace(live)
            break
        except KubeError as e:
            if e.status != 409 or attempt == 4:
                raise
    kube.client.wait_for(lambda: (secret_items(kube, "big", "app") or {}).get("extra") == b"more", timeout=60,
                         message="the update unsealed")
    annotations = kube.client.get(*SS, "big", "app")["metadata"].get("annotations") or {}
    assert sum(len(k) + len(v) for k, v in annotations.items()) < 4096
    assert not any(k.startswith("kopf.zalando.org/") for k in annotations)  # kopf keeps no state on SealedSecrets
    log = proc.log_text()
    assert "Too long" not in log and "Throttling" not in log and "Traceback" not in log, log[-3000:]
