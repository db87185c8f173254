"""The Traefik canary of examples/traefik-canary/ driven pass by pass by the Rollout reconciler against the
sandbox (which serves TraefikService as a CRD): the weights follow the steps 20 → 60 → back to stable, and an
abort sends everything to stable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import ROLLOUTS, TRAEFIK_SERVICES
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "traefik-canary" / "rollout.yaml"
V2 = {
    "spec": {"template": {"spec": {"containers": [{"name": "search", "image": "myregistry.com/search:v2"}]}}}
}


async def canary_weight(client: KubeClient) -> int:
    services = (await client.get(TRAEFIK_SERVICES, "search-weighted", NS))["spec"]["weighted"]["services"]
    by_name = {s["name"]: s.get("weight") for s in services}
    assert by_name["search-stable"] is None or by_name["search-stable"] + by_name["search-canary"] == 100
    return int(by_name["search-canary"] or 0)


async def run(
    reconciler: RolloutReconciler, client: KubeClient, time: ManualTime, until: Any, seen: list[int]
) -> None:
    async def note() -> None:
        weight = await canary_weight(client)
        if not seen or seen[-1] != weight:
            seen.append(weight)

    await drive_rollout(reconciler, client, time.advance, (NS, "search"), lambda r: until(r, seen), note)


async def test_traefik_canary_weights_and_abort(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    await create_all(client, [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d])
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    await run(reconciler, client, time, lambda r, seen: healthy_on()(r), [])
    await client.patch(ROLLOUTS, "search", V2, NS)
    seen: list[int] = []
    await run(reconciler, client, time, lambda r, s: healthy_on()(r) and s[-1] == 0 and len(s) > 1, seen)
    assert seen == [0, 20, 60, 100, 0]

    body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "search", "image": "myregistry.com/search:v3"}]}}
        }
    }
    await client.patch(ROLLOUTS, "search", body, NS)
    seen = []
    await run(reconciler, client, time, lambda r, s: s[-1] == 20, seen)
    await client.patch_status(ROLLOUTS, "search", {"status": {"abort": True}}, NS)
    await run(
        reconciler,
        client,
        time,
        lambda r, s: (r.get("status") or {}).get("phase") == "Degraded" and s[-1] == 0,
        seen,
    )
    assert seen == [0, 20, 0]
