"""Watch streams over HTTP: one watcher drained into a chunked response, in bounded writes.

Where it sits: `serving` hands a parsed watch request here. The watcher (`watching`) is registered with the
store atomically with the write path; this loop sends its queue as JSON lines, bookmarks every
`bookmark_interval` when asked, and ends the stream after `timeoutSeconds` (or the sandbox's
`watch_timeout`, or an injected `watch_cut_after`).

Memory stays bounded whatever the client does: the queue is written in pieces of at most `CHUNK` bytes, each
written only once the previous one has left the process (so a client that reads nothing holds one piece in
the transport, not the list), and an initial object is written from the store's shared encoding
(`storeview.Encodings`), not from a copy per watch. When the watcher is cut because its client fell behind, or
when the stream ends, the remaining bytes get `CUT_GRACE` seconds to leave; a client that still reads nothing
loses the connection, and with it the buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rollouts.sandbox import errors, tables
from rollouts.sandbox.paths import Target
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.view import SandboxView
from rollouts.sandbox.watching import Item, Watcher

if TYPE_CHECKING:
    from rollouts.sandbox.resources import ResourceType

CHUNK = 64 * 1024
CUT_GRACE = 2.0
TRIM_AFTER = 1.0  # seconds after a cut or dropped stream before freed buffers go back to the system
_ADDED = b'{"type":"ADDED","object":'
_INT = re.compile(r"[+-]?[0-9]+\Z")


def _pieces(sb: SandboxView, w: Watcher, item: Item) -> Iterator[bytes | memoryview]:
    """The bytes of one queued item, in slices of at most CHUNK, without copying a shared encoding."""
    if isinstance(item, dict) and item.get("apiVersion") == w.rt.api_version:
        body: bytes = sb.store.encodings.get(item)
        yield _ADDED
        parts: tuple[bytes, ...] = (body, b"}\n")
    else:
        parts = (w.line(item),)
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), CHUNK):
            yield view[start : start + CHUNK]


async def _send(sb: SandboxView, response: web.StreamResponse, w: Watcher, batch: list[Item]) -> None:
    pending: list[bytes | memoryview] = []
    size = 0
    for item in batch:
        for piece in _pieces(sb, w, item):
            pending.append(piece)
            size += len(piece)
            if size >= CHUNK:
                await response.write(b"".join(pending))
                pending, size = [], 0
    if pending:
        await response.write(b"".join(pending))


def int_param(query: Any, name: str) -> int | None:
    """An integer query parameter as kube-apiserver parses it (strconv.ParseInt in runtime/conversion.go), or
    None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    if not _INT.match(raw):
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": value out of range')
    return value


def bool_param(query: Any, name: str) -> bool | None:
    """A boolean query parameter as kube-apiserver converts it (apimachinery runtime/conversion.go,
    Convert_Slice_string_To_bool): present and not "0" or "false" (any case) means true, even when empty."""
    raw = query.get(name)
    if raw is None:
        return None
    return not (raw == "0" or raw.lower() == "false")


async def serve(
    sb: SandboxView, request: web.Request, t: Target, rt: ResourceType, on_start: Callable[[], None]
) -> web.StreamResponse:
    """Stream watch events for `t` until the timeout, a cut, or the client going away; `on_start` is called
    once the watcher is registered."""
    q = request.query
    if t.name is not None:  # legacy /watch/namespaces/{ns}/{resource}/{name}
        field = f"metadata.name={t.name}"
        fs = q.get("fieldSelector")
        selector = Selector(q.get("labelSelector"), f"{fs},{field}" if fs else field)
    else:
        selector = Selector(q.get("labelSelector"), q.get("fieldSelector"))
    seconds = int_param(q, "timeoutSeconds")
    timeout = float(seconds) if seconds else sb.options.watch_timeout
    bookmarks = bool(bool_param(q, "allowWatchBookmarks"))
    render = None
    if tables.wants_table(request.headers.get("Accept", "")):
        first = [True]

        def render(obj: dict[str, Any]) -> dict[str, Any]:
            doc = tables.table(rt, [obj], sb.store.rv, headers=first[0])
            first[0] = False
            return doc

    w = sb.store.watch(
        rt,
        t.namespace,
        selector,
        q.get("resourceVersion"),
        send_initial=bool_param(q, "sendInitialEvents"),
        bookmarks=bookmarks,
        render=render,
    )
    sb.watchers.add(w)
    on_start()
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    cut = sb.faults.watch_cut_after
    if cut:
        deadline = min(deadline, loop.time() + cut)
    interval = sb.options.bookmark_interval
    next_bookmark = loop.time() + interval
    dropped = False
    try:
        async with asyncio.timeout(None) as scope:

            def give_up_soon() -> None:
                with contextlib.suppress(RuntimeError):  # the scope may be expiring already
                    scope.reschedule(loop.time() + CUT_GRACE)

            def cut_off() -> None:
                sb.store.counters.note(
                    "watches_cut",
                    f"closed a watch of {rt.plural}: its client left more than {w.max_events} events or "
                    f"{w.max_bytes} bytes unread (it will watch again from its last resourceVersion)",
                )
                give_up_soon()

            w.on_cut = cut_off
            await response.prepare(request)
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    w.bookmark(sb.store.rv)
                    next_bookmark = now + interval
                wait = min(deadline - now, 1.0, max(next_bookmark - now, 0.0) if bookmarks else 1.0)
                batch = await w.next_batch(wait)
                if batch is None:
                    break
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                if batch:
                    await _send(sb, response, w, batch)
            give_up_soon()
            await response.write_eof()
    except TimeoutError:  # the client reads nothing: drop the connection and its buffers
        if request.transport is not None:
            request.transport.abort()
        dropped = True
    except (ConnectionError, RuntimeError):  # the client went away mid-stream
        dropped = True
    finally:
        w.on_cut = None
        sb.store.unwatch(w)
        sb.watchers.discard(w)
        if dropped or w.cut:
            _release_memory_soon(sb, loop)
    return response


def _release_memory_soon(sb: SandboxView, loop: asyncio.AbstractEventLoop) -> None:
    """Give the memory of dropped streams back to the system, once per burst. Their buffers were freed, but
    glibc keeps freed heap pages (the many 64 KiB pieces leave it fragmented) until `malloc_trim` is called."""
    if sb.trim_pending is None:
        sb.trim_pending = loop.call_later(TRIM_AFTER, _malloc_trim, sb)


def _malloc_trim(sb: SandboxView) -> None:
    sb.trim_pending = None
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
