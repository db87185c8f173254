"""The one exception the strategy core raises inside a pass: the Rollout cannot be acted on as written.

Raised by the analysis-run and router decisions (a referenced AnalysisTemplate that does not exist, a router
object without the named route, a fieldRef that does not resolve); `deciding` catches it and turns its message
into the InvalidSpec condition (`rollouts.validation.errors.invalid_spec_message`), never an exception out of
`decide`.
"""

from __future__ import annotations


class SpecError(Exception):
    """A Rollout that cannot be acted on as written (e.g. a referenced AnalysisTemplate does not exist)."""
