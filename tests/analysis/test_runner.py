"""The runner (docs/semantics/analysis.md#metric-status–docs/semantics/analysis.md#analysis-args end to end): reconcile passes and whole runs on a virtual clock.

The providers here are small in-test implementations of the provider contract (analysis.providers.base),
answering from a function of the evaluation time: real Prometheus tests live with the Prometheus provider.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analysis.args import build_run_spec, dict_secret_resolver
from analysis.models import (
    AnalysisPhase,
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisRunStatus,
    AnalysisTemplate,
    Argument,
    Measurement,
    Metric,
)
from analysis.providers.base import BaseProvider, MetricProvider, error_measurement, format_samples
from analysis.runner import RunStep, VirtualClock, WallClock, reconcile_run, run_to_completion

P = AnalysisPhase
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class SeriesProvider(BaseProvider):
    """Answers `series(t)` for the instant t: a list of floats (a vector), or an Exception → Error."""

    def __init__(self, series: Callable[[datetime], Any], kind: str = "prometheus") -> None:
        self.kind = kind
        self.series = series
        self.calls: list[tuple[str, datetime | None]] = []

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        self.calls.append((metric.name, at))
        value = self.series(at or T0)
        if isinstance(value, Exception):
            return error_measurement(str(value))
        return Measurement(value=format_samples(value)).with_result(value)

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        prom = metric.provider.prometheus
        return {"ResolvedPrometheusQuery": prom.query or ""} if prom else None


def spec(*metrics: dict[str, Any], **extra: Any) -> AnalysisRunSpec:
    full = [{"provider": {"prometheus": {"query": "q"}}, **m} for m in metrics]
    return AnalysisRunSpec.model_validate({"metrics": full, **extra})


async def run(
    s: AnalysisRunSpec, providers: dict[str, MetricProvider], **kw: Any
) -> tuple[AnalysisRunStatus, list[RunStep]]:
    steps: list[RunStep] = []
    status = await run_to_completion(s, providers, VirtualClock(T0), on_step=steps.append, **kw)
    return status, steps


def seed_spec() -> AnalysisRunSpec:
    templates = [
        AnalysisTemplate.model_validate(yaml.safe_load((EXAMPLES / "istio-canary" / f).read_text()))
        for f in ("success-rate.yaml", "latency.yaml")
    ]
    return build_run_spec(templates, args=[Argument(name="service-name", value="api-server-canary")])


def seed_provider(degrade_after: float | None) -> SeriesProvider:
    """Success rate 0.995 and p99 120 ms; after `degrade_after` seconds the success rate drops to 0.9."""

    def series(t: datetime) -> list[float]:
        return [1.0]  # replaced per query below

    provider = SeriesProvider(series)

    async def measure(metric: Metric, *, at: datetime | None = None) -> Measurement:
        provider.calls.append((metric.name, at))
        elapsed = ((at or T0) - T0).total_seconds()
        if metric.name == "p99-latency":
            value = [120.0]
        else:
            value = [0.9] if degrade_after is not None and elapsed >= degrade_after else [0.995]
        return Measurement(value=format_samples(value)).with_result(value)

    provider.measure = measure  # type: ignore[method-assign]
    return provider


async def test_seed_replay_degrading_canary_fails_at_4th_failure() -> None:
    """Seed section 10: success-rate failureLimit 3 → Failed at the 4th failing measurement (docs/semantics/analysis.md#metric-status, docs/semantics/analysis.md#run-status)."""
    provider = seed_provider(degrade_after=120)
    status, _ = await run(seed_spec(), {"prometheus": provider}, until=at(3600))
    assert status.phase is P.FAILED
    assert status.message == 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    success = status.metric_result("success-rate")
    assert success is not None
    assert [m.value for m in success.measurements] == ["[0.995]"] * 2 + ["[0.9]"] * 4
    assert [m.finished_at for m in success.measurements] == [at(60 * i) for i in range(6)]
    assert status.completed_at == at(300)
    latency = status.metric_result("p99-latency")
    assert latency is not None and latency.phase is P.SUCCESSFUL  # terminated with the run
    assert status.run_summary is not None and status.run_summary.failed == 1
    assert (
        success.metadata is not None
        and 'service="api-server-canary"' in success.metadata["ResolvedPrometheusQuery"]
    )
    # replay: every query evaluated at its own instant
    assert [t for name, t in provider.calls if name == "success-rate"] == [at(60 * i) for i in range(6)]


async def test_seed_replay_healthy_canary_is_successful_when_window_ends() -> None:
    status, _ = await run(seed_spec(), {"prometheus": seed_provider(None)}, until=at(600))
    assert status.phase is P.SUCCESSFUL
    assert status.message == "Run Terminated"
    result = status.metric_result("success-rate")
    assert (
        result is not None and result.count == 11 and len(result.measurements) == 10
    )  # docs/semantics/analysis.md#analysis-scheduling history of 10
    assert status.completed_at == at(600)


async def test_count_metric_completes_successfully() -> None:
    """The seed's smoke-tests shape: count 3, interval 5s → Successful after the 3rd measurement."""
    s = spec({"name": "smoke", "count": 3, "interval": "5s", "successCondition": "result[0] == 1"})
    status, steps = await run(s, {"prometheus": SeriesProvider(lambda t: [1.0])})
    assert status.phase is P.SUCCESSFUL and status.message is None
    assert status.started_at == T0 and status.completed_at == at(10)
    assert [st.next_wakeup for st in steps] == [at(5), at(10), None]


async def test_errors_retry_every_10s_and_fail_on_5th_consecutive() -> None:
    """docs/semantics/analysis.md#metric-status/docs/semantics/analysis.md#analysis-scheduling: errors do not count, are retried after 10 s whatever the interval, 5th consecutive → Error."""
    s = spec({"name": "m", "interval": "5m", "successCondition": "result[0] > 0"})
    status, _ = await run(s, {"prometheus": SeriesProvider(lambda t: ConnectionError("connection refused"))})
    result = status.metric_result("m")
    assert result is not None
    assert [m.finished_at for m in result.measurements] == [at(10 * i) for i in range(5)]
    assert (result.count, result.error, result.consecutive_error) == (0, 5, 5)
    assert status.phase is P.ERROR
    assert status.message == (
        'Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        '"Error Message: connection refused"'
    )


async def test_empty_result_is_an_error_measurement_with_no_data_wording() -> None:
    s = spec({"name": "m", "successCondition": "result[0] >= 0.95", "consecutiveErrorLimit": 0})
    status, _ = await run(s, {"prometheus": SeriesProvider(lambda t: [])})
    result = status.metric_result("m")
    assert result is not None
    assert result.measurements[0].message == (
        'could not evaluate successCondition "result[0] >= 0.95": metric result is nil or empty: '
        "no data returned from the metric provider"
    )
    assert status.phase is P.ERROR


async def test_measurements_are_concurrent() -> None:
    """docs/semantics/analysis.md#analysis-scheduling: all due measurements of one reconcile run at once (each waits until both are in flight)."""
    in_flight = 0
    both = asyncio.Event()

    class Barrier(BaseProvider):
        kind = "prometheus"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            nonlocal in_flight
            in_flight += 1
            if in_flight == 2:
                both.set()
            await asyncio.wait_for(both.wait(), timeout=5)
            return Measurement().with_result([1.0])

    step = await reconcile_run(spec({"name": "a"}, {"name": "b"}), {"prometheus": Barrier()}, T0)
    assert step.status.phase is P.SUCCESSFUL


async def test_in_flight_measurement_is_terminated_when_another_metric_fails() -> None:
    """docs/semantics/analysis.md#run-status: the run stays Running one reconcile, then terminates the in-flight job and finishes Failed."""

    class SlowJob(BaseProvider):
        kind = "job"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            return Measurement(phase=P.RUNNING, resume_at=at_(3600))

        async def terminate(self, metric: Metric, measurement: Measurement) -> Measurement:
            measurement.phase = P.SUCCESSFUL
            return measurement

    def at_(seconds: float) -> datetime:
        return at(seconds)

    s = AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {"name": "fails", "successCondition": "false", "provider": {"prometheus": {"query": "q"}}},
                {"name": "job", "provider": {"job": {"spec": {"template": {}}}}},
            ]
        }
    )
    status, steps = await run(s, {"prometheus": SeriesProvider(lambda t: [1.0]), "job": SlowJob()})
    assert steps[0].status.phase is P.RUNNING and steps[0].next_wakeup == T0
    assert status.phase is P.FAILED
    job = status.metric_result("job")
    assert job is not None and job.measurements[0].message == "Metric Terminated"
    assert job.measurements[0].finished_at == T0


async def test_async_provider_resumed_at_resume_at() -> None:
    class Job(BaseProvider):
        kind = "job"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            return Measurement(phase=P.RUNNING, resume_at=(at or T0) + timedelta(seconds=30))

        async def resume(self, metric: Metric, measurement: Measurement) -> Measurement:
            measurement.phase = P.SUCCESSFUL
            return measurement

    s = AnalysisRunSpec.model_validate({"metrics": [{"name": "j", "provider": {"job": {"spec": {}}}}]})
    status, steps = await run(s, {"job": Job()})
    assert status.phase is P.SUCCESSFUL
    assert steps[0].next_wakeup == at(30)
    j = status.metric_result("j")
    assert j is not None and j.measurements[0].started_at == T0 and j.measurements[0].finished_at == at(30)


async def test_initial_delay() -> None:
    s = spec({"name": "m", "initialDelay": "90s"})
    provider = SeriesProvider(lambda t: [1.0])
    status, steps = await run(s, {"prometheus": provider})
    assert steps[0].status.phase is P.RUNNING and steps[0].next_wakeup == at(90)
    assert provider.calls == [("m", at(90))]
    assert status.phase is P.SUCCESSFUL


async def test_terminate_request() -> None:
    """`terminate` works like spec.terminate: in-flight metrics end, the run is Successful "Run Terminated"."""
    calls = 0

    def stop() -> bool:
        return calls >= 3

    def series(t: datetime) -> list[float]:
        nonlocal calls
        calls += 1
        return [1.0]

    status, _ = await run(
        spec({"name": "m", "interval": "1m"}), {"prometheus": SeriesProvider(series)}, terminate=stop
    )
    assert (status.phase, status.message) == (P.SUCCESSFUL, "Run Terminated")
    assert calls == 3


async def test_terminate_event_interrupts_a_real_sleep() -> None:
    event = asyncio.Event()
    measured = asyncio.Event()

    def series(t: datetime) -> list[float]:
        measured.set()
        return [1.0]

    task = asyncio.create_task(
        run_to_completion(
            spec({"name": "m", "interval": "1h"}),
            {"prometheus": SeriesProvider(series)},
            WallClock(),
            terminate=event,
        )
    )
    await asyncio.wait_for(measured.wait(), timeout=5)  # the run is now sleeping for an hour
    event.set()
    status = await asyncio.wait_for(task, timeout=5)
    assert status.phase is P.SUCCESSFUL and status.message == "Run Terminated"


@pytest.mark.parametrize(
    ("s", "message"),
    [
        pytest.param(
            spec({"name": "m", "successCondition": "result[0] > {{args.min}}"}, args=[{"name": "min"}]),
            'Unable to resolve metric arguments: argument "min" was not supplied',
            id="b5-b7-unsupplied-argument",
        ),
        pytest.param(
            spec({"name": "m", "provider": {"prometheus": {"query": "{{args.nope}}"}}}),
            "Unable to resolve metric arguments: failed to resolve {{args.nope}}",
            id="b5-b7-unknown-tag",
        ),
        pytest.param(
            spec({"name": "m", "failureLimit": -2}),
            "Analysis spec invalid: metrics[0]: failureLimit must be >= 0, or -1 to be disabled",
            id="b5-b8-invalid-limit",
        ),
        pytest.param(
            spec({"name": "m", "interval": "{{args.i}}"}, args=[{"name": "i", "value": "5d"}]),
            'Analysis spec invalid: metrics[0]: invalid interval string: time: unknown unit "d" in duration "5d"',
            id="b5-b8-bad-interval-after-substitution",
        ),
        pytest.param(
            spec({"name": "m"}, dryRun=[{"metricName": "*"}]),
            "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)",
            id="b5-a3-dry-run-rule-matches-nothing",
        ),
        pytest.param(
            spec(
                {"name": "m", "provider": {"prometheus": {"query": "{{args.pw}}"}}},
                args=[{"name": "pw", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k"}}}],
            ),
            'Unable to resolve metric arguments: secrets "missing" not found',
            id="b7-secret-not-found",
        ),
    ],
)
async def test_whole_run_errors(s: AnalysisRunSpec, message: str) -> None:
    step = await reconcile_run(
        s, {"prometheus": SeriesProvider(lambda t: [1.0])}, T0, dict_secret_resolver({})
    )
    assert (step.status.phase, step.status.message, step.next_wakeup) == (P.ERROR, message, None)
    assert step.status.completed_at == T0


async def test_secrets_resolved_and_redacted_everywhere() -> None:
    class Echo(BaseProvider):
        kind = "prometheus"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            assert metric.provider.prometheus is not None
            query = metric.provider.prometheus.query or ""
            return error_measurement(f"401 for query {query}", metadata={"query": query})

        def metadata(self, metric: Metric) -> dict[str, str] | None:
            assert metric.provider.prometheus is not None
            return {"ResolvedPrometheusQuery": metric.provider.prometheus.query or ""}

    s = spec(
        {
            "name": "m",
            "consecutiveErrorLimit": 0,
            "provider": {"prometheus": {"query": "up{token='{{args.t}}'}"}},
        },
        args=[{"name": "t", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}],
    )
    step = await reconcile_run(
        s, {"prometheus": Echo()}, T0, dict_secret_resolver({"s": {"token": "s3cr3t"}})
    )
    dumped = step.status.model_dump_json()
    assert "s3cr3t" not in dumped
    assert step.status.message is not None and "up{token='*****'}" in step.status.message


async def test_unassessed_measurement_gets_phase_from_conditions_and_provider_crash_is_error() -> None:
    class Crashing(BaseProvider):
        kind = "web"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            raise RuntimeError("boom")

    s = AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {
                    "name": "p",
                    "successCondition": "result[0] < 0",
                    "provider": {"prometheus": {"query": "q"}},
                },
                {"name": "w", "consecutiveErrorLimit": 0, "provider": {"web": {"url": "http://x"}}},
                {
                    "name": "d",
                    "consecutiveErrorLimit": 0,
                    "provider": {"plugin": {"acme/metrics": {"q": "x"}}},
                },
            ]
        }
    )
    step = await reconcile_run(s, {"prometheus": SeriesProvider(lambda t: [1.0]), "web": Crashing()}, T0)
    messages = {name: (m.phase, m.message) for name, m in step.measurements}
    assert messages["p"] == (P.FAILED, None)
    assert messages["w"] == (P.ERROR, "boom")
    assert messages["d"] == (
        P.ERROR,
        "the plugin/acme/metrics metric provider is not supported yet (supported: prometheus, web, job, datadog, newRelic, cloudWatch, graphit"
        "e, influxdb, wavefront, skywalking, kayenta, plugin/rollouts/judge)",
    )


async def test_reconcile_does_not_mutate_its_input_and_completed_runs_are_left_alone() -> None:
    run_obj = AnalysisRun(spec=spec({"name": "m"}))
    step = await reconcile_run(run_obj, {"prometheus": SeriesProvider(lambda t: [1.0])}, T0)
    assert run_obj.status is None
    assert step.status.phase is P.SUCCESSFUL
    again = await reconcile_run(run_obj.model_copy(update={"status": step.status}), {}, at(100))
    assert again.status == step.status and again.next_wakeup is None


async def test_dry_run_metric_does_not_fail_the_run() -> None:
    s = spec({"name": "bad", "successCondition": "false"}, {"name": "good"}, dryRun=[{"metricName": "bad"}])
    status, _ = await run(s, {"prometheus": SeriesProvider(lambda t: [1.0])})
    assert status.phase is P.SUCCESSFUL
    bad = status.metric_result("bad")
    assert bad is not None and bad.dry_run is True and bad.phase is P.FAILED
    assert status.dry_run_summary is not None and status.dry_run_summary.failed == 1


async def test_measurement_retention_limit() -> None:
    s = spec(
        {"name": "m", "interval": "1s", "count": 30}, measurementRetention=[{"metricName": "m", "limit": 25}]
    )
    status, _ = await run(s, {"prometheus": SeriesProvider(lambda t: [1.0])})
    result = status.metric_result("m")
    assert result is not None and result.count == 30 and len(result.measurements) == 25


async def test_status_round_trips_through_the_wire_between_reconciles() -> None:
    """A controller stores status in the API server: reconciling from the wire form gives the same outcome."""
    s = spec(
        {"name": "m", "interval": "1m", "count": 3, "failureLimit": 1, "successCondition": "result[0] > 0.5"}
    )
    values = iter([[0.1], [0.9], [0.1]])
    provider = SeriesProvider(lambda t: next(values))
    status = AnalysisRunStatus()
    now = T0
    for _ in range(10):
        step = await reconcile_run(s, {"prometheus": provider}, now, status=status, replay=True)
        status = AnalysisRunStatus.model_validate(step.status.to_wire())
        if step.next_wakeup is None:
            break
        now = step.next_wakeup
    assert status.phase is P.FAILED
    assert status.message == 'Metric "m" assessed Failed due to failed (2) > failureLimit (1)'


async def test_terminate_completes_the_run_even_if_a_measurement_cannot_be_stopped() -> None:
    """docs/semantics/analysis.md#run-status: a terminating run takes the worst completed phase at once, whatever is still in flight."""

    class Stubborn(BaseProvider):
        kind = "job"

        async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
            return Measurement(phase=P.RUNNING, resume_at=(at or T0) + timedelta(seconds=30))

    s = AnalysisRunSpec.model_validate({"metrics": [{"name": "j", "provider": {"job": {"spec": {}}}}]})
    first = await reconcile_run(s, {"job": Stubborn()}, T0, replay=True)
    assert (first.status.phase, first.next_wakeup) == (P.RUNNING, at(30))
    terminated = s.model_copy(update={"terminate": True})
    second = await reconcile_run(terminated, {"job": Stubborn()}, at(1), status=first.status, replay=True)
    assert (second.status.phase, second.status.message, second.next_wakeup) == (
        P.SUCCESSFUL,
        "Run Terminated",
        None,
    )


async def test_a_pass_leaves_the_previous_status_untouched() -> None:
    """reconcile_run shares recorded measurements with its input but never changes the input."""
    s = spec(
        {
            "name": "m",
            "interval": "1m",
            "count": 12,
            "failureLimit": 12,
            "successCondition": "result[0] > 0.5",
        }
    )
    provider = SeriesProvider(lambda t: [0.1])
    status = AnalysisRunStatus()
    for i in range(12):
        before = status.model_dump()
        step = await reconcile_run(s, {"prometheus": provider}, at(60 * i), status=status, replay=True)
        assert status.model_dump() == before
        status = step.status
    result = status.metric_result("m")
    assert result is not None and result.count == 12 and len(result.measurements) == 10


@given(
    outcomes=st.lists(st.sampled_from("SFE"), min_size=40, max_size=40),
    count=st.integers(1, 8),
    failure_limit=st.integers(0, 3),
    error_limit=st.integers(0, 3),
)
@settings(max_examples=60, deadline=None)
def test_whole_run_matches_a_reference_model(
    outcomes: list[str], count: int, failure_limit: int, error_limit: int
) -> None:
    """docs/semantics/analysis.md#metric-status/docs/semantics/analysis.md#analysis-scheduling end to end: verdict, measurement instants and counters agree with a direct reading of the rules."""
    assume(
        count >= failure_limit
    )  # docs/semantics/analysis.md#metric-validation: otherwise the spec is invalid
    # the reference: walk the outcomes until a limit or the count decides
    expected_phase, expected_times, t = None, [], 0
    failed = consecutive_errors = counted = 0
    for outcome in outcomes:
        expected_times.append(at(t))
        if outcome == "E":
            consecutive_errors += 1
        else:
            consecutive_errors = 0
            counted += 1
            failed += outcome == "F"
        if consecutive_errors > error_limit:
            expected_phase = P.ERROR
        elif failed > failure_limit:
            expected_phase = P.FAILED
        elif counted >= count:
            expected_phase = P.SUCCESSFUL
        if expected_phase is not None:
            break
        t += 10 if outcome == "E" else 60
    assume(expected_phase is not None)

    sequence = iter(outcomes)

    def series(_: datetime) -> Any:
        outcome = next(sequence)
        return ConnectionError("down") if outcome == "E" else ([1.0] if outcome == "S" else [0.0])

    s = spec(
        {
            "name": "m",
            "interval": "60s",
            "count": count,
            "failureLimit": failure_limit,
            "consecutiveErrorLimit": error_limit,
            "successCondition": "result[0] == 1",
        },
        measurementRetention=[{"metricName": "m", "limit": 50}],
    )
    status = asyncio.run(run_to_completion(s, {"prometheus": SeriesProvider(series)}, VirtualClock(T0)))
    result = status.metric_result("m")
    assert result is not None
    assert status.phase is expected_phase
    assert [m.finished_at for m in result.measurements] == expected_times
    assert result.count == counted and result.failed == failed


async def test_cancelled_run_leaves_no_task_behind() -> None:
    """The terminate watcher belongs to the run: cancelling the run (controller shutdown) ends it too."""
    measured = asyncio.Event()

    def series(t: datetime) -> list[float]:
        measured.set()
        return [1.0]

    before = asyncio.all_tasks()
    task = asyncio.create_task(
        run_to_completion(
            spec({"name": "m", "interval": "1h"}),
            {"prometheus": SeriesProvider(series)},
            WallClock(),
            terminate=asyncio.Event(),
        )
    )
    await asyncio.wait_for(measured.wait(), timeout=5)
    await asyncio.sleep(0)  # the run is now sleeping, its watcher waiting on the event
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == before


async def test_terminate_event_with_a_virtual_clock_stops_at_until() -> None:
    """A replay that sleeps on a virtual clock with an Event: `until` still terminates it there (docs/semantics/analysis.md#analysis-scheduling)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = VirtualClock(start)
    status = await run_to_completion(
        spec({"name": "m", "interval": "1m"}),
        {"prometheus": SeriesProvider(lambda t: [1.0])},
        clock,
        terminate=asyncio.Event(),
        until=start + timedelta(minutes=5),
    )
    assert status.phase is P.SUCCESSFUL and status.message == "Run Terminated"
    assert clock.now() == start + timedelta(minutes=5)
    (result,) = status.metric_results or []
    assert result.count == 6  # at 0, 1, …, 5 minutes


async def test_a_huge_answer_is_judged_whole_and_stored_cut() -> None:
    """A backend answer of megabytes: the condition sees all of it; the status keeps a bounded value, so the
    run's status stays writable (one Kubernetes object)."""
    from analysis.models import Measurement
    from analysis.runner import MAX_STORED_VALUE

    class Huge:
        kind = "web"

        async def measure(self, metric: Any, *, at: Any = None) -> Measurement:
            values = [0.5] * 400_000
            return Measurement(value=str(values)).with_result(values)

        async def resume(self, metric: Any, measurement: Measurement) -> Measurement:
            return measurement

        async def terminate(self, metric: Any, measurement: Measurement) -> Measurement:
            return measurement

        def metadata(self, metric: Any) -> None:
            return None

    s = spec(
        {"name": "w", "successCondition": "len(result) == 400000", "provider": {"web": {"url": "http://x"}}}
    )
    step = await reconcile_run(s, {"web": Huge()}, T0)
    ((_, m),) = step.measurements
    assert m.phase == P.SUCCESSFUL  # judged on the whole result
    assert m.value is not None and len(m.value) < MAX_STORED_VALUE + 100 and "(cut: 2" in m.value
