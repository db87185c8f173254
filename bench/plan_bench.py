"""Benchmark: `rollouts plan` on canaries of many steps (not part of the test run).

Builds the basic-canary example with N steps (setWeight and timed pauses alternating) and times, separately,
the validation (`rollouts.validation.load_rollout`, what the controller runs too), the plan
(`rollouts.plugin.preview.build_plan`) and the text rendering (`rollouts.plugin.render_plan.render_text`, a
rich table), each the best of a few runs. The plan used to copy the whole Rollout for every step (quadratic); the figures show whether
each part grows linearly: the last column is the time per step.

Run: `.venv/bin/python bench/plan_bench.py [N ...]` (default 250 1000 4000). `PYTHONPATH=<other checkout>`
measures another version of the code.
"""

from __future__ import annotations

import copy
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

sys.path.append(str(Path(__file__).resolve().parents[1]))

from rollouts.plugin.preview import build_plan
from rollouts.plugin.render_plan import render_text
from rollouts.validation import load_rollout

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/basic-canary/rollout.yaml"


def rollout(steps: int) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["strategy"]["canary"]["steps"] = [
        {"setWeight": 1 + (i * 7) % 99} if i % 2 == 0 else {"pause": {"duration": "1m"}} for i in range(steps)
    ]
    return doc


def best(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [250, 1000, 4000]
    print(f"{'steps':>6} {'validate s':>11} {'plan s':>9} {'render s':>9} {'total s':>8} {'ms/step':>8}")
    for n in sizes:
        doc = rollout(n)
        runs = 3 if n <= 1000 else 1
        t_validate, (ro, errors) = best(runs, lambda doc=doc: load_rollout(copy.deepcopy(doc)))  # type: ignore[misc]
        assert ro is not None and not errors, errors
        t_plan, plan = best(runs, lambda ro=ro: build_plan(ro))  # type: ignore[misc]
        console = Console(file=io.StringIO(), width=120, markup=False, no_color=True)
        t_render, _ = best(runs, lambda plan=plan, console=console: render_text(plan, console))  # type: ignore[misc]
        total = t_validate + t_plan + t_render
        print(
            f"{n:>6} {t_validate:>11.3f} {t_plan:>9.3f} {t_render:>9.3f} {total:>8.3f} {1000 * total / n:>8.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
