"""The statistical judge (`provider.plugin["rollouts/judge"]`) against a real Prometheus over backfilled data
with noise: a canary as good as its baseline passes, a clearly worse one fails, through the runner and Argo's
conditions; a query that fails, a side with several series and a Prometheus that is down are Error
measurements saying so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.models import AnalysisPhase, AnalysisRunSpec, Metric
from analysis.providers.registry import ProviderOptions, Providers
from analysis.runner import VirtualClock, run_to_completion
from tests.fixtures.prometheus import PrometheusFactory, judge_scenario, unused_url

pytestmark = pytest.mark.prometheus

ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0)
NOISY = judge_scenario(ANCHOR)
AT = ANCHOR  # the data is noisy: a fixed instant judges the same window on every run

RATE = 'sum(rate(judge_requests_total{service="%s",status="500"}[1m])) / sum(rate(judge_requests_total{service="%s"}[1m]))'
COUNT_BAD = 'sum(increase(judge_requests_total{service="%s",status="500"}[10m]))'
COUNT_ALL = 'sum(increase(judge_requests_total{service="%s"}[10m]))'


def rate(service: str) -> str:
    return RATE % (service, service)


def judge_metric(
    address: str, canary: Any, baseline: Any, *, conditions: bool = True, **config: Any
) -> Metric:
    raw: dict[str, Any] = {
        "name": "error-rate-vs-baseline",
        "provider": {
            "plugin": {
                "rollouts/judge": {
                    "prometheus": {"address": address},
                    "canary": canary,
                    "baseline": baseline,
                    **config,
                }
            }
        },
    }
    if conditions:
        raw["successCondition"] = 'result.verdict == "pass"'
        raw["failureCondition"] = 'result.verdict == "fail"'
    return Metric.model_validate(raw)


@pytest.fixture
async def providers() -> AsyncIterator[Providers]:
    async with Providers(ProviderOptions(environ={})) as p:
        yield p


@pytest.fixture
def address(prometheus_factory: PrometheusFactory) -> str:
    return prometheus_factory(NOISY).url


async def test_a_canary_as_good_as_its_baseline_passes(providers: Providers, address: str) -> None:
    measurement = await providers.judge.measure(
        judge_metric(address, rate("good-canary"), rate("baseline")), at=AT
    )
    result = measurement.result
    assert measurement.phase is None  # the conditions decide
    assert result["verdict"] == "pass", result
    assert result["canarySamples"] == result["baselineSamples"] == 21  # 10 minutes at 30 s, both ends
    # same true error share, noise apart: either no significant difference, or one smaller than minEffect (10 %)
    assert result["pValue"] >= 0.05 or abs(result["effect"]) < 0.1, result
    assert json.loads(measurement.value or "")["verdict"] == "pass"


async def test_a_clearly_worse_canary_fails(providers: Providers, address: str) -> None:
    measurement = await providers.judge.measure(
        judge_metric(address, rate("bad-canary"), rate("baseline")), at=AT
    )
    result = measurement.result
    assert result["verdict"] == "fail", result
    assert result["pValue"] < 1e-6 and result["effect"] > 2
    assert 0.03 < result["canary"] < 0.07 and 0.005 < result["baseline"] < 0.015


async def test_proportions_judge_the_counts(providers: Providers, address: str) -> None:
    def counts(service: str) -> dict[str, str]:
        return {"bad": COUNT_BAD % service, "total": COUNT_ALL % service}

    good = await providers.judge.measure(
        judge_metric(address, counts("good-canary"), counts("baseline"), test="proportions"), at=AT
    )
    bad = await providers.judge.measure(
        judge_metric(address, counts("bad-canary"), counts("baseline"), test="proportions"), at=AT
    )
    assert (good.result["verdict"], bad.result["verdict"]) == ("pass", "fail"), (good.result, bad.result)
    assert good.result["canarySamples"] > 50_000  # events of the 10-minute window


async def test_a_whole_run_with_argos_conditions(providers: Providers, address: str) -> None:
    def spec(canary: str) -> AnalysisRunSpec:
        metric = judge_metric(address, rate(canary), rate("baseline")).to_wire()
        return AnalysisRunSpec.model_validate({"metrics": [{**metric, "count": 1}]})

    good = await run_to_completion(spec("good-canary"), providers, VirtualClock(AT))
    bad = await run_to_completion(spec("bad-canary"), providers, VirtualClock(AT))
    assert (good.phase, bad.phase) == (AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED)
    assert (
        bad.message == 'Metric "error-rate-vs-baseline" assessed Failed due to failed (1) > failureLimit (0)'
    )


async def test_without_conditions_the_verdict_is_the_phase(providers: Providers, address: str) -> None:
    bad = await providers.judge.measure(
        judge_metric(address, rate("bad-canary"), rate("baseline"), conditions=False), at=AT
    )
    assert bad.phase == AnalysisPhase.FAILED
    assert (bad.message or "").startswith("the canary is worse: p = ")
    # a service without traffic: no samples, inconclusive, never a pass
    idle = await providers.judge.measure(
        judge_metric(address, rate("idle"), rate("baseline"), conditions=False)
    )
    assert idle.phase == AnalysisPhase.INCONCLUSIVE
    assert idle.message == "too few samples: canary 0, baseline 21, minSamples 10"


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        (
            'judge_requests_total{service="baseline"}',
            "judge: the canary query returned 2 series; the judge compares one series per side: "
            "aggregate them (sum, avg, …)",
        ),
        ("sum(rate(judge_requests_total[1m]", "judge: the canary query failed: bad_data: "),
    ],
    ids=["several-series", "bad-promql"],
)
async def test_query_problems_are_errors(
    providers: Providers, address: str, canary: str, expected: str
) -> None:
    measurement = await providers.judge.measure(judge_metric(address, canary, rate("baseline")))
    assert measurement.phase == AnalysisPhase.ERROR
    assert (measurement.message or "").startswith(expected), measurement.message


async def test_a_prometheus_that_is_down_is_an_error(providers: Providers) -> None:
    down = unused_url()
    measurement = await providers.judge.measure(judge_metric(down, rate("good-canary"), rate("baseline")))
    assert measurement.phase == AnalysisPhase.ERROR
    assert (measurement.message or "").startswith(
        f"judge: the canary query failed: prometheus query failed at {down}"
    )


async def test_a_bad_configuration_is_an_error_naming_the_field(providers: Providers) -> None:
    metric = judge_metric("http://127.0.0.1:1", "c", "b", window="soon")
    measurement = await providers.judge.measure(metric)
    assert measurement.phase == AnalysisPhase.ERROR
    assert (measurement.message or "").startswith("judge: window: not a duration")
