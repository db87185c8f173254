"""Deadlines enforced on the socket: how a query thread stops reading when its measurement's time is up.

Sits under the Prometheus provider's HTTP leg (`prometheus._Connection`). requests/urllib3 only know a
timeout *per socket operation*: a backend that trickles its answer a byte a second never trips it, and the
thread reading it would keep a query thread busy for as long as the backend likes. That is how one slow
endpoint used to starve every other tenant's queries.

So every query runs under a `SocketDeadline`. The thread enters it (`with deadline:`) and the connections
made through `GuardedAdapter` register each socket they use with the thread's current deadline. When the
measurement's deadline fires on the event loop, the provider calls `deadline.abort()`: every registered socket
is shut down, the blocked `recv` returns at once, urllib3 raises, the connection is discarded and the thread is
free again. A socket registered after the abort is shut down on registration, so an aborted query cannot start
a new exchange (a redirect, an OAuth2 token request) either.

Registration keeps a duplicate of the socket's descriptor (`socket.fromfd`): TLS wrapping detaches the
original socket object, and shutting down a duplicate stops the one connection they share without ever
touching a descriptor number that the process may have reused meanwhile.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["GuardedAdapter", "SocketDeadline"]

_local = threading.local()


class SocketDeadline:
    """The deadline of one query: `remaining()` seconds for socket timeouts, `abort()` from another thread."""

    __slots__ = ("_lock", "_sockets", "aborted", "expires")

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds
        self.aborted = False
        self._sockets: list[tuple[object, socket.socket]] = []  # (socket used, our duplicate of it)
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds left (at least a millisecond, so that it is usable as a socket timeout)."""
        return max(0.001, self.expires - time.monotonic())

    def __enter__(self) -> SocketDeadline:
        _local.deadline = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        _local.deadline = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for _, duplicate in sockets:
            duplicate.close()

    def watch(self, sock: Any) -> None:
        """Register the socket of a connection this thread is about to use (shut down at once if aborted)."""
        try:
            fd = sock.fileno()
        except (AttributeError, OSError):
            return
        if fd < 0:
            return
        with self._lock:
            if any(used is sock for used, _ in self._sockets):
                return
            try:
                duplicate = socket.fromfd(fd, sock.family, sock.type)
            except OSError:
                return
            self._sockets.append((sock, duplicate))
            aborted = self.aborted
        if aborted:
            _shutdown(duplicate)

    def abort(self) -> None:
        """Stop the query: shut down every socket it uses now or registers later. Safe from any thread."""
        with self._lock:
            self.aborted = True
            sockets = [duplicate for _, duplicate in self._sockets]
        for duplicate in sockets:
            _shutdown(duplicate)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch_current(sock: Any) -> None:
    deadline: SocketDeadline | None = getattr(_local, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _GuardedHTTPConnection(HTTPConnection):
    """Registers the socket of every exchange with the calling thread's deadline."""

    def _new_conn(self) -> socket.socket:  # a new TCP connection, before any TLS handshake on it
        sock = super()._new_conn()
        _watch_current(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # a pooled connection used again
        _watch_current(self.sock)
        super().request(*args, **kwargs)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch_current(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self.sock)
        super().request(*args, **kwargs)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_POOLS = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through a proxy) obey the thread's `SocketDeadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
