"""Hypothesis state machine over the store (no HTTP): whatever the sequence of writes, versions are monotonic,
no-op writes are invisible, generation counts content changes, stale writes conflict, and replaying the event
history reproduces exactly the stored objects — the property list+watch clients rely on."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rollouts.sandbox.errors import ApiError
from rollouts.sandbox.patching import MERGE
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.storing import Store

NAMES = st.sampled_from(["a", "b", "c"])
VALUES = st.integers(min_value=0, max_value=3)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()  # watchers own an asyncio.Event
        asyncio.set_event_loop(self.loop)
        self.store = Store(history=10_000, seed=0)
        rt = self.store.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert rt is not None
        self.store.create(
            rt,
            "",
            {
                "metadata": {"name": "widgets.example.com"},
                "spec": {
                    "group": "example.com",
                    "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [
                        {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}
                    ],
                },
            },
        )
        widget = self.store.registry.lookup("example.com", "v1", "widgets")
        assert widget is not None
        self.rt = widget
        self.start_rv = self.store.rv
        self.watcher = self.store.watch(widget, "default", Selector(), str(self.start_rv))
        self.generations: dict[str, int] = {}
        self.last_rv = self.store.rv

    def teardown(self) -> None:
        self.store.unwatch(self.watcher)
        self.loop.close()

    def current(self, name: str) -> dict[str, Any] | None:
        return self.store.find(self.rt.key, "default", name)

    def expect_write(self, before: int, changed: bool) -> None:
        if changed:
            assert self.store.rv > before
        else:
            assert self.store.rv == before

    @rule(name=NAMES, value=VALUES)
    def create(self, name: str, value: int) -> None:
        exists = self.current(name) is not None
        try:
            obj = self.store.create(
                self.rt,
                "default",
                {"metadata": {"name": name}, "spec": {"v": value}, "status": {"dropped": True}},
            )
        except ApiError as e:
            assert exists and e.code == 409
            return
        assert not exists and "status" not in obj and obj["metadata"]["generation"] == 1
        self.generations[name] = 1

    @precondition(lambda self: self.generations)
    @rule(data=st.data(), value=VALUES)
    def patch_spec(self, data: st.DataObject, value: int) -> None:
        name = data.draw(st.sampled_from(sorted(self.generations)))
        old = self.current(name)
        assert old is not None
        before = self.store.rv
        new, _ = self.store.patch(self.rt, "default", name, MERGE, {"spec": {"v": value}})
        changed = old["spec"]["v"] != value
        self.expect_write(before, changed)
        self.generations[name] += 1 if changed else 0
        assert new["metadata"]["generation"] == self.generations[name]

    @precondition(lambda self: self.generations)
    @rule(data=st.data(), value=VALUES)
    def patch_status_or_labels(self, data: st.DataObject, value: int) -> None:
        name = data.draw(st.sampled_from(sorted(self.generations)))
        status = data.draw(st.booleans())
        before = self.store.rv
        old = self.current(name)
        assert old is not None
        if status:
            new, _ = self.store.patch(
                self.rt, "default", name, MERGE, {"status": {"s": value}}, subresource="status"
            )
            changed = (old.get("status") or {}).get("s") != value
        else:
            new, _ = self.store.patch(
                self.rt, "default", name, MERGE, {"metadata": {"labels": {"l": str(value)}}}
            )
            changed = (old["metadata"].get("labels") or {}).get("l") != str(value)
        self.expect_write(before, changed)
        assert new["metadata"]["generation"] == self.generations[name]

    @precondition(lambda self: self.generations)
    @rule(data=st.data())
    def stale_put_conflicts(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.generations)))
        obj = self.current(name)
        assert obj is not None
        stale = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(self.start_rv)), spec={"v": 99})
        before = self.store.rv
        try:
            self.store.replace(self.rt, "default", name, stale)
            raise AssertionError("stale PUT accepted")
        except ApiError as e:
            assert e.code == 409
        assert self.store.rv == before

    @precondition(lambda self: self.generations)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.generations)))
        self.store.delete(self.rt, "default", name)
        del self.generations[name]
        assert self.current(name) is None

    @invariant()
    def versions_are_monotonic(self) -> None:
        assert self.store.rv >= self.last_rv
        self.last_rv = self.store.rv
        for obj in self.store.objects.get(self.rt.key, {}).get("default", {}).values():
            assert int(obj["metadata"]["resourceVersion"]) <= self.store.rv

    @invariant()
    def indexed_selection_equals_a_scan(self) -> None:
        stored = self.store.objects.get(self.rt.key, {}).get("default", {})
        for value in range(4):
            text = f"l={value}"
            items, _, _ = self.store.select(self.rt, "default", Selector(text))
            scanned = [
                stored[n]
                for n in sorted(stored)
                if (stored[n]["metadata"].get("labels") or {}).get("l") == str(value)
            ]
            assert items == scanned, text

    @invariant()
    def history_replays_to_the_current_state(self) -> None:
        import json

        replayed: dict[str, dict[str, Any]] = {}
        for line in self.watcher.pending_lines():
            event = json.loads(line)
            name = event["object"]["metadata"]["name"]
            if event["type"] == "DELETED":
                replayed.pop(name, None)
            else:
                replayed[name] = event["object"]
        stored = self.store.objects.get(self.rt.key, {}).get("default", {})
        assert replayed == stored


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
