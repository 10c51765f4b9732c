"""The Argo CD health checks in deploy/argocd/, run with a real Lua runtime (lupa) on the status objects
`controller/status.py` writes, and Argo CD's own built-in bitnami.com SealedSecret check (vendored) on the same.
tests/test_bitnami_controller.py runs both on objects the controller process wrote."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
import yaml

from controller import status
from controller.runtime import Result
from tests.argocd_health import KINDS, ROOT, SEALER_SCRIPT, bitnami_health, sealer_health


def written(kind: str, result: Result, generation: int = 2) -> dict[str, Any]:
    """An object of ``kind`` with the status `controller.status` writes for ``result``."""
    meta = {"name": "db", "namespace": "app", "generation": generation}
    patch = kopf.Patch()
    # the same condition already there: a repeat, which posts no Event (posting needs a running operator)
    before = {"status": {"conditions": [status.condition(result.ready, result.reason, result.message, generation)]}}
    status.set_ready(kind, result, before, meta, patch, announce=False)
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": kind, "metadata": meta,
            "status": {k: v for k, v in patch["status"].items()}}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind(kind: str) -> None:
    ok = written(kind, Result(True, "Unsealed", "unsealed 2 items"))
    assert sealer_health(ok) == {"status": "Healthy", "message": "unsealed 2 items"}
    failed = written(kind, Result(False, "UnsealFailed", "no key opens item password"))
    assert sealer_health(failed) == {"status": "Degraded", "message": "UnsealFailed: no key opens item password"}
    behind = {**ok, "metadata": {**ok["metadata"], "generation": 3}}  # spec changed, not yet observed
    assert sealer_health(behind)["status"] == "Progressing"
    assert sealer_health({**ok, "status": {}})["status"] == "Progressing"  # not yet synced
    assert sealer_health({k: v for k, v in ok.items() if k != "status"})["status"] == "Progressing"
    unknown = written(kind, Result(True, "Unsealed", ""))
    unknown["status"]["conditions"][0]["status"] = "Unknown"
    assert sealer_health(unknown)["status"] == "Progressing"


def test_argocds_builtin_bitnami_check_reads_synced() -> None:
    """Argo CD's own check for bitnami.com SealedSecrets: Healthy on what sealer writes, Degraded on a failure,
    Progressing before the first status."""
    ok = written("SealedSecret", Result(True, "Unsealed", "unsealed 1 item"))
    ok["apiVersion"] = "bitnami.com/v1alpha1"
    assert bitnami_health(ok)["status"] == "Healthy"
    failed = written("SealedSecret", Result(False, "UnsealFailed", "no key opens item password"))
    assert bitnami_health(failed) == {"status": "Degraded", "message": "no key opens item password"}
    assert bitnami_health({"metadata": {}})["status"] == "Progressing"


def test_argocd_cm_installs_the_script_for_every_kind() -> None:
    cm = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"] == {f"resource.customizations.health.sealer.dev_{k}": SEALER_SCRIPT for k in KINDS}
