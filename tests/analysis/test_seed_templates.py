"""The seed's two templates (examples/istio-canary/success-rate.yaml and latency.yaml) replayed with
`rollouts analyze --from/--to` against a real Prometheus.

Data (tests/fixtures/prometheus.py): `api-server-canary` at 99.5 % 2xx with p99 ≈ 99.5 ms, and in the
degrading scenario 50 % errors and p99 ≈ 2.5 s from T = FROM + 2m30s onwards. Counters are sampled every
15 s, so the first 5-minute window that contains a degraded increment is the one ending at FROM + 3m:
measurements at FROM, +1m, +2m succeed; +3m, +4m, +5m, +6m fail, and the 4th failure exceeds
`failureLimit: 3` (strict `>`, docs/semantics/analysis.md#metric-status), so the run is Failed at exactly FROM + 6m with Argo's message (docs/semantics/analysis.md#run-status).
Both templates use `interval: 60s` and no count (docs/semantics/objects.md#analysis-objects EffectiveCount: run until terminated), so a healthy
replay is terminated at TO and Successful.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from analysis.cli import analyze
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory, degrading, unused_url

pytestmark = pytest.mark.prometheus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "istio-canary"
SEED = [str(EXAMPLES / "success-rate.yaml"), str(EXAMPLES / "latency.yaml")]
FROM = timedelta(minutes=-40)  # relative to the data's anchor
DEGRADES_AT = FROM + timedelta(minutes=2, seconds=30)


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def replay(url: str, start: datetime, end: datetime, *extra: str) -> Result:
    files = [arg for path in SEED for arg in ("-f", path)]
    args = [*files, "-a", "service-name=api-server-canary", "--prometheus", url]
    return CliRunner().invoke(analyze, [*args, "--from", rfc3339(start), "--to", rfc3339(end), *extra])


def test_healthy_canary_is_successful(prometheus_factory: PrometheusFactory) -> None:
    server = prometheus_factory(HEALTHY)
    start, end = server.anchor + FROM, server.anchor + FROM + timedelta(minutes=20)
    result = replay(server.url, start, end, "-o", "json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["phase"] == "Successful"
    assert ts(status["completedAt"]) == end  # indefinite metrics are terminated at TO
    for metric in status["metricResults"]:
        assert metric["phase"] == "Successful"
        assert metric["failed"] == 0 and metric["error"] == 0
        assert metric["count"] == 21  # FROM, FROM+1m, …, TO
        assert (
            len(metric["measurements"]) == 10
        )  # history trimmed to the last 10 (docs/semantics/analysis.md#analysis-scheduling)
    rate, latency = status["metricResults"]
    assert {m["value"] for m in rate["measurements"]} == {"[0.995]"}
    assert all(float(m["value"].strip("[]")) < 500 for m in latency["measurements"])
    assert "sum(rate(http_requests_total" in rate["metadata"]["ResolvedPrometheusQuery"]
    assert "api-server-canary" in rate["metadata"]["ResolvedPrometheusQuery"]


def test_degrading_canary_fails_at_the_fourth_failure(prometheus_factory: PrometheusFactory) -> None:
    server = prometheus_factory(degrading(DEGRADES_AT))
    start, end = server.anchor + FROM, server.anchor + FROM + timedelta(minutes=20)
    result = replay(server.url, start, end, "-o", "json")
    assert result.exit_code == 1, result.output
    status = json.loads(result.stdout)
    assert status["phase"] == "Failed"
    assert status["message"] == 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    assert ts(status["completedAt"]) == start + timedelta(minutes=6)
    for metric in status["metricResults"]:
        assert metric["phase"] == "Failed"
        assert (metric["count"], metric["successful"], metric["failed"]) == (7, 3, 4)
        phases = [m["phase"] for m in metric["measurements"]]
        times = [ts(m["finishedAt"]) - start for m in metric["measurements"]]
        assert phases == ["Successful"] * 3 + ["Failed"] * 4
        assert times == [timedelta(minutes=k) for k in range(7)]
    rate = status["metricResults"][0]
    assert [m["value"] for m in rate["measurements"][:3]] == ["[0.995]"] * 3
    first_failure = float(rate["measurements"][3]["value"].strip("[]"))
    # 2 of the 20 increments in the window are degraded: (18·199 + 2·100) / (20·200)
    assert first_failure == pytest.approx((18 * 199 + 2 * 100) / 4000)


def test_degrading_canary_text_report(prometheus_factory: PrometheusFactory) -> None:
    server = prometheus_factory(degrading(DEGRADES_AT))
    start = server.anchor + FROM
    result = replay(server.url, start, start + timedelta(minutes=20))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    verdict = lines[-1]
    assert verdict == (
        f"Verdict: Failed at {rfc3339(start + timedelta(minutes=6))} (after 6m0s): "
        'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    )
    fourth_failure = next(line for line in lines if line.startswith(rfc3339(start + timedelta(minutes=6))))
    assert "Failed" in fourth_failure


def test_replay_window_ending_before_the_limit_is_successful(prometheus_factory: PrometheusFactory) -> None:
    # Stop at FROM + 5m: three failures are tolerated (failed (3) is not > 3), the run is terminated at TO.
    server = prometheus_factory(degrading(DEGRADES_AT))
    start = server.anchor + FROM
    result = replay(server.url, start, start + timedelta(minutes=5), "-o", "json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert ts(status["completedAt"]) == start + timedelta(minutes=5)
    assert [m["failed"] for m in status["metricResults"]] == [3, 3]


def test_at_an_instant_after_the_degradation(prometheus_factory: PrometheusFactory) -> None:
    server = prometheus_factory(degrading(DEGRADES_AT))
    at = server.anchor + FROM + timedelta(minutes=10)
    files = [arg for path in SEED for arg in ("-f", path)]
    result = CliRunner().invoke(
        analyze,
        [
            *files,
            "-a",
            "service-name=api-server-canary",
            "--prometheus",
            server.url,
            "--at",
            rfc3339(at),
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 1, result.output
    status = json.loads(result.stdout)
    assert status["metricResults"][0]["measurements"][0]["value"] == "[0.5]"
    assert [len(m["measurements"]) for m in status["metricResults"]] == [1, 1]


def test_prometheus_down_is_an_error_after_five_tries_ten_seconds_apart() -> None:
    # docs/semantics/analysis.md#metric-status: consecutiveErrorLimit defaults to 4 (strict >), docs/semantics/analysis.md#analysis-scheduling: after an error the next try is 10 s later.
    start = datetime(2024, 1, 1, tzinfo=UTC)
    result = replay(
        unused_url(), start, start + timedelta(minutes=20), "--template", "success-rate", "-o", "json"
    )
    assert result.exit_code == 3, result.output
    status = json.loads(result.stdout)
    assert status["phase"] == "Error"
    assert status["message"].startswith(
        'Metric "success-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)'
    )
    assert "Connection refused" in status["message"]
    (metric,) = status["metricResults"]
    assert [ts(m["finishedAt"]) - start for m in metric["measurements"]] == [
        timedelta(seconds=s) for s in (0, 10, 20, 30, 40)
    ]
    assert ts(status["completedAt"]) == start + timedelta(seconds=40)
