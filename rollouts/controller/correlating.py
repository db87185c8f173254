"""PURE: which write an Event becomes — a new object, a patch of the count of one already written, or nothing.

Where it sits: the event recorder (`rollouts.controller.recording`) asks `EventCorrelator.correlate` for every
Event it takes off its queue, writes what the answer says, and tells the correlator what the API server stored
(`written`). No I/O here and no clock of its own: every call takes `now` (seconds, monotonic), so the rules are
tested without sleeping.

The rules are client-go's `EventCorrelator` (`k8s.io/client-go/tools/record/events_cache.go`), which Argo's
controller uses with its defaults (`utils/record/record.go`: `record.NewBroadcaster()`); see
docs/semantics/controller.md#events. In order:

1. **Similar events are combined.** Events that differ only by message (same source, involved object, type and
   reason) are counted by distinct message over a sliding window (`similar_window`, 600 s since the last one):
   from the `max_similar`-th (10th) distinct message on, the Event written is one per group whose message is
   `(combined from similar events): <latest message>`, and later ones count on it.
2. **A repeated event is a count.** An Event whose key (source, involved object, type, reason, message) was
   written before (and is still among the last `cache_size` keys) becomes a patch of `count`, `lastTimestamp`
   and `message` on that object, not a new object.
3. **Spam filter.** A token bucket per source, involved object and reason (`burst` Events, refilled at `qps`
   per second: 25 and one per 5 minutes) drops what exceeds it; the occurrence is still counted, so the next
   Event that passes carries the full count. client-go's bucket is per source and object (every reason
   shares it); here each reason has its own, so a rollout's `RolloutCompleted` is never lost because its
   scaling Events spent the budget (README's deliberate differences).

Worked example (a rollout paused three times in one update, all within a minute): `RolloutPaused` "Rollout is
paused (CanaryPauseStep)" → create (count 1); the same again → patch count 2; again → patch count 3. Ten
`ScalingReplicaSet` Events with ten different messages → nine objects, then one object whose message starts
with `(combined from similar events): `, patched on each further scaling Event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rollouts.strategy.memo import Memo

JSON = dict[str, Any]
Key = tuple[str, ...]
COMBINED_PREFIX = "(combined from similar events): "


@dataclass(frozen=True)
class CorrelatorOptions:
    """client-go's defaults (`events_cache.go`), except that the spam filter's bucket is per reason too."""

    cache_size: int = 4096
    max_similar: int = 10
    similar_window: float = 600.0
    burst: int = 25
    qps: float = 1.0 / 300.0


@dataclass
class Correlation:
    """What to write: `create` the body, or `patch` the object `name` with `patch` (then create the body if the
    object is gone). `key` is what `EventCorrelator.written` takes back."""

    verb: Literal["create", "patch"]
    body: JSON
    key: Key
    name: str = ""
    patch: JSON = field(default_factory=dict)


@dataclass
class _Seen:
    count: int
    first_timestamp: Any
    name: str


@dataclass
class _Similar:
    messages: OrderedDict[str, None]
    last: float


@dataclass
class _Bucket:
    tokens: float
    stamp: float


def _source(event: Mapping[str, Any]) -> Key:
    src = event.get("source") or {}
    obj = event.get("involvedObject") or {}
    return (
        str(src.get("component") or ""),
        str(src.get("host") or ""),
        str(obj.get("kind") or ""),
        str(obj.get("namespace") or ""),
        str(obj.get("name") or ""),
        str(obj.get("uid") or ""),
        str(obj.get("apiVersion") or ""),
    )


def event_key(event: Mapping[str, Any]) -> Key:
    """client-go's `getEventKey`: source, involved object (with fieldPath), type, reason, message."""
    field_path = str((event.get("involvedObject") or {}).get("fieldPath") or "")
    return (
        *_source(event),
        field_path,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        str(event.get("message") or ""),
    )


def similar_key(event: Mapping[str, Any]) -> Key:
    """client-go's `EventAggregatorByReasonFunc`: everything but the message (and reporting controller/instance)."""
    return (
        *_source(event),
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        str(event.get("reportingComponent") or ""),
        str(event.get("reportingInstance") or ""),
    )


def spam_key(event: Mapping[str, Any]) -> Key:
    """Source, involved object and reason (client-go's `getSpamKey` leaves the reason out)."""
    return (*_source(event), str(event.get("reason") or ""))


class EventCorrelator:
    """Stateful, bounded (three `Memo` tables of `cache_size`, least recently used evicted: client-go's LRUs), and
    pure: `now` is always passed in."""

    def __init__(self, options: CorrelatorOptions | None = None) -> None:
        self.options = options or CorrelatorOptions()
        size = self.options.cache_size
        self._seen: Memo[_Seen] = Memo(max(1, size))
        self._similar: Memo[_Similar] = Memo(max(1, size))
        self._buckets: Memo[_Bucket] = Memo(max(1, size))

    def correlate(self, event: JSON, now: float) -> Correlation | None:
        """The write for `event` (a complete core/v1 Event body with a name), or None when the spam filter
        drops it."""
        body, key = self._combine(event, now)
        correlation = self._observe(body, key)
        if not self._allow(spam_key(body), now):
            return None
        return correlation

    def written(self, key: Key, stored: Mapping[str, Any]) -> None:
        """What the API server stored for `key` (its name and count are what the next repeat patches)."""
        meta = stored.get("metadata") or {}
        self._seen.put(
            key,
            _Seen(int(stored.get("count") or 1), stored.get("firstTimestamp"), str(meta.get("name") or "")),
        )

    def forget(self, key: Key) -> None:
        """The write for `key` failed for good: the next occurrence starts a new object."""
        self._seen.put(key, _Seen(0, None, ""))

    # ------------------------------------------------------------------------------------------------ steps

    def _combine(self, event: JSON, now: float) -> tuple[JSON, Key]:
        group = similar_key(event)
        record = self._similar.get(group)
        if record is None or now - record.last > self.options.similar_window:
            record = _Similar(OrderedDict(), now)
        message = str(event.get("message") or "")
        record.messages[message] = None
        record.messages.move_to_end(message)
        record.last = now
        self._similar.put(group, record)
        if len(record.messages) < self.options.max_similar:
            return event, event_key(event)
        record.messages.popitem(last=False)  # the set never grows past the limit (client-go: PopAny)
        combined = {**event, "message": COMBINED_PREFIX + message}
        return combined, ("combined", *group)

    def _observe(self, body: JSON, key: Key) -> Correlation:
        seen = self._seen.get(key)
        if seen is None or seen.count <= 0 or not seen.name:
            self._seen.put(key, _Seen(int(body.get("count") or 1), body.get("firstTimestamp"), _name(body)))
            return Correlation("create", body, key)
        count = seen.count + 1
        repeated = {
            **body,
            "metadata": {**(body.get("metadata") or {}), "name": seen.name},
            "firstTimestamp": seen.first_timestamp,
            "count": count,
        }
        self._seen.put(key, _Seen(count, seen.first_timestamp, seen.name))
        patch = {"count": count, "lastTimestamp": body.get("lastTimestamp"), "message": body.get("message")}
        return Correlation("patch", repeated, key, seen.name, patch)

    def _allow(self, key: Key, now: float) -> bool:
        opts = self.options
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(max(1, opts.burst)), now)
        bucket.tokens = min(float(max(1, opts.burst)), bucket.tokens + (now - bucket.stamp) * opts.qps)
        bucket.stamp = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        self._buckets.put(key, bucket)
        return allowed


def _name(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("name") or "")
