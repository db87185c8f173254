"""Listening beyond loopback: whether the sandbox is exposed, what to tell the user, the address to advertise.

Where it sits: `running` asks on start. The sandbox has no authentication, so on any address other than
loopback whoever reaches the port can read and change every object, Secrets included. It still serves there
when asked (a demo on a LAN, a container), but says so loudly on start (`warning`), leaves the data of
Secrets out of `/sandbox/state` (`redact_secrets`), and writes a kubeconfig and URL naming an address a client
can reach (`advertised_host`): never `0.0.0.0` or `::`, which name no host to connect to.

    >>> advertised_host("0.0.0.0", None), advertised_host("::", None), advertised_host("10.1.2.3", None)
    ('127.0.0.1', '::1', '10.1.2.3')
    >>> url_host("::1")
    '[::1]'
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_UNSPECIFIED = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback address (127.0.0.0/8, ::1, `localhost`)."""
    if host in _UNSPECIFIED:
        return False
    try:  # an address needs no lookup
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    try:
        return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
    except ValueError:
        return False


def advertised_host(host: str, advertise: str | None) -> str:
    """The host a client should connect to: `advertise` when given, loopback for a wildcard bind, else `host`."""
    if advertise:
        return advertise
    return _UNSPECIFIED.get(host, host)


def url_host(host: str) -> str:
    """`host` as it goes into a URL (IPv6 addresses in brackets)."""
    bare = host.strip("[]")
    try:
        return f"[{bare}]" if ipaddress.ip_address(bare.split("%")[0]).version == 6 else bare
    except ValueError:
        return host


def warning(host: str, port: int, url: str) -> str:
    return (
        f"WARNING: the sandbox listens on {url_host(host) or '*'}:{port}, beyond loopback, and has no "
        "authentication: anyone who can reach that address can read and change every object in it, Secrets "
        f"included. Clients are pointed at {url}; /sandbox/state leaves out Secret data. Use --host 127.0.0.1 "
        "unless other machines must connect."
    )


def redact_secrets(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects with the `data` and `stringData` of every Secret left out (the rest are shared, not copied)."""
    out = []
    for obj in items:
        if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
            obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
        out.append(obj)
    return out
