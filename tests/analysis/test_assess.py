"""Assessment (docs/semantics/analysis.md#measurement-assessment measurement, docs/semantics/analysis.md#metric-status metric, docs/semantics/analysis.md#run-status run), as tables; Hypothesis for the limit arithmetic."""

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.assess import (
    apply_run_phase,
    assess_metric,
    assess_run,
    evaluate_measurement,
    is_terminating,
    is_worse,
    limit_verdict,
    record_measurement,
)
from analysis.models import AnalysisPhase, AnalysisRunStatus, Measurement, Metric, MetricResult

P = AnalysisPhase
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAN = float("nan")


def metric(name: str = "m", **fields: Any) -> Metric:
    return Metric.model_validate({"name": name, "provider": {"prometheus": {"query": "q"}}, **fields})


def result(name: str = "m", phases: str = "", **counters: Any) -> MetricResult:
    """A result whose measurements have the given phases (S/F/I/E/R) and counters computed per docs/semantics/analysis.md#metric-status."""
    codes = {"S": P.SUCCESSFUL, "F": P.FAILED, "I": P.INCONCLUSIVE, "E": P.ERROR, "R": P.RUNNING}
    r = MetricResult(name=name, phase=counters.pop("phase", P.RUNNING))
    for code in phases:
        m = Measurement(phase=codes[code], finished_at=None if code == "R" else NOW)
        record_measurement(r, m)
        r.measurements.append(m)
    for k, v in counters.items():
        setattr(r, k, v)
    return r


# --- docs/semantics/analysis.md#measurement-assessment ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("success", "failure", "value", "phase"),
    [
        pytest.param(None, None, [1.0], P.SUCCESSFUL, id="b1-no-conditions-successful"),
        pytest.param(None, None, None, P.SUCCESSFUL, id="b1-no-conditions-nothing-evaluated"),
        pytest.param("result[0] > 1", None, [2.0], P.SUCCESSFUL, id="b1-success-only-true"),
        pytest.param("result[0] > 1", None, [0.0], P.FAILED, id="b1-success-only-false-fails"),
        pytest.param(None, "result[0] > 1", [2.0], P.FAILED, id="b1-failure-only-true"),
        pytest.param(None, "result[0] > 1", [0.0], P.SUCCESSFUL, id="b1-failure-only-false-succeeds"),
        pytest.param("result[0] > 1", "result[0] < 0", [0.5], P.INCONCLUSIVE, id="b1-neither-inconclusive"),
        pytest.param("result[0] > 1", "result[0] > 1", [2.0], P.FAILED, id="b1-failure-wins"),
        pytest.param("result >= 0.9", "result < 0.9", NAN, P.INCONCLUSIVE, id="b3-nan-both-inconclusive"),
        pytest.param("result >= 0.9", None, NAN, P.FAILED, id="b3-nan-success-only-failed"),
        pytest.param("result >= 0.9", None, float("inf"), P.SUCCESSFUL, id="b3-inf-successful"),
    ],
)
def test_evaluate_measurement(
    success: str | None, failure: str | None, value: Any, phase: AnalysisPhase
) -> None:
    m = metric(successCondition=success, failureCondition=failure)
    assert evaluate_measurement(m, value) == (phase, None)


@pytest.mark.parametrize(
    ("success", "failure", "value", "message"),
    [
        pytest.param(
            "result[0] >= 0.95",
            None,
            [],
            'could not evaluate successCondition "result[0] >= 0.95": metric result is nil or empty: '
            "no data returned from the metric provider",
            id="b1-empty-vector-no-data",
        ),
        pytest.param(
            None,
            "result > 1",
            None,
            'could not evaluate failureCondition "result > 1": metric result is nil or empty: '
            "no data returned from the metric provider",
            id="b1-nil-no-data-failure-condition",
        ),
        pytest.param(
            "result",
            None,
            1.0,
            'could not evaluate successCondition "result": expected bool, but got float64',
            id="b1-b2-not-bool",
        ),
        pytest.param(
            "resutl > 1",
            None,
            1.0,
            'could not evaluate successCondition "resutl > 1": unknown name resutl',
            id="b1-b2-unknown-name",
        ),
    ],
)
def test_evaluate_measurement_errors(
    success: str | None, failure: str | None, value: Any, message: str
) -> None:
    assert evaluate_measurement(metric(successCondition=success, failureCondition=failure), value) == (
        P.ERROR,
        message,
    )


# --- docs/semantics/analysis.md#metric-status ----------------------------------------------------------------------------------------


def test_counters() -> None:
    """docs/semantics/analysis.md#metric-status: Successful/Failed/Inconclusive count; Error does not and only touches the consecutive counters."""
    r = result(phases="SSEFIEES")
    assert (r.count, r.successful, r.failed, r.inconclusive, r.error) == (5, 3, 1, 1, 3)
    assert (r.consecutive_error, r.consecutive_success) == (0, 1)
    r = result(phases="SSEE")
    assert (r.count, r.consecutive_error, r.consecutive_success) == (2, 2, 0)
    r = result(phases="R")
    assert (r.count, r.error) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "phases", "terminating", "expected"),
    [
        pytest.param({}, "", False, P.PENDING, id="b4-no-measurements-pending"),
        pytest.param({}, "", True, P.SUCCESSFUL, id="b4-no-measurements-terminating-successful"),
        pytest.param({}, "R", True, P.RUNNING, id="b4-in-flight-running-even-terminating"),
        pytest.param({}, "F", False, P.FAILED, id="b4-failureLimit-default-0-first-failure"),
        pytest.param(
            {"failureLimit": 3, "interval": "1m"}, "FFF", False, P.RUNNING, id="b4-failureLimit-strict-gt"
        ),
        pytest.param(
            {"failureLimit": 3, "interval": "1m"}, "FFFF", False, P.FAILED, id="b4-failureLimit-exceeded"
        ),
        pytest.param(
            {"failureLimit": -1, "consecutiveSuccessLimit": 1, "interval": "1m"},
            "FFFFFF",
            False,
            P.RUNNING,
            id="b4-failureLimit-disabled",
        ),
        pytest.param({}, "I", False, P.INCONCLUSIVE, id="b4-inconclusiveLimit-default-0"),
        pytest.param(
            {"inconclusiveLimit": 2, "interval": "1m"}, "II", False, P.RUNNING, id="b4-inconclusive-strict-gt"
        ),
        pytest.param({"interval": "1m"}, "EEEE", False, P.RUNNING, id="b4-consecutiveErrorLimit-default-4"),
        pytest.param({"interval": "1m"}, "EEEEE", False, P.ERROR, id="b4-consecutiveErrorLimit-5th-error"),
        pytest.param(
            {"consecutiveErrorLimit": 0}, "E", False, P.ERROR, id="b4-consecutiveErrorLimit-0-first-error"
        ),
        pytest.param(
            {"interval": "1m"}, "EEEESEEEE", False, P.RUNNING, id="b4-success-resets-consecutive-errors"
        ),
        pytest.param(
            {"failureLimit": 5, "inconclusiveLimit": 0, "interval": "1m"},
            "FI",
            False,
            P.INCONCLUSIVE,
            id="b4-priority-inconclusive-over-failed",
        ),
        pytest.param({"interval": "1m"}, "FEEEEE", False, P.ERROR, id="b4-priority-error-over-failed"),
        pytest.param(
            {"consecutiveSuccessLimit": 2, "interval": "1m"},
            "SS",
            False,
            P.SUCCESSFUL,
            id="b4-consecutiveSuccessLimit-reached",
        ),
        pytest.param(
            {"consecutiveSuccessLimit": 2, "failureLimit": 2, "interval": "1m"},
            "SFS",
            False,
            P.RUNNING,
            id="b4-consecutiveSuccess-reset-by-failure",
        ),
        pytest.param(
            {"count": 3, "interval": "1m", "failureLimit": 1, "consecutiveSuccessLimit": 2},
            "SFS",
            False,
            P.INCONCLUSIVE,
            id="b4-count-reached-success-limit-not-failure-applicable-inconclusive",
        ),
        pytest.param(
            {"count": 3, "interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": 2},
            "SFS",
            False,
            P.FAILED,
            id="b4-count-reached-success-limit-not-failure-disabled-failed",
        ),
        pytest.param(
            {"count": 3, "interval": "1m", "failureLimit": 1},
            "SFS",
            False,
            P.SUCCESSFUL,
            id="b4-count-reached-tolerated-failures-successful",
        ),
        pytest.param(
            {"count": 2, "interval": "1m"}, "SEES", False, P.SUCCESSFUL, id="b4-errors-do-not-count"
        ),
        pytest.param({"count": 2, "interval": "1m"}, "SEE", False, P.RUNNING, id="b4-count-not-reached"),
        pytest.param({}, "S", False, P.SUCCESSFUL, id="b4-no-count-no-interval-once"),
        pytest.param({"interval": "1m"}, "SSSS", False, P.RUNNING, id="b4-indefinite-running"),
        pytest.param(
            {"interval": "1m"}, "SSSS", True, P.SUCCESSFUL, id="b4-indefinite-terminating-successful"
        ),
    ],
)
def test_assess_metric(
    fields: dict[str, Any], phases: str, terminating: bool, expected: AnalysisPhase
) -> None:
    assert assess_metric(metric(**fields), result(phases=phases), terminating) is expected


def test_assess_metric_phase_is_sticky() -> None:
    assert (
        assess_metric(metric(), result(phases="SSSS", phase=P.FAILED), False) is P.FAILED
    )  # docs/semantics/analysis.md#metric-status rule 1


@pytest.mark.parametrize(
    ("fields", "phases", "message"),
    [
        pytest.param({"failureLimit": 3}, "FFFF", "failed (4) > failureLimit (3)", id="b4-failed-message"),
        pytest.param(
            {"inconclusiveLimit": 1},
            "II",
            "inconclusive (2) > inconclusiveLimit (1)",
            id="b4-inconclusive-message",
        ),
        pytest.param({}, "EEEEE", "consecutiveErrors (5) > consecutiveErrorLimit (4)", id="b4-error-message"),
        pytest.param({}, "S", "", id="b4-no-limit-no-message"),
    ],
)
def test_limit_messages(fields: dict[str, Any], phases: str, message: str) -> None:
    assert limit_verdict(metric(**fields), result(phases=phases))[1] == message


@given(
    failed=st.integers(0, 20),
    limit=st.integers(0, 20),
    successes=st.integers(0, 20),
)
def test_failure_limit_arithmetic(failed: int, limit: int, successes: int) -> None:
    """docs/semantics/analysis.md#metric-status: with other limits out of the way, an indefinite metric is Failed iff failed > failureLimit."""
    m = metric(failureLimit=limit, interval="1m", inconclusiveLimit=100, consecutiveErrorLimit=100)
    r = result(phases="S" * successes + "F" * failed)
    phase = assess_metric(m, r, terminating=False)
    assert (phase is P.FAILED) == (failed > limit)
    if phase is not P.FAILED:
        assert phase is (P.RUNNING if successes + failed else P.PENDING)


@given(errors=st.integers(0, 12), limit=st.integers(0, 10), count=st.integers(1, 10))
def test_error_limit_arithmetic(errors: int, limit: int, count: int) -> None:
    """docs/semantics/analysis.md#metric-status: Error iff consecutiveError > consecutiveErrorLimit; errors never advance `count`."""
    m = metric(consecutiveErrorLimit=limit, count=count, interval="1m")
    r = result(phases="E" * errors)
    phase = assess_metric(m, r, terminating=False)
    assert r.count == 0
    assert (phase is P.ERROR) == (errors > limit)


@given(st.lists(st.sampled_from("SFIE"), max_size=30))
def test_counter_invariants(phases: list[str]) -> None:
    """docs/semantics/analysis.md#metric-status: count = successful + failed + inconclusive; consecutive counters are suffix lengths."""
    r = result(phases="".join(phases))
    assert r.count == r.successful + r.failed + r.inconclusive
    assert r.error == phases.count("E")
    text = "".join(phases)
    assert r.consecutive_error == len(text) - len(text.rstrip("E"))
    assert r.consecutive_success == len(text) - len(text.rstrip("S"))


# --- docs/semantics/analysis.md#run-status ----------------------------------------------------------------------------------------


def test_is_worse_order() -> None:
    order = [P.SUCCESSFUL, P.RUNNING, P.PENDING, P.INCONCLUSIVE, P.ERROR, P.FAILED]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert is_worse(a, b) == (j > i)


def run_status(*results: MetricResult) -> AnalysisRunStatus:
    return AnalysisRunStatus(metric_results=list(results))


@pytest.mark.parametrize(
    ("results", "terminate", "dry", "phase", "message"),
    [
        pytest.param(
            [result("a", "S"), result("b", "S")], False, (), P.SUCCESSFUL, "", id="b5-all-successful"
        ),
        pytest.param([result("a", "S"), result("b", "R")], False, (), P.RUNNING, "", id="b5-one-running"),
        pytest.param([result("a", "S")], False, (), P.RUNNING, "", id="b5-metric-not-started-is-running"),
        pytest.param(
            [result("a", "F"), result("b", "S")],
            False,
            (),
            P.FAILED,
            'Metric "a" assessed Failed due to failed (1) > failureLimit (0)',
            id="b5-worst-failed",
        ),
        pytest.param(
            [result("a", "I"), result("b", "F")],
            False,
            (),
            P.FAILED,
            'Metric "b" assessed Failed due to failed (1) > failureLimit (0)',
            id="b5-failed-worse-than-inconclusive",
        ),
        pytest.param(
            [result("a", "EEEEE"), result("b", "I")],
            False,
            (),
            P.ERROR,
            'Metric "a" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)',
            id="b5-error-worse-than-inconclusive",
        ),
        pytest.param(
            [result("a", "F"), result("b", "S")],
            False,
            ("a",),
            P.SUCCESSFUL,
            "",
            id="b5-dry-run-failure-ignored",
        ),
        pytest.param(
            [result("a", "F"), result("b", "F")],
            False,
            ("a", "b"),
            P.SUCCESSFUL,
            "",
            id="b5-all-dry-run-successful",
        ),
        pytest.param([], True, (), P.SUCCESSFUL, "Run Terminated", id="b5-terminated-before-any-measurement"),
        pytest.param(
            [result("a", "S"), result("b", "S")],
            True,
            (),
            P.SUCCESSFUL,
            "Run Terminated",
            id="b5-terminate-indefinite",
        ),
    ],
)
def test_assess_run(
    results: list[MetricResult], terminate: bool, dry: tuple[str, ...], phase: AnalysisPhase, message: str
) -> None:
    metrics = [
        metric("a", interval="1m" if terminate else None),
        metric("b", interval="1m" if terminate else None),
    ]
    status = run_status(*results)
    for r in status.metric_results or []:
        r.dry_run = r.name in dry or None
    terminating = is_terminating(terminate, status)
    assert assess_run(
        metrics, status, terminate=terminate, dry_run=set(dry), terminating=terminating, now=NOW
    ) == (
        phase,
        message,
    )
    assert status.started_at == NOW


def test_run_message_includes_last_measurement_error() -> None:
    """docs/semantics/analysis.md#run-status: ``…: "Error Message: <last measurement message>"``."""
    r = result("a", "EEEEE")
    r.measurements[-1].message = "connection refused"
    status = run_status(r)
    phase, message = assess_run(
        [metric("a", interval="1m")], status, terminate=False, dry_run=set(), terminating=False, now=NOW
    )
    assert phase is P.ERROR
    assert message == (
        'Metric "a" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        '"Error Message: connection refused"'
    )
    assert status.metric_results is not None and status.metric_results[0].message == "connection refused"


def test_seed_message_failed_4_of_limit_3() -> None:
    m = metric("success-rate", failureLimit=3, interval="60s", successCondition="result[0] >= 0.99")
    status = run_status(result("success-rate", "SFFFF"))
    phase, message = assess_run([m], status, terminate=False, dry_run=set(), terminating=False, now=NOW)
    assert (phase, message) == (
        P.FAILED,
        'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)',
    )


def test_summaries_and_dry_run_message() -> None:
    metrics = [metric("a"), metric("b"), metric("c")]
    status = run_status(result("a", "S"), result("b", "F"), result("c", "I"))
    status.metric_results[1].dry_run = True  # type: ignore[index]
    assess_run(metrics, status, terminate=False, dry_run={"b"}, terminating=False, now=NOW)
    assert status.run_summary is not None and status.dry_run_summary is not None
    assert (status.run_summary.count, status.run_summary.successful, status.run_summary.inconclusive) == (
        2,
        1,
        1,
    )
    assert (status.dry_run_summary.count, status.dry_run_summary.failed) == (1, 1)
    assert status.metric_results[1].message == "Metric assessed Failed due to failed (1) > failureLimit (0)"  # type: ignore[index]


def test_terminating_uses_phases_before_this_reconcile() -> None:
    """docs/semantics/analysis.md#run-status: a metric that just failed while another is in flight leaves the run Running for one reconcile."""
    metrics = [metric("a"), metric("b", interval="1m")]
    status = run_status(result("a", "F"), result("b", "R"))
    assert not is_terminating(False, status)
    phase, _ = assess_run(metrics, status, terminate=False, dry_run=set(), terminating=False, now=NOW)
    assert phase is P.RUNNING
    assert is_terminating(False, status)  # next reconcile terminates


def test_is_terminating_ignores_dry_run_results() -> None:
    r = result("a", "F", phase=P.FAILED)
    assert is_terminating(False, run_status(r))
    r.dry_run = True
    assert not is_terminating(False, run_status(r))
    assert is_terminating(True, run_status())


def test_apply_run_phase_sets_completed_at_once() -> None:
    status = AnalysisRunStatus()
    apply_run_phase(status, P.RUNNING, "", NOW)
    assert status.phase is P.RUNNING and status.completed_at is None and status.message is None
    apply_run_phase(status, P.FAILED, "bad", NOW)
    assert status.completed_at == NOW and status.message == "bad"
