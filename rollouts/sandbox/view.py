"""How a sandbox is configured (`SandboxOptions`) and what its HTTP handlers see of it (`SandboxView`).

`rollouts.sandbox.running.Sandbox` builds the server from the options and satisfies `SandboxView`; the handlers
(`serving`, `administering`, `streaming`) are typed against the view, so they sit below the server that runs them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rollouts.sandbox import watching
from rollouts.sandbox.faults import Faults, RequestLog
from rollouts.sandbox.guarding import Connections
from rollouts.sandbox.simulating import Simulator
from rollouts.sandbox.storing import Store
from rollouts.sandbox.watching import Watcher

__all__ = ["SandboxOptions", "SandboxView"]


@dataclass
class SandboxOptions:
    """How a sandbox behaves. Every field is also a keyword of `Sandbox(...)`.

    `host` is the address to bind (loopback unless other machines must connect: there is no authentication)
    and `advertise_host` the one written into the URL and kubeconfig (default: `host`, or loopback when `host`
    is a wildcard such as 0.0.0.0). The limits default to kube-apiserver's: `header_timeout` (32 s to send a
    request's headers), `idle_timeout` (90 s for an idle keep-alive connection), `request_timeout` (60 s to
    send a body); `max_connections` caps open connections (429 beyond); a watch whose client leaves more than
    `watch_buffer_events` events or `watch_buffer_bytes` bytes unread is closed (it watches again).
    """

    host: str = "127.0.0.1"
    port: int = 0
    advertise_host: str | None = None
    pod_ready_delay: float = 0.0
    job_duration: float = 0.5
    time_scale: float = 1.0
    history: int = 1000
    bookmark_interval: float = 5.0
    watch_timeout: float = 1800.0
    install_crds: bool = True
    simulate: bool = True
    auto_namespaces: bool = True
    state_file: Path | None = None
    seed: int | None = None
    request_log_size: int = 100_000
    header_timeout: float = 32.0
    idle_timeout: float = 90.0
    request_timeout: float = 60.0
    max_connections: int = 1000
    watch_buffer_events: int = watching.MAX_EVENTS
    watch_buffer_bytes: int = watching.MAX_BYTES
    faults: Faults = field(default_factory=Faults)


class SandboxView(Protocol):
    """What the request handlers use of a running sandbox."""

    options: SandboxOptions
    faults: Faults
    requests: RequestLog
    store: Store
    simulator: Simulator | None
    watchers: set[Watcher]
    connections: Connections
    trim_pending: asyncio.TimerHandle | None
    exposed: bool
