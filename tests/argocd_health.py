"""Argo CD's health checks run the way Argo CD runs them: a Lua script with `obj` as a global table (lupa, a real
Lua runtime). The sealer kinds' script is deploy/argocd/health.lua; Argo CD's own built-in bitnami.com SealedSecret
check is vendored beside this file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEALER_SCRIPT = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
BITNAMI_SCRIPT = (Path(__file__).parent / "argocd_bitnami_sealedsecret_health.lua").read_text()
KINDS = ("SealedSecret", "SopsSecret", "VaultSecret", "VaultPKISecret", "VaultPushSecret", "VaultStore",
         "ClusterVaultStore", "ClusterVaultSecret")


def run_health(script: str, obj: dict[str, Any]) -> dict[str, str]:
    """Argo CD's way: the script's body with `obj` a global table; it returns {status, message}."""
    from lupa import LuaRuntime

    lua = LuaRuntime(unpack_returned_tuples=True)

    def table(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: table(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([table(v) for v in value])
        return value

    lua.globals().obj = table(obj)
    result = lua.execute(script)
    return {k: result[k] for k in ("status", "message") if result[k] is not None}


def sealer_health(obj: dict[str, Any]) -> dict[str, str]:
    return run_health(SEALER_SCRIPT, obj)


def bitnami_health(obj: dict[str, Any]) -> dict[str, str]:
    return run_health(BITNAMI_SCRIPT, obj)
