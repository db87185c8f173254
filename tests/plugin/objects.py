"""Hand-built objects for the plugin's tests: a canary mid-rollout, an aborted canary, a paused blue-green.

Each scenario is a list of wire dicts (Rollout, ReplicaSets, Pods, AnalysisRuns) with fixed timestamps relative
to `NOW`, so the pure renderers give byte-stable output (golden files) and the same objects can be loaded
into the sandbox API server for the command tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def ts(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner(kind: str, name: str, uid: str) -> list[Obj]:
    api = "argoproj.io/v1alpha1" if kind == "Rollout" else "apps/v1"
    return [
        {
            "apiVersion": api,
            "kind": kind,
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def _template(app: str, image: str) -> Obj:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": app, "image": image, "ports": [{"containerPort": 8080}]}]},
    }


def rollout(
    name: str, namespace: str, uid: str, replicas: int, strategy: Obj, status: Obj, image: str
) -> Obj:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "generation": 3,
            "creationTimestamp": ts(timedelta(days=7)),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, image),
            "strategy": strategy,
        },
        "status": {"observedGeneration": "3", **status},
    }


def replicaset(
    ro: Obj,
    pod_hash: str,
    revision: int,
    image: str,
    replicas: int,
    available: int,
    age: timedelta,
    annotations: Obj | None = None,
) -> Obj:
    name = ro["metadata"]["name"]
    template = _template(name, image)
    template["metadata"]["labels"]["rollouts-pod-template-hash"] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{pod_hash}",
            "namespace": ro["metadata"]["namespace"],
            "uid": f"rs-{pod_hash}",
            "generation": 1,
            "labels": {"app": name, "rollouts-pod-template-hash": pod_hash},
            "annotations": {"rollout.argoproj.io/revision": str(revision), **(annotations or {})},
            "ownerReferences": _owner("Rollout", name, ro["metadata"]["uid"]),
            "creationTimestamp": ts(age),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name, "rollouts-pod-template-hash": pod_hash}},
            "template": template,
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "observedGeneration": 1,
        },
    }


def pod(
    rs: Obj, suffix: str, age: timedelta, *, ready: bool = True, restarts: int = 0, waiting: str = ""
) -> Obj:
    labels = dict(rs["metadata"]["labels"])
    image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
    state: Obj = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": ts(age)}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{rs['metadata']['name']}-{suffix}",
            "namespace": rs["metadata"]["namespace"],
            "uid": f"pod-{rs['metadata']['name']}-{suffix}",
            "labels": labels,
            "ownerReferences": _owner("ReplicaSet", rs["metadata"]["name"], rs["metadata"]["uid"]),
            "creationTimestamp": ts(age),
        },
        "spec": {"containers": [{"name": labels["app"], "image": image}]},
        "status": {
            "phase": "Running" if not waiting else "Pending",
            "containerStatuses": [
                {
                    "name": labels["app"],
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state,
                    "image": image,
                }
            ],
        },
    }


def measurement(
    phase: str, value: str, started: timedelta, message: str = "", metadata: Obj | None = None
) -> Obj:
    m: Obj = {"phase": phase, "startedAt": ts(started), "finishedAt": ts(started - timedelta(seconds=1))}
    if value:
        m["value"] = value
    if message:
        m["message"] = message
    if metadata:
        m["metadata"] = metadata
    return m


def analysis_run(
    ro: Obj,
    name: str,
    revision: int,
    pod_hash: str,
    metrics: list[Obj],
    results: list[Obj],
    phase: str,
    message: str,
    age: timedelta,
    rollout_type: str,
) -> Obj:
    counts = {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0}
    for r in results:
        for k in counts:
            counts[k] += r.get(k, 0)
    status: Obj = {"phase": phase, "metricResults": results, "startedAt": ts(age)}
    if message:
        status["message"] = message
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": name,
            "namespace": ro["metadata"]["namespace"],
            "uid": f"ar-{name}",
            "labels": {
                "app": ro["metadata"]["name"],
                "rollouts-pod-template-hash": pod_hash,
                "rollout-type": rollout_type,
            },
            "annotations": {"rollout.argoproj.io/revision": str(revision)},
            "ownerReferences": _owner("Rollout", ro["metadata"]["name"], ro["metadata"]["uid"]),
            "creationTimestamp": ts(age),
        },
        "spec": {"metrics": metrics},
        "status": status,
    }


SUCCESS_RATE = {
    "name": "success-rate",
    "interval": "1m",
    "count": 5,
    "failureLimit": 1,
    "successCondition": "len(result) == 0 || result[0] >= 0.95",
    "provider": {
        "prometheus": {
            "address": "http://prometheus:9090",
            "query": 'sum(rate(http_requests_total{service="api-server-canary",status!~"5.."}[5m]))\n'
            ' / sum(rate(http_requests_total{service="api-server-canary"}[5m]))',
        }
    },
}
LATENCY = {
    "name": "latency",
    "interval": "1m",
    "count": 3,
    "successCondition": "result[0] <= 500",
    "failureCondition": "result[0] > 1000",
    "provider": {
        "prometheus": {"address": "http://prometheus:9090", "query": "histogram_quantile(0.99, x) * 1000"}
    },
}


def canary_mid_rollout() -> list[Obj]:
    """api-server: canary at step 1/6 (paused after setWeight 20), background analysis running."""
    steps = [
        {"setWeight": 20},
        {"pause": {}},
        {"setWeight": 40},
        {"pause": {"duration": "10m"}},
        {"setWeight": 80},
        {"pause": {"duration": "5m"}},
    ]
    ro = rollout(
        "api-server",
        "shop",
        "uid-api-server",
        5,
        {"canary": {"steps": steps, "analysis": {"templates": [{"templateName": "success-rate"}]}}},
        {
            "phase": "Paused",
            "message": "CanaryPauseStep",
            "currentStepIndex": 1,
            "controllerPause": True,
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": ts(timedelta(minutes=3))}],
            "stableRS": "6d4f8b9c7",
            "currentPodHash": "7b5c9d8f6",
            "currentStepHash": "5f6b7c",
            "replicas": 6,
            "updatedReplicas": 1,
            "readyReplicas": 6,
            "availableReplicas": 6,
        },
        "registry.example/api-server:1.5.0",
    )
    canary = replicaset(ro, "7b5c9d8f6", 2, "registry.example/api-server:1.5.0", 1, 1, timedelta(minutes=4))
    stable = replicaset(ro, "6d4f8b9c7", 1, "registry.example/api-server:1.4.2", 5, 5, timedelta(days=7))
    pods = [pod(canary, "x7k2p", timedelta(minutes=4))]
    pods += [
        pod(stable, s, timedelta(days=7), restarts=2 if s == "b2c3d" else 0)
        for s in ("a1b2c", "b2c3d", "c3d4e", "d4e5f", "e5f6g")
    ]
    run = analysis_run(
        ro,
        "api-server-7b5c9d8f6-2",
        2,
        "7b5c9d8f6",
        [SUCCESS_RATE],
        [
            {
                "name": "success-rate",
                "phase": "Running",
                "count": 3,
                "successful": 3,
                "measurements": [
                    measurement("Successful", "[0.97]", timedelta(minutes=m)) for m in (3, 2, 1)
                ],
            }
        ],
        "Running",
        "",
        timedelta(minutes=3),
        "Background",
    )
    return [ro, canary, stable, *pods, run]


def aborted_canary() -> list[Obj]:
    """checkout: traffic-routed canary aborted by a failed step analysis."""
    why = 'Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)'
    ro = rollout(
        "checkout",
        "shop",
        "uid-checkout",
        3,
        {
            "canary": {
                "canaryService": "checkout-canary",
                "stableService": "checkout-stable",
                "trafficRouting": {"istio": {"virtualService": {"name": "checkout", "routes": ["primary"]}}},
                "steps": [
                    {"setWeight": 10},
                    {"analysis": {"templates": [{"templateName": "success-rate"}]}},
                    {"setWeight": 50},
                    {"pause": {}},
                ],
            }
        },
        {
            "phase": "Degraded",
            "message": f"RolloutAborted: Rollout aborted update to revision 4: {why}",
            "abort": True,
            "abortedAt": ts(timedelta(minutes=2)),
            "currentStepIndex": 0,
            "stableRS": "5c8d7f9b4",
            "currentPodHash": "84f6c7d95",
            "replicas": 4,
            "updatedReplicas": 1,
            "readyReplicas": 4,
            "availableReplicas": 4,
            "canary": {
                "weights": {
                    "canary": {"weight": 0, "podTemplateHash": "5c8d7f9b4", "serviceName": "checkout-canary"},
                    "stable": {
                        "weight": 100,
                        "podTemplateHash": "5c8d7f9b4",
                        "serviceName": "checkout-stable",
                    },
                }
            },
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "RolloutAborted",
                    "message": f"Rollout aborted update to revision 4: {why}",
                }
            ],
        },
        "registry.example/checkout:2.1.0",
    )
    canary = replicaset(
        ro,
        "84f6c7d95",
        4,
        "registry.example/checkout:2.1.0",
        1,
        1,
        timedelta(minutes=9),
        {"scale-down-deadline": (NOW + timedelta(seconds=25)).strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    stable = replicaset(ro, "5c8d7f9b4", 3, "registry.example/checkout:2.0.7", 3, 3, timedelta(days=2))
    old = replicaset(ro, "6b9f8c7d2", 2, "registry.example/checkout:2.0.6", 0, 0, timedelta(days=9))
    pods = [pod(canary, "q8w7e", timedelta(minutes=9), restarts=1)]
    pods += [pod(stable, s, timedelta(days=2)) for s in ("h5j6k", "j6k7l", "k7l8m")]
    results = [
        {
            "name": "success-rate",
            "phase": "Failed",
            "count": 3,
            "successful": 1,
            "failed": 2,
            "message": "",
            "measurements": [
                measurement("Successful", "[0.96]", timedelta(minutes=5)),
                measurement("Failed", "[0.91]", timedelta(minutes=4)),
                measurement("Failed", "[0.87]", timedelta(minutes=3)),
            ],
        },
        {
            "name": "latency",
            "phase": "Successful",
            "count": 3,
            "successful": 2,
            "inconclusive": 1,
            "measurements": [
                measurement("Successful", "[212]", timedelta(minutes=5)),
                measurement("Inconclusive", "[740]", timedelta(minutes=4)),
                measurement("Successful", "[305]", timedelta(minutes=3)),
            ],
        },
    ]
    run = analysis_run(
        ro,
        "checkout-84f6c7d95-4-1",
        4,
        "84f6c7d95",
        [SUCCESS_RATE, LATENCY],
        results,
        "Failed",
        why,
        timedelta(minutes=5),
        "Step",
    )
    return [ro, canary, stable, old, *pods, run]


def paused_bluegreen() -> list[Obj]:
    """web-frontend: blue-green waiting for promotion; pre-promotion smoke tests (a Job) passed."""
    ro = rollout(
        "web-frontend",
        "shop",
        "uid-web-frontend",
        3,
        {
            "blueGreen": {
                "activeService": "web-frontend-active",
                "previewService": "web-frontend-preview",
                "autoPromotionEnabled": False,
                "prePromotionAnalysis": {"templates": [{"templateName": "smoke-tests"}]},
            }
        },
        {
            "phase": "Paused",
            "message": "BlueGreenPause",
            "controllerPause": True,
            "pauseConditions": [{"reason": "BlueGreenPause", "startTime": ts(timedelta(minutes=1))}],
            "stableRS": "59d8c6b7f4",
            "currentPodHash": "7f9c5d6b8",
            "blueGreen": {"activeSelector": "59d8c6b7f4", "previewSelector": "7f9c5d6b8"},
            "replicas": 6,
            "updatedReplicas": 3,
            "readyReplicas": 6,
            "availableReplicas": 6,
        },
        "registry.example/web-frontend:3.2.0",
    )
    preview = replicaset(
        ro, "7f9c5d6b8", 6, "registry.example/web-frontend:3.2.0", 3, 3, timedelta(minutes=6)
    )
    active = replicaset(ro, "59d8c6b7f4", 5, "registry.example/web-frontend:3.1.4", 3, 3, timedelta(days=3))
    pods = [pod(preview, s, timedelta(minutes=6)) for s in ("p1q2r", "q2r3s", "r3s4t")]
    pods += [pod(active, s, timedelta(days=3)) for s in ("a9b8c", "b8c7d", "c7d6e")]
    smoke = {"name": "smoke-tests", "provider": {"job": {"spec": {"template": {"spec": {"containers": []}}}}}}
    run = analysis_run(
        ro,
        "web-frontend-7f9c5d6b8-6-pre",
        6,
        "7f9c5d6b8",
        [smoke],
        [
            {
                "name": "smoke-tests",
                "phase": "Successful",
                "count": 1,
                "successful": 1,
                "measurements": [
                    measurement(
                        "Successful",
                        "",
                        timedelta(minutes=3),
                        metadata={"job-name": "web-frontend-7f9c5d6b8-6-pre-smoke-tests-1"},
                    )
                ],
            }
        ],
        "Successful",
        "",
        timedelta(minutes=3),
        "PrePromotion",
    )
    return [ro, preview, active, *pods, run]


SCENARIOS = {
    "canary_mid_rollout": canary_mid_rollout,
    "aborted_canary": aborted_canary,
    "paused_bluegreen": paused_bluegreen,
}


def split(objs: list[Obj]) -> tuple[Obj, list[Obj], list[Obj], list[Obj]]:
    """(rollout, replicasets, pods, analysis runs) of a scenario."""
    by: dict[str, list[Obj]] = {}
    for o in objs:
        by.setdefault(o["kind"], []).append(o)
    return by["Rollout"][0], by.get("ReplicaSet", []), by.get("Pod", []), by.get("AnalysisRun", [])
