"""Install manifests (deploy/): `kubectl kustomize` renders them, the Deployment is hardened, and the RBAC rules
cover every request the controller makes and no more than that: the sandbox's request log, taken while the real
manager and reconcilers run canaries with Istio, NGINX and SMI routing and an analysis run with a Job metric
and a Secret arg, is put through a model of the RBAC authorizer (tests/controller/rbac.py) with the manifests'
bindings, resourceNames and namespaces."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    INGRESSES,
    RESOURCES,
    ROLLOUTS,
    SECRETS,
    SERVICES,
    VIRTUAL_SERVICES,
    all_resources,
    lookup,
)
from rollouts.models.vocabulary import format_time
from rollouts.sandbox import Sandbox
from tests.controller import rbac
from tests.controller.rbac import Request

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBECTL = shutil.which("kubectl")


def render(directory: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` on the real tree; before the CRDs are generated, on a copy with an empty crds/."""
    if not (ROOT / "crds" / "kustomization.yaml").exists():
        copy = tmp_path / "tree"
        shutil.copytree(DEPLOY, copy / "deploy")
        (copy / "crds").mkdir()
        (copy / "crds" / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
        )
        directory = copy / directory.relative_to(ROOT)
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@needs_kubectl
def test_cluster_install_renders_with_hardened_deployment(tmp_path: Path) -> None:
    docs = render(DEPLOY, tmp_path)
    kinds = {d["kind"] for d in docs}
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceMonitor",
    } <= kinds
    if (ROOT / "crds" / "kustomization.yaml").exists():
        crds = {d["spec"]["names"]["kind"] for d in find(docs, "CustomResourceDefinition")}
        assert {"Rollout", "AnalysisRun", "AnalysisTemplate", "ClusterAnalysisTemplate"} <= crds
    (deploy,) = find(docs, "Deployment")
    spec = deploy["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    assert "--leader-elect" in c["args"]
    assert "--bind=0.0.0.0" in c["args"]  # explicit: outside a pod the controller binds loopback
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert all(
        d["metadata"].get("namespace") == "rollouts"
        for d in docs
        if d["kind"] in ("ServiceAccount", "Deployment", "Service", "ServiceMonitor")
    )
    (binding,) = find(docs, "ClusterRoleBinding")  # the Secrets reader is not bound cluster-wide
    assert binding["roleRef"]["name"] == "rollouts-controller"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "rollouts-controller", "namespace": "rollouts"}
    ]


@needs_kubectl
def test_namespaced_install_uses_a_role_and_the_namespace_flag(tmp_path: Path) -> None:
    docs = render(DEPLOY / "namespaced", tmp_path)
    assert not find(docs, "ClusterRole") and not find(docs, "ClusterRoleBinding")
    roles = {d["metadata"]["name"] for d in find(docs, "Role")}
    assert roles == {
        "rollouts-controller",
        "rollouts-controller-leader-election",
        "rollouts-controller-notifications",
        "rollouts-controller-provider-secrets",
    }
    assert {d["roleRef"]["name"] for d in find(docs, "RoleBinding")} == roles
    (deploy,) = find(docs, "Deployment")
    assert "--namespace=$(POD_NAMESPACE)" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [d for d in docs if d["kind"] == "ClusterRole"]  # the Secrets reader is not installed either


@needs_kubectl
@pytest.mark.parametrize("directory", ["base", "namespaced"])
def test_the_authorizer_model_reads_the_manifests_as_kustomize_renders_them(
    directory: str, tmp_path: Path
) -> None:
    rendered = [d for d in render(DEPLOY / directory, tmp_path) if d["kind"] in rbac.RBAC_KINDS]
    docs = rbac.load(DEPLOY / "base", "rollouts")
    if directory == "namespaced":
        docs = [d for d in docs if d["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
        docs += rbac.load(DEPLOY / "namespaced", "rollouts")

    def view(ds: list[dict[str, Any]]) -> set[str]:
        return {json.dumps([g.scope, g.rules, g.source], sort_keys=True) for g in rbac.grants(ds)}

    assert view(rendered) == view(docs) and view(docs)


# ------------------------------------------------------------------------------------------------ RBAC


def _rules(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text())["rules"])


def cluster_install(*bindings: dict[str, Any]) -> list[rbac.Grant]:
    """What the cluster-wide install grants the controller, plus the RoleBindings an operator added."""
    return rbac.grants([*rbac.load(DEPLOY / "base", "rollouts"), *bindings])


def test_rules_are_least_privilege_shaped() -> None:
    """No wildcards, only resources of the controller's table, and the Role equals the ClusterRole minus
    cluster-scoped resources plus reading Secrets."""
    cluster = _rules(DEPLOY / "base" / "clusterrole.yaml")
    role = _rules(DEPLOY / "namespaced" / "role.yaml")
    known = {(r.group, r.plural) for r in all_resources()}
    for rule in cluster + role:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        for res in rule["resources"]:
            assert (rule["apiGroups"][0], res.split("/")[0]) in known, res

    def flat(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(g, r, v) for x in rules for g in x["apiGroups"] for r in x["resources"] for v in x["verbs"]}

    expected = {t for t in flat(cluster) if t[1] != "clusteranalysistemplates"} | {("", "secrets", "get")}
    assert flat(role) == expected


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        pytest.param(
            Request("rollouts", "coordination.k8s.io", "leases", "create"), True, id="create-lease-here"
        ),
        pytest.param(
            Request("rollouts", "coordination.k8s.io", "leases", "update", "rollouts-controller-lock"),
            True,
            id="renew-own-lease",
        ),
        pytest.param(
            Request("rollouts", "coordination.k8s.io", "leases", "watch", "rollouts-controller-lock"),
            True,
            id="watch-own-lease",
        ),
        pytest.param(
            Request("rollouts", "coordination.k8s.io", "leases", "update", "other-controller-lock"),
            False,
            id="other-lease",
        ),
        pytest.param(
            Request("rollouts", "coordination.k8s.io", "leases", "watch"), False, id="watch-all-leases"
        ),
        pytest.param(
            Request("kube-system", "coordination.k8s.io", "leases", "update", "rollouts-controller-lock"),
            False,
            id="lease-elsewhere",
        ),
        pytest.param(
            Request("kube-system", "coordination.k8s.io", "leases", "create"), False, id="create-elsewhere"
        ),
        pytest.param(Request("shop", "", "secrets", "get", "db"), False, id="secret-without-binding"),
        pytest.param(Request("shop", "", "secrets", "list"), False, id="list-secrets"),
        pytest.param(
            Request("", "networking.istio.io", "virtualservices", "watch"), True, id="watch-routers"
        ),
        pytest.param(
            Request("shop", "networking.k8s.io", "ingresses", "create", ""), True, id="nginx-canary"
        ),
        pytest.param(Request("shop", "", "pods", "delete"), False, id="pods-delete"),
    ],
)
def test_the_cluster_install_grants_only_what_it_must(request_: Request, allowed: bool) -> None:
    assert rbac.allows(cluster_install(), request_) is allowed


def test_secrets_are_readable_only_where_they_are_granted() -> None:
    per_namespace = cluster_install(rbac.role_binding("shop", "rollouts-controller-secrets"))
    assert rbac.allows(per_namespace, Request("shop", "", "secrets", "get", "db"))
    assert not rbac.allows(per_namespace, Request("payments", "", "secrets", "get", "db"))
    everywhere = rbac.grants(
        [
            *rbac.load(DEPLOY / "base", "rollouts"),
            *rbac.load(DEPLOY / "components" / "secrets-all-namespaces", "rollouts"),
        ]
    )
    assert rbac.allows(everywhere, Request("payments", "", "secrets", "get", "db"))
    assert not rbac.allows(everywhere, Request("payments", "", "secrets", "list"))


def installed_config(**mode: Any) -> ControllerConfig:
    """The controller as the install runs it (Lease in namespace "rollouts"), with the lease timings shortened."""
    return ControllerConfig(
        lease_namespace="rollouts",
        notifications_namespace="rollouts",  # POD_NAMESPACE, from the Deployment's downward API
        healthz_port=0,
        metrics_port=0,
        bind="127.0.0.1",
        retry_period=0.2,
        renew_deadline=1.0,
        lease_duration=2.0,
        **mode,
    )


async def _until(cond: Callable[[], Any], limit: float = 30.0) -> None:
    async with asyncio.timeout(limit):
        while not await cond():  # noqa: ASYNC110 - the controller under test drives the condition
            await asyncio.sleep(0.02)


def _load(directory: str, name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "examples" / directory / name).read_text()) if d]


TRAFFIC_SPLIT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "trafficsplits.split.smi-spec.io"},
    "spec": {
        "group": "split.smi-spec.io",
        "names": {"kind": "TrafficSplit", "listKind": "TrafficSplitList", "plural": "trafficsplits"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha2",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}

SMOKE_RUN: dict[str, Any] = {
    "metadata": {"name": "smoke", "namespace": "production"},
    "spec": {
        "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}],
        "metrics": [
            {
                "name": "job",
                "provider": {
                    "job": {
                        "spec": {
                            "backoffLimit": 0,
                            "template": {
                                "spec": {
                                    "restartPolicy": "Never",
                                    "containers": [
                                        {"name": "c", "image": "busybox", "args": ["{{args.token}}"]}
                                    ],
                                }
                            },
                        }
                    }
                },
            }
        ],
    },
}


async def _routed_rollouts(kube: KubeClient) -> list[tuple[str, str]]:
    """The Istio example in production, the NGINX example in shop, and an SMI copy of it in mesh."""
    ns = "production"
    for doc in _load("istio-canary", "services.yaml"):
        await kube.create(SERVICES, doc, ns)
    (vs,) = _load("istio-canary", "virtualservice.yaml")
    await kube.create(VIRTUAL_SERVICES.with_version(vs["apiVersion"].split("/")[1]), vs, ns)
    (ro,) = _load("istio-canary", "rollout.yaml")
    ro["spec"]["replicas"] = 2
    ro["spec"]["strategy"]["canary"].pop("analysis")
    await kube.create(ROLLOUTS, ro, ns)
    for target, routing in (("shop", None), ("mesh", {"smi": {"trafficSplitName": "shop-split"}})):
        for doc in _load("nginx-canary", "rollout.yaml"):
            doc["metadata"]["namespace"] = target
            if doc["kind"] == "Rollout":
                doc["spec"]["replicas"] = 2
                if routing is not None:
                    doc["spec"]["strategy"]["canary"]["trafficRouting"] = routing
            elif doc["kind"] == "Ingress" and routing is not None:
                continue
            resource = {"Rollout": ROLLOUTS, "Ingress": INGRESSES, "Service": SERVICES}[doc["kind"]]
            await kube.create(resource, doc, target)
    return [(ns, "api-server"), ("shop", "shop"), ("mesh", "shop")]


@pytest.mark.slow
@pytest.mark.sandbox(job_duration=0.1)
async def test_rbac_covers_every_request_the_controller_makes(
    async_sandbox: Sandbox, kube: KubeClient
) -> None:
    # As the README says: the Secrets reader bound in the one namespace whose analysis reads a Secret.
    granted = cluster_install(rbac.role_binding("production", "rollouts-controller-secrets"))
    await kube.create(RESOURCES["CustomResourceDefinition"], TRAFFIC_SPLIT_CRD)
    rollouts = await _routed_rollouts(kube)
    ns = "production"
    await kube.create(
        SECRETS,
        {"metadata": {"name": "token", "namespace": ns}, "data": {"t": base64.b64encode(b"s3cret").decode()}},
        ns,
    )
    await kube.create(ANALYSIS_RUNS, SMOKE_RUN, ns)
    # a Deployment moved to a Rollout (scaleDown: progressively)
    for doc in _load("workload-ref", "rollout.yaml"):
        await kube.create(lookup(doc["kind"], doc["apiVersion"]), doc, "web")
    async_sandbox.requests.reset()
    config = installed_config(leader_elect=True)
    ctl = KubeClient(settings_for_url(async_sandbox.url), qps=0, user_agent="controller-under-test")
    manager = Manager(ctl, config, registry=CollectorRegistry())
    await manager.start()
    try:

        async def healthy() -> bool:
            for namespace, name in rollouts:
                status = (await kube.get(ROLLOUTS, name, namespace)).get("status") or {}
                if not status.get("stableRS") or status.get("phase") != "Healthy":
                    return False
            return True

        await _until(healthy)
        for namespace, name in rollouts:
            await kube.patch(
                ROLLOUTS,
                name,
                {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}},
                namespace,
            )

        async def stepped() -> bool:
            for namespace, name in rollouts:
                status = (await kube.get(ROLLOUTS, name, namespace)).get("status") or {}
                if int(status.get("currentStepIndex") or 0) < 1:
                    return False
            return True

        await _until(stepped)

        async def run_done() -> bool:
            run = await kube.get(ANALYSIS_RUNS, "smoke", ns)
            return (run.get("status") or {}).get("phase") in ("Successful", "Failed", "Error")

        await _until(run_done)

        async def handed_over() -> bool:
            deployment = await kube.get(lookup("Deployment"), "web", "web")
            return bool(deployment["spec"]["replicas"] == 0)

        await _until(handed_over)
        # `kubectl rollouts restart web`: its pods, all older than now, are evicted
        await asyncio.sleep(1.1)
        restart_at = datetime.now(UTC).replace(microsecond=0)
        await kube.patch(ROLLOUTS, "web", {"spec": {"restartAt": format_time(restart_at)}}, "web")

        async def restarted() -> bool:
            status = (await kube.get(ROLLOUTS, "web", "web")).get("status") or {}
            return bool(status.get("restartedAt") == format_time(restart_at))

        await _until(restarted)
        run = await kube.get(ANALYSIS_RUNS, "smoke", ns)
        assert run["status"]["phase"] == "Successful", run["status"]  # the Secret was read
    finally:
        await manager.stop(grace=1)
        await ctl.close()
    agent = "controller-under-test"  # the test's own requests are not the controller's
    # Discovery (`/apis/argoproj.io/v1alpha1`, no resource) is granted to every authenticated user by the
    # default `system:discovery` ClusterRole: not the controller's rules to give.
    seen = {
        Request.of(r)
        for r in async_sandbox.requests.records()
        if r.user_agent.startswith(agent) and r.resource
    }
    refused = sorted(str(r) for r in seen if not rbac.allows(granted, r))
    assert not refused, "the installed RBAC does not allow:\n" + "\n".join(refused)
    # the scenario really exercised the requests the rules exist for
    verbs = {(r.group, r.resource, r.verb) for r in seen}
    for needed in [
        ("argoproj.io", "rollouts/status", "patch"),
        ("apps", "replicasets", "create"),
        ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "watch"),
        ("", "secrets", "get"),
        ("batch", "jobs", "create"),
        ("networking.istio.io", "virtualservices", "watch"),
        ("networking.k8s.io", "ingresses", "create"),
        ("split.smi-spec.io", "trafficsplits", "create"),
    ]:
        assert needed in verbs or (needed[0], needed[1], "update") in verbs, needed


async def test_a_secret_the_controller_may_not_read_says_which_binding_is_missing() -> None:
    """Where ClusterRole rollouts-controller-secrets is not bound, the API server answers 403 (served here as a
    real API server words it); the analysis run's error names the namespace and the RoleBinding to create."""
    from aiohttp import web

    from rollouts.controller.analyzing import KubeSecrets, SecretError

    async def forbidden(request: web.Request) -> web.Response:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
            "message": 'secrets "token" is forbidden: User "system:serviceaccount:rollouts:rollouts-controller" '
            'cannot get resource "secrets" in API group "" in the namespace "shop"',
        }
        return web.json_response(body, status=403)

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/shop/secrets/token", forbidden)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = KubeClient(settings_for_url(f"http://127.0.0.1:{port}"), qps=0)
    try:
        with pytest.raises(SecretError) as caught:
            await KubeSecrets(client, "shop").resolve("token", "t")
    finally:
        await client.close()
        await runner.cleanup()
    message = str(caught.value)
    assert 'cannot get resource "secrets"' in message
    assert "bind ClusterRole rollouts-controller-secrets to its ServiceAccount there" in message
    assert "kubectl -n shop create rolebinding rollouts-controller-secrets" in message


# ------------------------------------------------------------------------------------------------ sharded


@needs_kubectl
def test_sharded_install_runs_three_replicas_with_the_sharding_flag_and_its_lease_role(
    tmp_path: Path,
) -> None:
    docs = render(DEPLOY / "sharded", tmp_path)
    (deploy,) = find(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 3
    assert "--sharding" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    roles = {d["metadata"]["name"] for d in find(docs, "Role")}
    assert "rollouts-controller-sharding" in roles
    assert {d["roleRef"]["name"] for d in find(docs, "RoleBinding")} == roles


@pytest.mark.slow
async def test_the_sharded_install_allows_every_lease_request_a_sharded_replica_makes(
    async_sandbox: Sandbox, kube: KubeClient
) -> None:
    """Two sharded replicas join, split a Rollout set, and leave; every Lease request they sent is one the sharded
    install's RBAC allows (and the rules are really needed: list, create, get and update were all sent; delete,
    for the Lease of a member gone for good, is granted by the same rule)."""
    granted = rbac.grants(
        [*rbac.load(DEPLOY / "base", "rollouts"), *rbac.load(DEPLOY / "sharded", "rollouts")]
    )
    async_sandbox.requests.reset()
    agent = "sharded-under-test"
    managers = []
    clients = []
    for identity in ("replica-a", "replica-b"):
        config = installed_config(sharding=True, identity=identity)
        client = KubeClient(settings_for_url(async_sandbox.url), qps=0, user_agent=f"{agent}/{identity}")
        clients.append(client)
        managers.append(Manager(client, config, registry=CollectorRegistry()))
    try:
        for manager in managers:
            await manager.start()

        async def ready() -> bool:
            return all(m.ready() for m in managers)

        await _until(ready)
        await asyncio.sleep(1.0)  # a few rounds with both members
    finally:
        for manager in managers:
            await manager.stop(grace=1)
        for client in clients:
            await client.close()
    seen = {
        Request.of(r)
        for r in async_sandbox.requests.records()
        if r.user_agent.startswith(agent) and r.resource
    }
    leases = {r for r in seen if r.resource == "leases"}
    refused = sorted(str(r) for r in leases if not rbac.allows(granted, r))
    assert not refused, "the sharded install's RBAC does not allow:\n" + "\n".join(refused)
    assert {r.verb for r in leases} >= {"list", "create", "get", "update"}, leases
