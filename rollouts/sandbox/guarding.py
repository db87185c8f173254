"""Connections: how many may be open, and how long a client may take to send a request's headers.

Where it sits: between the listening socket and aiohttp's request handler. `GuardedSite` listens like
aiohttp's `TCPSite` but wraps each connection's protocol in a `Guard`, which
- refuses a connection beyond `max_connections` with kube-apiserver's answer when it is out of request slots
  (429 TooManyRequests, "Too many requests, please try again later.", `Retry-After: 1`), so a flood of idle
  sockets cannot use up the process's file descriptors;
- closes, without an answer as Go's http.Server does, a connection whose request headers are not all there
  `header_timeout` seconds after it opened or after the first byte of its next request arrived
  (kube-apiserver's `ReadHeaderTimeout`, 32 s, k8s.io/apiserver/pkg/server/secure_serving.go): a client
  sending one header byte a minute holds nothing for long. Keep-alive connections idle between requests are
  closed by aiohttp after `idle_timeout` (the apiserver's `IdleTimeout`, 90 s).
The HTTP layer says when a request's headers are complete (`Connections.request_started`) and when its
handler is done (`request_finished`); it bounds the time a body may take itself (`request_timeout`).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from rollouts.sandbox.refusals import Refusals

_REFUSED_BODY = json.dumps(
    {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Too many requests, please try again later.",
        "reason": "TooManyRequests",
        "details": {"retryAfterSeconds": 1},
        "code": 429,
    },
    separators=(",", ":"),
).encode()
_REFUSED = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_REFUSED_BODY), _REFUSED_BODY)
)
_LINGER = 1.0  # a refused connection reads (and drops) what its client sends this long, so the 429 arrives
# The kernel's send buffer per connection (Linux doubles it). Without a cap, TCP autotuning lets each stalled
# watch hold up to 4 MiB in the kernel, and the event loop spends its time copying there.
SEND_BUFFER = 128 * 1024


class Connections:
    """The guards of the open connections, by transport, and the sweep that closes slow ones.

    A connection waiting for headers records since when (`Guard.waiting_since`); one timer per sandbox, not
    one per request, sweeps them every `header_timeout / 2` (at most every second) while any is open.
    """

    def __init__(self, *, max_connections: int, header_timeout: float, refusals: Refusals) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.refusals = refusals
        self.open: dict[Any, Guard] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def request_started(self, transport: Any) -> None:
        guard = self.open.get(transport)
        if guard is not None:
            guard.waiting_since = None

    def request_finished(self, transport: Any) -> None:
        guard = self.open.get(transport)
        if guard is not None:
            guard.idle = True

    def opened(self, guard: Guard) -> None:
        self.open[guard.transport] = guard
        if self._sweep is None:
            self._schedule()

    def _schedule(self) -> None:
        every = min(max(self.header_timeout / 2, 0.01), 1.0)
        self._sweep = asyncio.get_running_loop().call_later(every, self._sweep_slow)

    def _sweep_slow(self) -> None:
        self._sweep = None
        deadline = asyncio.get_running_loop().time() - self.header_timeout
        for guard in list(self.open.values()):
            since = guard.waiting_since
            if since is not None and since <= deadline and guard.transport is not None:
                self.refusals.note(
                    "header_timeouts",
                    f"closed a connection whose request headers took over {self.header_timeout:g}s",
                )
                guard.waiting_since = None
                guard.transport.close()
        if self.open:
            self._schedule()

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None


class Guard(asyncio.Protocol):
    """One connection's protocol, wrapped: refused over the limit, closed when its headers are too slow."""

    def __init__(self, connections: Connections, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self.connections = connections
        self.make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        # When the connection started waiting for a request's headers (None: a request is being handled).
        self.waiting_since: float | None = None
        self.idle = False  # between requests: the next byte starts the header clock again
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        conns = self.connections
        loop = asyncio.get_running_loop()
        if len(conns.open) >= conns.max_connections:
            conns.refusals.note(
                "connections_refused",
                f"refused a connection: {conns.max_connections} are open already (max_connections)",
            )
            transport.write(_REFUSED)
            if transport.can_write_eof():
                transport.write_eof()
            self._linger = loop.call_later(_LINGER, transport.close)
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self.waiting_since = loop.time()
        conns.opened(self)
        self.inner = self.make_inner()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return  # refused: what the client sends is dropped
        if self.idle:
            self.idle = False
            self.waiting_since = asyncio.get_running_loop().time()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self.connections.open.pop(self.transport, None)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class GuardedSite(web.BaseSite):
    """aiohttp's TCP site with every connection behind a `Guard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, connections: Connections) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._connections = connections

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def sockets(self) -> list[Any]:
        server = self._server
        return list(server.sockets) if isinstance(server, asyncio.Server) else []

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        make: Callable[[], asyncio.Protocol] = server
        self._server = await asyncio.get_running_loop().create_server(
            lambda: Guard(self._connections, make), self._host, self._port, reuse_address=True
        )
