"""Fencing: a leader frozen past its lease (SIGSTOP) and then resumed (SIGCONT) writes nothing once the standby
has taken over, although its workers wake up with measurements overdue; two replicas never write at once.

Two real controller processes share a sandbox process; eight AnalysisRuns measure a slow local web endpoint
(200 ms) every 100 ms, so the leader writes run statuses many times a second and has measurements in flight
when it freezes: their answers are waiting when it resumes, and without the fence it would write them at once. The sandbox's request log (each replica's
user agent names it) shows who wrote what when.
"""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.controller.processes import WRITES, Controller, controllers, wait
from tests.fixtures.json_endpoint import JsonEndpoint

LEASE = ("--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "0.5")


@pytest.fixture
def endpoint() -> Iterator[str]:
    # slow: measurements are in flight when the leader freezes, their answers wait for it
    server = JsonEndpoint(hold=0.2)
    try:
        yield server.url
    finally:
        server.close()


def _create_run(url: str, name: str, endpoint: str) -> None:
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "metrics": [
                {
                    "name": "up",
                    "interval": "100ms",
                    "count": 100000,
                    "successCondition": "result.ok == true",
                    "provider": {"web": {"url": endpoint, "jsonPath": "{$}"}},
                }
            ]
        },
    }
    req = urllib.request.Request(
        f"{url}/apis/argoproj.io/v1alpha1/namespaces/default/analysisruns",
        data=json.dumps(run).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201


def _writes(sandbox: Any, by: Controller) -> list[dict[str, Any]]:
    """Writes the API server accepted (a renewal sent before the freeze is refused with 409 after it: no write)."""
    return [r for r in sandbox.requests() if r["verb"] in WRITES and r["status"] < 300 and by.mine(r)]


def _status_writes(sandbox: Any, by: Controller) -> list[dict[str, Any]]:
    return [r for r in _writes(sandbox, by) if r["resource"] == "analysisruns"]


@pytest.mark.slow
def test_a_frozen_leader_writes_nothing_after_the_standby_took_over(
    sandbox_process: Any, endpoint: str
) -> None:
    for i in range(8):
        _create_run(sandbox_process.url, f"probe-{i}", endpoint)
    # Timings a loaded machine keeps (a replica that misses renewals would hand over for real, and writes of a
    # later term of the old leader would be legitimate): the standby takes over 4 s after the last renewal.
    with controllers(sandbox_process.kubeconfig_path, "a", "b", args=LEASE) as (a, b):
        assert wait(lambda: a.leads() != b.leads(), 20), "no single leader"
        old, new = (a, b) if a.leads() else (b, a)
        assert wait(lambda: len(_status_writes(sandbox_process, old)) >= 5, 20), "the leader does not write"

        old.process.send_signal(signal.SIGSTOP)  # frozen with measurements and renewals due
        try:
            assert wait(lambda: new.leads() and _status_writes(sandbox_process, new), 20), "no takeover"
            taken_over = min(r["time"] for r in _status_writes(sandbox_process, new))
        finally:
            old.process.send_signal(signal.SIGCONT)
        # Resumed: its timers are all overdue. It must see the lease gone and stand by without writing.
        assert wait(lambda: old.metric("rollouts_controller_leader") == 0.0, 20)
        seen = len(_status_writes(sandbox_process, new))
        assert wait(
            lambda: len(_status_writes(sandbox_process, new)) >= seen + 10, 20
        )  # time for stray writes

        late = [r for r in _writes(sandbox_process, old) if r["time"] >= taken_over]
        assert not late, f"the old leader wrote after the takeover: {late[:3]}"
        assert new.leads() and not old.leads()
        for c in (old, new):
            c.process.send_signal(signal.SIGTERM)
            assert c.process.wait(20) == 0
