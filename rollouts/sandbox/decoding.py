"""Request bodies: JSON (or YAML for apply patches) decoded into JSON values, within the API server's limits.

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
import json
from typing import Any

from rollouts.sandbox.errors import bad_request, unsupported_media_type
from rollouts.sandbox.limits import check_depth, from_yaml, too_deep
from rollouts.sandbox.patching import APPLY

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
