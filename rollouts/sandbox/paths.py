"""API URLs read as the resource they name: `/api/v1/namespaces/ns/pods/x/status` → `Target`.

Used by the request handlers (`serving`) and the watch streams (`streaming`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Target:
    """A parsed API URL."""

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def parse_path(path: str) -> Target | None:
    """The resource a URL names, or None for a non-resource (discovery) path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = False
    if rest and rest[0] == "watch":
        watch_path, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        is_namespace_itself = not group and len(rest) == 3 and rest[2] in ("status", "finalize")
        if not is_namespace_itself:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return Target(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
        watch_path=watch_path,
    )
