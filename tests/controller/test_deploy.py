"""Install manifests (deploy/): `kubectl kustomize` renders them, the Deployment is hardened, and the RBAC rules
cover every request the controller makes (observed in the sandbox's request log while the real manager and
reconcilers run a canary with Istio routing and an analysis run with a Job metric and a Secret arg)."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from collections.abc import Callable
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
    ROLLOUTS,
    SECRETS,
    SERVICES,
    VIRTUAL_SERVICES,
    all_resources,
)
from rollouts.sandbox import Sandbox

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
    (binding,) = find(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "rollouts-controller", "namespace": "rollouts"}
    ]


@needs_kubectl
def test_namespaced_install_uses_a_role_and_the_namespace_flag(tmp_path: Path) -> None:
    docs = render(DEPLOY / "namespaced", tmp_path)
    assert not find(docs, "ClusterRole") and not find(docs, "ClusterRoleBinding")
    assert len(find(docs, "Role")) == 1 and len(find(docs, "RoleBinding")) == 1
    (deploy,) = find(docs, "Deployment")
    assert "--namespace=$(POD_NAMESPACE)" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]


# ------------------------------------------------------------------------------------------------ RBAC


def _rules(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text())["rules"])


def allowed(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_rules_are_least_privilege_shaped() -> None:
    """No wildcards, only resources of the controller's table, and the Role equals the ClusterRole minus
    cluster-scoped resources."""
    cluster = _rules(DEPLOY / "base" / "clusterrole.yaml")
    role = _rules(DEPLOY / "namespaced" / "role.yaml")
    known = {(r.group, r.plural) for r in all_resources()}
    for rule in cluster:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        for res in rule["resources"]:
            assert (rule["apiGroups"][0], res.split("/")[0]) in known, res

    def flat(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(g, r, v) for x in rules for g in x["apiGroups"] for r in x["resources"] for v in x["verbs"]}

    assert flat(role) == {t for t in flat(cluster) if t[1] != "clusteranalysistemplates"}


async def _until(cond: Callable[[], Any], limit: float = 30.0) -> None:
    async with asyncio.timeout(limit):
        while not await cond():  # noqa: ASYNC110 - the controller under test drives the condition
            await asyncio.sleep(0.02)


def _load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "examples" / "istio-canary" / name).read_text()) if d]


@pytest.mark.slow
@pytest.mark.sandbox(job_duration=0.1)
async def test_rbac_covers_every_request_the_controller_makes(
    async_sandbox: Sandbox, kube: KubeClient
) -> None:
    rules = _rules(DEPLOY / "base" / "clusterrole.yaml")
    ns = "production"
    for doc in _load("services.yaml"):
        await kube.create(SERVICES, doc, ns)
    (vs,) = _load("virtualservice.yaml")
    await kube.create(VIRTUAL_SERVICES.with_version(vs["apiVersion"].split("/")[1]), vs, ns)
    (ro,) = _load("rollout.yaml")
    ro["spec"]["replicas"] = 2
    ro["spec"]["strategy"]["canary"].pop("analysis")
    await kube.create(ROLLOUTS, ro, ns)
    await kube.create(
        SECRETS,
        {"metadata": {"name": "token", "namespace": ns}, "data": {"t": base64.b64encode(b"s3cret").decode()}},
        ns,
    )
    await kube.create(
        ANALYSIS_RUNS,
        {
            "metadata": {"name": "smoke", "namespace": ns},
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
        },
        ns,
    )
    async_sandbox.requests.reset()
    config = ControllerConfig(
        leader_elect=True,
        lease_namespace="rollouts",
        healthz_port=0,
        metrics_port=0,
        bind="127.0.0.1",
        retry_period=0.2,
        renew_deadline=0.5,
        lease_duration=1.0,
    )
    ctl = KubeClient(settings_for_url(async_sandbox.url), qps=0, user_agent="controller-under-test")
    manager = Manager(ctl, config, registry=CollectorRegistry())
    await manager.start()
    try:

        async def healthy() -> bool:
            status = (await kube.get(ROLLOUTS, "api-server", ns)).get("status") or {}
            return bool(status.get("stableRS")) and status.get("phase") == "Healthy"

        await _until(healthy)
        await kube.patch(
            ROLLOUTS,
            "api-server",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "api-server", "image": "myregistry.com/api-server:v2.0.1"}
                            ]
                        }
                    }
                }
            },
            ns,
        )

        async def stepped() -> bool:
            status = (await kube.get(ROLLOUTS, "api-server", ns)).get("status") or {}
            return int(status.get("currentStepIndex") or 0) >= 1

        await _until(stepped)

        async def run_done() -> bool:
            run = await kube.get(ANALYSIS_RUNS, "smoke", ns)
            return (run.get("status") or {}).get("phase") in ("Successful", "Failed", "Error")

        await _until(run_done)
    finally:
        await manager.stop(grace=1)
        await ctl.close()
    agent = "controller-under-test"  # the test's own requests are not the controller's
    # Discovery (`/apis/argoproj.io/v1alpha1`, no resource) is granted to every authenticated user by the
    # default `system:discovery` ClusterRole: not the controller's rules to give.
    seen = {
        (r.group, r.resource + (f"/{r.subresource}" if r.subresource else ""), r.verb)
        for r in async_sandbox.requests.records()
        if r.user_agent.startswith(agent) and r.resource
    }
    missing = sorted(t for t in seen if not allowed(rules, *t))
    assert not missing, f"the ClusterRole does not allow: {missing}"
    # the scenario really exercised the writes the rules exist for
    for needed in [
        ("argoproj.io", "rollouts/status", "patch"),
        ("apps", "replicasets", "create"),
        ("coordination.k8s.io", "leases", "create"),
        ("", "secrets", "get"),
        ("batch", "jobs", "create"),
        ("networking.istio.io", "virtualservices", "patch"),
    ]:
        assert needed in seen or (needed[0], needed[1], "update") in seen, needed
