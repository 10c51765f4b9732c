"""VaultSecret / VaultStore / ClusterVaultStore end to end: a real OpenBao dev server on 127.0.0.1, the Kubernetes
API emulator, and the controller as its own process (`python -m controller`).

What the emulator cannot show (CRD defaulting and validation) is covered by test_deploy.py (schemas) and
test_vault_units.py (the controller applies the same defaults itself).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from pathlib import Path
from typing import Any

from sealer_testkit.apiserver import KubeServer

from tests.controller_process import NS, assert_no_leak, secret_items
from tests.openbao import Bao, approle_login, kv2_put, start_again, start_openbao
from tests.vault_resources import (
    CSTORE,
    STORE,
    VS,
    scrape,
    start_vault_controller,
    store,
    token_auth,
    token_secret,
    vault_secret,
    wait_cond,
    wait_items,
)

READ_ALL = 'path "*" { capabilities = ["read", "list"] }'


# --- helpers ------------------------------------------------------------------------------------------------


def uniq(prefix: str) -> str:
    """Paths and names unique per test: the OpenBao server is shared by the whole session."""
    return f"{prefix}-{secrets.token_hex(4)}"


def force_sync(kube: KubeServer, name: str, namespace: str) -> None:
    kube.client.patch(*VS, name, {"metadata": {"annotations": {"sealer.dev/force-sync": str(time.time())}}},
                      namespace)


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

    proc, port = start_vault_controller(kube, tmp_path)
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
    assert secret["metadata"]["labels"] == {"team": "a", "app.kubernetes.io/managed-by": "sealer",
                                            "sealer.dev/produced-by": "VaultSecret"}
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
    time.sleep(1.0)  # the write echoes back as a watch event: it must not cost another round of reads
    assert scrape(port)['sealer_vault_requests_total{operation="read",status="200"}'] == 6
    assert kube.client.get(*VS, "db", "app")["status"]["dataHash"] != status["dataHash"]
    kube.client.wait_for(lambda: any(e["reason"] == "Updated"
                                     for e in kube.client.events("app", name="db", kind="VaultSecret")))

    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS)) + repr(
        kube.client.list(*STORE))
    assert_no_leak(everything, token, plant)
    assert not kube.server_errors()


def test_approle_kv1_cluster_store_and_who_may_use_it(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    mount = uniq("kv1")
    openbao.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "1"}})
    openbao.api("POST", f"{mount}/shared/db", {"password": "kv1-value", "user": "u"})
    openbao.write_policy(f"{mount}-read", READ_ALL)
    role_id, secret_id = approle_login(openbao, mount, f"{mount}-read")
    client = kube.client
    for ns, labels in (("app", {}), ("pay", {"team": "payments"}), ("web", {"team": "web"}), ("other", {})):
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-approle", "namespace": NS},
                   "data": {"secret-id": base64.b64encode(secret_id.encode()).decode()}})
    client.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": "shared"}, "spec": {
        "server": openbao.addr, "mount": mount, "kvVersion": 1, "namespaces": ["app"],
        "namespaceSelector": {"matchLabels": {"team": "payments"}},
        "auth": {"appRole": {"roleId": role_id, "secretIdRef": {"name": "vault-approle", "namespace": NS,
                                                                  "key": "secret-id"}}}}})
    # a VaultStore of another namespace, with the name the VaultSecret in `app` asks for below
    token_secret(kube, "other", openbao.token)
    client.create(store(openbao, "private", "other", token_auth(), mount=mount, kvVersion=1))
    proc, port = start_vault_controller(kube, tmp_path)

    ref = {"storeRef": {"kind": "ClusterVaultStore", "name": "shared"},
           "data": [{"secretKey": "password", "remoteRef": {"path": "shared/db", "property": "password"}}]}
    for ns in ("app", "pay", "web"):
        client.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": "db", "namespace": ns}, "spec": ref})
    client.create(vault_secret("sneaky", "app", "private", dataFrom=[{"path": "shared/db"}]))

    for ns in ("app", "pay"):
        assert wait_items(kube, "db", ns, lambda i: "password" in i) == {"password": b"kv1-value"}
    assert "does not allow namespace web" in wait_cond(kube, "db", "web", "False", "StoreNotAllowed")["message"]
    assert "VaultStore private not found in namespace app" in wait_cond(kube, "sneaky", "app", "False",
                                                                         "StoreNotFound")["message"]
    assert secret_items(kube, "db", "web") is None and secret_items(kube, "sneaky", "app") is None
    assert "appRole auth" in wait_cond(kube, "shared", None, "True", "Valid", kind=CSTORE)["message"]
    m = scrape(port)
    assert m['sealer_vault_requests_total{operation="login",status="200"}'] == 1  # one AppRole login, shared
    proc.stop()
    assert_no_leak(proc.log_text() + repr(client.events()) + repr(client.list(*VS)) + repr(client.list(*CSTORE)),
                   secret_id, "kv1-value")


def test_refresh_drift_rollout_restart_and_policies(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = uniq("pol")
    kv2_put(openbao, f"{base}/app", {"password": "one"})
    kv2_put(openbao, f"{base}/gone", {"k": "v"})
    openbao.write_policy(f"{base}-read", READ_ALL)
    token_secret(kube, "app", openbao.create_token(f"{base}-read"))
    client = kube.client
    client.create(store(openbao, "vault", "app", token_auth()))
    client.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                   "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}})
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "theirs", "namespace": "app",
                                                                      "labels": {"owner": "someone"}},
                   "data": {"keep": base64.b64encode(b"mine").decode()}})
    proc, _ = start_vault_controller(kube, tmp_path)
    data = [{"secretKey": "password", "remoteRef": {"path": f"{base}/app", "property": "password"}}]
    client.create(vault_secret("owned", "app", "vault", refreshInterval="1s", data=data,
                               rolloutRestartTargets=[{"kind": "Deployment", "name": "web"}]))
    client.create(vault_secret("merge", "app", "vault", refreshInterval="0", data=data,
                               target={"name": "theirs", "creationPolicy": "Merge"}))
    client.create(vault_secret("orphan", "app", "vault", refreshInterval="0", data=data,
                               target={"creationPolicy": "Orphan"}))
    client.create(vault_secret("deleted", "app", "vault", refreshInterval="1s", dataFrom=[{"path": f"{base}/gone"}],
                               target={"deletionPolicy": "Delete"}))
    client.create(vault_secret("retained", "app", "vault", refreshInterval="1s",
                               dataFrom=[{"path": f"{base}/gone"}]))
    client.create(vault_secret("merge-missing", "app", "vault", data=data,
                               target={"name": "nobody", "creationPolicy": "Merge"}))

    wait_items(kube, "owned", "app", lambda i: i == {"password": b"one"})
    assert wait_items(kube, "theirs", "app", lambda i: "password" in i) == {"keep": b"mine", "password": b"one"}
    theirs = client.get("v1", "Secret", "theirs", "app")
    assert theirs["metadata"]["labels"] == {"owner": "someone"} and "ownerReferences" not in theirs["metadata"]
    orphan = client.wait_for(lambda: client.find("v1", "Secret", "orphan", "app"))
    assert "ownerReferences" not in orphan["metadata"]
    assert orphan["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sealer"
    wait_items(kube, "deleted", "app", lambda i: i == {"k": b"v"})
    wait_items(kube, "retained", "app", lambda i: i == {"k": b"v"})
    assert "creationPolicy Merge" in wait_cond(kube, "merge-missing", "app", "False", "TargetNotFound")["message"]
    assert secret_items(kube, "nobody", "app") is None
    wait_cond(kube, "owned", "app", "True")
    deployment = client.get("apps/v1", "Deployment", "web", "app")
    assert "annotations" not in deployment["spec"]["template"]["metadata"]  # not restarted on the first sync

    # the refresh interval picks up a change; the data changed, so the Deployment restarts
    kv2_put(openbao, f"{base}/app", {"password": "two"})
    wait_items(kube, "owned", "app", lambda i: i == {"password": b"two"}, timeout=15)
    restarted = client.wait_for(lambda: (client.get("apps/v1", "Deployment", "web", "app")["spec"]["template"]
                                         ["metadata"].get("annotations") or {}).get("sealer.dev/restartedAt"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", restarted)
    assert "restarted Deployment web" in wait_cond(kube, "owned", "app", "True", "Updated")["message"]
    # refreshInterval 0: read once; force-sync reads again
    assert secret_items(kube, "theirs", "app")["password"] == b"one"
    force_sync(kube, "merge", "app")
    wait_items(kube, "theirs", "app", lambda i: i == {"keep": b"mine", "password": b"two"})

    # hand edits and deletions of an owned Secret are restored at once (refresh or not)
    client.patch("v1", "Secret", "orphan", {"data": {"password": base64.b64encode(b"hacked").decode()}}, "app")
    client.patch("v1", "Secret", "owned", {"data": {"password": base64.b64encode(b"hacked").decode(),
                                                    "extra": "eA=="}}, "app")
    wait_items(kube, "owned", "app", lambda i: i == {"password": b"two"}, timeout=15)
    client.delete("v1", "Secret", "owned", "app")
    wait_items(kube, "owned", "app", lambda i: i == {"password": b"two"}, timeout=15)
    client.wait_for(lambda: any(e["reason"] == "Restored" for e in client.events("app", name="owned",
                                                                                 kind="VaultSecret")))
    force_sync(kube, "orphan", "app")  # an Orphan Secret has no owner to restore it from: next sync does
    wait_items(kube, "orphan", "app", lambda i: i == {"password": b"two"})

    # an authoritative not-found: Delete removes the Secret, Retain keeps it
    openbao.api("DELETE", f"secret/metadata/{base}/gone")
    client.wait_for(lambda: secret_items(kube, "deleted", "app") is None, timeout=15, message="Secret deleted")
    client.wait_for(lambda: "deleted Secret deleted (deletionPolicy Delete)" in " ".join(
        e["message"] for e in client.events("app", name="deleted", kind="VaultSecret")), message="deletion Event")
    assert "kept" in wait_cond(kube, "retained", "app", "False", "NotFound")["message"]
    assert secret_items(kube, "retained", "app") == {"k": b"v"}
    kv2_put(openbao, f"{base}/gone", {"k": "back"})  # it comes back: both recover by themselves
    wait_items(kube, "deleted", "app", lambda i: i == {"k": b"back"}, timeout=15)
    wait_items(kube, "retained", "app", lambda i: i == {"k": b"back"}, timeout=15)
    proc.stop()
    assert not kube.server_errors()


def test_denied_policy_and_vault_outage_keep_the_secret(kube: KubeServer, tmp_path: Path) -> None:
    plant_value = "PLANTED-outage-" + secrets.token_hex(6)
    with start_openbao(tmp_path / "bao") as bao:
        token_id = "PLANTEDtoken" + secrets.token_hex(8)

        def seed(value: str) -> None:
            bao.write_policy("app-read", 'path "secret/data/app/*" { capabilities = ["read"] }')
            bao.create_token("app-read", token_id=token_id)
            kv2_put(bao, "app/db", {"password": value})
            kv2_put(bao, "forbidden/db", {"password": "nope"})

        seed(plant_value)
        token_secret(kube, "app", token_id)
        kube.client.create(store(bao, "vault", "app", token_auth()))
        proc, port = start_vault_controller(kube, tmp_path)
        kube.client.create(vault_secret("db", "app", "vault", refreshInterval="1s",
                                        dataFrom=[{"path": "app/db"}]))
        kube.client.create(vault_secret("denied", "app", "vault", refreshInterval="1s",
                                        dataFrom=[{"path": "forbidden/db"}]))
        wait_items(kube, "db", "app", lambda i: i == {"password": plant_value.encode()})
        assert "permission denied" in wait_cond(kube, "denied", "app", "False", "PermissionDenied")["message"]
        assert secret_items(kube, "denied", "app") is None
        before = kube.client.get("v1", "Secret", "db", "app")

        bao.stop()
        c = wait_cond(kube, "db", "app", "False", "VaultUnavailable", timeout=20)
        assert "unreachable" in c["message"]
        time.sleep(2)  # several failed refreshes later, the Secret is still exactly as it was
        assert kube.client.get("v1", "Secret", "db", "app") == before
        kube.client.wait_for(lambda: any(e["reason"] == "VaultUnavailable" for e in kube.client.events("app",
                                                                                                     name="db")))
        wait_cond(kube, "vault", "app", "False", "VaultUnavailable", kind=STORE, timeout=20)

        start_again(bao)  # same address, empty dev server: the same token id and a new value
        seed(plant_value + "-after")
        wait_items(kube, "db", "app", lambda i: i == {"password": (plant_value + "-after").encode()}, timeout=20)
        wait_cond(kube, "db", "app", "True", timeout=20)
        wait_cond(kube, "vault", "app", "True", "Valid", kind=STORE, timeout=20)
        m = scrape(port)
        assert m['sealer_vault_sync_errors_total{reason="VaultUnavailable"}'] >= 1
        assert m['sealer_vault_sync_errors_total{reason="PermissionDenied"}'] >= 1
        assert m['sealer_vault_requests_total{operation="read",status="error"}'] >= 1
        assert m['sealer_vault_requests_total{operation="read",status="403"}'] >= 1
        assert m["sealer_vault_sync_duration_seconds_count"] >= m["sealer_vault_sync_total"]
        proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS)) + repr(
        kube.client.list(*STORE))
    assert_no_leak(everything, token_id, plant_value)


def test_token_renewed_not_relogged_and_revoked_on_shutdown(kube: KubeServer, tmp_path: Path) -> None:
    with start_openbao(tmp_path / "bao") as bao:
        kv2_put(bao, "app/db", {"password": "p"})
        bao.write_policy("read", READ_ALL)
        role_id, secret_id = approle_login(bao, "short", "read", token_ttl="3s", token_max_ttl="1h")
        kube.client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "approle", "namespace": "app"},
                            "data": {"id": base64.b64encode(secret_id.encode()).decode()}})
        kube.client.create(store(bao, "vault", "app", {"appRole": {"roleId": role_id,
                                                                   "secretIdRef": {"name": "approle", "key": "id"}}}))
        accessors_before = set(bao.api("LIST", "auth/token/accessors")["data"]["keys"])
        proc, port = start_vault_controller(kube, tmp_path)
        kube.client.create(vault_secret("db", "app", "vault", refreshInterval="500ms",
                                        dataFrom=[{"path": "app/db"}]))
        wait_items(kube, "db", "app", lambda i: i == {"password": b"p"})
        time.sleep(7)  # more than two token TTLs of refreshes: kept alive by renewal, not by new logins
        m = scrape(port)
        assert m['sealer_vault_requests_total{operation="login",status="200"}'] == 1
        assert m['sealer_vault_requests_total{operation="renew",status="200"}'] >= 2
        assert m['sealer_vault_requests_total{operation="read",status="200"}'] >= 8
        assert wait_cond(kube, "db", "app", "True")
        ours = set(bao.api("LIST", "auth/token/accessors")["data"]["keys"]) - accessors_before
        assert len(ours) == 1
        proc.stop()
        assert "revoked the Vault token" in proc.log_text()
        left = set(bao.api("LIST", "auth/token/accessors")["data"]["keys"])
        assert not ours & left


def test_kubernetes_auth_through_the_emulators_token_apis(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    """Vault's Kubernetes auth end to end: the controller asks the (emulated) API server for a ServiceAccount token
    (TokenRequest), logs in to OpenBao with it, and OpenBao asks the same API server whether it is genuine
    (TokenReview). A ServiceAccount the role is not bound to is refused; nothing secret reaches the outputs."""
    mount, ns = uniq("k8s"), uniq("team")
    kube.client.ensure_namespace(NS)
    kube.client.ensure_namespace(ns)
    for sa in ("vault-reader", "intruder"):
        kube.client.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}})
    from sealer.sealed import keys

    _, ca = keys.generate(bits=2048, cn="emulator-ca")  # OpenBao wants a CA; the emulator speaks plain http
    openbao.api("POST", f"sys/auth/{mount}", {"type": "kubernetes"})
    openbao.api("POST", f"auth/{mount}/config", {"kubernetes_host": kube.url, "disable_local_ca_jwt": True,
                                                 "kubernetes_ca_cert": keys.cert_pem(ca).decode()})
    openbao.write_policy(f"{mount}-read", READ_ALL)
    openbao.api("POST", f"auth/{mount}/role/app", {
        "bound_service_account_names": ["vault-reader"], "bound_service_account_namespaces": [ns],
        "audience": "vault", "token_policies": [f"{mount}-read"], "token_ttl": "60s"})
    path = uniq("k8s/db")
    kv2_put(openbao, path, {"password": "via-kubernetes-auth-7c1"})  # sealer:allow credential (planted)
    proc, _ = start_vault_controller(kube, tmp_path)

    def k8s_store(name: str, account: str) -> dict[str, Any]:
        return store(openbao, name, ns, {"kubernetes": {"mount": mount, "role": "app",
                                                        "serviceAccount": {"name": account}}})

    kube.client.create(k8s_store("vault", "vault-reader"))
    kube.client.create(vault_secret("db", ns, "vault", data=[
        {"secretKey": "password", "remoteRef": {"path": path, "property": "password"}}]))
    wait_items(kube, "db", ns, lambda d: d.get("password") == b"via-kubernetes-auth-7c1")
    kube.client.create(k8s_store("wrong", "intruder"))
    kube.client.create(vault_secret("denied", ns, "wrong", data=[
        {"secretKey": "password", "remoteRef": {"path": path, "property": "password"}}]))
    assert wait_cond(kube, "denied", ns, "False", "PermissionDenied")
    assert secret_items(kube, "denied", ns) is None
    issued = kube.call(lambda: sorted({(ns_, sa) for ns_, sa, *_ in kube.emulator._tokens.values()}))
    assert issued == [(ns, "intruder"), (ns, "vault-reader")]  # TokenRequest by the controller, per store
    assert kube.call(lambda: kube.emulator.token_reviews) >= 1  # OpenBao asked the API server (the bound one)
    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS, ns))
    assert_no_leak(everything, "via-kubernetes-auth-7c1", "eyJhbGci")  # no JWT anywhere
