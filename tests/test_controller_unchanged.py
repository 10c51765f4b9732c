"""Restarts and resyncs cost no decryption when nothing changed (issue 19), counted from the controller's own
metrics (`sealer_decrypt_operations_total`, `sealer_reconcile_unchanged_total`) and the Secrets' resourceVersions,
with the controller as its own process against the API emulator. Drift is still restored (data and labels), and a
removed key forces a re-check of exactly the objects it opened."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer

from controller import digest, sopssecret
from controller import keyring as kr
from tests.cli_process import run_sealer
from tests.controller_process import (
    NS,
    SS,
    assert_no_leak,
    metric,
    published_cert,
    seal,
    secret_items,
    start_controller,
    wait_ready,
)
from tests.sops_helpers import AgeKey, Workspace, make_age_key
from tests.sopssecret_objects import identities_secret

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


# --- SopsSecrets: the same shortcut, with a template that may itself be encrypted -----------------------------

SOPS_KIND = ("sealer.dev/v1alpha1", "SopsSecret")
SOPS_PLANT = "PLANTED-sops-unchanged-7b3d"
DECRYPTS, UNCHANGED = "sealer_decrypt_operations_total", "sealer_reconcile_unchanged_total"
# the template's label values and type encrypted too: the Secret's shape cannot be known without decrypting
ENCRYPTED_TEMPLATE = "^(binding|data|stringData|labels|type)$"


def sops_object(ws: Workspace, key: AgeKey, name: str, namespace: str, value: str, *,
                encrypted_template: bool = False, **spec: object) -> dict:
    """`sealer encrypt --kind sopssecret` of a Secret with items password=``value`` and user=admin, labels
    app=web and tier=db, an annotation and a type; ``spec`` fields added in plaintext, as the README says."""
    src = ws.write(f"{namespace}-{name}.yaml", yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "type": "example.com/app",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web", "tier": "db"},
                     "annotations": {"note": "plain"}},
        "stringData": {"password": value, "user": "admin"}}))
    flags = ["--encrypted-regex", ENCRYPTED_TEMPLATE] if encrypted_template else []
    r = run_sealer("encrypt", "--age", key.recipient, "--kind", "sopssecret", *flags, src, env=ws.env())
    assert r.returncode == 0, r.stderr
    obj = yaml.safe_load(r.stdout)
    obj["spec"].update(spec)
    return json.loads(json.dumps(obj, sort_keys=True))  # as the API server stores it


def sops_condition(kube: KubeServer, name: str, namespace: str, status: str, timeout: float = 30) -> dict:
    def cond():
        obj = kube.client.find(*SOPS_KIND, name, namespace) or {}
        conds = (obj.get("status") or {}).get("conditions") or []
        return conds[0] if conds and conds[0]["status"] == status else None

    return kube.client.wait_for(cond, timeout=timeout, message=f"SopsSecret {namespace}/{name} Ready={status}")


def test_sopssecrets_restart_and_resync_decrypt_nothing_and_drift_is_still_restored(kube: KubeServer,
                                                                                     tmp_path: Path) -> None:
    ws, key = Workspace(tmp_path / "ws"), make_age_key(tmp_path / "keys", "cluster")
    names = [("app", "s0"), ("app", "s1"), ("app", "s2"), ("team-b", "s0")]
    for ns in (NS, "app", "team-b"):
        kube.client.ensure_namespace(ns)
    kube.client.create(identities_secret(key))
    proc, port = start_controller(kube, tmp_path, resync_period="1s")
    for ns, name in names:  # app/s2's template is encrypted: label values and type
        kube.client.create(sops_object(ws, key, name, ns, f"{SOPS_PLANT}-{ns}-{name}", encrypted_template=name == "s2"))
    for ns, name in names:
        sops_condition(kube, name, ns, "True")
    first = metric(port, DECRYPTS, "SopsSecret")
    assert first >= len(names)  # one data key opened per object (a resync racing the create may open one twice)
    s2 = kube.client.get("v1", "Secret", "s2", "app")
    assert s2["type"] == "example.com/app" and s2["metadata"]["labels"]["tier"] == "db"
    stamped = s2["metadata"]["annotations"]
    assert stamped[digest.SHAPE_HMAC].startswith("hmac-sha256:") and stamped[digest.DATA_HMAC].startswith("hmac-")
    assert stamped[digest.OPENED_BY] == digest.age_fingerprint(key.recipient)[:16]
    # resyncs every second: none decrypts, nothing is written (not the Secrets, not the status)
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= 2 * len(names), timeout=30,
                         message="resyncs")
    assert metric(port, DECRYPTS, "SopsSecret") == first
    before = versions(kube, names)
    served = len(kube.requests())
    seen = metric(port, UNCHANGED, "SopsSecret")
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= seen + 2 * len(names), timeout=30,
                         message="more resyncs")
    assert versions(kube, names) == before
    writes = [(m, p) for m, p in kube.requests()[served:] if m in ("PATCH", "PUT", "POST") and "/events" not in p]
    assert writes == []
    assert metric(port, DECRYPTS, "SopsSecret") == first
    proc.stop()
    first_log = proc.log_text()

    # a restart: every object resumed, none decrypted, no Secret written
    proc, port = start_controller(kube, tmp_path, log_name="controller-2.log", resync_period="1s")
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= len(names), timeout=30, message="resumed")
    assert metric(port, DECRYPTS, "SopsSecret") == 0
    assert versions(kube, names) == before

    # a hand-edited value is seen by its HMAC and restored (one object opened)
    kube.client.patch("v1", "Secret", "s1", {"data": {"password": base64.b64encode(b"hacked").decode()}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "s1", "app")["password"] == f"{SOPS_PLANT}-app-s1".encode(),
                         timeout=30, message="restored value")
    assert metric(port, DECRYPTS, "SopsSecret") >= 1
    # an edited label whose value is encrypted in the template, and an edited type: put back
    kube.client.patch("v1", "Secret", "s2", {"metadata": {"labels": {"tier": "hacked"}}}, "app")
    kube.client.wait_for(lambda: kube.client.get("v1", "Secret", "s2", "app")["metadata"]["labels"]["tier"] == "db",
                         timeout=30, message="restored encrypted label")
    kube.client.patch("v1", "Secret", "s2", {"type": "Opaque"}, "app")
    kube.client.wait_for(lambda: kube.client.get("v1", "Secret", "s2", "app")["type"] == "example.com/app",
                         timeout=30, message="restored type")
    # a removed plaintext label and annotation are put back too
    kube.client.patch("v1", "Secret", "s0", {"metadata": {"labels": {"app": None}, "annotations": {"note": None}}},
                      "team-b")
    kube.client.wait_for(lambda: (m := kube.client.get("v1", "Secret", "s0", "team-b")["metadata"])["labels"].get(
        "app") == "web" and m["annotations"].get("note") == "plain", timeout=30, message="restored label")
    # another Secret's data with its (valid) data HMAC, copied in by hand, is not taken for this object's
    other = kube.client.get("v1", "Secret", "s1", "app")
    kube.client.patch("v1", "Secret", "s0", {"data": other["data"], "metadata": {"annotations": {
        digest.DATA_HMAC: other["metadata"]["annotations"][digest.DATA_HMAC]}}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "s0", "app")["password"] == f"{SOPS_PLANT}-app-s0".encode(),
                         timeout=30, message="restored despite a copied data HMAC")
    assert metric(port, DECRYPTS, "SopsSecret") >= 5  # one per repair (two when a resync races the Secret event)
    proc.stop()
    annotations = [kube.client.get("v1", "Secret", n, ns)["metadata"]["annotations"] for ns, n in names]
    everything = (first_log + proc.log_text() + json.dumps(kube.client.events()) + json.dumps(annotations)
                  + json.dumps([o.get("status") for o in kube.client.list(*SOPS_KIND)]))
    assert_no_leak(everything, SOPS_PLANT, key.identity)


def test_a_removed_age_identity_or_secretref_key_forces_a_recheck(kube: KubeServer, tmp_path: Path) -> None:
    """The identity that opened an object leaves: the object is opened again and fails (Ready=False), its Secret is
    neither rewritten nor reported Ready from stale data; objects other identities opened stay Ready. The same for
    an identity of the object's own spec.decryption.secretRef Secret."""
    ws = Workspace(tmp_path / "ws")
    a, b, own, other = (make_age_key(tmp_path / "keys", n) for n in ("a", "b", "own", "other"))
    for ns in (NS, "app"):
        kube.client.ensure_namespace(ns)
    kube.client.create(identities_secret(a, name="id-a"))
    kube.client.create(identities_secret(b, name="id-b"))
    team_keys = identities_secret(own, name="team-keys")
    team_keys["metadata"]["namespace"] = "app"
    kube.client.create(team_keys)
    proc, port = start_controller(kube, tmp_path, resync_period="1s")
    kube.client.create(sops_object(ws, a, "by-a", "app", f"{SOPS_PLANT}-a"))
    kube.client.create(sops_object(ws, b, "by-b", "app", f"{SOPS_PLANT}-b"))
    kube.client.create(sops_object(ws, own, "by-own", "app", f"{SOPS_PLANT}-own",
                                   decryption={"secretRef": {"name": "team-keys"}}))
    for name in ("by-a", "by-b", "by-own"):
        sops_condition(kube, name, "app", "True")
    settled = metric(port, DECRYPTS, "SopsSecret")
    seen = metric(port, UNCHANGED, "SopsSecret")
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= seen + 6, timeout=30, message="resyncs")
    assert metric(port, DECRYPTS, "SopsSecret") == settled
    names = [("app", n) for n in ("by-a", "by-b", "by-own")]
    before = versions(kube, names)

    kube.client.delete("v1", "Secret", "id-a", NS)
    assert sops_condition(kube, "by-a", "app", "False")["reason"] == "DecryptFailed"
    assert sops_condition(kube, "by-b", "app", "True")["reason"] == "Decrypted"
    assert secret_items(kube, "by-a", "app")["password"] == f"{SOPS_PLANT}-a".encode()  # left as it was
    # the identity's Secret replaced by one with another key: the object it opened is checked again and fails
    kube.client.patch("v1", "Secret", "team-keys", {"data": identities_secret(other)["data"]}, "app")
    assert sops_condition(kube, "by-own", "app", "False")["reason"] == "DecryptFailed"
    assert sops_condition(kube, "by-b", "app", "True")["reason"] == "Decrypted"
    assert versions(kube, names) == before  # no Secret rewritten from stale data
    # the identity back: Ready again, still nothing to write
    kube.client.create(identities_secret(a, name="id-a"))
    sops_condition(kube, "by-a", "app", "True")
    assert versions(kube, names) == before
    proc.stop()
    assert_no_leak(proc.log_text() + json.dumps(kube.client.events()), SOPS_PLANT)


def test_a_tenant_cannot_make_a_copied_sopssecret_look_unchanged(kube: KubeServer, tmp_path: Path) -> None:
    """team-b copies app's SopsSecret (its binding says app/s0: ScopeMismatch) and plants beside it a Secret of
    its own readable data with every stamp copied from its own produced Secret, the source digest recomputed for
    the copy (it is not keyed) and an ownerReference to the copy. The shape HMAC binds the stamps to the key the
    tenant lacks: the copy is opened, and stays ScopeMismatch."""
    ws, key = Workspace(tmp_path / "ws"), make_age_key(tmp_path / "keys", "cluster")
    for ns in (NS, "app", "team-b"):
        kube.client.ensure_namespace(ns)
    kube.client.create(identities_secret(key))
    proc, port = start_controller(kube, tmp_path, resync_period="1s")
    target = sops_object(ws, key, "s0", "app", f"{SOPS_PLANT}-app")
    kube.client.create(target)
    kube.client.create(sops_object(ws, key, "mine", "team-b", "team-b-own-value"))
    sops_condition(kube, "s0", "app", "True")
    sops_condition(kube, "mine", "team-b", "True")
    copy = json.loads(json.dumps(target))
    copy["metadata"]["namespace"] = "team-b"
    copy = kube.client.create(copy)
    assert sops_condition(kube, "s0", "team-b", "False")["reason"] == "ScopeMismatch"
    mine = kube.client.get("v1", "Secret", "mine", "team-b")
    stamps = {k: v for k, v in mine["metadata"]["annotations"].items() if k in digest.STAMPS}
    stamps[digest.SOURCE_DIGEST] = digest.source_digest(copy, sopssecret.settings(False, os.environ))
    kube.client.create({"apiVersion": "v1", "kind": "Secret", "type": "example.com/app", "data": mine["data"],
                        "metadata": {"name": "s0", "namespace": "team-b", "labels": mine["metadata"]["labels"],
                                     "annotations": {**mine["metadata"]["annotations"], **stamps},
                                     "ownerReferences": [{**mine["metadata"]["ownerReferences"][0], "name": "s0",
                                                          "uid": copy["metadata"]["uid"]}]}})
    seen = metric(port, UNCHANGED, "SopsSecret")
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= seen + 6, timeout=30, message="resyncs")
    assert sops_condition(kube, "s0", "team-b", "False")["reason"] == "ScopeMismatch"
    proc.stop()
    assert_no_leak(proc.log_text() + json.dumps(kube.client.events()), SOPS_PLANT)


def test_a_transit_sopssecret_costs_no_vault_call_on_restart_until_vault_is_unset(
        kube: KubeServer, tmp_path: Path, openbao, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened by a Vault Transit key (a Vault request per decryption): a restart makes none; a restart without the
    controller's Vault settings (they are part of the source digest) re-checks it, and it fails as it would."""
    mount = "transit-unchanged"
    openbao.enable_transit(mount)
    openbao.create_transit_key("cluster", mount)
    ws = Workspace(tmp_path / "ws")
    src = ws.write("db.yaml", yaml.safe_dump({"apiVersion": "v1", "kind": "Secret",
                                              "metadata": {"name": "db", "namespace": "app"},
                                              "stringData": {"password": f"{SOPS_PLANT}-transit"}}))
    env = {k: v for k, v in openbao.env().items() if not k.startswith("SOPS_")}
    r = run_sealer("encrypt", "--hc-vault-transit", f"{openbao.addr}/v1/{mount}/keys/cluster", "--kind",
                   "sopssecret", src, env={**env, "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    for ns in (NS, "app"):
        kube.client.ensure_namespace(ns)
    monkeypatch.setenv("VAULT_ADDR", openbao.addr)  # the controller process inherits them
    monkeypatch.setenv("VAULT_TOKEN", env["VAULT_TOKEN"])
    proc, port = start_controller(kube, tmp_path, resync_period="1s")
    kube.client.create(json.loads(json.dumps(yaml.safe_load(r.stdout), sort_keys=True)))
    sops_condition(kube, "db", "app", "True")
    annotations = kube.client.get("v1", "Secret", "db", "app")["metadata"]["annotations"]
    assert annotations[digest.OPENED_BY] == digest.vault_fingerprint(openbao.addr, mount, "cluster")[:16]
    proc.stop()
    before = versions(kube, [("app", "db")])

    proc, port = start_controller(kube, tmp_path, log_name="controller-2.log", resync_period="1s")
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= 3, timeout=30, message="resyncs")
    assert metric(port, DECRYPTS, "SopsSecret") == 0
    proc.stop()

    monkeypatch.delenv("VAULT_ADDR")
    proc, port = start_controller(kube, tmp_path, log_name="controller-3.log", resync_period="1s")
    cond = sops_condition(kube, "db", "app", "False")
    assert cond["reason"] == "DecryptFailed" and "no Vault configured" in cond["message"]
    assert metric(port, DECRYPTS, "SopsSecret") >= 1
    assert versions(kube, [("app", "db")]) == before
    proc.stop()
    assert_no_leak(proc.log_text() + json.dumps(kube.client.events()), SOPS_PLANT, env["VAULT_TOKEN"])


def test_an_unscoped_sopssecret_is_rechecked_when_allow_unscoped_is_turned_off(kube: KubeServer,
                                                                               tmp_path: Path) -> None:
    """--allow-unscoped-sops is part of the source digest: kept, a restart decrypts nothing (and says unscoped as
    before); dropped, the object is checked again and refused (Unscoped), its Secret left as it was."""
    ws, key = Workspace(tmp_path / "ws"), make_age_key(tmp_path / "keys", "cluster")
    src = ws.write("legacy.yaml", "apiVersion: sealer.dev/v1alpha1\nkind: SopsSecret\nmetadata:\n  name: legacy\n"
                                  f"  namespace: app\nspec:\n  stringData:\n    password: {SOPS_PLANT}-legacy\n")
    r = run_sealer("encrypt", "--age", key.recipient, "--encrypted-regex", "^(data|stringData)$",
                   "--mac-only-encrypted", src, env=ws.env())
    assert r.returncode == 0, r.stderr
    for ns in (NS, "app"):
        kube.client.ensure_namespace(ns)
    kube.client.create(identities_secret(key))
    proc, port = start_controller(kube, tmp_path, "--allow-unscoped-sops", resync_period="1s")
    kube.client.create(json.loads(json.dumps(yaml.safe_load(r.stdout), sort_keys=True)))
    sops_condition(kube, "legacy", "app", "True")
    message = kube.client.wait_for(  # the state, the same from every reconcile (not what the first one did)
        lambda: "unscoped" in (m := sops_condition(kube, "legacy", "app", "True")["message"]) and m, timeout=30,
        message="unscoped in the Ready message")
    proc.stop()
    before = versions(kube, [("app", "legacy")])

    proc, port = start_controller(kube, tmp_path, "--allow-unscoped-sops", log_name="controller-2.log",
                                  resync_period="1s")
    kube.client.wait_for(lambda: metric(port, UNCHANGED, "SopsSecret") >= 3, timeout=30, message="resyncs")
    assert metric(port, DECRYPTS, "SopsSecret") == 0
    assert sops_condition(kube, "legacy", "app", "True")["message"] == message
    proc.stop()

    proc, port = start_controller(kube, tmp_path, log_name="controller-3.log", resync_period="1s")
    assert sops_condition(kube, "legacy", "app", "False")["reason"] == "Unscoped"
    assert versions(kube, [("app", "legacy")]) == before
    proc.stop()
    assert_no_leak(proc.log_text() + json.dumps(kube.client.events()), SOPS_PLANT)


def test_a_data_hmac_is_bound_to_its_digest() -> None:
    """A tenant who knows a Secret's data (its own) cannot move that Secret's stamps onto another object's Secret:
    the same data under another source digest has another HMAC, so the copy is no 'unchanged' Secret."""
    key = b"k" * 32
    data = {"password": base64.b64encode(b"known-to-the-tenant").decode()}
    theirs: dict = {"data": dict(data)}
    digest.stamp(theirs, "sha256:aaaa", key, ["f" * 64])
    forged = {"data": dict(data), "metadata": {"annotations": dict(theirs["metadata"]["annotations"])}}
    forged["metadata"]["annotations"][digest.SOURCE_DIGEST] = "sha256:bbbb"  # the digest of the other object
    assert digest.unchanged(theirs, "sha256:aaaa", key, ["f" * 64])
    assert not digest.unchanged(forged, "sha256:bbbb", key, ["f" * 64])


def test_untouched_needs_the_very_version_recorded_in_status() -> None:
    secret = {"metadata": {"resourceVersion": "41"}}
    assert digest.untouched({"status": {digest.VERSION_STATUS: "41"}}, secret)
    assert not digest.untouched({"status": {digest.VERSION_STATUS: "40"}}, secret)  # changed since
    assert not digest.untouched({"status": {}}, secret) and not digest.untouched({}, {"metadata": {}})


def test_a_restart_checks_an_untouched_secret_by_its_version_and_an_edited_one_by_its_hmac(
        kube: KubeServer, tmp_path: Path) -> None:
    proc, port = start_controller(kube, tmp_path)
    cert, _ = published_cert(kube, tmp_path)
    for name in ("kept", "edited"):
        kube.client.create(seal(tmp_path, cert, name, "app", f"{PLANT}-{name}"))
    for name in ("kept", "edited"):
        kube.client.wait_for(lambda name=name: (kube.client.get(*SS, name, "app").get("status") or {}).get(
            digest.VERSION_STATUS) == kube.client.get("v1", "Secret", name, "app")["metadata"]["resourceVersion"],
            timeout=30, message=f"{name}: the Secret's version in status")
    proc.stop()
    # while the controller is down: one Secret edited by hand (a new resourceVersion), the stamps left as they were
    kube.client.patch("v1", "Secret", "edited", {"data": {"password": base64.b64encode(b"hacked").decode()}}, "app")
    # and, to show which check a restart makes: "kept" gets a wrong data HMAC, and its owner's status the version
    # that edit made (only the controller writes status normally): the HMAC is then not recomputed, so no re-unseal
    kept = kube.client.patch("v1", "Secret", "kept", {"metadata": {"annotations": {digest.DATA_HMAC: "hmac-x"}}},
                             "app")["metadata"]["resourceVersion"]
    kube.client.patch(*SS, "kept", {"status": {digest.VERSION_STATUS: kept}}, "app", subresource="status")
    proc, port = start_controller(kube, tmp_path, log_name="controller-2.log")
    kube.client.wait_for(lambda: secret_items(kube, "edited", "app")["password"] == f"{PLANT}-edited".encode(),
                         timeout=30, message="the edited Secret restored")
    assert metric(port, "sealer_decrypt_operations_total") == 2  # the edited one only
    assert kube.client.get("v1", "Secret", "kept", "app")["metadata"]["resourceVersion"] == kept
    restored = kube.client.get("v1", "Secret", "edited", "app")["metadata"]["resourceVersion"]
    kube.client.wait_for(lambda: (kube.client.get(*SS, "edited", "app").get("status") or {}).get(
        digest.VERSION_STATUS) == restored, timeout=30, message="the restored Secret's version in status")
    proc.stop()
