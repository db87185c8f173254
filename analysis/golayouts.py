"""Go reference-layout time parsing (`time.Parse` / `time.ParseInLocation`), for ``date(value, layout, tz)``.

Pure analysis core, used by `condtime` (the condition language's ``date()``) and so by conditions and by a
range query's ``start``/``end``. Argo's expressions parse dates with Go's layouts, which spell a format by
example from the reference time ``Mon Jan 2 15:04:05 MST 2006`` (``"2006-01-02 15:04:05"``), not with
``%Y``-style directives; no library on PyPI implements them, so this is a small complete port of the
grammar: the layout is cut into the same elements Go's ``nextStdChunk`` finds, and the value is read
element by element with Go's rules (``1`` takes one or two digits, ``01`` exactly two, ``_2`` a space-padded
day, ``.000`` exactly three fraction digits, ``.999`` any, ``Z07:00`` ``Z`` or an offset, ``MST`` a zone
abbreviation, ``PM``, ``Jan``/``January``, ``Mon``/``Monday``, ``002`` a day of the year). Errors read like
Go's: ``parsing time "2023-13-01" as "2006-01-02": month out of range``.

Python's datetime has microsecond resolution (nanoseconds are truncated) and no year 0 (a value without a
year, which Go places in year 0, is an error here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

__all__ = ["LayoutError", "parse_layout", "split_layout"]

MONTHS: Final = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December")  # fmt: skip
DAYS: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_TWO_DIGIT = {"1": "01", "2": "02", "3": "03", "4": "04", "5": "05", "6": "06"}
_FRACTION = re.compile(r"[.,](0+|9+)(?![0-9])")
_ZONE_ELEMENTS = ("Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07", "-070000", "-07:00:00", "-0700", "-07:00",
                  "-07")  # fmt: skip
_ZONE_ABBREVIATION = re.compile(r"[A-Z]{3,5}|[A-Z][a-z][A-Z]T|GMT[+-]\d{1,2}")


class LayoutError(ValueError):
    """A value that does not match its layout; the message is Go's ParseError text."""


def _element(layout: str, i: int) -> str | None:
    """The layout element starting at `i` (Go's nextStdChunk), or None for a literal character."""
    rest = layout[i:]
    c = rest[0]
    if c == "J" and rest.startswith("Jan"):
        return "January" if rest.startswith("January") else "Jan"
    if c == "M":
        if rest.startswith("Mon"):
            return "Monday" if rest.startswith("Monday") else "Mon"
        if rest.startswith("MST"):
            return "MST"
    if c == "0":
        if len(rest) > 1 and rest[1] in "123456":
            return rest[:2]
        if rest.startswith("002"):
            return "002"
    if c == "1":
        return "15" if rest.startswith("15") else "1"
    if c == "2":
        return "2006" if rest.startswith("2006") else "2"
    if c == "_" and rest.startswith("_2") and not rest.startswith("_2006"):
        return "_2"
    if c == "_" and rest.startswith("__2"):
        return "__2"
    if c in "345":
        return c
    if rest.startswith(("PM", "pm")):
        return rest[:2]
    if c in "-Z":
        for zone in _ZONE_ELEMENTS:
            if rest.startswith(zone if c == "-" else zone.replace("-", "Z")):
                return zone if c == "-" else zone.replace("-", "Z")
    if c in ".,":
        m = _FRACTION.match(rest)
        if m:
            return m.group(0)
    return None


def split_layout(layout: str) -> list[tuple[bool, str]]:
    """The layout as (is_element, text) pieces; literal text is kept whole between elements."""
    pieces: list[tuple[bool, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(layout):
        element = _element(layout, i)
        if element is None:
            literal.append(layout[i])
            i += 1
            continue
        if literal:
            pieces.append((False, "".join(literal)))
            literal = []
        pieces.append((True, element))
        i += len(element)
    if literal:
        pieces.append((False, "".join(literal)))
    return pieces


@dataclass
class _Fields:
    year: int = 0
    month: int = 1
    day: int = 1
    yday: int = -1
    hour: int = 0
    minute: int = 0
    second: int = 0
    micro: int = 0
    pm: bool | None = None
    utc: bool = False  # "Z" or "UTC" in the value: UTC whatever the location
    offset: int | None = None  # seconds east of UTC
    zone_name: str | None = None
    seen: set[str] = field(default_factory=set)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_layout(layout: str, value: str, location: tzinfo | None = None) -> datetime:
    """Go's ``time.ParseInLocation(layout, value, location)`` (``time.Parse`` when location is None: UTC).

    >>> parse_layout("2006-01-02 15:04:05", "2023-08-14 00:00:00").isoformat()
    '2023-08-14T00:00:00+00:00'
    >>> parse_layout("Jan _2 3:04PM -07:00", "Aug  4 1:30PM +02:00").hour
    13
    """
    f = _Fields()
    rest = value

    def cannot(layout_elem: str, value_elem: str) -> LayoutError:
        return LayoutError(
            f"parsing time {_quote(value)} as {_quote(layout)}: cannot parse {_quote(value_elem)} as "
            f"{_quote(layout_elem)}"
        )

    def out_of_range(what: str) -> LayoutError:
        return LayoutError(f"parsing time {_quote(value)}: {what} out of range")

    pieces = split_layout(layout)
    for index, (is_element, text) in enumerate(pieces):
        if not is_element:
            try:
                rest = _skip(text, rest)
            except ValueError:
                raise cannot(text, rest) from None
            continue
        before = rest
        following = pieces[index + 1] if index + 1 < len(pieces) else (False, "")
        try:
            rest = _read(text, rest, f, following[0] and following[1][0] in ".,")
        except ValueError:
            raise cannot(text, before) from None
        except _OutOfRange as e:
            raise out_of_range(str(e)) from None
    if rest:
        raise LayoutError(f"parsing time {_quote(value)}: extra text: {_quote(rest)}")
    return _assemble(f, location, out_of_range)


class _OutOfRange(Exception):
    pass


def _skip(prefix: str, value: str) -> str:
    """Go's skip(): literal text must match, a run of spaces matching a run of spaces."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise ValueError
            prefix, value = prefix.lstrip(" "), value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise ValueError
        prefix, value = prefix[1:], value[1:]
    return value


def _is_digit(text: str) -> bool:
    return len(text) == 1 and "0" <= text <= "9"


def _digits(value: str, fixed: bool, width: int = 2) -> tuple[int, str]:
    """Go's getnum / getnum3: up to `width` digits (exactly `width` when fixed)."""
    n = 0
    while n < width and n < len(value) and _is_digit(value[n]):
        n += 1
    if n == 0 or (fixed and n < width):
        raise ValueError
    return int(value[:n]), value[n:]


def _name(value: str, names: tuple[str, ...], short: bool) -> tuple[int, str]:
    for i, name in enumerate(names):
        text = name[:3] if short else name
        if value[: len(text)].lower() == text.lower():
            return i, value[len(text) :]
    raise ValueError


def _read(element: str, value: str, f: _Fields, fraction_follows: bool) -> str:
    f.seen.add(element)
    if element == "2006":
        if len(value) < 4 or not all(_is_digit(c) for c in value[:4]):
            raise ValueError
        f.year = int(value[:4])
        return value[4:]
    if element == "06":
        n, value = _digits(value, True)
        f.year = n + (1900 if n >= 69 else 2000)
        return value
    if element in ("Jan", "January"):
        index, value = _name(value, MONTHS, element == "Jan")
        f.month = index + 1
        return value
    if element in ("Mon", "Monday"):
        _, value = _name(value, DAYS, element == "Mon")
        return value
    if element in ("1", "01"):
        f.month, value = _digits(value, element == "01")
        if not 1 <= f.month <= 12:
            raise _OutOfRange("month")
        return value
    if element in ("2", "_2", "02"):
        if element == "_2" and value[:1] == " ":
            value = value[1:]
        f.day, value = _digits(value, element == "02")
        return value  # checked against the month at the end, as Go does
    if element in ("__2", "002"):
        for _ in range(2):
            if element == "__2" and value[:1] == " ":
                value = value[1:]
        f.yday, value = _digits(value, element == "002", 3)
        if not 1 <= f.yday <= 366:
            raise _OutOfRange("day-of-year")
        return value
    if element in ("15", "3", "03"):
        f.hour, value = _digits(value, element == "03")
        if not (0 <= f.hour < 24 if element == "15" else 0 <= f.hour <= 12):
            raise _OutOfRange("hour")
        return value
    if element in ("4", "04"):
        f.minute, value = _digits(value, element == "04")
        if not 0 <= f.minute < 60:
            raise _OutOfRange("minute")
        return value
    if element in ("5", "05"):
        f.second, value = _digits(value, element == "05")
        if not 0 <= f.second < 60:
            raise _OutOfRange("second")
        # Go: a fraction in the value is read even when the layout has none right after the seconds.
        m = re.match(r"[.,]([0-9]+)", value)
        if m and not fraction_follows:
            f.micro = _micro(m.group(1))
            value = value[m.end() :]
        return value
    if element in ("PM", "pm"):
        word = value[:2]
        expected = ("AM", "PM") if element == "PM" else ("am", "pm")
        if word not in expected:
            raise ValueError
        f.pm = word == expected[1]
        return value[2:]
    if element[0] in ".,":
        digits = len(element) - 1
        if element[1] == "0":
            if len(value) < digits + 1 or not all(_is_digit(c) for c in value[1 : digits + 1]):
                raise ValueError
            f.micro = _micro(value[1 : digits + 1])
            return value[digits + 1 :]
        m = re.match(r"[.,]([0-9]+)", value)
        if m:
            f.micro = _micro(m.group(1))
            return value[m.end() :]
        return value
    if element == "MST":
        if value.startswith("UTC"):
            f.utc = True
            return value[3:]
        m = _ZONE_ABBREVIATION.match(value)
        if not m:
            raise ValueError
        f.zone_name = m.group(0)
        return value[m.end() :]
    return _read_offset(element, value, f)


def _micro(digits: str) -> int:
    return int((digits + "000000")[:6])


def _read_offset(element: str, value: str, f: _Fields) -> str:
    if element.startswith("Z") and value.startswith("Z"):
        f.utc = True
        return value[1:]
    shape = element.lstrip("Z-")  # 07, 0700, 07:00, 070000, 07:00:00
    pattern = {"07": r"[+-]\d\d", "0700": r"[+-]\d{4}", "07:00": r"[+-]\d\d:\d\d", "070000": r"[+-]\d{6}",
               "07:00:00": r"[+-]\d\d:\d\d:\d\d"}[shape]  # fmt: skip
    m = re.match(pattern, value)
    if not m:
        raise ValueError
    numbers = m.group(0)[1:].replace(":", "")
    hours, minutes, seconds = int(numbers[0:2]), int(numbers[2:4] or 0), int(numbers[4:6] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError
    sign = -1 if m.group(0)[0] == "-" else 1
    f.offset = sign * (hours * 3600 + minutes * 60 + seconds)
    return value[m.end() :]


def _assemble(f: _Fields, location: tzinfo | None, out_of_range: object) -> datetime:
    hour = f.hour
    if f.pm is True and hour < 12:
        hour += 12
    elif f.pm is False and hour == 12:
        hour = 0
    if f.year == 0:
        raise LayoutError("a date without a year (Go's year 0) cannot be represented: add the year")
    month, day = f.month, f.day
    if f.yday >= 0:
        start = datetime(f.year, 1, 1)
        if f.yday > (366 if _leap(f.year) else 365):
            raise out_of_range("day-of-year")  # type: ignore[operator]
        d = start + timedelta(days=f.yday - 1)
        if ({"1", "01", "Jan", "January"} & f.seen and d.month != month) or (
            {"2", "_2", "02"} & f.seen and d.day != day
        ):
            raise out_of_range("day-of-year")  # type: ignore[operator]
        month, day = d.month, d.day
    try:
        naive = datetime(f.year, month, day, hour, f.minute, f.second, f.micro)
    except ValueError:
        raise out_of_range("day") from None  # type: ignore[operator]
    if f.utc:
        return naive.replace(tzinfo=UTC)
    local = location or UTC
    if f.offset is not None:
        at = (naive - timedelta(seconds=f.offset)).replace(tzinfo=UTC).astimezone(local)
        if at.utcoffset() == timedelta(seconds=f.offset) and f.zone_name in (None, at.tzname()):
            return at  # the location's own zone was in effect: keep it
        fixed = timedelta(seconds=f.offset)
        return naive.replace(tzinfo=timezone(fixed, f.zone_name) if f.zone_name else timezone(fixed))
    if f.zone_name is not None:
        candidate = naive.replace(tzinfo=local)
        if candidate.tzname() == f.zone_name:
            return candidate
        hours = int(f.zone_name[3:]) if f.zone_name.startswith("GMT") and len(f.zone_name) > 3 else 0
        return naive.replace(tzinfo=timezone(timedelta(hours=hours), f.zone_name))  # Go: a made-up zone
    return naive.replace(tzinfo=local)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
