"""HTTP endpoints of the controller process: `/healthz` and `/readyz` (port `--healthz-port`, 8080) and
`/metrics` (port `--metrics-port`, 8090), on aiohttp.

The outermost layer of the runtime: the Deployment's probes and Prometheus' scrapes land here. The controller
serves them from the supervisor thread (`rollouts.controller.supervising`), on an event loop the reconcilers
never block. Liveness and readiness are callables supplied by the manager, asked on that thread (alive: the
manager's tasks are running and its loop answered within the stall limit; ready: caches synced, or standing by
for the lease, and with `--sharding` the shard group known: one round listed its Leases and renewed this
replica's). Port 0 picks a free port; the chosen ports are in `healthz_port`/`metrics_port` after
`start()`. Both may be the same port: one server then serves all three. The default address is loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HealthServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        healthz_port: int = 8080,
        metrics_port: int = 8090,
        host: str = "127.0.0.1",
        alive: Callable[[], bool] = lambda: True,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = registry
        self.host = host
        self.healthz_port = healthz_port
        self.metrics_port = metrics_port
        self.alive = alive
        self.ready = ready
        self._runners: list[web.AppRunner] = []

    async def _healthz(self, request: web.Request) -> web.Response:
        ok = self.alive()
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "unhealthy\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        ok = self.ready()
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "not ready\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        # Rendering thousands of series takes milliseconds: keep it off the event loop.
        body = await asyncio.to_thread(generate_latest, self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _serve(self, port: int, routes: list[web.RouteDef]) -> int:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        self._runners.append(runner)
        addresses = runner.addresses  # the bound (host, port, …) tuples: the real port when `port` was 0
        return int(addresses[0][1]) if addresses else port

    async def start(self) -> None:
        health = [web.get("/healthz", self._healthz), web.get("/readyz", self._readyz)]
        metrics = [web.get("/metrics", self._metrics)]
        if self.healthz_port == self.metrics_port and self.healthz_port != 0:
            port = await self._serve(self.healthz_port, health + metrics)
            self.healthz_port = self.metrics_port = port
            return
        self.healthz_port = await self._serve(self.healthz_port, health)
        self.metrics_port = await self._serve(self.metrics_port, metrics)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
