"""The controller burst's rows in the bench report: the burst is set against one core's RSA time and against the
floor (the same RSA work on one thread per core), both from the same run."""

from __future__ import annotations

import argparse

import pytest

from bench import controller_bench, report
from bench.common import Timing


def burst(wall: float, one_core: float, floor: float) -> controller_bench.Burst:
    return controller_bench.Burst(secrets=100, peer_ops=500, peer=Timing(one_core, one_core),
                                  peer_all=Timing(floor, 2 * floor), all_wall=wall, seen=100)


def test_burst_against_one_core_and_against_the_floor():
    res = controller_bench.ControllerResults(secrets=100, reps=2, runs=[burst(6.0, 10.0, 5.0), burst(8.0, 10.0, 5.0)])
    rows = {r.figure.split(" (")[0]: r for r in report._controller_rows(res)}
    floor = rows["controller: the same burst against the floor"]
    assert floor.ratio == "1.40"  # median of 6/5 and 8/5
    assert "0.50x of one core's time" in floor.peer
    first = next(r for r in rows.values() if r.figure.startswith("controller: 100 SealedSecrets"))
    assert first.ratio == "0.70"


def test_no_floor_row_without_the_floor():
    run = burst(6.0, 10.0, 5.0)
    run.peer_all = None
    rows = report._controller_rows(controller_bench.ControllerResults(secrets=100, reps=1, runs=[run]))
    assert not any("floor" in r.figure for r in rows)


def test_key_bits_are_checked_by_the_command_line() -> None:
    assert controller_bench.key_bits("2048") == 2048
    for bad in ("1024", "3000", "abc", "16384"):
        with pytest.raises(argparse.ArgumentTypeError, match="multiple of 256 from 2048 to 8192"):
            controller_bench.key_bits(bad)


def test_the_burst_watch_waits_for_every_secret_and_no_longer(kube) -> None:
    """`SecretWatch.wait` is woken once, by the last Secret it waits for: True when all came (some before the wait
    began), False at the timeout when one never comes."""
    import asyncio

    import aiohttp

    kube.client.ensure_namespace("w")

    def secret(name: str) -> dict:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "w"}, "data": {}}

    async def run() -> tuple[bool, bool, bool]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{kube.url}/api/v1/secrets") as resp:
                rv = (await resp.json())["metadata"]["resourceVersion"]
            watch = controller_bench.SecretWatch()
            task = asyncio.create_task(watch.run(session, kube.url, rv))
            try:
                await asyncio.to_thread(kube.client.create, secret("early"))
                while ("w", "early") not in watch.seen:
                    await asyncio.sleep(0.01)
                keys = [("w", n) for n in ("early", "a", "b", "c")]
                waiting = asyncio.create_task(watch.wait(keys, 10))
                for name in ("a", "b", "c"):
                    await asyncio.sleep(0.05)
                    assert not waiting.done()  # woken by the last one only
                    await asyncio.to_thread(kube.client.create, secret(name))
                all_came = await waiting
                already = await watch.wait([("w", "a")], 0.01)
                never = await watch.wait([("w", "a"), ("w", "never")], 0.3)
                return all_came, already, never
            finally:
                task.cancel()

    assert asyncio.run(run()) == (True, True, False)
