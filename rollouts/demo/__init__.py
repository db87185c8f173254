"""`rollouts demo`: the whole system on one machine — the embedded sandbox, the controller (as a process,
against the sandbox's kubeconfig, as in production), a traffic simulator and a real Prometheus — running the
seed guide's canary and blue-green with a good and a bad release.

Modules: `command` (the click command), `running` (the orchestration and the scenarios), `manifests` (the
guide's documents and the documented speed-up), `traffic` (versions and load), `prometheus` (the process).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # `rollouts.cli` loads `rollouts.demo:demo` lazily; keep importing this package cheap.
    if name == "demo":
        from rollouts.demo.command import demo

        return demo
    raise AttributeError(name)
