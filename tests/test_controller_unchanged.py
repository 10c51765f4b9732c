"""Restarts and resyncs cost no decryption when nothing changed (issue 19), counted from the controller's own
metrics (`sealer_decrypt_operations_total`, `sealer_reconcile_unchanged_total`) and the Secrets' resourceVersions,
with the controller as its own process against the API emulator. Drift is still restored (data and labels), and a
removed key forces a re-check of exactly the objects it opened."""

from __future__ import annotations

import base64
from pathlib import Path

from sealer_testkit.apiserver import KubeServer

from controller import digest
from controller import keyring as kr
from tests.controller_process import (
    NS,
    SS,
    metric,
    published_cert,
    seal,
    secret_items,
    start_controller,
    wait_ready,
)

PLANT = "PLANTED-unchanged-4c1e"



def versions(kube: KubeServer, names: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    return {(ns, n): kube.client.get("v1", "Secret", n, ns)["metadata"]["resourceVersion"] for ns, n in names}


def test_restart_and_resync_decrypt_nothing_and_drift_is_still_restored(kube: KubeServer, tmp_path: Path) -> None:
    proc, port = start_controller(kube, tmp_path, resync_period="1s")
    cert, _ = published_cert(kube, tmp_path)
    names = [("app", f"s{i}") for i in range(3)] + [("team-b", f"s{i}") for i in range(2)]
    for ns, name in names:
        kube.client.create(seal(tmp_path, cert, name, ns, f"{PLANT}-{ns}-{name}"))
    for ns, name in names:
        kube.client.wait_for(lambda ns=ns, name=name: secret_items(kube, name, ns), timeout=30, message=name)
    first = metric(port, "sealer_decrypt_operations_total")
    assert first == 2 * len(names)  # two items each, one RSA operation per item
    stamped = kube.client.get("v1", "Secret", "s0", "app")["metadata"]["annotations"]
    assert stamped[digest.SOURCE_DIGEST].startswith("sha256:") and stamped[digest.DATA_HMAC].startswith("hmac-")
    # resyncs every second: none decrypts
    kube.client.wait_for(lambda: metric(port, "sealer_reconcile_unchanged_total") >= 2 * len(names), timeout=30,
                         message="resyncs")
    assert metric(port, "sealer_decrypt_operations_total") == first
    # nor writes anything: not the Secrets, not the SealedSecrets' status (it already says Ready)
    before = versions(kube, names)
    served = len(kube.requests())
    seen = metric(port, "sealer_reconcile_unchanged_total")
    kube.client.wait_for(lambda: metric(port, "sealer_reconcile_unchanged_total") >= seen + 2 * len(names),
                         timeout=30, message="more resyncs")
    assert versions(kube, names) == before
    writes = [(m, p) for m, p in kube.requests()[served:] if m in ("PATCH", "PUT", "POST") and "/events" not in p]
    assert writes == []
    proc.stop()

    # a restart: every object resumed, none decrypted, no Secret written
    proc, port = start_controller(kube, tmp_path, log_name="controller-2.log", resync_period="1s")
    kube.client.wait_for(lambda: metric(port, "sealer_reconcile_unchanged_total") >= len(names), timeout=30,
                         message="resumed")
    assert metric(port, "sealer_decrypt_operations_total") == 0
    assert versions(kube, names) == before

    # a hand-edited value is seen by its HMAC and restored (one object decrypted, two values)
    kube.client.patch("v1", "Secret", "s1", {"data": {"password": base64.b64encode(b"hacked").decode()}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "s1", "app")["password"] == f"{PLANT}-app-s1".encode(),
                         timeout=30, message="restored value")
    assert metric(port, "sealer_decrypt_operations_total") == 2
    # a removed template label is put back too (the shape is compared without decrypting)
    kube.client.patch("v1", "Secret", "s2", {"metadata": {"labels": {"app": None}}}, "app")
    kube.client.wait_for(lambda: kube.client.get("v1", "Secret", "s2", "app")["metadata"].get("labels", {}).get(
        "app") == "web", timeout=30, message="restored label")
    # a forged HMAC annotation does not make an edited Secret look unchanged
    kube.client.patch("v1", "Secret", "s0", {"data": {"user": base64.b64encode(b"root").decode()},
                                              "metadata": {"annotations": {digest.DATA_HMAC: "hmac-sha256:0:0"}}},
                      "app")
    kube.client.wait_for(lambda: secret_items(kube, "s0", "app")["user"] == b"admin", timeout=30,
                         message="restored despite a forged annotation")
    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*SS))
    assert PLANT not in everything


def test_a_removed_key_forces_a_recheck_of_what_it_opened_only(kube: KubeServer, tmp_path: Path) -> None:
    proc, port = start_controller(kube, tmp_path, resync_period="1s")
    old_cert, old_fp = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, old_cert, "old", "app", "opened-by-the-old-key"))
    kube.client.wait_for(lambda: secret_items(kube, "old", "app"), timeout=30)
    # a new key (what renewal does) forces nothing: the old object is not decrypted again
    kube.client.create(kr.new_key_secret(NS, bits=2048))
    new_cert, _ = published_cert(kube, tmp_path, fingerprint_not=old_fp)
    kube.client.create(seal(tmp_path, new_cert, "new", "app", "opened-by-the-new-key"))
    kube.client.wait_for(lambda: secret_items(kube, "new", "app"), timeout=30)
    settled = metric(port, "sealer_decrypt_operations_total")
    assert settled == 4
    unchanged = metric(port, "sealer_reconcile_unchanged_total")
    kube.client.wait_for(lambda: metric(port, "sealer_reconcile_unchanged_total") >= unchanged + 4, timeout=30,
                         message="resyncs after the new key")
    assert metric(port, "sealer_decrypt_operations_total") == settled

    # the old key goes: the object it opened is checked again (and can no longer be opened: its Secret stays);
    # the object the new key opened is not decrypted again
    assert old_fp[:16] in kube.client.get("v1", "Secret", "old", "app")["metadata"]["annotations"][digest.OPENED_BY]
    kube.client.delete("v1", "Secret", _key_name_of(kube, old_cert), NS)
    assert wait_ready(kube, "old", "app", "False")["reason"] == "UnsealFailed"
    assert secret_items(kube, "old", "app")["password"] == b"opened-by-the-old-key"
    assert wait_ready(kube, "new", "app", "True")["reason"] == "Unsealed"
    unchanged = metric(port, "sealer_reconcile_unchanged_total")
    kube.client.wait_for(lambda: metric(port, "sealer_reconcile_unchanged_total") >= unchanged + 2, timeout=30,
                         message="resyncs after the removal")
    assert metric(port, "sealer_decrypt_operations_total") == settled
    proc.stop()


def _key_name_of(kube: KubeServer, cert: Path) -> str:
    """The name of the key Secret whose certificate is ``cert``."""
    pem = cert.read_text().strip()
    for s in kube.client.list("v1", "Secret", NS, label_selector=f"{kr.LABEL}={kr.ACTIVE}"):
        if base64.b64decode(s["data"]["tls.crt"]).decode().strip() == pem:
            return s["metadata"]["name"]
    raise AssertionError("no key Secret holds the published certificate")
