"""Wire models: the pydantic base every Kubernetes-shaped model in the project derives from.

Sits at the very bottom of the pipeline: manifests are read (YAML/JSON from files or the API server) into
`WireModel` subclasses and written back with `to_wire()`. Argo's field names are camelCase; the Python
attributes are snake_case and the alias generator maps between them, so `failure_limit` reads and writes
`failureLimit`. Unknown fields are ignored on read (a newer Argo field must never break loading).

Two reusable field types live here as well, because the CRD generator (`rollouts.crdgen`) recognises
them by their JSON-schema markers:

* `IntOrString` — Kubernetes' intstr (``count: 3`` or ``count: "{{args.n}}"``) → ``x-kubernetes-int-or-string``.
* `RawObject` — an opaque mapping kept as written (pod templates, Job specs, unknown providers) →
  ``x-kubernetes-preserve-unknown-fields``.

And metav1.Time's wire form, for every module of both packages that reads or writes a timestamp in wire JSON:
`parse_time` and `format_time` (RFC 3339, whole seconds, UTC, ``2026-01-02T03:04:05Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = [
    "INT_OR_STRING_MARK",
    "PRESERVE_UNKNOWN_MARK",
    "IntOrString",
    "RawObject",
    "WireModel",
    "format_time",
    "parse_time",
]

INT_OR_STRING_MARK = "x-kubernetes-int-or-string"
PRESERVE_UNKNOWN_MARK = "x-kubernetes-preserve-unknown-fields"

IntOrString = Annotated[
    int | str,
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], INT_OR_STRING_MARK: True}),
]
"""Kubernetes intstr: an int, or a string (e.g. a ``{{args.x}}`` placeholder or ``"25%"``)."""

RawObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", PRESERVE_UNKNOWN_MARK: True}),
]
"""An opaque JSON object stored as written (pod templates, Job specs, providers we do not model)."""


def parse_time(value: Any) -> datetime | None:
    """A metav1.Time from wire JSON (``2026-01-02T03:04:05Z``) as an aware datetime; None when absent or malformed.

    >>> parse_time("2026-01-02T03:04:05Z").isoformat(), parse_time("yesterday"), parse_time(None)
    ('2026-01-02T03:04:05+00:00', None, None)
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """metav1.Time on the wire: RFC 3339, whole seconds, UTC; a naive datetime is taken as UTC.

    >>> format_time(datetime(2026, 1, 2, 3, 4, 5, 678000))
    '2026-01-02T03:04:05Z'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WireModel(BaseModel):
    """Base of all wire models: camelCase aliases, snake_case attributes, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        validate_assignment=False,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready mapping as Kubernetes stores it: camelCase keys, no nulls."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        """Read a mapping in wire form (alias of `model_validate`, named for symmetry with `to_wire`)."""
        return cls.model_validate(data)
