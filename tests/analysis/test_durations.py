"""Go duration parsing/formatting (used by docs/semantics/objects.md#analysis-objects interval/initialDelay and docs/semantics/analysis.md#analysis-scheduling scheduling)."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.durations import DurationError, format_go_duration, parse_go_duration, parse_go_duration_ns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0", timedelta(0), id="zero-without-unit"),
        pytest.param("1m30s", timedelta(seconds=90), id="compound"),
        pytest.param("1.5h", timedelta(minutes=90), id="fractional-hours"),
        pytest.param(".5s", timedelta(milliseconds=500), id="leading-dot"),
        pytest.param("1.s", timedelta(seconds=1), id="trailing-dot"),
        pytest.param("-250ms", -timedelta(milliseconds=250), id="negative"),
        pytest.param("+5s", timedelta(seconds=5), id="explicit-plus"),
        pytest.param("10us", timedelta(microseconds=10), id="us"),
        pytest.param("10µs", timedelta(microseconds=10), id="micro-sign"),
        pytest.param("10μs", timedelta(microseconds=10), id="greek-mu"),
        pytest.param("1500ns", timedelta(microseconds=1), id="ns-rounded-down"),
        pytest.param("2h45m", timedelta(hours=2, minutes=45), id="hours-minutes"),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", 'time: invalid duration ""', id="empty"),
        pytest.param("1", 'time: missing unit in duration "1"', id="missing-unit"),
        pytest.param("1d", 'time: unknown unit "d" in duration "1d"', id="unknown-unit"),
        pytest.param("abc", 'time: invalid duration "abc"', id="garbage"),
        pytest.param("-", 'time: invalid duration "-"', id="sign-only"),
        pytest.param("99999999999999h", 'time: invalid duration "99999999999999h"', id="overflow"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(DurationError) as err:
        parse_go_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(timedelta(0), "0s", id="zero"),
        pytest.param(timedelta(minutes=90), "1h30m0s", id="hours"),
        pytest.param(timedelta(seconds=90), "1m30s", id="minutes"),
        pytest.param(timedelta(milliseconds=1500), "1.5s", id="fraction"),
        pytest.param(timedelta(milliseconds=500), "500ms", id="millis"),
        pytest.param(timedelta(microseconds=2), "2µs", id="micros"),
        pytest.param(-timedelta(seconds=10), "-10s", id="negative"),
        pytest.param(7, "7ns", id="int-nanoseconds"),
    ],
)
def test_format(value: timedelta | int, expected: str) -> None:
    assert format_go_duration(value) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_parse_round_trip(ns: int) -> None:
    assert parse_go_duration_ns(format_go_duration(ns)) == ns
