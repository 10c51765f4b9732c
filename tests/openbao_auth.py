"""Auth methods on a test OpenBao (userpass, jwt, cert, approle, kubernetes), the credentials a store logs in
with, and a JWT issuer standing in for Kubernetes' TokenRequest (its public key configures OpenBao's jwt method;
a small TokenReview endpoint answers OpenBao's kubernetes method for the tokens it issued).

Shared by tests/test_vault_auth.py; standard library, cryptography and tests/openbao.py only.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from controller.vault.client import VaultError
from controller.vault.fields import SecretKeyRef
from controller.vault.store import CaProvider
from tests.openbao import Bao


def enable_auth(bao: Bao, mount: str, kind: str, *, namespace: str | None = None) -> None:
    """`bao auth enable -path=MOUNT KIND`, once per server."""
    mounts = bao.api("GET", "sys/auth", namespace=namespace)
    if f"{mount}/" not in mounts.get("data", mounts):
        bao.api("POST", f"sys/auth/{mount}", {"type": kind}, namespace=namespace)


def read_policy(bao: Bao, name: str, *paths: str, namespace: str | None = None) -> str:
    hcl = "\n".join(f'path "{p}" {{ capabilities = ["read"] }}' for p in paths)
    bao.api("PUT", f"sys/policies/acl/{name}", {"policy": hcl}, namespace=namespace)
    return name


def userpass_user(bao: Bao, mount: str, username: str, password: str, policy: str, *,
                  namespace: str | None = None) -> None:
    enable_auth(bao, mount, "userpass", namespace=namespace)
    bao.api("POST", f"auth/{mount}/users/{username}", {"password": password, "token_policies": [policy],
                                                       "token_ttl": "5m"}, namespace=namespace)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class JwtIssuer:
    """Signs RS256 JWTs, shaped like Kubernetes' projected ServiceAccount tokens; remembers what it issued."""

    ISSUER = "https://kubernetes.default.svc.cluster.local"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.issued: dict[str, tuple[str, str, tuple[str, ...]]] = {}

    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, claims: Mapping[str, Any]) -> str:
        signing = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode()) + "." + _b64(
            json.dumps(dict(claims)).encode())
        return signing + "." + _b64(self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...], expiry: int = 600) -> str:
        now = int(time.time())
        token = self.sign({"iss": self.ISSUER, "aud": list(audiences), "iat": now, "nbf": now, "exp": now + expiry,
                           "sub": f"system:serviceaccount:{namespace}:{name}",
                           "kubernetes.io": {"namespace": namespace,
                                             "serviceaccount": {"name": name, "uid": f"uid-{name}"}}})
        self.issued[token] = (namespace, name, audiences)
        return token


def jwt_method(bao: Bao, mount: str, issuer: JwtIssuer) -> None:
    """A jwt auth method that trusts the issuer's public key (jwt_validation_pubkeys)."""
    enable_auth(bao, mount, "jwt")
    bao.api("POST", f"auth/{mount}/config", {"jwt_validation_pubkeys": [issuer.public_pem()]})


def jwt_role(bao: Bao, mount: str, role: str, subject: str, audience: str, policy: str) -> None:
    bao.api("POST", f"auth/{mount}/role/{role}", {
        "role_type": "jwt", "user_claim": "sub", "bound_subject": subject, "bound_audiences": [audience],
        "token_policies": [policy], "token_ttl": "5m"})


class JsonServer:
    """A JSON endpoint on 127.0.0.1: `respond(method, path, headers, body)` -> (status, answer). A stand-in for
    the Kubernetes TokenReview API or a Vault server whose wire a test needs to see."""

    def __init__(self, respond: Callable[[str, str, Mapping[str, str], Any], tuple[int, Any]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, answer = respond(self.command, self.path, dict(self.headers.items()), body)
                out = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TokenReviewer(JsonServer):
    """The TokenReview endpoint of a "cluster" whose tokens `issuer` signs: OpenBao's kubernetes method asks it."""

    def __init__(self, issuer: JwtIssuer) -> None:
        self.reviews = 0
        super().__init__(self._review)
        self.issuer = issuer

    def _review(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> tuple[int, Any]:
        self.reviews += 1
        found = self.issuer.issued.get(((body or {}).get("spec") or {}).get("token") or "")
        status: dict[str, Any] = {"authenticated": False}
        if found:
            ns, name, auds = found
            status = {"authenticated": True, "audiences": list(auds), "user": {
                "username": f"system:serviceaccount:{ns}:{name}", "uid": f"uid-{name}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]}}
        return 201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}


def kubernetes_method(bao: Bao, mount: str, reviewer: TokenReviewer) -> None:
    from sealer.sealed import keys

    enable_auth(bao, mount, "kubernetes")
    _, ca = keys.generate(bits=2048, cn="test-cluster-ca")  # required by OpenBao; unused over http
    bao.api("POST", f"auth/{mount}/config", {"kubernetes_host": reviewer.url, "disable_local_ca_jwt": True,
                                             "kubernetes_ca_cert": keys.cert_pem(ca).decode()})


def client_certificate(cn: str) -> tuple[str, str]:
    """A self-signed client certificate and its key, PEM."""
    from sealer.sealed import keys

    key, cert = keys.generate(bits=2048, cn=cn)
    return keys.cert_pem(cert).decode(), keys.private_key_pem(key).decode()


def cert_role(bao: Bao, mount: str, name: str, cert_pem: str, policy: str) -> None:
    """A cert auth role that trusts exactly this (self-signed) certificate."""
    enable_auth(bao, mount, "cert")
    bao.api("POST", f"auth/{mount}/certs/{name}", {"certificate": cert_pem, "token_policies": [policy],
                                                   "token_ttl": "5m"})


class Credentials:
    """What the controller reads from the Kubernetes API for a store, held in memory: Secret keys by
    (namespace, name, key), ConfigMap keys, TokenRequest tokens from `issuer`, and the controller's own token."""

    def __init__(self, secrets: Mapping[tuple[str, str, str], str] | None = None, *,
                 configmaps: Mapping[tuple[str, str, str], str] | None = None, issuer: JwtIssuer | None = None,
                 controller_sa: tuple[str, str] = ("sealer-system", "sealer-controller")) -> None:
        self.secrets = dict(secrets or {})
        self.configmaps = dict(configmaps or {})
        self.issuer = issuer
        self.controller_sa = controller_sa
        self.reads: list[SecretKeyRef] = []
        self.token_requests: list[tuple[str, str, tuple[str, ...], int]] = []

    def secret_value(self, ref: SecretKeyRef) -> str:
        self.reads.append(ref)
        found = self.secrets.get((ref.namespace, ref.name, ref.key))
        if found is None:
            raise VaultError("InvalidSpec", f"credential Secret {ref.namespace}/{ref.name} not found")
        return found

    def service_account_token_for(self, namespace: str, name: str, audiences: tuple[str, ...],
                                  expiration_seconds: int) -> str:
        if self.issuer is None:
            raise VaultError("InvalidSpec", "no TokenRequest here")
        self.token_requests.append((namespace, name, audiences, expiration_seconds))
        return self.issuer.service_account_token(namespace, name, audiences, expiration_seconds)

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...]) -> str:
        return self.service_account_token_for(namespace, name, audiences, 600)

    def controller_token(self, audiences: tuple[str, ...]) -> str:
        return self.service_account_token_for(*self.controller_sa, audiences, 600)

    def ca_value(self, provider: CaProvider) -> bytes:
        table = self.secrets if provider.kind == "Secret" else self.configmaps
        found = table.get((provider.namespace, provider.name, provider.key))
        if found is None:
            raise VaultError("InvalidSpec", f"caProvider {provider.kind} {provider.namespace}/{provider.name} "
                                            "not found")
        return found.encode()
