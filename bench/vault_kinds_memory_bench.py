"""The kinds the scheduler refreshes, at scale, on one controller each: the RSS each object costs once synced and
the time to the first sync of all. ExternalSecrets (--eso-compat), VaultPKISecrets and VaultPushSecrets against
VaultSecrets, the peer: sealer's own kind whose scheduler keeps a small record per object. The other three ran as a
kopf daemon each before they moved onto it (issue 19). And VaultStores, whose periodic check was a kopf daemon each
(kopf still handles their create, update and resume).

Four processes: OpenBao (`bao server -dev`), the emulator, the controller, this bench.

    .venv/bin/python -m bench.vault_kinds_memory_bench [--objects 2000] [--pki 500] [--push 2000] [--stores 0]
                                                                                        prints a markdown table
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, markdown_table
from bench.controller_bench import SYSTEM_NS, proc_status_kib, start_emulator
from bench.vault_bench import create_store, fill_openbao
from controller.vault.esocompat import ESO_API

NS = "bench-eso"
PKI_MOUNT = "pki-bench"
PUSH_PATH = "bench-push"


def start(work: Path, kubeconfig: Path, name: str) -> Any:
    from sealer_testkit.apiserver import spawn

    proc = spawn([sys.executable, "-m", "controller", "--standalone", "--eso-compat", "--key-renew-period", "0"],
                 kubeconfig=kubeconfig, log=work / f"{name}.log", cwd=ROOT, env={"POD_NAMESPACE": SYSTEM_NS})
    proc.wait_for_log("sealer controller ready", timeout=300)
    return proc


def vault_secret(i: int) -> dict[str, Any]:
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultSecret", "metadata": {"name": f"app-{i:04d}",
            "namespace": NS}, "spec": {"storeRef": {"name": "vault"}, "refreshInterval": "1h",
                                       "dataFrom": [{"path": f"bench/app-{i:04d}"}]}}


def external_secret(i: int) -> dict[str, Any]:
    return {"apiVersion": ESO_API, "kind": "ExternalSecret", "metadata": {"name": f"app-{i:04d}", "namespace": NS},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "vault", "kind": "SecretStore"},
                     "dataFrom": [{"extract": {"key": f"bench/app-{i:04d}"}}]}}


def pki_secret(i: int) -> dict[str, Any]:
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultPKISecret", "metadata": {"name": f"cert-{i:04d}",
            "namespace": NS}, "spec": {"storeRef": {"name": "vault"}, "mount": PKI_MOUNT, "role": "bench",
                                       "commonName": f"app-{i:04d}.example.com", "ttl": "24h"}}


def push_secret(i: int) -> dict[str, Any]:
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultPushSecret", "metadata": {"name": f"push-{i:04d}",
            "namespace": NS}, "spec": {"storeRefs": [{"name": "vault"}], "refreshInterval": "1h",
                                       "selector": {"secret": {"name": "src"}},
                                       "data": [{"match": {"remoteRef": {"remoteKey": f"{PUSH_PATH}/app-{i:04d}"}}}]}}


def vault_store(i: int) -> dict[str, Any]:
    """Another VaultStore beside `vault` (`one` gives it `vault`'s spec: the same server and AppRole login)."""
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultStore", "metadata": {"name": f"store-{i:04d}",
            "namespace": NS}, "spec": {"server": "", "auth": {}}}


def pki_engine(bao: Any) -> None:
    """A PKI mount with a root and an EC role (fast to issue), and KV paths to push to, for the AppRole of
    `fill_openbao`."""
    bao.api("POST", f"sys/mounts/{PKI_MOUNT}", {"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    bao.api("POST", f"{PKI_MOUNT}/root/generate/internal", {"common_name": "bench root", "ttl": "8760h"})
    bao.api("POST", f"{PKI_MOUNT}/roles/bench", {"allowed_domains": "example.com", "allow_subdomains": True,
                                                 "key_type": "ec", "key_bits": 256, "max_ttl": "72h"})
    bao.write_policy("bench-read", 'path "secret/data/bench/*" { capabilities = ["read"] }\n'
                                   f'path "{PKI_MOUNT}/issue/bench" {{ capabilities = ["update"] }}\n'
                                   f'path "secret/data/{PUSH_PATH}/*" {{ capabilities = ["create", "read", '
                                   '"update"] }\n'
                                   f'path "secret/metadata/{PUSH_PATH}/*" {{ capabilities = ["create", "read", '
                                   '"update"] }')


def eso_store(client: Any, addr: str, role_id: str, secret_id: str) -> None:
    import base64

    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "approle-eso", "namespace": NS},
                   "data": {"secret-id": base64.b64encode(secret_id.encode()).decode()}})
    client.create({"apiVersion": ESO_API, "kind": "SecretStore", "metadata": {"name": "vault", "namespace": NS},
                   "spec": {"provider": {"vault": {"server": addr, "path": "secret", "version": "v2", "auth": {
                       "appRole": {"path": "approle", "roleId": role_id,
                                   "secretRef": {"name": "approle-eso", "key": "secret-id"}}}}}}})


KINDS = {"vault": vault_secret, "eso": external_secret, "pki": pki_secret, "push": push_secret, "store": vault_store}
READY = {"push": "VaultPushSecret", "store": "VaultStore"}  # kinds counted by their Ready condition, not a Secret


def synced(client: Any, name: str) -> int:
    """How many objects of the kind have synced: the Secrets they made (the store's own Secret aside), or the
    VaultPushSecrets ready (they make none)."""
    if name not in READY:
        return len(client.list("v1", "Secret", NS)) - 1
    return sum(1 for o in client.list("sealer.dev/v1alpha1", READY[name], NS)
               if o["metadata"]["name"] != "vault" and any(c.get("type") == "Ready" and c.get("status") == "True"
                                                           for c in (o.get("status") or {}).get("conditions") or []))


def one(work: Path, bao: Any, role_id: str, secret_id: str, n: int, name: str) -> tuple[float, float, float]:
    """(RSS ready, RSS once all n objects synced, seconds to that) for one kind (a key of KINDS) on a fresh emulator
    and controller."""
    from sealer_testkit.apiserver import KubeClient, write_kubeconfig

    (work / name).mkdir()
    emu, url = start_emulator(work / name)
    with contextlib.ExitStack() as stack:
        stack.callback(emu.stop)
        client = KubeClient(url)
        (eso_store if name == "eso" else lambda *a: create_store(*a, namespace=NS))(client, bao.addr, role_id,
                                                                                     secret_id)
        ctl = start(work / name, write_kubeconfig(work / name / "kubeconfig", url), "controller")
        stack.callback(ctl.stop)
        time.sleep(2.0)
        if name == "push":
            client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "src", "namespace": NS},
                           "data": {"password": "cHVzaGVk"}})
        objects = [KINDS[name](i) for i in range(n)]
        if name == "store":  # the same server and login as `vault`
            spec = client.get("sealer.dev/v1alpha1", "VaultStore", "vault", NS)["spec"]
            for obj in objects:
                obj["spec"] = spec
        ready = proc_status_kib(ctl.pid, "VmRSS")
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client.create, objects))
        client.wait_for(lambda: synced(client, name) >= n, timeout=1800, interval=1.0,
                        message=f"{n} {name} synced")
        took = time.monotonic() - t0
        time.sleep(5.0)  # the last status writes
        return ready, proc_status_kib(ctl.pid, "VmRSS"), took


def run(n: int, pki: int, pushes: int, stores: int, work: Path) -> str:
    from tests.openbao import start_openbao

    with start_openbao(work / "openbao") as bao:
        _, role_id, secret_id = fill_openbao(bao, n)
        pki_engine(bao)
        measured = {}
        for name, count in (("vault", n), ("eso", n), ("pki", pki), ("push", pushes), ("store", stores)):
            if count:
                log(f"kinds: {count} objects of {name} on a fresh controller")
                measured[name] = (count, *one(work, bao, role_id, secret_id, count, name))
    _, v_ready, v_synced, v_took = measured["vault"]
    v_per = (v_synced - v_ready) / n
    rows = []
    for name, label, plural in (("eso", "ExternalSecret", "ExternalSecrets (--eso-compat)"),
                                ("pki", "VaultPKISecret", "VaultPKISecrets"),
                                ("push", "VaultPushSecret", "VaultPushSecrets"),
                                ("store", "VaultStore", "VaultStores")):
        if name not in measured:
            continue
        count, ready, synced, took = measured[name]
        per = (synced - ready) / count
        rows += [
            [f"RSS per {label} once {count:,} are synced (VmRSS after - ready)", f"{per:.1f} KiB ({ready / 1024:.0f}"
             f" -> {synced / 1024:.0f} MiB)", f"VaultSecret {v_per:.1f} KiB at {n:,} ({v_ready / 1024:.0f} -> "
             f"{v_synced / 1024:.0f} MiB)", f"{per / v_per:.2f}" if v_per > 0 else "—", "—", "—"],
            [f"first sync of all {count:,} {plural}: create sent -> all " + ("ready" if name in READY else
                                                                              "Secrets exist"), f"{took:.1f} s",
             f"{v_took:.1f} s for {n:,} VaultSecrets", "—", "—", "—"],
        ]
    return markdown_table(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=2_000, help="VaultSecrets and ExternalSecrets")
    ap.add_argument("--pki", type=int, default=500, help="VaultPKISecrets (0: none)")
    ap.add_argument("--push", type=int, default=2_000, help="VaultPushSecrets (0: none)")
    ap.add_argument("--stores", type=int, default=0, help="VaultStores beside the one the others use (0: none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealer-kinds-bench-") as tmp:
        print(run(args.objects, args.pki, args.push, args.stores, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
