"""Informers (rollouts.controller.watching) and caches (caching) against the sandbox: list then watch, resume
after a cut watch, relist on 410 Gone, backoff on errors, indexes by owner and label."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from rollouts.controller.caching import LAST_APPLIED, CachedSource, Store, parse_selector
from rollouts.controller.clocks import ManualClock
from rollouts.controller.watching import Informer
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import CONFIG_MAPS, SECRETS
from rollouts.sandbox import Sandbox


def cm(name: str, owner: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Rollout", "name": "r", "uid": owner}]
    return {"metadata": meta, "data": {}}


async def until(cond: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait for a condition the server drives (bounded; polls the loop, never a fixed pause)."""
    async with asyncio.timeout(limit):
        while not cond():  # noqa: ASYNC110 - the condition lives in another component, no event to wait on
            await asyncio.sleep(0.005)


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, etype: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.seen.append((etype, obj["metadata"]["name"]))


@pytest.fixture
async def informer(kube: KubeClient) -> AsyncIterator[Informer]:
    inf = Informer(kube, CONFIG_MAPS, namespace="default", label_selector="app=web", watch_timeout=30)
    yield inf
    await inf.stop()


async def test_list_then_watch_fills_the_cache_and_tells_handlers(
    kube: KubeClient, informer: Informer
) -> None:
    await kube.create(CONFIG_MAPS, cm("before", app="web"))
    await kube.create(CONFIG_MAPS, cm("other-app", app="db"))
    events = Events()
    informer.add_handler(events)
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 10)
    assert events.seen == [("ADDED", "before")]  # the label selector keeps other apps out
    await kube.create(CONFIG_MAPS, cm("after", owner="uid-1", app="web"))
    await kube.patch(CONFIG_MAPS, "after", {"data": {"k": "v"}}, "default")
    await kube.delete(CONFIG_MAPS, "before", "default")
    await until(lambda: len(events.seen) == 4)
    assert events.seen[1:] == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")]
    assert [o["metadata"]["name"] for o in informer.store.owned_by("uid-1")] == ["after"]
    assert informer.store.get("default", "after")["data"] == {"k": "v"}
    assert informer.lists == 1


async def test_the_cache_keeps_no_managed_fields_nor_last_applied_configuration(
    kube: KubeClient, informer: Informer
) -> None:
    """What no decision reads is not kept: managedFields and `kubectl apply`'s copy of the object (both listed and
    watched objects); the other annotations, labels and data stay."""
    heavy = "{" + '"x": 1, ' * 1000 + '"y": 2}'

    def bloated(name: str) -> dict[str, Any]:
        body = cm(name, app="web")
        body["metadata"]["annotations"] = {LAST_APPLIED: heavy, "team": "payments"}
        body["metadata"]["managedFields"] = [
            {
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {}},
            }
        ]
        body["data"] = {"k": "v"}
        return body

    created = await kube.create(CONFIG_MAPS, bloated("listed"))
    assert LAST_APPLIED in created["metadata"]["annotations"]  # the API server keeps them; the cache does not
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 10)
    await kube.create(CONFIG_MAPS, bloated("watched"))
    await until(lambda: informer.store.get("default", "watched") is not None)
    for name in ("listed", "watched"):
        cached = informer.store.get("default", name)
        assert cached is not None
        assert "managedFields" not in cached["metadata"]
        assert cached["metadata"]["annotations"] == {"team": "payments"}
        assert cached["metadata"]["labels"] == {"app": "web"} and cached["data"] == {"k": "v"}


@pytest.mark.sandbox(faults={"watch_cut_after": 0.2})
async def test_cut_watches_resume_from_the_last_resource_version(
    kube: KubeClient, informer: Informer
) -> None:
    events = Events()
    informer.add_handler(events)
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 10)
    for i in range(6):
        await kube.create(CONFIG_MAPS, cm(f"c{i}", app="web"))
        if i % 2:  # spread the writes over several watches: the server cuts each after 0.2 s
            watches = informer.watches
            await until(lambda w=watches: informer.watches > w)
    await until(lambda: len(events.seen) == 6)
    assert events.seen == [("ADDED", f"c{i}") for i in range(6)]  # nothing lost, nothing twice
    assert informer.watches >= 3
    assert informer.lists == 1  # resumed, never relisted


@pytest.mark.sandbox(history=5)
async def test_relist_on_410_emits_what_changed_during_the_gap(kube: KubeClient, informer: Informer) -> None:
    await kube.create(CONFIG_MAPS, cm("stays", app="web"))
    await kube.create(CONFIG_MAPS, cm("goes", app="web"))
    await kube.create(CONFIG_MAPS, cm("changes", app="web"))
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 10)
    await informer.stop()  # disconnected for a long time ...
    await kube.delete(CONFIG_MAPS, "goes", "default")
    await kube.create(CONFIG_MAPS, cm("new", app="web"))
    for i in range(10):  # ... while the server's history moves past our resourceVersion
        await kube.patch(CONFIG_MAPS, "changes", {"data": {"i": str(i)}}, "default")
    events = Events()
    informer.add_handler(events)
    informer.start()
    await until(lambda: informer.lists == 2)
    assert sorted(events.seen) == [("ADDED", "new"), ("DELETED", "goes"), ("MODIFIED", "changes")]
    assert sorted(o["metadata"]["name"] for o in informer.store) == ["changes", "new", "stays"]


async def test_errors_back_off_on_the_injected_clock(async_sandbox: Sandbox, kube: KubeClient) -> None:
    clock = ManualClock()
    inf = Informer(kube, SECRETS, namespace="default", clock=clock, min_backoff=0.5, max_backoff=30)
    async_sandbox.faults.update(error_rate=1.0, verbs=["list"])
    inf.start()
    try:
        await until(lambda: inf.errors == 1 and clock.sleepers == 1)
        assert not inf.synced.is_set()
        await clock.advance(0.5)
        await until(lambda: inf.errors == 2 and clock.sleepers == 1)
        async_sandbox.faults.update(error_rate=0.0)
        await clock.advance(0.9)  # the second backoff is 1 s: not yet
        assert inf.lists == 0
        await clock.advance(0.1)
        await asyncio.wait_for(inf.wait_synced(), 10)
        assert inf.lists == 1
    finally:
        await inf.stop()


async def test_resync_replays_the_cache_without_requests(kube: KubeClient) -> None:
    clock = ManualClock()
    await kube.create(CONFIG_MAPS, cm("a", app="web"))
    inf = Informer(kube, CONFIG_MAPS, namespace="default", resync=900, clock=clock)
    events = Events()
    inf.add_handler(events)
    inf.start()
    try:
        await asyncio.wait_for(inf.wait_synced(), 10)
        await until(lambda: clock.sleepers >= 1 and kube.stats.by_verb.get("Watch", 0) >= 1)
        before = kube.stats.requests
        await clock.advance(900)
        assert ("RESYNC", "a") in events.seen
        assert kube.stats.requests == before
    finally:
        await inf.stop()


async def test_cached_source_answers_from_the_store_and_falls_back_to_the_api(kube: KubeClient) -> None:
    store = Store(CONFIG_MAPS)
    store.upsert(cm("cached", app="web"))
    source = CachedSource(kube, {(CONFIG_MAPS.group, CONFIG_MAPS.plural): store})
    assert (await source.get(CONFIG_MAPS, "cached", "default"))["metadata"]["name"] == "cached"
    with pytest.raises(NotFound):
        await source.get(CONFIG_MAPS, "absent", "default")
    await kube.create(SECRETS, {"metadata": {"name": "s", "namespace": "default"}})
    assert [o["metadata"]["name"] for o in await source.list(SECRETS, "default")] == ["s"]


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        pytest.param("app=web", ["a", "b"], id="equality"),
        pytest.param("app=web,tier!=front", ["b"], id="and-not-equal"),
        pytest.param("tier", ["a"], id="exists"),
        pytest.param("!tier", ["b", "c"], id="not-exists"),
        pytest.param("app in (web, db)", ["a", "b", "c"], id="in"),
        pytest.param("app notin (web)", ["c"], id="notin"),
        pytest.param("", ["a", "b", "c"], id="everything"),
    ],
)
def test_store_label_selectors(selector: str, names: list[str]) -> None:
    store = Store(CONFIG_MAPS)
    store.upsert(cm("a", app="web", tier="front"))
    store.upsert(cm("b", app="web"))
    store.upsert(cm("c", app="db"))
    assert [o["metadata"]["name"] for o in store.list("default", selector)] == names


def test_malformed_selector_names_the_term() -> None:
    with pytest.raises(ValueError, match="a b"):
        parse_selector("app=web,a b")


def test_store_indexes_follow_updates() -> None:
    store = Store(CONFIG_MAPS)
    store.upsert(cm("x", owner="u1", app="web"))
    store.upsert(cm("x", owner="u2", app="db"))
    assert store.owned_by("u1") == [] and len(store.owned_by("u2")) == 1
    assert store.list(None, "app=web") == []
    store.remove(cm("x"))
    assert len(store) == 0 and store.owned_by("u2") == []


@pytest.mark.sandbox(bookmark_interval=0.05)
async def test_bookmarks_move_the_resume_point_without_events(kube: KubeClient, informer: Informer) -> None:
    events = Events()
    informer.add_handler(events)
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), 10)
    listed = int(informer.resource_version or 0)
    for i in range(3):  # changes the informer does not select (another app): no events, but newer versions
        await kube.create(CONFIG_MAPS, cm(f"db{i}", app="db"))
    await until(lambda: int(informer.resource_version or 0) > listed + 2)
    assert events.seen == []
