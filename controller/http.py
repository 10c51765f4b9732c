"""HTTP on one port: /healthz, /v1/cert.pem, POST /v1/verify (200 opens / 409 does not), POST /v1/rotate
(re-seal to the newest key), /metrics. Served from a thread with its own event loop, so it stays up while kopf
handlers run. With --rate-limit, /v1/verify and /v1/rotate answer 429 to a client over its rate, as Bitnami's
(per path and X-Forwarded-For)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

from sealer.errors import SealerError
from sealer.io import manifests
from sealer.kube import MAX_BODY
from sealer.sealed import sealedsecret as sealer_sealed

log = logging.getLogger("sealer.controller.http")


def _objects(data: bytes) -> list[dict[str, Any]]:
    return manifests.load_objects(data, "request body")


class RateLimit:
    """A token bucket per (path, client): `rate` a second, `burst` more at once (Bitnami's MaxBurst). Buckets are
    few and small; the table is cleared when it grows past `max_clients`, so a flood of client ids cannot grow it."""

    def __init__(self, rate: float, burst: int, max_clients: int = 65536) -> None:
        self.rate, self.capacity, self.max_clients = rate, burst + 1.0, max_clients
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def allow(self, path: str, client: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        if len(self._buckets) >= self.max_clients:
            self._buckets.clear()
        tokens, last = self._buckets.get((path, client), (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[(path, client)] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


def make_app(controller: Any) -> Any:
    from aiohttp import web

    config = controller.config
    limit = RateLimit(config.verify_rate, config.verify_burst)

    @web.middleware
    async def rate_limited(request: Any, handler: Any) -> Any:
        if request.path in ("/v1/verify", "/v1/rotate"):
            client = request.headers.get("X-Forwarded-For") or request.remote or ""
            if not limit.allow(request.path, client):
                return web.Response(status=429, text="too many requests\n")
        return await handler(request)

    async def healthz(_: Any) -> Any:
        ok = len(controller.keyring) > 0
        return web.json_response({"status": "ok" if ok else "no keys", "keys": len(controller.keyring)},
                                 status=200 if ok else 503)

    async def cert(_: Any) -> Any:
        current = controller.keyring.current()
        if current is None:
            return web.Response(status=503, text="no sealing key yet\n")
        return web.Response(body=current.cert_pem, content_type="application/x-pem-file")

    def _open_all(data: bytes) -> None:
        """Each object on the decrypt pool, in turn with the SealedSecrets the controller is unsealing."""
        pool = controller.decrypt
        for obj in _objects(data):
            with pool.slot():
                sealer_sealed.open_items_with_keys(obj, controller.keyring.private_keys(), map=pool.map,
                                                   accept_v1_data=controller.config.accept_deprecated_v1_data)

    def _rotate_all(data: bytes, cert: Any) -> list[dict[str, Any]]:
        objects = _objects(data)
        for obj in objects:
            sealer_sealed.reencrypt(obj, controller.keyring.private_keys(), cert)
        return objects

    async def verify(request: Any) -> Any:
        data = await request.content.read(MAX_BODY)
        try:  # RSA work off the event loop, so /healthz and /metrics answer during a large request
            await asyncio.get_running_loop().run_in_executor(None, _open_all, data)
        except SealerError as e:
            return web.Response(status=409 if e.exit_code == 1 else 400, text=f"{e}\n")
        return web.Response(status=200, text="ok\n")

    async def rotate(request: Any) -> Any:
        current = controller.keyring.current()
        if current is None:
            return web.Response(status=503, text="no sealing key yet\n")
        data = await request.content.read(MAX_BODY)
        try:
            objects = await asyncio.get_running_loop().run_in_executor(None, _rotate_all, data, current.cert)
        except SealerError as e:
            return web.Response(status=409 if e.exit_code == 1 else 400, text=f"{e}\n")
        body = objects[0] if len(objects) == 1 else {"apiVersion": "v1", "kind": "List", "items": objects}
        return web.Response(text=json.dumps(body, indent=2) + "\n", content_type="application/json")

    async def metrics(_: Any) -> Any:
        from controller import metrics as m

        return web.Response(body=m.render(controller), content_type="text/plain", charset="utf-8")

    app = web.Application(client_max_size=MAX_BODY, middlewares=[rate_limited])
    app.add_routes([web.get("/healthz", healthz), web.get("/v1/cert.pem", cert), web.post("/v1/verify", verify),
                    web.post("/v1/rotate", rotate), web.get("/metrics", metrics)])
    return app


def start(controller: Any, timeout: float = 30.0) -> threading.Thread:
    """Serve from a thread; return once the port is listening (or raise), so "ready" in the log is true."""
    from aiohttp import web

    config = controller.config
    listening = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            runner = web.AppRunner(make_app(controller), access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, config.http_host, config.http_port).start())
        except BaseException as e:  # handed to the starting thread
            failure.append(e)
            return
        finally:
            listening.set()
        log.info("serving /healthz, /v1/cert.pem, /v1/verify, /v1/rotate, /metrics on port %d", config.http_port)
        loop.run_forever()

    thread = threading.Thread(target=serve, name="http", daemon=True)
    thread.start()
    if not listening.wait(timeout):
        raise RuntimeError(f"the HTTP server did not start within {timeout:.0f} s")
    if failure:
        raise RuntimeError(f"the HTTP server could not listen on port {config.http_port}") from failure[0]
    return thread
