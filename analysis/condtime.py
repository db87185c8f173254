"""Time functions of the condition language: ``now() date() duration() timezone()``, as expr-lang has them.

Used by `condfuncs` (the built-ins of conditions) and by the Prometheus provider's range-query times
(`providers.timeexpr`). expr-lang's builtins (builtin/builtin.go, the engine of Argo's
utils/evaluate/evaluate.go) define them:

* ``now()`` / ``now(tz)`` — the current time (the evaluation's injected instant), in UTC or in ``tz``;
* ``duration("1h30m")`` — Go's ``time.ParseDuration``;
* ``timezone("Europe/Paris")`` — Go's ``time.LoadLocation`` (IANA names, ``UTC``, ``Local``);
* ``date(value)`` tries ``2006-01-02``, ``15:04:05``, ``2006-01-02 15:04:05``, RFC 3339, RFC 822, RFC 850
  and RFC 1123 in that order (else ``invalid date <value>``); ``date(value, layout)`` parses with a Go
  reference layout (`golayouts`) in UTC; ``date(value, layout, "Europe/Paris")`` in that location; a leading
  ``timezone(...)`` argument, ``date(tz, value[, layout])``, sets the location too.

Times are aware datetimes, durations timedeltas (microsecond resolution: Go's nanoseconds are truncated),
locations tzinfo objects. Wrong calls are errors with expr-lang's wording, never Python's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from analysis.condops import ConditionError, go_type_name
from analysis.durations import DurationError, format_go_duration, parse_go_duration
from analysis.golayouts import LayoutError, parse_layout

__all__ = ["TIME_FUNCTIONS", "clock", "date", "duration", "format_time", "location", "now"]

_DEFAULT_LAYOUTS: Final = (
    "2006-01-02",
    "15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",  # RFC 3339
    "02 Jan 06 15:04 MST",  # RFC 822
    "Monday, 02-Jan-06 15:04:05 MST",  # RFC 850
    "Mon, 02 Jan 2006 15:04:05 MST",  # RFC 1123
)
_MAX_TEXT: Final = 256  # a date, layout or zone name longer than this is not one: refuse before parsing

_state = threading.local()


def clock(now: Callable[[], datetime] | None) -> Callable[[], datetime] | None:
    """Set the source of ``now()`` for evaluations on this thread (None: the wall clock); return the old one."""
    previous: Callable[[], datetime] | None = getattr(_state, "now", None)
    _state.now = now
    return previous


def _string(value: Any, fn: str, what: str) -> str:
    if not isinstance(value, str):
        raise ConditionError(f"{fn}: the {what} must be a string, got {go_type_name(value)}")
    if len(value) > _MAX_TEXT:
        raise ConditionError(f"{fn}: the {what} is longer than {_MAX_TEXT} characters")
    return value


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError; a path is a ValueError
        raise ConditionError(f"unknown time zone {name}") from None


def location(name: Any) -> tzinfo:
    """``timezone(name)``: Go's time.LoadLocation."""
    return _zone(_string(name, "timezone", "zone name"))


def now(*args: Any) -> datetime:
    """``now()`` or ``now(tz)``."""
    source: Callable[[], datetime] | None = getattr(_state, "now", None)
    current = source() if source is not None else datetime.now(UTC)
    if not args:
        return current
    if len(args) == 1 and isinstance(args[0], tzinfo):
        return current.astimezone(args[0])
    raise ConditionError(f"invalid number of arguments (expected 0, got {len(args)})")


def duration(*args: Any) -> timedelta:
    """``duration(text)``: Go's time.ParseDuration."""
    if len(args) != 1:
        raise ConditionError(f"invalid number of arguments (expected 1, got {len(args)})")
    text = _string(args[0], "duration", "argument")
    try:
        return parse_go_duration(text)
    except (DurationError, OverflowError) as e:
        raise ConditionError(
            str(e) if isinstance(e, DurationError) else f"time: invalid duration {text}"
        ) from None


def date(*args: Any) -> datetime:
    """``date(value[, layout[, zone]])`` or ``date(tz, value[, layout])`` (see the module docstring)."""
    zone: tzinfo | None = None
    if args and isinstance(args[0], tzinfo):
        zone, args = args[0], args[1:]
    if not 1 <= len(args) <= 3:
        raise ConditionError(
            f"invalid number of arguments (expected {'at least 1' if not args else 'at most 3'}, got {len(args)})"
        )
    value = _string(args[0], "date", "value")
    if len(args) == 3:
        zone = location(args[2])
    if len(args) >= 2:
        try:
            return parse_layout(_string(args[1], "date", "layout"), value, zone)
        except LayoutError as e:
            raise ConditionError(str(e)) from None
    for layout in _DEFAULT_LAYOUTS:
        try:
            return parse_layout(layout, value, zone)
        except LayoutError:
            continue
    raise ConditionError(f"invalid date {value}")


def format_time(value: datetime) -> str:
    """Go's Time.String: ``2023-08-14 00:00:00 +0000 UTC`` (fraction without trailing zeros)."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    offset = value.strftime("%z") or "+0000"
    name = value.tzname() or ""
    if isinstance(value.tzinfo, timezone) and name.startswith("UTC") and len(name) > 3:
        name = ""  # an unnamed fixed zone: Go prints the offset twice (``+0200 +0200``)
    return f"{text} {offset} {name or offset}"


def format_duration(value: timedelta) -> str:
    return format_go_duration(value)


TIME_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "now": now,
    "date": date,
    "duration": duration,
    "timezone": location,
}
