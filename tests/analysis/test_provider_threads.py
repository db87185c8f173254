"""QueryThreads: the pool where synchronous clients run for the providers' coroutines (real threads)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from analysis.providers.threads import QueryThreads

WAIT = 10.0  # upper bound on any Event wait: a failing test fails instead of hanging


@pytest.fixture
def pool() -> Iterator[QueryThreads]:
    threads = QueryThreads(4, "test-query")
    yield threads
    started = list(threads._threads)
    threads.shutdown()
    for thread in started:
        thread.join(WAIT)
        assert not thread.is_alive()


async def test_result_comes_back(pool: QueryThreads) -> None:
    loop = asyncio.get_running_loop()
    assert await pool.run(loop, lambda a, b: (a + b, threading.current_thread().name), 2, 3) == (
        5,
        "test-query_0",
    )


async def test_exception_reaches_the_awaiting_coroutine(pool: QueryThreads) -> None:
    def fail() -> None:
        raise LookupError("no such series")

    with pytest.raises(LookupError, match="no such series"):
        await pool.run(asyncio.get_running_loop(), fail)


async def test_calls_run_concurrently_up_to_the_cap(pool: QueryThreads) -> None:
    """Four calls that only finish together (a barrier of 4) complete: the pool started four threads."""
    barrier = threading.Barrier(4, timeout=WAIT)
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(*(pool.run(loop, barrier.wait) for _ in range(4)))
    assert sorted(results) == [0, 1, 2, 3]
    assert len(pool._threads) == 4


async def test_never_more_threads_than_the_cap(pool: QueryThreads) -> None:
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(*(pool.run(loop, lambda i=i: i * i) for i in range(50)))
    assert results == [i * i for i in range(50)]
    assert 1 <= len(pool._threads) <= 4


async def test_a_timed_out_call_is_dropped_and_the_pool_carries_on(pool: QueryThreads) -> None:
    loop = asyncio.get_running_loop()
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(WAIT)
        finished.set()
        return "late"

    task = asyncio.ensure_future(pool.run(loop, slow))
    assert await loop.run_in_executor(None, started.wait, WAIT)
    task.cancel()  # what asyncio.timeout does to the awaiting coroutine
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert await loop.run_in_executor(None, finished.wait, WAIT)
    assert await pool.run(loop, lambda: "next") == "next"


async def test_a_call_cancelled_before_it_starts_is_skipped() -> None:
    threads = QueryThreads(1, "test-query")
    loop = asyncio.get_running_loop()
    busy, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def block() -> None:
        busy.set()
        release.wait(WAIT)

    first = asyncio.ensure_future(threads.run(loop, block))
    assert await loop.run_in_executor(None, busy.wait, WAIT)
    queued = asyncio.ensure_future(threads.run(loop, calls.append, "ran"))
    await asyncio.sleep(0)  # queued behind `block` on the only thread
    queued.cancel()
    release.set()
    await first
    assert await threads.run(loop, lambda: "after") == "after"
    assert calls == []
    started = list(threads._threads)
    threads.shutdown()
    for thread in started:
        thread.join(WAIT)


async def test_shut_down_pool_refuses_work() -> None:
    threads = QueryThreads(1, "test-query")
    threads.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        await threads.run(asyncio.get_running_loop(), lambda: None)


def test_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        QueryThreads(0, "test-query")
