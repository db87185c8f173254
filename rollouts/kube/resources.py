"""The table of Kubernetes resources the controller and the plugin talk to.

Sits under the client adapter (`rollouts.kube.client`): every request names a `Resource`, and the resource knows
its URL. Keeping the table in one place lets the install manifests' RBAC be checked against it
(`tests/controller/test_deploy.py`) and lets a traffic router pick the API version a cluster serves
(Istio serves `networking.istio.io` as v1alpha3, v1beta1 and v1; Argo's `--istio-api-version` defaults to
v1alpha3, ours to v1beta1, which every Istio since 1.5 serves).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class Resource:
    """One REST resource: `group` is "" for the core API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """`apiVersion` as written in manifests: "v1" for core, "group/version" otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def with_version(self, version: str) -> Resource:
        """The same resource at another version (e.g. Istio v1alpha3)."""
        return replace(self, version=version)

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path: `/api/v1/namespaces/ns/pods/name/status`.

        A namespaced resource without a namespace gives the all-namespaces collection (list and watch only).

        >>> RESOURCES["Rollout"].path("prod", "api-server", "status")
        '/apis/argoproj.io/v1alpha1/namespaces/prod/rollouts/api-server/status'
        >>> RESOURCES["Pod"].path()
        '/api/v1/pods'
        """
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


_TABLE: tuple[Resource, ...] = (
    Resource("argoproj.io", "v1alpha1", "rollouts", "Rollout", True),
    Resource("argoproj.io", "v1alpha1", "analysisruns", "AnalysisRun", True),
    Resource("argoproj.io", "v1alpha1", "analysistemplates", "AnalysisTemplate", True),
    Resource("argoproj.io", "v1alpha1", "clusteranalysistemplates", "ClusterAnalysisTemplate", False),
    Resource("argoproj.io", "v1alpha1", "experiments", "Experiment", True),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True),
    Resource("apps", "v1", "deployments", "Deployment", True),
    Resource("", "v1", "pods", "Pod", True),
    Resource("", "v1", "podtemplates", "PodTemplate", True),
    Resource("", "v1", "services", "Service", True),
    Resource("", "v1", "events", "Event", True),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "namespaces", "Namespace", False),
    Resource("batch", "v1", "jobs", "Job", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    Resource("networking.istio.io", "v1beta1", "virtualservices", "VirtualService", True),
    Resource("networking.istio.io", "v1beta1", "destinationrules", "DestinationRule", True),
    Resource("split.smi-spec.io", "v1alpha2", "trafficsplits", "TrafficSplit", True),
    Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", True),
    Resource("traefik.io", "v1alpha1", "traefikservices", "TraefikService", True),
    Resource("apisix.apache.org", "v2", "apisixroutes", "ApisixRoute", True),
    Resource("getambassador.io", "v2", "mappings", "Mapping", True),
    # App Mesh's kinds after Istio's: `RESOURCES` (by kind) keeps Istio's VirtualService; `lookup` with an
    # apiVersion finds App Mesh's by its group.
    Resource("appmesh.k8s.aws", "v1beta2", "virtualservices", "VirtualService", True),
    Resource("appmesh.k8s.aws", "v1beta2", "virtualrouters", "VirtualRouter", True),
    Resource("appmesh.k8s.aws", "v1beta2", "virtualnodes", "VirtualNode", True),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
)

#: By kind: `RESOURCES["Rollout"]`.
RESOURCES: dict[str, Resource] = {}
for _r in _TABLE:  # the first of a kind name wins (Istio's VirtualService over App Mesh's)
    RESOURCES.setdefault(_r.kind, _r)
#: By (API group, kind): kinds that share a name in different groups.
BY_GROUP_KIND: dict[tuple[str, str], Resource] = {(r.group, r.kind): r for r in _TABLE}

ROLLOUTS = RESOURCES["Rollout"]
ANALYSIS_RUNS = RESOURCES["AnalysisRun"]
ANALYSIS_TEMPLATES = RESOURCES["AnalysisTemplate"]
CLUSTER_ANALYSIS_TEMPLATES = RESOURCES["ClusterAnalysisTemplate"]
EXPERIMENTS = RESOURCES["Experiment"]
REPLICA_SETS = RESOURCES["ReplicaSet"]
DEPLOYMENTS = RESOURCES["Deployment"]
PODS = RESOURCES["Pod"]
POD_TEMPLATES = RESOURCES["PodTemplate"]
SERVICES = RESOURCES["Service"]
EVENTS = RESOURCES["Event"]
SECRETS = RESOURCES["Secret"]
CONFIG_MAPS = RESOURCES["ConfigMap"]
NAMESPACES = RESOURCES["Namespace"]
JOBS = RESOURCES["Job"]
LEASES = RESOURCES["Lease"]
INGRESSES = RESOURCES["Ingress"]
VIRTUAL_SERVICES = RESOURCES["VirtualService"]
DESTINATION_RULES = RESOURCES["DestinationRule"]
TRAFFIC_SPLITS = RESOURCES["TrafficSplit"]
HTTP_ROUTES = RESOURCES["HTTPRoute"]
TRAEFIK_SERVICES = RESOURCES["TraefikService"]
APISIX_ROUTES = RESOURCES["ApisixRoute"]
AMBASSADOR_MAPPINGS = RESOURCES["Mapping"]
APP_MESH_VIRTUAL_SERVICES = BY_GROUP_KIND[("appmesh.k8s.aws", "VirtualService")]
APP_MESH_VIRTUAL_ROUTERS = BY_GROUP_KIND[("appmesh.k8s.aws", "VirtualRouter")]
APP_MESH_VIRTUAL_NODES = BY_GROUP_KIND[("appmesh.k8s.aws", "VirtualNode")]

#: API versions a router's objects may be served at; the first is our default.
ALTERNATE_VERSIONS: dict[str, tuple[str, ...]] = {
    "networking.istio.io": ("v1beta1", "v1alpha3", "v1"),
    "split.smi-spec.io": ("v1alpha2", "v1alpha1", "v1alpha3", "v1alpha4"),
    "gateway.networking.k8s.io": ("v1", "v1beta1"),
}


def lookup(kind: str, api_version: str | None = None) -> Resource:
    """The resource for a manifest's `kind` (and `apiVersion`, when given).

    Raises KeyError with a sentence naming the kind when the table does not know it.

    >>> lookup("VirtualService", "networking.istio.io/v1alpha3").version
    'v1alpha3'
    """
    if api_version is not None:
        grouped = BY_GROUP_KIND.get((api_version.rpartition("/")[0], kind))
        if grouped is not None:
            version = api_version.rpartition("/")[2]
            return grouped if version == grouped.version else grouped.with_version(version)
    try:
        resource = RESOURCES[kind]
    except KeyError:
        known = ", ".join(sorted(RESOURCES))
        raise KeyError(f"unknown kind {kind!r}: the controller knows {known}") from None
    if api_version is None or api_version == resource.api_version:
        return resource
    group, _, version = api_version.rpartition("/")
    if group != resource.group:
        raise KeyError(
            f"kind {kind!r} belongs to API group {resource.group or 'core'!r}, not {api_version!r}"
        )
    return resource.with_version(version)


def all_resources() -> tuple[Resource, ...]:
    """Every resource in the table (the install manifests' RBAC must cover what the controller uses)."""
    return _TABLE
