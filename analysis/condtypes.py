"""Type check of a condition against its result, as expr-lang's checker does before Argo runs it.

Pure analysis core, called by `conditions.evaluate_condition` before evaluation. Argo compiles every
condition with ``expr.Env`` built from the measurement (utils/evaluate/evaluate.go), so expr-lang's checker
(checker/checker.go) knows the Go type of ``result`` — ``[]float64`` for a Prometheus vector, ``float64``
for a scalar, the JSON value's type for web — and of every function's output, and refuses operands of known,
incompatible types at compile time. That is why ``asFloat(result) == "1.1"`` is an Error measurement
(``invalid operation: == (mismatched types float64 and string)``) and not a Failed one. The rules here are
the checker's:

* ``==`` ``!=``: fine when either side is unknown (``interface {}``: a map value, an element of a JSON array)
  or nil, both are numbers (int vs float64 is fine), both times, both durations, both arrays, or the types
  are the same; otherwise mismatched;
* ``< > <= >=``: numbers, strings, times or durations, or unknown against one of those;
* ``+ - * / % **``: numbers (``%`` ints), strings for ``+``, time/duration arithmetic;
* ``&& || !`` need bools, ``- +`` numbers, a conditional's test a bool; predicates return bools;
* ``in``: an element type comparable to the array's, a key assignable to the map's;
* ``contains startsWith endsWith matches`` strings, ``..`` ints.

Where a type is unknown until evaluation, the evaluator's run-time rules apply (`condops`). Results of the
check are cached per expression and result type.
"""

from __future__ import annotations

import ast
import itertools
from functools import lru_cache
from typing import Any, Final

from analysis import exprlang
from analysis.condops import ConditionError, go_type_name

__all__ = ["check", "check_any_result", "nature_of"]

UNKNOWN: Final = "interface {}"
_NUMBERS: Final = frozenset({"int", "float64"})
_TIME, _DURATION = "time.Time", "time.Duration"
_ARITH: Final = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.Pow: "**",
                 ast.FloorDiv: "//"}  # fmt: skip
_COMPARE: Final = {ast.Eq: "==", ast.NotEq: "!=", ast.Is: "==", ast.IsNot: "!=", ast.Lt: "<", ast.Gt: ">",
                   ast.LtE: "<=", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in"}  # fmt: skip
_STRING_OPS: Final = {exprlang.CONTAINS: "contains", exprlang.STARTS_WITH: "startsWith",
                      exprlang.ENDS_WITH: "endsWith", exprlang.MATCHES: "matches"}  # fmt: skip
_BOOLEAN_PREDICATES: Final = frozenset({"all", "any", "none", "one", "filter", "count", "find", "findIndex",
                                         "findLast", "findLastIndex"})  # fmt: skip
_RETURNS: Final = {
    "len": "int", "int": "int", "asInt": "int", "count": "int", "findIndex": "int", "findLastIndex": "int",
    "float": "float64", "asFloat": "float64", "mean": "float64", "median": "float64", "round": "float64",
    "ceil": "float64", "floor": "float64",
    "string": "string", "str": "string", "upper": "string", "lower": "string", "trim": "string",
    "all": "bool", "any": "bool", "none": "bool", "one": "bool", "isNaN": "bool", "isInf": "bool",
    "isNil": "bool", **dict.fromkeys(_STRING_OPS, "bool"),
    "keys": "[]string", "values": "[]interface {}", "@range": "[]int",
    "now": _TIME, "date": _TIME, "duration": _DURATION, "timezone": "*time.Location",
}  # fmt: skip


def nature_of(value: Any) -> str:
    """The Go type expr-lang sees for a value in the environment."""
    return go_type_name(value)


def _elem(nature: str) -> str:
    if nature.startswith("[]"):
        return nature[2:]
    if nature.startswith("map["):
        return nature.partition("]")[2]
    return UNKNOWN


def _array(nature: str) -> bool:
    return nature.startswith("[]")


def _comparable(a: str, b: str) -> bool:
    return (
        UNKNOWN in (a, b)
        or "<nil>" in (a, b)
        or (a in _NUMBERS and b in _NUMBERS)
        or (_array(a) and _array(b))
        or a == b
    )


def _maybe(a: str, b: str, kinds: frozenset[str]) -> bool:
    """expr-lang's MaybeCompatible: one side unknown and the other of the given kinds (or both unknown)."""
    return (a == UNKNOWN and (b == UNKNOWN or b in kinds)) or (b == UNKNOWN and a in kinds)


def _mismatch(symbol: str, a: str, b: str) -> ConditionError:
    return ConditionError(f"invalid operation: {symbol} (mismatched types {a} and {b})")


def _binary(symbol: str, a: str, b: str) -> str:
    numbers = a in _NUMBERS and b in _NUMBERS
    if symbol in ("==", "!="):
        if _comparable(a, b):
            return "bool"
    elif symbol in ("<", ">", "<=", ">="):
        ordered = _NUMBERS | {"string", _TIME, _DURATION}
        if numbers or (a == b and a in ordered) or _maybe(a, b, ordered):
            return "bool"
    elif symbol in ("+", "-", "*", "//"):
        if numbers:
            return "int" if a == b == "int" else "float64"
        pairs = {("+", _TIME, _DURATION): _TIME, ("+", _DURATION, _TIME): _TIME, ("-", _TIME, _DURATION): _TIME,
                 ("+", _DURATION, _DURATION): _DURATION, ("-", _DURATION, _DURATION): _DURATION,
                 ("-", _TIME, _TIME): _DURATION, ("+", "string", "string"): "string",
                 ("*", _DURATION, _DURATION): _DURATION}  # fmt: skip
        if (symbol, a, b) in pairs:
            return pairs[(symbol, a, b)]
        if symbol == "*" and {a, b} & {_DURATION} and {a, b} & _NUMBERS:
            return _DURATION
        kinds = _NUMBERS | ({"string"} if symbol == "+" else set()) | {_TIME, _DURATION}
        if _maybe(a, b, frozenset(kinds)):
            return UNKNOWN
    elif symbol in ("/", "**"):
        if numbers or _maybe(a, b, _NUMBERS):
            return "float64"
    elif symbol == "%":
        if a == b == "int" or _maybe(a, b, frozenset({"int"})):
            return "int"
    elif symbol in ("in", "not in"):
        return _membership(a, b)
    elif symbol in _STRING_OPS.values():
        if a == b == "string" or _maybe(a, b, frozenset({"string"})):
            return "bool"
    elif symbol == ".." and (a == b == "int" or _maybe(a, b, frozenset({"int"}))):
        return "[]int"
    raise _mismatch(symbol, a, b)


def _membership(item: str, container: str) -> str:
    if container.startswith("map["):
        key = container[4:].partition("]")[0]
        if item not in (UNKNOWN, key, "<nil>"):
            raise ConditionError(f"cannot use {item} as type {key} in map key")
        return "bool"
    if _array(container):
        if not _comparable(item, _elem(container)):
            raise ConditionError(f"cannot use {item} as type {_elem(container)} in array")
        return "bool"
    if container == UNKNOWN or (item == UNKNOWN and container == "string"):
        return "bool"
    raise _mismatch("in", item, container)


class _Checker:
    def __init__(self, result: str) -> None:
        self.result = result
        self.pointers: list[str] = []

    def visit(self, node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            return "<nil>" if node.value is None else go_type_name(node.value)
        if isinstance(node, ast.Name):
            if node.id == "result":
                return self.result
            if node.id == "#index":
                return "int"
            return self.pointers[-1] if self.pointers else UNKNOWN
        if isinstance(node, ast.List):
            for item in node.elts:
                self.visit(item)
            return "[]interface {}"
        if isinstance(node, ast.Dict):
            for part in [*node.keys, *node.values]:
                if part is not None:
                    self.visit(part)
            return "map[string]interface {}"
        if isinstance(node, ast.Subscript):
            container = self.visit(node.value)
            if isinstance(node.slice, ast.Slice):
                for bound in (node.slice.lower, node.slice.upper):
                    if bound is not None:
                        self.visit(bound)
                return container if _array(container) or container == "string" else UNKNOWN
            self.visit(node.slice)
            return _elem(container) if _array(container) or container.startswith("map[") else UNKNOWN
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                if operand in ("bool", UNKNOWN):
                    return "bool"
                raise ConditionError(f"invalid operation: ! (mismatched type {operand})")
            if operand in _NUMBERS or operand == UNKNOWN:
                return operand
            symbol = "-" if isinstance(node.op, ast.USub) else "+"
            raise ConditionError(f"invalid operation: {symbol} (mismatched type {operand})")
        if isinstance(node, ast.BinOp):
            return _binary(_ARITH[type(node.op)], self.visit(node.left), self.visit(node.right))
        if isinstance(node, ast.BoolOp):
            natures = [self.visit(v) for v in node.values]
            symbol = "||" if isinstance(node.op, ast.Or) else "&&"
            for a, b in itertools.pairwise(natures):
                if not (a in ("bool", UNKNOWN) and b in ("bool", UNKNOWN)):
                    raise _mismatch(symbol, a, b)
            return "bool"
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.visit(comparator)
                _binary(_COMPARE[type(op)], left, right)
                left = right
            return "bool"
        if isinstance(node, ast.IfExp):
            test = self.visit(node.test)
            if test not in ("bool", UNKNOWN):
                raise ConditionError(f"non-bool expression (type {test}) used as condition")
            body, orelse = self.visit(node.body), self.visit(node.orelse)
            return body if body == orelse else UNKNOWN
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self.call(node.func.id, node.args)
        return UNKNOWN

    def call(self, name: str, args: list[ast.expr]) -> str:
        closure = args[1] if len(args) == 2 else None
        if isinstance(closure, ast.Lambda):
            collection = self.visit(args[0])
            if not _array(collection) and collection != UNKNOWN:
                raise ConditionError(f"builtin {name} takes only array (got {collection})")
            self.pointers.append(_elem(collection))
            try:
                out = self.visit(closure.body)
            finally:
                self.pointers.pop()
            if name in _BOOLEAN_PREDICATES and out not in ("bool", UNKNOWN):
                raise ConditionError(f"predicate should return boolean (got {out})")
            if name == "map":
                return "[]" + out
            if name == "filter":
                return collection if _array(collection) else "[]interface {}"
            if name in ("find", "findLast"):
                return _elem(collection)
            return _RETURNS.get(name, UNKNOWN)
        natures = [self.visit(a) for a in args]
        if name in _STRING_OPS and len(natures) == 2:
            return _binary(_STRING_OPS[name], *natures)
        if name == exprlang.RANGE and len(natures) == 2:
            return _binary("..", *natures)
        if name in ("first", "last") and len(natures) == 1:
            return _elem(natures[0])
        if name in ("abs", "sort") and len(natures) == 1:
            return natures[0]
        return _RETURNS.get(name, UNKNOWN)


@lru_cache(maxsize=8192)
def _check(expr: str, tree: ast.expr, result: str) -> str | None:
    try:
        _Checker(result).visit(tree)
    except ConditionError as e:
        return str(e)
    return None


def check_any_result(tree: ast.expr) -> str | None:
    """The type error `tree` has whatever the result's type (checked with ``result`` unknown), or None.

    Unknown operands are compatible with everything, so an error found here is one Argo reports for every
    measurement: `lint` can show it before the template reaches a cluster.
    """
    try:
        _Checker(UNKNOWN).visit(tree)
    except ConditionError as e:
        return str(e)
    return None


def check(expr: str, tree: ast.expr, result: Any) -> None:
    """Raise ConditionError when `tree` (compiled from `expr`) mistypes its operands for this result."""
    error = _check(expr, tree, nature_of(result))
    if error is not None:
        raise ConditionError(error)
