"""Built-in functions of the condition language, with expr-lang's meaning (docs/semantics/analysis.md#condition-language).

Used by `conditions` (the evaluator) only: plain Python callables registered by name, each checking its
arguments (errors name the function and the Go type it got) and paying for its work from the evaluation
budget (`condops.charge`: one step per element scanned, copied or built; `check_size` before building a
list or string). Argo's helpers are here too, without the two upstream quirks: ``isNil(x)`` and
``default(x, d)`` look at x. The time functions (``now date duration timezone``) live in `condtime`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from analysis import condregex
from analysis.condops import (
    ConditionError,
    charge,
    check_size,
    go_type_name,
    is_number,
    mismatch,
    runtime_mismatch,
)
from analysis.condtime import TIME_FUNCTIONS, format_time
from analysis.durations import format_go_duration

__all__ = ["FUNCTIONS", "go_string"]


# --- functions -----------------------------------------------------------------------------------


def _seq(value: Any, fn: str) -> list[Any] | tuple[Any, ...]:
    """The array argument of `fn`, charged one step per element (every caller scans it)."""
    if isinstance(value, list | tuple):
        charge(len(value))
        return value
    raise ConditionError(f"{fn}: cannot iterate {go_type_name(value)}")


def _numbers(values: list[Any] | tuple[Any, ...], fn: str) -> list[int | float] | tuple[int | float, ...]:
    for v in values:
        if not is_number(v):
            raise ConditionError(f"{fn}: invalid argument of type {go_type_name(v)}")
    return values


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise ConditionError(f"invalid argument for len (type {go_type_name(value)})")


def _abs(value: Any) -> Any:
    if not is_number(value):
        raise ConditionError(f"invalid argument for abs (type {go_type_name(value)})")
    return abs(value)


def _extreme(fn: str, pick: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(*args: Any) -> Any:
        values = _seq(args[0], fn) if len(args) == 1 and isinstance(args[0], list | tuple) else args
        if not values:
            raise ConditionError(f"not enough arguments to call {fn}")
        return pick(_numbers(values, fn))

    return extreme


def _sum(values: Any) -> Any:
    return sum(_numbers(_seq(values, "sum"), "sum"))


def _mean(values: Any) -> float:
    items = _numbers(_seq(values, "mean"), "mean")
    return float(sum(items)) / len(items) if items else 0.0


def _median(values: Any) -> float:
    items = _numbers(_seq(values, "median"), "median")
    charge(len(items) * max(1, len(items).bit_length()))  # it sorts
    return float(median(items)) if items else 0.0


def _first(values: Any) -> Any:
    if not isinstance(values, list | tuple):
        raise ConditionError(f"first: cannot iterate {go_type_name(values)}")
    return values[0] if values else None


def _last(values: Any) -> Any:
    if not isinstance(values, list | tuple):
        raise ConditionError(f"last: cannot iterate {go_type_name(values)}")
    return values[-1] if values else None


_INT64 = range(-(2**63), 2**63)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ConditionError("invalid operation: int(bool)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf):
            raise ConditionError(f"cannot convert {value} to int")
        return int(value)
    if isinstance(value, str):
        return _parse_int(value, "strconv.Atoi")
    raise ConditionError(f"invalid operation: int({go_type_name(value)})")


_GO_INT = re.compile(r"[+-]?[0-9]+")


def _parse_int(text: str, fn: str) -> int:
    """Go's base-10 ParseInt/Atoi into int64: the same two errors (syntax, range)."""
    charge(len(text) // 8)
    if not _GO_INT.fullmatch(text):
        raise ConditionError(f'{fn}: parsing "{text}": invalid syntax')
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 19 or int(text) not in _INT64:
        raise ConditionError(f'{fn}: parsing "{text}": value out of range')
    return int(text)


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)


def _parse_float(text: str) -> float:
    charge(len(text) // 8)
    if not _GO_FLOAT.fullmatch(text):
        raise ConditionError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    return float(text)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ConditionError("invalid operation: float(bool)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return _parse_float(value)
    raise ConditionError(f"invalid operation: float({go_type_name(value)})")


def _as_int(value: Any) -> int:
    """Argo ``asInt``: float → truncated, int → int, string → base-10 integer, else an error."""
    if isinstance(value, bool):
        raise ConditionError(f"asInt() not supported on bool {str(value).lower()}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf):
            raise ConditionError(f"asInt() cannot convert {go_string(value)} to int")
        return int(value)
    if isinstance(value, str):
        return _parse_int(value, "strconv.ParseInt")
    raise ConditionError(f"asInt() not supported on {go_type_name(value)} {go_string(value)}")


def _as_float(value: Any) -> float:
    """Argo ``asFloat``: numbers → float, string → ParseFloat, else an error."""
    if isinstance(value, bool):
        raise ConditionError(f"asFloat() not supported on bool {str(value).lower()}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return _parse_float(value)
    raise ConditionError(f"asFloat() not supported on {go_type_name(value)} {go_string(value)}")


def _float_arg(value: Any, fn: str) -> float:
    if not is_number(value):
        raise ConditionError(f"{fn}: expected a number, got {go_type_name(value)}")
    return float(value)


def _is_nan(value: Any) -> bool:
    return math.isnan(_float_arg(value, "isNaN"))


def _is_inf(value: Any) -> bool:
    return math.isinf(_float_arg(value, "isInf"))


def _default(value: Any, fallback: Any) -> Any:
    """``default(x, d)``: d when x is nil, else x (upstream ignores x and looks at result: not copied)."""
    return fallback if value is None else value


def _is_nil(value: Any) -> bool:
    """``isNil(x)``: x is nil (upstream ignores x and looks at result: not copied)."""
    return value is None


def go_string(value: Any) -> str:
    """Go's %v rendering of a value (``string()`` and messages), charged one step per element rendered."""
    charge(1)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (math.inf, -math.inf):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value).removesuffix(".0") if value == int(value) and abs(value) < 1e21 else repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{go_string(k)}:{go_string(v)}" for k, v in items) + "]"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, timedelta):
        return format_go_duration(value)
    if isinstance(value, str):
        charge(len(value) // 64)
    return str(value)


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = go_string(value)
    check_size(len(text), "string")
    return text


def _rounding(fn: str, op: Callable[[float], float]) -> Callable[[Any], float]:
    def rounding(value: Any) -> float:
        x = _float_arg(value, fn)
        return x if math.isnan(x) or math.isinf(x) else float(op(x))

    return rounding


def _str_fn(fn: str, op: Callable[[str], str]) -> Callable[[Any], str]:
    def string_fn(value: Any) -> str:
        if not isinstance(value, str):
            raise ConditionError(f"{fn}: expected a string, got {go_type_name(value)}")
        charge(len(value) // 8)
        return op(value)

    return string_fn


def _keys(value: Any) -> list[Any]:
    if not isinstance(value, dict):
        raise ConditionError(f"keys: expected a map, got {go_type_name(value)}")
    check_size(len(value))
    return list(value)


def _values(value: Any) -> list[Any]:
    if not isinstance(value, dict):
        raise ConditionError(f"values: expected a map, got {go_type_name(value)}")
    check_size(len(value))
    return list(value.values())


def _sort(value: Any) -> list[Any]:
    """expr-lang ``sort``: an array of numbers or of strings, ascending."""
    items = _seq(value, "sort")
    if not (all(is_number(v) for v in items) or all(isinstance(v, str) for v in items)):
        raise ConditionError("sort: elements are not comparable (numbers or strings only)")
    check_size(len(items))
    charge(len(items) * len(items).bit_length())
    return sorted(items)


def _truth(value: Any, fn: str) -> bool:
    if not isinstance(value, bool):
        raise ConditionError(f"{fn}: predicate must return bool, got {go_type_name(value)}")
    return value


def _pred(fn: str) -> Callable[..., Any]:
    def apply(values: Any, predicate: Callable[..., Any] | None = None) -> Any:
        items = _seq(values, fn)
        if predicate is None:  # Python style: all([...]) / any([...])
            if fn == "all":
                return all(bool(v) for v in items)
            if fn == "any":
                return any(bool(v) for v in items)
            if fn == "count":
                return sum(1 for v in items if v)
            raise ConditionError(f"not enough arguments to call {fn}")
        if fn == "map":
            return [predicate(v, i) for i, v in enumerate(items)]
        if fn == "filter":
            return [v for i, v in enumerate(items) if _truth(predicate(v, i), fn)]
        if fn in ("find", "findIndex"):
            for i, v in enumerate(items):
                if _truth(predicate(v, i), fn):
                    return v if fn == "find" else i
            return None if fn == "find" else -1
        if fn in ("findLast", "findLastIndex"):
            for i in range(len(items) - 1, -1, -1):
                if _truth(predicate(items[i], i), fn):
                    return items[i] if fn == "findLast" else i
            return None if fn == "findLast" else -1
        if fn == "all":
            return all(_truth(predicate(v, i), fn) for i, v in enumerate(items))
        if fn == "any":
            return any(_truth(predicate(v, i), fn) for i, v in enumerate(items))
        if fn == "none":
            return not any(_truth(predicate(v, i), fn) for i, v in enumerate(items))
        matches = sum(1 for i, v in enumerate(items) if _truth(predicate(v, i), fn))
        return matches == 1 if fn == "one" else matches  # one / count

    return apply


def _str_op(symbol: str, op: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def string_op(a: Any, b: Any) -> bool:
        if not (isinstance(a, str) and isinstance(b, str)):
            raise runtime_mismatch(symbol, a, b)
        charge(len(a) // 64)
        return op(a, b)

    return string_op


def _matches(subject: Any, pattern: Any) -> bool:
    """expr-lang ``matches``: Go's regexp.MatchString, on RE2 (see `condregex`)."""
    if not (isinstance(subject, str) and isinstance(pattern, str)):
        raise runtime_mismatch("matches", subject, pattern)
    return condregex.search(pattern, subject)


def _range(a: Any, b: Any) -> list[int]:
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise mismatch("..", a, b)
    check_size(max(0, b - a + 1))
    return list(range(a, b + 1))


def _get_optional(container: Any, key: Any) -> Any:
    if container is None:
        return None
    if isinstance(container, dict):
        return container.get(key)
    raise ConditionError(f"cannot fetch {key!r} from {go_type_name(container)}")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "abs": _abs,
    "min": _extreme("min", min),
    "max": _extreme("max", max),
    "sum": _sum,
    "mean": _mean,
    "median": _median,
    "first": _first,
    "last": _last,
    "int": _to_int,
    "float": _to_float,
    "string": _string,
    "str": _string,
    "round": _rounding("round", lambda x: math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)),
    "ceil": _rounding("ceil", math.ceil),
    "floor": _rounding("floor", math.floor),
    "upper": _str_fn("upper", str.upper),
    "lower": _str_fn("lower", str.lower),
    "trim": _str_fn("trim", str.strip),
    "keys": _keys,
    "values": _values,
    "sort": _sort,
    **{name: _pred(name) for name in ("all", "any", "none", "one", "filter", "map", "count", "find",
                                        "findIndex", "findLast", "findLastIndex")},
    "isNaN": _is_nan,
    "isInf": _is_inf,
    "asInt": _as_int,
    "asFloat": _as_float,
    "default": _default,
    "isNil": _is_nil,
    # operators spelled as words in expr-lang; the names cannot be typed by users
    "@contains": _str_op("contains", lambda a, b: b in a),
    "@startsWith": _str_op("startsWith", str.startswith),
    "@endsWith": _str_op("endsWith", str.endswith),
    "@matches": _matches,
    "@range": _range,
    "@getOptional": _get_optional,
    **TIME_FUNCTIONS,
}  # fmt: skip
