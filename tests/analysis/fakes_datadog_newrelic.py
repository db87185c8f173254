"""A loopback HTTP server standing in for Datadog's metrics API or New Relic's NerdGraph, and fake Secrets.

The server records every request (method, path, decoded query, headers, body) and answers with whatever the
test set last (`answer`, `slow`, `huge`, or any handler); `echo_headers` answers with the request's headers
in the body, as a careless proxy might, so tests can check that no key comes back in a message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from analysis.providers.credentials import Credentials, CredentialsError, SecretLookup

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Vendor:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    reply: Reply | None = None

    def answer(self, body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        """Answer every request with `body` (a str is sent as is, anything else as JSON)."""

        async def reply(request: web.Request) -> web.StreamResponse:
            text = body if isinstance(body, str) else json.dumps(body)
            return web.Response(
                status=status, text=text, content_type="application/json", headers=dict(headers or {})
            )

        self.reply = reply

    def slow(self, seconds: float, body: Any) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return web.Response(text=json.dumps(body), content_type="application/json")

        self.reply = reply

    def huge(self, size: int) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            chunk = b'{"pad":"' + b"x" * size + b'"}'
            return web.Response(body=chunk, content_type="application/json")

        self.reply = reply

    def echo_headers(self, status: int) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            said = {"errors": [f"{k}: {v}" for k, v in request.headers.items()]}
            return web.Response(status=status, text=json.dumps(said), content_type="application/json")

        self.reply = reply


@asynccontextmanager
async def serve() -> AsyncIterator[Vendor]:
    vendor = Vendor()

    async def handle(request: web.Request) -> web.StreamResponse:
        vendor.seen.append(
            Seen(
                request.method,
                request.path,
                dict(parse_qsl(request.query_string, keep_blank_values=True)),
                dict(request.headers),
                await request.read(),
            )
        )
        assert vendor.reply is not None
        return await vendor.reply(request)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    vendor.url = f"http://127.0.0.1:{port}"
    try:
        yield vendor
    finally:
        await runner.cleanup()


@dataclass
class Secrets:
    """A fake Secret store: `data[(namespace, name)]`; `broken` makes every read fail; `reads` records them."""

    data: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    broken: bool = False
    reads: list[tuple[str, str]] = field(default_factory=list)

    async def lookup(self, name: str, namespace: str) -> Mapping[str, str] | None:
        self.reads.append((namespace, name))
        if self.broken:
            raise CredentialsError(
                f'secrets "{name}" is forbidden: cannot get resource "secrets" in {namespace}'
            )
        return self.data.get((namespace, name))

    def credentials(self, environ: Mapping[str, str] | None = None, *, cluster: bool = True) -> Credentials:
        lookup: SecretLookup | None = self.lookup if cluster else None
        return Credentials(lookup=lookup, namespace="argo-rollouts", environ=dict(environ or {}), ttl=0)
