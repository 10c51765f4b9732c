"""Login material for Vault stores, read from the Kubernetes API: Secret keys and TokenRequest tokens. Errors
name the Secret or ServiceAccount, never the value."""

from __future__ import annotations

import base64

from controller.runtime import Controller
from controller.vault.client import INVALID, VaultError
from controller.vault.fields import SecretKeyRef
from controller.vault.store import CaProvider

SA_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path
DEFAULT_SA = "sealer-controller"  # deploy/serviceaccount.yaml


class KubeCredentials:
    """The controller's `Credentials` (client.py)."""

    def __init__(self, controller: Controller) -> None:
        self._controller = controller

    def secret_value(self, ref: SecretKeyRef) -> str:
        try:
            secret = self._controller.kube.get_secret(ref.namespace, ref.name)
        except Exception as e:
            raise VaultError("ApiError", f"reading Secret {ref.namespace}/{ref.name}: {type(e).__name__}") from None
        if secret is None:
            raise VaultError(INVALID, f"credential Secret {ref.namespace}/{ref.name} not found")
        raw = (secret.get("data") or {}).get(ref.key)
        if raw is None:
            raise VaultError(INVALID, f"credential Secret {ref.namespace}/{ref.name} has no key {ref.key!r}")
        try:
            return base64.b64decode(raw).decode()
        except (ValueError, UnicodeDecodeError):
            raise VaultError(INVALID, f"credential Secret {ref.namespace}/{ref.name} key {ref.key!r} is not "
                                      "UTF-8 text") from None

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...]) -> str:
        return self.service_account_token_for(namespace, name, audiences, 600)

    def controller_token(self, audiences: tuple[str, ...]) -> str:
        """The controller's own ServiceAccount token (Kubernetes auth of a ClusterVaultStore without a
        serviceAccount): the projected file in a pod, else a TokenRequest for --service-account in its
        namespace."""
        try:
            with open(SA_TOKEN_FILE) as f:
                token = f.read().strip()
            if token:
                return token
        except OSError:
            pass
        config = self._controller.config
        return self.service_account_token_for(config.namespace, config.service_account or DEFAULT_SA,
                                              audiences, 600)

    def ca_value(self, provider: CaProvider) -> bytes:
        """ESO's caProvider: a PEM bundle in a Secret or ConfigMap key."""
        what = f"caProvider {provider.kind} {provider.namespace}/{provider.name}"
        if provider.kind == "Secret":
            try:
                value = self.secret_value(SecretKeyRef(provider.namespace, provider.name, provider.key)).encode()
            except VaultError as e:
                raise VaultError(e.reason, f"{what}: {e.message}") from None
        else:
            try:
                cm = self._controller.kube.get_configmap(provider.namespace, provider.name)
            except Exception as e:
                raise VaultError("ApiError", f"reading {what}: {type(e).__name__}") from None
            if cm is None:
                raise VaultError(INVALID, f"{what} not found")
            found = cm.get("data") or {}
            if provider.key not in found:
                raise VaultError(INVALID, f"{what} has no key {provider.key!r}")
            value = str(found[provider.key]).encode()
        if b"-----BEGIN CERTIFICATE-----" not in value:
            raise VaultError(INVALID, f"{what} key {provider.key!r} holds no PEM certificate")
        return value

    def service_account_token_for(self, namespace: str, name: str, audiences: tuple[str, ...],
                                  expiration_seconds: int) -> str:
        try:
            token = self._controller.kube.request_token(namespace, name, list(audiences), expiration_seconds)
        except Exception as e:
            status = getattr(e, "status", None)
            raise VaultError(INVALID if status == 404 else "ApiError",
                             f"TokenRequest for ServiceAccount {namespace}/{name} failed "
                             f"({f'HTTP {status}' if status else type(e).__name__})") from None
        if not token:
            raise VaultError("ApiError", f"TokenRequest for ServiceAccount {namespace}/{name} returned no token")
        return token
