"""What the store's helpers (`collecting`, `eventlog`, `indexing`, `persisting`) see of the store, and the
shared encodings of written objects.

`rollouts.sandbox.storing.Store` satisfies `StoreView` (mypy checks it where the store hands itself to a helper);
the helpers are typed against the view, so they sit below the store that calls them.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

from rollouts.sandbox.refusals import Refusals
from rollouts.sandbox.resources import Registry, ResourceType
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.watching import Event, Watcher, encode

__all__ = ["ENCODINGS_BYTES", "Encodings", "Key", "Listener", "Obj", "StoreView"]

Key = tuple[str, str]
Obj = dict[str, Any]
Listener = Callable[[Key, Event], None]

ENCODINGS_BYTES = 8 * 1024 * 1024


class Encodings:
    """Recently written or sent objects and their JSON, shared: the response to a write and the initial
    events of every watch reuse one encoding. Bounded in bytes, least recently used first out."""

    def __init__(self, limit: int = ENCODINGS_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[int, tuple[Obj, bytes]] = OrderedDict()

    def get(self, obj: Obj) -> bytes:
        hit = self._items.get(id(obj))
        if hit is not None and hit[0] is obj:
            self._items.move_to_end(id(obj))
            return hit[1]
        return self.put(obj, encode(obj))

    def drop(self, obj: Obj | None) -> None:
        """Forget an object that was replaced or removed: its encoding will not be sent again."""
        if obj is not None:
            hit = self._items.get(id(obj))
            if hit is not None and hit[0] is obj:
                del self._items[id(obj)]
                self.size -= len(hit[1])

    def put(self, obj: Obj, encoded: bytes) -> bytes:
        old = self._items.pop(id(obj), None)
        if old is not None:
            self.size -= len(old[1])
        if len(encoded) <= self.limit:
            self._items[id(obj)] = (obj, encoded)  # the object is held, so its id is not reused meanwhile
            self.size += len(encoded)
            while self.size > self.limit:
                _, (_, dropped) = self._items.popitem(last=False)
                self.size -= len(dropped)
        return encoded


class StoreView(Protocol):
    """The store's state and the three internal steps of a write that its helpers take part in."""

    registry: Registry
    history: int
    history_bytes: int
    watch_buffer: tuple[int, int]
    rv: int
    objects: dict[Key, dict[str, dict[str, Obj]]]
    logs: dict[Key, deque[Event]]
    log_bytes: dict[Key, int]
    counters: Refusals
    encodings: Encodings
    compacted: dict[Key, int]
    watchers: dict[Key, set[Watcher]]
    uids: dict[str, tuple[Key, str, str]]
    dependents: dict[str, set[tuple[Key, str, str]]]
    label_index: dict[tuple[Key, str], dict[tuple[str, str], set[str]]]
    listeners: list[Listener]
    floor: int

    def find(self, key: Key, namespace: str, name: str) -> Obj | None: ...
    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        selector: Selector | None = None,
        limit: int = 0,
        after: tuple[str, str] | None = None,
    ) -> tuple[list[Obj], int, tuple[str, str] | None]: ...
    def _write(
        self, rt: ResourceType, old: Obj, new: Obj, *, dry_run: bool = False, internal: bool = False
    ) -> Obj: ...
    def _commit(self, key: Key, event: Event, encoded: bytes | None = None) -> None: ...
    def _index(self, key: Key, ns: str, name: str, old: Obj | None, new: Obj | None) -> None: ...
