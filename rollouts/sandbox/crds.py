"""The CustomResourceDefinitions the sandbox installs on start: the project's, plus the traffic routers' objects.

Where it sits: `running.Sandbox` calls `default_crds()` once per process (the result is cached, so a fresh
sandbox per test stays cheap). The project's CRDs come from `rollouts.crdgen.all_crds()` when that module
exists, else from the repository's `crds/*.yaml`, else from the minimal schemaless definitions below (same
names, kinds, shortNames, categories and subresources as Argo Rollouts). Istio's VirtualService and
DestinationRule and the Gateway API's HTTPRoute are added so the canary examples apply as they would on a
cluster with a mesh or a gateway installed.
"""

from __future__ import annotations

import copy
import importlib
from functools import cache
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

_SCHEMA = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}


def _crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    short: list[str] | None = None,
    scope: str = "Namespaced",
    status: bool = True,
    scale: bool = False,
    categories: list[str] | None = None,
) -> Obj:
    subresources: Obj = {}
    if status:
        subresources["status"] = {}
    if scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.HPAReplicas",
            "labelSelectorPath": ".status.selector",
        }
    names: Obj = {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": kind.lower()}
    if short:
        names["shortNames"] = short
    if categories:
        names["categories"] = categories
    ver: Obj = {"name": version, "served": True, "storage": True, "schema": _SCHEMA}
    if subresources:
        ver["subresources"] = subresources
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "names": names, "scope": scope, "versions": [ver]},
    }


def builtin_project_crds() -> list[Obj]:
    """Schemaless stand-ins with Argo's names, used only when neither crdgen nor crds/*.yaml is available."""
    g, v = "argoproj.io", "v1alpha1"
    return [
        _crd(g, v, "Rollout", "rollouts", short=["ro"], scale=True),
        _crd(g, v, "AnalysisTemplate", "analysistemplates", short=["at"], status=False),
        _crd(
            g,
            v,
            "ClusterAnalysisTemplate",
            "clusteranalysistemplates",
            short=["cat"],
            scope="Cluster",
            status=False,
        ),
        _crd(g, v, "AnalysisRun", "analysisruns", short=["ar"], status=False),
        _crd(g, v, "Experiment", "experiments", short=["exp"], status=False),
    ]


def traffic_crds() -> list[Obj]:
    """The traffic routers' objects the examples use: Istio VirtualService/DestinationRule, Gateway API HTTPRoute,
    Traefik's TraefikService, APISIX's ApisixRoute, Ambassador's Mapping, App Mesh's VirtualService/VirtualRouter/VirtualNode."""
    return [
        _crd("traefik.io", "v1alpha1", "TraefikService", "traefikservices", categories=["traefik"]),
        _crd("apisix.apache.org", "v2", "ApisixRoute", "apisixroutes", categories=["apisix"]),
        _crd("getambassador.io", "v2", "Mapping", "mappings", categories=["ambassador-crds"]),
        _crd(
            "appmesh.k8s.aws", "v1beta2", "VirtualService", "virtualservices", categories=["aws", "appmesh"]
        ),
        _crd("appmesh.k8s.aws", "v1beta2", "VirtualRouter", "virtualrouters", categories=["aws", "appmesh"]),
        _crd("appmesh.k8s.aws", "v1beta2", "VirtualNode", "virtualnodes", categories=["aws", "appmesh"]),
        _crd("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", categories=["gateway-api"]),
        _crd(
            "networking.istio.io",
            "v1beta1",
            "VirtualService",
            "virtualservices",
            short=["vs"],
            categories=["istio-io", "networking-istio-io"],
        ),
        _crd(
            "networking.istio.io",
            "v1beta1",
            "DestinationRule",
            "destinationrules",
            short=["dr"],
            categories=["istio-io", "networking-istio-io"],
        ),
    ]


def _from_yaml_dir(directory: Path) -> list[Obj]:
    import yaml

    out: list[Obj] = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                out.append(doc)
    return out


def project_crds() -> list[Obj]:
    try:
        crdgen = importlib.import_module("rollouts.crdgen")
    except ImportError:
        crdgen = None
    if crdgen is not None and hasattr(crdgen, "all_crds"):
        crds = list(crdgen.all_crds())
        if crds:
            return crds
    repo_crds = Path(__file__).resolve().parents[2] / "crds"
    if repo_crds.is_dir():
        crds = _from_yaml_dir(repo_crds)
        if crds:
            return crds
    return builtin_project_crds()


@cache
def _default_crds() -> tuple[Obj, ...]:
    crds = project_crds()
    names = {c.get("metadata", {}).get("name") for c in crds}
    return tuple(crds + [c for c in traffic_crds() if c["metadata"]["name"] not in names])


def default_crds() -> list[Obj]:
    """The CRDs to install (deep copies: callers may keep them)."""
    return copy.deepcopy(list(_default_crds()))
