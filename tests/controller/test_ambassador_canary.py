"""An Ambassador canary shaped as Argo's examples/ambassador (the `echo` base Mapping, echo-stable/echo-canary,
setWeight 30 → 60 → 100) driven pass by pass by the Rollout reconciler against the sandbox: the canary Mapping
`echo-canary` is created at the first weight, follows the steps, is set to 0 and then deleted once the rollout
is promoted; the base Mapping is never touched."""

from __future__ import annotations

import copy
from typing import Any

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import AMBASSADOR_MAPPINGS, ROLLOUTS
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout, plain_service
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture

BASE = {
    "apiVersion": "getambassador.io/v2",
    "kind": "Mapping",
    "metadata": {"name": "echo"},
    "spec": {"resolver": "endpoint", "prefix": "/echo", "rewrite": "/echo", "service": "echo-stable:80"},
}


ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "echo"},
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": {"app": "echo"}},
        "template": {
            "metadata": {"labels": {"app": "echo"}},
            "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:v1"}]},
        },
        "strategy": {
            "canary": {
                "stableService": "echo-stable",
                "canaryService": "echo-canary",
                "trafficRouting": {"ambassador": {"mappings": ["echo"]}},
                "steps": [
                    {"setWeight": 30},
                    {"pause": {"duration": 30}},
                    {"setWeight": 60},
                    {"pause": {"duration": 30}},
                ],
            }
        },
    },
}


async def test_ambassador_canary_mapping_lifecycle(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    await create_all(
        client,
        [
            BASE,
            plain_service("echo-stable", "echo"),
            plain_service("echo-canary", "echo"),
            copy.deepcopy(ROLLOUT),
        ],
    )
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    seen: list[Any] = []

    async def note() -> None:
        try:
            mapping = await client.get(AMBASSADOR_MAPPINGS, "echo-canary", NS)
            state: Any = (mapping["spec"]["weight"], mapping["spec"]["service"])
        except NotFound:
            state = None
        if not seen or seen[-1] != state:
            seen.append(state)

    await drive_rollout(reconciler, client, time.advance, (NS, "echo"), healthy_on(), note)
    body = {
        "spec": {"template": {"spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:v2"}]}}}
    }
    await client.patch(ROLLOUTS, "echo", body, NS)
    seen.clear()
    await drive_rollout(
        reconciler,
        client,
        time.advance,
        (NS, "echo"),
        lambda r: healthy_on()(r) and len(seen) > 1 and seen[-1] is None,
        note,
    )
    assert seen == [
        None,
        (30, "echo-canary:80"),
        (60, "echo-canary:80"),
        (100, "echo-canary:80"),
        (0, "echo-canary:80"),
        None,
    ]
    base = await client.get(AMBASSADOR_MAPPINGS, "echo", NS)
    assert base["spec"] == BASE["spec"]
