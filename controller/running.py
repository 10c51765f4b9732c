"""How kopf is run: once (one replica, or replicas with kopf peering), or as a shard (`--shards N`), where the
operator runs again each time the shards this replica holds change.

Why again rather than switching filters under a running operator: kopf starts an object's daemons and resume
handlers only when it sees the object, so a shard taken over from a dead replica would get no reconcile and no
resync until each of its objects changed. A new run lists everything, resumes what the replica now serves (cheap:
unchanged objects cost no decryption, see `controller.digest`) and starts their loops; a shard given up stops
being served before its Lease is handed over. All runs share one event loop, so what the app keeps (Vault
clients, semaphores) stays valid; start-up work (keys, HTTP, key renewal) is done once (`App.start`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import kopf

from controller.leases import ShardLeases

log = logging.getLogger("sealer.controller")


async def sharded(registry: kopf.OperatorRegistry, app: Any, leases: ShardLeases, where: dict[str, Any]) -> None:
    """Operator runs until a signal: each run serves the shards held when it started."""
    loop = asyncio.get_running_loop()
    terminated = asyncio.Event()
    while not terminated.is_set():
        for sig in (signal.SIGINT, signal.SIGTERM):  # between two runs (each run installs kopf's own handlers)
            loop.add_signal_handler(sig, terminated.set)
        stop = asyncio.Event()

        def again(stop: asyncio.Event = stop) -> None:
            app.rerun.set()
            loop.call_soon_threadsafe(stop.set)

        app.rerun.clear()  # before settling: a change from here on ends the run that is about to start
        leases.on_change = again
        app.sharding.activate(await asyncio.to_thread(leases.settle))
        log.info("serving %s", app.sharding.describe())
        await kopf.operator(registry=registry, standalone=True, stop_flag=stop, **where)
        if not stop.is_set():  # kopf stopped on a signal (or failed): the end
            break
    leases.on_change = lambda: None
    await asyncio.to_thread(leases.release_all)  # after the last handler (and kopf's cleanup): peers take over


def start_leases(app: Any) -> ShardLeases:
    """The first pass (so the first run already serves what is free) and the lease thread."""
    leases = ShardLeases(app.controller.kube, app.config.namespace, app.sharding, app.config.shard_lease_duration)
    leases.tick()
    leases.start()
    return leases
