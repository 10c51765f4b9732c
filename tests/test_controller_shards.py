"""Shards (issue 19): replicas split the namespaces by a stable hash and serve their share through Leases; a home
replica claims its shard back from a stand-in without a gap or an overlap; a killed replica's shard is taken over
once its Lease expires. The protocol is checked against the API emulator's Leases (resourceVersion
preconditions, as a real API server), the whole with two controller processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sealer_testkit.apiserver import KubeServer

from controller import shards
from controller.leases import WANTED_BY, ShardLeases
from tests.controller_process import NS, metric, published_cert, seal, secret_items, start_controller

PLANT = "PLANTED-shards-7d2a"


def test_shard_of_is_stable_and_spreads() -> None:
    # pinned: a new release must map every namespace to the same shard, or two versions would serve one twice
    assert [shards.shard_of(ns, 2) for ns in ("app", "team-b", "payments", "kube-system")] == [1, 0, 0, 1]
    assert [shards.shard_of(ns, 3) for ns in ("app", "team-b", "payments", "kube-system")] == [0, 2, 0, 1]
    assert shards.shard_of(None, 4) == 0 and shards.shard_of("anything", 1) == 0
    counts = [0] * 4
    for i in range(4000):
        counts[shards.shard_of(f"ns-{i}", 4)] += 1
    assert min(counts) > 900, counts
    assert shards.ordinal("sealer-controller-12") == 12 and shards.ordinal("sealer-7f9c-abcde") is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(kube: KubeServer, home: int, clock: Clock, count: int = 2) -> ShardLeases:
    from controller.kube import Kube

    sharding = shards.Sharding(count, home, f"replica-{home}")
    return ShardLeases(Kube(str(kube.kubeconfig)), NS, sharding, 15.0, clock=clock)


def holders(kube: KubeServer, count: int = 2) -> list[str]:
    return [((kube.client.find("coordination.k8s.io/v1", "Lease", shards.lease_name(i), NS) or {}).get("spec")
             or {}).get("holderIdentity") or "" for i in range(count)]


def test_leases_hand_over_without_overlap_and_take_over_when_expired(kube: KubeServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    a, b = replica(kube, 0, clock), replica(kube, 1, clock)

    def disjoint() -> None:
        assert not (a.held & b.held), (a.held, b.held)

    assert a.tick() and a.settle() == {0, 1}  # alone: it serves every shard
    assert holders(kube) == ["replica-0", "replica-0"]
    assert not b.tick() and b.settle() == set()  # shard 1's home claims it...
    lease = kube.client.get("coordination.k8s.io/v1", "Lease", shards.lease_name(1), NS)
    assert lease["metadata"]["annotations"][WANTED_BY] == "replica-1"
    disjoint()
    assert a.tick() and a.leaving == {1} and a.held == {0, 1}  # ...the stand-in stops serving it first...
    assert a.settle() == {0}  # ...then writes the claimant as the holder
    assert holders(kube) == ["replica-0", "replica-1"]
    disjoint()
    assert b.tick() and b.settle() == {1}
    disjoint()
    for _ in range(3):  # steady: both renew, nothing moves
        clock.now += 2
        assert not a.tick() and not b.tick()
    # replica 0 dies (no more renewals): replica 1 takes shard 0 once its Lease has not changed for 15 s
    clock.now += 14
    assert not b.tick() and b.held == {1}
    clock.now += 2
    assert b.tick() and b.settle() == {0, 1}
    assert holders(kube) == ["replica-1", "replica-1"]
    # a replica that could not renew within the renew deadline (10 s) stops serving before the Lease expires
    lost = replica(kube, 0, clock)
    lost.held, lost._renewed = frozenset({0}), {0: clock.now - 11}
    monkeypatch.setattr(lost.kube, "get_lease", lambda *_: (_ for _ in ()).throw(ConnectionError()))
    assert lost.tick() and lost.held == frozenset() and not lost.sharding.owns("app")


def namespaces_by_shard(count: int = 2, per_shard: int = 2) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in range(count)}
    i = 0
    while any(len(v) < per_shard for v in found.values()):
        ns = f"tenant-{i}"
        if len(found[shards.shard_of(ns, count)]) < per_shard:
            found[shards.shard_of(ns, count)].append(ns)
        i += 1
    return found


def test_two_shards_split_the_work_and_one_takes_over_when_the_other_dies(kube: KubeServer, tmp_path: Path) -> None:
    by_shard = namespaces_by_shard()
    flags = ("--shards", "2", "--shard-lease-duration", "3s")
    a, port_a = start_controller(kube, tmp_path, *flags, "--shard-index", "0", log_name="a.log", resync_period="1h")
    cert, _ = published_cert(kube, tmp_path)
    b, port_b = start_controller(kube, tmp_path, *flags, "--shard-index", "1", log_name="b.log", resync_period="1h")
    b.wait_for_log("shard 1: acquired", timeout=30)  # replica 0 served both until its home replica claimed shard 1
    kube.client.wait_for(lambda: all(h := holders(kube)) and h[0] != h[1], timeout=30, message="a holder per shard")
    objects = [(ns, f"s{j}") for shard in (0, 1) for ns in by_shard[shard] for j in range(2)]
    for ns, name in objects:
        kube.client.create(seal(tmp_path, cert, name, ns, f"{PLANT}-{ns}-{name}"))
    for ns, name in objects:
        kube.client.wait_for(lambda ns=ns, name=name: secret_items(kube, name, ns), timeout=60, message=f"{ns}/{name}")
    # each object opened exactly once, by the replica of its shard (2 items each, 4 objects per shard)
    assert metric(port_a, "sealer_decrypt_operations_total") == 2 * 4
    assert metric(port_b, "sealer_decrypt_operations_total") == 2 * 4

    os.kill(b.pid, signal.SIGKILL)  # no release: replica 0 must wait for the Lease to expire
    b.stop()
    started = time.monotonic()
    ns1 = by_shard[1][0]
    kube.client.create(seal(tmp_path, cert, "late", ns1, f"{PLANT}-late"))
    kube.client.wait_for(lambda: secret_items(kube, "late", ns1), timeout=30, message="taken over within 30 s")
    took = time.monotonic() - started
    assert took < 30
    assert holders(kube) == [holders(kube)[0]] * 2
    # taking over resumed shard 1's objects without decrypting them again: only the new one was opened
    assert metric(port_a, "sealer_decrypt_operations_total") == 2 * 4 + 2
    a.stop()
    for proc in (a, b):
        assert PLANT not in proc.log_text()
    assert holders(kube) == ["", ""]  # a graceful stop hands its Leases back at once
