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


def test_the_rows_carry_issue_19s_goals():
    """Burst <= 0.65x one core, idle p50 <= 1.3x, every /healthz probe under 100 ms, each value decrypted once."""
    def run(wall: float, probes: list[float], decrypts: int) -> controller_bench.Burst:
        b = burst(wall, 10.0, 5.0)
        b.latencies, b.idle_latencies = [1.0] * 10, [0.1] * 5  # 5 values at 50/s: 0.1 s = 1.0x
        b.healthz, b.healthz_idle, b.decrypts = probes, [0.004] * 5, decrypts
        b.healthz_control = [0.003] * (len(probes) - 1) + [0.090]
        b.control_at_slowest = 0.090 if max(probes) > 0.1 else 0.003
        return b

    def rows(*runs: controller_bench.Burst) -> dict[str, report.Row]:
        res = controller_bench.ControllerResults(secrets=100, reps=len(runs), idle=5, runs=list(runs))
        return {r.figure.split(" (")[0]: r for r in report._controller_rows(res)}

    good = rows(run(6.0, [0.010] * 90, 525), run(6.4, [0.012] * 90, 525))
    burst_row = next(r for k, r in good.items() if k.startswith("controller: 100 SealedSecrets"))
    assert (burst_row.ratio, burst_row.target, burst_row.verdict) == ("0.62", "≤ 0.65", "pass")
    idle = good["controller: latency create → Secret when idle, p50"]
    assert (idle.ratio, idle.target, idle.verdict) == ("1.00", "≤ 1.3", "pass")
    healthz = good["controller: `/healthz` during the burst, a probe every 200 ms on a new connection"]
    assert healthz.verdict == "pass" and "0 of 180 at or over 100 ms" in healthz.sealer
    assert good["controller: private-key decryptions in a run"].verdict == "pass"

    bad = rows(run(7.0, [0.010] * 89 + [0.125], 525), run(7.0, [0.010] * 90, 530))
    assert next(r for k, r in bad.items() if k.startswith("controller: 100 SealedSecrets")).verdict == "**fail**"
    healthz = bad["controller: `/healthz` during the burst, a probe every 200 ms on a new connection"]
    assert healthz.verdict == "**fail**" and "slowest 125 ms; 1 of 180" in healthz.sealer
    assert "slowest 90 ms, 90 ms right after the slowest /healthz: a trivial HTTP server" in healthz.peer
    assert "p99 4 ms: the idle controller" in healthz.peer
    decrypts = bad["controller: private-key decryptions in a run"]
    assert decrypts.verdict == "**fail**" and decrypts.sealer == "525, 530"


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
                waiting = asyncio.create_task(watch.wait(keys, 60))
                for name in ("a", "b", "c"):
                    await asyncio.sleep(0.05)
                    assert not waiting.done()  # woken by the last one only
                    await asyncio.to_thread(kube.client.create, secret(name))
                all_came = await asyncio.wait_for(waiting, 10)  # woken by the last Secret, not by the timeout
                already = await watch.wait([("w", "a")], 0.01)
                never = await watch.wait([("w", "a"), ("w", "never")], 0.3)
                return all_came, already, never
            finally:
                task.cancel()

    assert asyncio.run(run()) == (True, True, False)


def test_the_probe_measures_healthz_and_the_control_server_in_turn(tmp_path) -> None:
    """The probe process and the control server, as the burst runs them: each round a GET of the probed URL, then
    one of the control server; latencies for both, none failed; a port nobody serves counts as failed (-1)."""
    import time

    from sealer_testkit.apiserver import free_port

    port, closed = free_port(), free_port()
    server = controller_bench.start_control(port)
    try:
        deadline = time.monotonic() + 20
        while controller_bench._get(f"http://127.0.0.1:{port}/healthz") < 0:
            assert time.monotonic() < deadline, "the control server did not start"
            time.sleep(0.05)
        out = tmp_path / "probe.json"
        probe = controller_bench.start_probe(closed, out, port)
        time.sleep(1.5)
        found, control = controller_bench.stop_probe(probe, out)
    finally:
        server.kill()
        server.wait()
    assert found and set(found) == {-1.0}  # nothing listens on `closed`
    assert len(control) == len(found) and all(0 < x < 10 for x in control)
