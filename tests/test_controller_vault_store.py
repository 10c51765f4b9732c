"""The periodic VaultStore / ClusterVaultStore check (one loop for all stores) runs without a finalizer: the
controller process, the API emulator and a real OpenBao. A store whose token is bad turns Ready only through that
loop (no event on the store itself), for both scopes; no store carries a finalizer (one an older version added is
removed), a delete is immediate and the loop checks the store no more."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from sealer_testkit.apiserver import KubeServer

from tests.controller_process import NS
from tests.openbao import Bao
from tests.vault_resources import CSTORE, STORE, start_vault_controller, store, token_auth, token_secret, wait_cond

LOOP = "store check: VaultStore "  # the loop's line for a pass that found VaultStores


def test_store_check_loop_heals_stores_and_adds_no_finalizer(kube: KubeServer, openbao: Bao,
                                                              tmp_path: Path) -> None:
    client = kube.client
    for ns in (NS, "app"):
        client.ensure_namespace(ns)
    good = openbao.create_token("default")
    bad = "s." + secrets.token_hex(12)  # no such token: the lookup fails
    token_secret(kube, "app", bad)
    token_secret(kube, NS, bad, name="cluster-token")
    client.create(store(openbao, "vault", "app", token_auth()))
    client.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": "shared"}, "spec": {
        "server": openbao.addr, "namespaces": ["app"],
        "auth": {"token": {"secretRef": {"name": "cluster-token", "namespace": NS, "key": "token"}}}}})
    older = store(openbao, "older", "app", token_auth())
    older["metadata"]["finalizers"] = ["sealer.dev/finalizer"]  # what the kopf timer of earlier versions added
    client.create(older)
    proc, _port = start_vault_controller(kube, tmp_path)  # --vault-store-check-period 1s
    wait_cond(kube, "vault", "app", "False", kind=STORE)
    wait_cond(kube, "shared", None, "False", kind=CSTORE)

    # a Secret change is no event on the store: only the periodic check finds the stores healed
    token_secret(kube, "app", good)
    token_secret(kube, NS, good, name="cluster-token")
    wait_cond(kube, "vault", "app", "True", "Valid", kind=STORE)
    wait_cond(kube, "shared", None, "True", "Valid", kind=CSTORE)  # a cluster-scoped status patch
    client.wait_for(lambda: not client.get(*STORE, "older", "app")["metadata"].get("finalizers"), timeout=30,
                    message="the older finalizer removed")
    for kind, ns in ((STORE, "app"), (CSTORE, None)):
        for obj in client.list(*kind, ns):
            assert not obj["metadata"].get("finalizers"), obj["metadata"]
    proc.wait_for_log(LOOP, timeout=30, count=4)

    # deleted at once (nothing holds them), and their loops end
    for name in ("vault", "older"):
        client.delete(*STORE, name, "app")
        assert client.find(*STORE, name, "app") is None
    client.delete(*CSTORE, "shared")
    assert client.find(*CSTORE, "shared") is None
    time.sleep(1.5)  # a tick may have been under way at the delete
    loops = proc.log_text().count(LOOP)
    time.sleep(3)  # three check periods
    assert proc.log_text().count(LOOP) == loops
    proc.stop()
    assert "status not written" not in proc.log_text()
    assert not kube.server_errors()
