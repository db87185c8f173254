"""Write fencing at the HTTP seam: a write request asks a fence right before it goes out, and once more just
before its first byte is written, so a process that may no longer act (the controller's lost Lease) sends
nothing.

Used by `rollouts.kube.client.KubeClient` (its `write_fence`, set on a view by `with_write_fence`); the fence
itself is the controller's (`rollouts.controller.leadership.LeaderElector.check_write`). Why twice: between the
first check and the socket, aiohttp may await a connection and, on Python 3.11, writes the request in a task of
its own a loop iteration later. A process frozen in that gap (SIGSTOP, a stalled VM) would send the write when
it resumes, however late. Asked in `write_bytes`, the check and the write are one synchronous stretch.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp

from rollouts.kube.resources import Resource

WriteFence = Callable[[str, Resource], None]
"""Asked right before a write request goes out, with the verb (Create, Update, Patch, Delete) and the resource;
raises to stop it."""

# The fence of the write this task is sending, asked once more by `FencedRequest` at the last moment.
_REQUEST_FENCE: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "rollouts_request_fence", default=None
)


class FencedRequest(aiohttp.ClientRequest):
    """aiohttp's request, asking the fence of its task's context just before the first byte is written.

    A refusal closes the connection with nothing sent (headers wait to go out with the body) and makes the
    pending answer raise the fence's exception."""

    async def write_bytes(self, writer: Any, conn: Any, *args: Any, **kwargs: Any) -> None:
        fence = _REQUEST_FENCE.get()
        if fence is not None:
            try:
                fence()
            except Exception as e:
                if conn.protocol is not None:
                    conn.protocol.set_exception(e)
                conn.close()
                return
        await super().write_bytes(writer, conn, *args, **kwargs)


def install(configuration: Any) -> None:
    """Make the sessions of clients built on this `kubernetes` Configuration send with `FencedRequest`."""
    session_kwargs = dict(getattr(configuration, "client_session_kwargs", None) or {})
    session_kwargs.setdefault("request_class", FencedRequest)
    configuration.client_session_kwargs = session_kwargs


@contextlib.contextmanager
def sending(fence: WriteFence | None, verb: str, resource: Resource) -> Iterator[None]:
    """Around one write attempt: ask `fence` now (raises to stop it), and again when its first byte is due."""
    if fence is None:
        yield
        return
    fence(verb, resource)
    token = _REQUEST_FENCE.set(lambda: fence(verb, resource))
    try:
        yield
    finally:
        _REQUEST_FENCE.reset(token)
