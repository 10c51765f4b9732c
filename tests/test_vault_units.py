"""The Vault part of the controller without the controller: spec parsing (with the CRD defaults the emulator does
not apply), store access rules, data -> Secret, the keyed hash, backoff, `secrets.plan(merge=True)`, and the store
client's token handling against a real OpenBao dev server (login, renewal, re-login, revoke, error reasons).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from typing import Any

import pytest

from controller import metrics
from controller import secrets as ksecrets
from controller.vault import auth as vauth
from controller.vault import data as vdata
from controller.vault import fields as vfields
from controller.vault import spec as vs
from controller.vault import store as vstore
from controller.vault.client import Clients, StoreClient, VaultError
from controller.vault.sync import Backoff
from tests.openbao import Bao, OpenBaoError, approle_login, start_openbao
from tests.openbao_auth import Credentials, JwtIssuer, TokenReviewer

# --- specs --------------------------------------------------------------------------------------------------


def store_obj(**spec: Any) -> dict[str, Any]:
    base = {"server": "https://vault.example:8200", "auth": {"token": {"secretRef": {"name": "t", "key": "token"}}}}
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultStore", "metadata": {"name": "v", "namespace": "app"},
            "spec": {**base, **spec}}


def cluster_store_obj(**spec: Any) -> dict[str, Any]:
    obj = store_obj(**spec)
    obj["kind"] = "ClusterVaultStore"
    obj["metadata"] = {"name": "shared"}
    return obj


def vsec(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultSecret",
            "metadata": {"name": "db", "namespace": "app", "uid": "uid-1"},
            "spec": {"storeRef": {"name": "v"}, **spec}}


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("1h", 3600), ("15m", 900), ("90s", 90), ("1h30m", 5400),
                                               ("1.5h", 5400), ("250ms", 0.25)])
def test_go_durations(text: str, seconds: float) -> None:
    assert vfields.parse_go_duration(text, "f") == seconds


@pytest.mark.parametrize("text", ["", "1d", "h", "-1s", "1 h", "10"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(vfields.SpecError, match=r"spec.refreshInterval: invalid duration"):
        vs.parse_vault_secret(vsec(refreshInterval=text, dataFrom=[{"path": "a"}]))


def test_store_defaults_match_the_crd() -> None:
    s = vstore.parse_store(store_obj())
    assert (s.mount, s.kv_version, s.vault_namespace, s.ca_bundle) == ("secret", 2, None, None)
    assert s.auth == vauth.TokenAuth(vfields.SecretKeyRef("app", "t", "token"))
    a = vstore.parse_store(store_obj(auth={"appRole": {"roleId": "r", "secretIdRef": {"name": "s", "key": "id"}}})).auth
    assert a == vauth.AppRoleAuth("approle", "r", vfields.SecretKeyRef("app", "s", "id"))
    k = vstore.parse_store(store_obj(auth={"kubernetes": {"role": "r", "serviceAccount": {"name": "sa"}}})).auth
    assert k == vauth.KubernetesAuth("kubernetes", "r", "app", "sa", ("vault",))


@pytest.mark.parametrize(("obj", "says"), [
    (store_obj(auth={}), "spec.auth: needs exactly one of token, appRole, kubernetes"),
    (store_obj(auth={"token": {"secretRef": {"name": "t", "key": "k"}},
                     "appRole": {"roleId": "r", "secretIdRef": {"name": "s", "key": "k"}}}), "exactly one"),
    (store_obj(auth={"token": {"secretRef": {"name": "t", "key": "k", "namespace": "kube-system"}}}),
     "spec.auth.token.secretRef.namespace: a VaultStore reads credentials only from its own namespace"),
    (store_obj(server="vault:8200"), "spec.server: must be an http"),
    (store_obj(kvVersion=3), "spec.kvVersion: must be 1 or 2"),
    (store_obj(mount="/secret/"), "spec.mount"),
    (store_obj(caBundle="not base64!"), "spec.caBundle: is not valid base64"),
    (store_obj(caBundle=base64.b64encode(b"hello").decode()), "spec.caBundle: holds no PEM certificate"),
    (cluster_store_obj(auth={"token": {"secretRef": {"name": "t", "key": "k"}}}),
     "spec.auth.token.secretRef.namespace: is required"),
])
def test_store_errors_name_the_field(obj: dict[str, Any], says: str) -> None:
    with pytest.raises(vfields.SpecError) as e:
        vstore.parse_store(obj)
    assert says in str(e.value)


def test_store_access_rules() -> None:
    own = vstore.parse_store(store_obj())
    assert vstore.store_allows(own, "app", None) is None
    assert "another namespace" in (vstore.store_allows(own, "other", None) or "")
    auth = {"token": {"secretRef": {"name": "t", "key": "k", "namespace": "sealer-system"}}}
    everyone = vstore.parse_store(cluster_store_obj(auth=auth))
    assert vstore.store_allows(everyone, "anything", {}) is None  # neither list nor selector: all (as ESO)
    listed = vstore.parse_store(cluster_store_obj(auth=auth, namespaces=["a"], namespaceSelector={
        "matchLabels": {"team": "pay"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}))
    assert listed.needs_namespace_labels
    assert vstore.store_allows(listed, "a", {}) is None
    assert vstore.store_allows(listed, "b", {"team": "pay"}) is None
    assert vstore.store_allows(listed, "b", {"team": "pay", "env": "dev"}) is not None
    assert "does not allow namespace b" in (vstore.store_allows(listed, "b", {"team": "web"}) or "")
    sel = vstore.LabelSelector((), (("x", "Exists", ()), ("y", "DoesNotExist", ()), ("z", "In", ("1", "2"))))
    assert sel.matches({"x": "", "z": "2"}) and not sel.matches({"x": "", "z": "3"})
    assert not sel.matches({"x": "", "y": "", "z": "1"}) and not sel.matches({"z": "1"})


def test_vault_secret_defaults_match_the_crd() -> None:
    s = vs.parse_vault_secret(vsec(dataFrom=[{"path": "/team/app/"}]))
    assert (s.store_kind, s.refresh_seconds, s.data_from) == ("VaultStore", 3600, (vdata.DataFrom("team/app"),))
    assert s.target == vs.Target("db", vs.OWNER, vs.RETAIN)


@pytest.mark.parametrize(("spec", "says"), [
    ({}, "spec: set data, dataFrom, or both"),
    ({"dataFrom": [{"path": "../x"}]}, "spec.dataFrom[0].path: must not contain"),
    ({"data": [{"secretKey": "a b", "remoteRef": {"path": "p"}}]}, "spec.data[0].secretKey"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p"}}, {"secretKey": "a", "remoteRef": {"path": "q"}}]},
     "spec.data[1].secretKey: item 'a' is listed twice"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p", "version": 0}}]}, "spec.data[0].remoteRef.version"),
    ({"dataFrom": [{"path": "p"}], "target": {"creationPolicy": "Merge", "deletionPolicy": "Delete"}},
     "spec.target.deletionPolicy: Delete is not allowed with creationPolicy Merge"),
    ({"dataFrom": [{"path": "p"}], "storeRef": {"kind": "SecretStore", "name": "v"}}, "spec.storeRef.kind"),
    ({"dataFrom": [{"path": "p"}], "rolloutRestartTargets": [{"kind": "Pod", "name": "x"}]},
     "spec.rolloutRestartTargets[0]"),
])
def test_vault_secret_errors_name_the_field(spec: dict[str, Any], says: str) -> None:
    obj = vsec(**spec)
    if "storeRef" in spec:
        obj["spec"]["storeRef"] = spec["storeRef"]
    with pytest.raises(vfields.SpecError) as e:
        vs.parse_vault_secret(obj)
    assert says in str(e.value)


def test_one_read_per_path_and_version() -> None:
    s = vs.parse_vault_secret(vsec(dataFrom=[{"path": "a"}], data=[
        {"secretKey": "x", "remoteRef": {"path": "a", "property": "x"}},
        {"secretKey": "y", "remoteRef": {"path": "a", "property": "y"}},
        {"secretKey": "z", "remoteRef": {"path": "a", "property": "x", "version": 2}}]))
    assert vdata.reads(s) == [("a", None), ("a", 2)]


def test_build_data_and_desired_secret() -> None:
    s = vs.parse_vault_secret(vsec(dataFrom=[{"path": "a"}], data=[
        {"secretKey": "n", "remoteRef": {"path": "b", "property": "n"}},
        {"secretKey": "flag", "remoteRef": {"path": "a", "property": "flag"}},
        {"secretKey": "all", "remoteRef": {"path": "b"}}],
        target={"name": "out", "creationPolicy": "Orphan",
                "template": {"type": "kubernetes.io/tls", "metadata": {"labels": {"l": "1"}}}}))
    data = vdata.build_data(s, {("a", None): {"flag": True, "s": "text", "n": "overridden"},
                             ("b", None): {"n": 5, "m": {"k": [1]}}})
    assert data == {"flag": b"true", "s": b"text", "n": b"5", "all": b'{"m":{"k":[1]},"n":5}'}
    d = vs.desired_secret(vsec(), s, data)
    assert d["metadata"] == {"name": "out", "namespace": "app",
                             "labels": {"l": "1", "app.kubernetes.io/managed-by": "sealer"}}  # Orphan: no owner
    assert d["type"] == "kubernetes.io/tls" and base64.b64decode(d["data"]["s"]) == b"text"
    owner = vs.desired_secret(vsec(), vs.parse_vault_secret(vsec(dataFrom=[{"path": "a"}])), data)
    assert owner["metadata"]["ownerReferences"][0] == {
        "apiVersion": "sealer.dev/v1alpha1", "kind": "VaultSecret", "name": "db", "uid": "uid-1", "controller": True,
        "blockOwnerDeletion": True}
    merge = vs.desired_secret(vsec(), vs.parse_vault_secret(vsec(dataFrom=[{"path": "a"}],
                                                                 target={"creationPolicy": "Merge"})), data)
    assert "labels" not in merge["metadata"] and "ownerReferences" not in merge["metadata"]


def test_build_data_errors_name_the_path_not_the_value() -> None:
    s = vs.parse_vault_secret(vsec(data=[{"secretKey": "p", "remoteRef": {"path": "a", "property": "nope"}}]))
    with pytest.raises(vdata.DataError, match="Vault secret a has no property 'nope'"):
        vdata.build_data(s, {("a", None): {"other": "SECRET-VALUE"}})
    s = vs.parse_vault_secret(vsec(dataFrom=[{"path": "a"}]))
    with pytest.raises(vdata.DataError, match="key 'bad key' that is not a valid Secret item key") as e:
        vdata.build_data(s, {("a", None): {"bad key": "SECRET-VALUE"}})
    assert "SECRET-VALUE" not in str(e.value)


def test_data_hmac_is_keyed_and_unambiguous() -> None:
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    data = {"password": b"hunter2"}
    h = vs.data_hmac(k1, data)
    assert h == vs.data_hmac(k1, dict(data)) and h != vs.data_hmac(k2, data)
    assert hashlib.sha256(b"hunter2").hexdigest() not in h and hashlib.sha256(b"password" + b"hunter2").hexdigest() \
        not in h
    assert vs.data_hmac(k1, {"ab": b"c"}) != vs.data_hmac(k1, {"a": b"bc"})
    assert vs.data_hmac(k1, {"a": b"", "b": b""}) != vs.data_hmac(k1, {"a": b"\x00\x00\x00\x01b"})
    changed = vs.data_hmac(k1, {"password": b"hunter3"})
    assert vs.hash_changed(h, changed, k1) and not vs.hash_changed(h, h, k1)
    assert not vs.hash_changed(None, h, k1)  # the first sync is not a change
    assert not vs.hash_changed(vs.data_hmac(k2, data), changed, k1)  # another key: cannot tell


def test_plan_merge_writes_only_items_and_never_creates() -> None:
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "app"},
               "data": {"a": "MQ=="}}
    assert ksecrets.plan(None, desired, "u", merge=True).action == ksecrets.REFUSE
    theirs = {"metadata": {"name": "s", "namespace": "app", "ownerReferences": [{"uid": "x", "controller": True}]},
              "data": {"a": "MA==", "keep": "eA=="}}
    step = ksecrets.plan(theirs, desired, "u", merge=True)
    assert (step.action, step.body) == (ksecrets.UPDATE, {"data": {"a": "MQ=="}})
    theirs["data"]["a"] = "MQ=="
    assert ksecrets.plan(theirs, desired, "u", merge=True).action == ksecrets.NOOP
    # without merge, the same Secret is refused (not ours): SealedSecret behaviour unchanged
    assert ksecrets.plan(theirs, desired, "u").action == ksecrets.REFUSE


def test_backoff_doubles_with_jitter_and_caps() -> None:
    b = Backoff(1.0, 8.0)
    delays = [b.next() for _ in range(6)]
    for d, base in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert base * 0.5 <= d <= base
    b.reset()
    assert b.next() <= 1.0


# --- the store client against a real OpenBao ------------------------------------------------------------------


class FakeCredentials:
    """Credentials as the controller would read them from Secrets; the values are real OpenBao credentials."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0

    def secret_value(self, ref: vfields.SecretKeyRef) -> str:
        self.reads += 1
        if ref.name not in self.values:
            raise VaultError("InvalidSpec", f"credential Secret {ref.namespace}/{ref.name} not found")
        return self.values[ref.name]

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...]) -> str:
        raise VaultError("InvalidSpec", "no TokenRequest here")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def spec_for(bao: Bao, auth: dict[str, Any], **extra: Any) -> vstore.StoreSpec:
    obj = store_obj(auth=auth, **extra)
    obj["spec"]["server"] = bao.addr
    return vstore.parse_store(obj)


def test_token_client_reads_kv2_and_maps_errors(openbao: Bao) -> None:
    base = f"units-{secrets.token_hex(4)}"
    openbao.api("POST", f"secret/data/{base}/a", {"data": {"k": "v1"}})
    openbao.api("POST", f"secret/data/{base}/a", {"data": {"k": "v2"}})
    openbao.write_policy(f"{base}-p", f'path "secret/data/{base}/a" {{ capabilities = ["read"] }}')
    token = openbao.create_token(f"{base}-p")
    creds = FakeCredentials({"t": token})
    client = StoreClient(spec_for(openbao, {"token": {"secretRef": {"name": "t", "key": "token"}}}), creds)
    assert client.read(f"{base}/a") == {"k": "v2"} and client.read(f"{base}/a", 1) == {"k": "v1"}
    assert client.logins == 1 and creds.reads == 1  # one login for many reads
    with pytest.raises(VaultError) as e:
        client.read(f"{base}/other")
    assert e.value.reason == "PermissionDenied" and token not in str(e.value)
    assert client.logins == 1  # a 403 with a valid token is the policy's answer: no new login
    openbao.write_policy(f"{base}-p", f'path "secret/data/{base}/*" {{ capabilities = ["read"] }}')
    with pytest.raises(VaultError) as e:
        client.read(f"{base}/missing")
    assert e.value.reason == "NotFound"
    with pytest.raises(VaultError) as e:
        client.read(f"{base}/a", 9)
    assert e.value.reason == "NotFound"
    assert "token ttl" in client.check() and f"{base}-p" in client.check()


def test_revoked_token_logs_in_again_with_the_rotated_secret(openbao: Bao) -> None:
    base = f"units-{secrets.token_hex(4)}"
    openbao.api("POST", f"secret/data/{base}", {"data": {"k": "v"}})
    openbao.write_policy(f"{base}-p", 'path "secret/*" { capabilities = ["read"] }')
    first, second = openbao.create_token(f"{base}-p"), openbao.create_token(f"{base}-p")
    creds = FakeCredentials({"t": first})
    client = StoreClient(spec_for(openbao, {"token": {"secretRef": {"name": "t", "key": "token"}}}), creds)
    assert client.read(base) == {"k": "v"}
    openbao.api("POST", "auth/token/revoke", {"token": first})
    creds.values["t"] = second  # the user rotated the token Secret
    assert client.read(base) == {"k": "v"}
    assert client.logins == 2
    openbao.api("POST", "auth/token/revoke", {"token": second})
    with pytest.raises(VaultError) as e:
        client.read(base)
    assert e.value.reason == "PermissionDenied"


def test_approle_renews_before_expiry_and_revokes_on_close(openbao: Bao) -> None:
    base = f"units-{secrets.token_hex(4)}"
    openbao.api("POST", f"secret/data/{base}", {"data": {"k": "v"}})
    openbao.write_policy(f"{base}-p", 'path "secret/*" { capabilities = ["read"] }')
    role_id, secret_id = approle_login(openbao, base, f"{base}-p", token_ttl="60s", token_max_ttl="1h")
    clock = Clock()
    creds = FakeCredentials({"s": secret_id})
    auth = {"appRole": {"roleId": role_id, "secretIdRef": {"name": "s", "key": "id"}}}
    client = StoreClient(spec_for(openbao, auth), creds, clock=clock)
    assert client.read(base) == {"k": "v"} and client.logins == 1
    renewals = metrics.VAULT_REQUESTS.value("renew", "200")
    clock.t += 45  # past two thirds of 60 s: the next use renews first
    assert client.read(base) == {"k": "v"} and client.logins == 1
    assert metrics.VAULT_REQUESTS.value("renew", "200") == renewals + 1
    clock.t += 30  # renewed at +45: not yet due again
    client.maintain()
    assert metrics.VAULT_REQUESTS.value("renew", "200") == renewals + 1
    clock.t += 20  # due: the timer renews without a read
    client.maintain()
    assert metrics.VAULT_REQUESTS.value("renew", "200") == renewals + 2
    assert client.logins == 1
    clock.t += 3600  # expired by our clock: a fresh login
    assert client.read(base) == {"k": "v"} and client.logins == 2
    token = client._token.value
    assert openbao.api("POST", "auth/token/lookup", {"token": token})["data"]["ttl"] > 0
    client.close()
    with pytest.raises(OpenBaoError, match=r"bad token|permission denied|invalid"):
        openbao.api("POST", "auth/token/lookup", {"token": token})


def test_approle_wrong_secret_id_is_permission_denied(openbao: Bao) -> None:
    base = f"units-{secrets.token_hex(4)}"
    role_id, _ = approle_login(openbao, base, "default")
    auth = {"appRole": {"roleId": role_id, "secretIdRef": {"name": "s", "key": "id"}}}
    client = StoreClient(spec_for(openbao, auth), FakeCredentials({"s": "wrong-secret-id"}))
    with pytest.raises(VaultError) as e:
        client.read("x")
    assert e.value.reason == "PermissionDenied" and "wrong-secret-id" not in str(e.value)
    missing = StoreClient(spec_for(openbao, auth), FakeCredentials({}))
    with pytest.raises(VaultError, match="credential Secret app/s not found"):
        missing.read("x")


def test_kv1_and_version_on_kv1(openbao: Bao) -> None:
    mount = f"kv1-{secrets.token_hex(3)}"
    openbao.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "1"}})
    openbao.api("POST", f"{mount}/app", {"k": "one"})
    client = StoreClient(spec_for(openbao, {"token": {"secretRef": {"name": "t", "key": "token"}}},
                                  mount=mount, kvVersion=1), FakeCredentials({"t": openbao.token}))
    assert client.read("app") == {"k": "one"}
    with pytest.raises(VaultError, match="version is not valid with kvVersion 1"):
        client.read("app", 2)


def test_unreachable_and_tls_with_ca_bundle(tmp_path: Path) -> None:
    with start_openbao(tmp_path / "tls", tls=True) as bao:
        bao.api("POST", "secret/data/x", {"data": {"k": "tls"}})
        auth = {"token": {"secretRef": {"name": "t", "key": "token"}}}
        no_ca = StoreClient(spec_for(bao, auth), FakeCredentials({"t": bao.token}))
        with pytest.raises(VaultError) as e:
            no_ca.read("x")
        assert e.value.reason == "VaultUnavailable"  # the self-signed CA is not trusted by default
        assert bao.ca_cert is not None
        ca = base64.b64encode(bao.ca_cert.read_bytes()).decode()
        client = StoreClient(spec_for(bao, auth, caBundle=ca), FakeCredentials({"t": bao.token}))
        assert client.read("x") == {"k": "tls"}
        addr = bao.addr
    gone = StoreClient(spec_for(bao, auth, caBundle=ca), FakeCredentials({"t": "s.x"}))
    with pytest.raises(VaultError) as e:
        gone.read("x")
    assert e.value.reason == "VaultUnavailable" and addr in str(e.value)
    client.close()
    gone.close()


def test_clients_are_shared_per_store_and_replaced_on_change(openbao: Bao) -> None:
    clients = Clients(FakeCredentials({"t": openbao.token}))
    auth = {"token": {"secretRef": {"name": "t", "key": "token"}}}
    a = clients.get(spec_for(openbao, auth))
    assert clients.get(spec_for(openbao, auth)) is a
    b = clients.get(spec_for(openbao, auth, mount="other"))
    assert b is not a and clients.find("VaultStore", "app", "v") is b
    clients.close()
    assert clients.all() == []


# --- Kubernetes auth: a real OpenBao calling a TokenReview endpoint ------------------------------------------


class TokenAuthority(Credentials):
    """What Kubernetes does for Vault's Kubernetes auth, reduced to the two calls involved: it issues
    ServiceAccount JWTs (tests.openbao_auth.JwtIssuer) and answers TokenReview on 127.0.0.1 for the tokens it
    issued (TokenReviewer), so forged and unbound tokens can be tried directly. The whole path through the
    controller process and the emulator's own TokenRequest/TokenReview is
    test_controller_vault.py::test_kubernetes_auth_through_the_emulators_token_apis."""

    def __init__(self) -> None:
        issuer = JwtIssuer()
        super().__init__(issuer=issuer)
        self.reviewer = TokenReviewer(issuer)
        self.url = self.reviewer.url

    @property
    def reviews(self) -> int:
        return self.reviewer.reviews

    def close(self) -> None:
        self.reviewer.close()


def test_kubernetes_auth_against_openbao_token_review(openbao: Bao) -> None:
    mount = f"k8s-{secrets.token_hex(3)}"
    authority = TokenAuthority()
    try:
        openbao.api("POST", f"sys/auth/{mount}", {"type": "kubernetes"})
        from sealer.sealed import keys

        _, ca = keys.generate(bits=2048, cn="test-cluster-ca")  # required by OpenBao; unused over http
        openbao.api("POST", f"auth/{mount}/config", {"kubernetes_host": authority.url, "disable_local_ca_jwt": True,
                                                     "kubernetes_ca_cert": keys.cert_pem(ca).decode()})
        openbao.write_policy(f"{mount}-read", 'path "secret/data/k8s/*" { capabilities = ["read"] }')
        openbao.api("POST", f"auth/{mount}/role/app", {
            "bound_service_account_names": ["app-reader"], "bound_service_account_namespaces": ["app"],
            "audience": "vault", "token_policies": [f"{mount}-read"], "token_ttl": "60s"})
        openbao.api("POST", "secret/data/k8s/db", {"data": {"password": "via-k8s"}})
        auth = {"kubernetes": {"mount": mount, "role": "app", "serviceAccount": {"name": "app-reader"}}}
        client = StoreClient(spec_for(openbao, auth), authority)
        assert client.read("k8s/db") == {"password": "via-k8s"}
        assert client.logins == 1 and authority.reviews == 1  # OpenBao asked "Kubernetes" about the token
        assert "kubernetes auth" in client.check()
        client.close()

        # another ServiceAccount than the role is bound to, or a token Kubernetes does not vouch for: refused
        other = {"kubernetes": {"mount": mount, "role": "app", "serviceAccount": {"name": "intruder"}}}
        with pytest.raises(VaultError) as e:
            StoreClient(spec_for(openbao, other), authority).read("k8s/db")
        assert e.value.reason == "PermissionDenied"

        forged = StoreClient(spec_for(openbao, auth), authority)
        forged._credentials = type("C", (), {  # a token shaped like a real one, never issued
            "service_account_token": lambda self, ns, name, auds: authority.service_account_token(ns, name, auds)
            .rsplit(".", 1)[0] + ".AAAA",
            "secret_value": authority.secret_value})()
        with pytest.raises(VaultError) as e:
            forged.read("k8s/db")
        assert e.value.reason == "PermissionDenied"
    finally:
        authority.close()
