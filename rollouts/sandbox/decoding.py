"""Request bodies: JSON (or YAML for apply patches) decoded into JSON values within the API server's limits,
then checked against the Go types of built-in kinds (`check_types`, with the types in `fieldtypes`).

Where it sits: `serving` reads at most `limits.MAX_REQUEST_BYTES` of a body and hands the bytes here;
the store and the patch engine only ever see plain JSON values (dict, list, str, int, float, bool, None)
nested at most `limits.MAX_DEPTH` deep. Go's decoder refuses what JSON does not have, so this does too:
`NaN` and `Infinity` are a 400, not a stored value that no client could read back. Protobuf and CBOR are 415
(clients then retry in JSON). YAML is parsed only when a body is not JSON (kubectl sends server-side apply
patches as JSON), and a large YAML body is parsed off the event loop (`read_body`), since PyYAML's
constructor needs seconds for a few megabytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from typing import Any

from rollouts.sandbox import fieldtypes
from rollouts.sandbox.errors import ApiError, bad_request, unsupported_media_type
from rollouts.sandbox.fieldtypes import GoType
from rollouts.sandbox.limits import MAX_DEPTH, check_depth, from_yaml, too_deep
from rollouts.sandbox.patching import APPLY
from rollouts.sandbox.resources import ResourceType

_THREAD_ABOVE = 64 * 1024  # YAML bodies larger than this are parsed in a worker thread


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value ({name} is not JSON)")


def is_yaml(content_type: str) -> bool:
    return content_type == APPLY or content_type.endswith("yaml")


class _NotJson(Exception):
    pass


def _parse_json(raw: bytes, content_type: str) -> Any:
    if "protobuf" in content_type or "cbor" in content_type:
        raise unsupported_media_type(content_type)
    if not raw:
        return None
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise too_deep() from None
    except (ValueError, UnicodeDecodeError) as e:
        if not is_yaml(content_type):
            raise bad_request(f"the request body is not valid JSON: {e}") from None
        raise _NotJson() from None
    if len(raw) > 2 * MAX_DEPTH:  # every level costs at least two bytes: a shorter body cannot be too deep
        check_depth(value)
    return value


def parse_body(raw: bytes, content_type: str) -> Any:
    """Decode a request body (None when empty); raises ApiError 400 or 415 with the reason in one sentence."""
    try:
        return _parse_json(raw, content_type)
    except _NotJson:
        return _parse_yaml(raw)


async def read_body(raw: bytes, content_type: str) -> Any:
    """`parse_body`, with a large YAML document parsed in a worker thread rather than on the event loop."""
    try:
        return _parse_json(raw, content_type)
    except _NotJson:
        if len(raw) > _THREAD_ABOVE:
            return await asyncio.to_thread(_parse_yaml, raw)
        return _parse_yaml(raw)


def _parse_yaml(raw: bytes) -> Any:
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(raw.decode(), Loader=loader)  # a safe loader: plain data only
    except RecursionError:
        raise too_deep() from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError) as e:
        reason = " ".join(str(e).split())
        raise bad_request(f"the request body is not valid YAML: {reason}") from None
    try:
        return from_yaml(document)
    except RecursionError:
        raise too_deep() from None


# ---------------------------------------------------------------------- decoding into the Go types
class _Mismatch(Exception):
    """Where a value does not fit its Go type; `path` collects field names innermost first on the way up."""

    def __init__(self, value: Any, t: GoType, literal: bool = False, message: str = "") -> None:
        self.value = value
        self.t = t
        self.literal = literal  # a number that does not fit an integer type: Go quotes it
        self.message = message  # an error of its own (base64), not a type mismatch
        self.path: list[str] = []
        self.owner = ""


def _walk(value: Any, t: GoType) -> None:
    """Raise `_Mismatch` at the first value that does not decode into `t`. Exact `type()` checks: decoded JSON
    holds only dict, list, str, int, float, bool and None. Paths are built only on the way out of an error."""
    kind = t.kind
    vt = type(value)
    if kind == "struct":
        if vt is not dict:
            raise _Mismatch(value, t)
        fields = t.fields
        for name, v in value.items():
            ft = fields.get(name)
            if ft is not None and v is not None:
                try:
                    _walk(v, ft)
                except _Mismatch as m:
                    m.path.append(name)
                    m.owner = m.owner or t.go.rpartition(".")[2]
                    raise
    elif kind == "string":
        if vt is not str:
            raise _Mismatch(value, t)
    elif kind == "slice" or kind == "map":
        if vt is not (list if kind == "slice" else dict):
            raise _Mismatch(value, t)
        item = t.item
        assert item is not None
        for v in value if kind == "slice" else value.values():
            if v is not None:
                _walk(v, item)
    elif kind == "int":
        if vt is not int:
            raise _Mismatch(value, t, literal=vt is float)
        if not -(2 ** (t.bits - 1)) <= value < 2 ** (t.bits - 1):
            raise _Mismatch(value, t, literal=True)
    elif kind == "bool":
        if vt is not bool:
            raise _Mismatch(value, t)
    elif kind == "intstr":
        if vt is not str and vt is not int:
            raise _Mismatch(value, t)
    elif kind == "bytes":
        if vt is not str:
            raise _Mismatch(value, t)
        text = value.replace("\r", "").replace("\n", "")
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            bad = _BASE64_BAD.search(text)
            at = bad.start() if bad else len(text)
            raise _Mismatch(value, t, message=f"illegal base64 data at input byte {at}") from None


_BASE64_BAD = re.compile(r"[^A-Za-z0-9+/=]")
_JSON_KIND = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def _message(m: _Mismatch) -> str:
    """encoding/json's words: `json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name
    of type string` (Field is the full path, Struct the innermost struct holding it)."""
    if m.message:
        return m.message
    what = _JSON_KIND.get(type(m.value), "value")
    if m.literal:
        what = f"number {json.dumps(m.value)}"
    where = f"Go struct field {m.owner}.{'.'.join(reversed(m.path))}" if m.path else "Go value"
    return f"json: cannot unmarshal {what} into {where} of type {m.t.go}"


def check_types(rt: ResourceType | None, obj: Any, *, patched: bool = False, t: GoType | None = None) -> None:
    """Raise the API server's answer when `obj` does not decode into the Go type of `rt` (or `t`): a 400
    `<Kind> in version "<v>" cannot be handled as a <Kind>: json: …`, or for the result of a patch a 422 on
    the field `patch` (endpoints/handlers/patch.go)."""
    if t is None:
        assert rt is not None
        t = fieldtypes.type_of(rt)
    try:
        _walk(obj, t)
        return
    except _Mismatch as m:
        problem = _message(m)
    if patched:
        text = json.dumps(obj, separators=(",", ":"))
        shown = text if len(text) <= 512 else text[:512] + "…"
        raise ApiError(
            422,
            "Invalid",
            f' "" is invalid: patch: Invalid value: {json.dumps(shown)}: {problem}',
            {"causes": [{"reason": "FieldValueInvalid", "message": problem, "field": "patch"}]},
        )
    if rt is not None and t is fieldtypes.type_of(rt):
        kind, version = rt.kind, rt.version
    else:
        kind, version = t.go.rpartition(".")[2], "v1"
    raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {problem}')
