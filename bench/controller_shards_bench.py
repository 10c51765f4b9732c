"""Two replicas, one killed (issue 19): how long until a SealedSecret of the dead replica's share is unsealed by the
other, with `--shards 2` (Leases, default 15 s) and, in the same run, with kopf peering (deploy/'s default: one
active replica, the other on standby). Also: how the first unseal splits between the two shard replicas, and what
the survivor spends taking over (it resumes the dead replica's objects without decrypting them again).

The emulator and both controllers are separate processes; one RSA-4096 key Secret is created first. N
SealedSecrets of 5 values spread over 16 namespaces; a replica is killed with SIGKILL (no hand-over), then one new
SealedSecret is created in a namespace of the killed replica's shard and the time to its Secret is measured.

    .venv/bin/python -m bench.controller_shards_bench [--secrets 100]     prints a markdown table
"""

from __future__ import annotations

import argparse
import base64
import copy
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, make_secret, markdown_table
from bench.controller_bench import SYSTEM_NS, VALUES_PER_SECRET, metric, proc_cpu, start_emulator

NAMESPACES = [f"team-{i:02d}" for i in range(16)]


def spawn_replica(work: Path, kubeconfig: Path, name: str, *extra: str) -> tuple[Any, int]:
    from sealer_testkit.apiserver import free_port, spawn

    port = free_port()
    argv = [sys.executable, "-m", "controller", "--key-bits", "4096", "--http-host", "127.0.0.1", "--http-port",
            str(port), "--key-renew-period", "0", *extra]
    proc = spawn(argv, kubeconfig=kubeconfig, log=work / f"{name}.log", cwd=ROOT,
                 env={"POD_NAMESPACE": SYSTEM_NS, "POD_ID": name})
    proc.wait_for_log("sealer controller ready", timeout=120)
    return proc, port


def wait_secret(client: Any, name: str, namespace: str, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if client.find("v1", "Secret", name, namespace):
            return time.monotonic() - start
        time.sleep(0.1)
    raise TimeoutError(f"no Secret {namespace}/{name} after {timeout:.0f} s")


def sealed_objects(n: int, cert: Any) -> list[dict[str, Any]]:
    from sealer.sealed.sealedsecret import seal_secret

    out = []
    for i in range(n):
        secret = copy.deepcopy(make_secret(i))
        secret["metadata"]["namespace"] = NAMESPACES[i % len(NAMESPACES)]
        out.append(seal_secret(secret, cert))
    return out


def one_mode(work: Path, key_secret: dict[str, Any], cert: Any, n: int, sharded: bool) -> dict[str, float]:
    from sealer_testkit.apiserver import KubeClient, write_kubeconfig

    from controller.shards import shard_of
    from sealer.sealed.sealedsecret import seal_secret

    mode = "shards" if sharded else "peering"
    work = work / mode
    work.mkdir()
    emu, url = start_emulator(work)
    try:
        client = KubeClient(url)
        client.create(dict(key_secret))
        kubeconfig = write_kubeconfig(work / f"kubeconfig-{mode}", url)
        flags = [["--shards", "2", "--shard-index", str(i)] if sharded else ["--peering", "sealer"] for i in (0, 1)]
        replicas = [spawn_replica(work, kubeconfig, f"{mode}-{i}", *flags[i]) for i in (0, 1)]
        if sharded:
            replicas[1][0].wait_for_log("shard 1: acquired", timeout=60)
        else:
            time.sleep(5)  # kopf peering: the peers see each other and the lower priority pauses
        log(f"{mode}: creating {n} SealedSecrets")
        started = time.monotonic()
        for obj in sealed_objects(n, cert):
            client.create(obj)
        while sum(metric(p, "sealer_decrypt_operations_total") for _, p in replicas) < n * VALUES_PER_SECRET:
            time.sleep(0.2)
        first = time.monotonic() - started
        ops = [metric(p, "sealer_decrypt_operations_total") for _, p in replicas]
        victim = 1 if sharded else max((0, 1), key=lambda i: ops[i])  # peering: the active one
        survivor_proc, survivor_port = replicas[1 - victim]
        cpu_before = proc_cpu(survivor_proc.pid)
        os.kill(replicas[victim][0].pid, signal.SIGKILL)
        replicas[victim][0].stop()
        killed = time.monotonic()
        target = next(ns for ns in NAMESPACES if not sharded or shard_of(ns, 2) == victim)
        secret = copy.deepcopy(make_secret(9999))
        secret["metadata"].update({"name": "late", "namespace": target})
        client.create(seal_secret(secret, cert))
        wait_secret(client, "late", target, timeout=180)
        takeover = time.monotonic() - killed
        time.sleep(3)
        survivor_cpu = proc_cpu(survivor_proc.pid) - cpu_before
        survivor_ops_after = metric(survivor_port, "sealer_decrypt_operations_total")
        survivor_proc.stop()
        return {"first": first, "ops0": ops[0], "ops1": ops[1], "takeover": takeover, "survivor_cpu": survivor_cpu,
                "extra_ops": survivor_ops_after - ops[1 - victim] - VALUES_PER_SECRET}
    finally:
        emu.stop()


def run(n: int, work: Path) -> str:
    from controller import keyring as kr
    from sealer.sealed.keys import parse_cert

    key_secret = kr.new_key_secret(SYSTEM_NS, bits=4096)
    cert = parse_cert(base64.b64decode(key_secret["data"]["tls.crt"]), "key Secret")
    shards = one_mode(work, key_secret, cert, n, sharded=True)
    peering = one_mode(work, key_secret, cert, n, sharded=False)
    return markdown_table([
        [f"one of 2 replicas killed (SIGKILL): a new SealedSecret of its share unsealed by the other, {n} objects",
         f"{shards['takeover']:.1f} s (--shards 2, Lease 15 s)", f"{peering['takeover']:.1f} s (kopf peering, "
         "deploy/'s default)", f"{shards['takeover'] / peering['takeover']:.2f}", "<= 30 s",
         "pass" if shards["takeover"] <= 30 else "fail"],
        [f"taking over: survivor's CPU / private-key operations for the dead replica's {n // 2} objects",
         f"{shards['survivor_cpu']:.2f} s / {shards['extra_ops']}", f"{peering['survivor_cpu']:.2f} s / "
         f"{peering['extra_ops']}", "—", "0 decryptions", "pass" if shards["extra_ops"] == 0 else "fail"],
        [f"first unseal of {n} x {VALUES_PER_SECRET} values: wall time, decryptions per replica",
         f"{shards['first']:.1f} s, {shards['ops0']} + {shards['ops1']}",
         f"{peering['first']:.1f} s, {peering['ops0']} + {peering['ops1']}",
         f"{shards['first'] / peering['first']:.2f}", "each replica its share, none twice",
         "pass" if shards["ops0"] and shards["ops1"] and shards["ops0"] + shards["ops1"] == n * VALUES_PER_SECRET
         else "fail"],
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secrets", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealer-shards-") as tmp:
        print(run(args.secrets, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
