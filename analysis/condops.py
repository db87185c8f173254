"""Operators of the condition language and its error type, with expr-lang's meaning (§b.2).

Used by `conditions` (the evaluator) and `condfuncs` (the built-in functions). Operators reject mismatched
types the way expr-lang does (``invalid operation: > (mismatched types string and float64)``) instead of
leaking Python's TypeError; ``/`` is float division with Go's ±Inf/NaN for a zero divisor, ``%`` truncates
toward zero, ``**``/``^`` is computed in floating point (so no expression can build a huge integer), and
sequences cannot be repeated with ``*``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "MAX_SEQUENCE_LENGTH",
    "OPERATORS",
    "ConditionError",
    "PredicateBudget",
    "go_type_name",
    "is_number",
    "mismatch",
]

MAX_SEQUENCE_LENGTH: Final = 100_000


class ConditionError(ValueError):
    """A condition that does not compile or evaluate; the message is expr-lang-like (no position)."""


def go_type_name(value: Any) -> str:
    """The Go type expr-lang would report for a value (``float64``, ``[]float64``, ``<nil>``…)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, float) for v in value):
            return "[]float64"
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if callable(value):
        return "func"
    return type(value).__name__


def mismatch(symbol: str, a: Any, b: Any) -> ConditionError:
    return ConditionError(
        f"invalid operation: {symbol} (mismatched types {go_type_name(a)} and {go_type_name(b)})"
    )


def _comparison(symbol: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compare(a: Any, b: Any) -> Any:
        if isinstance(a, bool) is not isinstance(b, bool) and symbol in ("<", ">", "<=", ">="):
            raise mismatch(symbol, a, b)
        try:
            return fn(a, b)
        except TypeError:
            raise mismatch(symbol, a, b) from None

    return compare


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _add(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return a + b
    if type(a) is type(b) and isinstance(a, str | list):
        if len(a) + len(b) > MAX_SEQUENCE_LENGTH:
            raise ConditionError("result of + is too long")
        return a + b
    raise mismatch("+", a, b)


def _arith(symbol: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def arith(a: Any, b: Any) -> Any:
        if not (is_number(a) and is_number(b)):
            raise mismatch(symbol, a, b)
        return fn(a, b)

    return arith


def _div(a: Any, b: Any) -> float:
    """expr-lang ``/`` is always float division; x/0 is ±Inf or NaN as in Go."""
    if not (is_number(a) and is_number(b)):
        raise mismatch("/", a, b)
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * (math.copysign(1.0, b))
    return float(a) / float(b)


def _mod(a: Any, b: Any) -> Any:
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise mismatch("%", a, b)
    if b == 0:
        raise ConditionError("integer divide by zero")
    remainder = abs(a) % abs(b)  # Go's % truncates toward zero: the sign follows the dividend
    return remainder if a >= 0 else -remainder


def _floordiv(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)):
        raise mismatch("//", a, b)
    if b == 0:
        raise ConditionError("integer divide by zero")
    return a // b


def _pow(a: Any, b: Any) -> float:
    """expr-lang ``**``/``^`` is math.Pow on float64: never a huge integer."""
    if not (is_number(a) and is_number(b)):
        raise mismatch("**", a, b)
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _contains(container: Any, item: Any) -> bool:
    try:
        return item in container
    except TypeError:
        raise mismatch("in", item, container) from None


def _neg(a: Any) -> Any:
    if not is_number(a):
        raise ConditionError(f"invalid operation: - (mismatched types {go_type_name(a)})")
    return -a


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _add,
    ast.Sub: _arith("-", operator.sub),
    ast.Mult: _arith("*", operator.mul),
    ast.Div: _div,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
    ast.Pow: _pow,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Gt: _comparison(">", operator.gt),
    ast.Lt: _comparison("<", operator.lt),
    ast.GtE: _comparison(">=", operator.ge),
    ast.LtE: _comparison("<=", operator.le),
    ast.Not: operator.not_,
    ast.USub: _neg,
    ast.UAdd: lambda a: _neg(_neg(a)),
    ast.In: lambda x, y: _contains(y, x),
    ast.NotIn: lambda x, y: not _contains(y, x),
    ast.Is: lambda x, y: x is y if (x is None or y is None) else x == y,
    ast.IsNot: lambda x, y: x is not y if (x is None or y is None) else x != y,
}


class PredicateBudget:
    """Caps the element evaluations of predicates in one condition (nested predicates multiply)."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def reset(self) -> None:
        self.left = self.limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ConditionError(f"expression exceeds its work limit ({self.limit} predicate evaluations)")
