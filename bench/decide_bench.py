"""Benchmark: microseconds per `rollouts.strategy.decide` call (not part of the test run).

Builds a few typical Observed snapshots with the in-memory world of the strategy tests (the seed's Istio canary
mid-rollout at 20 % with a background run, the same canary at rest, the seed's blue-green paused before
promotion) and times `decide` on each. Each snapshot is a private copy of the world at that moment, with the
`metadata.uid` every object read from an API server carries. Run: `.venv/bin/python bench/decide_bench.py
[iterations]`.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rollouts.models import Rollout
from rollouts.strategy import decide
from rollouts.strategy.plan import Observed
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)
BLUEGREEN = (
    "examples/bluegreen/rollout.yaml",
    "examples/bluegreen/services.yaml",
    "examples/bluegreen/smoke-tests.yaml",
    "examples/istio-canary/success-rate.yaml",
)


def frozen(observed: Observed, uid: str) -> Observed:
    """The observed world now, unaffected by later edits of the simulation (which edits its dicts in place)."""
    raw = copy.deepcopy(dict(observed.rollout_raw))
    raw.setdefault("metadata", {}).setdefault("uid", uid)
    return dataclasses.replace(
        observed,
        rollout=Rollout.model_validate(raw),
        rollout_raw=raw,
        routers=copy.deepcopy(dict(observed.routers)),
        templates=copy.deepcopy(dict(observed.templates)),
    )


def snapshots() -> dict[str, tuple[Observed, datetime]]:
    out: dict[str, tuple[Observed, datetime]] = {}
    w = World.from_files(*CANARY)
    w.settle(T0)
    out["canary at rest (Healthy)"] = (frozen(w.observed(), "uid-canary"), T0)
    w.set_image("v2")
    w.settle(T0)
    w.settle(T0 + timedelta(minutes=6))
    out["canary mid-rollout (20 %, paused)"] = (frozen(w.observed(), "uid-canary"), T0 + timedelta(minutes=7))
    b = World.from_files(*BLUEGREEN)
    b.settle(T0)
    b.set_image("v2")
    b.settle(T0)
    b.set_run_phase(next(iter(b.runs)), "Successful")
    b.settle(T0)
    out["blue-green paused before promotion"] = (frozen(b.observed(), "uid-bluegreen"), T0)
    return out


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for label, (observed, now) in snapshots().items():
        for _ in range(50):
            decide(observed, now)
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(iterations):
                decide(observed, now)
            samples.append((time.perf_counter() - start) / iterations * 1e6)
        print(f"{label:40s} {statistics.median(samples):8.1f} µs/decide (median of 5 × {iterations})")


if __name__ == "__main__":
    main()
