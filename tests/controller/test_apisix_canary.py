"""An APISIX canary (examples/traefik-canary/'s Rollout routed through an ApisixRoute shaped as Argo's APISIX
guide shows it) driven pass by pass by the Rollout reconciler against the sandbox: the backend weights follow
the steps 20 → 60 → back to stable, and the other rule of the route is left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.errors import NotFound
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


def header_docs() -> list[dict[str, Any]]:
    """The same canary with Argo's APISIX guide's header route: `trace: debug` to the canary at step 1."""
    out = docs()
    for doc in out:
        if doc["kind"] == "Rollout":
            canary = doc["spec"]["strategy"]["canary"]
            canary["trafficRouting"]["managedRoutes"] = [{"name": "set-header"}]
            canary["steps"] = [
                {"setWeight": 20},
                {
                    "setHeaderRoute": {
                        "name": "set-header",
                        "match": [{"headerName": "trace", "headerValue": {"exact": "debug"}}],
                    }
                },
                {"pause": {}},
                {"setWeight": 60},
                {"pause": {"duration": "1m"}},
            ]
    return out


async def header_route(client: KubeClient) -> dict[str, Any] | None:
    try:
        return await client.get(APISIX_ROUTES, "set-header", NS)
    except NotFound:
        return None


async def paused_with_the_header_route(client: KubeClient) -> tuple[RolloutReconciler, ManualTime]:
    await create_all(client, header_docs())
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    await drive_rollout(reconciler, client, time.advance, (NS, "search"), healthy_on())
    assert await header_route(client) is None
    await client.patch(ROLLOUTS, "search", V2, NS)
    await drive_rollout(
        reconciler,
        client,
        time.advance,
        (NS, "search"),
        lambda r: (r.get("status") or {}).get("phase") == "Paused",
    )
    return reconciler, time


async def test_apisix_header_route_lives_from_its_step_to_the_end(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    reconciler, time = await paused_with_the_header_route(client)
    rollout = await client.get(ROLLOUTS, "search", NS)
    route = await header_route(client)
    assert route is not None
    (owner,) = route["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Rollout",
        "search",
        rollout["metadata"]["uid"],
        True,
    )
    first = route["spec"]["http"][0]
    assert first["backends"] == [{"serviceName": "search-canary", "servicePort": 80, "weight": 100}]
    assert first["match"]["exprs"] == [
        {"subject": {"scope": "Header", "name": "trace"}, "op": "Equal", "value": "debug"}
    ]
    assert first["priority"] == 1
    await client.patch_status(ROLLOUTS, "search", {"status": {"pauseConditions": None}}, NS)  # promote
    await drive_rollout(reconciler, client, time.advance, (NS, "search"), healthy_on())
    for _ in range(2):
        await reconciler.reconcile((NS, "search"))
    assert await header_route(client) is None  # removed with the managed routes at the end


async def test_an_abort_removes_the_apisix_header_route(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    reconciler, time = await paused_with_the_header_route(client)
    assert await header_route(client) is not None
    await client.patch_status(ROLLOUTS, "search", {"status": {"abort": True}}, NS)
    await drive_rollout(
        reconciler,
        client,
        time.advance,
        (NS, "search"),
        lambda r: (r.get("status") or {}).get("phase") == "Degraded",
    )
    for _ in range(2):
        await reconciler.reconcile((NS, "search"))
    assert await header_route(client) is None
    route = await client.get(APISIX_ROUTES, "search-route", NS)
    weights = {b["serviceName"]: b.get("weight") for b in route["spec"]["http"][0]["backends"]}
    assert weights == {"search-stable": 100, "search-canary": 0}
