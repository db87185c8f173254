"""An APISIX canary (examples/traefik-canary/'s Rollout routed through an ApisixRoute shaped as Argo's APISIX
guide shows it) driven pass by pass by the Rollout reconciler against the sandbox: the backend weights follow
the steps 20 → 60 → back to stable, and the other rule of the route is left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import APISIX_ROUTES, ROLLOUTS
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "traefik-canary" / "rollout.yaml"
V2 = {
    "spec": {"template": {"spec": {"containers": [{"name": "search", "image": "myregistry.com/search:v2"}]}}}
}
ROUTE = {
    "apiVersion": "apisix.apache.org/v2",
    "kind": "ApisixRoute",
    "metadata": {"name": "search-route"},
    "spec": {
        "http": [
            {
                "name": "search",
                "match": {"paths": ["/*"], "hosts": ["search.example.com"]},
                "backends": [
                    {"serviceName": "search-stable", "servicePort": 80},
                    {"serviceName": "search-canary", "servicePort": 80},
                ],
            },
            {
                "name": "health",
                "match": {"paths": ["/healthz"]},
                "backends": [{"serviceName": "search-stable", "servicePort": 80}],
            },
        ]
    },
}


def docs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(EXAMPLE.read_text()):
        if not doc or doc["kind"] == "TraefikService":
            continue
        if doc["kind"] == "Rollout":
            doc["spec"]["strategy"]["canary"]["trafficRouting"] = {
                "apisix": {"route": {"name": "search-route", "rules": ["search"]}}
            }
        out.append(doc)
    return [*out, ROUTE]


async def test_apisix_canary_weights(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    await create_all(client, docs())
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    seen: list[int] = []

    async def note() -> None:
        route = await client.get(APISIX_ROUTES, "search-route", NS)
        backends = {b["serviceName"]: b.get("weight") for b in route["spec"]["http"][0]["backends"]}
        weight = int(backends["search-canary"] or 0)
        if not seen or seen[-1] != weight:
            seen.append(weight)
        assert route["spec"]["http"][1] == ROUTE["spec"]["http"][1]

    async def run(until: Any) -> None:
        await drive_rollout(reconciler, client, time.advance, (NS, "search"), until, note)

    await run(healthy_on())
    await client.patch(ROLLOUTS, "search", V2, NS)
    seen.clear()
    await run(lambda r: healthy_on()(r) and seen[-1] == 0 and len(seen) > 1)
    assert seen == [0, 20, 60, 100, 0]
