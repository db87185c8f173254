"""Loopback receivers for the notification service tests: a real HTTP server (aiohttp.web on 127.0.0.1, a free
port, optionally TLS) standing in for Slack, Teams, PagerDuty, Opsgenie and webhooks, recording every request
and answering as scripted; and a real SMTP server (aiosmtpd) with STARTTLS and AUTH, recording every message.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from multidict import CIMultiDict


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Request:
    """One request as the receiver saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]  # names case-insensitive, as in HTTP
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Answer:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HttpReceiver:
    """Records requests; answers with the queued answers in order, then with `respond(request)` or `default`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.queued: list[Answer] = []
        self.default = Answer()
        self.respond: Callable[[Request], Answer] | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, *answers: Answer) -> None:
        self.queued.extend(answers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Request(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            body=await request.read(),
        )
        self.requests.append(recorded)
        if self.queued:
            answer = self.queued.pop(0)
        elif self.respond is not None:
            answer = self.respond(recorded)
        else:
            answer = self.default
        if answer.delay:
            await asyncio.sleep(answer.delay)
        body = answer.body.encode() if isinstance(answer.body, str) else answer.body
        return web.Response(status=answer.status, body=body, headers=answer.headers)

    async def start(self, tls: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port, ssl_context=tls).start()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Received:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


class SmtpHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}  # address → the answer to its RCPT
        self.data_delay = 0.0
        self.logins: dict[int, str] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), message, session.ssl is not None, login
            )
        )
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 offering STARTTLS (with `tls`) and AUTH for `users` (only after STARTTLS)."""

    def __init__(self, tls: ssl.SSLContext | None, users: dict[str, str]) -> None:
        self.handler = SmtpHandler()
        self.users = users
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls,
            authenticator=self._authenticate,
            auth_require_tls=True,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            ok = self.users.get(login) == password
            return AuthResult(
                success=ok, handled=False, auth_data=auth_data
            )  # not handled: the server answers 535
        return AuthResult(success=False, handled=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received
