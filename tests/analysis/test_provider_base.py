"""The provider contract's helpers: docs/semantics/analysis.md#prometheus-results value strings, Error measurements, value measurements assessed by the runner."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.models import AnalysisPhase, AnalysisRunSpec, Measurement, Metric
from analysis.providers.base import (
    BaseProvider,
    MetricProvider,
    error_measurement,
    format_sample,
    format_samples,
    value_measurement,
)
from analysis.runner import reconcile_run

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(10.0, "10", id="b3-integer-valued"),
        pytest.param(0.99, "0.99", id="b3-fraction"),
        pytest.param(float("nan"), "NaN", id="b3-nan"),
        pytest.param(float("inf"), "+Inf", id="b3-plus-inf"),
        pytest.param(float("-inf"), "-Inf", id="b3-minus-inf"),
        pytest.param(1e-7, "0.0000001", id="b3-small-no-exponent"),
        pytest.param(1e21, "1000000000000000000000", id="b3-large-no-exponent"),
        pytest.param(1.2345678901234568e25, "12345678901234568000000000", id="b3-shortest-digits"),
        pytest.param(0.1 + 0.2, "0.30000000000000004", id="b3-round-trip-digits"),
        pytest.param(-2.5, "-2.5", id="b3-negative"),
    ],
)
def test_format_sample(value: float, text: str) -> None:
    assert format_sample(value) == text


def test_format_samples() -> None:
    assert format_samples([]) == "[]"
    assert format_samples([11.0, 12.5, float("nan")]) == "[11,12.5,NaN]"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_sample_round_trips(value: float) -> None:
    text = format_sample(value)
    assert "e" not in text.lower()
    assert float(text) == value


def test_error_measurement() -> None:
    m = error_measurement("connection refused", started_at=T)
    assert (m.phase, m.message, m.finished_at) == (AnalysisPhase.ERROR, "connection refused", T)


class ValueProvider(BaseProvider):
    """A value-producing provider as the real ones are written: the value string and the parsed result, no
    phase; the runner assesses it."""

    kind = "web"

    def __init__(self, result: list[float]) -> None:
        self.result = result

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        return value_measurement(format_samples(self.result)).with_result(self.result)


async def test_an_unassessed_value_measurement_is_assessed_by_the_runner_and_keeps_its_result() -> None:
    spec = AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {"name": "m", "successCondition": "result[0] >= 0.99", "provider": {"web": {"url": "u"}}},
            ]
        }
    )
    step = await reconcile_run(spec, {"web": ValueProvider([0.995])}, T)
    ((_, ok),) = step.measurements
    assert (ok.phase, ok.value, ok.result, ok.finished_at) == (
        AnalysisPhase.SUCCESSFUL,
        "[0.995]",
        [0.995],
        T,
    )
    step = await reconcile_run(spec, {"web": ValueProvider([])}, T)
    ((_, empty),) = step.measurements
    assert empty.phase is AnalysisPhase.ERROR
    assert empty.message is not None and "no data returned from the metric provider" in empty.message


async def test_base_provider_defaults_satisfy_the_protocol() -> None:
    class P(BaseProvider):
        kind = "prometheus"

    provider = P()
    assert isinstance(provider, MetricProvider)
    m = error_measurement("x")
    metric = Metric.model_validate({"name": "m", "provider": {"prometheus": {"query": "q"}}})
    assert await provider.resume(metric, m) is m
    assert await provider.terminate(metric, m) is m
    assert provider.metadata(metric) is None


def test_value_measurement_is_a_validated_measurement_of_that_value() -> None:
    from analysis.models import Measurement
    from analysis.providers.base import value_measurement

    made, validated = value_measurement("[0.99]"), Measurement(value="[0.99]")
    assert made == validated
    assert (
        made.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True) == {"value": "[0.99]"}
    )
    assert not made.has_result
    assert made.with_result([0.99]).result == [0.99]
    assert not value_measurement("1").has_result  # the prototype's private state is not shared
