"""Operator start-up and shutdown."""

from __future__ import annotations

from typing import Any

import kopf

from controller.app import App
from controller.diffbase import DigestDiffBaseStorage
from sealer.kube import GROUP


def configure(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.diffbase_storage = DigestDiffBaseStorage(prefix="kopf.zalando.org",
                                                                  key="last-handled-configuration")
    settings.posting.level = 20  # INFO and up become Kubernetes Events
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    # kopf's default registry logs in with the kubernetes client's configuration; an explicit one must be told
    kopf.on.login(id="login_via_client", errors=kopf.ErrorsMode.IGNORED, registry=registry)(kopf.login_via_client)

    @kopf.on.startup(id="startup", registry=registry)
    def startup(settings: kopf.OperatorSettings, logger: Any, **_: Any) -> None:
        configure(settings)
        app.start()
        shards = f", {app.sharding.describe()}" if app.sharding is not None else ""
        logger.info("sealer controller ready: %d sealing key(s), %d age identities, namespace %s, serving %s%s",
                    len(app.controller.keyring), len(app.controller.age), app.config.namespace, app.served.describe(),
                    shards)

    @kopf.on.cleanup(id="cleanup", registry=registry)
    def cleanup(**_: Any) -> None:
        app.stop()
