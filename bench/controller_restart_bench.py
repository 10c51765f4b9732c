"""A controller restart with N SealedSecrets already unsealed (issue 19): the new process's CPU until idle, its
private-key operations and its Secret writes, against the RSA time the first unseal of the same values needs on
one core (the peer, measured in this process in the same run).

The emulator and the controller are separate processes (as in controller_bench.py); an RSA-4096 key Secret is
created before the controller starts. Phase 1: N SealedSecrets of 5 values are created and unsealed. Phase 2: the
controller is stopped and started again; "idle" is when `sealer_reconcile_unchanged_total` plus
`sealer_decrypt_operations_total / 5` account for all N objects and the controller's CPU stops growing. Secret
writes are counted from the Secrets' resourceVersions before and after.

    .venv/bin/python -m bench.controller_restart_bench [--secrets 300]     prints a markdown table
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
from pathlib import Path

from bench.common import log, make_secret
from bench.controller_bench import SYSTEM_NS, VALUES_PER_SECRET, metric, proc_cpu, start_controller, start_emulator


def wait_idle(pid: int, port: int, n: int, timeout: float) -> tuple[float, float]:
    """(CPU seconds of the controller process, wall seconds) once every object is accounted for and idle."""
    start = time.monotonic()
    last = -1.0
    while time.monotonic() - start < timeout:
        done = metric(port, "sealer_reconcile_unchanged_total") + metric(
            port, "sealer_decrypt_operations_total") // VALUES_PER_SECRET
        cpu = proc_cpu(pid)
        if done >= n and cpu - last < 0.02:
            return cpu, time.monotonic() - start
        last = cpu
        time.sleep(0.5)
    raise TimeoutError(f"the controller did not account for {n} SealedSecrets in {timeout:.0f} s")


def run(n: int, work: Path) -> list[str]:
    from sealer_testkit.apiserver import KubeClient, free_port, write_kubeconfig

    from bench import rsa_peer
    from controller import keyring as kr
    from sealer.sealed.keys import load_private_keys, parse_cert
    from sealer.sealed.sealedsecret import seal_secret

    key_secret = kr.new_key_secret(SYSTEM_NS, bits=4096)
    cert = parse_cert(base64.b64decode(key_secret["data"]["tls.crt"]), "key Secret")
    (work / "key.pem").write_bytes(base64.b64decode(key_secret["data"]["tls.key"]))
    sealed = [seal_secret(make_secret(i), cert) for i in range(n)]
    namespace = sealed[0]["metadata"]["namespace"]
    emu, url = start_emulator(work)
    try:
        client = KubeClient(url)
        client.create(dict(key_secret))
        kubeconfig = write_kubeconfig(work / "kubeconfig", url)
        port = free_port()
        ctl = start_controller(work, kubeconfig, port)
        ready_cpu = proc_cpu(ctl.pid)
        log(f"restart: creating {n} SealedSecrets")
        for obj in sealed:
            client.create(obj)
        first_cpu, first_wall = wait_idle(ctl.pid, port, n, timeout=60 + n)
        first_ops = metric(port, "sealer_decrypt_operations_total")
        before = {s["metadata"]["name"]: s["metadata"]["resourceVersion"]
                  for s in client.list("v1", "Secret", namespace)}
        ctl.stop()
        log("restart: controller stopped; starting it again")
        port = free_port()
        ctl = start_controller(work, kubeconfig, port)
        ready2 = proc_cpu(ctl.pid)
        restart_cpu, restart_wall = wait_idle(ctl.pid, port, n, timeout=60 + n)
        ops = metric(port, "sealer_decrypt_operations_total")
        unchanged = metric(port, "sealer_reconcile_unchanged_total")
        after = {s["metadata"]["name"]: s["metadata"]["resourceVersion"]
                 for s in client.list("v1", "Secret", namespace)}
        ctl.stop()
    finally:
        emu.stop()
    writes = sum(1 for name, rv in after.items() if before.get(name) != rv) + len(set(before) - set(after))
    log(f"restart: peer, {n * VALUES_PER_SECRET:,} RSA-4096 OAEP decrypts on one core")
    private = rsa_peer.private_op(load_private_keys(str(work / "key.pem"))[0].key)
    peer = rsa_peer.run_ops(private, n * VALUES_PER_SECRET)
    reconcile_cpu = restart_cpu - ready2
    return [
        "| figure | sealer | peer | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
        f"| first unseal of {n:,} SealedSecrets x {VALUES_PER_SECRET} values (RSA-4096): controller CPU after "
        f"ready | {first_cpu - ready_cpu:.2f} s CPU ({first_wall:.1f} s wall), {first_ops:,} decryptions | "
        f"{peer.cpu:.2f} s CPU: the same {n * VALUES_PER_SECRET:,} RSA operations on one core | "
        f"{(first_cpu - ready_cpu) / peer.cpu:.2f} | — | — |",
        f"| restart with the {n:,} already unsealed: controller CPU from ready until idle | {reconcile_cpu:.2f} s "
        f"CPU ({restart_wall:.1f} s wall; start-up before ready {ready2:.2f} s) | {peer.cpu:.2f} s (the first "
        f"unseal's RSA time) | {reconcile_cpu / peer.cpu:.3f} | < 0.02 | "
        f"{'pass' if reconcile_cpu / peer.cpu < 0.02 else 'fail'} |",
        f"| restart: private-key operations / Secret writes / objects found unchanged | {ops} / {writes} / "
        f"{unchanged:,} | before issue 19: {n * VALUES_PER_SECRET:,} / 0 / 0 | — | 0 / 0 / {n:,} | "
        f"{'pass' if ops == 0 and writes == 0 and unchanged >= n else 'fail'} |",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secrets", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealer-restart-") as tmp:
        print("\n".join(run(args.secrets, Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
