"""Go duration strings (``1m30s``, ``500ms``, ``-1.5h``) as Argo writes them in manifests.

Used wherever a manifest carries a Go `time.Duration` string: Metric.interval / initialDelay, canary pause
durations, rangeQuery.step. Parsing follows Go's `time.ParseDuration` grammar and error wording, so users see
the same message Argo would show (e.g. ``time: unknown unit "d" in duration "1d"``). Python's timedelta has
microsecond resolution: nanoseconds are kept while parsing and rounded down to microseconds at the end.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = ["DurationError", "format_go_duration", "parse_go_duration"]

_NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAX_NS = (1 << 63) - 1  # Go's time.Duration is an int64 of nanoseconds


class DurationError(ValueError):
    """A string that is not a Go duration; the message is Go's (``time: invalid duration "x"``)."""


def parse_go_duration_ns(text: str) -> int:
    """Parse a Go duration into integer nanoseconds (exactly like `time.ParseDuration`).

    >>> parse_go_duration_ns("1m30s")
    90000000000
    >>> parse_go_duration_ns("1.5h") == 90 * 60 * 10**9
    True
    """
    orig = text
    quoted = f'"{orig}"'
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0
    while s:
        # integer part
        i = 0
        while i < len(s) and s[i].isascii() and s[i].isdigit():
            i += 1
        int_digits, s = s[:i], s[i:]
        frac_digits = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isascii() and s[j].isdigit():
                j += 1
            frac_digits, s = s[:j], s[j:]
        if not int_digits and not frac_digits:
            raise DurationError(f"time: invalid duration {quoted}")
        k = 0
        while k < len(s) and s[k] != "." and not (s[k].isascii() and s[k].isdigit()):
            k += 1
        unit, s = s[:k], s[k:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in _NS_PER_UNIT:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = _NS_PER_UNIT[unit]
        value = int(int_digits or "0") * scale
        if frac_digits:
            # Go truncates the fractional part toward zero at nanosecond precision.
            value += int(frac_digits) * scale // (10 ** len(frac_digits))
        total += value
        if total > _MAX_NS + (1 if neg else 0):
            raise DurationError(f"time: invalid duration {quoted}")
    return -total if neg else total


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go duration string into a timedelta (rounded down to microseconds).

    >>> parse_go_duration("1m30s")
    datetime.timedelta(seconds=90)
    >>> parse_go_duration("-250ms")
    datetime.timedelta(days=-1, seconds=86399, microseconds=750000)
    """
    ns = parse_go_duration_ns(text)
    micros = abs(ns) // 1000
    return timedelta(microseconds=-micros if ns < 0 else micros)


def _fmt_frac(value: int, scale: int) -> str:
    """`value/scale` as a decimal without trailing zeros (Go's fmtFrac/fmtInt)."""
    whole, frac = divmod(value, scale)
    if frac == 0:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


def format_go_duration(value: timedelta | int) -> str:
    """Format like Go's `Duration.String`: ``1h30m0s``, ``1m30s``, ``1.5s``, ``500ms``, ``0s``.

    An int is taken as nanoseconds.

    >>> format_go_duration(timedelta(minutes=90))
    '1h30m0s'
    >>> format_go_duration(timedelta(milliseconds=1500))
    '1.5s'
    """
    ns = (
        (value.days * 86_400 + value.seconds) * 10**9 + value.microseconds * 1000
        if isinstance(value, timedelta)
        else value
    )
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10**9:
        if ns < 1000:
            return f"{sign}{ns}ns"
        if ns < 10**6:
            return f"{sign}{_fmt_frac(ns, 1000)}µs"
        return f"{sign}{_fmt_frac(ns, 10**6)}ms"
    hours, rem = divmod(ns, 3600 * 10**9)
    minutes, rem = divmod(rem, 60 * 10**9)
    out = f"{_fmt_frac(rem, 10**9)}s"
    if hours or minutes:
        out = f"{minutes}m" + out
    if hours:
        out = f"{hours}h" + out
    return sign + out
