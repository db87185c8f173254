"""Benchmark: cost of evaluating a cached condition, and the worst cases the evaluation budget allows.

Run: .venv/bin/python bench/conditions_bench.py   — prints
  * CPU ns per evaluation for a few typical conditions (the controller evaluates the same ones thousands of
    times);
  * for hostile conditions (memory bombs, CPU bombs, regexes): the outcome, CPU milliseconds and peak Python
    memory (tracemalloc) of one evaluation, and the process's peak RSS at the end. The budget
    (analysis.condops.MAX_STEPS, MAX_COLLECTION) is what keeps each of them an Error within milliseconds.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from typing import Any

from analysis.conditions import (
    MAX_COLLECTION,
    MAX_STEPS,
    ConditionError,
    compile_condition,
    evaluate_condition,
)

CASES: list[tuple[str, Any]] = [
    ("result[0] >= 0.99", [0.995]),
    ("len(result) == 0 || result[0] >= 0.95", [0.97]),
    ("result == 'ok'", "ok"),
    ("all(result, {# > 0.9})", [0.95] * 10),
    ("isNaN(result) || result < 500", 120.0),
    ('result matches "^v[0-9]+\\\\.[0-9]+"', "v1.25.3"),
    ('date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "UTC") < now()', None),
]

BIG_RESULT = [[float(i) for i in range(100)]] * 1000
HOSTILE: list[tuple[str, Any]] = [
    ('"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" matches "^((a+))+$"', None),
    ("len(map(1..10000, 1..10000)) > 0", None),
    ("len(string(map(1..10000, 1..10000))) > 0", None),
    ("any(1..10000, sum(1..10000) < 0)", None),
    ("all(1..10000, {all(1..10000, {# > 0})})", None),
    ("none(1..10000, 1..10000 != 1..10000)", None),
    ("any(result, result == result)", BIG_RESULT),
    (" && ".join(["count(1..10000, # > 0) > 0"] * 12), None),
    ("all(1..10000, {" + " + ".join(["#"] * 40) + " > 0})", None),
    ("all(1..10000, {# % 7 < 7 && # * 2 > 0 && -# < 0 && (# > 0 ? true : false)})", None),
    ("len(sort(map(1..10000, -#))) > 0", None),
    ("any(1..10000, string(1..1000) == '')", None),
    ('result matches "(.*){1000}"', "a" * 10000),
    ("any(1..1000, result matches '.{1000}.{1000}')", "é" * 9000),
    ("all(result, {# < 500})", [120.0] * 12_000),
]


def bench(expr: str, result: Any, seconds: float = 0.5) -> float:
    """CPU nanoseconds per evaluation (process time: meaningful on a busy machine too)."""
    compile_condition(expr)
    n = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            evaluate_condition(expr, result)
        n += 1000
        now = time.process_time()
        if now >= deadline:
            return (now - start) / n * 1e9


def worst_case(expr: str, result: Any, repeat: int = 5) -> tuple[str, float, float]:
    """(outcome, best CPU ms of `repeat` runs, peak traced MB of one run)."""

    def run() -> str:
        try:
            return str(evaluate_condition(expr, result))
        except ConditionError as e:
            return f"Error: {e}"

    tracemalloc.start()
    outcome = run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return outcome, best * 1000, peak


def main() -> None:
    start = time.perf_counter()
    compile_condition("result[0] >= 0.99 && len(result) > 0 || false")
    print(f"first compile: {(time.perf_counter() - start) * 1e6:.0f} µs")
    for expr, result in CASES:
        print(f"{bench(expr, result):8.0f} ns/eval (CPU)  {expr}")
    print(f"\nworst cases (budget {MAX_STEPS} steps, collections up to {MAX_COLLECTION} elements):")
    print(f"{'CPU ms':>8} {'peak MB':>8}  {'outcome':<56} expression")
    worst = 0.0
    for expr, result in HOSTILE:
        outcome, cpu_ms, peak = worst_case(expr, result)
        worst = max(worst, cpu_ms)
        shown = expr if len(expr) <= 70 else expr[:67] + "..."
        print(f"{cpu_ms:8.1f} {peak:8.2f}  {outcome[:56]:<56} {shown}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nslowest: {worst:.1f} ms CPU; process peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
