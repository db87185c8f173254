"""The store's write-ahead side: the size check before a commit, the bounded event history, watch subscription.

Where it sits: called by the store (`storing`) for every write. `storable` encodes the object once and
refuses it as etcd would when it is over `limits.MAX_OBJECT_BYTES`; the same bytes then become the watch
events (`commit`) and, through `Encodings`, the HTTP response and the initial events of new watches, so a
write costs one `json.dumps` and two hundred watches of a big object share one copy of it. The history
of each resource keeps at most `history` events and `HISTORY_BYTES` of their encodings (what clients wrote:
the sandbox's own writes are not measured): a watch from a version older than what is kept gets 410 Expired,
as after etcd's compaction, and big objects shorten the history rather than grow the server's memory. `subscribe` registers a watcher atomically with the write path: the
initial list (or the replay from a resourceVersion) and the live events that follow have no gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from rollouts.sandbox import errors
from rollouts.sandbox.limits import MAX_OBJECT_BYTES
from rollouts.sandbox.objects import meta
from rollouts.sandbox.resources import ResourceType
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.storeview import Key, Obj, StoreView
from rollouts.sandbox.watching import Event, Watcher, encode

HISTORY_BYTES = 32 * 1024 * 1024


def storable(store: StoreView, obj: Obj) -> bytes:
    """The object's encoding, or etcd's refusal (500, "etcdserver: request is too large") when it is too big."""
    encoded = encode(obj)
    if len(encoded) > MAX_OBJECT_BYTES:
        m = meta(obj)
        store.counters.note(
            "writes_too_large",
            f"refused to store {obj.get('kind')} {m.get('namespace', '') + '/' if m.get('namespace') else ''}"
            f"{m.get('name')}: its JSON is {len(encoded)} bytes, over etcd's {MAX_OBJECT_BYTES}-byte limit",
        )
        raise errors.storage_too_large()
    return encoded


def commit(store: StoreView, key: Key, event: Event, encoded: bytes | None = None) -> None:
    """Append to the history (what falls out is compacted) and hand the event to watchers and listeners.
    `encoded` is the object's JSON when the write was measured; otherwise it is encoded only for watchers."""
    store.encodings.drop(event.old)
    watchers = store.watchers.get(key)
    if encoded is None and watchers:
        encoded = encode(event.obj)
    if encoded is not None:
        event.size = len(encoded)
        if event.type != "DELETED":  # the last state of a deleted object is sent once, not again
            store.encodings.put(event.obj, encoded)
    log_ = store.logs.get(key)
    if log_ is None:
        log_ = store.logs[key] = deque()
    kept = store.log_bytes.get(key, 0) + event.size
    while log_ and (len(log_) >= store.history or kept > store.history_bytes):
        dropped = log_.popleft()
        store.compacted[key] = dropped.rv
        kept -= dropped.size
    log_.append(event)
    store.log_bytes[key] = kept
    if watchers:
        assert encoded is not None
        event.seed(encoded)
        for w in watchers:
            w.offer(event)
        event.forget()
    for listener in store.listeners:
        listener(key, event)


def subscribe(
    store: StoreView,
    rt: ResourceType,
    namespace: str | None,
    selector: Selector,
    resource_version: str | None,
    *,
    send_initial: bool | None = None,
    bookmarks: bool = False,
    render: Callable[[Obj], Obj] | None = None,
) -> Watcher:
    """A watcher registered with the store, pre-filled with the initial list or the replay after a version."""
    events, size = store.watch_buffer
    w = Watcher(rt, namespace, selector, max_events=events, max_bytes=size)
    w.render = render
    if resource_version in (None, "", "0") or send_initial:
        items, rv, _ = store.select(rt, namespace, selector)
        for obj in items:
            w.added(obj)
        if send_initial and bookmarks:
            w.bookmark(rv, initial_end=True)
    else:
        assert resource_version is not None
        try:
            since = int(resource_version)
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
        oldest = max(store.compacted.get(rt.key, 0), store.floor)
        if since < oldest:
            w.error(errors.gone(f"too old resource version: {since} ({oldest})").status())
            w.close()
            return w
        for event in store.logs.get(rt.key, ()):
            if event.rv > since:
                w.offer(event, counted=False)  # a replay, like the initial list, does not count
                event.forget()
    store.watchers.setdefault(rt.key, set()).add(w)
    return w
