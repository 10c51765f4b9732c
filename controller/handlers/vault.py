"""VaultSecrets: one scheduler per operator run (`controller.vault.scheduler`) keeps a small record per object,
watches the kind itself and syncs each object when it is due; kopf runs no handler and keeps no state for them
(a kopf daemon per object cost ~50-87 KiB of RSS each)."""

from __future__ import annotations

from typing import Any

import kopf

from controller.app import App
from controller.vault.scheduler import Scheduler


def register(registry: kopf.OperatorRegistry, app: App) -> None:
    refresher = app.refresher

    def activated() -> None:
        if refresher.scheduler is not None:
            refresher.scheduler.activated()

    app.when_active(activated)

    @kopf.on.startup(id="vault_secret_scheduler_start", registry=registry)
    async def start(**_: Any) -> None:
        scheduler = Scheduler(app, refresher)
        refresher.scheduler = scheduler
        await scheduler.start()

    @kopf.on.cleanup(id="vault_secret_scheduler_stop", registry=registry)
    async def stop(**_: Any) -> None:
        scheduler, refresher.scheduler = refresher.scheduler, None
        if scheduler is not None:
            await scheduler.stop()
