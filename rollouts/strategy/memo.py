"""The one cache of the strategy core: a bounded least-recently-used table for results of pure computations.

Where it sits: the controller decides the same rollout over and over with the same inputs (every settling pass,
every resync), so `decide` keeps, per exact input, results that are costly to recompute (e.g. an AnalysisRun
spec built from its templates). The key must be the exact input (its JSON), so a hit returns exactly what
computing again would; callers hand out private copies of mutable results. Keeping the table bounded keeps
memory flat however many rollouts pass through.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import suppress
from functools import wraps
from typing import Any, Generic, TypeVar

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)


def json_key(value: Any) -> str | None:
    """The exact JSON text of `value` (dict order kept, `1`/`1.0`/`true` told apart); None when not JSON."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return None


def canonical_key(value: Any) -> str:
    """JSON with sorted keys and no blanks: for rules that read maps in key order (Go marshals maps sorted)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Memo(Generic[V]):
    """`get(key)` / `put(key, value)` with the least recently used entries evicted beyond `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._table: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable | None) -> V | None:
        if key is None:
            return None
        value = self._table.get(key)
        if value is not None:
            with suppress(
                KeyError
            ):  # evicted meanwhile by a caller on another thread: the value still stands
                self._table.move_to_end(key)
        return value

    def __len__(self) -> int:
        return len(self._table)

    def pop(self, key: Hashable, default: V | None = None) -> V | None:
        """Forget `key` (its value, or `default` when absent)."""
        return self._table.pop(key, default)

    def put(self, key: Hashable | None, value: V) -> None:
        if key is None:
            return
        self._table[key] = value
        with suppress(KeyError):
            self._table.move_to_end(key)
        while len(self._table) > self.size:
            try:
                self._table.popitem(last=False)
            except KeyError:  # emptied meanwhile by a caller on another thread
                break


def memoized(size: int) -> Callable[[Callable[[K], V]], Callable[[K], V]]:
    """Decorate a pure function of one hashable key with a `Memo` of `size` entries (`fn.memo` is the table).

    Unlike `functools.lru_cache`, the table is the same `Memo` every other cache of the core uses, so they all
    behave (bounds, eviction, thread tolerance) alike."""

    def decorate(fn: Callable[[K], V]) -> Callable[[K], V]:
        memo: Memo[V] = Memo(size)

        @wraps(fn)
        def cached(key: K) -> V:
            value = memo.get(key)
            if value is None:
                value = fn(key)
                memo.put(key, value)
            return value

        cached.memo = memo  # type: ignore[attr-defined]
        return cached

    return decorate
