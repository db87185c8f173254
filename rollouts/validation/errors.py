"""`FieldError` and the conversion of pydantic errors into field errors named by wire path.

Part of `rollouts.validation` (import from there).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

UNSET: Any = object()


@dataclass(frozen=True)
class FieldError:
    """One invalid field. ``str(e)`` = ``path: message``; `k8s_error()` = Kubernetes' field-error wording."""

    path: str
    message: str
    value: Any = UNSET
    kind: Literal["Invalid", "Required"] = "Invalid"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def k8s_error(self) -> str:
        """``spec.x: Invalid value: 101: <message>`` / ``spec.x: Required value: <message>`` (field.Error)."""
        if self.kind == "Required" or self.value is UNSET:
            return f"{self.path}: {self.kind} value: {self.message}"
        return f"{self.path}: Invalid value: {_render(self.value)}: {self.message}"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def invalid_spec_message(name: str, error: FieldError | str) -> str:
    """The InvalidSpec condition message Argo writes for the first error (`createInvalidRolloutCondition`,
    `rollout/controller.go`): every InvalidSpec message of the controller is formatted here.

    >>> invalid_spec_message("api", FieldError("spec.replicas", "must be non-negative", -1))
    'The Rollout "api" is invalid: spec.replicas: Invalid value: -1: must be non-negative'
    """
    detail = error.k8s_error() if isinstance(error, FieldError) else error
    return f'The Rollout "{name}" is invalid: {detail}'


# ---------------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------------

_TAG = re.compile(r"^(int|str|bool|float|dict|list|none|is-instance|lax-or-strict|json-or-python)$|\[")


def errors_from_pydantic(exc: ValidationError, root: str = "") -> list[FieldError]:
    """Turn pydantic errors into field errors named by wire path (union branch tags dropped, one per path)."""
    out: dict[str, FieldError] = {}
    for err in exc.errors(include_url=False):
        parts: list[str] = [root] if root else []
        for item in err["loc"]:
            if isinstance(item, int):
                parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
            elif not _TAG.search(str(item)):
                parts.append(str(item))
        path = ".".join(parts) or "(root)"
        if path in out:  # a union (int | str): say so once
            out[path] = FieldError(path, "must be an integer or a string", err.get("input", UNSET))
            continue
        value = err.get("input", UNSET)
        if err["type"] == "missing":
            out[path] = FieldError(path, "Required value", kind="Required")
        else:
            out[path] = FieldError(path, str(err["msg"]), value if is_scalar(value) else UNSET)
    return list(out.values())


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
