"""Decryption on every core (issue 19, "All cores"): the items of SealedSecrets are opened on a pool of decrypt
threads, side by side, with a bounded number of objects in flight; during a burst the controller keeps answering
/healthz, makes every Secret right and decrypts nothing twice. Speed belongs in `bench/controller_bench.py` (the
burst against one core's RSA time, /healthz latencies); here only behaviour is asserted."""

from __future__ import annotations

import base64
import secrets
import threading
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.decryptpool import DecryptPool
from sealer.errors import DecryptionError
from sealer.sealed import sealedsecret as ss
from sealer.sealed.keys import parse_cert
from tests.controller_process import NS, metric, published_cert, start_controller
from tests.keypairs import KeyPair

PLANT = "PLANTED-cores-7d2a"
ITEMS = ("a", "b", "c", "d", "e")



def sealed(cert: Any, name: str, namespace: str, values: dict[str, str], hint: bool = True) -> dict:
    obj = ss.seal_secret({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                          "stringData": values}, cert)
    if not hint:  # as Bitnami's kubeseal writes it: no fingerprint annotation
        obj["metadata"]["annotations"].pop(ss.FINGERPRINT_ANNOTATION)
    return obj


class Recording:
    """A Mapper that runs items on threads and remembers how many it was given."""

    def __init__(self, pool: DecryptPool) -> None:
        self.pool, self.calls = pool, list[int]()

    def __call__(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        self.calls.append(len(items))
        return self.pool.map(fn, items)


@pytest.mark.parametrize("hint", [True, False])
def test_items_open_through_the_pool_with_the_same_result_as_in_turn(kp2048: KeyPair, kp2048b: KeyPair,
                                                                     hint: bool) -> None:
    values = {item: f"{PLANT}-{item}-{secrets.token_hex(4)}" for item in ITEMS}
    obj = sealed(kp2048.cert, "web", "app", values, hint)
    keys = [kp2048b.private, kp2048.private]  # the right key second: found by the first item
    pool = DecryptPool(workers=2)
    mapper = Recording(pool)
    try:
        opened = ss.open_items_with_keys(obj, keys, map=mapper)
    finally:
        pool.shutdown()
    assert opened == ss.open_items_with_keys(obj, keys)
    assert {k: v.decode() for k, (v, _) in opened.items()} == values
    assert {key.fingerprint for _, key in opened.values()} == {kp2048.private.fingerprint}
    # hinted: all five on the pool; unhinted: the first item finds the key in turn, the other four on the pool
    assert mapper.calls == ([5] if hint else [4])


def test_failing_items_are_all_named_as_in_turn(kp2048: KeyPair, kp2048b: KeyPair) -> None:
    obj = sealed(kp2048.cert, "web", "app", {item: "x" for item in ITEMS})
    other = sealed(kp2048b.cert, "web", "app", {"b": "y", "d": "z"})
    obj["spec"]["encryptedData"].update(other["spec"]["encryptedData"])
    pool = DecryptPool(workers=2)
    try:
        with pytest.raises(DecryptionError) as pooled:
            ss.open_items_with_keys(obj, [kp2048.private], map=pool.map)
    finally:
        pool.shutdown()
    with pytest.raises(DecryptionError) as in_turn:
        ss.open_items_with_keys(obj, [kp2048.private])
    assert str(pooled.value) == str(in_turn.value)
    assert "items b, d" in str(pooled.value)


def test_the_pool_runs_items_side_by_side_and_bounds_the_objects_in_flight() -> None:
    pool = DecryptPool(workers=2, objects=1)
    both = threading.Barrier(2, timeout=30)  # broken (an error) unless two items run at the same time
    try:
        names = pool.map(lambda _: (both.wait(), threading.current_thread().name)[1], [1, 2])
        assert len(set(names)) == 2 and all(n.startswith("decrypt") for n in names)
        entered = threading.Event()

        def second() -> None:
            with pool.slot():
                entered.set()

        with pool.slot():
            waiting = threading.Thread(target=second)
            waiting.start()
            assert not entered.wait(0.3)  # the only place is taken
        assert entered.wait(30)
        waiting.join()
    finally:
        pool.shutdown()


def test_with_every_core_taken_an_objects_items_open_in_its_own_thread() -> None:
    """As many objects as cores decrypting: handing items to the pool would only add wake-ups."""
    pool = DecryptPool(workers=2, objects=4)
    here = threading.current_thread().name
    others = [threading.Event(), threading.Event()]
    done = threading.Event()

    def hold(i: int) -> None:
        with pool.slot():
            others[i].set()
            done.wait(30)

    holders = [threading.Thread(target=hold, args=(i,)) for i in range(2)]
    try:
        with pool.slot():  # alone: side by side on the pool
            assert all(n.startswith("decrypt") for n in pool.map(lambda _: threading.current_thread().name, [1, 2]))
        for t in holders:
            t.start()
        assert all(e.wait(30) for e in others)
        with pool.slot():  # two others hold places on 2 cores: in this thread
            assert pool.map(lambda _: threading.current_thread().name, [1, 2, 3]) == [here] * 3
    finally:
        done.set()
        for t in holders:
            t.join(30)
        pool.shutdown()


def test_a_burst_is_unsealed_once_each_while_healthz_answers(kube: KubeServer, tmp_path: Path) -> None:
    n = 60
    proc, port = start_controller(kube, tmp_path, resync_period="10m")
    cert_path, _ = published_cert(kube, tmp_path)
    cert = parse_cert(cert_path.read_bytes(), "test")
    namespaces = ("app", "team-b")
    want = {(namespaces[i % 2], f"s{i:02d}"): {item: f"{PLANT}-{i}-{item}-{secrets.token_hex(6)}" for item in ITEMS}
            for i in range(n)}
    objects = [sealed(cert, name, ns, values) for (ns, name), values in want.items()]

    answers: list[int | str] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
                    answers.append(resp.status)
            except OSError as e:  # no answer, or not 200
                answers.append(type(e).__name__)
            stop.wait(0.05)

    def done() -> bool:
        have = {(s["metadata"]["namespace"], s["metadata"]["name"]) for ns in namespaces
                for s in kube.client.list("v1", "Secret", ns)}
        return set(want) <= have

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for obj in objects:
            kube.client.create(obj)
        kube.client.wait_for(done, timeout=120, message="every Secret of the burst")
    finally:
        stop.set()
        prober.join()
    assert len(answers) >= 5, answers  # the probe ran through the burst
    assert set(answers) == {200}, answers

    for (ns, name), values in want.items():
        data = kube.client.get("v1", "Secret", name, ns)["data"]
        assert {k: base64.b64decode(v).decode() for k, v in data.items()} == values
    kube.client.wait_for(lambda: metric(port, "sealer_decrypt_operations_total") >= n * len(ITEMS), timeout=30)
    assert metric(port, "sealer_decrypt_operations_total") == n * len(ITEMS)  # nothing decrypted twice
    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list("v1", "ConfigMap", NS))
    assert PLANT not in everything
