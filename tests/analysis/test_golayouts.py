"""Go reference layouts (time.Parse semantics) and the time functions of conditions and range queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analysis.conditions import ConditionError, evaluate_condition
from analysis.golayouts import LayoutError, parse_layout, split_layout
from analysis.providers.timeexpr import evaluate_time


@pytest.mark.parametrize(
    ("layout", "value", "expected"),
    [
        pytest.param("2006-01-02 15:04:05", "2023-08-14 00:00:00", "2023-08-14T00:00:00+00:00", id="datetime"),
        pytest.param("2006-01-02T15:04:05Z07:00", "2023-08-14T10:00:00+02:00", "2023-08-14T10:00:00+02:00",
                     id="rfc3339-offset"),
        pytest.param("2006-01-02T15:04:05Z07:00", "2023-08-14T10:00:00Z", "2023-08-14T10:00:00+00:00",
                     id="rfc3339-z"),
        pytest.param("2006-01-02T15:04:05.999999999Z07:00", "2023-08-14T10:00:00.5Z",
                     "2023-08-14T10:00:00.500000+00:00", id="rfc3339nano"),
        pytest.param("2006-01-02 15:04:05.000", "2023-08-14 10:00:00.123", "2023-08-14T10:00:00.123000+00:00",
                     id="fixed-fraction"),
        pytest.param("2006-01-02 15:04:05,000", "2023-08-14 10:00:00,123", "2023-08-14T10:00:00.123000+00:00",
                     id="comma-fraction"),
        pytest.param("2006-01-02 15:04:05", "2023-08-14 10:00:00.25", "2023-08-14T10:00:00.250000+00:00",
                     id="fraction-without-layout-element"),
        pytest.param("2006-01-02 15:04:05.999", "2023-08-14 10:00:00", "2023-08-14T10:00:00+00:00",
                     id="optional-fraction-omitted"),
        pytest.param("Jan _2 2006 3:04PM", "Aug  4 2023 1:30PM", "2023-08-04T13:30:00+00:00", id="kitchen"),
        pytest.param("Jan 2 2006 3:04pm", "aug 4 2023 12:05am", "2023-08-04T00:05:00+00:00", id="midnight-am"),
        pytest.param("January 2, 2006", "August 14, 2023", "2023-08-14T00:00:00+00:00", id="long-month"),
        pytest.param("Monday, 02-Jan-06 15:04:05 MST", "Monday, 14-Aug-23 10:00:00 UTC",
                     "2023-08-14T10:00:00+00:00", id="rfc850"),
        pytest.param("02 Jan 06 15:04 -0700", "14 Aug 23 10:00 -0530", "2023-08-14T10:00:00-05:30", id="rfc822z"),
        pytest.param("2006-01-02 15:04:05 -07", "2023-08-14 10:00:00 +09", "2023-08-14T10:00:00+09:00",
                     id="hour-offset"),
        pytest.param("2006-002", "2023-226", "2023-08-14T00:00:00+00:00", id="day-of-year"),
        pytest.param("06-1-2", "69-1-2", "1969-01-02T00:00:00+00:00", id="two-digit-year-69"),
        pytest.param("06-1-2", "68-12-31", "2068-12-31T00:00:00+00:00", id="two-digit-year-68"),
        pytest.param("2006/01/02", "2024/02/29", "2024-02-29T00:00:00+00:00", id="leap-day"),
        pytest.param("2006-01-02  15:04", "2023-08-14 10:00", "2023-08-14T10:00:00+00:00", id="space-runs"),
    ],
)  # fmt: skip
def test_go_layouts(layout: str, value: str, expected: str) -> None:
    assert parse_layout(layout, value).isoformat() == expected


@pytest.mark.parametrize(
    ("layout", "value", "message"),
    [
        pytest.param("2006-01-02", "2023-13-01", 'parsing time "2023-13-01": month out of range', id="month"),
        pytest.param("2006-01-02", "2023-02-29", 'parsing time "2023-02-29": day out of range', id="not-leap"),
        pytest.param("2006-01-02", "2023-1-01",
                     'parsing time "2023-1-01" as "2006-01-02": cannot parse "1-01" as "01"', id="fixed-width"),
        pytest.param("2006-01-02", "2023-08-14x", 'parsing time "2023-08-14x": extra text: "x"', id="extra"),
        pytest.param("15:04", "24:00", 'parsing time "24:00": hour out of range', id="hour"),
        pytest.param("2006-01-02", "14/08/2023",
                     'parsing time "14/08/2023" as "2006-01-02": cannot parse "14/08/2023" as "2006"', id="year"),
        pytest.param("2006-01-02 15:04:05.000", "2023-08-14 10:00:00.12",
                     'parsing time "2023-08-14 10:00:00.12" as "2006-01-02 15:04:05.000": cannot parse ".12" as '
                     '".000"', id="fraction-digits"),
    ],
)  # fmt: skip
def test_go_layout_errors(layout: str, value: str, message: str) -> None:
    with pytest.raises(LayoutError) as err:
        parse_layout(layout, value)
    assert str(err.value) == message


def test_layout_elements_are_gos() -> None:
    assert split_layout("Mon Jan _2 15:04:05.000 MST 2006") == [
        (True, "Mon"), (False, " "), (True, "Jan"), (False, " "), (True, "_2"), (False, " "), (True, "15"),
        (False, ":"), (True, "04"), (False, ":"), (True, "05"), (True, ".000"), (False, " "), (True, "MST"),
        (False, " "), (True, "2006"),
    ]  # fmt: skip
    assert split_layout("T1.9x") == [(False, "T"), (True, "1"), (True, ".9"), (False, "x")]
    assert split_layout("v1.95") == [
        (False, "v"),
        (True, "1"),
        (False, ".9"),
        (True, "5"),
    ]  # .95 is no fraction


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param('date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "UTC")', "2023-08-14T00:00:00+00:00",
                     id="layout-and-utc"),
        pytest.param('date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "Europe/Paris")',
                     "2023-08-14T00:00:00+02:00", id="layout-and-location"),
        pytest.param('date(timezone("Asia/Tokyo"), "2023-08-14 09:00:00")', "2023-08-14T09:00:00+09:00",
                     id="location-first"),
        pytest.param('date("2023-08-14")', "2023-08-14T00:00:00+00:00", id="default-date"),
        pytest.param('date("2023-08-14 10:11:12")', "2023-08-14T10:11:12+00:00", id="default-datetime"),
        pytest.param('date("2023-08-14T10:00:00+02:00")', "2023-08-14T10:00:00+02:00", id="default-rfc3339"),
        pytest.param('date("Mon, 14 Aug 2023 10:00:00 UTC")', "2023-08-14T10:00:00+00:00", id="default-rfc1123"),
    ],
)  # fmt: skip
def test_date_in_a_range_query(expr: str, expected: str) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert evaluate_time(expr, now).isoformat() == expected
    assert evaluate_condition(f"{expr} < now()", None, now=lambda: now) is True


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param('date("2023-08-14", "2006-01-02", "Mars/Olympus")', "unknown time zone Mars/Olympus",
                     id="unknown-location"),
        pytest.param('date("2023-08-14", "2006-01-02", "../../etc/passwd")', "unknown time zone ../../etc/passwd",
                     id="path-is-not-a-location"),
        pytest.param('date("yesterday")', "invalid date yesterday", id="no-default-layout-fits"),
        pytest.param("date()", "invalid number of arguments (expected at least 1, got 0)", id="no-arguments"),
        pytest.param('date("a", "b", "UTC", "x")', "invalid number of arguments (expected at most 3, got 4)",
                     id="too-many"),
        pytest.param("date(1)", "date: the value must be a string, got int", id="not-a-string"),
        pytest.param('date("2023-08-14", 2006)', "date: the layout must be a string, got int", id="layout-type"),
        pytest.param('duration("1d")', 'time: unknown unit "d" in duration "1d"', id="duration-unit"),
        pytest.param('duration("1")', 'time: missing unit in duration "1"', id="duration-missing-unit"),
        pytest.param("duration(5)", "duration: the argument must be a string, got int", id="duration-type"),
        pytest.param('timezone("Nowhere")', "unknown time zone Nowhere", id="timezone"),
        pytest.param("now(1)", "invalid number of arguments (expected 0, got 1)", id="now-argument"),
        pytest.param('date("3:04PM", "3:04PM")', "a date without a year (Go's year 0) cannot be represented: "
                     "add the year", id="year-zero"),
    ],
)  # fmt: skip
def test_wrong_time_calls_are_clear_errors(expr: str, message: str) -> None:
    with pytest.raises(ConditionError) as err:
        evaluate_condition(f"{expr} == nil", None)
    assert str(err.value) == message


def test_now_is_the_injected_instant() -> None:
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert evaluate_condition('now() == date("2024-05-01 12:00:00")', None, now=lambda: at) is True
    assert evaluate_condition('string(now(timezone("Asia/Tokyo"))) == "2024-05-01 21:00:00 +0900 JST"', None,
                              now=lambda: at) is True  # fmt: skip
    assert evaluate_condition('string(duration("90m")) == "1h30m0s"', None) is True
