"""Vault auth methods and store connection options (issue 17): userPass, jwt (a JWT in a Secret, or a
ServiceAccount TokenRequest token), cert (client certificate over TLS), appRole roleRef/secretRef, Kubernetes
auth with the controller's own ServiceAccount (ClusterVaultStore only), caProvider, tls (mTLS), headers and
auth.namespace. Each method logs in to a real OpenBao and reads a KV secret through `StoreClient`; one controller
e2e test runs a VaultSecret through a userPass store; tenant tests show what a VaultStore may not do.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer, Proc

from controller.vault import auth as vauth
from controller.vault import store as vstore
from controller.vault.client import StoreClient, VaultError
from controller.vault.fields import SecretKeyRef, SpecError
from tests.controller_process import NS, assert_no_leak, secret_items
from tests.openbao import Bao, approle_login, kv2_put, start_openbao
from tests.openbao_auth import (
    Credentials,
    JsonServer,
    JwtIssuer,
    TokenReviewer,
    cert_role,
    client_certificate,
    jwt_method,
    jwt_role,
    kubernetes_method,
    read_policy,
    userpass_user,
)
from tests.vault_resources import CSTORE, STORE, VS, start_vault_controller, store, vault_secret, wait_cond, wait_items

HEX = secrets.token_hex(4)


def store_obj(server: str, auth: dict[str, Any], *, kind: str = "VaultStore", **spec: Any) -> dict[str, Any]:
    meta = {"name": "v", "namespace": "app"} if kind == "VaultStore" else {"name": "shared"}
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": kind, "metadata": meta,
            "spec": {"server": server, "auth": auth, **spec}}


def parse(auth: dict[str, Any], *, kind: str = "VaultStore", **spec: Any) -> vstore.StoreSpec:
    return vstore.parse_store(store_obj("https://vault.example:8200", auth, kind=kind, **spec))


def ref(name: str, key: str, namespace: str | None = None) -> dict[str, str]:
    return {"name": name, "key": key, **({"namespace": namespace} if namespace else {})}


def secret_for(bao: Bao, name: str, value: str) -> str:
    """A KV v2 secret under a unique path; returns the path."""
    path = f"auth-{HEX}/{name}"
    kv2_put(bao, path, {"value": value})
    return path


# --- specs (pure) --------------------------------------------------------------------------------------------


def test_auth_specs_with_esos_names_and_defaults() -> None:
    up = parse({"userPass": {"username": "app", "secretRef": ref("pw", "password")}}).auth
    assert up == vauth.UserPassAuth("userpass", "app", SecretKeyRef("app", "pw", "password"))
    jwt = parse({"jwt": {"role": "r", "secretRef": ref("j", "jwt")}}).auth
    assert jwt == vauth.JwtAuth("jwt", "r", SecretKeyRef("app", "j", "jwt"))
    sat = parse({"jwt": {"mount": "k", "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "sa"}}}}).auth
    assert sat == vauth.JwtAuth("k", None, None, "app", "sa", ("vault",), 600)
    cert = parse({"cert": {"clientCert": ref("c", "tls.crt"), "secretRef": ref("c", "tls.key")}}).auth
    assert cert == vauth.CertAuth("cert", None, SecretKeyRef("app", "c", "tls.crt"),
                                  SecretKeyRef("app", "c", "tls.key"))
    ar = parse({"appRole": {"roleRef": ref("r", "id"), "secretRef": ref("s", "sid")}}).auth
    assert ar == vauth.AppRoleAuth("approle", None, SecretKeyRef("app", "s", "sid"), SecretKeyRef("app", "r", "id"))
    own = parse({"kubernetes": {"role": "r"}}, kind="ClusterVaultStore").auth
    assert isinstance(own, vauth.KubernetesAuth) and own.own_identity
    s = parse({"userPass": {"username": "u", "secretRef": ref("pw", "p")}, "namespace": "login-ns"},
              caProvider={"type": "ConfigMap", "name": "ca", "key": "ca.crt"},
              tls={"certSecretRef": {"name": "mtls"}, "keySecretRef": {"name": "mtls"}},
              headers={"X-Tenant": "a", "User-Agent": "sealer"})
    assert s.auth_namespace == "login-ns" and s.ca_provider == vstore.CaProvider("ConfigMap", "app", "ca", "ca.crt")
    assert (s.tls_cert, s.tls_key) == (SecretKeyRef("app", "mtls", "tls.crt"), SecretKeyRef("app", "mtls", "tls.key"))
    assert s.headers == (("User-Agent", "sealer"), ("X-Tenant", "a"))


@pytest.mark.parametrize(("auth", "spec", "says"), [
    # a tenant must never borrow the controller's identity
    ({"kubernetes": {"role": "r"}}, {}, "spec.auth.kubernetes.serviceAccount: is required in a VaultStore"),
    ({"jwt": {"kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "sa", "namespace": "kube-system"}}}},
     {}, "spec.auth.jwt.kubernetesServiceAccountToken.serviceAccountRef.namespace: a VaultStore uses"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p", "kube-system")}}, {},
     "spec.auth.userPass.secretRef.namespace: a VaultStore reads credentials only from its own namespace"),
    ({"cert": {"clientCert": ref("c", "k"), "secretRef": ref("c", "k", "other")}}, {},
     "spec.auth.cert.secretRef.namespace: a VaultStore reads"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}},
     {"caProvider": {"type": "Secret", "name": "ca", "key": "ca.crt", "namespace": "kube-system"}},
     "spec.caProvider.namespace: a VaultStore reads a CA only from its own namespace"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}},
     {"tls": {"certSecretRef": {"name": "c", "namespace": "other"}, "keySecretRef": {"name": "c"}}},
     "spec.tls.certSecretRef.namespace: a VaultStore reads"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}}, {"headers": {"X-Vault-Token": "t"}},
     "spec.headers.X-Vault-Token: must not set"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}}, {"headers": {"authorization": "t"}},
     "must not set authorization"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}}, {"headers": {"x-vault-namespace": "root"}},
     "must not set"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}}, {"headers": {"X-A": "1\r\nX-Vault-Token: t"}},
     "spec.headers.X-A: must be a single-line string"),
    ({"userPass": {"username": "../../sys/x", "secretRef": ref("pw", "p")}}, {}, "spec.auth.userPass.username"),
    ({"cert": {"clientCert": ref("c", "k"), "secretRef": ref("c", "k")}},
     {"tls": {"certSecretRef": {"name": "c"}, "keySecretRef": {"name": "c"}}}, "spec.tls: cert auth brings"),
    ({"jwt": {"role": "r"}}, {}, "spec.auth.jwt: needs exactly one of secretRef, kubernetesServiceAccountToken"),
    ({"appRole": {"roleId": "x", "roleRef": ref("r", "k"), "secretIdRef": ref("s", "k")}}, {},
     "spec.auth.appRole: needs exactly one of roleId, roleRef"),
    ({"appRole": {"roleId": "x", "secretIdRef": ref("s", "k"), "secretRef": ref("s", "k")}}, {},
     "needs exactly one of secretIdRef, secretRef"),
    ({"userPass": {"username": "u", "secretRef": ref("pw", "p")}, "jwt": {"secretRef": ref("j", "k")}}, {},
     "spec.auth: needs exactly one of"),
])
def test_auth_spec_errors_name_the_field(auth: dict[str, Any], spec: dict[str, Any], says: str) -> None:
    with pytest.raises(SpecError) as e:
        parse(auth, **spec)
    assert says in str(e.value)


# --- each method against OpenBao -----------------------------------------------------------------------------


def test_userpass_login_reads_and_a_wrong_password_is_denied(openbao: Bao) -> None:
    mount, password = f"up-{HEX}", f"PLANTED-pw-{HEX}"
    path = secret_for(openbao, "up", "via-userpass")
    userpass_user(openbao, mount, "app", password, read_policy(openbao, f"up-{HEX}", f"secret/data/{path}"))
    auth = {"userPass": {"mount": mount, "username": "app", "secretRef": ref("pw", "password")}}
    spec = vstore.parse_store(store_obj(openbao.addr, auth))
    client = StoreClient(spec, Credentials({("app", "pw", "password"): password}))
    assert client.read(path) == {"value": "via-userpass"} and client.logins == 1
    assert "userPass auth" in client.check()
    client.close()
    wrong = StoreClient(spec, Credentials({("app", "pw", "password"): "PLANTED-wrong-password"}))
    with pytest.raises(VaultError) as e:
        wrong.read(path)
    assert e.value.reason == "PermissionDenied"
    assert "userPass login" in str(e.value) and "VaultStore app/v" in str(e.value)
    assert "PLANTED" not in str(e.value)


def test_jwt_from_a_secret_and_from_a_service_account_token(openbao: Bao) -> None:
    mount, issuer = f"jwt-{HEX}", JwtIssuer()
    path = secret_for(openbao, "jwt", "via-jwt")
    policy = read_policy(openbao, f"jwt-{HEX}", f"secret/data/{path}")
    jwt_method(openbao, mount, issuer)
    jwt_role(openbao, mount, "ci", "ci-bot", "vault", policy)
    jwt_role(openbao, mount, "sa", "system:serviceaccount:app:reader", "vault", policy)
    now = int(time.time())
    planted = issuer.sign({"sub": "ci-bot", "aud": "vault", "iat": now, "nbf": now, "exp": now + 600, "iss": "ci"})
    in_secret = StoreClient(vstore.parse_store(store_obj(openbao.addr, {"jwt": {
        "mount": mount, "role": "ci", "secretRef": ref("ci-jwt", "token")}})),
        Credentials({("app", "ci-jwt", "token"): planted}))
    assert in_secret.read(path) == {"value": "via-jwt"}
    in_secret.close()

    creds = Credentials(issuer=issuer)
    sat = {"jwt": {"mount": mount, "role": "sa", "kubernetesServiceAccountToken": {
        "serviceAccountRef": {"name": "reader"}, "audiences": ["vault"], "expirationSeconds": 900}}}
    client = StoreClient(vstore.parse_store(store_obj(openbao.addr, sat)), creds)
    assert client.read(path) == {"value": "via-jwt"}
    assert creds.token_requests == [("app", "reader", ("vault",), 900)]  # a TokenRequest in the store's namespace
    client.close()

    # a token of another ServiceAccount is refused by the role's bound subject
    other = {"jwt": {**sat["jwt"], "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "intruder"}}}}
    with pytest.raises(VaultError) as e:
        StoreClient(vstore.parse_store(store_obj(openbao.addr, other)), creds).read(path)
    assert e.value.reason == "PermissionDenied" and "jwt login" in str(e.value)


def test_approle_role_ref_and_esos_secret_ref(openbao: Bao) -> None:
    path = secret_for(openbao, "approle", "via-roleref")
    role_id, secret_id = approle_login(openbao, f"rr-{HEX}", read_policy(openbao, f"rr-{HEX}", f"secret/data/{path}"))
    auth = {"appRole": {"roleRef": ref("role", "role-id"), "secretRef": ref("role", "secret-id")}}
    creds = Credentials({("app", "role", "role-id"): role_id, ("app", "role", "secret-id"): secret_id})
    client = StoreClient(vstore.parse_store(store_obj(openbao.addr, auth)), creds)
    assert client.read(path) == {"value": "via-roleref"}
    assert {(r.name, r.key) for r in creds.reads} == {("role", "role-id"), ("role", "secret-id")}
    client.close()


def test_kubernetes_auth_with_the_controllers_own_service_account(openbao: Bao) -> None:
    mount, issuer = f"k8s-{HEX}", JwtIssuer()
    reviewer = TokenReviewer(issuer)
    try:
        path = secret_for(openbao, "k8s", "via-controller-sa")
        kubernetes_method(openbao, mount, reviewer)
        openbao.api("POST", f"auth/{mount}/role/platform", {
            "bound_service_account_names": ["sealer-controller"], "bound_service_account_namespaces": ["sealer-system"],
            "audience": "vault", "token_policies": [read_policy(openbao, f"k8s-{HEX}", f"secret/data/{path}")]})
        creds = Credentials(issuer=issuer)
        spec = vstore.parse_store(store_obj(openbao.addr, {"kubernetes": {"mount": mount, "role": "platform"}},
                                            kind="ClusterVaultStore"))
        client = StoreClient(spec, creds)
        assert client.read(path) == {"value": "via-controller-sa"} and reviewer.reviews == 1
        assert creds.token_requests == [("sealer-system", "sealer-controller", ("vault",), 600)]
        client.close()
    finally:
        reviewer.close()


@pytest.fixture(scope="module")
def tls_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    with start_openbao(tmp_path_factory.mktemp("tls-bao"), tls=True) as bao:
        yield bao


def test_cert_auth_over_tls_with_a_ca_provider(tls_bao: Bao) -> None:
    bao = tls_bao
    assert bao.ca_cert is not None
    path = secret_for(bao, "cert", "via-cert")
    cert_pem, key_pem = client_certificate("sealer-app")
    cert_role(bao, "cert", "app", cert_pem, read_policy(bao, "cert-read", f"secret/data/{path}"))
    auth = {"cert": {"role": "app", "clientCert": ref("client", "tls.crt"), "secretRef": ref("client", "tls.key")}}
    spec = vstore.parse_store(store_obj(bao.addr, auth, caProvider={"type": "ConfigMap", "name": "ca",
                                                                     "key": "ca.crt"}))
    creds = Credentials({("app", "client", "tls.crt"): cert_pem, ("app", "client", "tls.key"): key_pem},
                        configmaps={("app", "ca", "ca.crt"): bao.ca_cert.read_text()})
    client = StoreClient(spec, creds)
    assert client.read(path) == {"value": "via-cert"}
    files = client._dir
    assert files is not None and os.stat(files).st_mode & 0o777 == 0o700
    assert all(os.stat(os.path.join(files, f)).st_mode & 0o777 == 0o600 for f in os.listdir(files))
    client.close()
    assert not os.path.exists(files)  # CA, certificate and key files are gone with the client

    # another certificate than the role trusts: refused at login, named by store and method
    other_cert, other_key = client_certificate("intruder")
    creds.secrets.update({("app", "client", "tls.crt"): other_cert, ("app", "client", "tls.key"): other_key})
    with pytest.raises(VaultError) as e:
        StoreClient(spec, creds).read(path)
    assert e.value.reason == "PermissionDenied" and "cert login (cert)" in str(e.value)
    # no CA from the caProvider: the server's certificate is not trusted
    no_ca = vstore.parse_store(store_obj(bao.addr, auth))
    with pytest.raises(VaultError) as e:
        StoreClient(no_ca, creds).read(path)
    assert e.value.reason == "VaultUnavailable"


def test_mtls_client_certificate_from_spec_tls(tmp_path: Path) -> None:
    """spec.tls puts the client certificate on every connection: a listener that requires one accepts it."""
    cert_pem, key_pem = client_certificate("sealer-mtls")
    with start_openbao(tmp_path / "bao", tls=True) as bao:  # -dev-tls requests (not requires) a certificate
        assert bao.ca_cert is not None
        path = secret_for(bao, "mtls", "via-mtls")
        cert_role(bao, "cert", "mtls", cert_pem, read_policy(bao, "mtls-read", f"secret/data/{path}"))
        # a token store whose connection carries the client certificate: OpenBao's cert method sees it
        secrets_ = {("app", "mtls", "tls.crt"): cert_pem, ("app", "mtls", "tls.key"): key_pem,
                    ("app", "t", "token"): bao.token}
        ca = base64.b64encode(bao.ca_cert.read_bytes()).decode()
        spec = vstore.parse_store(store_obj(bao.addr, {"token": {"secretRef": ref("t", "token")}}, caBundle=ca,
                                            tls={"certSecretRef": {"name": "mtls"}, "keySecretRef": {"name": "mtls"}}))
        client = StoreClient(spec, Credentials(secrets_))
        assert client.read(path) == {"value": "via-mtls"}
        c = client._auth_client
        answer = c.adapter.login("/v1/auth/cert/login", use_token=False, json={"name": "mtls"})
        assert answer["auth"]["client_token"]  # OpenBao saw our certificate on the TLS connection
        client.close()


class HeaderRecorder(JsonServer):
    """A stand-in server that records request headers and answers a token lookup (what is on the wire)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        super().__init__(self._answer)

    def _answer(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> tuple[int, Any]:
        self.seen.append({k.lower(): v for k, v in headers.items()})
        if "lookup" in path:
            return 200, {"data": {"ttl": 0, "renewable": False, "policies": ["root"], "data": {"value": "x"}}}
        return 200, {"data": {"data": {"value": "x"}}}  # a KV v2 read


def test_headers_are_sent_and_cannot_override_the_token() -> None:
    rec = HeaderRecorder()
    try:
        spec = vstore.parse_store(store_obj(rec.url, {"token": {"secretRef": ref("t", "token")}},
                                            headers={"X-Tenant": "payments"}, namespace="team"))
        client = StoreClient(spec, Credentials({("app", "t", "token"): "s.PLANTEDtoken"}))
        client.read("p")
        assert rec.seen and all(h.get("x-tenant") == "payments" for h in rec.seen)
        assert all(h.get("x-vault-token") == "s.PLANTEDtoken" and h.get("x-vault-namespace") == "team"
                   for h in rec.seen)
        client.close()
    finally:
        rec.close()


def test_auth_namespace_logs_in_to_another_vault_namespace(openbao: Bao) -> None:
    """auth.namespace (ESO): log in at `team`, read in its child `team/app` with the same token."""
    parent, child = f"team{HEX}", "app"
    openbao.create_namespace(parent)
    openbao.api("POST", f"sys/namespaces/{child}", {}, namespace=parent)
    full = f"{parent}/{child}"
    openbao.api("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, namespace=full)
    openbao.api("POST", "secret/data/db", {"data": {"value": "in-child-namespace"}}, namespace=full)
    policy = read_policy(openbao, "child-read", f"{child}/secret/data/db", namespace=parent)
    userpass_user(openbao, "userpass", "app", f"PLANTED-ns-pw-{HEX}", policy, namespace=parent)
    auth = {"namespace": parent, "userPass": {"username": "app", "secretRef": ref("pw", "password")}}
    creds = Credentials({("app", "pw", "password"): f"PLANTED-ns-pw-{HEX}"})
    client = StoreClient(vstore.parse_store(store_obj(openbao.addr, auth, namespace=full)), creds)
    assert client.read("db") == {"value": "in-child-namespace"}
    assert "userPass auth" in client.check()
    client.close()
    # without auth.namespace the login goes to team/app, where no userpass method is mounted
    same = {"userPass": auth["userPass"]}
    with pytest.raises(VaultError):
        StoreClient(vstore.parse_store(store_obj(openbao.addr, same, namespace=full)), creds).read("db")


# --- the controller process: a VaultSecret through userPass, jwt and the controller's identity; tenants -------


APP, EVIL = f"auth-app-{HEX}", f"auth-evil-{HEX}"
PASSWORD = f"PLANTED-userpass-{HEX}"
VALUE = f"PLANTED-value-{HEX}"


@dataclass
class World:
    bao: Bao
    kube: KubeServer
    proc: Proc
    jwt: str  # the JWT planted in a Secret


def _secret(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


READ = [{"secretKey": "value", "remoteRef": {"path": f"auth-{HEX}/e2e", "property": "value"}}]


@pytest.fixture(scope="module")
def world(openbao: Bao, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from sealer.sealed import keys

    base = tmp_path_factory.mktemp("auth-e2e")
    bao = openbao
    path = secret_for(bao, "e2e", VALUE)
    policy = read_policy(bao, f"e2e-{HEX}", f"secret/data/{path}")
    userpass_user(bao, f"up-e2e-{HEX}", "app", PASSWORD, policy)
    issuer = JwtIssuer()
    jwt_method(bao, f"jwt-e2e-{HEX}", issuer)
    jwt_role(bao, f"jwt-e2e-{HEX}", "ci", "ci-bot", "vault", policy)
    now = int(time.time())
    jwt = issuer.sign({"sub": "ci-bot", "aud": "vault", "iat": now, "nbf": now, "exp": now + 3600, "iss": "ci"})
    with KubeServer(base / "kube") as kube:
        # Kubernetes auth against the emulator: OpenBao asks it (TokenReview) about the controller's token
        k8s = f"k8s-e2e-{HEX}"
        _, ca = keys.generate(bits=2048, cn="emulator-ca")
        bao.api("POST", f"sys/auth/{k8s}", {"type": "kubernetes"})
        bao.api("POST", f"auth/{k8s}/config", {"kubernetes_host": kube.url, "disable_local_ca_jwt": True,
                                               "kubernetes_ca_cert": keys.cert_pem(ca).decode()})
        bao.api("POST", f"auth/{k8s}/role/platform", {
            "bound_service_account_names": ["sealer-controller"], "bound_service_account_namespaces": [NS],
            "audience": "vault", "token_policies": [policy], "token_ttl": "10m"})
        c = kube.client
        for ns in (NS, APP, EVIL):
            c.ensure_namespace(ns)
        c.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sealer-controller",
                                                                               "namespace": NS}})
        c.create(_secret(APP, "vault-pw", {"password": PASSWORD}))
        c.create(_secret(APP, "ci-jwt", {"token": jwt}))
        # the CA comes from a ConfigMap (caProvider); over plain http it is read and written to a file, not used
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vault-ca", "namespace": APP},
                  "data": {"ca.crt": keys.cert_pem(ca).decode()}})
        c.create(store(bao, "up", APP, {"userPass": {"mount": f"up-e2e-{HEX}", "username": "app",
                                                     "secretRef": {"name": "vault-pw", "key": "password"}}},
                       caProvider={"type": "ConfigMap", "name": "vault-ca", "key": "ca.crt"},
                       headers={"X-Sealer-Test": "e2e"}))
        c.create(store(bao, "jwt", APP, {"jwt": {"mount": f"jwt-e2e-{HEX}", "role": "ci",
                                                 "secretRef": {"name": "ci-jwt", "key": "token"}}}))
        c.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": f"platform-{HEX}"},
                  "spec": {"server": bao.addr, "namespaces": [APP],
                           "auth": {"kubernetes": {"mount": k8s, "role": "platform"}}}})
        proc, _ = start_vault_controller(kube, base)
        try:
            yield World(bao, kube, proc, jwt)
        finally:
            proc.stop()


def test_vault_secrets_through_userpass_jwt_and_the_controllers_identity(world: World) -> None:
    kube, c = world.kube, world.kube.client
    c.create(vault_secret("via-userpass", APP, "up", data=READ))
    c.create(vault_secret("via-jwt", APP, "jwt", data=READ))
    via_platform = vault_secret("via-platform", APP, f"platform-{HEX}", data=READ)
    via_platform["spec"]["storeRef"]["kind"] = "ClusterVaultStore"
    c.create(via_platform)
    for name in ("via-userpass", "via-jwt", "via-platform"):
        wait_items(kube, name, APP, lambda i: i == {"value": VALUE.encode()})
    assert "userPass auth" in wait_cond(kube, "up", APP, "True", "Valid", kind=STORE)["message"]
    assert "jwt auth" in wait_cond(kube, "jwt", APP, "True", "Valid", kind=STORE)["message"]
    wait_cond(kube, f"platform-{HEX}", None, "True", "Valid", kind=CSTORE)
    issued = kube.call(lambda: sorted({(ns, sa) for ns, sa, *_ in kube.emulator._tokens.values()}))
    assert issued == [(NS, "sealer-controller")]  # a TokenRequest for the controller's own ServiceAccount
    assert ("GET", f"/api/v1/namespaces/{APP}/configmaps/vault-ca") in kube.requests()  # the caProvider
    everything = world.proc.log_text() + repr(c.events()) + repr(c.list(*VS, APP)) + repr(c.list(*STORE, APP))
    assert_no_leak(everything, PASSWORD, world.jwt, VALUE)


def test_tenant_vault_store_cannot_borrow_the_controller_or_another_namespace(world: World) -> None:
    """A VaultStore in EVIL tries the controller's ServiceAccount, a ServiceAccount token and a CA or client
    certificate from other namespaces, and a header that would replace the token: each refused by name, and the
    controller neither requests a token nor reads a Secret or ConfigMap outside EVIL for it."""
    kube, c = world.kube, world.kube.client
    since = len(kube.requests())
    attacks = {
        "borrow": ({"kubernetes": {"mount": "kubernetes", "role": "platform"}}, {},
                   "spec.auth.kubernetes.serviceAccount: is required in a VaultStore"),
        "sa-elsewhere": ({"jwt": {"kubernetesServiceAccountToken": {
            "serviceAccountRef": {"name": "sealer-controller", "namespace": NS}}}}, {},
            "serviceAccountRef.namespace: a VaultStore uses a ServiceAccount of its own namespace"),
        "ca-elsewhere": ({"userPass": {"username": "app", "secretRef": {"name": "vault-pw", "key": "password",
                                                                        "namespace": APP}}}, {},
                         "spec.auth.userPass.secretRef.namespace: a VaultStore reads credentials only"),
        "ca-provider": ({"token": {"secretRef": {"name": "t", "key": "token"}}},
                        {"caProvider": {"type": "Secret", "name": "vault-pw", "key": "password", "namespace": APP}},
                        "spec.caProvider.namespace: a VaultStore reads a CA only from its own namespace"),
        "mtls-elsewhere": ({"token": {"secretRef": {"name": "t", "key": "token"}}},
                           {"tls": {"certSecretRef": {"name": "ci-jwt", "namespace": APP},
                                    "keySecretRef": {"name": "ci-jwt", "namespace": APP}}},
                           "spec.tls.certSecretRef.namespace: a VaultStore reads credentials only"),
        "header": ({"token": {"secretRef": {"name": "t", "key": "token"}}}, {"headers": {"X-Vault-Token": "root"}},
                   "spec.headers.X-Vault-Token: must not set"),
    }
    for name, (auth, spec, _) in attacks.items():
        c.create(store(world.bao, name, EVIL, auth, **spec))
        c.create(vault_secret(f"via-{name}", EVIL, name, data=READ))
    for name, (_, _, says) in attacks.items():
        assert says in wait_cond(kube, name, EVIL, "False", "InvalidStore", kind=STORE)["message"]
        assert says in wait_cond(kube, f"via-{name}", EVIL, "False", "InvalidStore")["message"]
        assert secret_items(kube, f"via-{name}", EVIL) is None
    time.sleep(1.5)  # retries (200 ms .. 1 s) would show up below
    calls = [f"{m} {p}" for m, p in kube.requests()[since:]]
    assert not [x for x in calls if x.startswith("POST ") and x.endswith("/token")], calls  # no TokenRequest
    outside = [x for x in calls if x.startswith("GET ") and ("/secrets/" in x or "/configmaps/" in x)
               and f"/namespaces/{EVIL}/" not in x]
    assert not outside, outside
    everything = world.proc.log_text() + repr(c.events()) + repr(c.list(*STORE, EVIL)) + repr(c.list(*VS, EVIL))
    assert_no_leak(everything, PASSWORD, world.jwt, VALUE)

