"""Benchmark: cost of evaluating a cached condition (the controller evaluates the same few thousands of times).

Run: .venv/bin/python bench/conditions_bench.py   — prints ns per evaluation for a few typical conditions.
"""

from __future__ import annotations

import time
from typing import Any

from analysis.conditions import compile_condition, evaluate_condition

CASES: list[tuple[str, Any]] = [
    ("result[0] >= 0.99", [0.995]),
    ("len(result) == 0 || result[0] >= 0.95", [0.97]),
    ("result == 'ok'", "ok"),
    ("all(result, {# > 0.9})", [0.95] * 10),
    ("isNaN(result) || result < 500", 120.0),
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


def main() -> None:
    start = time.perf_counter()
    compile_condition("result[0] >= 0.99 && len(result) > 0 || false")
    print(f"first compile: {(time.perf_counter() - start) * 1e6:.0f} µs")
    for expr, result in CASES:
        print(f"{bench(expr, result):8.0f} ns/eval (CPU)  {expr}")


if __name__ == "__main__":
    main()
