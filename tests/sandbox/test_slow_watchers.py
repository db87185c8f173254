"""A watch whose client falls behind is cut as kube-apiserver's cacher cuts it, and the client resumes from the
last resourceVersion it saw with nothing lost; the initial list does not count against the backlog."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from rollouts.sandbox import Sandbox
from tests.sandbox.helpers import http, wait_until

CMS = "/api/v1/namespaces/default/configmaps"
BLOB = "b" * 100_000  # each event ~100 kB: a client that reads nothing fills the socket buffers in a few


def refused(sb: Sandbox) -> dict[str, int]:
    return dict(json.loads(http(sb.url, "GET", "/sandbox/healthz")[2])["refused"])


def open_watch(sb: Sandbox, query: str) -> socket.socket:
    """A watch over a raw socket with a tiny receive buffer, not read until the test says so."""
    parts = urlsplit(sb.url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    s.sendall(f"GET {CMS}?watch=true&{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return s


def drain(s: socket.socket) -> bytes:
    """Everything the server sends until it ends the stream (gracefully or by dropping the connection)."""
    s.settimeout(30)
    data = b""
    try:
        while chunk := s.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def events_of(stream: bytes) -> list[dict[str, Any]]:
    """The complete JSON events in a chunked watch stream (a stream cut mid-event loses only that event)."""
    body = stream.partition(b"\r\n\r\n")[2]
    payload, rest = b"", body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep or not size_line.strip():
            break
        size = int(size_line.split(b";")[0], 16)
        if size == 0 or len(rest) < size:
            payload += rest[:size]
            break
        payload += rest[:size]
        rest = rest[size + 2 :]
    return [json.loads(line) for line in payload.split(b"\n")[:-1]]


@pytest.mark.sandbox(watch_buffer_events=20)
def test_a_client_that_reads_nothing_is_cut_then_resumes_without_a_gap(sandbox: Sandbox) -> None:
    created = sandbox.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}})
    start = created["metadata"]["resourceVersion"]
    s = open_watch(sandbox, f"resourceVersion={start}")
    wait_until(lambda: sandbox.watchers, what="watch registered")
    for i in range(60):
        patch = json.dumps({"data": {"i": str(i), "blob": BLOB}}).encode()
        assert (
            http(sandbox.url, "PATCH", CMS + "/c", patch, content_type="application/merge-patch+json")[0]
            == 200
        )
    wait_until(lambda: refused(sandbox).get("watches_cut") == 1, timeout=10, what="the watch is cut")
    got = events_of(drain(s))
    s.close()
    assert 0 < len(got) < 60, len(got)  # some events arrived, then the stream ended
    assert [e["object"]["data"]["i"] for e in got] == [str(i) for i in range(len(got))]
    last = got[-1]["object"]["metadata"]["resourceVersion"]
    # As a reflector does: watch again from the last version seen; the rest arrives, nothing twice.
    _, _, body = http(
        sandbox.url, "GET", f"{CMS}?watch=true&resourceVersion={last}&timeoutSeconds=1", timeout=30
    )
    rest = [json.loads(line) for line in body.splitlines()]
    assert [e["object"]["data"]["i"] for e in rest] == [str(i) for i in range(len(got), 60)]
    wait_until(lambda: not sandbox.watchers, what="the watcher released")


@pytest.mark.sandbox(watch_buffer_events=5)
def test_the_initial_list_does_not_count_against_the_backlog(sandbox: Sandbox) -> None:
    for i in range(40):
        sandbox.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i:02}"}, "data": {}}
        )
    s = open_watch(sandbox, "timeoutSeconds=2")
    time.sleep(0.2)  # let the initial events pile up unread
    got = events_of(drain(s))
    s.close()
    assert [e["type"] for e in got] == ["ADDED"] * 40
    assert [e["object"]["metadata"]["name"] for e in got] == [f"c{i:02}" for i in range(40)]
    assert "watches_cut" not in refused(sandbox)


@pytest.mark.sandbox(watch_timeout=0.5)
def test_timeout_seconds_zero_means_the_servers_default(sandbox: Sandbox) -> None:
    """As kube-apiserver reads it: 0 is no timeout given, so the server's own (here 0.5 s) applies."""
    status, _, _ = http(sandbox.url, "GET", f"{CMS}?watch=true&timeoutSeconds=0", timeout=10)
    assert status == 200
    wait_until(lambda: not sandbox.watchers, what="the watcher released")
