"""The values and functions of Go templates as notifications-engine sees them: Go's `fmt` printing of
JSON-decoded data, the built-in functions of `text/template`, the Sprig functions notification templates use,
and a small `time.Time` for the engine's `time.Now` / `time.Parse`.

Where it sits: under `rollouts.notifications.gotemplates`, which parses and executes templates and calls the
functions here by name. Everything is pure (no clock: `time_functions` takes one) and bounded: any string a
function builds is checked against the render's output limit while it is built, so no function can allocate
more than that limit however its arguments are nested or shared.

How Go values are mapped: a Python `float` is Go's float64 (every number decoded from JSON, which is what
Argo Rollouts hands the engine); a Python `int` is Go's int (template constants, `len`, Sprig arithmetic);
`None` is a nil interface; `NO_VALUE` is Go's invalid value, what a missing map key yields (printed
`<no value>`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import re2

__all__ = [
    "FUNCS",
    "NO_VALUE",
    "RFC3339",
    "FuncContext",
    "FuncError",
    "GoDuration",
    "GoFunc",
    "GoTime",
    "LimitError",
    "format_value",
    "go_format_value",
    "go_type_name",
    "time_functions",
    "truth",
]

RFC3339 = "2006-01-02T15:04:05Z07:00"
_INT64 = 1 << 63


class _NoValue:
    """Go's invalid reflect.Value: the result of a missing map key."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


class FuncError(Exception):
    """A function failed; the executor words it as Go does (`error calling <name>: <message>`)."""


class LimitError(FuncError):
    """A bound was reached (output size, printf width); the executor reports it without a position."""


@dataclass(frozen=True)
class FuncContext:
    """What a function may know about the render calling it: the most characters a string may have."""

    max_len: int


class _Buf:
    """A string under construction that refuses to grow past a limit, checked on every append."""

    def __init__(self, limit: int, what: str) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self.what = what

    def add(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.limit:
            raise LimitError(
                f"the result of {self.what} exceeds the output limit of {self.limit} characters (max_output)"
            )
        self.parts.append(text)

    def value(self) -> str:
        return "".join(self.parts)


def _wrap64(n: int) -> int:
    """Go's int64 arithmetic wraps around; it also keeps Python's integers from growing without bound."""
    return ((n + _INT64) % (1 << 64)) - _INT64


# ---------------------------------------------------------------------------------------------------------
# time.Time and time.Duration


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class GoDuration:
    """Go's time.Duration: an int64 count of nanoseconds."""

    ns: int

    def string(self) -> str:
        u, sign = abs(self.ns), "-" if self.ns < 0 else ""
        if u == 0:
            return "0s"
        if u < 1_000_000_000:
            unit, prec = ("ns", 0) if u < 1_000 else ("µs", 3) if u < 1_000_000 else ("ms", 6)
            whole, frac = _frac(u, prec)
            return f"{sign}{whole}{frac}{unit}"
        secs, frac = _frac(u, 9)
        out = f"{secs % 60}{frac}s"
        minutes = secs // 60
        if minutes:
            out = f"{minutes % 60}m{out}"
            if minutes // 60:
                out = f"{minutes // 60}h{out}"
        return sign + out

    def call(self, name: str, args: list[Any]) -> Any:
        whole = {"Hours": 3_600_000_000_000, "Minutes": 60_000_000_000, "Seconds": 1_000_000_000}
        if name in whole:
            unit = whole[name]
            q = abs(self.ns) // unit * (1 if self.ns >= 0 else -1)
            return float(q) + float(self.ns - q * unit) / unit
        if name in ("Milliseconds", "Microseconds", "Nanoseconds"):
            div = {"Milliseconds": 1_000_000, "Microseconds": 1_000, "Nanoseconds": 1}[name]
            return int(self.ns / div) if div > 1 else self.ns
        if name == "String":
            return self.string()
        raise AttributeError(name)

    METHODS: ClassVar[dict[str, int]] = {
        "Hours": 0,
        "Minutes": 0,
        "Seconds": 0,
        "Milliseconds": 0,
        "Microseconds": 0,
    }
    METHODS |= {"Nanoseconds": 0, "String": 0}


def _frac(v: int, prec: int) -> tuple[int, str]:
    if prec == 0:
        return v, ""
    digits = f"{v % 10**prec:0{prec}d}".rstrip("0")
    return v // 10**prec, "." + digits if digits else ""


@dataclass(frozen=True)
class GoTime:
    """Go's time.Time, as much as templates use: an instant (Unix nanoseconds) seen at a fixed UTC offset.

    Methods callable from a template: Format, Unix, UnixMilli, UnixNano, UTC, Add, Sub, Before, After, Equal,
    IsZero, String, Year, Month, Day, Hour, Minute, Second, Weekday, YearDay.
    """

    unix_ns: int
    offset: int = 0  # seconds east of UTC
    zone: str = "UTC"  # Go prints an unnamed zone as its offset

    METHODS: ClassVar[dict[str, int]] = {
        "Format": 1,
        "Unix": 0,
        "UnixMilli": 0,
        "UnixNano": 0,
        "UTC": 0,
        "Add": 1,
        "Sub": 1,
    }
    METHODS |= {"Before": 1, "After": 1, "Equal": 1, "IsZero": 0, "String": 0, "Year": 0, "Month": 0}
    METHODS |= {"Day": 0, "Hour": 0, "Minute": 0, "Second": 0, "Weekday": 0, "YearDay": 0}

    @classmethod
    def from_datetime(cls, dt: datetime) -> GoTime:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        off_td = dt.utcoffset() or timedelta(0)
        delta = dt.replace(tzinfo=None) - off_td - _EPOCH
        ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
        off = int(off_td.total_seconds())
        name = dt.tzname() or ""
        zone = "UTC" if off == 0 else ("" if name.startswith("UTC") else name)
        return cls(ns, off, zone)

    def _wall(self) -> datetime:
        try:
            return _EPOCH + timedelta(seconds=self.unix_ns // 1_000_000_000 + self.offset)
        except OverflowError:
            raise FuncError("the time is outside the years 1 to 9999") from None

    def string(self) -> str:
        return self.format("2006-01-02 15:04:05.999999999 -0700 MST")

    def format(self, layout: str) -> str:
        return _format_time(self, layout)

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "Format":
            return self.format(_want(args[0], str, "string"))
        if name in ("Unix", "UnixMilli", "UnixNano"):
            return self.unix_ns // {"Unix": 1_000_000_000, "UnixMilli": 1_000_000, "UnixNano": 1}[name]
        if name == "UTC":
            return GoTime(self.unix_ns)
        if name == "Add":
            d = args[0]
            ns = d.ns if isinstance(d, GoDuration) else _want(d, int, "time.Duration")
            return GoTime(_wrap64(self.unix_ns + ns), self.offset, self.zone)
        if name in ("Sub", "Before", "After", "Equal"):
            other: GoTime = _want(args[0], GoTime, "time.Time")
            if name == "Sub":
                return GoDuration(_wrap64(self.unix_ns - other.unix_ns))
            if name == "Before":
                return self.unix_ns < other.unix_ns
            if name == "After":
                return self.unix_ns > other.unix_ns
            return self.unix_ns == other.unix_ns
        if name == "IsZero":
            return self.unix_ns == -62_135_596_800_000_000_000
        if name == "String":
            return self.string()
        wall = self._wall()
        fields: dict[str, Callable[[], Any]] = {
            "Year": lambda: wall.year,
            "Month": lambda: _MONTHS[wall.month - 1],
            "Day": lambda: wall.day,
            "Hour": lambda: wall.hour,
            "Minute": lambda: wall.minute,
            "Second": lambda: wall.second,
            "Weekday": lambda: _DAYS[wall.weekday()],
            "YearDay": lambda: wall.timetuple().tm_yday,
        }
        return fields[name]()


def _want(value: Any, typ: type, go_name: str) -> Any:
    if isinstance(value, typ) and not (typ is int and isinstance(value, bool)):
        return value
    raise FuncError(f"wrong type for value; expected {go_name}; got {go_type_name(value)}")


# Go's reference-layout elements, longest first where one is a prefix of another.
_LAYOUT = re.compile(
    r"January|Jan(?![a-z])|Monday|Mon(?![a-z])|MST|2006|_2006|__2|_2|002|0[1-6]|15|1|2|[345]|PM|pm"
    r"|Z07:00:00|Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|-07:00|-0700|-07|[.,](?:0+|9+)(?![0-9])"
)


def _format_time(t: GoTime, layout: str) -> str:
    wall = t._wall()
    nanos = t.unix_ns % 1_000_000_000

    def zone(elem: str) -> str:
        if elem.startswith("Z") and t.offset == 0:
            return "Z"
        mins = abs(t.offset) // 60
        sign = "-" if t.offset < 0 else "+"
        hh, mm, ss = f"{mins // 60:02d}", f"{mins % 60:02d}", f"{abs(t.offset) % 60:02d}"
        colon = ":" in elem
        parts = [hh] + ([mm] if len(elem.lstrip("Z-").replace(":", "")) >= 4 else [])
        if elem.endswith("0000") or elem.endswith(":00:00"):
            parts.append(ss)
        return sign + (":" if colon else "").join(parts)

    def elem(m: re.Match[str]) -> str:
        e = m.group(0)
        h12 = wall.hour % 12 or 12
        simple: dict[str, str] = {
            "January": _MONTHS[wall.month - 1],
            "Jan": _MONTHS[wall.month - 1][:3],
            "Monday": _DAYS[wall.weekday()],
            "Mon": _DAYS[wall.weekday()][:3],
            "2006": f"{wall.year:04d}",
            "_2006": f"_{wall.year:04d}",
            "06": f"{wall.year % 100:02d}",
            "01": f"{wall.month:02d}",
            "1": str(wall.month),
            "02": f"{wall.day:02d}",
            "2": str(wall.day),
            "_2": f"{wall.day:2d}",
            "002": f"{wall.timetuple().tm_yday:03d}",
            "__2": f"{wall.timetuple().tm_yday:3d}",
            "15": f"{wall.hour:02d}",
            "03": f"{h12:02d}",
            "3": str(h12),
            "04": f"{wall.minute:02d}",
            "4": str(wall.minute),
            "05": f"{wall.second:02d}",
            "5": str(wall.second),
            "PM": "PM" if wall.hour >= 12 else "AM",
            "pm": "pm" if wall.hour >= 12 else "am",
        }
        if e in simple:
            return simple[e]
        if e == "MST":
            return t.zone or zone("-0700")
        if e[0] in ".,":
            digits = f"{nanos:09d}"[: len(e) - 1]
            if e[1] == "9":
                digits = digits.rstrip("0")
                return e[0] + digits if digits else ""
            return e[0] + digits
        return zone(e)

    return _LAYOUT.sub(elem, layout)


_RFC3339_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:\d\d)\Z")


def parse_rfc3339(text: str) -> GoTime:
    """Go's time.Parse(time.RFC3339, text); a string that is not one raises ValueError with Go's wording."""
    if not isinstance(text, str):
        raise ValueError(f"wrong type for value; expected string; got {go_type_name(text)}")
    m = _RFC3339_RE.match(text)
    if m is None:
        raise ValueError(f'parsing time "{text}" as "{RFC3339}": cannot parse "{text}" as RFC 3339')
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ValueError(f'parsing time "{text}": day, month or time out of range') from None
    frac = (m.group(7) or "")[:9].ljust(9, "0")
    zone = m.group(8)
    offset = (
        0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
    )
    delta = wall - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds - offset) * 1_000_000_000 + int(frac)
    return GoTime(ns, offset, "UTC" if offset == 0 else "")


def time_functions(now: Callable[[], datetime]) -> dict[str, Callable[..., Any]]:
    """The `time` entry of the template data, as Argo Rollouts passes it: `{{ (call .time.Now).Format "…" }}`,
    `{{ (call .time.Parse .rollout.status.x).Unix }}`. `now` is the clock (injected, so renders are testable).
    """

    def go_now() -> GoTime:
        return GoTime.from_datetime(now())

    return {"Now": go_now, "Parse": parse_rfc3339}


# ---------------------------------------------------------------------------------------------------------
# fmt: how Go prints values


def go_type_name(value: Any) -> str:
    """The Go type a value stands for, as Go's messages name it."""
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, GoTime):
        return "time.Time"
    if isinstance(value, GoDuration):
        return "time.Duration"
    if callable(value):
        return "func(...) interface {}"
    return type(value).__name__


def _digits(f: float) -> tuple[str, int]:
    """The shortest decimal digits that round-trip `abs(f)` and the decimal point's place (0.DIGITS × 10^dp)."""
    if f == 0:
        return "", 0
    _sign, digit_tuple, exp = Decimal(repr(abs(f))).as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digit_tuple))
    digits = text.rstrip("0")
    exp += len(text) - len(digits)
    digits = digits.lstrip("0")
    return digits, len(digits) + exp


def _fmt_e(neg: bool, digits: str, dp: int, decimals: int, upper: bool = False, min_exp: int = 2) -> str:
    d = digits or "0"
    mant = d[0] + ("." + d[1 : 1 + decimals].ljust(decimals, "0") if decimals > 0 else "")
    exp = dp - 1 if digits else 0
    e = f"{'E' if upper else 'e'}{'-' if exp < 0 else '+'}{abs(exp):0{min_exp}d}"
    return ("-" if neg else "") + mant + e


def _fmt_f(neg: bool, digits: str, dp: int, decimals: int) -> str:
    whole = (digits[:dp].ljust(dp, "0") if dp > 0 else "0") if digits else "0"
    frac = "".join(digits[i] if 0 <= i < len(digits) else "0" for i in range(dp, dp + decimals))
    return ("-" if neg else "") + whole + ("." + frac if decimals > 0 else "")


def format_float_g(f: float) -> str:
    """Go's strconv.FormatFloat(f, 'g', -1, 64), which is what fmt's %v prints for a float64: the shortest
    digits that round-trip, in exponent form when the decimal exponent is below -4 or at least 6 (strconv's
    rule for the shortest precision): 100000 → 100000, 1e6 → 1e+06, 1e-05 → 1e-05."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = math.copysign(1.0, f) < 0
    digits, dp = _digits(f)
    exp = dp - 1
    if digits and (exp < -4 or exp >= 6):
        return _fmt_e(neg, digits, dp, len(digits) - 1)
    return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))


def _json_float(f: float) -> str | None:
    """Go's encoding/json for a float64 (None for NaN and ±Inf, which it refuses)."""
    if math.isnan(f) or math.isinf(f):
        return None
    neg = math.copysign(1.0, f) < 0 and f != 0
    digits, dp = _digits(f)
    if f != 0 and (abs(f) < 1e-6 or abs(f) >= 1e21):
        out = _fmt_e(neg, digits, dp, len(digits) - 1)
        return re.sub(r"e-0(\d)$", r"e-\1", out)
    return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))


def format_value(value: Any, buf: _Buf) -> None:
    """Go's fmt %v of one value, appended to `buf` piece by piece (so a huge shared structure stops early)."""
    if value is NO_VALUE:
        buf.add("<no value>")
    elif value is None:
        buf.add("<nil>")
    elif isinstance(value, bool):
        buf.add("true" if value else "false")
    elif isinstance(value, int):
        buf.add(str(value))
    elif isinstance(value, float):
        buf.add(format_float_g(value))
    elif isinstance(value, str):
        buf.add(value)
    elif isinstance(value, list):
        buf.add("[")
        for i, item in enumerate(value):
            if i:
                buf.add(" ")
            format_value(item, buf)
        buf.add("]")
    elif isinstance(value, dict):
        buf.add("map[")
        for i, key in enumerate(sorted(value)):
            if i:
                buf.add(" ")
            buf.add(f"{key}:")
            format_value(value[key], buf)
        buf.add("]")
    elif isinstance(value, GoTime | GoDuration):
        buf.add(value.string())
    elif callable(value):
        buf.add("<func>")  # Go prints the function's address, which means nothing here
    else:
        buf.add(str(value))


def go_format_value(value: Any) -> str:
    """How Go's fmt %v prints a JSON-decoded value: 3.0 → "3", 1e6 → "1e+06", [a b], map[a:1 b:2]."""
    buf = _Buf(1 << 30, "printing")
    format_value(value, buf)
    return buf.value()


def _sprint(ctx: FuncContext, args: list[Any], what: str, spaces_always: bool = False) -> str:
    """fmt.Sprint (a space between operands when neither is a string) or, with spaces_always, Sprintln."""
    buf = _Buf(ctx.max_len, what)
    for i, arg in enumerate(args):
        if i and (spaces_always or not (isinstance(arg, str) or isinstance(args[i - 1], str))):
            buf.add(" ")
        format_value(None if arg is NO_VALUE else arg, buf)
    if spaces_always:
        buf.add("\n")
    return buf.value()


def go_quote(s: str) -> str:
    """strconv.Quote: a double-quoted Go string literal."""
    out = ['"']
    named = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in named:
            out.append(named[ch])
        elif ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\\ufffd")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------
# printf


_VERBS_BY_KIND: dict[str, str] = {
    "bool": "vt",
    "int": "vdbcoOqxXU",
    "float": "vbeEfFgGxX",
    "string": "vsqxX",
}
MAX_PRINTF_WIDTH = 1000


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | GoDuration):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _bad_verb(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(value)}={go_format_value(value)})"


def _pad(text: str, width: int | None, flags: str, numeric: bool) -> str:
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    if "-" in flags:
        return text + " " * fill
    if "0" in flags:
        if numeric and text[:1] in "+- ":
            return text[0] + "0" * fill + text[1:]
        return "0" * fill + text
    return " " * fill + text


def _fmt_one(ctx: FuncContext, verb: str, flags: str, width: int | None, prec: int | None, arg: Any) -> str:
    if isinstance(arg, list | dict) and verb != "T":
        buf = _Buf(ctx.max_len, "printf")
        items: list[tuple[str | None, Any]] = (
            [(None, v) for v in arg] if isinstance(arg, list) else [(k, arg[k]) for k in sorted(arg)]
        )
        buf.add("[" if isinstance(arg, list) else "map[")
        for i, (key, item) in enumerate(items):
            if i:
                buf.add(" ")
            if key is not None:
                buf.add(_fmt_one(ctx, verb, flags, width, prec, key) + ":")
            buf.add(_fmt_one(ctx, verb, flags, width, prec, item))
        buf.add("]")
        return buf.value()
    if isinstance(arg, GoTime | GoDuration) and verb in "vsq":
        arg = arg.string()
    kind = _kind(arg)
    if verb == "T":
        return _pad(go_type_name(arg) if arg is not None else "<nil>", width, flags, False)
    if kind == "other":
        return _pad(go_format_value(arg), width, flags, False) if verb == "v" else _bad_verb(verb, arg)
    if verb not in _VERBS_BY_KIND[kind]:
        return _bad_verb(verb, arg)
    sign = "+" if "+" in flags else " " if " " in flags else ""
    if kind == "bool":
        return _pad("true" if arg else "false", width, flags, False)
    if kind == "string":
        s: str = arg
        if prec is not None:
            s = s[:prec]
        if verb == "q":
            s = go_quote(s)
        elif verb in "xX":
            s = s.encode("utf-8", "replace").hex()
            s = s.upper() if verb == "X" else s
        return _pad(s, width, flags, False)
    if kind == "int":
        n: int = arg.ns if isinstance(arg, GoDuration) else arg
        if verb == "v" and isinstance(arg, GoDuration):
            return _pad(arg.string(), width, flags, False)
        if verb in "cqU":
            ch = chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF else "\ufffd"
            if verb == "c":
                return _pad(ch, width, flags, False)
            if verb == "U":
                return _pad(f"U+{n:04X}", width, flags, False)
            return _pad(
                "'" + go_quote(ch)[1:-1].replace("'", "\\'").replace('\\"', '"') + "'", width, flags, False
            )
        base = {"d": "d", "v": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}[verb]
        body = format(abs(n), base)
        if prec is not None:
            body = body.rjust(prec, "0")
        prefix = {"O": "0o"}.get(verb, "")
        if "#" in flags:
            prefix = {"o": "0", "x": "0x", "X": "0X", "b": "0b"}.get(verb, prefix)
        text = ("-" if n < 0 else sign) + prefix + body
        return _pad(text, width, flags if prec is None else flags.replace("0", ""), True)
    f = float(arg)
    if verb in "xXb":
        return _bad_verb(verb, arg)
    if math.isnan(f) or math.isinf(f):
        text = "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
        if sign and text[0] != "-" and text != "NaN":
            text = sign + text[1:]
        return _pad(text, width, flags.replace("0", ""), False)
    if verb in "vgG" and prec is None:
        text = format_float_g(f)
        text = text.upper() if verb == "G" else text
    else:
        p = 6 if prec is None else prec
        py = {"v": "g", "e": "e", "E": "E", "f": "f", "F": "f", "g": "g", "G": "G"}[verb]
        text = format(f, f".{p}{py}")
    if sign and not text.startswith("-"):
        text = sign + text
    return _pad(text, width, flags, True)


def go_sprintf(ctx: FuncContext, fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf for the verbs templates use (v d s q t f e g x o b c U T %), with flags, width and precision
    (each capped at MAX_PRINTF_WIDTH), and Go's in-band complaints: %!d(string=x), %!s(MISSING), %!(EXTRA …).
    """
    args = [None if a is NO_VALUE else a for a in args]
    buf = _Buf(ctx.max_len, "printf")
    i, argi, n = 0, 0, len(fmt)

    def number() -> int | None:
        nonlocal i, argi
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                argi += 1
                value: int = args[argi - 1]
                if abs(value) > MAX_PRINTF_WIDTH:
                    raise LimitError(
                        f"a printf width or precision of {value} exceeds the limit of {MAX_PRINTF_WIDTH}"
                    )
                return abs(value)
            argi += 1
            buf.add("%!(BADWIDTH)")
            return None
        start = i
        while i < n and fmt[i].isdigit() and fmt[i].isascii():
            i += 1
            if i - start > 6:
                break
        if i == start:
            return None
        value = int(fmt[start:i])
        if value > MAX_PRINTF_WIDTH:
            raise LimitError(
                f"a printf width or precision of {value} exceeds the limit of {MAX_PRINTF_WIDTH}"
            )
        return value

    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            buf.add(fmt[i:])
            break
        buf.add(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width = number()
        prec: int | None = None
        if i < n and fmt[i] == ".":
            i += 1
            prec = number() or 0
        if i >= n:
            buf.add("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            buf.add("%")
            continue
        if argi >= len(args):
            buf.add(f"%!{verb}(MISSING)")
            continue
        argi += 1
        buf.add(_fmt_one(ctx, verb, flags, width, prec, args[argi - 1]))
    if argi < len(args):
        extra = [f"{go_type_name(a)}={go_format_value(a)}" if a is not None else "<nil>" for a in args[argi:]]
        buf.add("%!(EXTRA " + ", ".join(extra) + ")")
    return buf.value()


# ---------------------------------------------------------------------------------------------------------
# Truth, comparison, JSON


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, nil, no value and empty strings, lists and maps are false."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, bool | int | float | str | list | dict):
        return bool(value)
    if isinstance(value, GoDuration):
        return value.ns != 0
    return True


def _basic(value: Any) -> tuple[str, Any]:
    if value is None or value is NO_VALUE:
        return "invalid", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int", value
    if isinstance(value, GoDuration):
        return "int", value.ns
    if isinstance(value, float):
        return "float", value
    if isinstance(value, str):
        return "string", value
    return "other", value


def go_eq(arg1: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    k1, v1 = _basic(arg1)
    for arg in others:
        k2, v2 = _basic(arg)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise FuncError("incompatible types for comparison")
            continue
        if k1 == "invalid":
            return True
        if k1 == "other":
            if isinstance(v1, list | dict) or isinstance(v2, list | dict):
                raise FuncError(f"non-comparable type {go_format_value(v2)}: {go_type_name(v2)}")
            if type(v1) is not type(v2):
                raise FuncError("incompatible types for comparison")
        if v1 == v2:
            return True
    return False


def go_lt(a: Any, b: Any) -> bool:
    k1, v1 = _basic(a)
    k2, v2 = _basic(b)
    if k1 in ("invalid", "other", "bool") or k2 in ("invalid", "other", "bool"):
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    return bool(v1 < v2)


_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_str(s: str, html: bool) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _JSON_ESC:
            out.append(_JSON_ESC[ch])
        elif o < 0x20 or (html and ch in "<>&") or ch in "\u2028\u2029":
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Unsupported(Exception):
    pass


def _json(value: Any, buf: _Buf, html: bool, indent: str | None, depth: int) -> None:
    """Go's encoding/json.Marshal (HTML-escaped unless `html` is false; MarshalIndent with `indent`)."""
    if depth > 200:
        raise _Unsupported("json: value nested too deeply")
    nl = "" if indent is None else "\n" + indent * (depth + 1)
    end = "" if indent is None else "\n" + indent * depth
    if value is None or value is NO_VALUE:
        buf.add("null")
    elif isinstance(value, bool):
        buf.add("true" if value else "false")
    elif isinstance(value, int):
        buf.add(str(value))
    elif isinstance(value, GoDuration):
        buf.add(str(value.ns))
    elif isinstance(value, float):
        text = _json_float(value)
        if text is None:
            raise _Unsupported(f"json: unsupported value: {format_float_g(value)}")
        buf.add(text)
    elif isinstance(value, str):
        buf.add(_json_str(value, html))
    elif isinstance(value, GoTime):
        buf.add(_json_str(value.format("2006-01-02T15:04:05.999999999Z07:00"), html))
    elif isinstance(value, list):
        if not value:
            buf.add("[]")
            return
        buf.add("[")
        for i, item in enumerate(value):
            buf.add(("," if i else "") + nl)
            _json(item, buf, html, indent, depth + 1)
        buf.add(end + "]")
    elif isinstance(value, dict):
        if not value:
            buf.add("{}")
            return
        buf.add("{")
        for i, key in enumerate(sorted(value)):
            buf.add(("," if i else "") + nl + _json_str(str(key), html) + (":" if indent is None else ": "))
            _json(value[key], buf, html, indent, depth + 1)
        buf.add(end + "}")
    else:
        raise _Unsupported(f"json: unsupported type: {go_type_name(value)}")


def _to_json(ctx: FuncContext, value: Any, html: bool = True, indent: str | None = None) -> str:
    buf = _Buf(ctx.max_len, "toJson")
    try:
        _json(value, buf, html, indent, 0)
    except _Unsupported:
        return ""  # Sprig's toJson swallows the error and prints nothing
    return buf.value()


# ---------------------------------------------------------------------------------------------------------
# Sprig


def strval(value: Any) -> str:
    """Sprig's strval: strings as they are, times and durations by String(), anything else as %v."""
    if isinstance(value, str):
        return value
    if isinstance(value, GoTime | GoDuration):
        return value.string()
    return go_format_value(None if value is NO_VALUE else value)


def _strslice(value: Any) -> list[str]:
    if isinstance(value, list):
        return [strval(v) for v in value if v is not None and v is not NO_VALUE]
    if value is None or value is NO_VALUE:
        return []
    return [strval(value)]


def to_int64(value: Any) -> int:
    """spf13/cast's ToInt64 as Sprig uses it (errors become 0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _wrap64(value)
    if isinstance(value, GoDuration):
        return value.ns
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return -_INT64
        return _wrap64(int(value))
    if isinstance(value, str):
        text = re.sub(r"^([+-]?\d+)\.0*$", r"\1", value)
        if not re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)", text):
            return 0
        body = text.lstrip("+-")
        base_text = re.sub(r"^0([0-7])", r"0o\1", body)
        try:
            parsed = int(base_text, 0)
        except ValueError:
            return 0
        parsed = -parsed if text.startswith("-") else parsed
        return parsed if -_INT64 <= parsed < _INT64 else 0
    return 0


def to_float64(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, GoDuration):
        return float(value.ns)
    if isinstance(value, str) and len(value) < 400:
        try:
            return float(value.strip() if value.strip() == value else "x")
        except ValueError:
            return 0.0
    return 0.0


def _div(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)
    return _wrap64(q)


def _mod(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    return x - y * _div(x, y)


def _go_upper(s: str, up: bool) -> str:
    # Go maps rune by rune: a rune with no single-rune case mapping (ß) stays as it is.
    out = []
    for ch in s:
        m = ch.upper() if up else ch.lower()
        out.append(m if len(m) == 1 else ch)
    return "".join(out)


_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word (the rest are left as they are)."""
    out, prev_sep = [], True
    for ch in s:
        if prev_sep:
            m = ch.upper()
            out.append(m if len(m) == 1 else ch)
        else:
            out.append(ch)
        if ch.isascii():
            prev_sep = not (ch.isalnum() or ch == "_")
        else:
            prev_sep = not (ch.isalpha() or ch.isdigit()) and ch in _GO_SPACE
    return "".join(out)


def _bytes_slice(s: str, start: int, end: int | None = None) -> str:
    return s.encode("utf-8", "replace")[start:end].decode("utf-8", "replace")


def _trunc(c: int, s: str) -> str:
    size = len(s.encode("utf-8", "replace"))
    if c < 0 and size + c > 0:
        return _bytes_slice(s, size + c)
    if c >= 0 and size > c:
        return _bytes_slice(s, 0, c)
    return s


def _substr(start: int, end: int, s: str) -> str:
    size = len(s.encode("utf-8", "replace"))
    if start < 0:
        if end < 0 or end > size:
            raise FuncError(f"runtime error: slice bounds out of range [:{end}] with length {size}")
        return _bytes_slice(s, 0, end)
    if end < 0 or end > size:
        if start > size:
            raise FuncError(f"runtime error: slice bounds out of range [{start}:{size}]")
        return _bytes_slice(s, start)
    if start > end:
        raise FuncError(f"runtime error: slice bounds out of range [{start}:{end}]")
    return _bytes_slice(s, start, end)


def _check(ctx: FuncContext, size: int, what: str) -> None:
    if size > ctx.max_len:
        raise LimitError(
            f"the result of {what} exceeds the output limit of {ctx.max_len} characters (max_output)"
        )


def _repeat(ctx: FuncContext, count: int, s: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    _check(ctx, count * len(s), "repeat")
    return s * count


def _replace(ctx: FuncContext, old: str, new: str, src: str) -> str:
    count = src.count(old) if old else len(src) + 1
    _check(ctx, len(src) + count * (len(new) - len(old)), "replace")
    return src.replace(old, new)


def _indent(ctx: FuncContext, spaces: int, s: str, lead: str = "") -> str:
    spaces = max(spaces, 0)
    _check(ctx, len(lead) + len(s) + (s.count("\n") + 1) * spaces, "indent")
    pad = " " * spaces
    return lead + pad + s.replace("\n", "\n" + pad)


def _join(ctx: FuncContext, sep: str, value: Any) -> str:
    parts = _strslice(value)
    _check(ctx, sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0), "join")
    return sep.join(parts)


def _split_list(sep: str, s: str) -> list[Any]:
    return list(s) if sep == "" else list(s.split(sep))


def _dict(*args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        out[strval(args[i])] = args[i + 1] if i + 1 < len(args) else ""
    return out


def _b64dec(s: str) -> str:
    try:
        return base64.b64decode(s.encode("utf-8", "replace"), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        bad = next(
            (i for i, ch in enumerate(s) if not (ch.isascii() and (ch.isalnum() or ch in "+/="))), len(s)
        )
        return f"illegal base64 data at input byte {bad}"


def _first_last(value: Any, last: bool) -> Any:
    if isinstance(value, list):
        return (value[-1] if last else value[0]) if value else None
    raise FuncError(f"Cannot find {'last' if last else 'first'} on type {go_type_name(value)}")


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None or haystack is NO_VALUE:
        return False
    if not isinstance(haystack, list):
        raise FuncError(f"Cannot find has on type {go_type_name(haystack)}")
    return any(type(item) is type(needle) and item == needle for item in haystack)


def _empty(value: Any) -> bool:
    return not truth(value)


def _default(d: Any, *given: Any) -> Any:
    return d if not given or _empty(given[0]) else given[0]


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not _empty(v)), None)


def _regex(pattern: str) -> Any:
    try:
        return re2.compile(pattern)
    except Exception as exc:  # re2 raises its own error type
        raise FuncError(f"error parsing regexp: {exc}") from None


def _date(layout: str, t: Any) -> str:
    if isinstance(t, int | float) and not isinstance(t, bool) and abs(t) < 1e11:
        t = GoTime(int(t) * 1_000_000_000)
    if not isinstance(t, GoTime):
        raise FuncError(f"date needs a time.Time or Unix seconds, got {go_type_name(t)}")
    return t.format(layout)


@dataclass(frozen=True)
class GoFunc:
    """A function callable from a template. `params` are the kinds of the fixed parameters and `variadic` the
    kind of the rest (None: no more); kinds are "any", "string", "int", "map". `fn` takes the FuncContext
    first when `ctx` is true."""

    fn: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: str | None = None
    ctx: bool = False


def _f(fn: Callable[..., Any], *params: str, variadic: str | None = None, ctx: bool = False) -> GoFunc:
    return GoFunc(fn, tuple(params), variadic, ctx)


def _html(ctx: FuncContext, *args: Any) -> str:
    s = _eval_args(ctx, args, "html")
    _check(ctx, len(s) * 5, "html")
    rep = {"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\0": "\ufffd"}
    return "".join(rep.get(ch, ch) for ch in s)


def _js(ctx: FuncContext, *args: Any) -> str:
    s = _eval_args(ctx, args, "js")
    _check(ctx, len(s) * 10, "js")
    rep = {
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
        "<": "\\u003C",
        ">": "\\u003E",
        "&": "\\u0026",
        "=": "\\u003D",
    }
    out = []
    for ch in s:
        if ch in rep:
            out.append(rep[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u00{ord(ch):02X}")
        elif ord(ch) >= 0x80 and not ch.isprintable():
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _eval_args(ctx: FuncContext, args: tuple[Any, ...], what: str) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(ctx, list(args), what)


def _urlquery(ctx: FuncContext, *args: Any) -> str:
    s = _eval_args(ctx, args, "urlquery")
    _check(ctx, len(s) * 9, "urlquery")
    return urllib.parse.quote_plus(s, safe="~", errors="replace")


def _go_index(item: Any, *indexes: Any) -> Any:
    for index in indexes:
        if item is None or item is NO_VALUE:
            raise FuncError("index of untyped nil")
        if isinstance(item, dict):
            if not isinstance(index, str):
                raise FuncError(f"value has type {go_type_name(index)}; should be string")
            item = item.get(index)
            continue
        if not isinstance(item, list | str):
            raise FuncError(f"can't index item of type {go_type_name(item)}")
        if index is None or index is NO_VALUE:
            raise FuncError("cannot index slice/array with nil")
        if not isinstance(index, int) or isinstance(index, bool):
            raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
        seq: Any = item.encode("utf-8", "replace") if isinstance(item, str) else item
        if not 0 <= index < len(seq):
            raise FuncError(f"index out of range: {index}")
        item = seq[index]
    return item


def _go_slice(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, list | str):
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    if len(indexes) > 3 or (len(indexes) == 3 and isinstance(item, str)):
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    seq: Any = item.encode("utf-8", "replace") if isinstance(item, str) else item
    bounds = [0, len(seq)]
    for i, index in enumerate(indexes[:2]):
        if not isinstance(index, int) or isinstance(index, bool):
            raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
        if not 0 <= index <= len(seq):
            raise FuncError(f"index out of range: {index}")
        bounds[i] = index
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    out = seq[bounds[0] : bounds[1]]
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else out


def _go_len(item: Any) -> int:
    if item is None or item is NO_VALUE:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "replace"))
    if isinstance(item, list | dict):
        return len(item)
    raise FuncError(f"len of type {go_type_name(item)}")


def _keys(*maps: Mapping[str, Any]) -> list[Any]:
    # Go returns keys in map order, which is random; sorted is the one order a test can rely on.
    return sorted({k for m in maps for k in m})


#: name → function. `and`, `or` and `call` are evaluated by the executor (they need unevaluated arguments or
#: the render's limits) and appear here only so the parser knows them.
FUNCS: dict[str, GoFunc] = {
    # text/template built-ins
    "and": _f(lambda *a: a, "any", variadic="any"),
    "or": _f(lambda *a: a, "any", variadic="any"),
    "call": _f(lambda *a: a, "any", variadic="any"),
    "not": _f(lambda v: not truth(v), "any"),
    "len": _f(_go_len, "any"),
    "index": _f(_go_index, "any", variadic="any"),
    "slice": _f(_go_slice, "any", variadic="any"),
    "print": _f(lambda c, *a: _sprint(c, list(a), "print"), variadic="any", ctx=True),
    "println": _f(lambda c, *a: _sprint(c, list(a), "println", True), variadic="any", ctx=True),
    "printf": _f(lambda c, f, *a: go_sprintf(c, f, list(a)), "string", variadic="any", ctx=True),
    "html": _f(_html, variadic="any", ctx=True),
    "js": _f(_js, variadic="any", ctx=True),
    "urlquery": _f(_urlquery, variadic="any", ctx=True),
    "eq": _f(go_eq, "any", variadic="any"),
    "ne": _f(lambda a, b: not go_eq(a, b), "any", "any"),
    "lt": _f(go_lt, "any", "any"),
    "le": _f(lambda a, b: go_lt(a, b) or go_eq(a, b), "any", "any"),
    "gt": _f(lambda a, b: not (go_lt(a, b) or go_eq(a, b)), "any", "any"),
    "ge": _f(lambda a, b: not go_lt(a, b), "any", "any"),
    # Sprig: strings
    "toString": _f(strval, "any"),
    "upper": _f(lambda s: _go_upper(s, True), "string"),
    "lower": _f(lambda s: _go_upper(s, False), "string"),
    "title": _f(_title, "string"),
    "trim": _f(lambda s: s.strip(_GO_SPACE), "string"),
    "trimAll": _f(lambda cut, s: s.strip(cut), "string", "string"),
    "trimSuffix": _f(lambda suf, s: s[: -len(suf)] if suf and s.endswith(suf) else s, "string", "string"),
    "trimPrefix": _f(lambda pre, s: s[len(pre) :] if s.startswith(pre) else s, "string", "string"),
    "trunc": _f(_trunc, "int", "string"),
    "substr": _f(_substr, "int", "int", "string"),
    "repeat": _f(_repeat, "int", "string", ctx=True),
    "replace": _f(_replace, "string", "string", "string", ctx=True),
    "indent": _f(_indent, "int", "string", ctx=True),
    "nindent": _f(lambda c, n, s: _indent(c, n, s, "\n"), "int", "string", ctx=True),
    "nospace": _f(lambda s: "".join(ch for ch in s if ch not in _GO_SPACE), "string"),
    "contains": _f(lambda sub, s: sub in s, "string", "string"),
    "hasPrefix": _f(lambda pre, s: s.startswith(pre), "string", "string"),
    "hasSuffix": _f(lambda suf, s: s.endswith(suf), "string", "string"),
    "quote": _f(lambda *a: " ".join(go_quote(strval(v)) for v in a if v is not None), variadic="any"),
    "squote": _f(lambda *a: " ".join(f"'{strval(v)}'" for v in a if v is not None), variadic="any"),
    "cat": _f(
        lambda c, *a: _sprint(c, [v for v in a if v is not None], "cat", True)[:-1], variadic="any", ctx=True
    ),
    "join": _f(_join, "string", "any", ctx=True),
    "split": _f(lambda sep, s: {f"_{i}": p for i, p in enumerate(_split_list(sep, s))}, "string", "string"),
    "splitList": _f(_split_list, "string", "string"),
    "sortAlpha": _f(lambda v: sorted(_strslice(v)), "any"),
    "b64enc": _f(lambda s: base64.b64encode(s.encode("utf-8", "replace")).decode("ascii"), "string"),
    "b64dec": _f(_b64dec, "string"),
    "sha256sum": _f(lambda s: hashlib.sha256(s.encode("utf-8", "replace")).hexdigest(), "string"),
    "regexMatch": _f(lambda r, s: _regex(r).search(s) is not None, "string", "string"),
    "regexFind": _f(lambda r, s: m.group(0) if (m := _regex(r).search(s)) else "", "string", "string"),
    # Sprig: defaults and flow
    "default": _f(_default, "any", variadic="any"),
    "empty": _f(_empty, "any"),
    "coalesce": _f(_coalesce, variadic="any"),
    "ternary": _f(lambda t, f, cond: t if cond else f, "any", "any", "bool"),
    "fail": _f(lambda msg: (_ for _ in ()).throw(FuncError(msg)), "string"),
    # Sprig: lists and dicts
    "list": _f(lambda *a: list(a), variadic="any"),
    "first": _f(lambda v: _first_last(v, False), "any"),
    "last": _f(lambda v: _first_last(v, True), "any"),
    "has": _f(_has, "any", "any"),
    "dict": _f(_dict, variadic="any"),
    "get": _f(lambda d, k: d.get(k, ""), "map", "string"),
    "hasKey": _f(lambda d, k: k in d, "map", "string"),
    "keys": _f(_keys, variadic="map"),
    # Sprig: JSON
    "toJson": _f(lambda c, v: _to_json(c, v), "any", ctx=True),
    "toRawJson": _f(lambda c, v: _to_json(c, v, html=False), "any", ctx=True),
    "toPrettyJson": _f(lambda c, v: _to_json(c, v, indent="  "), "any", ctx=True),
    # Sprig: numbers (int64 arithmetic, as Sprig's)
    "add": _f(lambda *a: _wrap64(sum(map(to_int64, a))), variadic="any"),
    "add1": _f(lambda a: _wrap64(to_int64(a) + 1), "any"),
    "sub": _f(lambda a, b: _wrap64(to_int64(a) - to_int64(b)), "any", "any"),
    "mul": _f(lambda a, *v: _mul(a, v), "any", variadic="any"),
    "div": _f(_div, "any", "any"),
    "mod": _f(_mod, "any", "any"),
    "max": _f(lambda a, *v: max(map(to_int64, (a, *v))), "any", variadic="any"),
    "min": _f(lambda a, *v: min(map(to_int64, (a, *v))), "any", variadic="any"),
    "int": _f(to_int64, "any"),
    "int64": _f(to_int64, "any"),
    "atoi": _f(lambda s: to_int64(s) if re.fullmatch(r"[+-]?\d+", s) else 0, "string"),
    "float64": _f(to_float64, "any"),
    "floor": _f(lambda v: float(math.floor(f)) if math.isfinite(f := to_float64(v)) else f, "any"),
    "ceil": _f(lambda v: float(math.ceil(f)) if math.isfinite(f := to_float64(v)) else f, "any"),
    # Sprig: dates (on the engine's time values; there is no `now`: the clock is `time.Now`)
    "date": _f(_date, "string", "any"),
    "unixEpoch": _f(lambda t: str(_want(t, GoTime, "time.Time").unix_ns // 1_000_000_000), "any"),
}


def _mul(a: Any, rest: tuple[Any, ...]) -> int:
    val = to_int64(a)
    for b in rest:
        val = _wrap64(val * to_int64(b))
    return val
