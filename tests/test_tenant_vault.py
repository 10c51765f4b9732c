"""Tenant escape, Vault: an attacker who may create every sealer kind (VaultSecret, VaultStore, ...) in namespace
`team-b` tries to get `team-a`'s secrets, or to make the controller use team-a's credentials, or to overwrite
Secrets that are not theirs.

Real components only: a private OpenBao dev server with a file audit device (so every request OpenBao served can be
counted, by the policies of the token that made it), the Kubernetes API emulator (its request log shows which
Secrets the controller read), and the controller as its own process. One of each for the whole module: the
attacks are independent objects with their own names.

Every attempt must end Ready=False with its specific reason, write nothing, and leak nothing. Each refusal is
checked by its reason and message (so removing the check changes what the test sees), next to a positive control
that succeeds with the same store or the same kind of object where it is allowed.

What the emulator cannot show: CRD schema pruning. A real API server drops the fields the CRDs do not have
(`storeRef.namespace`, `target.namespace`, a VaultStore's `secretRef.namespace`, a ClusterVaultStore's ESO-style
`conditions`) before the controller sees them; the emulator keeps them, which is how the controller's own checks
of those fields are shown here (they matter for old CRDs and for clients that skip validation).
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer, Proc

from controller.vault import fields as vfields
from controller.vault import spec as vs
from controller.vault import store as vstore
from tests.controller_process import NS, assert_no_leak, secret_items
from tests.openbao import Bao, approle_login, kv2_put, start_openbao
from tests.vault_resources import (
    CSTORE,
    STORE,
    VS,
    start_vault_controller,
    store,
    token_auth,
    token_secret,
    vault_secret,
    wait_cond,
    wait_items,
)

A, B = "team-a", "team-b"
HEX = secrets.token_hex(6)
A_VALUE = f"PLANTED-team-a-value-{HEX}"  # in Vault, readable with team-a's credentials only
B_VALUE = f"PLANTED-team-b-value-{HEX}"  # team-b's own data (may land in team-b's Secrets, nowhere else)
SHARED_VALUE = f"PLANTED-shared-value-{HEX}"  # behind the platform team's ClusterVaultStores
A_TOKEN = f"PLANTEDtokenA{HEX}"
B_TOKEN = f"PLANTEDtokenB{HEX}"
PLATFORM_TOKEN = f"PLANTEDtokenP{HEX}"
DECOY_TOKEN = f"PLANTEDtokenD{HEX}"  # team-b's Secret with the platform Secret's name (referent-auth bait)
A_SECRET_ID = f"PLANTED-secret-id-a-{HEX}"
PLANTED = (A_VALUE, SHARED_VALUE, B_VALUE, A_TOKEN, B_TOKEN, PLATFORM_TOKEN, DECOY_TOKEN, A_SECRET_ID)
A_POLICY, B_POLICY, PLATFORM_POLICY, DECOY_POLICY = "team-a-read", "team-b-read", "platform-read", "decoy-read"


# --- the world: one OpenBao, one API server, one controller ---------------------------------------------------


@dataclass
class World:
    bao: Bao
    kube: KubeServer
    proc: Proc
    audit: Path
    a_role_id: str


@dataclass(frozen=True)
class Mark:
    """Where the audit log and the API server's request log stood when an attack began."""

    audit: int
    requests: int


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(namespace: str, name: str, data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, **meta},
            "data": {k: _b64(v) for k, v in data.items()}}


def _cluster_store(bao: Bao, name: str, auth: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": name},
            "spec": {"server": bao.addr, "auth": auth, **spec}}


PLATFORM_AUTH = {"token": {"secretRef": {"name": "platform-token", "namespace": NS, "key": "token"}}}
READ_A = [{"secretKey": "password", "remoteRef": {"path": "team-a/db", "property": "password"}}]
READ_B = [{"secretKey": "password", "remoteRef": {"path": "team-b/app", "property": "password"}}]
READ_SHARED = [{"secretKey": "password", "remoteRef": {"path": "shared/db", "property": "password"}}]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("tenant")
    audit = base / "audit.log"
    with contextlib.ExitStack() as stack:
        bao = stack.enter_context(start_openbao(base / "bao", config_hcl=(
            f'audit "file" "tenant" {{\n  options {{\n    file_path = "{audit}"\n  }}\n}}\n')))
        for policy, prefix in ((A_POLICY, "team-a"), (B_POLICY, "team-b"), (PLATFORM_POLICY, "shared"),
                               (DECOY_POLICY, "shared")):
            bao.write_policy(policy, f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}')
        for token, policy in ((A_TOKEN, A_POLICY), (B_TOKEN, B_POLICY), (PLATFORM_TOKEN, PLATFORM_POLICY),
                              (DECOY_TOKEN, DECOY_POLICY)):
            bao.create_token(policy, token_id=token)
        role_id, _ = approle_login(bao, "team-a", A_POLICY)
        bao.api("POST", "auth/approle/role/team-a/custom-secret-id", {"secret_id": A_SECRET_ID})
        kv2_put(bao, "team-a/db", {"password": A_VALUE})
        kv2_put(bao, "team-b/app", {"password": B_VALUE})
        kv2_put(bao, "shared/db", {"password": SHARED_VALUE})

        kube = stack.enter_context(KubeServer(base / "kube"))
        c = kube.client
        for ns, labels in ((A, {"tenant": "a"}), (B, {"tenant": "b"}), (NS, {})):
            c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
        # team-a: a token store, an AppRole store, a ServiceAccount, and a VaultSecret through each store
        token_secret(kube, A, A_TOKEN)
        c.create(_secret(A, "vault-approle", {"secret-id": A_SECRET_ID}))
        c.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader", "namespace": A}})
        c.create(store(bao, "a-store", A, token_auth()))
        c.create(store(bao, "a-approle", A, {"appRole": {"roleId": role_id, "secretIdRef": {
            "name": "vault-approle", "key": "secret-id"}}}))
        c.create(vault_secret("db", A, "a-store", data=READ_A))
        c.create(vault_secret("db-approle", A, "a-approle", data=READ_A))
        # team-b: its own token store, its own data, a Secret nobody gave to sealer, a decoy credential
        token_secret(kube, B, B_TOKEN)
        c.create(store(bao, "b-store", B, token_auth()))
        c.create(vault_secret("legit", B, "b-store", data=READ_B))
        c.create(_secret(B, "team-b-db", {"password": "hand-made-by-team-b"}, labels={"owner": "someone"}))
        c.create(_secret(B, "platform-token", {"token": DECOY_TOKEN}))
        # the platform team: a credential in the controller's namespace; ClusterVaultStores for team-a, one for team-b
        c.create(_secret(NS, "platform-token", {"token": PLATFORM_TOKEN}))
        c.create(_cluster_store(bao, "shared-listed", PLATFORM_AUTH, namespaces=[A]))
        c.create(_cluster_store(bao, "shared-selected", PLATFORM_AUTH,
                                namespaceSelector={"matchLabels": {"tenant": "a"}}))
        c.create(_cluster_store(bao, "shared-expr", PLATFORM_AUTH, namespaceSelector={
            "matchExpressions": [{"key": "tenant", "operator": "In", "values": ["a"]}]}))
        c.create(_cluster_store(bao, "for-b", PLATFORM_AUTH, namespaces=[B]))

        proc, _ = start_vault_controller(kube, base)
        stack.callback(proc.stop)
        w = World(bao, kube, proc, audit, role_id)
        # every positive control of the setup works before any attack starts
        for name in ("db", "db-approle"):
            wait_items(kube, name, A, lambda i: i == {"password": A_VALUE.encode()})
        wait_items(kube, "legit", B, lambda i: i == {"password": B_VALUE.encode()})
        for name, ns, kind in (("a-store", A, STORE), ("a-approle", A, STORE), ("b-store", B, STORE),
                               ("shared-listed", None, CSTORE), ("shared-selected", None, CSTORE),
                               ("shared-expr", None, CSTORE), ("for-b", None, CSTORE)):
            wait_cond(kube, name, ns, "True", "Valid", kind=kind)
        yield w
        proc.stop()
        assert_clean(w)


def mark(w: World) -> Mark:
    return Mark(w.audit.stat().st_size, len(w.kube.requests()))


def vault_uses(w: World, since: Mark, policy: str) -> list[str]:
    """Paths of the requests (and login responses) OpenBao served since `since` under a token with `policy`."""
    with open(w.audit, "rb") as f:
        f.seek(since.audit)
        lines = f.read().splitlines()
    found = []
    for line in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if policy in ((entry.get("auth") or {}).get("policies") or []):
                found.append(f"{entry.get('type')} {(entry.get('request') or {}).get('path')}")
    return found


def kube_calls(w: World, since: Mark, method: str, fragment: str) -> list[str]:
    """API requests the controller (or anyone) made since `since` with `method` whose path contains `fragment`."""
    return [p for m, p in w.kube.requests()[since.requests:] if m == method and fragment in p]


def settle() -> None:
    """Let each refused VaultSecret be retried a few times (backoff 200 ms .. 1 s): a check that held once and
    then gave way would show up in the logs counted afterwards."""
    time.sleep(2.0)


def assert_clean(w: World) -> None:
    """No planted value (token, secret id, Vault value; plain or base64) in the controller log, any Event, or any
    sealer object's status; team-a's value in no Secret outside team-a."""
    c = w.kube.client
    everything = w.proc.log_text() + repr(c.events()) + "".join(
        repr(c.list(*kind)) for kind in (VS, STORE, CSTORE))
    assert_no_leak(everything, *PLANTED)
    for s in c.list("v1", "Secret"):
        if s["metadata"]["namespace"] != A:
            assert _b64(A_VALUE) not in repr(s.get("data")), s["metadata"]
    assert not w.kube.server_errors()


def refused(w: World, name: str, reason: str, says: str, namespace: str = B,
            kind: tuple[str, str] = VS) -> dict[str, Any]:
    c = wait_cond(w.kube, name, namespace, "False", reason, kind=kind)
    assert says in c["message"], c
    return c


def no_secret(w: World, *names: str, namespace: str = B) -> None:
    for name in names:
        assert secret_items(w.kube, name, namespace) is None, name


# --- a. a VaultSecret uses only a VaultStore of its own namespace ------------------------------------------------


def test_a_vault_secret_cannot_name_another_namespaces_store(world: World) -> None:
    w, c = world, world.kube.client
    m = mark(w)
    c.create(vault_secret("steal-by-name", B, "a-store", data=READ_A))
    c.create(vault_secret("steal-approle-store", B, "a-approle", dataFrom=[{"path": "team-a/db"}]))
    steal = vault_secret("steal-by-namespace", B, "a-store", data=READ_A)
    steal["spec"]["storeRef"]["namespace"] = A  # no such field in the CRD; the emulator keeps it
    c.create(steal)

    refused(w, "steal-by-name", "StoreNotFound", "VaultStore a-store not found in namespace team-b")
    refused(w, "steal-approle-store", "StoreNotFound", "VaultStore a-approle not found in namespace team-b")
    refused(w, "steal-by-namespace", "InvalidSpec", "spec.storeRef.namespace")
    settle()
    no_secret(w, "steal-by-name", "steal-approle-store", "steal-by-namespace")
    assert vault_uses(w, m, A_POLICY) == []  # team-a's token and AppRole were not used at all
    assert kube_calls(w, m, "GET", f"/namespaces/{A}/secrets/") == []  # nor read from the API
    assert any(e.get("type") == "Warning" and e.get("reason") == "StoreNotFound"
               for e in c.events(B, name="steal-by-name", kind="VaultSecret"))

    # the guard behind the lookup: were team-a's store handed to a team-b VaultSecret, it would be refused
    a_store = vstore.parse_store(c.get(*STORE, "a-store", A))
    assert "a VaultSecret can use only a VaultStore of its own" in (vstore.store_allows(a_store, B, None) or "")
    assert vstore.store_allows(a_store, A, None) is None

    # positive control: the same stores serve a new VaultSecret of their own namespace at once
    c.create(vault_secret("again", A, "a-store", data=READ_A))
    c.create(vault_secret("again-approle", A, "a-approle", dataFrom=[{"path": "team-a/db"}]))
    wait_items(w.kube, "again", A, lambda i: i == {"password": A_VALUE.encode()})
    wait_items(w.kube, "again-approle", A, lambda i: i == {"password": A_VALUE.encode()})
    assert_clean(w)


def test_a_same_store_name_in_team_b_shares_nothing_with_team_a(world: World) -> None:
    """team-b makes its own VaultStore named like team-a's: it gets its own client and token (its own policy),
    so Vault refuses team-a's path; team-a's cached token is not reused by name."""
    w, c = world, world.kube.client
    c.create(store(w.bao, "a-store", B, token_auth()))  # team-b's token Secret, team-a's store name
    wait_cond(w.kube, "a-store", B, "True", "Valid", kind=STORE)
    m = mark(w)
    c.create(vault_secret("shadow", B, "a-store", data=READ_A))
    refused(w, "shadow", "PermissionDenied", "read secret/team-a/db: permission denied by Vault (VaultStore "
                                             "team-b/a-store)")
    settle()
    no_secret(w, "shadow")
    assert vault_uses(w, m, A_POLICY) == []
    assert any("secret/data/team-a/db" in p for p in vault_uses(w, m, B_POLICY))  # asked with team-b's token
    # positive control: team-b's store of that name reads what team-b's token may read
    c.create(vault_secret("shadow-own", B, "a-store", data=READ_B))
    wait_items(w.kube, "shadow-own", B, lambda i: i == {"password": B_VALUE.encode()})
    assert_clean(w)


# --- b. a ClusterVaultStore serves only the namespaces it allows --------------------------------------------------


def test_b_cluster_store_refuses_namespaces_it_does_not_allow(world: World) -> None:
    w, c = world, world.kube.client
    # ESO's shape (spec.conditions[].namespaces) instead of sealer's: must not silently admit everyone
    c.create(_cluster_store(w.bao, "eso-conditions", PLATFORM_AUTH, conditions=[{"namespaces": [A]}]))
    refused(w, "eso-conditions", "InvalidStore", "spec.conditions", namespace=None, kind=CSTORE)
    m = mark(w)
    for store_name in ("shared-listed", "shared-selected", "shared-expr", "eso-conditions"):
        c.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": f"via-{store_name}", "namespace": B},
                  "spec": {"storeRef": {"kind": "ClusterVaultStore", "name": store_name}, "data": READ_SHARED}})
    c.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": "via-namespaced-name", "namespace": B},
              "spec": {"storeRef": {"kind": "ClusterVaultStore", "name": "a-store"}, "data": READ_A}})

    for store_name in ("shared-listed", "shared-selected", "shared-expr"):
        refused(w, f"via-{store_name}", "StoreNotAllowed",
                f"ClusterVaultStore {store_name} does not allow namespace team-b (spec.namespaces / "
                "spec.namespaceSelector)")
    refused(w, "via-eso-conditions", "InvalidStore", "spec.conditions")
    refused(w, "via-namespaced-name", "StoreNotFound", "ClusterVaultStore a-store not found in the cluster")
    settle()
    no_secret(w, "via-shared-listed", "via-shared-selected", "via-shared-expr", "via-eso-conditions",
              "via-namespaced-name")
    assert vault_uses(w, m, PLATFORM_POLICY) == []  # the platform token was not used for team-b
    assert vault_uses(w, m, A_POLICY) == []
    assert kube_calls(w, m, "GET", f"/namespaces/{NS}/secrets/platform-token") == []

    # positive control: the same three stores admit team-a (listed / labelled tenant=a)
    for store_name in ("shared-listed", "shared-selected", "shared-expr"):
        c.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": f"via-{store_name}", "namespace": A},
                  "spec": {"storeRef": {"kind": "ClusterVaultStore", "name": store_name}, "data": READ_SHARED}})
    for store_name in ("shared-listed", "shared-selected", "shared-expr"):
        wait_items(w.kube, f"via-{store_name}", A, lambda i: i == {"password": SHARED_VALUE.encode()})
    assert vault_uses(w, m, PLATFORM_POLICY)  # now it was
    assert_clean(w)


# --- c. a VaultStore's credentials come only from its own namespace -------------------------------------------------


def test_c_namespaced_store_reads_credentials_only_from_its_own_namespace(world: World) -> None:
    w, c = world, world.kube.client
    m = mark(w)
    attacks = {
        "steal-token": ({"token": {"secretRef": {"name": "vault-token", "key": "token", "namespace": A}}},
                        "spec.auth.token.secretRef.namespace: a VaultStore reads credentials only from its own "
                        "namespace"),
        "steal-approle": ({"appRole": {"roleId": w.a_role_id, "secretIdRef": {
            "name": "vault-approle", "key": "secret-id", "namespace": A}}},
            "spec.auth.appRole.secretIdRef.namespace: a VaultStore reads credentials only from its own namespace"),
        "steal-sa": ({"kubernetes": {"role": "team-a", "serviceAccount": {"name": "reader", "namespace": A}}},
                     "spec.auth.kubernetes.serviceAccount.namespace: a VaultStore uses a ServiceAccount of its own "
                     "namespace"),
        "steal-traversal": ({"token": {"secretRef": {"name": f"../../{A}/secrets/vault-token", "key": "token"}}},
                            "spec.auth.token.secretRef.name: must be a valid Secret name"),
    }
    for name, (auth, _) in attacks.items():
        c.create(store(w.bao, name, B, auth))
        c.create(vault_secret(name, B, name, data=READ_A))
    # the same name as team-a's secret-id Secret, without a namespace: team-b's namespace, where there is none
    c.create(store(w.bao, "steal-approle-same-name", B, {"appRole": {"roleId": w.a_role_id, "secretIdRef": {
        "name": "vault-approle", "key": "secret-id"}}}))
    c.create(vault_secret("steal-approle-same-name", B, "steal-approle-same-name", data=READ_A))

    for name, (_, says) in attacks.items():
        refused(w, name, "InvalidStore", says, kind=STORE)
        refused(w, name, "InvalidStore", f"VaultStore {name}: {says}")
    refused(w, "steal-approle-same-name", "InvalidSpec", "credential Secret team-b/vault-approle not found",
            kind=STORE)
    refused(w, "steal-approle-same-name", "InvalidSpec", "credential Secret team-b/vault-approle not found")
    settle()
    no_secret(w, *attacks, "steal-approle-same-name")
    assert vault_uses(w, m, A_POLICY) == []  # no login with team-a's secret id, no use of team-a's token
    assert kube_calls(w, m, "GET", f"/namespaces/{A}/secrets") == []
    assert kube_calls(w, m, "GET", f"{A}%2Fsecrets") == []
    assert kube_calls(w, m, "POST", f"/namespaces/{A}/serviceaccounts") == []  # no TokenRequest for team-a's SA
    assert kube_calls(w, m, "GET", f"/namespaces/{B}/secrets/vault-approle")  # looked where it belongs, only

    # positive control: team-a's stores with the same auth, without the foreign namespace, are in use
    for name in ("a-store", "a-approle"):
        wait_cond(w.kube, name, A, "True", "Valid", kind=STORE)
    assert_clean(w)


# --- d. a ClusterVaultStore's credential namespace is the platform team's choice, never the VaultSecret's -------------


def test_d_cluster_store_credentials_never_follow_the_vault_secret(world: World) -> None:
    w, c = world, world.kube.client
    # ESO's "referent" auth (credential looked up in the ExternalSecret's namespace) is not supported: a
    # ClusterVaultStore credential without a namespace is an invalid store, not team-b's decoy Secret
    c.create(_cluster_store(w.bao, "referent", {"token": {"secretRef": {"name": "platform-token", "key": "token"}}},
                            namespaces=[B]))
    m = mark(w)
    refused(w, "referent", "InvalidStore", "spec.auth.token.secretRef.namespace: is required", namespace=None,
            kind=CSTORE)
    c.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": "via-referent", "namespace": B},
              "spec": {"storeRef": {"kind": "ClusterVaultStore", "name": "referent"}, "data": READ_SHARED}})
    refused(w, "via-referent", "InvalidStore", "spec.auth.token.secretRef.namespace: is required")

    # positive control: a ClusterVaultStore that allows team-b uses the platform's Secret (sealer-system), not the
    # team-b Secret of the same name
    c.create({"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": "via-for-b", "namespace": B},
              "spec": {"storeRef": {"kind": "ClusterVaultStore", "name": "for-b"}, "data": READ_SHARED}})
    wait_items(w.kube, "via-for-b", B, lambda i: i == {"password": SHARED_VALUE.encode()})
    settle()
    no_secret(w, "via-referent")
    assert vault_uses(w, m, DECOY_POLICY) == []  # team-b's decoy token was never used
    assert kube_calls(w, m, "GET", f"/namespaces/{B}/secrets/platform-token") == []
    assert any("secret/data/shared/db" in p for p in vault_uses(w, m, PLATFORM_POLICY))
    assert vault_uses(w, m, A_POLICY) == []
    assert_clean(w)


# --- e. the target Secret: never someone else's, never in another namespace ---------------------------------------


def test_e_target_never_overwrites_or_leaves_the_namespace(world: World) -> None:
    w, c = world, world.kube.client
    c.create(_secret(B, "opted-in", {"old": "x"}, annotations={"sealer.dev/managed": "true"}))
    before = {(ns, n): c.get("v1", "Secret", n, ns) for ns, n in ((B, "team-b-db"), (B, "legit"), (A, "db"))}
    m = mark(w)
    c.create(vault_secret("clobber-owner", B, "b-store", data=READ_B, target={"name": "team-b-db"}))
    c.create(vault_secret("clobber-orphan", B, "b-store", data=READ_B,
                          target={"name": "team-b-db", "creationPolicy": "Orphan"}))
    # a Secret another sealer object controls (labelled managed-by sealer): Orphan must not take it over by label
    c.create(vault_secret("hijack-legit", B, "b-store", data=[
        {"secretKey": "password", "remoteRef": {"path": "team-b/app", "property": "password"}},
        {"secretKey": "extra", "remoteRef": {"path": "team-b/app", "property": "password"}}],
        target={"name": "legit", "creationPolicy": "Orphan"}))
    c.create(vault_secret("merge-into-legit", B, "b-store", data=[
        {"secretKey": "password", "remoteRef": {"path": "team-b/app", "property": "password"}},
        {"secretKey": "extra", "remoteRef": {"path": "team-b/app", "property": "password"}}],
        target={"name": "legit", "creationPolicy": "Merge"}))
    # ... nor delete it on a not-found in Vault
    c.create(vault_secret("delete-legit", B, "b-store", dataFrom=[{"path": "team-b/nothing-here"}],
                          target={"name": "legit", "creationPolicy": "Orphan", "deletionPolicy": "Delete"}))
    c.create(vault_secret("cross-namespace", B, "b-store", data=READ_B, target={"name": "db", "namespace": A}))
    c.create(vault_secret("traversal", B, "b-store", data=READ_B, target={"name": f"../{A}/db"}))

    not_owned = "a Secret with this name exists and is not managed by this VaultSecret"
    refused(w, "clobber-owner", "NotOwned", not_owned)
    refused(w, "clobber-orphan", "NotOwned", not_owned)
    refused(w, "hijack-legit", "Conflict", "the Secret is already produced by VaultSecret legit")
    refused(w, "merge-into-legit", "Conflict", "Secret legit is produced by VaultSecret legit")
    refused(w, "delete-legit", "NotFound", "the existing Secret is kept")
    refused(w, "cross-namespace", "InvalidSpec", "spec.target.namespace")
    refused(w, "traversal", "InvalidSpec", "spec.target.name")
    settle()
    after = {(ns, n): c.get("v1", "Secret", n, ns) for ns, n in before}
    assert after == before  # byte-identical, same resourceVersion: never written
    no_secret(w, "clobber-owner", "clobber-orphan", "hijack-legit", "merge-into-legit", "delete-legit",
              "cross-namespace", "traversal", "db")
    assert kube_calls(w, m, "PATCH", f"/namespaces/{A}/secrets") == []
    assert kube_calls(w, m, "POST", f"/namespaces/{A}/secrets") == []
    assert kube_calls(w, m, "DELETE", "/secrets/") == []
    assert vault_uses(w, m, A_POLICY) == []

    # positive controls with the same store: a fresh name is created, an opted-in Secret is taken over
    c.create(vault_secret("fresh", B, "b-store", data=READ_B))
    c.create(vault_secret("opt", B, "b-store", data=READ_B, target={"name": "opted-in"}))
    wait_items(w.kube, "fresh", B, lambda i: i == {"password": B_VALUE.encode()})
    wait_items(w.kube, "opted-in", B, lambda i: i == {"password": B_VALUE.encode()})
    assert wait_cond(w.kube, "opt", B, "True")["reason"] in ("TakenOver", "Synced")
    c.wait_for(lambda: any(e.get("reason") == "TakenOver" for e in c.events(B, name="opt", kind="VaultSecret")),
               timeout=10, message="no TakenOver Event")  # kopf posts Events from a queue: not at once
    assert_clean(w)


# --- f. rollout restarts stay in the VaultSecret's namespace -------------------------------------------------------


def test_f_rollout_restart_never_reaches_another_namespace(world: World) -> None:
    w, c = world, world.kube.client
    for ns in (A, B):
        c.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                  "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}})
    kv2_put(w.bao, "team-b/rotating", {"password": "one"})
    a_web = c.get("apps/v1", "Deployment", "web", A)
    m = mark(w)
    c.create(vault_secret("restart-a", B, "b-store", dataFrom=[{"path": "team-b/rotating"}],
                          rolloutRestartTargets=[{"kind": "Deployment", "name": "web", "namespace": A}]))
    c.create(vault_secret("restart-traversal", B, "b-store", dataFrom=[{"path": "team-b/rotating"}],
                          rolloutRestartTargets=[{"kind": "Deployment", "name": f"../../{A}/deployments/web"}]))
    refused(w, "restart-a", "InvalidSpec", "spec.rolloutRestartTargets[0].namespace")
    refused(w, "restart-traversal", "InvalidSpec", "spec.rolloutRestartTargets[0].name")
    no_secret(w, "restart-a", "restart-traversal")

    # positive control: the same target without the namespace restarts team-b's Deployment when the data changes
    c.create(vault_secret("restart-own", B, "b-store", dataFrom=[{"path": "team-b/rotating"}],
                          rolloutRestartTargets=[{"kind": "Deployment", "name": "web"}]))
    wait_items(w.kube, "restart-own", B, lambda i: i == {"password": b"one"})
    wait_cond(w.kube, "restart-own", B, "True")
    kv2_put(w.bao, "team-b/rotating", {"password": "two"})
    c.patch(*VS, "restart-own", {"metadata": {"annotations": {vs.FORCE_SYNC_ANNOTATION: str(time.time())}}}, B)
    c.wait_for(lambda: vs.RESTARTED_AT_ANNOTATION in (((c.get("apps/v1", "Deployment", "web", B)["spec"].get(
        "template") or {}).get("metadata") or {}).get("annotations") or {}), timeout=30, message="team-b/web restarted")
    settle()
    assert c.get("apps/v1", "Deployment", "web", A) == a_web  # untouched, same resourceVersion
    assert kube_calls(w, m, "PATCH", f"/namespaces/{A}/deployments") == []
    assert_clean(w)


# --- the same refusals as pure functions (what the emulator's missing CRD pruning cannot hide) ----------------------


def _vs_obj(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": VS[0], "kind": VS[1], "metadata": {"name": "x", "namespace": B, "uid": "u"},
            "spec": {"storeRef": {"name": "b-store"}, "data": READ_B, **spec}}


@pytest.mark.parametrize(("spec", "field"), [
    ({"storeRef": {"name": "a-store", "namespace": A}}, "spec.storeRef.namespace"),
    ({"storeRef": {"kind": "ClusterVaultStore", "name": "s", "namespace": A}}, "spec.storeRef.namespace"),
    ({"storeRef": {"name": f"../../{A}/vaultstores/a-store"}}, "spec.storeRef.name"),
    ({"target": {"name": "db", "namespace": A}}, "spec.target.namespace"),
    ({"target": {"name": f"../{A}/db"}}, "spec.target.name"),
    ({"target": {"name": "Upper"}}, "spec.target.name"),
    ({"rolloutRestartTargets": [{"kind": "Deployment", "name": "web", "namespace": A}]},
     "spec.rolloutRestartTargets[0].namespace"),
])
def test_vault_secret_fields_that_would_leave_the_namespace_are_refused(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(vfields.SpecError) as e:
        vs.parse_vault_secret(_vs_obj(**spec))
    assert str(e.value).startswith(field + ":")
    # the same object without the foreign namespace is fine (own namespace spelt out is fine too)
    fixed = _vs_obj(storeRef={"name": "b-store", "namespace": B}, target={"name": "db", "namespace": B},
                    rolloutRestartTargets=[{"kind": "Deployment", "name": "web", "namespace": B}])
    assert vs.parse_vault_secret(fixed).target.name == "db"


@pytest.mark.parametrize(("kind", "spec", "field"), [
    ("VaultStore", {"auth": {"token": {"secretRef": {"name": "t", "key": "token", "namespace": A}}}},
     "spec.auth.token.secretRef.namespace"),
    ("VaultStore", {"auth": {"appRole": {"roleId": "r", "secretIdRef": {"name": "s", "key": "k", "namespace": A}}}},
     "spec.auth.appRole.secretIdRef.namespace"),
    ("VaultStore", {"auth": {"kubernetes": {"role": "r", "serviceAccount": {"name": "sa", "namespace": A}}}},
     "spec.auth.kubernetes.serviceAccount.namespace"),
    ("VaultStore", {"auth": {"token": {"secretRef": {"name": f"../../{A}/secrets/t", "key": "token"}}}},
     "spec.auth.token.secretRef.name"),
    ("VaultStore", {"auth": {"kubernetes": {"role": "r", "serviceAccount": {"name": f"../{A}/sa"}}}},
     "spec.auth.kubernetes.serviceAccount.name"),
    ("ClusterVaultStore", {"auth": {"token": {"secretRef": {"name": "t", "key": "token"}}}},
     "spec.auth.token.secretRef.namespace"),  # no referent auth: the namespace is the platform team's to write
    ("ClusterVaultStore", {"auth": PLATFORM_AUTH, "conditions": [{"namespaces": [A]}]}, "spec.conditions"),
])
def test_store_fields_that_would_reach_another_namespace_are_refused(kind: str, spec: dict[str, Any],
                                                                     field: str) -> None:
    meta = {"name": "s", "namespace": B} if kind == "VaultStore" else {"name": "s"}
    obj = {"apiVersion": STORE[0], "kind": kind, "metadata": meta, "spec": {"server": "http://127.0.0.1:1", **spec}}
    with pytest.raises(vfields.SpecError) as e:
        vstore.parse_store(obj)
    assert str(e.value).startswith(field + ":")
