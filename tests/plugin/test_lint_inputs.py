"""`lint` on what people and tools really write: manifests Argo accepts, `kubectl get -o yaml` output, wrong types,
empty and unreadable files, and features this controller refuses or ignores.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from rollouts.cli import cli
from rollouts.plugin.linting import lint_report
from tests.fixtures.argo import ARGO_ROLLOUTS, argo_file


def advisory_free(warnings: list[str]) -> list[str]:
    """The warnings without the deep lint's advice (`[AL0nn]`, analysis.deeplint), which has its own tests."""
    return [w for w in warnings if not re.search(r"\[AL0\d\d\]$", w)]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def istio_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((EXAMPLES / "istio-canary").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


def lint(tmp_path: Path, content: str | bytes) -> Result:
    path = tmp_path / "manifest.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return CliRunner().invoke(cli, ["lint", "-f", str(path)])


def tls_only(docs: list[dict[str, Any]]) -> None:
    """A VirtualService with only TLS routes: the rollout names its TLS route, no HTTP route is needed."""
    vs = find(docs, "VirtualService")
    (http,) = vs["spec"].pop("http")
    vs["spec"]["tls"] = [{"match": [{"port": 443, "sniHosts": ["api.example.com"]}], "route": http["route"]}]
    ro = find(docs, "Rollout")
    ro["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualServices"] = [
        {"name": "api-server-vsvc", "tlsRoutes": [{"port": 443, "sniHosts": ["api.example.com"]}]}
    ]


def test_virtual_service_with_only_tls_routes_is_valid() -> None:
    """rollout/trafficrouting/istio/istio.go: ValidateHTTPRoutes runs only when the VirtualService has `http`
    (GetHttpRoutesI fails on `.spec.http` missing, and ValidateVirtualService then skips the HTTP check)."""
    docs = istio_docs()
    tls_only(docs)
    problems, warnings = lint_report(docs)
    assert (problems, advisory_free(warnings)) == ([], [])


def test_virtual_service_without_any_route_is_refused() -> None:
    docs = istio_docs()
    find(docs, "VirtualService")["spec"].pop("http")
    problems, _ = lint_report(docs)
    assert problems == [
        'Rollout "api-server": spec.strategy.canary.trafficRouting.istio.virtualServices[0].name: Istio '
        'VirtualService "api-server-vsvc": Unable to get any of the HTTP, TCP or TLS routes for the Istio '
        "VirtualService"
    ]


def test_virtual_service_route_must_reach_both_services() -> None:
    docs = istio_docs()
    find(docs, "VirtualService")["spec"]["http"][0]["route"].pop()
    problems, _ = lint_report(docs)
    assert problems == [
        'Rollout "api-server": spec.strategy.canary.trafficRouting.istio.virtualServices[0].name: Istio '
        "VirtualService \"api-server-vsvc\": Canary Service 'api-server-canary' not found in route"
    ]


def kubectl_get_yaml(doc: dict[str, Any]) -> dict[str, Any]:
    """What `kubectl get rollout -o yaml` adds: server metadata and the controller's status."""
    out = copy.deepcopy(doc)
    out["metadata"].update(
        creationTimestamp="2024-01-01T00:00:00Z",
        generation=3,
        resourceVersion="4711",
        uid="0b7a3c0e-1111-2222-3333-444455556666",
        managedFields=[{"manager": "kubectl", "operation": "Update"}],
    )
    out["status"] = {
        "HPAReplicas": 10,
        "availableReplicas": 10,
        "blueGreen": {},
        "canary": {"weights": {"canary": {"weight": 0}, "stable": {"weight": 100}}},
        "conditions": [{"type": "Completed", "status": "True", "reason": "RolloutCompleted", "message": ""}],
        "currentStepIndex": 8,
        "observedGeneration": "3",
        "pauseConditions": None,
        "phase": "Healthy",
        "stableRS": "6d4b8c7f9",
    }
    return out


def test_a_rollout_as_kubectl_get_writes_it_lints_and_plans(tmp_path: Path) -> None:
    docs = istio_docs()
    ro = find(docs, "Rollout")
    docs[docs.index(ro)] = kubectl_get_yaml(ro)
    problems, warnings = lint_report(docs)
    assert (problems, advisory_free(warnings)) == ([], [])
    listed = {"apiVersion": "v1", "kind": "List", "items": docs, "metadata": {"resourceVersion": ""}}
    result = lint(tmp_path, yaml.safe_dump(listed))
    assert (result.exit_code, result.stdout, advisory_free(result.stderr.splitlines())) == (0, "", [])
    planned = CliRunner().invoke(cli, ["plan", "-f", str(tmp_path / "manifest.yaml")])
    assert planned.exit_code == 0, planned.output
    assert planned.output.startswith("Rollout production/api-server: canary, 10 replicas")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda d: d.update(metadata="api-server"),
            'Rollout "": metadata: Invalid value: "api-server": Input should be a valid dictionary',
            id="metadata-string",
        ),
        pytest.param(
            lambda d: d.update(spec=[1]),
            'Rollout "api-server": spec: Invalid value: Input should be a valid dictionary',
            id="spec-list",
        ),
        pytest.param(
            lambda d: d["spec"].update(strategy="canary"),
            'Rollout "api-server": spec.strategy: Invalid value: "canary"',
            id="strategy-string",
        ),
        pytest.param(
            lambda d: d["spec"].update(template="x"),
            'Rollout "api-server": spec.template: Invalid value: "x"',
            id="template-string",
        ),
        pytest.param(
            lambda d: d["spec"]["strategy"]["canary"]["trafficRouting"].update(istio="x"),
            'Rollout "api-server": spec.strategy.canary.trafficRouting.istio: Invalid value: "x"',
            id="istio-string",
        ),
        pytest.param(
            lambda d: d["spec"]["strategy"]["canary"]["analysis"].update(templates=[None, 3]),
            'Rollout "api-server": spec.strategy.canary.analysis.templates[0]',
            id="template-refs-not-objects",
        ),
    ],
)
def test_wrong_types_name_the_field(change: Any, expected: str) -> None:
    docs = istio_docs()
    change(find(docs, "Rollout"))
    problems, _ = lint_report(docs)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "api-server-stable"}, "spec": [1]},
            None,
            id="service-spec-list",
        ),
        pytest.param(
            {
                "kind": "VirtualService",
                "apiVersion": "networking.istio.io/v1beta1",
                "metadata": {"name": "api-server-vsvc"},
                "spec": {"http": ["x"]},
            },
            "the object does not have the expected shape",
            id="virtualservice-routes-not-objects",
        ),
        pytest.param(
            {
                "kind": "AnalysisTemplate",
                "apiVersion": "argoproj.io/v1alpha1",
                "metadata": {"name": "latency"},
                "spec": {"args": "x"},
            },
            'AnalysisTemplate "latency": spec.args: Input should be a valid list',
            id="template-args-string",
        ),
    ],
)
def test_foreign_objects_of_any_shape(doc: dict[str, Any], expected: str | None) -> None:
    docs = [d for d in istio_docs() if d["metadata"]["name"] != doc["metadata"]["name"]] + [doc]
    problems, _ = lint_report(docs)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("", "manifest.yaml: no Kubernetes objects in the file", id="empty"),
        pytest.param(
            "---\n# nothing\n---\n", "manifest.yaml: no Kubernetes objects in the file", id="only-comments"
        ),
        pytest.param(b"kind: Rollout\nname: caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset", id="latin-1"),
        pytest.param("a: " + "[" * 5000, "nested more than 100 levels deep", id="deep"),
    ],
)
def test_files_that_are_not_manifests(tmp_path: Path, content: str | bytes, expected: str) -> None:
    result = lint(tmp_path, content)
    assert result.exit_code == 1
    (line,) = result.output.splitlines()  # one line, on stderr
    assert line.startswith(f"Error: {tmp_path / 'manifest.yaml'}: ") and expected in line, line
    assert result.stdout == ""


def test_objects_without_kind_are_problems() -> None:
    problems, _ = lint_report([{"apiVersion": "v1", "metadata": {"name": "x"}}, "text", 3])
    assert problems == [
        "document 1: kind is missing: every Kubernetes object names its kind",
        "document 2: not a Kubernetes object: expected a mapping with apiVersion and kind",
        "document 3: not a Kubernetes object: expected a mapping with apiVersion and kind",
    ]


def test_argo_templates_with_placeholder_limits_lint_clean() -> None:
    """Argo's e2e fixture (test/e2e/functional/rollout-secret.yaml): count and failureLimit from args."""
    docs = [
        d
        for d in yaml.safe_load_all(argo_file(ARGO_ROLLOUTS, "test/e2e/functional/rollout-secret.yaml"))
        if d
    ]
    problems, _ = lint_report(docs)
    assert [p for p in problems if p.startswith("AnalysisTemplate")] == []


def test_ignored_and_refused_features_are_warnings() -> None:
    docs = istio_docs()
    ro = find(docs, "Rollout")
    ro["metadata"]["annotations"] = {"notifications.argoproj.io/subscribe.on-rollout-aborted.slack": "ops"}
    web = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "workloadRef": {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "name": "web",
                "scaleDown": "progressively",
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }
    docs.append(web)
    ro["spec"]["strategy"]["canary"]["antiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {}}
    find(docs, "AnalysisTemplate", "latency")["spec"]["metrics"][0]["provider"] = {
        "plugin": {"acme/metrics": {}}
    }
    problems, warnings = lint_report(docs)
    assert problems == []
    assert advisory_free(warnings) == [
        'AnalysisTemplate "latency": not supported by this controller yet: spec.metrics[0].provider.plugin.acme/metrics: '
        "Forbidden: the plugin/acme/metrics metric provider is not supported yet (supported: prometheus, web, job, datadog, newRelic, cloudWatch, graphite, influxdb, wavefront, skywalking, kayenta, plugin/rollouts/judge); its "
        "measurements end in Error",
        'Rollout "web": spec.workloadRef.scaleDown: scaleDown of a workload other than a Deployment is not '
        "supported yet and ignored: only a Deployment is scaled down; this object keeps its pods",
    ]


def test_experiments_are_checked_as_the_controller_checks_them() -> None:
    """Experiments run here: lint says what the controller would refuse (Argo's VerifyExperimentSpec)."""

    def experiment(*templates: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Experiment",
            "metadata": {"name": "baseline"},
            "spec": {"templates": list(templates)},
        }

    good = {
        "name": "a",
        "selector": {"matchLabels": {"app": "a"}},
        "template": {"metadata": {"labels": {"app": "a"}}},
    }
    assert lint_report([experiment(good)]) == ([], [])
    assert lint_report([experiment(good, good)]) == (
        [
            "Experiment \"baseline\": spec.templates: Experiment baseline has repeated template name 'a' in templates"
        ],
        [],
    )
    assert lint_report([experiment({**good, "selector": None})])[0] == [
        "Experiment \"baseline\": spec.templates: Rollout has missing field '.Spec.Templates[0].Selector'"
    ]


def test_nginx_stable_ingress_is_checked_as_the_controller_checks_it() -> None:
    """Argo's controller (`ValidateIngress`) and ours (`desired_canary_ingress`) refuse a stable Ingress that does
    not route to the stable Service; lint says it in the controller's words. An extensions/v1beta1 Ingress
    (`serviceName`) reads as the API server serves it in networking.k8s.io/v1."""
    docs = [d for d in yaml.safe_load_all((EXAMPLES / "nginx-canary/rollout.yaml").read_text()) if d]
    ingress = find(docs, "Ingress")
    problems, warnings = lint_report(docs)
    assert (problems, advisory_free(warnings)) == ([], [])
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            path["backend"] = {"serviceName": path["backend"]["service"]["name"], "servicePort": 80}
    ingress["apiVersion"] = "extensions/v1beta1"
    problems, warnings = lint_report(docs)
    assert (problems, advisory_free(warnings)) == ([], [])
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            path["backend"]["serviceName"] = "other"
    assert lint_report(docs)[0] == [
        'Rollout "shop": spec.strategy.canary.trafficRouting.nginx.stableIngress: ingress `shop` has no rules '
        "using service shop-stable backend"
    ]
