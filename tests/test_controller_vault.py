"""VaultSecret / VaultStore / ClusterVaultStore end to end: a real OpenBao dev server on 127.0.0.1, the Kubernetes
API emulator, and the controller as its own process (`python -m controller`).

What the emulator cannot show (CRD defaulting and validation) is covered by test_deploy.py (schemas) and
test_vault_units.py (the controller applies the same defaults itself).
"""

from __future__ import annotations

import base64
import re
import secrets
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.kube import KubeServer, kube  # noqa: F401  (fixture)
from tests.openbao import Bao, openbao, start_openbao  # noqa: F401  (fixture)
from tests.test_controller_e2e import free_port

NS = "sealer-system"
VS = ("sealer.dev/v1alpha1", "VaultSecret")
STORE = ("sealer.dev/v1alpha1", "VaultStore")
CSTORE = ("sealer.dev/v1alpha1", "ClusterVaultStore")
READ_ALL = 'path "*" { capabilities = ["read", "list"] }'


# --- helpers ------------------------------------------------------------------------------------------------


def start_controller(kube: KubeServer, tmp_path: Path, *extra: str, log_name: str = "controller.log"):
    port = free_port()
    argv = [sys.executable, "-m", "controller", "--standalone", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--http-port", str(port), "--resync-period", "0", "--key-renew-period", "0",
            "--vault-retry-min", "200ms", "--vault-retry-max", "1s", "--vault-store-check-period", "1s", *extra]
    proc = kube.spawn(argv, log=tmp_path / log_name, env={"POD_NAMESPACE": NS})
    proc.wait_for_log("sealer controller ready", timeout=60)
    return proc, port


def uniq(prefix: str) -> str:
    """Paths and names unique per test: the OpenBao server is shared by the whole session."""
    return f"{prefix}-{secrets.token_hex(4)}"


def kv2_put(bao: Bao, path: str, data: dict[str, Any], mount: str = "secret") -> int:
    return bao.api("POST", f"{mount}/data/{path}", {"data": data})["data"]["version"]


def token_secret(kube: KubeServer, namespace: str, token: str, name: str = "vault-token") -> None:
    kube.client.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                       "type": "Opaque", "data": {"token": base64.b64encode(token.encode()).decode()}})


def store(bao: Bao, name: str, namespace: str, auth: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": STORE[0], "kind": STORE[1], "metadata": {"name": name, "namespace": namespace},
            "spec": {"server": bao.addr, "auth": auth, **spec}}


def token_auth(name: str = "vault-token") -> dict[str, Any]:
    return {"token": {"secretRef": {"name": name, "key": "token"}}}


def vault_secret(name: str, namespace: str, store_name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": name, "namespace": namespace},
            "spec": {"storeRef": {"kind": "VaultStore", "name": store_name}, **spec}}


def items(kube: KubeServer, name: str, namespace: str) -> dict[str, bytes] | None:
    s = kube.client.find("v1", "Secret", name, namespace)
    return {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()} if s else None


def cond(kube: KubeServer, kind: tuple[str, str], name: str, namespace: str | None) -> dict[str, Any]:
    obj = kube.client.find(*kind, name, namespace) or {}
    return ((obj.get("status") or {}).get("conditions") or [{}])[0]


def wait_cond(kube: KubeServer, name: str, namespace: str | None, status: str, reason: str | None = None,
              kind: tuple[str, str] = VS, timeout: float = 30) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        c = cond(kube, kind, name, namespace)
        return c if c.get("status") == status and (reason is None or c.get("reason") == reason) else None

    return kube.client.wait_for(ok, timeout=timeout,
                                message=f"{kind[1]} {namespace}/{name} Ready={status} {reason or ''}; "
                                        f"last: {cond(kube, kind, name, namespace)}")


def wait_items(kube: KubeServer, name: str, namespace: str, check: Callable[[dict[str, bytes]], bool],
               timeout: float = 30) -> dict[str, bytes]:
    return kube.client.wait_for(lambda: (i := items(kube, name, namespace)) is not None and check(i) and i,
                                timeout=timeout, message=f"Secret {namespace}/{name}: {items(kube, name, namespace)}")


def force_sync(kube: KubeServer, name: str, namespace: str) -> None:
    kube.client.patch(*VS, name, {"metadata": {"annotations": {"sealer.dev/force-sync": str(time.time())}}},
                      namespace)


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))}


def assert_no_leak(everything: str, *planted: str) -> None:
    for value in planted:
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in everything, f"planted value leaked: {form[:6]}..."


# --- tests --------------------------------------------------------------------------------------------------


def test_token_auth_kv2_data_from_property_version_and_status(kube: KubeServer, openbao: Bao,
                                                               tmp_path: Path) -> None:
    base = uniq("app")
    plant = "PLANTED-vault-value-" + secrets.token_hex(6)
    kv2_put(openbao, f"{base}/db", {"username": "admin", "password": "v1-" + plant})
    kv2_put(openbao, f"{base}/db", {"username": "admin", "password": "v2-" + plant, "port": 5432})
    kv2_put(openbao, f"{base}/api", {"API_KEY": "key-" + plant, "region": "eu"})
    openbao.write_policy(f"{base}-read", READ_ALL)
    token = openbao.create_token(f"{base}-read")

    proc, port = start_controller(kube, tmp_path)
    token_secret(kube, "app", token)
    kube.client.create(store(openbao, "vault", "app", token_auth()))
    kube.client.create(vault_secret("db", "app", "vault", data=[
        {"secretKey": "user", "remoteRef": {"path": f"{base}/db", "property": "username"}},
        {"secretKey": "password", "remoteRef": {"path": f"{base}/db", "property": "password"}},
        {"secretKey": "old-password", "remoteRef": {"path": f"{base}/db", "property": "password", "version": 1}},
        {"secretKey": "port", "remoteRef": {"path": f"{base}/db", "property": "port"}},
        {"secretKey": "whole", "remoteRef": {"path": f"{base}/api"}}],
        dataFrom=[{"path": f"{base}/api"}],
        target={"template": {"type": "kubernetes.io/basic-auth",
                             "metadata": {"labels": {"team": "a"}, "annotations": {"note": "from vault"}}}}))

    got = wait_items(kube, "db", "app", lambda i: "password" in i)
    assert got == {"user": b"admin", "password": ("v2-" + plant).encode(), "old-password": ("v1-" + plant).encode(),
                   "port": b"5432", "whole": f'{{"API_KEY":"key-{plant}","region":"eu"}}'.encode(),
                   "API_KEY": ("key-" + plant).encode(), "region": b"eu"}
    secret = kube.client.get("v1", "Secret", "db", "app")
    vsec = kube.client.get(*VS, "db", "app")
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["metadata"]["labels"] == {"team": "a", "app.kubernetes.io/managed-by": "sealer"}
    assert secret["metadata"]["annotations"]["note"] == "from vault"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == vsec["metadata"]["uid"]
    c = wait_cond(kube, "db", "app", "True")
    assert "7 items from 3 Vault secrets" in c["message"]
    status = kube.client.get(*VS, "db", "app")["status"]
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{8}:[0-9a-f]{64}", status["dataHash"])
    assert status["refreshTime"] and status["syncedAt"] and status["observedGeneration"] == 1
    wait_cond(kube, "vault", "app", "True", "Valid", kind=STORE)

    # one login for the store, one read per Vault secret per sync (db latest, db v1, api)
    metrics = kube.client.wait_for(lambda: (m := scrape(port)).get("sealer_vault_sync_total", 0) >= 1 and m)
    assert metrics.get('sealer_vault_requests_total{operation="read",status="200"}') == 3
    assert metrics.get('sealer_vault_requests_total{operation="login",status="200"}') is None  # token auth: lookup
    assert metrics.get('sealer_vault_requests_total{operation="lookup",status="200"}') >= 1

    # a value changed in Vault shows up on force-sync (refreshInterval is the default 1h)
    kv2_put(openbao, f"{base}/api", {"API_KEY": "rotated-" + plant, "region": "eu"})
    force_sync(kube, "db", "app")
    wait_items(kube, "db", "app", lambda i: i["API_KEY"] == ("rotated-" + plant).encode())
    assert kube.client.get(*VS, "db", "app")["status"]["dataHash"] != status["dataHash"]
    assert any(e["reason"] == "Updated" for e in kube.client.events("app", name="db", kind="VaultSecret"))

    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS)) + repr(
        kube.client.list(*STORE))
    assert_no_leak(everything, token, plant)
    assert not kube.server_errors()
