"""PURE: the time expressions of a Prometheus `rangeQuery` (`start`, `end`), evaluated to instants.

Sits inside the Prometheus provider, just before a range query is sent. Argo compiles `rangeQuery.start` and
`rangeQuery.end` with expr-lang (`EvalTime`, docs/semantics/analysis.md#condition-language) where only `now()`, `duration("5m")`,
`date(…)` and `timezone(…)` are meaningful, and the result must be a time. The same subset is accepted here
(on simpleeval, no attribute access, no names): `now() - duration("5m")`, `date("…") + duration("1h")`,
`date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "UTC")` — the functions are the condition language's
(`analysis.condtime`: Go layouts and locations, expr-lang's errors).

`now()` is the evaluation instant the provider is given — the virtual clock's now during a replay — so a
replayed range query looks at the window the live one would have seen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from simpleeval import SimpleEval

from analysis import condtime
from analysis.condops import go_type_name

__all__ = ["TimeExpressionError", "evaluate_time", "parse_rfc3339"]

_MAX_LENGTH = 512


class TimeExpressionError(ValueError):
    """An expression that does not evaluate to a time; the message says why (without the field name)."""


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp (`2024-01-01T00:00:00Z`, with offset or fraction) as an aware datetime."""
    if not isinstance(text, str):
        raise TimeExpressionError(f"date() expects a string, got {_type_name(text)}")
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimeExpressionError(f'cannot parse "{text}" as a time (expected RFC 3339)') from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _type_name(value: Any) -> str:
    """Go's name for the value's type, as expr-lang reports it (`time.Duration` for durations)."""
    return "time.Duration" if isinstance(value, timedelta) else go_type_name(value)


def evaluate_time(expression: str, now: datetime) -> datetime:
    """Evaluate `expression` with `now()` = `now`; raise `TimeExpressionError` unless it yields a time.

    >>> evaluate_time('now() - duration("5m")', datetime(2024, 1, 1, 0, 10, tzinfo=UTC))
    datetime.datetime(2024, 1, 1, 0, 5, tzinfo=datetime.timezone.utc)
    """
    if len(expression) > _MAX_LENGTH:
        raise TimeExpressionError(f"expression longer than {_MAX_LENGTH} characters")
    evaluator = SimpleEval(functions=dict(condtime.TIME_FUNCTIONS), names={})
    previous_clock = condtime.clock(lambda: now)
    try:
        value = evaluator.eval(expression.strip())
    except TimeExpressionError:
        raise
    except SyntaxError as e:
        raise TimeExpressionError(f"syntax error: {e.msg}") from None
    except Exception as e:  # simpleeval's NameNotDefined, TypeError of `now() + 1`, DurationError, …
        raise TimeExpressionError(str(e)) from None
    finally:
        condtime.clock(previous_clock)
    if not isinstance(value, datetime):
        raise TimeExpressionError(f"expected time.Time, but got {_type_name(value)}")
    return value
