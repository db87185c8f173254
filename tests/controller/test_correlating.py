"""client-go's event correlation (`rollouts.controller.correlating`), pure: `now` is passed in, no sleeping.

Rules: docs/semantics/controller.md#events (client-go `tools/record/events_cache.go`, which Argo uses with its
defaults through `utils/record/record.go`).
"""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.controller.correlating import COMBINED_PREFIX, Correlation, CorrelatorOptions, EventCorrelator


def event(message: str, reason: str = "ScalingReplicaSet", name: str = "api", n: int = 0) -> dict[str, Any]:
    stamp = f"2026-01-01T00:00:{n:02d}Z"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{n:x}", "namespace": "prod"},
        "involvedObject": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": name,
            "namespace": "prod",
            "uid": f"uid-{name}",
        },
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "rollouts-controller"},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def written(correlator: EventCorrelator, c: Correlation) -> Correlation:
    """What the API server would store: the body as sent (a create) or with the patch applied."""
    correlator.written(c.key, c.body)
    return c


def test_a_repeated_event_is_a_patch_of_its_count() -> None:
    correlator = EventCorrelator()
    first = written(correlator, correlator.correlate(event("Rollout is paused", n=0), 0.0) or pytest.fail())
    assert first.verb == "create" and first.body["count"] == 1
    for count, n in ((2, 1), (3, 2)):
        c = correlator.correlate(event("Rollout is paused", n=n), float(n)) or pytest.fail()
        written(correlator, c)
        assert c.verb == "patch" and c.name == first.body["metadata"]["name"]
        assert c.patch == {
            "count": count,
            "lastTimestamp": f"2026-01-01T00:00:{n:02d}Z",
            "message": "Rollout is paused",
        }
        assert c.body["firstTimestamp"] == "2026-01-01T00:00:00Z"  # kept from the first occurrence


def test_other_messages_objects_and_reasons_are_other_events() -> None:
    correlator = EventCorrelator()
    verbs = [
        (correlator.correlate(e, 0.0) or pytest.fail()).verb
        for e in (event("a"), event("b"), event("a", name="web"), event("a", reason="RolloutPaused"))
    ]
    assert verbs == ["create"] * 4


def test_the_tenth_distinct_message_is_combined_and_later_ones_count_on_it() -> None:
    correlator = EventCorrelator()
    results = []
    for i in range(12):
        c = (
            correlator.correlate(event(f"Scaled up ReplicaSet api-{i} from 0 to 1", n=i), float(i))
            or pytest.fail()
        )
        written(correlator, c)
        results.append(c)
    assert [c.verb for c in results[:9]] == ["create"] * 9
    assert [c.body["message"].startswith(COMBINED_PREFIX) for c in results] == [False] * 9 + [True] * 3
    assert results[9].verb == "create"
    assert results[9].body["message"] == COMBINED_PREFIX + "Scaled up ReplicaSet api-9 from 0 to 1"
    assert [(c.verb, c.name, c.patch.get("count")) for c in results[10:]] == [
        ("patch", results[9].body["metadata"]["name"], 2),
        ("patch", results[9].body["metadata"]["name"], 3),
    ]


def test_similar_messages_are_counted_over_a_sliding_window() -> None:
    """Ten distinct messages more than 600 s apart are never combined (the window restarts)."""
    correlator = EventCorrelator()
    for i in range(12):
        c = correlator.correlate(event(f"message {i}", n=i % 60), i * 601.0) or pytest.fail()
        assert not c.body["message"].startswith(COMBINED_PREFIX)


def test_the_spam_filter_holds_each_object_and_reason_to_its_budget() -> None:
    correlator = EventCorrelator(CorrelatorOptions(burst=25, qps=1 / 300))
    allowed = [
        correlator.correlate(event(f"m{i}", reason="RolloutPaused"), 0.0) is not None for i in range(30)
    ]
    assert allowed == [True] * 25 + [False] * 5
    # another reason of the same object has its own budget (client-go's is per object: a deliberate difference)
    assert correlator.correlate(event("done", reason="RolloutCompleted"), 0.0) is not None
    # another object too
    assert correlator.correlate(event("m", reason="RolloutPaused", name="web"), 0.0) is not None
    # one token comes back every 300 s
    assert correlator.correlate(event("later", reason="RolloutPaused"), 299.0) is None
    assert correlator.correlate(event("later", reason="RolloutPaused"), 301.0) is not None


def test_a_forgotten_event_starts_a_new_object() -> None:
    """A write that failed for good: the next occurrence is created, not patched onto a name never stored."""
    correlator = EventCorrelator()
    c = correlator.correlate(event("x"), 0.0) or pytest.fail()
    correlator.forget(c.key)
    assert (correlator.correlate(event("x", n=1), 1.0) or pytest.fail()).verb == "create"


def test_memory_is_bounded_by_the_cache_size() -> None:
    correlator = EventCorrelator(CorrelatorOptions(cache_size=100, burst=10**9))
    for i in range(5000):
        written(correlator, correlator.correlate(event("m", name=f"r{i}"), 0.0) or pytest.fail())
    assert max(len(correlator._seen), len(correlator._similar), len(correlator._buckets)) == 100
    # the oldest keys were evicted: that object's next Event is a new one (as client-go's LRU does)
    assert (correlator.correlate(event("m", name="r0", n=1), 1.0) or pytest.fail()).verb == "create"
    assert (correlator.correlate(event("m", name="r4999", n=1), 1.0) or pytest.fail()).verb == "patch"
