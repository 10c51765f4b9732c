"""ClusterVaultSecret end to end (the controller process, the API emulator, a real OpenBao): VaultSecrets made in
the namespaces listed or selected, following label changes, removed from a namespace that no longer matches, a
foreign VaultSecret of the same name left alone, a tenant's edit undone, and a store's own namespace rules still
deciding. The spec rules as pure functions."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.vault import fanout
from controller.vault.fields import SpecError
from tests.controller_process import NS
from tests.openbao import Bao, kv2_put
from tests.vault_resources import CSTORE, VS, start_vault_controller, wait_cond

CVS = ("sealer.dev/v1alpha1", "ClusterVaultSecret")


def cvs(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": CVS[0], "kind": CVS[1], "metadata": {"name": name, "uid": "u-1"}, "spec": spec}


INNER = {"storeRef": {"kind": "ClusterVaultStore", "name": "platform"}, "dataFrom": [{"path": "x"}]}


def test_spec_targets_and_errors() -> None:
    spec = fanout.parse_cluster_vault_secret(cvs("pull", vaultSecretSpec=INNER, namespaces=["a"],
                                                 namespaceSelectors=[{"matchLabels": {"tier": "be"}},
                                                                     {"matchExpressions": [{"key": "x",
                                                                                            "operator": "Exists"}]}]))
    assert spec.targets([("a", {}), ("b", {"tier": "be"}), ("c", {"x": "1"}), ("d", {"tier": "fe"})]) == ["a", "b",
                                                                                                          "c"]
    made = fanout.desired_vault_secret(cvs("pull"), spec, "b")
    assert made["metadata"]["namespace"] == "b" and made["spec"] == INNER
    assert made["metadata"]["labels"][fanout.OWNER_LABEL] == "pull"
    assert made["metadata"]["ownerReferences"][0]["kind"] == "ClusterVaultSecret"
    for bad, field in (({}, "spec.vaultSecretSpec"),
                       ({"vaultSecretSpec": {**INNER, "target": {"namespace": "x"}}, "namespaces": ["a"]},
                        "spec.vaultSecretSpec.target.namespace"),
                       ({"vaultSecretSpec": INNER}, "spec"),
                       ({"vaultSecretSpec": INNER, "namespaces": ["a"], "vaultSecretName": "Bad_Name"},
                        "spec.vaultSecretName"),
                       ({"vaultSecretSpec": INNER, "namespaceSelectors": [{"matchExpressions": [{"key": "k"}]}]},
                        "spec.namespaceSelectors[0].matchExpressions[0]")):
        with pytest.raises(SpecError) as e:
            fanout.parse_cluster_vault_secret(cvs("pull", **bad))
        assert e.value.field == field


def test_fan_out_follows_namespaces(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = f"fan-{secrets.token_hex(4)}"
    kv2_put(openbao, f"{base}/registry", {"username": "bot", "password": "pw"})
    openbao.write_policy(f"{base}-read", 'path "*" { capabilities = ["read"] }')
    client = kube.client
    for ns, labels in (("fan-a", {"tier": "backend"}), ("fan-b", {}), ("fan-c", {}), ("fan-d", {"tier": "backend"})):
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "platform-token", "namespace": NS},
                   "data": {"token": base64.b64encode(openbao.create_token(f"{base}-read").encode()).decode()}})
    # the store allows fan-a, fan-b, fan-d only: a fan-out to fan-c cannot use it
    client.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": "platform"},
                   "spec": {"server": openbao.addr, "namespaces": ["fan-a", "fan-b", "fan-d"],
                            "auth": {"token": {"secretRef": {"name": "platform-token", "namespace": NS,
                                                             "key": "token"}}}}})
    # someone else's VaultSecret of the same name in fan-d
    foreign = {"storeRef": {"kind": "ClusterVaultStore", "name": "platform"},
               "data": [{"secretKey": "u", "remoteRef": {"path": f"{base}/registry", "property": "username"}}]}
    client.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": "registry", "namespace": "fan-d"},
                   "spec": foreign})
    proc, _ = start_vault_controller(kube, tmp_path)
    inner = {"storeRef": {"kind": "ClusterVaultStore", "name": "platform"}, "dataFrom": [{"path": f"{base}/registry"}]}
    client.create({"apiVersion": CVS[0], "kind": CVS[1], "metadata": {"name": "registry"},
                   "spec": {"vaultSecretSpec": inner, "namespaces": ["fan-c"], "refreshTime": "5s",
                            "namespaceSelectors": [{"matchLabels": {"tier": "backend"}}],
                            "vaultSecretMetadata": {"labels": {"team": "platform"}}}})

    def status() -> dict[str, Any]:
        return (client.find(*CVS, "registry") or {}).get("status") or {}

    client.wait_for(lambda: status().get("provisionedNamespaces") == ["fan-a", "fan-c"], timeout=30,
                    message=f"provisioned: {status()}")
    assert status()["failedNamespaces"][0]["namespace"] == "fan-d"
    assert wait_cond(kube, "registry", None, "False", "PartiallyReady", kind=CVS)
    assert client.get(*VS, "registry", "fan-d")["spec"] == foreign  # left alone
    wait_cond(kube, "registry", "fan-a", "True")
    items = {k: base64.b64decode(v) for k, v in client.get("v1", "Secret", "registry", "fan-a")["data"].items()}
    assert items == {"username": b"bot", "password": b"pw"}
    made = client.get(*VS, "registry", "fan-a")
    assert made["metadata"]["labels"]["team"] == "platform"
    wait_cond(kube, "registry", "fan-c", "False", "StoreNotAllowed")  # the store's rules still decide
    assert client.find("v1", "Secret", "registry", "fan-c") is None

    # a namespace gains the label: it gets the VaultSecret; one loses it: its VaultSecret goes
    client.patch("v1", "Namespace", "fan-b", {"metadata": {"labels": {"tier": "backend"}}})
    client.patch("v1", "Namespace", "fan-a", {"metadata": {"labels": {"tier": None}}})
    client.wait_for(lambda: status().get("provisionedNamespaces") == ["fan-b", "fan-c"], timeout=30,
                    message=f"provisioned: {status()}")
    client.wait_for(lambda: client.find(*VS, "registry", "fan-a") is None, timeout=10, message="not removed")
    wait_cond(kube, "registry", "fan-b", "True")

    # a tenant's edit of the VaultSecret is undone at the next pass
    client.patch(*VS, "registry", {"spec": {"dataFrom": [{"path": f"{base}/other"}]}}, "fan-b")
    client.wait_for(lambda: client.get(*VS, "registry", "fan-b")["spec"]["dataFrom"] == inner["dataFrom"],
                    timeout=20, message="edit not undone")
    proc.stop()
