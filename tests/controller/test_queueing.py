"""The work queue (rollouts.controller.queueing): dedupe, serial per key, one timer heap, backoff (docs/semantics/controller.md#work-queue)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loguru import logger

from rollouts.controller.clocks import ManualClock, settle
from rollouts.controller.queueing import ObjectKey, WorkQueue
from rollouts.kube.errors import Conflict

A = ObjectKey("ns", "a")
B = ObjectKey("ns", "b")


class Recorder:
    """A handler that records calls and can be held open or made to fail."""

    def __init__(self) -> None:
        self.calls: list[ObjectKey] = []
        self.running: dict[ObjectKey, int] = {}
        self.max_parallel_same_key = 0
        self.gates: dict[ObjectKey, asyncio.Event] = {}
        self.fail: dict[ObjectKey, int] = {}
        self.requeue: dict[ObjectKey, float] = {}

    async def __call__(self, key: ObjectKey) -> float | None:
        self.calls.append(key)
        self.running[key] = self.running.get(key, 0) + 1
        self.max_parallel_same_key = max(self.max_parallel_same_key, self.running[key])
        try:
            gate = self.gates.get(key)
            if gate is not None:
                await gate.wait()
            if self.fail.get(key, 0) > 0:
                self.fail[key] -= 1
                raise RuntimeError("boom")
            return self.requeue.pop(key, None)
        finally:
            self.running[key] -= 1


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def queue(clock: ManualClock, rec: Recorder) -> AsyncIterator[WorkQueue]:
    q = WorkQueue("test", rec, workers=4, clock=clock)
    q.start()
    yield q
    await q.stop(grace=0)


async def test_dedupe_keys_already_queued(queue: WorkQueue, rec: Recorder) -> None:
    for _ in range(5):
        queue.add(A)
    queue.add(B)
    await queue.wait_idle()
    assert sorted(rec.calls) == [A, B]


async def test_key_added_while_processing_runs_again_after_serially(queue: WorkQueue, rec: Recorder) -> None:
    rec.gates[A] = asyncio.Event()
    queue.add(A)
    await settle()
    assert queue.is_processing(A)
    queue.add(A)
    queue.add(A)
    await settle()
    assert rec.calls == [A]  # not handed to a second worker
    rec.gates[A].set()
    await queue.wait_idle()
    assert rec.calls == [A, A]
    assert rec.max_parallel_same_key == 1


async def test_different_keys_run_in_parallel(queue: WorkQueue, rec: Recorder) -> None:
    rec.gates[A] = asyncio.Event()
    rec.gates[B] = asyncio.Event()
    queue.add(A)
    queue.add(B)
    await settle()
    assert queue.is_processing(A) and queue.is_processing(B)
    rec.gates[A].set()
    rec.gates[B].set()
    await queue.wait_idle()


async def test_workers_bound_concurrency(clock: ManualClock, rec: Recorder) -> None:
    q = WorkQueue("bounded", rec, workers=2, clock=clock)
    q.start()
    keys = [ObjectKey("ns", f"k{i}") for i in range(5)]
    gate = asyncio.Event()
    for k in keys:
        rec.gates[k] = gate
        q.add(k)
    await settle()
    assert sum(rec.running.values()) == 2
    assert q.depth == 3
    gate.set()
    await q.wait_idle()
    assert sorted(rec.calls) == keys
    await q.stop(grace=0)


async def test_add_after_fires_on_the_timer_heap(queue: WorkQueue, rec: Recorder, clock: ManualClock) -> None:
    queue.add_after(A, 30)
    queue.add_after(B, 10)
    await settle()
    assert rec.calls == []
    await clock.advance(9.9)
    assert rec.calls == []
    await clock.advance(0.2)
    await queue.wait_idle()
    assert rec.calls == [B]
    await clock.advance(20)
    await queue.wait_idle()
    assert rec.calls == [B, A]


async def test_earlier_request_for_same_key_wins(queue: WorkQueue, rec: Recorder, clock: ManualClock) -> None:
    queue.add_after(A, 60)
    queue.add_after(A, 5)
    queue.add_after(A, 90)  # later than the pending 5 s: ignored
    assert queue.delayed == 1
    await clock.advance(5)
    await queue.wait_idle()
    assert rec.calls == [A]
    await clock.advance(100)
    await queue.wait_idle()
    assert rec.calls == [A]  # the superseded 60 s entry did not fire


async def test_requeue_after_from_handler(queue: WorkQueue, rec: Recorder, clock: ManualClock) -> None:
    rec.requeue[A] = 15.0
    queue.add(A)
    await queue.wait_idle()
    assert queue.delayed == 1
    await clock.advance(15)
    await queue.wait_idle()
    assert rec.calls == [A, A]


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        pytest.param(1, 0.001, id="first-retry-1ms"),
        pytest.param(2, 0.002, id="second-2ms"),
        pytest.param(11, 1.024, id="eleventh-1.024s"),
        pytest.param(14, 8.192, id="fourteenth-8.192s"),
        pytest.param(15, 10.0, id="capped-at-10s"),
        pytest.param(30, 10.0, id="stays-capped"),
    ],
)
async def test_backoff_schedule_1ms_to_10s(failures: int, expected: float) -> None:
    """docs/semantics/controller.md#work-queue: exponential per-item 1 ms → 10 s."""

    async def never(key: ObjectKey) -> None:
        return None

    q = WorkQueue("bo", never, clock=ManualClock())
    delays = [q.add_rate_limited(A) for _ in range(failures)]
    assert delays[-1] == pytest.approx(expected)
    q.forget(A)
    assert q.add_rate_limited(A) == pytest.approx(0.001)


async def test_errors_retry_with_backoff_then_reset(
    queue: WorkQueue, rec: Recorder, clock: ManualClock
) -> None:
    rec.fail[A] = 3
    queue.add(A)
    await queue.wait_idle()
    assert queue.failures(A) == 1
    await clock.advance(0.001)
    await queue.wait_idle()
    await clock.advance(0.002)
    await queue.wait_idle()
    assert queue.failures(A) == 3
    await clock.advance(0.004)
    await queue.wait_idle()
    assert rec.calls == [A, A, A, A]
    assert queue.failures(A) == 0  # success forgets
    assert queue.stats.retries == 3 and queue.stats.errors == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 3)), max_size=30))
def test_every_added_key_is_processed_and_never_concurrently(ops: list[tuple[str, int]]) -> None:
    """Invariant: whatever the interleaving of adds, each key added is processed at least once after its last
    add, and never by two workers at once."""

    async def scenario() -> None:
        clock = ManualClock()
        rec = Recorder()
        q = WorkQueue("prop", rec, workers=3, clock=clock)
        q.start()
        last_add: dict[ObjectKey, int] = {}
        for name, pause in ops:
            key = ObjectKey("ns", name)
            q.add(key)
            last_add[key] = len(rec.calls)
            for _ in range(pause):
                await asyncio.sleep(0)
        await q.wait_idle()
        await q.stop(grace=0)
        assert rec.max_parallel_same_key <= 1
        for key, calls_before in last_add.items():
            assert key in rec.calls[calls_before:]

    asyncio.run(scenario())


async def test_namespaces_take_turns(clock: ManualClock, rec: Recorder) -> None:
    """A namespace with fifty keys queued delays another namespace's key by one turn, not fifty."""
    q = WorkQueue("turns", rec, workers=1, clock=clock)
    crowd = [ObjectKey("team-a", f"k{i}") for i in range(50)]
    for k in crowd:
        q.add(k)
    q.add(ObjectKey("team-b", "x"))
    q.add(ObjectKey("team-c", "y"))
    q.start()
    await q.wait_idle()
    await q.stop(grace=0)
    assert rec.calls[:4] == [crowd[0], ObjectKey("team-b", "x"), ObjectKey("team-c", "y"), crowd[1]]
    assert rec.calls[3:] == crowd[1:]  # FIFO within a namespace


async def test_a_namespace_holds_at_most_its_share_of_the_workers(clock: ManualClock, rec: Recorder) -> None:
    q = WorkQueue("share", rec, workers=4, clock=clock, namespace_workers=2)
    gate = asyncio.Event()
    slow = [ObjectKey("team-a", f"k{i}") for i in range(6)]
    for k in slow:
        rec.gates[k] = gate
        q.add(k)
    q.start()
    await settle()
    assert q.busy("team-a") == 2 and q.depth == 4  # two workers stay free although team A has work queued
    other = ObjectKey("team-b", "x")
    q.add(other)
    await settle()
    assert other in rec.calls and q.busy("team-b") == 0  # served at once, finished
    gate.set()
    await q.wait_idle()
    assert sorted(rec.calls) == sorted([*slow, other])
    assert q.busy("team-a") == 0
    await q.stop(grace=0)


async def test_failures_are_warned_when_the_streak_doubles(
    queue: WorkQueue, rec: Recorder, clock: ManualClock
) -> None:
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(str(m)), level="WARNING", format="{level} {message}\n{exception}"
    )
    try:
        rec.fail[A] = 5
        queue.add(A)
        await queue.wait_idle()
        for failures in range(1, 6):
            await clock.advance(0.001 * 2 ** (failures - 1))
            await queue.wait_idle()
    finally:
        logger.remove(sink)
    warned = [line for line in lines if "reconcile failed" in line]
    assert [w.split("(")[1].split(" in a row")[0] for w in warned] == ["1", "2", "4"]
    assert warned[0].startswith("WARNING test ns/a: reconcile failed (1 in a row): RuntimeError: boom")
    assert "Traceback" in warned[0]  # not an API answer: a defect, shown with its traceback
    assert queue.failures(A) == 0  # the sixth pass succeeded


async def test_api_errors_are_warned_without_a_traceback(clock: ManualClock) -> None:
    async def refuse(key: ObjectKey) -> None:
        raise Conflict("the object has been modified")

    q = WorkQueue("api", refuse, clock=clock)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}\n{exception}")
    q.start()
    try:
        q.add(A)
        await q.wait_idle()
    finally:
        logger.remove(sink)
        await q.stop(grace=0)
    (line,) = lines
    assert "reconcile failed (1 in a row): Conflict: the object has been modified" in line
    assert "Traceback" not in line
