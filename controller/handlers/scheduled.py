"""Kinds refreshed by a `controller.vault.scheduler.Scheduler` (VaultSecrets; VaultPKISecrets; ExternalSecrets with
--eso-compat): one scheduler per operator run, a small record per object, no kopf handler or state per object (a
kopf daemon each cost ~50 KiB of RSS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf

from controller.app import App
from controller.vault.scheduler import Kind, Scheduler


def register(registry: kopf.OperatorRegistry, app: App, owner: Any, kind: Callable[[], Kind] | None, *,
             id: str) -> None:
    """A scheduler of ``kind()`` (None: VaultSecrets) started with each operator run and stopped at its end, reset
    when this replica becomes the active one. ``owner.scheduler`` holds it while it runs (the owner's `wake` goes
    there)."""

    def activated() -> None:
        if owner.scheduler is not None:
            owner.scheduler.activated()

    app.when_active(activated)

    @kopf.on.startup(id=f"{id}_start", registry=registry)
    async def start(**_: Any) -> None:
        scheduler = Scheduler(app, app.refresher, kind() if kind is not None else None)
        owner.scheduler = scheduler
        await scheduler.start()

    @kopf.on.cleanup(id=f"{id}_stop", registry=registry)
    async def stop(**_: Any) -> None:
        scheduler, owner.scheduler = owner.scheduler, None
        if scheduler is not None:
            await scheduler.stop()
