"""The condition language: ``successCondition`` / ``failureCondition`` evaluated against a metric result.

Pure analysis core, called by `assess` for every measurement (docs/semantics/analysis.md#measurement-assessment). `exprlang` parses expr-lang or Python
syntax into a restricted Python AST; this module checks the names it uses, caches the compiled tree and
evaluates it with a simpleeval evaluator whose operators and functions carry expr-lang's meaning (docs/semantics/analysis.md#condition-language):

* ``result`` is the provider value shaped as docs/semantics/analysis.md#prometheus-results (float, list of floats, or JSON value for web);
* built-ins: ``len abs min max sum mean median first last int float string str round ceil floor upper
  lower trim keys values sort``, predicates ``all any none one filter map count find findIndex findLast
  findLastIndex``, and Argo's ``isNaN isInf asInt asFloat default isNil``. Unlike upstream (docs/semantics/analysis.md#condition-language quirk),
  ``isNil(x)`` and ``default(x, d)`` look at their argument ``x``;
* the result must be a bool, else ``expected bool, but got <Go type>``; unknown identifiers fail at compile
  time with ``unknown name X``; type mismatches read ``invalid operation: > (mismatched types string and
  float64)``.

* time functions ``now date duration timezone`` (`condtime`, Go layouts and locations) and ``matches`` on RE2
  (`condregex`, Go's regexp engine: linear time, Go's errors; a constant pattern is checked at compile time);
* operand types are checked before evaluation as expr-lang's checker does (`condtypes`): comparing a float64
  with a string is ``invalid operation: == (mismatched types float64 and string)``, never plain false.

Sandbox: no attribute access (member syntax reads map keys), no dunders, no imports, only whitelisted
functions, expressions capped at 4096 characters and 64 nesting levels, ``**`` computed in floating point
(no huge integers), no sequence repetition, and every evaluation bounded by one budget (`condops`): at most
MAX_STEPS steps (a node evaluated, an element built, copied, compared or scanned) and no list or string past
MAX_COLLECTION elements. A breach is a ConditionError naming the limit, so the measurement is Error (never
Successful or Failed); the slowest expression found takes ~25 ms of CPU (bench/conditions_bench.py).
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from simpleeval import EvalWithCompoundTypes

from analysis import condregex, condtime, condtypes, exprlang
from analysis.condfuncs import FUNCTIONS
from analysis.condops import (
    MAX_COLLECTION,
    MAX_STEPS,
    OPERATORS,
    Budget,
    ConditionError,
    active_budget,
    check_size,
    go_type_name,
)

__all__ = [
    "MAX_COLLECTION",
    "MAX_STEPS",
    "ConditionError",
    "check_syntax",
    "compile_condition",
    "evaluate_condition",
    "evaluate_expression",
    "go_type_name",
]


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with lambdas (predicates), expr-lang indexing and a step budget charged per node."""

    def __init__(self) -> None:
        super().__init__(operators=dict(OPERATORS), functions=dict(FUNCTIONS), names={})
        self.functions.pop("list", None)
        for name in ("tuple", "dict", "set"):
            self.functions.pop(name, None)
        self.nodes[ast.Lambda] = self._eval_lambda
        self.nodes[ast.Subscript] = self._eval_subscript_go
        self.nodes[ast.Call] = self._eval_call_checked
        self.nodes[ast.List] = self._eval_list_charged
        self.budget = Budget(MAX_STEPS)

    def _eval(self, node: ast.AST) -> Any:
        """One step per node: the parser builds only the node types registered here."""
        budget = self.budget
        budget.left -= 1
        if budget.left < 0:
            budget.exceeded()
        return self.nodes[type(node)](node)

    def _eval_list_charged(self, node: ast.List) -> list[Any]:
        check_size(len(node.elts))
        return [self._eval(item) for item in node.elts]

    def _eval_lambda(self, node: ast.Lambda) -> Callable[..., Any]:
        body = node.body
        names = self.names
        evaluate = self._eval

        def predicate(element: Any, index: int = 0) -> Any:
            saved = names.get("#"), names.get("#index")
            names["#"] = element
            names["#index"] = index
            try:
                return evaluate(body)
            finally:
                names["#"], names["#index"] = saved

        return predicate

    def _eval_call_checked(self, node: ast.Call) -> Any:
        """Call a built-in (names were checked at compile time); wrong arity is a clear error."""
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = [self._eval(a) for a in node.args]
        try:
            return self.functions[name](*args)
        except TypeError as e:
            if "positional argument" in str(e):
                shown = name.lstrip("@")
                raise ConditionError(f"wrong number of arguments for {shown}(): {len(args)}") from None
            raise

    def _eval_subscript_go(self, node: ast.Subscript) -> Any:
        container = self._eval(node.value)
        if isinstance(node.slice, ast.Slice):
            lower = self._eval(node.slice.lower) if node.slice.lower is not None else None
            upper = self._eval(node.slice.upper) if node.slice.upper is not None else None
            if not isinstance(container, list | str):
                raise ConditionError(f"cannot slice {go_type_name(container)}")
            for bound in (lower, upper):
                if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                    raise ConditionError(f"slice index must be int, got {go_type_name(bound)}")
            part = container[lower:upper]
            check_size(len(part), "string" if isinstance(part, str) else "list")
            return part
        key = self._eval(node.slice)
        if isinstance(container, dict):
            return container.get(key)  # expr-lang: a missing map key is nil
        if isinstance(container, list | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ConditionError(f"array index must be int, got {go_type_name(key)}")
            n = len(container)
            if not -n <= key < n:
                raise ConditionError(f"index out of range: {key} (array length is {n})")
            return container[key]
        raise ConditionError(f"cannot fetch {key!r} from {go_type_name(container)}")


_local = threading.local()


def _evaluator() -> _Evaluator:
    ev: _Evaluator | None = getattr(_local, "evaluator", None)
    if ev is None:
        ev = _Evaluator()
        _local.evaluator = ev
    return ev


_STRIP_POSITION = re.compile(r" at column \d+")


@lru_cache(maxsize=8192)
def _compile(expr: str, variables: frozenset[str] = frozenset({"result"})) -> ast.expr | str:
    """Compiled tree, or the compile error message (cached too: bad expressions are re-evaluated often).

    `variables`: the names the expression may read (`result` for analysis; `rollout`, … for notification
    triggers)."""
    try:
        parsed = exprlang.parse(expr)
    except exprlang.ExprSyntaxError as e:
        return str(e)
    for name in sorted(parsed.names):
        if name in FUNCTIONS:
            return f"{name} is a function: call it as {name}(...)"
        if name not in variables:
            return f"unknown name {name}"
    for name in sorted(parsed.calls):
        if name not in FUNCTIONS:
            return f"{name} is not a function" if name in variables else f"unknown name {name}"
    for node in ast.walk(parsed.tree):  # expr-lang compiles a constant `matches` pattern with the expression
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == exprlang.MATCHES
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            try:
                condregex.compile_regex(node.args[1].value)
            except ConditionError as e:
                return str(e)
    return parsed.tree


def compile_condition(expr: str) -> ast.expr:
    """Parse and check a condition (cached); raise ConditionError if it does not compile."""
    compiled = _compile(expr)
    if isinstance(compiled, str):
        raise ConditionError(compiled)
    return compiled


def check_syntax(expr: str) -> str | None:
    """For linting: the compile error message, or None when the condition compiles."""
    compiled = _compile(expr)
    if isinstance(compiled, str):
        return compiled
    return condtypes.check_any_result(compiled)  # errors every measurement would have, whatever its result


def evaluate_condition(expr: str, result: Any, *, now: Callable[[], datetime] | None = None) -> bool:
    """Evaluate a condition with ``result`` bound (docs/semantics/analysis.md#condition-language); raise ConditionError with an expr-lang message.

    ``now`` is the source of the expression's ``now()`` (default: the wall clock, as in Argo).
    """
    tree = compile_condition(expr)
    condtypes.check(expr, tree, result)
    ev = _evaluator()
    names = ev.names
    saved = names.get("result")
    names["result"] = result
    ev.budget.reset()
    previous_budget = active_budget(ev.budget)
    previous_clock = condtime.clock(now)
    try:
        value = ev._eval(tree)
    except ConditionError:
        raise
    except ZeroDivisionError:
        raise ConditionError("integer divide by zero") from None
    except RecursionError:
        raise ConditionError("expression too deeply nested") from None
    except MemoryError:
        raise ConditionError("expression ran out of memory") from None
    except Exception as e:
        raise ConditionError(_STRIP_POSITION.sub("", str(e)) or type(e).__name__) from None
    finally:
        names["result"] = saved
        active_budget(previous_budget)
        condtime.clock(previous_clock)
    if not isinstance(value, bool):
        raise ConditionError(f"expected bool, but got {go_type_name(value)}")
    return value


def evaluate_expression(expr: str, variables: dict[str, Any]) -> Any:
    """Evaluate an expression over named data (a notification trigger's `when` and `oncePer`: `rollout`, …),
    in the same sandbox and budget as conditions; raise ConditionError with an expr-lang message.

    No operand type check ahead of evaluation (the data has no fixed shape); mismatches fail as they happen."""
    compiled = _compile(expr, frozenset(variables))
    if isinstance(compiled, str):
        raise ConditionError(compiled)
    ev = _evaluator()
    names = ev.names
    saved = {k: names.get(k) for k in variables}
    names.update(variables)
    ev.budget.reset()
    previous_budget = active_budget(ev.budget)
    try:
        return ev._eval(compiled)
    except ConditionError:
        raise
    except ZeroDivisionError:
        raise ConditionError("integer divide by zero") from None
    except RecursionError:
        raise ConditionError("expression too deeply nested") from None
    except MemoryError:
        raise ConditionError("expression ran out of memory") from None
    except Exception as e:
        raise ConditionError(_STRIP_POSITION.sub("", str(e)) or type(e).__name__) from None
    finally:
        for k, v in saved.items():
            if v is None:
                names.pop(k, None)
            else:
                names[k] = v
        active_budget(previous_budget)
