"""Connections: headers must arrive within `header_timeout` (slowloris), a body within `request_timeout`, and at
most `max_connections` may be open (429 beyond); an idle keep-alive connection is left alone."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from rollouts.sandbox import Sandbox
from tests.sandbox.helpers import assert_status, http, wait_until


def connect(sb: Sandbox) -> socket.socket:
    parts = urlsplit(sb.url)
    s = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    return s


def closed_by_server(s: socket.socket) -> bool:
    """Whether the server has closed the connection (EOF or reset), waiting up to the socket's timeout."""
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True


def response_on(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def refused(sb: Sandbox) -> dict[str, int]:
    return dict(json.loads(http(sb.url, "GET", "/sandbox/healthz")[2])["refused"])


@pytest.mark.sandbox(header_timeout=0.3)
def test_headers_sent_a_byte_at_a_time_are_cut_off(sandbox: Sandbox) -> None:
    s = connect(sandbox)
    s.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n")
    closed = False
    for _ in range(100):  # one more header line every 50 ms, never the blank line that ends them
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        s.settimeout(0.05)
        try:
            if s.recv(1) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except ConnectionResetError:
            closed = True
            break
    s.close()
    assert closed, "the server kept a connection whose headers never ended"
    assert refused(sandbox)["header_timeouts"] == 1


@pytest.mark.sandbox(header_timeout=0.3)
def test_a_connection_that_sends_nothing_is_closed(sandbox: Sandbox) -> None:
    s = connect(sandbox)
    assert closed_by_server(s)
    s.close()


@pytest.mark.sandbox(header_timeout=0.3)
def test_an_idle_keep_alive_connection_is_not_a_slow_header(sandbox: Sandbox) -> None:
    s = connect(sandbox)
    s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response_on(s).startswith(b"HTTP/1.1 200")
    time.sleep(0.6)  # twice the header timeout, idle between requests
    s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response_on(s).startswith(b"HTTP/1.1 200")
    s.close()


@pytest.mark.sandbox(request_timeout=0.3)
def test_a_body_that_never_arrives_is_504(sandbox: Sandbox) -> None:
    s = connect(sandbox)
    s.sendall(
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"metadata":'
    )
    answer = response_on(s)
    s.close()
    assert answer.startswith(b"HTTP/1.1 504"), answer[:200]
    doc = assert_status(answer.partition(b"\r\n\r\n")[2], 504)
    assert (doc["reason"], doc["message"]) == (
        "Timeout",
        "Timeout: request did not complete within requested timeout - context deadline exceeded",
    )
    assert refused(sandbox)["bodies_too_slow"] == 1


@pytest.mark.sandbox(max_connections=3)
def test_connections_beyond_the_limit_get_429(sandbox: Sandbox) -> None:
    held = [connect(sandbox) for _ in range(3)]
    for s in held:  # each is accepted and kept alive
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response_on(s).startswith(b"HTTP/1.1 200")
    extra = connect(sandbox)
    extra.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = response_on(extra)
    extra.close()
    assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
    assert b"\r\nRetry-After: 1\r\n" in answer
    doc = assert_status(answer.partition(b"\r\n\r\n")[2], 429)
    assert (doc["reason"], doc["message"]) == (
        "TooManyRequests",
        "Too many requests, please try again later.",
    )
    held.pop().close()
    wait_until(lambda: len(sandbox.connections.open) < 3, what="a slot freed")
    assert http(sandbox.url, "GET", "/version")[0] == 200
    for s in held:
        s.close()
    assert refused(sandbox)["connections_refused"] == 1
