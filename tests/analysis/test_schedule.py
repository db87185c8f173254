"""Scheduling (docs/semantics/analysis.md#analysis-scheduling): due measurements, error retry, initialDelay, count, wake-up time, retention, dry-run rules."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analysis.models import (
    AnalysisPhase,
    AnalysisRunStatus,
    DryRun,
    Measurement,
    MeasurementRetention,
    Metric,
    MetricResult,
    SpecError,
)
from analysis.schedule import (
    dry_run_metrics,
    due_tasks,
    next_wakeup,
    retention_limits,
    rule_matches,
    trim_measurements,
)

P = AnalysisPhase
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def metric(name: str = "m", **fields: Any) -> Metric:
    return Metric.model_validate({"name": name, "provider": {"prometheus": {"query": "q"}}, **fields})


def status(
    last: Measurement | None = None,
    *,
    count: int = 0,
    phase: AnalysisPhase = P.RUNNING,
    started: float | None = 0,
) -> AnalysisRunStatus:
    results = []
    if last is not None or count:
        results.append(MetricResult(name="m", phase=phase, count=count, measurements=[last] if last else []))
    return AnalysisRunStatus(started_at=None if started is None else s(started), metric_results=results)


def done(at: float, phase: AnalysisPhase = P.SUCCESSFUL) -> Measurement:
    return Measurement(phase=phase, started_at=s(at), finished_at=s(at))


@pytest.mark.parametrize(
    ("fields", "st", "now", "terminating", "due"),
    [
        pytest.param({}, status(), 0, False, True, id="b6-first-measurement-immediately"),
        pytest.param({"initialDelay": "30s"}, status(), 29, False, False, id="b6-initial-delay-not-yet"),
        pytest.param({"initialDelay": "30s"}, status(), 30, False, True, id="b6-initial-delay-elapsed"),
        pytest.param(
            {"initialDelay": "30s"},
            status(started=None),
            100,
            False,
            False,
            id="b6-initial-delay-needs-startedAt",
        ),
        pytest.param(
            {"interval": "1m"}, status(done(0), count=1), 59, False, False, id="b6-interval-not-elapsed"
        ),
        pytest.param({"interval": "1m"}, status(done(0), count=1), 61, False, True, id="b6-interval-elapsed"),
        pytest.param(
            {"interval": "5m"}, status(done(0, P.ERROR)), 9, False, False, id="b6-error-retry-10s-not-yet"
        ),
        pytest.param(
            {"interval": "5m"},
            status(done(0, P.ERROR)),
            11,
            False,
            True,
            id="b6-error-retry-10s-whatever-interval",
        ),
        pytest.param(
            {"interval": "1s"},
            status(done(0, P.ERROR)),
            5,
            False,
            False,
            id="b6-error-retry-10s-even-if-shorter",
        ),
        pytest.param(
            {"count": 2, "interval": "1m"}, status(done(0), count=2), 600, False, False, id="b6-count-reached"
        ),
        pytest.param(
            {}, status(done(0), count=1), 600, False, False, id="b6-effective-count-1-without-interval"
        ),
        pytest.param(
            {"count": 2, "interval": "1m"},
            status(done(0, P.ERROR), count=1),
            11,
            False,
            True,
            id="b6-errors-do-not-count",
        ),
        pytest.param(
            {"interval": "1m"},
            status(done(0), count=1, phase=P.FAILED),
            600,
            False,
            False,
            id="b6-completed-metric-skipped",
        ),
        pytest.param(
            {"interval": "1m"}, status(done(0), count=1), 600, True, False, id="b6-no-new-when-terminating"
        ),
        pytest.param({}, status(), 0, True, False, id="b6-no-first-when-terminating"),
    ],
)
def test_due_new_measurements(
    fields: dict[str, Any], st: AnalysisRunStatus, now: float, terminating: bool, due: bool
) -> None:
    tasks = due_tasks([metric(**fields)], st, terminating=terminating, now=s(now))
    assert bool(tasks) is due
    assert all(t.incomplete is None for t in tasks)


@pytest.mark.parametrize(
    ("resume_at", "now", "terminating", "due"),
    [
        pytest.param(None, 0, False, True, id="b6-in-flight-resumed"),
        pytest.param(30, 10, False, False, id="b6-in-flight-resumeAt-future"),
        pytest.param(30, 30, False, True, id="b6-in-flight-resumeAt-reached"),
        pytest.param(30, 10, True, True, id="b6-in-flight-terminated-even-before-resumeAt"),
    ],
)
def test_in_flight(resume_at: float | None, now: float, terminating: bool, due: bool) -> None:
    running = Measurement(
        phase=P.RUNNING, started_at=s(0), resume_at=None if resume_at is None else s(resume_at)
    )
    tasks = due_tasks([metric(interval="1m")], status(running), terminating=terminating, now=s(now))
    assert bool(tasks) is due
    assert all(t.incomplete is running for t in tasks)


@pytest.mark.parametrize(
    ("metrics", "st", "expected"),
    [
        pytest.param([metric(initialDelay="30s")], status(started=5), 35, id="b6-wake-initial-delay"),
        pytest.param([metric(interval="1m")], status(done(10), count=1), 70, id="b6-wake-interval"),
        pytest.param([metric(interval="5m")], status(done(10, P.ERROR)), 20, id="b6-wake-error-retry"),
        pytest.param(
            [metric(interval="1m")],
            status(Measurement(phase=P.RUNNING, started_at=s(0), resume_at=s(45))),
            45,
            id="b6-wake-resumeAt",
        ),
        pytest.param(
            [metric(interval="1m", count=1)], status(done(10), count=1), None, id="b6-no-wake-count-reached"
        ),
        pytest.param([metric()], status(), None, id="b6-no-wake-nothing-timed"),
        pytest.param(
            [metric("m", interval="1m"), metric("n", initialDelay="20s")],
            status(done(10), count=1),
            20,
            id="b6-wake-earliest-of-all",
        ),
    ],
)
def test_next_wakeup(metrics: list[Metric], st: AnalysisRunStatus, expected: float | None) -> None:
    assert next_wakeup(metrics, st, now=s(0)) == (None if expected is None else s(expected))


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        pytest.param("rate", "success-rate", True, id="a3-unanchored"),
        pytest.param("^rate$", "success-rate", False, id="a3-anchored-explicitly"),
        pytest.param(".*", "anything", True, id="a3-dot-star"),
        pytest.param("*", "anything", False, id="a3-bare-star-invalid-matches-nothing"),
        pytest.param("success-rate|latency", "p99-latency", True, id="a3-alternation"),
    ],
)
def test_rule_matches(pattern: str, name: str, matches: bool) -> None:
    assert rule_matches(pattern, name) is matches


def test_dry_run_rules() -> None:
    metrics = [metric("success-rate"), metric("p99-latency")]
    assert dry_run_metrics([DryRun(metric_name="rate")], metrics) == {"success-rate"}
    assert dry_run_metrics(None, metrics) == set()
    with pytest.raises(SpecError) as err:
        dry_run_metrics([DryRun(metric_name=".*"), DryRun(metric_name="*")], metrics)
    assert str(err.value) == "dryRun[1]: Rule didn't match any metric name(s)"


def test_retention_rules() -> None:
    metrics = [metric("success-rate"), metric("p99-latency")]
    rules = [
        MeasurementRetention(metric_name=".*", limit=5),
        MeasurementRetention(metric_name="latency", limit=20),
    ]
    assert retention_limits(rules, metrics) == {"success-rate": 5, "p99-latency": 20}
    with pytest.raises(SpecError, match=r"measurementRetention\[0\]: Rule didn't match any metric name\(s\)"):
        retention_limits([MeasurementRetention(metric_name="nope", limit=1)], metrics)


@pytest.mark.parametrize(
    ("limit", "kept"),
    [
        pytest.param(None, 10, id="b6-default-history-10"),
        pytest.param(0, 10, id="b6-limit-0-means-default"),
        pytest.param(3, 3, id="b6-retention-limit"),
        pytest.param(20, 15, id="b6-retention-limit-above-length"),
    ],
)
def test_trim(limit: int | None, kept: int) -> None:
    measurements = [done(i) for i in range(15)]
    st = AnalysisRunStatus(metric_results=[MetricResult(name="m", measurements=measurements)])
    trim_measurements(st, {} if limit is None else {"m": limit})
    assert st.metric_results is not None
    assert st.metric_results[0].measurements == measurements[-kept:]
