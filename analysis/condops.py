"""Operators of the condition language, its error types and its evaluation budget, with expr-lang's meaning.

Used by `conditions` (the evaluator), `condfuncs` (the built-in functions) and `condtypes` (the type check).
Operators behave as expr-lang's runtime does (github.com/expr-lang/expr vm/runtime, the engine behind Argo's
utils/evaluate/evaluate.go): ``==`` compares numbers across int and float64 and is false between values of
different kinds, ordering is defined on numbers, strings, times and durations only, ``/`` is float division
with Go's ±Inf/NaN for a zero divisor, ``%`` truncates toward zero, ``+ - *`` on ints wrap at 64 bits as Go's
int does, ``**``/``^`` is computed in floating point, ``+`` joins strings (not arrays) and sequences cannot
be repeated with ``*``.

Every piece of work an expression can cause is paid for from one `Budget` of steps (one per tree node
evaluated, one per element built, copied, compared or scanned), and no single list or string may grow past
`MAX_COLLECTION` elements: the two bounds keep any expression within a few tens of milliseconds of CPU and a
few megabytes of memory, whatever its length or nesting.
"""

from __future__ import annotations

import ast
import math
import operator
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final, NoReturn

__all__ = [
    "MAX_COLLECTION",
    "MAX_STEPS",
    "OPERATORS",
    "Budget",
    "BudgetExceeded",
    "ConditionError",
    "active_budget",
    "charge",
    "check_size",
    "expr_equal",
    "go_type_name",
    "is_number",
    "mismatch",
    "runtime_mismatch",
]

MAX_STEPS: Final = 100_000
"""Steps one evaluation may take (tree nodes evaluated plus elements built, copied, compared or scanned)."""
MAX_COLLECTION: Final = 10_000
"""Largest list or string (elements or characters) an expression may build."""

_INT64_MIN: Final = -(2**63)
_INT64_SPAN: Final = 2**64


class ConditionError(ValueError):
    """A condition that does not compile or evaluate; the message is expr-lang-like (no position)."""


class BudgetExceeded(ConditionError):
    """The evaluation ran out of steps or would build a collection past the size limit."""


class Budget:
    """The steps left to one evaluation; `spend` raises `BudgetExceeded` when they run out."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int = MAX_STEPS) -> None:
        self.limit = limit
        self.left = limit

    def reset(self) -> None:
        self.left = self.limit

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            self.exceeded()

    def exceeded(self) -> NoReturn:
        raise BudgetExceeded(f"exceeded the evaluation budget of {self.limit} steps")


_state = threading.local()


def active_budget(budget: Budget | None) -> Budget | None:
    """Make `budget` the one `charge` spends from on this thread; return the previous one."""
    previous: Budget | None = getattr(_state, "budget", None)
    _state.budget = budget
    return previous


def charge(steps: int) -> None:
    """Spend `steps` from the evaluation running on this thread (none running: free, e.g. in lint)."""
    budget: Budget | None = getattr(_state, "budget", None)
    if budget is not None:
        budget.spend(steps)


def check_size(size: int, what: str = "list") -> None:
    """Refuse, before building it, a list or string larger than MAX_COLLECTION; charge its size."""
    if size > MAX_COLLECTION:
        unit = "characters" if what == "string" else "elements"
        raise BudgetExceeded(f"would build a {what} of more than {MAX_COLLECTION} {unit}")
    charge(size)


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
    if isinstance(value, datetime):
        return "time.Time"
    if isinstance(value, timedelta):
        return "time.Duration"
    if isinstance(value, tzinfo):
        return "*time.Location"
    if callable(value):
        return "func"
    return type(value).__name__


def mismatch(symbol: str, a: Any, b: Any) -> ConditionError:
    """expr-lang's compile-time type error (checker.go) for operands of known, incompatible types."""
    return ConditionError(
        f"invalid operation: {symbol} (mismatched types {go_type_name(a)} and {go_type_name(b)})"
    )


def runtime_mismatch(symbol: str, a: Any, b: Any) -> ConditionError:
    """expr-lang's run-time panic (vm/runtime) for operands whose types were unknown until evaluation."""
    return ConditionError(f"invalid operation: {go_type_name(a)} {symbol} {go_type_name(b)}")


_NUMBER_TYPES: Final = frozenset({int, float})
_SEQUENCE_TYPES: Final = frozenset({list, tuple})


def is_number(v: Any) -> bool:
    return type(v) in _NUMBER_TYPES or (isinstance(v, int | float) and not isinstance(v, bool))


def _wrap(value: int) -> int:
    """Go's int is 64 bits and wraps silently; this also keeps integers small whatever the expression."""
    return (value - _INT64_MIN) % _INT64_SPAN + _INT64_MIN if not -(2**63) <= value < 2**63 else value


def expr_equal(a: Any, b: Any) -> bool:
    """expr-lang's runtime ``==`` (vm/runtime Equal): numbers across int/float64, arrays element-wise,
    maps deeply; values of different kinds are unequal (never an error here). Charged per element."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES:
        return tb in _NUMBER_TYPES and bool(a == b)
    if ta is str:
        if tb is not str:
            return False
        charge(min(len(a), len(b)) // 64)
        return bool(a == b)
    if ta in _SEQUENCE_TYPES:
        if tb not in _SEQUENCE_TYPES or len(a) != len(b):
            return False
        charge(len(a))
        return all(expr_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        if tb is not dict or a.keys() != b.keys():
            return False
        charge(len(a))
        return all(expr_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return ta is tb and bool(a == b)


def _ordering(symbol: str, fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if (
            (type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES)
            or (isinstance(a, timedelta) and isinstance(b, timedelta))
            or (isinstance(a, datetime) and isinstance(b, datetime))
        ):
            return fn(a, b)
        if isinstance(a, str) and isinstance(b, str):
            charge(min(len(a), len(b)) // 64)
            return fn(a, b)
        raise runtime_mismatch(symbol, a, b)

    return compare


def _add(a: Any, b: Any) -> Any:
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        total = a + b
        return _wrap(total) if type(total) is int else total
    if isinstance(a, str) and isinstance(b, str):
        check_size(len(a) + len(b), "string")
        return a + b
    if (isinstance(a, datetime) and isinstance(b, timedelta)) or (
        isinstance(a, timedelta) and isinstance(b, datetime)
    ):
        return _time_arith(operator.add, a, b)
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return _time_arith(operator.add, a, b)
    raise runtime_mismatch("+", a, b)


def _sub(a: Any, b: Any) -> Any:
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        difference = a - b
        return _wrap(difference) if type(difference) is int else difference
    if isinstance(a, datetime) and isinstance(b, datetime | timedelta):
        return _time_arith(operator.sub, a, b)
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return _time_arith(operator.sub, a, b)
    raise runtime_mismatch("-", a, b)


def _mul(a: Any, b: Any) -> Any:
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        product = a * b
        return _wrap(product) if type(product) is int else product
    if (isinstance(a, timedelta) and is_number(b)) or (is_number(a) and isinstance(b, timedelta)):
        return _time_arith(operator.mul, a, b)
    raise runtime_mismatch("*", a, b)


def _time_arith(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    try:
        return op(a, b)
    except OverflowError:
        raise ConditionError("time value out of range") from None


def _div(a: Any, b: Any) -> float:
    """expr-lang ``/`` is always float division; x/0 is ±Inf or NaN as in Go."""
    if not (is_number(a) and is_number(b)):
        raise runtime_mismatch("/", a, b)
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * (math.copysign(1.0, b))
    return float(a) / float(b)


def _mod(a: Any, b: Any) -> Any:
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise runtime_mismatch("%", a, b)
    if b == 0:
        raise ConditionError("integer divide by zero")
    remainder = abs(a) % abs(b)  # Go's % truncates toward zero: the sign follows the dividend
    return remainder if a >= 0 else -remainder


def _floordiv(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)):
        raise runtime_mismatch("//", a, b)
    if b == 0:
        raise ConditionError("integer divide by zero")
    return a // b


def _pow(a: Any, b: Any) -> float:
    """expr-lang ``**``/``^`` is math.Pow on float64: never a huge integer."""
    if not (is_number(a) and is_number(b)):
        raise runtime_mismatch("**", a, b)
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _contains(container: Any, item: Any) -> bool:
    """expr-lang ``in``: an element of an array (runtime ``==``), a key of a map."""
    if isinstance(container, list | tuple):
        return any(expr_equal(item, v) for v in container)
    if isinstance(container, dict):
        try:
            return item in container
        except TypeError:  # an unhashable key (a list or a map) is in no map
            return False
    if isinstance(container, str) and isinstance(item, str):
        charge(len(container) // 64)
        return item in container
    if container is None:
        return False
    raise runtime_mismatch("in", item, container)


def _neg(a: Any) -> Any:
    if is_number(a):
        return _wrap(-a) if isinstance(a, int) else -a
    if isinstance(a, timedelta):
        return -a
    raise ConditionError(f"invalid operation: - (mismatched type {go_type_name(a)})")


def _pos(a: Any) -> Any:
    if is_number(a) or isinstance(a, timedelta):
        return a
    raise ConditionError(f"invalid operation: + (mismatched type {go_type_name(a)})")


def _is(x: Any, y: Any) -> bool:
    return x is y if (x is None or y is None) else expr_equal(x, y)


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: _div,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
    ast.Pow: _pow,
    ast.Eq: expr_equal,
    ast.NotEq: lambda a, b: not expr_equal(a, b),
    ast.Gt: _ordering(">", lambda a, b: a > b),
    ast.Lt: _ordering("<", lambda a, b: a < b),
    ast.GtE: _ordering(">=", lambda a, b: a >= b),
    ast.LtE: _ordering("<=", lambda a, b: a <= b),
    ast.Not: lambda a: not a,
    ast.USub: _neg,
    ast.UAdd: _pos,
    ast.In: lambda x, y: _contains(y, x),
    ast.NotIn: lambda x, y: not _contains(y, x),
    ast.Is: _is,
    ast.IsNot: lambda x, y: not _is(x, y),
}
