"""Kubernetes scalar types of the Rollout spec, read as strictly as the API server and Argo's Go types read them.

Part of `rollouts.models` (import from there). Argo declares every integer of the spec as Go `int32` (`int64` for
a few), every int-or-percent as `intstr.IntOrString` (whose integer is an `int32` too) and every flag as `bool`
(`pkg/apis/rollouts/v1alpha1/types.go`). A value Go cannot hold there never reaches Argo's controller: the API
server refuses the object or the controller cannot decode it. pydantic's lax mode would instead read
``replicas: true`` as 1, ``paused: "yes"`` as True and keep ``replicas: 3000000000`` as is, and the controller
would then ask for three billion pods. These types refuse such values at parse time, so `lint`, `plan` and the
controller all name the field (``spec.replicas: Invalid value: 3000000000: must be between …``).

Accepted as an integer: an int (not a bool) in range, or a float with no fractional part (YAML ``3.0``; the API
server stores it as 3). Ranges that depend on the field (non-negative counts, ports, percentages) are checked by
`rollouts.validation`, with Argo's messages where Argo has them.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import PlainValidator, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from analysis.wire import INT_OR_STRING_MARK

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "PERCENT_MESSAGE",
    "Bool",
    "Int32",
    "Int32OrString",
    "Int64",
    "as_int",
    "int_or_percent",
    "parse_int_or_percent",
    "range_message",
]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def range_message(lo: int, hi: int) -> str:
    """apimachinery's `validation.InclusiveRangeError` wording."""
    return f"must be between {lo} and {hi}, inclusive"


def as_int(value: Any, lo: int, hi: int) -> int:
    """`value` as an int within [lo, hi], or a pydantic error in the API server's words.

    >>> as_int(3, 0, 10), as_int(3.0, 0, 10)
    (3, 3)
    """
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError(
                "int_from_float", "Input should be a valid integer, got a number with a fractional part"
            )
        value = int(value)
    if not isinstance(value, int):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if not lo <= value <= hi:
        raise PydanticCustomError("int_range", range_message(lo, hi))
    return value


def _int32(value: Any) -> int:
    return as_int(value, INT32_MIN, INT32_MAX)


def _int64(value: Any) -> int:
    return as_int(value, INT64_MIN, INT64_MAX)


def _int32_or_string(value: Any) -> int | str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        raise PydanticCustomError("int_or_string_type", "must be an integer or a string")
    return _int32(value)


Int32 = Annotated[int, PlainValidator(_int32), WithJsonSchema({"type": "integer", "format": "int32"})]
"""Go `int32`: an integer in [-2³¹, 2³¹ − 1]; true/false and numeric strings are refused."""

Int64 = Annotated[int, PlainValidator(_int64), WithJsonSchema({"type": "integer", "format": "int64"})]
"""Go `int64`."""

Int32OrString = Annotated[
    int | str,
    PlainValidator(_int32_or_string),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], INT_OR_STRING_MARK: True}),
]
"""`intstr.IntOrString`: an `Int32` or a string (``"25%"``, ``"30s"``, a ``{{args.x}}`` placeholder)."""

Bool = Annotated[bool, Strict()]
"""Go `bool`: only true or false (not 1, not "yes")."""


# int-or-percent (maxSurge, maxUnavailable; apimachinery `intstr`)

PERCENT_MESSAGE = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)  # apimachinery's IsValidPercent, verbatim
_PERCENT = re.compile(r"[0-9]+%?")


def parse_int_or_percent(value: int | str) -> tuple[int, bool]:
    """(number, is a percentage) of an int-or-percent (maxSurge, maxUnavailable); ValueError when malformed.

    Strings are read as apimachinery's `IsValidPercent` (``^[0-9]+%$``) allows, plus a bare number without ``%``,
    which Argo's own defaults use (``"25"``) and Argo's reader (the deprecated `intstr.GetValueFromIntOrPercent`)
    takes as a percentage. Everything else is refused, where that deprecated reader would strip every ``%`` and
    read ``"150%%"`` as 150 % or ``"-5%"`` as -5 %. Negative integers parse; validation refuses them.

    >>> parse_int_or_percent(3), parse_int_or_percent("25%"), parse_int_or_percent("25")
    ((3, False), (25, True), (25, True))
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"invalid value {value!r}: must be an integer or a percentage")
    if isinstance(value, int):
        return value, False
    if not _PERCENT.fullmatch(value):
        raise ValueError(PERCENT_MESSAGE)
    number = int(value.rstrip("%"))
    if number > INT32_MAX:
        raise ValueError(f"{PERCENT_MESSAGE}: the number {range_message(0, INT32_MAX)}")
    return number, True


def int_or_percent(value: int | str, total: int, round_up: bool) -> int:
    """An int-or-percent resolved against `total` (a percentage rounded up or down), like Argo (docs/semantics/objects.md#rollout-spec).

    >>> int_or_percent(3, 10, True), int_or_percent("25", 10, True), int_or_percent("25%", 10, False)
    (3, 3, 2)

    Raises ValueError for a malformed value (`parse_int_or_percent`).
    """
    number, percent = parse_int_or_percent(value)
    if not percent:
        return number
    scaled = float(number) * float(total) / 100
    return int(math.ceil(scaled) if round_up else math.floor(scaled))
