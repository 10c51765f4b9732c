"""VaultSecret / VaultStore / ClusterVaultStore objects as tests create them, the controller started with the short
Vault retry periods tests need, and waits on what it makes of them."""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealer_testkit.apiserver import KubeServer, Proc

from tests.controller_process import secret_items, start_controller
from tests.openbao import Bao

VS = ("sealer.dev/v1alpha1", "VaultSecret")
STORE = ("sealer.dev/v1alpha1", "VaultStore")
CSTORE = ("sealer.dev/v1alpha1", "ClusterVaultStore")


def start_vault_controller(kube: KubeServer, tmp_path: Path, *extra: str,
                           log_name: str = "controller.log") -> tuple[Proc, int]:
    """No periodic resync (Vault refreshes are driven by refreshInterval) and retries/store checks within seconds."""
    return start_controller(kube, tmp_path, "--vault-retry-min", "200ms", "--vault-retry-max", "1s",
                            "--vault-store-check-period", "1s", *extra, log_name=log_name, resync_period="0")


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


def _condition(kube: KubeServer, kind: tuple[str, str], name: str, namespace: str | None) -> dict[str, Any]:
    obj = kube.client.find(*kind, name, namespace) or {}
    return ((obj.get("status") or {}).get("conditions") or [{}])[0]


def wait_cond(kube: KubeServer, name: str, namespace: str | None, status: str, reason: str | None = None,
              kind: tuple[str, str] = VS, timeout: float = 30) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        c = _condition(kube, kind, name, namespace)
        return c if c.get("status") == status and (reason is None or c.get("reason") == reason) else None

    return kube.client.wait_for(ok, timeout=timeout,
                                message=f"{kind[1]} {namespace}/{name} Ready={status} {reason or ''}; "
                                        f"last: {_condition(kube, kind, name, namespace)}")


def wait_items(kube: KubeServer, name: str, namespace: str, check: Callable[[dict[str, bytes]], bool],
               timeout: float = 30) -> dict[str, bytes]:
    return kube.client.wait_for(lambda: (i := secret_items(kube, name, namespace)) is not None and check(i) and i,
                                timeout=timeout,
                                message=f"Secret {namespace}/{name}: {secret_items(kube, name, namespace)}")


def scrape(port: int) -> dict[str, float]:
    """The controller's /metrics as {series: value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))}
