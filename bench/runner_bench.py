"""Benchmark: the engine's own cost per reconcile pass (no I/O: the provider answers at once).

Run: .venv/bin/python bench/runner_bench.py — prints µs per `reconcile_run` pass for a run with two
Prometheus metrics (the seed's success-rate and latency templates, args substituted) and a full history
of 10 measurements per metric, i.e. the steady state of a long-running background analysis.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from analysis.args import build_run_spec
from analysis.models import AnalysisRunStatus, AnalysisTemplate, Argument, Measurement, Metric
from analysis.providers.base import BaseProvider
from analysis.runner import reconcile_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "istio-canary"


class Instant(BaseProvider):
    kind = "prometheus"

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        return Measurement(value="[0.995]").with_result([0.995])


async def main() -> None:
    templates = [
        AnalysisTemplate.model_validate(yaml.safe_load((EXAMPLES / f).read_text()))
        for f in ("success-rate.yaml", "latency.yaml")
    ]
    spec = build_run_spec(templates, args=[Argument(name="service-name", value="api-server-canary")])
    providers = {"prometheus": Instant()}
    status = AnalysisRunStatus()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(12):  # reach the steady state: 10 measurements kept per metric
        step = await reconcile_run(spec, providers, now, status=status)
        status, now = step.status, now + timedelta(seconds=60)
    for label, advance in (("measuring (2 measurements per pass)", 60), ("idle (nothing due)", 0)):
        n = 300
        start = time.process_time()
        for _ in range(n):
            step = await reconcile_run(spec, providers, now, status=status)
            if advance:
                status, now = step.status, now + timedelta(seconds=advance)
        per = (time.process_time() - start) / n * 1e6
        print(f"{per:8.0f} µs/pass (CPU)  {label}")


if __name__ == "__main__":
    asyncio.run(main())
