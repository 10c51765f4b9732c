"""Login material for Vault stores, read from the Kubernetes API: Secret keys and TokenRequest tokens. Errors
name the Secret or ServiceAccount, never the value."""

from __future__ import annotations

import base64

from controller.runtime import Controller
from controller.vault.client import INVALID, VaultError
from controller.vault.fields import SecretKeyRef


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
        try:
            token = self._controller.kube.request_token(namespace, name, list(audiences), 600)
        except Exception as e:
            status = getattr(e, "status", None)
            raise VaultError(INVALID if status == 404 else "ApiError",
                             f"TokenRequest for ServiceAccount {namespace}/{name} failed "
                             f"({f'HTTP {status}' if status else type(e).__name__})") from None
        if not token:
            raise VaultError("ApiError", f"TokenRequest for ServiceAccount {namespace}/{name} returned no token")
        return token
