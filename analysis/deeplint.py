"""PURE: deep lint of analysis templates — the mistakes that only show at 3 a.m., found before they ship.

Sits after `validating` (which checks what Argo checks: the fields, the limits, that conditions compile) in
`kubectl rollouts lint` and `rollouts analyze --lint`. Each finding has a stable code, a severity and the field
path; the codes are documented in docs/analysis-lint.md:

| code | severity | what |
| --- | --- | --- |
| AL001 | error | a Prometheus query (or a statistical judge's) that does not parse (promql-parser, a real PromQL parser) |
| AL002 | error | `{{args.x}}` used but `x` not declared in `spec.args`: every run fails to resolve it |
| AL003 | warning | an argument declared but used by no metric |
| AL004 | warning | a condition that is true for every result tried (it can never fail) |
| AL005 | warning | a condition that is false for every result tried (it can never pass) |
| AL006 | warning | `result[0]` read without a guard on a query that can return no series: an Error measurement |
| AL007 | warning | an `interval` shorter than the query's range selector: one bad stretch counts in several measurements |
| AL009 | warning | a query too large to parse safely (over 8,192 characters, 200 operators or 200 parentheses): not checked |
| AL008 | warning | (Rollouts) a metric that never completes — `interval` without `count` — used where the rollout waits for the analysis to finish (a step's analysis, pre- or post-promotion analysis) |

Queries are parsed with `{{args.x}}` replaced by the argument's default value, or by a stand-in that parses in a
label value and in a range; conditions are tried against results of the query's shape (a list of 0, 1 and 2
values, numbers including 0, negatives, large values and NaN).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import promql_parser

from analysis.conditions import ConditionError, check_syntax, evaluate_condition
from analysis.durations import DurationError, parse_go_duration
from analysis.judging import JUDGE_PLUGIN
from analysis.models import AnalysisRunSpec, AnalysisTemplateSpec, Metric

__all__ = ["Finding", "metric_never_completes", "template_findings"]

Severity = Literal["error", "warning"]
_ARG = re.compile(r"\{\{\s*args\.([^}\s]+)\s*\}\}")
_ANY_TAG = re.compile(r"\{\{[^}]*\}\}")
_GUARDS = ("len(result)", "isNil(", "default(", "result == nil", "result != nil", "all(", "any(", "filter(")


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _substituted(text: str, defaults: Mapping[str, str | None], stand_in: str) -> str:
    def sub(tag: re.Match[str]) -> str:
        arg = _ARG.fullmatch(tag.group(0))
        value = defaults.get(arg.group(1)) if arg is not None else None
        return value if value is not None else stand_in

    return _ANY_TAG.sub(sub, text)


MAX_QUERY_CHARS = 8192
MAX_QUERY_OPERATORS = 200
"""The parser's time and memory grow with the square of a query's operators or nesting (800 terms: 0.2 s and
270 MB; 4,000 nested parentheses: 1.3 s; 5,000 terms: a crash): larger queries are not parsed (AL009). Real
queries are a few hundred characters."""
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_OPERATOR = re.compile(r"[-+*/%^]|==|!=|<=|>=|[<>]|\b(?:and|or|unless|atan2)\b")


def _too_large(query: str) -> str | None:
    if len(query) > MAX_QUERY_CHARS:
        return f"{len(query)} characters, more than {MAX_QUERY_CHARS}"
    bare = _STRING.sub('""', query)
    operators = len(_OPERATOR.findall(bare))
    if operators > MAX_QUERY_OPERATORS:
        return f"{operators} operators, more than {MAX_QUERY_OPERATORS}"
    if bare.count("(") > MAX_QUERY_OPERATORS:
        return f"{bare.count('(')} parentheses, more than {MAX_QUERY_OPERATORS}"
    return None


def _parse(query: str, defaults: Mapping[str, str | None]) -> tuple[Any | None, str | None]:
    """(the parsed expression, None) or (None, the parser's message). A tag without a value is tried as a
    label value's text and as a duration, so `[{{args.window}}]` parses."""
    error = None
    for stand_in in ("a", "5m", "1"):
        try:
            return promql_parser.parse(_substituted(query, defaults, stand_in)), None
        except ValueError as e:
            error = error or str(e)
        if not _ANY_TAG.search(query):
            break
    return None, error


def _ranges(expr: Any) -> list[timedelta]:
    found: list[timedelta] = []

    def visit(node: Any) -> bool:
        if (
            isinstance(node, promql_parser.MatrixSelector | promql_parser.SubqueryExpr)
            and node.range is not None
        ):
            found.append(node.range)
        return True

    promql_parser.walk(expr, visit)  # type: ignore[arg-type]
    return found


def _never_empty(expr: Any) -> bool:
    """Whether the query's answer always has a sample: a number, `scalar(…)`, `vector(…)`, `time()`, or
    anything `or` such an expression (`… or vector(0)`), or parentheses around one of these."""
    if isinstance(expr, promql_parser.ParenExpr):
        return _never_empty(expr.expr)
    if isinstance(expr, promql_parser.NumberLiteral):
        return True
    if isinstance(expr, promql_parser.Call):
        return expr.func.name in ("vector", "scalar", "time")
    if isinstance(expr, promql_parser.BinaryExpr):
        op = str(expr.op).lower()
        if op == "or":
            return _never_empty(expr.lhs) or _never_empty(expr.rhs)
        if op in ("+", "-", "*", "/", "%", "^", "atan2") and _scalar(expr.lhs) and _scalar(expr.rhs):
            return True
    if isinstance(expr, promql_parser.UnaryExpr):
        return _never_empty(expr.expr)
    return False


def _scalar(expr: Any) -> bool:
    if isinstance(expr, promql_parser.ParenExpr):
        return _scalar(expr.expr)
    if isinstance(expr, promql_parser.NumberLiteral):
        return True
    return isinstance(expr, promql_parser.Call) and expr.func.name in ("scalar", "time")


_NUMBERS = (0.0, 1.0, -1.0, 0.5, 0.99, 100.0, 1e9, -1e9, math.nan)


def _results(scalar: bool) -> list[Any]:
    if scalar:
        return list(_NUMBERS)
    lists: list[Any] = [[v] for v in _NUMBERS] + [[a, b] for a in (0.0, 1.0, 1e9) for b in (0.0, 1e9)]
    return lists


def _outcomes(condition: str, results: Sequence[Any]) -> set[bool]:
    seen: set[bool] = set()
    for result in results:
        try:
            seen.add(bool(evaluate_condition(condition, result)))
        except ConditionError:
            continue
        if len(seen) == 2:
            break
    return seen


def _condition_findings(metric: Metric, path: str, expr: Any | None) -> list[Finding]:
    found: list[Finding] = []
    scalar = expr is not None and _scalar(expr)
    for field in ("successCondition", "failureCondition"):
        condition = metric.success_condition if field == "successCondition" else metric.failure_condition
        if not condition or _ANY_TAG.search(condition) or check_syntax(condition) is not None:
            continue  # empty, templated (checked once the arguments are in) or not compiling (validating says so)
        outcomes = _outcomes(condition, _results(scalar))
        if outcomes == {True}:
            found.append(
                Finding(
                    "AL004",
                    "warning",
                    f"{path}.{field}",
                    f"{condition!r} is true for every result tried (0, 1, -1, 0.5, 1e9, NaN, …): "
                    + ("every measurement fails" if field == "failureCondition" else "it can never fail"),
                )
            )
        elif outcomes == {False}:
            found.append(
                Finding(
                    "AL005",
                    "warning",
                    f"{path}.{field}",
                    f"{condition!r} is false for every result tried (0, 1, -1, 0.5, 1e9, NaN, …): "
                    + ("it can never pass" if field == "successCondition" else "it never fails anything"),
                )
            )
        if (
            expr is not None
            and not scalar
            and "result[0]" in condition.replace(" ", "")
            and not any(guard in condition for guard in _GUARDS)
            and not _never_empty(expr)
        ):
            found.append(
                Finding(
                    "AL006",
                    "warning",
                    f"{path}.{field}",
                    f"{condition!r} reads result[0], but the query can return no series (no traffic yet, a label "
                    "that does not match): that measurement is an Error, not a verdict; guard it (`len(result) == "
                    "0 || …`) or end the query with `or vector(0)`",
                )
            )
    return found


def _interval_finding(metric: Metric, path: str, expr: Any) -> Finding | None:
    if not metric.interval or _ANY_TAG.search(metric.interval):
        return None
    try:
        interval = parse_go_duration(metric.interval)
    except DurationError:
        return None
    ranges = _ranges(expr)
    widest = max(ranges, default=timedelta(0))
    if interval.total_seconds() <= 0 or widest <= interval:
        return None
    overlap = math.ceil(widest / interval)
    return Finding(
        "AL007",
        "warning",
        f"{path}.interval",
        f"interval {metric.interval} is shorter than the query's range [{promql_parser.display_duration(widest)}]: "
        f"successive measurements see mostly the same data, so one bad stretch counts in up to {overlap} "
        f"measurements against failureLimit {metric.failure_limit_value()}",
    )


def template_findings(spec: AnalysisTemplateSpec | AnalysisRunSpec, path: str = "spec") -> list[Finding]:
    """Every deep-lint finding of one template's spec (see the module's table)."""
    found: list[Finding] = []
    declared = {a.name: a.value for a in spec.args or ()}
    used: set[str] = set()
    for i, metric in enumerate(spec.metrics or ()):
        mpath = f"{path}.metrics[{i}]"
        wire = metric.to_wire()
        names = {m.group(1) for text in _strings(wire) for m in _ARG.finditer(text)}
        used |= names
        for name in sorted(names - set(declared)):
            found.append(
                Finding(
                    "AL002",
                    "error",
                    mpath,
                    f"{{{{args.{name}}}}} is used but spec.args declares no {name!r}: every run of this template "
                    "fails to resolve it",
                )
            )
        prometheus = metric.provider.prometheus
        expr = None
        if prometheus is not None and prometheus.query and (large := _too_large(prometheus.query)):
            found.append(_not_parsed(f"{mpath}.provider.prometheus.query", large))
        elif prometheus is not None and prometheus.query:
            expr, error = _parse(prometheus.query, declared)
            if error is not None:
                found.append(
                    Finding(
                        "AL001",
                        "error",
                        f"{mpath}.provider.prometheus.query",
                        f"the PromQL does not parse: {error}",
                    )
                )
        judge = (metric.provider.plugin or {}).get(JUDGE_PLUGIN)
        if isinstance(judge, Mapping):
            found += _judge_queries(judge, declared, f"{mpath}.provider.plugin.{JUDGE_PLUGIN}")
        instant = expr if prometheus is not None and not prometheus.range_query else None
        found += _condition_findings(metric, mpath, instant)
        if expr is not None:
            interval = _interval_finding(metric, mpath, expr)
            if interval is not None:
                found.append(interval)
    for i, arg in enumerate(spec.args or ()):
        if arg.name not in used and spec.metrics:
            found.append(
                Finding(
                    "AL003",
                    "warning",
                    f"{path}.args[{i}]",
                    f"argument {arg.name!r} is declared but no metric uses it ({{{{args.{arg.name}}}}})",
                )
            )
    return found


def _judge_queries(config: Mapping[str, Any], declared: Mapping[str, str | None], path: str) -> list[Finding]:
    """AL001 for the statistical judge's queries (`canary`, `baseline`, or their `bad`/`total`)."""
    found: list[Finding] = []
    for side in ("canary", "baseline"):
        value = config.get(side)
        queries = {side: value} if isinstance(value, str) else {}
        if isinstance(value, Mapping):
            queries = {
                f"{side}.{k}": v for k, v in value.items() if k in ("bad", "total") and isinstance(v, str)
            }
        for where, query in queries.items():
            if large := _too_large(query):
                found.append(_not_parsed(f"{path}.{where}", large))
                continue
            _, error = _parse(query, declared)
            if error is not None:
                found.append(
                    Finding("AL001", "error", f"{path}.{where}", f"the PromQL does not parse: {error}")
                )
    return found


def _not_parsed(path: str, why: str) -> Finding:
    return Finding("AL009", "warning", path, f"the query is too large to check ({why}): it was not parsed")


def metric_never_completes(metric: Metric) -> bool:
    """Argo runs a metric with an `interval` and no `count` until the run is terminated."""
    return bool(metric.interval) and metric.count in (None, 0, "0")
