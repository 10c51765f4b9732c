"""--eso-compat: External Secrets Operator's own manifests (the Vault provider shapes of ESO's documentation,
written here as our own copies) served unchanged by the controller process against the API emulator and a real
OpenBao: the Secret ESO would write, ESO's status terms, drift, a store of another provider left alone with a clear
status, and nothing served without the flag."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

from sealer_testkit.apiserver import KubeServer

from tests.controller_process import assert_no_leak
from tests.openbao import Bao, kv2_put
from tests.vault_resources import start_vault_controller, token_secret

ES = ("external-secrets.io/v1", "ExternalSecret")
SS = ("external-secrets.io/v1", "SecretStore")
CSS = ("external-secrets.io/v1", "ClusterSecretStore")


def _ready(kube: KubeServer, kind: tuple[str, str], name: str, namespace: str | None) -> dict[str, Any]:
    obj = kube.client.find(*kind, name, namespace) or {}
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})


def _wait_ready(kube: KubeServer, kind: tuple[str, str], name: str, namespace: str | None, status: str,
                reason: str) -> dict[str, Any]:
    return kube.client.wait_for(
        lambda: (c := _ready(kube, kind, name, namespace)) and c.get("status") == status
        and c.get("reason") == reason and c, timeout=30,
        message=f"{kind[1]} {name} Ready={status} {reason}; last {_ready(kube, kind, name, namespace)}")


def test_eso_manifests_unchanged(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = f"eso-{secrets.token_hex(4)}"
    plant = "PLANTED-eso-" + secrets.token_hex(6)
    kv2_put(openbao, f"{base}/foo", {"my-value": plant, "user": "svc"})
    kv2_put(openbao, f"{base}/registry", {"username": "bot", "password": "pw-" + plant})
    openbao.write_policy(f"{base}-read", 'path "*" { capabilities = ["read", "list"] }')
    token = openbao.create_token(f"{base}-read")
    proc, _ = start_vault_controller(kube, tmp_path, "--eso-compat")
    client = kube.client
    token_secret(kube, "app", token)
    # ESO's documented Vault SecretStore (token auth, KV v2 at "secret")
    client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "vault-backend", "namespace": "app"},
                   "spec": {"provider": {"vault": {"server": openbao.addr, "path": "secret", "version": "v2",
                                                   "auth": {"tokenSecretRef": {"name": "vault-token",
                                                                               "key": "token"}}}}}})
    # a key with the mount and data/ in it (ESO strips both), a property, extract, and a v2 template
    client.create({"apiVersion": ES[0], "kind": ES[1], "metadata": {"name": "vault-example", "namespace": "app"},
                   "spec": {"refreshInterval": "15s",
                            "secretStoreRef": {"name": "vault-backend", "kind": "SecretStore"},
                            "target": {"name": "example-sync"},
                            "data": [{"secretKey": "foobar",
                                      "remoteRef": {"key": f"secret/data/{base}/foo", "property": "my-value"}}],
                            "dataFrom": [{"extract": {"key": f"{base}/foo"}}]}})
    docker = ('{"auths":{"registry.example":{"username":"{{ .username }}","password":"{{ .password }}",'
              '"auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}')
    client.create({"apiVersion": ES[0], "kind": ES[1], "metadata": {"name": "pull", "namespace": "app"},
                   "spec": {"secretStoreRef": {"name": "vault-backend"},
                            "target": {"template": {"engineVersion": "v2", "type": "kubernetes.io/dockerconfigjson",
                                                    "data": {".dockerconfigjson": docker}}},
                            "dataFrom": [{"extract": {"key": f"{base}/registry"}}]}})

    store = _wait_ready(kube, SS, "vault-backend", "app", "True", "Valid")
    assert client.get(*SS, "vault-backend", "app")["status"]["capabilities"] == "ReadOnly"
    assert store["message"].startswith("store validated")
    cond = _wait_ready(kube, ES, "vault-example", "app", "True", "SecretSynced")
    es_status = client.get(*ES, "vault-example", "app")["status"]
    assert es_status["binding"] == {"name": "example-sync"} and es_status["refreshTime"]
    assert "dataHash" not in es_status  # ESO's CRD would prune it
    secret = client.get("v1", "Secret", "example-sync", "app")
    items = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert items == {"foobar": plant.encode(), "my-value": plant.encode(), "user": b"svc"}  # what ESO writes
    owner = secret["metadata"]["ownerReferences"][0]
    assert (owner["apiVersion"], owner["kind"], owner["name"], owner["controller"]) == (*ES, "vault-example", True)
    assert cond["message"]

    _wait_ready(kube, ES, "pull", "app", "True", "SecretSynced")
    pull = client.get("v1", "Secret", "pull", "app")
    auth = base64.b64encode(f"bot:pw-{plant}".encode()).decode()
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(pull["data"][".dockerconfigjson"])) == {
        "auths": {"registry.example": {"username": "bot", "password": "pw-" + plant, "auth": auth}}}

    # drift: the Secret deleted by hand comes back from the ExternalSecret
    client.delete("v1", "Secret", "example-sync", "app")
    client.wait_for(lambda: client.find("v1", "Secret", "example-sync", "app"), timeout=20,
                    message="Secret not restored")

    # a store of another provider is not served: a clear status, and its ExternalSecret writes nothing
    client.create({"apiVersion": CSS[0], "kind": CSS[1], "metadata": {"name": "aws"},
                   "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}}})
    bad = _wait_ready(kube, CSS, "aws", None, "False", "InvalidProviderConfig")
    assert "spec.provider.aws" in bad["message"] and "sealer serves Vault only" in bad["message"]
    client.create({"apiVersion": ES[0], "kind": ES[1], "metadata": {"name": "from-aws", "namespace": "app"},
                   "spec": {"secretStoreRef": {"name": "aws", "kind": "ClusterSecretStore"},
                            "data": [{"secretKey": "k", "remoteRef": {"key": "x"}}]}})
    failed = _wait_ready(kube, ES, "from-aws", "app", "False", "SecretSyncedError")
    assert "spec.provider.aws" in failed["message"]
    assert client.find("v1", "Secret", "from-aws", "app") is None
    # another namespace's SecretStore cannot be named
    client.create({"apiVersion": ES[0], "kind": ES[1], "metadata": {"name": "sneaky", "namespace": "web"},
                   "spec": {"secretStoreRef": {"name": "vault-backend"},
                            "data": [{"secretKey": "k", "remoteRef": {"key": f"{base}/foo"}}]}})
    assert "StoreNotFound" in _wait_ready(kube, ES, "sneaky", "web", "False", "SecretSyncedError")["message"]
    assert client.find("v1", "Secret", "sneaky", "web") is None
    proc.stop()
    assert_no_leak(proc.log_text() + repr(client.events()) + repr(client.list(*ES)), plant, token)


def test_without_the_flag_eso_objects_are_not_touched(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    proc, _ = start_vault_controller(kube, tmp_path)
    kube.client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "v", "namespace": "app"},
                        "spec": {"provider": {"vault": {"server": openbao.addr, "path": "secret",
                                                        "auth": {"tokenSecretRef": {"name": "t", "key": "t"}}}}}})
    kube.client.create({"apiVersion": ES[0], "kind": ES[1], "metadata": {"name": "e", "namespace": "app"},
                        "spec": {"secretStoreRef": {"name": "v"}, "data": [{"secretKey": "k",
                                                                            "remoteRef": {"key": "x"}}]}})
    time.sleep(2)  # what a served object would have had by then: status, an Event (the loop runs in ~0.1 s)
    assert "status" not in kube.client.get(*ES, "e", "app") and "status" not in kube.client.get(*SS, "v", "app")
    proc.stop()


def test_external_secrets_sync_on_force_sync_and_spec_changes_from_the_scheduler(kube: KubeServer, openbao: Bao,
                                                                                   tmp_path: Path) -> None:
    """ExternalSecrets run on the VaultSecrets' scheduler (a small record each, no kopf daemon): ESO's
    `force-sync` annotation and a spec change sync at once, well inside a 1h refreshInterval; each sync is
    announced with an Event on the ExternalSecret."""
    base = f"esof-{secrets.token_hex(4)}"
    kv2_put(openbao, f"{base}/db", {"password": "one"})
    openbao.write_policy(f"{base}-read", 'path "*" { capabilities = ["read", "list"] }')
    proc, _ = start_vault_controller(kube, tmp_path, "--eso-compat")
    client = kube.client
    token_secret(kube, "app", openbao.create_token(f"{base}-read"))
    client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "vault", "namespace": "app"},
                   "spec": {"provider": {"vault": {"server": openbao.addr, "path": "secret", "version": "v2",
                                                   "auth": {"tokenSecretRef": {"name": "vault-token",
                                                                               "key": "token"}}}}}})
    client.create({"apiVersion": ES[0], "kind": ES[1], "metadata": {"name": "db", "namespace": "app"},
                   "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "vault", "kind": "SecretStore"},
                            "data": [{"secretKey": "password",
                                      "remoteRef": {"key": f"{base}/db", "property": "password"}}]}})

    def items() -> dict[str, bytes]:
        found = client.find("v1", "Secret", "db", "app") or {}
        return {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}

    client.wait_for(lambda: items() == {"password": b"one"}, timeout=30, message="first sync")
    kv2_put(openbao, f"{base}/db", {"password": "two", "user": "svc"})
    time.sleep(1.0)
    assert items() == {"password": b"one"}  # not due for an hour
    client.patch(*ES, "db", {"metadata": {"annotations": {"force-sync": "1"}}}, "app")
    client.wait_for(lambda: items() == {"password": b"two"}, timeout=15, message="force-sync")
    spec = client.get(*ES, "db", "app")["spec"]
    spec["data"].append({"secretKey": "user", "remoteRef": {"key": f"{base}/db", "property": "user"}})
    client.patch(*ES, "db", {"spec": {"data": spec["data"]}}, "app")
    client.wait_for(lambda: items() == {"password": b"two", "user": b"svc"}, timeout=15, message="spec change")
    assert _ready(kube, ES, "db", "app").get("reason") == "SecretSynced"
    assert client.events("app", name="db", kind="ExternalSecret")
    proc.stop()
    assert "Traceback" not in proc.log_text()


def test_the_store_check_loop_heals_a_secret_store(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    """A SecretStore whose token is bad turns Valid through the periodic check (one loop for every store, here each
    second) once its token Secret is fixed: no event on the store itself. Its becoming ready is announced."""
    proc, _ = start_vault_controller(kube, tmp_path, "--eso-compat")
    client = kube.client
    token_secret(kube, "app", "s." + secrets.token_hex(12))  # no such token
    client.create({"apiVersion": SS[0], "kind": SS[1], "metadata": {"name": "healing", "namespace": "app"},
                   "spec": {"provider": {"vault": {"server": openbao.addr, "path": "secret", "version": "v2",
                                                   "auth": {"tokenSecretRef": {"name": "vault-token",
                                                                               "key": "token"}}}}}})
    _wait_ready(kube, SS, "healing", "app", "False", "ValidationFailed")
    token_secret(kube, "app", openbao.create_token("default"))
    _wait_ready(kube, SS, "healing", "app", "True", "Valid")
    assert [e for e in client.events("app", name="healing", kind="SecretStore") if e["type"] == "Normal"]
    proc.stop()
    assert "store check: SecretStore 1" in proc.log_text() and "Traceback" not in proc.log_text()
