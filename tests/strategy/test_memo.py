"""The strategy core's one cache (rollouts.strategy.memo): bounded LRU, `@memoized`, and the exact keys."""

from __future__ import annotations

from rollouts.strategy import hashing
from rollouts.strategy.memo import Memo, canonical_key, json_key, memoized


def test_memo_evicts_the_least_recently_used() -> None:
    memo: Memo[int] = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recent
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (1, None, 3)
    assert memo.get(None) is None  # an input that has no JSON is never cached


def test_memoized_computes_once_per_key_within_its_bound() -> None:
    calls: list[str] = []

    @memoized(2)
    def shout(key: str) -> str:
        calls.append(key)
        return key.upper()

    assert [shout(k) for k in ("x", "x", "y", "x")] == ["X", "X", "Y", "X"]
    assert calls == ["x", "y"]
    shout("z")  # evicts y, the least recently used
    shout("y")
    assert calls == ["x", "y", "z", "y"]


def test_keys_tell_apart_what_json_tells_apart() -> None:
    assert json_key({"a": 1}) != json_key({"a": 1.0}) != json_key({"a": True})
    assert json_key({"a": 1, "b": 2}) != json_key({"b": 2, "a": 1})  # exact: order kept
    assert canonical_key({"a": 1, "b": 2}) == canonical_key({"b": 2, "a": 1})  # for rules that sort maps
    assert json_key({1j}) is None


def test_the_hashes_go_through_the_one_cache() -> None:
    template = {
        "metadata": {"labels": {"app": "memo-test"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    first = hashing.pod_template_hash(template)
    table = hashing._pod_template_hash.memo  # type: ignore[attr-defined]
    assert table.get((canonical_key(template), None)) == first
    assert hashing.pod_template_hash(dict(reversed(list(template.items())))) == first
