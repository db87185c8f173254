"""The demo's workload: one small HTTP service per application version, and a load generator.

Each version serves `GET /work?service=<name>` (answering 200, or 500 for a bad version's share of requests,
after a real delay), `GET /healthz` (`{"status": "ok"}`, what the blue-green smoke test checks) and
`GET /metrics` — `http_requests_total{service,status}` and `http_request_duration_seconds{service}` from
prometheus-client, which the demo's Prometheus scrapes. The load generator sends a steady request rate and
splits it the way the mesh would: by the weights of the routes the controller wrote, to the version behind
each Kubernetes Service. `route()` is supplied by the demo, which reads those from the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class Profile:
    """How a version behaves: the share of requests answered 500, and its latency range in seconds."""

    error_ratio: float
    latency: tuple[float, float]


GOOD = Profile(error_ratio=0.0, latency=(0.005, 0.060))
BAD = Profile(error_ratio=0.20, latency=(0.550, 0.900))


@dataclass
class VersionServer:
    """One version of an application, on its own loopback port, with its own metrics registry."""

    app_name: str
    version: str
    profile: Profile
    services: Sequence[str] = ()
    seed: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None
    _random: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._random.seed(f"{self.app_name}/{self.version}/{self.seed}")
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "Requests served", ["service", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Request latency",
            ["service"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5),
        )
        for service in self.services:  # series exist (at 0) before the first request: rate() is defined
            self.requests.labels(service=service, status="200")
            self.requests.labels(service=service, status="500")
            self.duration.labels(service=service)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/work", self._work)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _work(self, request: web.Request) -> web.Response:
        service = request.query.get("service", self.app_name)
        low, high = self.profile.latency
        latency = self._random.uniform(low, high)
        failed = self._random.random() < self.profile.error_ratio
        await asyncio.sleep(latency)
        status = 500 if failed else 200
        self.requests.labels(service=service, status=str(status)).inc()
        self.duration.labels(service=service).observe(latency)
        return web.Response(status=status, text="error\n" if failed else "ok\n")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": self.version})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


@dataclass(frozen=True)
class Target:
    """Where a share of the traffic goes: the Service name the request is addressed to, the version behind it."""

    service: str
    url: str
    weight: int


class LoadGenerator:
    """Sends `rate` requests per second, split by the weights `route()` returns at each tick."""

    def __init__(self, route: Callable[[], Sequence[Target]], rate: float = 20.0, seed: int = 0) -> None:
        self._route = route
        self._rate = rate
        self._random = random.Random(seed)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="demo-load")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        per_tick = self._rate * 0.1
        pending: set[asyncio.Task[None]] = set()
        async with ClientSession(timeout=ClientTimeout(total=5)) as session:
            try:
                await self._loop(session, pending, per_tick)
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    async def _loop(self, session: ClientSession, pending: set[asyncio.Task[None]], per_tick: float) -> None:
        tick = 0.1
        carry = 0.0
        while True:
            targets = [t for t in self._route() if t.weight > 0]
            carry += per_tick
            count, carry = int(carry), carry - int(carry)
            total = sum(t.weight for t in targets)
            for _ in range(count if total else 0):
                target = self._pick(targets, total)
                task = asyncio.create_task(self._send(session, target))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(tick)

    def _pick(self, targets: Sequence[Target], total: int) -> Target:
        point = self._random.uniform(0, total)
        for target in targets:
            point -= target.weight
            if point <= 0:
                return target
        return targets[-1]

    async def _send(self, session: ClientSession, target: Target) -> None:
        try:
            async with session.get(f"{target.url}/work", params={"service": target.service}) as resp:
                await resp.read()
            self.sent += 1
        except (TimeoutError, OSError, ClientError):
            pass  # a version being stopped; the next tick routes elsewhere


class ServiceFront:
    """A Kubernetes Service as a loopback address: forwards each GET to the version the Service selects now.

    The blue-green smoke test calls the *preview Service*; in the demo there is no cluster DNS, so the test's
    `preview-url` argument points here, and `resolve()` (from the demo) says which version is behind it.
    """

    def __init__(self, resolve: Callable[[], str | None]) -> None:
        self._resolve = resolve
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        self._session = ClientSession(timeout=ClientTimeout(total=10))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        target = self._resolve()
        if target is None or self._session is None:
            return web.json_response({"error": "no endpoints available for the service"}, status=503)
        async with self._session.get(f"{target}{request.rel_url}") as resp:
            body = await resp.read()
            return web.Response(status=resp.status, body=body, content_type=resp.content_type)
