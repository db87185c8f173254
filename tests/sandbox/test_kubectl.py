"""kubectl (when installed) against the sandbox: apply the project's CRDs and the examples, get, patch, scale,
delete and watch them, with no extra flag."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.sandbox import Sandbox
from rollouts.sandbox.crds import default_crds, traffic_crds
from tests.sandbox.helpers import wait_until

KUBECTL = shutil.which("kubectl")
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if p.is_dir() and list(p.glob("*.yaml")))

pytestmark = [pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")]


class Kubectl:
    def __init__(self, sb: Sandbox, cache: Path) -> None:
        self.base = [str(KUBECTL), "--kubeconfig", str(sb.kubeconfig_path), "--cache-dir", str(cache)]

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 30) -> str:
        result = subprocess.run(
            [*self.base, *args], input=stdin, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.base, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


@pytest.fixture
def kubectl(sandbox: Sandbox, tmp_path: Path) -> Kubectl:
    return Kubectl(sandbox, tmp_path / "kube-cache")


@pytest.mark.sandbox(install_crds=False)
def test_apply_crds_then_examples(kubectl: Kubectl, tmp_path: Path) -> None:
    crds = tmp_path / "crds.yaml"
    if (
        REPO / "crds" / "kustomization.yaml"
    ).exists():  # the project's generated CRDs, as a user applies them
        out = kubectl("apply", "-k", str(REPO / "crds"))
        crds.write_text(yaml.safe_dump_all(traffic_crds()))  # the mesh/gateway CRDs the examples need
        kubectl("apply", "-f", str(crds))
    else:
        crds.write_text(yaml.safe_dump_all(default_crds()))
        out = kubectl("apply", "-f", str(crds))
    assert "customresourcedefinition.apiextensions.k8s.io/rollouts.argoproj.io created" in out
    for example in EXAMPLES:
        out = kubectl("apply", "-f", str(example))
        assert "created" in out
        assert "unchanged" in kubectl("apply", "-f", str(example)).replace("configured", "unchanged")
    rollouts = kubectl.json("get", "rollouts", "-A")["items"]
    assert {r["metadata"]["name"] for r in rollouts} >= {"api-server"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in rollouts[0]["metadata"]["annotations"]


def test_get_patch_scale_delete_a_rollout(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "istio-canary" / "rollout.yaml"))
    ns = ["-n", "production"]
    kubectl("patch", "ro", "api-server", *ns, "--type", "merge", "-p", '{"spec":{"paused":true}}')
    kubectl("scale", "ro", "api-server", *ns, "--replicas", "4")
    got = kubectl.json("get", "ro", "api-server", *ns)
    assert (
        got["spec"]["paused"] is True and got["spec"]["replicas"] == 4 and got["metadata"]["generation"] == 3
    )
    kubectl(
        "patch",
        "ro",
        "api-server",
        *ns,
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":2}]',
    )
    assert kubectl.json("get", "ro", "api-server", *ns)["spec"]["replicas"] == 2
    assert kubectl("delete", "ro", "api-server", *ns).strip() == 'rollout.argoproj.io "api-server" deleted'
    assert kubectl("get", "ro", *ns, "-o", "name") == ""


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_builtin_strategic_patch_and_pods(kubectl: Kubectl) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "web", "image": "nginx:1"}, {"name": "side", "image": "envoy:1"}]
                },
            },
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    kubectl("set", "image", "deployment/web", "web=nginx:2")
    containers = kubectl.json("get", "deploy", "web")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:2"), ("side", "envoy:1")]
    kubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=10s")
    assert "is simulated and logs nothing" in kubectl("logs", "deployment/web", "-c", "web")
    assert "Node:         sandbox-node/10.0.0.1" in kubectl("describe", "pods")


def test_watch_sees_changes(kubectl: Kubectl, sandbox: Sandbox) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "istio-canary" / "rollout.yaml"))
    proc = kubectl.popen(
        "get",
        "ro",
        "-n",
        "production",
        "-w",
        "-o",
        "custom-columns=NAME:.metadata.name,GEN:.metadata.generation,ANN:.metadata.annotations.touched",
        "--no-headers",
        "--request-timeout",
        "30s",
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline().split()  # the initial ADDED, printed as soon as the watch started
        kubectl("annotate", "ro", "api-server", "-n", "production", "touched=yes")
        second = proc.stdout.readline().split()
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert [first, second] == [["api-server", "1", "<none>"], ["api-server", "1", "yes"]]


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_tables_show_the_printer_columns(kubectl: Kubectl, sandbox: Sandbox) -> None:
    kubectl("apply", "-f", str(REPO / "examples" / "istio-canary" / "rollout.yaml"))
    header, row = kubectl("get", "ro", "-n", "production").splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:2] == ["api-server", "10"]
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "t"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "t"}},
            "template": {
                "metadata": {"labels": {"a": "t"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(rs))
    wait_until(lambda: "1/1" in kubectl("get", "pods"), what="a ready pod")
    header, row = kubectl("get", "pods").splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[1:4] == ["1/1", "Running", "0"]


def test_explain_reads_the_crd_schema(kubectl: Kubectl) -> None:
    out = kubectl("explain", "rollout.spec")
    assert "KIND:       Rollout" in out
    assert "strategy" in out and "replicas" in out
