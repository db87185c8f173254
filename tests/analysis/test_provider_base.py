"""The provider contract's helpers: docs/semantics/analysis.md#prometheus-results value strings, Error measurements, measurements assessed from results."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.models import AnalysisPhase, Metric
from analysis.providers.base import (
    BaseProvider,
    MetricProvider,
    error_measurement,
    format_sample,
    format_samples,
    measurement_from_result,
)

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


def test_measurement_from_result_assesses_and_keeps_the_result() -> None:
    metric = Metric.model_validate(
        {"name": "m", "successCondition": "result[0] >= 0.99", "provider": {"web": {"url": "u"}}}
    )
    ok = measurement_from_result(metric, [0.995], "[0.995]", started_at=T)
    assert (ok.phase, ok.value, ok.result, ok.finished_at) == (
        AnalysisPhase.SUCCESSFUL,
        "[0.995]",
        [0.995],
        T,
    )
    empty = measurement_from_result(metric, [], "[]", started_at=T)
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
