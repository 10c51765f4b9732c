"""The controller at fleet scale (issue 19): 10,000 SealedSecrets (5 values, RSA-4096) and 2,000 VaultSecrets on
one controller. Measured: the first unseal, the controller's RSS, a resync pass over the 10,000, and a restart
(controller CPU from ready until idle, private-key operations, Secret writes); the peer is the RSA time the same
private-key operations need on one core (2,000 of them timed in this process, scaled: they are all alike).

Four processes: OpenBao (`bao server -dev`), the emulator, the controller, this bench.

    .venv/bin/python -m bench.controller_scale_bench [--sealed 10000] [--vault 2000]     prints a markdown table
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import ROOT, VALUES_PER_SECRET, log, make_secret, markdown_table
from bench.controller_bench import SYSTEM_NS, metric, proc_cpu, proc_status_kib, start_emulator
from bench.vault_bench import NS as VAULT_NS
from bench.vault_bench import create_store, fill_openbao

RESYNC = 240  # seconds: --resync-period, long enough that no pass starts during the first unseal
NAMESPACES = 50


def start(work: Path, kubeconfig: Path, name: str) -> tuple[Any, int]:
    from sealer_testkit.apiserver import free_port, spawn

    port = free_port()
    proc = spawn([sys.executable, "-m", "controller", "--standalone", "--http-host", "127.0.0.1", "--http-port",
                  str(port), "--resync-period", f"{RESYNC}s", "--key-renew-period", "0"], kubeconfig=kubeconfig,
                 log=work / f"{name}.log", cwd=ROOT, env={"POD_NAMESPACE": SYSTEM_NS})
    proc.wait_for_log("sealer controller ready", timeout=300)
    return proc, port


def idle(pid: int, port: int, done: Any, timeout: float) -> tuple[float, float]:
    """(controller CPU, wall) once ``done(port)`` holds and the CPU stopped growing."""
    t0, last = time.monotonic(), -1.0
    while time.monotonic() - t0 < timeout:
        cpu = proc_cpu(pid)
        if done(port) and cpu - last < 0.05:
            return cpu, time.monotonic() - t0
        last = cpu
        time.sleep(1.0)
    raise TimeoutError("the controller did not settle")


def secret_versions(client: Any) -> dict[tuple[str, str], str]:
    return {(s["metadata"]["namespace"], s["metadata"]["name"]): s["metadata"]["resourceVersion"]
            for s in client.list("v1", "Secret", label_selector="sealer.dev/produced-by")}


def run(n: int, m: int, work: Path) -> str:
    from sealer_testkit.apiserver import KubeClient, write_kubeconfig

    from bench import rsa_peer
    from controller import keyring as kr
    from sealer.sealed.keys import load_private_keys, parse_cert
    from sealer.sealed.sealedsecret import seal_secret
    from tests.openbao import start_openbao

    key_secret = kr.new_key_secret(SYSTEM_NS, bits=4096)
    cert = parse_cert(base64.b64decode(key_secret["data"]["tls.crt"]), "key Secret")
    (work / "key.pem").write_bytes(base64.b64decode(key_secret["data"]["tls.key"]))
    log(f"scale: sealing {n} Secrets x {VALUES_PER_SECRET} values")
    sealed = []
    for i in range(n):
        secret = make_secret(i)
        secret["metadata"]["namespace"] = f"team-{i % NAMESPACES:02d}"
        sealed.append(seal_secret(secret, cert))
    with contextlib.ExitStack() as stack:
        bao = stack.enter_context(start_openbao(work / "openbao"))
        _, role_id, secret_id = fill_openbao(bao, m)
        emu, url = start_emulator(work)
        stack.callback(emu.stop)
        client = KubeClient(url)
        client.create(dict(key_secret))
        create_store(client, bao.addr, role_id, secret_id)
        kubeconfig = write_kubeconfig(work / "kubeconfig", url)
        ctl, port = start(work, kubeconfig, "controller")
        stack.callback(lambda: ctl.stop())
        rss_ready = proc_status_kib(ctl.pid, "VmRSS")
        ready_cpu = proc_cpu(ctl.pid)
        log(f"scale: creating {n} SealedSecrets and {m} VaultSecrets")
        vault = [{"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultSecret",
                  "metadata": {"name": f"app-{i:04d}", "namespace": VAULT_NS},
                  "spec": {"storeRef": {"name": "vault"}, "refreshInterval": "1h",
                           "dataFrom": [{"path": f"bench/app-{i:04d}"}]}} for i in range(m)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client.create, sealed + vault))

        def first_done(p: int) -> bool:
            return (metric(p, "sealer_decrypt_operations_total") >= n * VALUES_PER_SECRET
                    and len(client.list("v1", "Secret", VAULT_NS, label_selector="sealer.dev/produced-by")) >= m)

        first_cpu, _ = idle(ctl.pid, port, first_done, timeout=7200)
        first_wall = time.monotonic() - t0
        rss_first = proc_status_kib(ctl.pid, "VmRSS")
        log(f"scale: first unseal and sync in {first_wall:.0f} s; waiting for a resync pass")
        passes = ctl.log_text().count("SealedSecret resync: ")
        ops = metric(port, "sealer_decrypt_operations_total")
        ctl.wait_for_log("SealedSecret resync: ", timeout=RESYNC + 600, count=passes + 1)
        resync_seconds = float(ctl.log_text().rsplit("SealedSecret resync: ", 1)[1].split(" in ")[1].split(" s")[0])
        resync_ops = metric(port, "sealer_decrypt_operations_total") - ops
        before = secret_versions(client)
        log("scale: restarting the controller")
        ctl.stop()
        ctl, port = start(work, kubeconfig, "controller-2")
        ready2 = proc_cpu(ctl.pid)
        restart_cpu, restart_wall = idle(ctl.pid, port,
                                         lambda p: metric(p, "sealer_reconcile_unchanged_total") >= n, timeout=3600)
        restart_ops = metric(port, "sealer_decrypt_operations_total")
        rss_restart = proc_status_kib(ctl.pid, "VmRSS")
        after = secret_versions(client)
        writes = sum(1 for k, v in after.items() if before.get(k) != v) + len(set(before) - set(after))
    log("scale: peer, 2,000 RSA-4096 OAEP decrypts on one core")
    private = rsa_peer.private_op(load_private_keys(str(work / "key.pem"))[0].key)
    sample = rsa_peer.run_ops(private, 2000)
    rsa = sample.cpu / 2000 * n * VALUES_PER_SECRET
    reconcile = restart_cpu - ready2
    mib = 1024
    return markdown_table([
        [f"first unseal of {n:,} x {VALUES_PER_SECRET} values + first sync of {m:,} VaultSecrets",
         f"{first_wall:.0f} s wall, {first_cpu - ready_cpu:.0f} s controller CPU", f"{rsa:.0f} s: the RSA work on "
         "one core", f"{(first_cpu - ready_cpu) / rsa:.2f}", "—", "—"],
        [f"RSS with {n:,} SealedSecrets + {m:,} VaultSecrets (ready / after the first sync / after a restart)",
         f"{rss_ready / mib:.0f} / {rss_first / mib:.0f} / {rss_restart / mib:.0f} MiB", "—", "—", "< 250 MiB",
         "pass" if max(rss_first, rss_restart) < 250 * mib else "fail"],
        [f"resync pass over the {n:,}: wall, private-key operations", f"{resync_seconds:.1f} s, {resync_ops}",
         "—", "—", "< 60 s, 0", "pass" if resync_seconds < 60 and resync_ops == 0 else "fail"],
        [f"restart with the {n:,} unsealed: controller CPU from ready until idle", f"{reconcile:.1f} s "
         f"({restart_wall:.0f} s wall)", f"{rsa:.0f} s (their first unseal's RSA time)", f"{reconcile / rsa:.3f}",
         "< 0.02", "pass" if reconcile / rsa < 0.02 else "fail"],
        ["restart: private-key operations / Secret writes", f"{restart_ops} / {writes}", "—", "—", "0 / 0",
         "pass" if restart_ops == 0 and writes == 0 else "fail"],
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sealed", type=int, default=10_000)
    ap.add_argument("--vault", type=int, default=2_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealer-scale-") as tmp:
        print(run(args.sealed, args.vault, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
