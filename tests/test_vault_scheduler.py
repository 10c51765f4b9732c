"""VaultSecrets run from one scheduler (`controller.vault.scheduler`), not a kopf daemon per object: the due-time
bookkeeping as a pure class, and end to end (the controller process, the emulator, a real OpenBao) that a restart
reads nothing that is not due, that kopf keeps nothing on the objects, and that an edit, a force-sync and a
deletion each do exactly what they should."""

from __future__ import annotations

import math
import secrets
import sys
import time
import urllib.request
from pathlib import Path

from sealer_testkit.apiserver import KubeServer, free_port

from controller.vault.scheduler import Due, facts, store_of
from tests.controller_process import NS, assert_no_leak
from tests.openbao import Bao, kv2_put
from tests.vault_resources import VS, start_vault_controller, store, token_auth, token_secret, vault_secret, wait_cond

READ_ALL = 'path "*" { capabilities = ["read", "list"] }'

# --- the bookkeeping ------------------------------------------------------------------------------------------


def test_due_pops_in_time_order_and_only_when_due() -> None:
    due = Due()
    due.add("b", "ns", "b", 1, None, 20.0, 0.0)
    due.add("a", "ns", "a", 1, None, 10.0, 0.0)
    due.add("never", "ns", "never", 1, None, math.inf, 0.0)
    assert due.pop(5.0) is None and due.next_in(5.0) == 5.0
    assert due.pop(25.0) == "a" and due.pop(25.0) == "b" and due.pop(25.0) is None
    assert due.next_in(25.0) is None  # the one left waits for a wake
    assert due.wake("never", 30.0) and due.pop(30.0) == "never"
    assert not due.wake("unknown", 30.0)


def test_due_never_runs_an_object_twice_at_once_and_a_wake_while_running_runs_it_again_after() -> None:
    due = Due()
    due.add("u", "ns", "n", 1, None, 0.0, 0.0)
    assert due.pop(1.0) == "u"
    assert due.wake("u", 2.0)  # woken while in flight: not handed out a second time
    assert due.pop(2.0) is None
    assert due.done("u", 3600.0, 3.0)
    assert due.pop(3.0) == "u"  # due again right after, not in an hour
    assert due.done("u", 3600.0, 4.0)
    assert due.pop(4.0) is None and due.next_in(4.0) == 3600.0
    assert due.pop(3604.0) == "u"
    assert due.done("u", None, 3605.0) and due.next_in(3605.0) is None  # refreshInterval 0: only when woken


def test_due_changes_a_status_write_a_spec_edit_a_force_sync_and_drops() -> None:
    due = Due()
    due.add("u", "ns", "n", 2, "t1", 100.0, 0.0)
    assert not due.changed("u", "ns", "n", 2, "t1", 1.0)  # our own status write echoed back
    assert not due.changed("u", "ns", "n", 1, "t1", 1.0)  # an older event than the record
    assert due.pop(1.0) is None
    assert due.changed("u", "ns", "n", 3, "t1", 2.0) and due.pop(2.0) == "u"  # spec edit
    due.done("u", 100.0, 3.0)
    assert due.changed("u", "ns", "n", 3, "t2", 4.0) and due.pop(4.0) == "u"  # force-sync
    assert due.changed("new", "ns", "new", 1, None, 5.0) and due.pop(5.0) == "new"  # a new object
    assert due.drop("u") and not due.done("u", 10.0, 6.0)  # deleted while in flight: nothing rescheduled
    due.add("old", "ns", "old", 1, None, 50.0, 1.0)
    assert due.stale(5.0, {"new"}) == ["old"]  # neither listed nor seen since the pass began
    assert facts({"metadata": {"uid": "x", "namespace": "a", "name": "b", "generation": 4,
                               "annotations": {"sealer.dev/force-sync": "now"}}}) == ("x", "a", "b", 4, "now")


def test_due_heap_stays_bounded_by_the_records_when_due_times_keep_changing() -> None:
    due = Due()
    for i in range(10):
        due.add(f"u{i}", "ns", f"n{i}", 1, None, 1000.0 + i, 0.0)
    for step in range(5000):  # each reschedule leaves a superseded item behind
        due.add(f"u{step % 10}", "ns", f"n{step % 10}", 1, None, 2000.0 - step % 10, 0.0)
    assert len(due._heap) <= 2 * len(due) + 1024
    assert [due.pop(3000.0) for _ in range(11)] == [f"u{i}" for i in range(9, -1, -1)] + [None]


def test_one_store_holds_at_most_its_share_of_the_places_and_the_rest_wait_their_turn() -> None:
    """A tenant's slow or rate-limited store with many due objects: at most `per_store` of them are handed out;
    the others wait off the heap, so another store's object due later still goes next. Each sync of the slow store
    that ends lets one waiting object of it through, in the order they came due."""
    due = Due(per_store=2)
    for i in range(10):
        due.add(f"slow{i}", "t1", f"s{i}", 1, None, float(i), 0.0, store="VaultStore/t1/slow")
    due.add("fast", "t2", "f", 1, None, 50.0, 0.0, store="VaultStore/t2/fast")
    assert [due.pop(100.0) for _ in range(4)] == ["slow0", "slow1", "fast", None]
    assert due.wake("slow5", 100.0)  # waiting already: not handed out twice, still once after
    assert due.drop("slow2")  # deleted while waiting: skipped when its turn comes
    assert due.done("fast", 60.0, 101.0) and due.pop(101.0) is None  # another store's end lets none through
    assert due.done("slow0", 60.0, 102.0) and due.pop(102.0) == "slow3"
    assert due.pop(102.0) is None
    assert due.done("slow1", 60.0, 103.0) and due.done("slow3", 60.0, 103.0)
    assert [due.pop(103.0) for _ in range(3)] == ["slow4", "slow5", None]
    assert due.done("slow4", None, 104.0) and due.done("slow5", None, 104.0)
    assert [due.pop(104.0) for _ in range(3)] == ["slow6", "slow7", None]
    due.drop("slow6")  # deleted while in flight: its place is still given back when its sync ends
    assert not due.done("slow6", None, 105.0) and due.pop(105.0) == "slow8"
    due.drop("slow8")  # gone before its sync began (the scheduler then only releases it): its place comes back
    due.release("slow8", 106.0)
    due.release("slow8", 106.0)  # once per pop, however often it is said
    assert due.pop(106.0) == "slow9" and due.pop(106.0) is None


def test_namespaces_sharing_a_cluster_store_take_turns_in_its_places() -> None:
    """Tenants sharing a ClusterVaultStore: one tenant's many due objects do not queue ahead of another tenant's
    one. The namespaces waiting for the store's places take turns; each namespace's own objects keep their order."""
    shared = "ClusterVaultStore//shared"
    due = Due(per_store=2)
    for i in range(6):
        due.add(f"a{i}", "tenant-a", f"a{i}", 1, None, float(i), 0.0, store=shared)
    due.add("b0", "tenant-b", "b0", 1, None, 10.0, 0.0, store=shared)
    due.add("b1", "tenant-b", "b1", 1, None, 11.0, 0.0, store=shared)
    due.add("c0", "tenant-c", "c0", 1, None, 12.0, 0.0, store=shared)
    assert [due.pop(20.0) for _ in range(3)] == ["a0", "a1", None]  # the rest wait: a2-a5, then b0, b1, c0
    order = []
    for now in (21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0):
        ending = order[-2] if len(order) >= 2 else ["a0", "a1"][len(order)]
        assert due.done(ending, None, now)
        got = due.pop(now)
        assert got is not None and due.pop(now) is None
        order.append(got)
    assert order == ["a2", "b0", "c0", "a3", "b1", "a4", "a5"]


def test_objects_without_a_known_store_and_an_unbounded_due_are_not_held_back() -> None:
    due = Due()
    for i in range(5):
        due.add(f"u{i}", "ns", f"n{i}", 1, None, 0.0, 0.0, store="VaultStore/ns/one")
    assert [due.pop(1.0) for _ in range(6)] == [f"u{i}" for i in range(5)] + [None]
    bounded = Due(per_store=1)
    for i in range(3):
        bounded.add(f"u{i}", "ns", f"n{i}", 1, None, 0.0, 0.0)  # store unknown: ""
    assert [bounded.pop(1.0) for _ in range(4)] == ["u0", "u1", "u2", None]


def test_store_of_keys_a_namespaced_store_by_its_namespace() -> None:
    def body(ns: str, ref: object) -> dict:
        return {"metadata": {"namespace": ns}, "spec": {"storeRef": ref}}

    assert store_of(body("a", {"name": "vault"})) == "VaultStore/a/vault"
    assert store_of(body("b", {"name": "vault"})) == "VaultStore/b/vault"  # another tenant's, another store
    assert store_of(body("a", {"kind": "ClusterVaultStore", "name": "shared"})) == "ClusterVaultStore//shared"
    assert store_of(body("b", {"kind": "ClusterVaultStore", "name": "shared"})) == "ClusterVaultStore//shared"
    assert store_of(body("a", None)) == store_of({"spec": "x"}) == store_of({}) == ""
    # a VaultPushSecret's list of stores: it holds a place of the first
    pushed = {"metadata": {"namespace": "a"}, "spec": {"storeRefs": [{"kind": "ClusterVaultStore", "name": "s"},
                                                                     {"name": "vault"}]}}
    assert store_of(pushed, "storeRefs") == "ClusterVaultStore//s"
    assert store_of({"metadata": {"namespace": "a"}, "spec": {"storeRefs": []}}, "storeRefs") == ""


# --- end to end -----------------------------------------------------------------------------------------------


def reads(port: int) -> float:
    """KV reads this controller process made (its metrics start at zero with the process)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith('sealer_vault_requests_total{operation="read",status="200"} '):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def daemons(log: str) -> list[str]:
    """kopf's daemon lines."""
    return [line for line in log.splitlines() if "Daemon '" in line]


def settled(port: int, want: float, seconds: float = 2.0) -> float:
    """Wait until `want` reads are done, then `seconds` more: the count then (more than `want`: extra syncs)."""
    deadline = time.monotonic() + 30
    while reads(port) < want and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(seconds)
    return reads(port)


def test_one_scheduler_restart_edit_force_sync_and_delete(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = f"sched-{secrets.token_hex(4)}"
    plant = "PLANTED-sched-" + secrets.token_hex(6)
    n = 12
    for i in range(n):
        kv2_put(openbao, f"{base}/s{i}", {"password": f"{plant}-{i}"})
    kv2_put(openbao, f"{base}/fast", {"password": f"{plant}-fast"})
    openbao.write_policy(f"{base}-read", READ_ALL)
    token = openbao.create_token(f"{base}-read")
    token_secret(kube, "app", token)
    client = kube.client
    client.create(store(openbao, "vault", "app", token_auth()))
    names = [f"s{i}" for i in range(n)]
    proc, port = start_vault_controller(kube, tmp_path)
    for i, name in enumerate(names):
        client.create(vault_secret(name, "app", "vault", refreshInterval="1h", dataFrom=[{"path": f"{base}/s{i}"}]))
    for name in names:
        wait_cond(kube, name, "app", "True")
    assert settled(port, n) == n  # one read each; the status writes echoed back cost none

    # kopf keeps nothing on the objects and runs no daemon for them
    for obj in client.list(*VS, "app"):
        meta = obj["metadata"]
        assert not meta.get("finalizers"), meta
        assert not [k for k in meta.get("annotations") or {} if "kopf" in k], meta
    assert not daemons(proc.log_text())
    before = {o["metadata"]["name"]: o["status"]["refreshTime"] for o in client.list(*VS, "app")}
    proc.stop()

    # a restart: none is due, so none is read; their Secrets are checked from one list, not a GET each
    served = len(kube.requests())
    proc, port = start_vault_controller(kube, tmp_path, log_name="controller-2.log")
    proc.wait_for_log(f"VaultSecret start: {n} object(s), 0 due now", timeout=30)
    assert settled(port, 0) == 0
    gets = [p for m, p in kube.requests()[served:] if m == "GET" and p.split("?")[0].startswith(
        "/api/v1/namespaces/app/secrets/s")]
    assert gets == []
    assert {o["metadata"]["name"]: o["status"]["refreshTime"] for o in client.list(*VS, "app")} == before

    # a spec edit: exactly one sync (of that object)
    client.patch(*VS, "s0", {"spec": {"refreshInterval": "2h"}}, "app")
    client.wait_for(lambda: client.get(*VS, "s0", "app")["status"].get("observedGeneration") == 2, timeout=30,
                    message="s0 synced after its edit")
    assert settled(port, 1) == 1

    # the force-sync annotation: exactly one sync; the same value again (another annotation changed): none
    client.patch(*VS, "s1", {"metadata": {"annotations": {"sealer.dev/force-sync": "one"}}}, "app")
    assert settled(port, 2) == 2
    client.patch(*VS, "s1", {"metadata": {"annotations": {"note": "unrelated"}}}, "app")
    assert settled(port, 2) == 2

    # a deleted VaultSecret is no longer synced: one that refreshes every second stops reading
    client.create(vault_secret("fast", "app", "vault", refreshInterval="1s", dataFrom=[{"path": f"{base}/fast"}]))
    client.wait_for(lambda: reads(port) >= 5, timeout=30, message="fast refreshed a few times")
    client.delete(*VS, "fast", "app")
    client.wait_for(lambda: client.find(*VS, "fast", "app") is None, timeout=30)
    time.sleep(1.5)
    stopped_at = reads(port)
    time.sleep(3.0)
    assert reads(port) == stopped_at
    proc.stop()
    assert not daemons(proc.log_text())  # kopf logs a daemon's end at the operator's stop
    assert_no_leak(proc.log_text() + repr(client.events()) + repr(client.list(*VS)), token, plant)
    assert not kube.server_errors()


def test_only_the_active_peered_replica_syncs(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = f"peer-{secrets.token_hex(4)}"
    kv2_put(openbao, f"{base}/s", {"password": "peered"})
    openbao.write_policy(f"{base}-read", READ_ALL)
    token_secret(kube, "app", openbao.create_token(f"{base}-read"))
    kube.client.create(store(openbao, "vault", "app", token_auth()))
    argv = [sys.executable, "-m", "controller", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--resync-period", "0", "--key-renew-period", "0", "--vault-retry-min", "200ms", "--vault-retry-max", "1s"]
    ports = [free_port(), free_port()]
    procs = [kube.spawn([*argv, "--http-port", str(ports[i])], log=tmp_path / f"replica-{i}.log",
                        env={"POD_NAMESPACE": NS}) for i in range(2)]
    for p in procs:
        p.wait_for_log("sealer controller ready", timeout=60)
    kube.client.create(vault_secret("ha", "app", "vault", refreshInterval="1s", dataFrom=[{"path": f"{base}/s"}]))
    wait_cond(kube, "ha", "app", "True", timeout=60)
    kube.client.wait_for(lambda: sum(reads(port) for port in ports) >= 4, timeout=30, message="a few refreshes")
    work = [reads(port) for port in ports]
    assert sorted(w > 0 for w in work) == [False, True], work  # one replica did it all, the other nothing
