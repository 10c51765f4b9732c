"""VaultPushSecret: a Secret's items written to Vault KV (ESO PushSecret semantics). Spec parsing, what is written
and the ownership rule as pure functions; the store client's KV write/delete against a real OpenBao (v1 and v2);
one end-to-end run of the controller process against the API emulator and OpenBao: push, update on a Secret
change (and no write when nothing changed), IfNotExists, refusal to overwrite a foreign secret or another
namespace's through a shared ClusterVaultStore, deletion of dropped keys and on deletion, and no value leaked."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.vault import push
from controller.vault import store as vstore
from controller.vault.client import StoreClient, VaultError
from controller.vault.fields import SecretKeyRef, SpecError
from tests.controller_process import assert_no_leak
from tests.openbao import Bao
from tests.vault_resources import CSTORE, start_vault_controller, store, token_auth, token_secret, wait_cond

VPS = ("sealer.dev/v1alpha1", "VaultPushSecret")


def push_secret(name: str, namespace: str, data: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": VPS[0], "kind": VPS[1], "metadata": {"name": name, "namespace": namespace},
            "spec": {"storeRefs": [{"name": "vault"}], "selector": {"secret": {"name": "src"}}, "data": data,
                     **spec}}


def item(remote_key: str, secret_key: str | None = None, prop: str | None = None) -> dict[str, Any]:
    remote: dict[str, Any] = {"remoteKey": remote_key}
    if prop:
        remote["property"] = prop
    match: dict[str, Any] = {"remoteRef": remote}
    if secret_key:
        match["secretKey"] = secret_key
    return {"match": match}


# --- pure ---------------------------------------------------------------------------------------------------------


def test_spec_what_is_written_and_ownership() -> None:
    spec = push.parse_push_secret(push_secret(
        "db", "app", [item("app/db", "password", "password"), item("app/all"), item("app/db", None, "json"),
                      item("app/cfg", "config")],
        storeRefs=[{"name": "vault"}, {"kind": "ClusterVaultStore", "name": "shared"}], updatePolicy="IfNotExists",
        deletionPolicy="Delete", refreshInterval="90s"))
    assert spec.stores == (("VaultStore", "vault"), ("ClusterVaultStore", "shared"))
    assert (spec.update_policy, spec.deletion_policy, spec.refresh_seconds) == ("IfNotExists", "Delete", 90.0)
    assert spec.owner == "app/db" and spec.marks() == {"managed-by": "sealer", "sealer-owner": "app/db"}
    assert [i.ref for i in spec.items] == ["app/db/password", "app/all", "app/db/json", "app/cfg"]
    assert spec.items[0].as_status() == {"match": {"secretKey": "password",
                                                   "remoteRef": {"remoteKey": "app/db", "property": "password"}}}
    defaults = push.parse_push_secret(push_secret("x", "app", [item("a")]))
    assert (defaults.update_policy, defaults.deletion_policy, defaults.refresh_seconds) == ("Replace", "None", 3600)
    assert push.parse_push_secret(push_secret("x", "app", [item("a")], refreshInterval="0")).refresh_seconds is None

    # ESO's rules: property = that key; no property = the value (a JSON object) is the whole secret; no secretKey =
    # the whole Secret; items on one remote key merge
    data = {"password": b"s3cret", "config": b'{"url": "db:5432", "pool": 5}'}
    want = push.desired(spec, data)
    assert want["app/db"].merged({"other": "kept"}) == {
        "other": "kept", "password": "s3cret", "json": json.dumps({"config": data["config"].decode(),
                                                                    "password": "s3cret"}, sort_keys=True)}
    assert want["app/all"].merged({"stale": "x"}) == {"config": data["config"].decode(), "password": "s3cret"}
    assert want["app/cfg"].merged(None) == {"url": "db:5432", "pool": 5}
    for bad_data, where in (({"password": b"x"}, "key config"), ({**data, "config": b"plain"}, "key config"),
                            ({**data, "password": b"\xff"}, "key password")):
        with pytest.raises(SpecError) as e:
            push.desired(spec, bad_data)
        assert where in str(e.value) and "plain" not in str(e.value) and "s3cret" not in str(e.value)

    for bad, field in (({"storeRefs": []}, "spec.storeRefs"),
                       ({"storeRefs": [{"name": "v", "kind": "SecretStore"}]}, "spec.storeRefs[0].kind"),
                       ({"storeRefs": [{"name": "v", "namespace": "other"}]}, "spec.storeRefs[0].namespace"),
                       ({"selector": {"secret": {"name": "src", "namespace": "other"}}},
                        "spec.selector.secret.namespace"),
                       ({"selector": {}}, "spec.selector.secret.name"),
                       ({"data": [item("../sys")]}, "spec.data[0].match.remoteRef.remoteKey"),
                       ({"data": [item("a", "k", "x/y")]}, "spec.data[0].match.remoteRef.property"),
                       ({"data": [item("a", "bad key!")]}, "spec.data[0].match.secretKey"),
                       ({"data": [item("a", "k", "p"), item("a", "j", "p")]}, "spec.data[1].match.remoteRef"),
                       ({"data": [item("a")] * 300}, "spec.data"),
                       ({"updatePolicy": "Merge"}, "spec.updatePolicy"),
                       ({"deletionPolicy": "Orphan"}, "spec.deletionPolicy"),
                       ({"refreshInterval": "soon"}, "spec.refreshInterval")):
        with pytest.raises(SpecError) as e:
            push.parse_push_secret(push_secret("x", "app", [item("a")]) | {"spec": {
                **push_secret("x", "app", [item("a")])["spec"], **bad}})
        assert e.value.field == field

    # ownership: both marks, this object's namespace/name; anything else is not ours
    mine = {"managed-by": "sealer", "sealer-owner": "app/db"}
    assert push.owned(mine, "app/db")
    for other in ({}, {"managed-by": "external-secrets"}, {"managed-by": "sealer"},
                  {"managed-by": "sealer", "sealer-owner": "team-b/db"}, {"sealer-owner": "app/db"}):
        assert not push.owned(other, "app/db")
    d = push.decide
    assert d(False, {}, "app/db", "Replace", None, {"a": "1"}, mine) == push.CREATE
    assert d(True, {}, "app/db", "Replace", {"a": "0"}, {"a": "1"}, mine) == push.REFUSE
    assert d(True, {"managed-by": "sealer", "sealer-owner": "b/db"}, "app/db", "Replace", {}, {}, mine) == push.REFUSE
    assert d(True, {}, "app/db", "IfNotExists", {"a": "0"}, {"a": "1"}, mine) == push.SKIP
    assert d(True, mine, "app/db", "IfNotExists", {"a": "0"}, {"a": "1"}, mine) == push.UNCHANGED
    assert d(True, mine, "app/db", "Replace", {"a": "1"}, {"a": "1"}, mine) == push.UNCHANGED
    assert d(True, mine, "app/db", "Replace", {"a": "0"}, {"a": "1"}, mine) == push.UPDATE
    assert d(True, mine, "app/db", "Replace", None, {"a": "1"}, mine) == push.UPDATE  # latest version deleted
    assert push.after_delete({"a": "1", "b": "2"}, "a") == {"b": "2"}
    assert push.after_delete({"a": "1"}, "a") is None and push.after_delete({"a": "1"}, None) is None


# --- the store client against OpenBao --------------------------------------------------------------------------


class _Credentials:
    def __init__(self, token: str) -> None:
        self.token = token

    def secret_value(self, ref: SecretKeyRef) -> str:
        return self.token

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...]) -> str:
        raise VaultError("InvalidSpec", "no TokenRequest here")


def _client(bao: Bao, token: str, **spec: Any) -> StoreClient:
    obj = {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultStore", "metadata": {"name": "v", "namespace": "app"},
           "spec": {"server": bao.addr, "auth": {"token": {"secretRef": {"name": "t", "key": "token"}}}, **spec}}
    return StoreClient(vstore.parse_store(obj), _Credentials(token))  # type: ignore[arg-type]


def test_store_client_kv_write_and_delete(openbao: Bao) -> None:
    base = f"push-{secrets.token_hex(4)}"
    openbao.write_policy(base, f'path "secret/data/{base}/*" {{ capabilities = ["create", "read", "update"] }}\n'
                               f'path "secret/metadata/{base}/*" {{ capabilities = ["create", "read", "update"] }}')
    client = _client(openbao, openbao.create_token(base))
    marks = {"managed-by": "sealer", "sealer-owner": "app/db"}
    assert client.read_kv(f"{base}/a") is None
    client.write_kv(f"{base}/a", {"k": "v1"}, marks, 0)
    entry = client.read_kv(f"{base}/a")
    assert entry is not None and (entry.data, entry.custom_metadata, entry.version) == ({"k": "v1"}, marks, 1)
    with pytest.raises(VaultError) as e:  # check-and-set: version 1 is there, "create only" is refused
        client.write_kv(f"{base}/a", {"k": "lost"}, marks, 0)
    assert e.value.reason == "InvalidSpec"
    client.write_kv(f"{base}/a", {"k": "v2"}, {**marks, "team": "x"}, 1)
    entry = client.read_kv(f"{base}/a")
    assert entry is not None and (entry.data, entry.custom_metadata["team"], entry.version) == ({"k": "v2"}, "x", 2)
    with pytest.raises(VaultError) as e:  # no delete capability: the policy's answer
        client.delete_kv(f"{base}/a")
    assert e.value.reason == "PermissionDenied"
    root = _client(openbao, openbao.token)
    root.delete_kv(f"{base}/a")
    assert root.read_kv(f"{base}/a") is None
    root.delete_kv(f"{base}/a")  # gone already: fine

    # KV v1 has no metadata: the marks travel inside the data (ESO's custom_metadata key), read back apart
    mount = f"kv1-{secrets.token_hex(3)}"
    openbao.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "1"}})
    v1 = _client(openbao, openbao.token, mount=mount,
                 kvVersion=1)
    v1.write_kv("db", {"password": "p"}, marks, None)
    assert openbao.api("GET", f"{mount}/db")["data"] == {"password": "p", "custom_metadata": marks}
    entry = v1.read_kv("db")
    assert entry is not None and (entry.data, entry.custom_metadata, entry.version) == ({"password": "p"}, marks, 0)
    v1.delete_kv("db")
    assert v1.read_kv("db") is None


# --- end to end -------------------------------------------------------------------------------------------------


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _src(kube: KubeServer, namespace: str, **items: str) -> None:
    kube.client.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                       "metadata": {"name": "src", "namespace": namespace},
                       "data": {k: _b64(v) for k, v in items.items()}})


def _kv(bao: Bao, path: str) -> dict[str, Any] | None:
    """{data, custom_metadata, version} of secret/<path>, or None."""
    try:
        meta = bao.api("GET", f"secret/metadata/{path}")["data"]
    except Exception:
        return None
    data = bao.api("GET", f"secret/data/{path}")["data"]
    return {"data": data["data"], "custom_metadata": meta.get("custom_metadata") or {},
            "version": meta["current_version"]}


def test_push_update_ifnotexists_refusals_deletion_no_leak(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    base = f"push-{secrets.token_hex(4)}"
    a, b = f"{base}/team-a", f"{base}/team-b"
    plant, plant2, plant_b = (f"planted-{secrets.token_hex(8)}" for _ in range(3))
    openbao.write_policy(base, f'path "secret/data/{base}/*" {{ capabilities = ["create", "read", "update"] }}\n'
                               f'path "secret/metadata/{base}/*" {{ capabilities = ["create", "read", "update", '
                               f'"delete"] }}')
    token = openbao.create_token(base)
    # secrets someone else wrote: no marks at all, and ESO's
    openbao.api("POST", f"secret/data/{a}/foreign", {"data": {"password": "theirs"}})
    openbao.api("POST", f"secret/data/{a}/kept", {"data": {"password": "old"}})

    proc, _ = start_vault_controller(kube, tmp_path)
    client = kube.client
    token_secret(kube, "sealer-system", token, name="platform-token")
    client.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": "shared"},
                   "spec": {"server": openbao.addr, "namespaces": ["team-a", "team-b"],
                            "auth": {"token": {"secretRef": {"name": "platform-token", "namespace": "sealer-system",
                                                             "key": "token"}}}}})
    shared = {"storeRefs": [{"kind": "ClusterVaultStore", "name": "shared"}], "refreshInterval": "1s"}
    _src(kube, "team-a", password=plant, user="app")
    client.create(push_secret("db", "team-a", [item(f"{a}/db", "password", "password"), item(f"{a}/all")],
                              deletionPolicy="Delete", **shared))
    client.create(push_secret("foreign", "team-a", [item(f"{a}/foreign", "password", "password")], **shared))
    client.create(push_secret("keep", "team-a", [item(f"{a}/kept", "password", "password"),
                                                 item(f"{a}/new", "password", "password")],
                              updatePolicy="IfNotExists", **shared))

    client.create(push_secret("missing", "team-a", [item(f"{a}/m", "password", "password")],
                              selector={"secret": {"name": "nope"}}, **shared))
    client.create(push_secret("denied", "team-a", [item(f"elsewhere-{base}/x", "password", "password")], **shared))

    # push: the property and the whole Secret, marked as team-a/db's
    wait_cond(kube, "db", "team-a", "True", "Synced", kind=VPS)
    db = _kv(openbao, f"{a}/db")
    assert db is not None and db["data"] == {"password": plant} and db["version"] == 1
    assert db["custom_metadata"] == {"managed-by": "sealer", "sealer-owner": "team-a/db"}
    assert (_kv(openbao, f"{a}/all") or {}).get("data") == {"password": plant, "user": "app"}
    st = client.get(*VPS, "db", "team-a")["status"]
    assert st["syncedPushSecrets"] == {"ClusterVaultStore/shared": {
        f"{a}/db/password": {"match": {"secretKey": "password",
                                       "remoteRef": {"remoteKey": f"{a}/db", "property": "password"}}},
        f"{a}/all": {"match": {"remoteRef": {"remoteKey": f"{a}/all"}}}}} and st["refreshTime"]

    # a secret it does not own is never overwritten; IfNotExists leaves an existing one and creates a new one
    wait_cond(kube, "foreign", "team-a", "False", "NotOwned", kind=VPS)
    assert (_kv(openbao, f"{a}/foreign") or {})["data"] == {"password": "theirs"}
    wait_cond(kube, "keep", "team-a", "True", "Synced", kind=VPS)
    assert (_kv(openbao, f"{a}/kept") or {})["data"] == {"password": "old"}
    assert (_kv(openbao, f"{a}/new") or {})["data"] == {"password": plant}

    wait_cond(kube, "missing", "team-a", "False", "SecretNotFound", kind=VPS)
    wait_cond(kube, "denied", "team-a", "False", "PermissionDenied", kind=VPS)

    # a Secret change is pushed at the next refresh; refreshes with nothing changed write nothing
    _src(kube, "team-a", password=plant2, user="app")
    client.wait_for(lambda: (_kv(openbao, f"{a}/db") or {}).get("data") == {"password": plant2}, timeout=20,
                    message="Secret change not pushed")
    wait_cond(kube, "keep", "team-a", "True", "Synced", kind=VPS)
    time.sleep(3)  # several 1 s refreshes
    assert (_kv(openbao, f"{a}/db") or {})["version"] == 2
    assert (_kv(openbao, f"{a}/new") or {})["data"] == {"password": plant}  # IfNotExists: never updated

    # team-b, through the same ClusterVaultStore, cannot overwrite team-a's secret
    _src(kube, "team-b", password=plant_b)
    client.create(push_secret("db", "team-b", [item(f"{a}/db", "password", "password"), item(f"{b}/db", "password",
                                                                                              "password")],
                              deletionPolicy="Delete", **shared))
    wait_cond(kube, "db", "team-b", "False", "NotOwned", kind=VPS)
    assert (_kv(openbao, f"{a}/db") or {})["data"] == {"password": plant2}
    assert (_kv(openbao, f"{b}/db") or {})["data"] == {"password": plant_b}  # its own path is written
    client.delete(*VPS, "db", "team-b")  # deletion with Delete: its own path goes, team-a's stays
    client.wait_for(lambda: client.find(*VPS, "db", "team-b") is None, timeout=30, message="team-b not deleted")
    assert _kv(openbao, f"{b}/db") is None and _kv(openbao, f"{a}/db") is not None

    # a remote key dropped from the spec is deleted (deletionPolicy Delete); deleting the object deletes the rest
    obj = client.get(*VPS, "db", "team-a")
    obj["spec"]["data"] = obj["spec"]["data"][:1]
    client.replace(obj)
    client.wait_for(lambda: _kv(openbao, f"{a}/all") is None, timeout=20, message="dropped key not deleted")
    client.wait_for(lambda: list(((client.get(*VPS, "db", "team-a").get("status") or {}).get("syncedPushSecrets")
                                  or {}).get("ClusterVaultStore/shared") or {}) == [f"{a}/db/password"], timeout=10,
                    message="status still lists the dropped key")
    client.delete(*VPS, "db", "team-a")
    client.wait_for(lambda: _kv(openbao, f"{a}/db") is None, timeout=30, message="not deleted from Vault")
    client.delete(*VPS, "foreign", "team-a")
    client.wait_for(lambda: client.find(*VPS, "foreign", "team-a") is None, timeout=30, message="not deleted")
    assert (_kv(openbao, f"{a}/foreign") or {})["data"] == {"password": "theirs"}  # deletionPolicy None, not ours

    everything = repr([client.list(*VPS), client.events()])
    proc.stop()
    everything += proc.log_text() + (tmp_path / "controller.log").read_text()
    assert_no_leak(everything, plant, plant2, plant_b, token)


def _app_store(kube: KubeServer, openbao: Bao, *more: str) -> str:
    """A VaultStore `vault` in namespace app whose token may write (and ``more``) under a fresh path, which is
    returned, and the Secret `src` holding password=one."""
    base = f"push-{secrets.token_hex(4)}"
    metadata = json.dumps(["create", "read", "update", *more])
    openbao.write_policy(base, f'path "secret/data/{base}/*" {{ capabilities = ["create", "read", "update"] }}\n'
                               f'path "secret/metadata/{base}/*" {{ capabilities = {metadata} }}')
    token_secret(kube, "app", openbao.create_token(base))
    kube.client.create(store(openbao, "vault", "app", token_auth()))
    _src(kube, "app", password="one")
    return base


def test_a_spec_change_and_a_force_sync_push_at_once_within_a_long_refresh(kube: KubeServer, openbao: Bao,
                                                                           tmp_path: Path) -> None:
    """On the scheduler (a record per object, no daemon): pushed at start, then a spec change pushes the new item
    at once and a new `sealer.dev/force-sync` value pushes the changed Secret at once, an hour before the next
    refresh; a deleted object is pushed no more."""
    base, client = _app_store(kube, openbao), kube.client
    client.create(push_secret("db", "app", [item(f"{base}/db", "password", "password")], refreshInterval="1h"))
    proc, _ = start_vault_controller(kube, tmp_path)
    wait_cond(kube, "db", "app", "True", "Synced", kind=VPS)
    assert (_kv(openbao, f"{base}/db") or {}).get("data") == {"password": "one"}

    obj = client.get(*VPS, "db", "app")
    obj["spec"]["data"].append(item(f"{base}/more", "password", "password"))
    client.replace(obj)
    client.wait_for(lambda: (_kv(openbao, f"{base}/more") or {}).get("data") == {"password": "one"}, timeout=15,
                    message="a spec change did not push at once")

    _src(kube, "app", password="two")
    time.sleep(1.5)
    assert (_kv(openbao, f"{base}/db") or {}).get("data") == {"password": "one"}  # not due for an hour
    client.patch(*VPS, "db", {"metadata": {"annotations": {"sealer.dev/force-sync": "1"}}}, "app")
    client.wait_for(lambda: (_kv(openbao, f"{base}/db") or {}).get("data") == {"password": "two"}, timeout=15,
                    message="force-sync did not push at once")

    client.delete(*VPS, "db", "app")
    client.wait_for(lambda: client.find(*VPS, "db", "app") is None, timeout=15, message="not deleted")
    _src(kube, "app", password="three")
    client.create(push_secret("other", "app", [item(f"{base}/other", "password", "password")]))
    wait_cond(kube, "other", "app", "True", "Synced", kind=VPS)  # the scheduler runs on; the deleted one is gone
    assert (_kv(openbao, f"{base}/db") or {}).get("data") == {"password": "two"}
    proc.stop()
    assert "Traceback" not in proc.log_text()


def _finalizers(kube: KubeServer, name: str, namespace: str = "app") -> list[str] | None:
    """The object's finalizers; None once it is gone."""
    found = kube.client.find(*VPS, name, namespace)
    return None if found is None else list(found["metadata"].get("finalizers") or [])


def test_the_scheduler_keeps_the_finalizer_and_cleans_up_a_deletion_made_while_it_was_down(
        kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    """`deletionPolicy: Delete` puts sealer's finalizer (the name kopf used) on the object and only then writes to
    Vault; a policy change takes it off or puts it on. Objects deleted while the controller is down wait for it; it
    then deletes what they wrote and lets them go, keeping another controller's finalizer."""
    base, client = _app_store(kube, openbao, "delete"), kube.client
    client.create(push_secret("gone", "app", [item(f"{base}/gone", "password", "password")], deletionPolicy="Delete",
                              refreshInterval="1h"))
    client.create(push_secret("kept", "app", [item(f"{base}/kept", "password", "password")], refreshInterval="1h"))
    client.create(push_secret("flip", "app", [item(f"{base}/flip", "password", "password")], deletionPolicy="Delete",
                              refreshInterval="1h"))
    proc, _ = start_vault_controller(kube, tmp_path)
    for name in ("gone", "kept", "flip"):
        wait_cond(kube, name, "app", "True", "Synced", kind=VPS)
    assert (_finalizers(kube, "gone"), _finalizers(kube, "kept"), _finalizers(kube, "flip")) == (
        ["sealer.dev/finalizer"], [], ["sealer.dev/finalizer"])
    assert (_kv(openbao, f"{base}/kept") or {}).get("data") == {"password": "one"}

    client.patch(*VPS, "kept", {"spec": {"deletionPolicy": "Delete"}}, "app")
    client.patch(*VPS, "flip", {"spec": {"deletionPolicy": "None"}}, "app")
    client.wait_for(lambda: _finalizers(kube, "kept") == ["sealer.dev/finalizer"] and _finalizers(kube, "flip") == [],
                    timeout=15, message="a deletionPolicy change did not move the finalizer")
    client.patch(*VPS, "kept", {"metadata": {"finalizers": ["sealer.dev/finalizer", "example.com/other"]}}, "app")

    proc.stop()
    for name in ("gone", "kept", "flip"):
        client.delete(*VPS, name, "app")
    time.sleep(1.0)
    assert _finalizers(kube, "gone") == ["sealer.dev/finalizer"]  # held for the controller
    assert _finalizers(kube, "flip") is None  # nothing asked of Vault: no finalizer, gone at once
    proc, _ = start_vault_controller(kube, tmp_path, log_name="controller2.log")
    client.wait_for(lambda: _finalizers(kube, "gone") is None and _kv(openbao, f"{base}/gone") is None, timeout=20,
                    message="the deletion made while the controller was down was not cleaned up")
    client.wait_for(lambda: _finalizers(kube, "kept") == ["example.com/other"], timeout=20,
                    message="our finalizer not removed, or another controller's removed with it")
    assert _kv(openbao, f"{base}/kept") is None
    assert (_kv(openbao, f"{base}/flip") or {}).get("data") == {"password": "one"}  # deletionPolicy None: left
    client.patch(*VPS, "kept", {"metadata": {"finalizers": []}}, "app")
    client.wait_for(lambda: _finalizers(kube, "kept") is None, timeout=10, message="not deleted")
    proc.stop()
    assert "Traceback" not in proc.log_text()
    assert proc.log_text().count("deletion from Vault done, finalizer removed") == 2


def test_a_cleanup_vault_refuses_is_tried_then_the_object_goes_with_a_warning(kube: KubeServer, openbao: Bao,
                                                                                 tmp_path: Path) -> None:
    """A Vault that keeps refusing the deletion cannot hold the object (and its namespace's deletion) forever: tried
    5 times with the retry backoff, then the finalizer comes off with a Warning Event saying what was left."""
    base, client = _app_store(kube, openbao), kube.client
    client.create(push_secret("stuck", "app", [item(f"{base}/stuck", "password", "password")],
                              deletionPolicy="Delete", refreshInterval="1h"))
    proc, _ = start_vault_controller(kube, tmp_path)
    wait_cond(kube, "stuck", "app", "True", "Synced", kind=VPS)
    client.delete(*VPS, "stuck", "app")
    client.wait_for(lambda: _finalizers(kube, "stuck") is None, timeout=30, message="the object stayed")
    warnings = [e for e in client.events("app", name="stuck") if e.get("reason") == "CleanupFailed"]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert "deletion from Vault failed 5 times" in warnings[0]["message"], warnings[0]["message"]
    assert (_kv(openbao, f"{base}/stuck") or {}).get("data") == {"password": "one"}  # what was left undone
    proc.stop()
    assert proc.log_text().count("deletion from Vault failed (try") == 5
    assert "deletion from Vault given up, finalizer removed" in proc.log_text()
