"""Secrets: the ones we produce (drift is put back), sealing keys and age identities in the controller's namespace.

Secrets are watched with `kopf.on.event` only: `on.create`/`on.update` would make kopf copy the Secret (with its
data) into a last-handled-configuration annotation.
"""

from __future__ import annotations

from typing import Any

import kopf

from controller import keyring, status
from controller.app import App


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    controller = app.controller

    def drifted(type: str | None, **kwargs: Any) -> bool:
        """A produced Secret changed or went: the Secret we just created (ADDED) needs no thread and no log line."""
        return type in ("MODIFIED", "DELETED") and app.produced(**kwargs)

    @kopf.on.event("v1", "secrets", id="produced_secret", when=drifted, registry=registry)
    def produced_secret(type: str, body: Any, **_: Any) -> None:
        if app.owner_served(body):
            controller.restore_drift(type, body, status.notify)

    @kopf.on.event("v1", "secrets", id="key_secret", labels={keyring.LABEL: kopf.PRESENT},
                   when=app.in_controller_namespace, registry=registry)
    def key_secret(type: str, body: Any, **_: Any) -> None:
        if type is not None:
            controller.on_key_event(type, body)

    @kopf.on.event("v1", "secrets", id="bitnami_key_secret", labels={keyring.BITNAMI_LABEL: kopf.PRESENT},
                   when=app.in_controller_namespace, registry=registry)
    def bitnami_key_secret(type: str, body: Any, **_: Any) -> None:
        if type is not None and app.config.import_bitnami_keys:
            controller.on_key_event(type, body)

    @kopf.on.event("v1", "secrets", id="age_identity_secret", when=app.holds_age_identities, registry=registry)
    def age_identity_secret(type: str, body: Any, **_: Any) -> None:
        if type is not None:
            controller.on_age_event(type, body)
