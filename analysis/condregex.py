"""Regular expressions of the condition language (``matches``), on RE2: linear time, Go's syntax and errors.

Used by `condfuncs` (evaluation) and `conditions` (constant patterns are compiled when the condition is,
so `lint` reports them). Argo evaluates ``matches`` with expr-lang, which calls Go's `regexp` package: an RE2
engine. Google's RE2 (the `google-re2` bindings) therefore gives the exact semantics — same syntax, no
backreferences or lookaround, ASCII ``\\d``/``\\w``, leftmost-first search anywhere in the subject — and its
guarantee of time linear in the subject: no pattern can make a match backtrack exponentially. Error messages
are Go's: ``error parsing regexp: invalid escape sequence: `\\1```.

A match is charged to the evaluation budget in proportion to subject length × compiled program size (the
cost of RE2's slowest path, its NFA fallback, measured at ~4 ns per unit): a huge pattern run over a long
subject ends as a budget error instead of taking seconds. Each compiled program is capped at `MAX_MEMORY`
bytes; small patterns are cached.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

import re2

from analysis.condops import ConditionError, charge

__all__ = ["MAX_MEMORY", "compile_regex", "search"]

MAX_MEMORY: Final = 2 << 20
"""RE2 memory budget of one compiled pattern (program and DFA cache): past it RE2 refuses or falls back."""
_CACHED_PATTERN_LENGTH: Final = 512
_COST_DIVISOR: Final = 64  # subject length × program size per budget step (see module docstring)

# RE2's error texts (re2/regexp.cc) → Go's regexp/syntax ErrorCode texts, which Argo users see.
_GO_ERRORS: Final = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are reported to the user, not printed on the controller's stderr
    options.max_mem = MAX_MEMORY
    return options


_OPTIONS: Final = _options()


def _go_error(error: re2.error) -> ConditionError:
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, sep, arg = text.partition(": ")
    code = _GO_ERRORS.get(code, code)
    return ConditionError(f"error parsing regexp: {code}: `{arg if sep else ''}`")


def _compile(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        raise _go_error(e) from None


_cached = lru_cache(maxsize=128)(_compile)


def compile_regex(pattern: str) -> Any:
    """The compiled RE2 program of `pattern`, or ConditionError with Go's message for what RE2 refuses."""
    charge(len(pattern) // 8)
    return _cached(pattern) if len(pattern) <= _CACHED_PATTERN_LENGTH else _compile(pattern)


def search(pattern: str, subject: str) -> bool:
    """Go's ``regexp.MatchString(pattern, subject)``: does the pattern match anywhere in the subject."""
    program = compile_regex(pattern)
    charge((len(subject) + 1) * program.programsize // _COST_DIVISOR)
    return program.search(subject) is not None
