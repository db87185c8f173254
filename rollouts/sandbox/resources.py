"""The resource registry: which group/version/resources the sandbox serves, and its discovery documents.

Where it sits: the HTTP layer resolves every URL to a `ResourceType` here; the store keys objects by
`ResourceType.key` (group, plural), so a CRD served at several versions shares one set of objects. Built-in
types are declared in `BUILTINS`; a CustomResourceDefinition adds its types through `types_from_crd`.
Discovery (`/api/v1`, `/apis/{g}/{v}`) is generated from the registry so `kubectl` and the `DynamicClient` see
kinds, verbs, `namespaced`, shortNames, categories and subresources exactly as they do on a real cluster.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]

# (spec replicas, status replicas, label selector) for the autoscaling/v1 Scale subresource.
DEFAULT_SCALE_PATHS = (".spec.replicas", ".status.replicas", ".status.selector")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    scale_paths: tuple[str, str, str | None] = DEFAULT_SCALE_PATHS
    custom: bool = False
    list_kind: str = ""
    # A CRD version's additionalPrinterColumns as sorted (key, value) pairs, for kubectl's Table output.
    printer_columns: tuple[tuple[tuple[str, Any], ...], ...] = ()
    # The version's openAPIV3Schema (custom resources only), used to prune unknown fields.
    schema: Any = field(default=None, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def discovery(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        out = [main]
        for sub in sorted(self.subresources):
            kind = {"scale": "Scale", "eviction": "Eviction"}.get(sub, self.kind)
            entry: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": {"log": ["get"], "eviction": ["create"]}.get(sub, SUB_VERBS),
            }
            if sub == "scale":
                entry["group"] = "autoscaling"
                entry["version"] = "v1"
            if sub == "eviction":
                entry["group"] = "policy"
                entry["version"] = "v1"
            out.append(entry)
        return out


def _rt(
    gv: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    subs: tuple[str, ...] = (),
) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        categories=cats,
        subresources=frozenset(subs),
        list_kind=kind + "List",
    )


BUILTINS: tuple[ResourceType, ...] = (
    _rt("v1", "namespaces", "Namespace", namespaced=False, short=("ns",), subs=("status",)),
    _rt("v1", "nodes", "Node", namespaced=False, short=("no",), subs=("status",)),
    _rt("v1", "pods", "Pod", short=("po",), cats=("all",), subs=("status", "log", "eviction")),
    _rt("v1", "podtemplates", "PodTemplate"),
    _rt("v1", "services", "Service", short=("svc",), cats=("all",), subs=("status",)),
    _rt("v1", "endpoints", "Endpoints", short=("ep",)),
    _rt("v1", "configmaps", "ConfigMap", short=("cm",)),
    _rt("v1", "secrets", "Secret"),
    _rt("v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _rt("v1", "events", "Event", short=("ev",)),
    _rt("apps/v1", "replicasets", "ReplicaSet", short=("rs",), cats=("all",), subs=("status", "scale")),
    _rt("apps/v1", "deployments", "Deployment", short=("deploy",), cats=("all",), subs=("status", "scale")),
    _rt("batch/v1", "jobs", "Job", cats=("all",), subs=("status",)),
    _rt("coordination.k8s.io/v1", "leases", "Lease"),
    _rt("networking.k8s.io/v1", "ingresses", "Ingress", short=("ing",), subs=("status",)),
    _rt(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        subs=("status",),
    ),
)

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY = ("", "namespaces")


def _scale_paths(scale: dict[str, Any]) -> tuple[str, str, str | None]:
    return (
        str(scale.get("specReplicasPath", ".spec.replicas")),
        str(scale.get("statusReplicasPath", ".status.replicas")),
        scale.get("labelSelectorPath"),
    )


def crd_problem(crd: dict[str, Any]) -> tuple[str, str] | None:
    """The first (field, problem) that makes a CRD unservable, or None. Mirrors the apiextensions checks."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return ("spec", "Required value")
    group, names = spec.get("group"), spec.get("names")
    if not isinstance(group, str) or not group:
        return ("spec.group", "Required value")
    if not isinstance(names, dict) or not names.get("plural") or not names.get("kind"):
        return ("spec.names", "Required value: plural and kind are required")
    expected = f"{names['plural']}.{group}"
    if crd.get("metadata", {}).get("name") != expected:
        return ("metadata.name", f'Invalid value: must be spec.names.plural+"."+spec.group ("{expected}")')
    if spec.get("scope", "Namespaced") not in ("Namespaced", "Cluster"):
        return ("spec.scope", 'Unsupported value: supported values: "Cluster", "Namespaced"')
    versions = spec.get("versions")
    if (
        not isinstance(versions, list)
        or not versions
        or not all(isinstance(v, dict) and v.get("name") for v in versions)
    ):
        return ("spec.versions", "Required value: at least one version with a name")
    return None


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a (valid) CustomResourceDefinition as resource types."""
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subs = version.get("subresources") or spec.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(k for k in ("status", "scale") if k in subs),
                scale_paths=_scale_paths(subs.get("scale") or {}),
                custom=True,
                list_kind=names.get("listKind") or names["kind"] + "List",
                schema=(version.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(
                    tuple(sorted((k, v) for k, v in c.items() if isinstance(v, (str, int))))
                    for c in version.get("additionalPrinterColumns") or []
                    if isinstance(c, dict)
                ),
            )
        )
    return out


@dataclass
class Registry:
    """Served types by (group, version, plural) and the group/version order for discovery."""

    by_gvr: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    by_crd: dict[str, list[ResourceType]] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> Registry:
        reg = cls()
        for rt in BUILTINS:
            reg.add(rt)
        return reg

    def add(self, rt: ResourceType) -> None:
        self.by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.by_gvr.get((group, version, plural))

    def preferred(self, group: str, plural: str) -> ResourceType | None:
        """The first-registered version of a resource (the storage version for CRDs)."""
        for (g, _, p), rt in self.by_gvr.items():
            if g == group and p == plural:
                return rt
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self.by_gvr.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def set_crd(self, name: str, types: list[ResourceType]) -> None:
        for old in self.by_crd.pop(name, []):
            self.by_gvr.pop((old.group, old.version, old.plural), None)
        self.by_crd[name] = types
        for rt in types:
            self.add(rt)

    def drop_crd(self, name: str) -> list[ResourceType]:
        types = self.by_crd.pop(name, [])
        for old in types:
            self.by_gvr.pop((old.group, old.version, old.plural), None)
        return types

    # ------------------------------------------------------------------ discovery documents
    def group_versions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for g, v, _ in self.by_gvr:
            versions = out.setdefault(g, [])
            if v not in versions:
                versions.append(v)
        return out

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not group or not versions:
            return None
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = [self.api_group(g) for g in self.group_versions() if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}

    # ------------------------------------------------------------------ OpenAPI v3 (for kubectl)
    def openapi_v3_gv(self, group: str, version: str) -> dict[str, Any] | None:
        """A minimal OpenAPI v3 document of one group/version: a PATCH operation per resource that declares the
        `fieldValidation` query parameter and its group-version-kind. kubectl reads exactly this to decide that
        the server validates fields itself, and then skips client-side schema validation."""
        paths: dict[str, Any] = {}
        for (g, v, _), rt in self.by_gvr.items():
            if g != group or v != version:
                continue
            prefix = f"/apis/{g}/{v}" if g else f"/api/{v}"
            scope = "/namespaces/{namespace}" if rt.namespaced else ""
            paths[f"{prefix}{scope}/{rt.plural}/{{name}}"] = {
                "patch": {
                    "operationId": f"patch{rt.kind}",
                    "x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": rt.kind},
                    "x-kubernetes-action": "patch",
                    "parameters": [
                        {
                            "name": "fieldValidation",
                            "in": "query",
                            "schema": {"type": "string", "uniqueItems": True},
                        },
                        {
                            "name": "fieldManager",
                            "in": "query",
                            "schema": {"type": "string", "uniqueItems": True},
                        },
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        if not paths:
            return None
        # A custom resource's schema, so `kubectl explain rollout.spec` works (built-in kinds have none here).
        schemas: dict[str, Any] = {}
        for (g, v, _), rt in self.by_gvr.items():
            if g == group and v == version and isinstance(rt.schema, dict):
                gvk = [{"group": g, "version": v, "kind": rt.kind}]
                schemas[".".join([*reversed(g.split(".")), v, rt.kind])] = dict(
                    rt.schema, **{"x-kubernetes-group-version-kind": gvk}
                )
        doc: dict[str, Any] = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths,
        }
        if schemas:
            doc["components"] = {"schemas": schemas}
        return doc

    def openapi_v3_root(self) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for group, versions in self.group_versions().items():
            for v in versions:
                gv = f"apis/{group}/{v}" if group else f"api/{v}"
                doc = self.openapi_v3_gv(group, v)
                digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
                paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
        return {"paths": paths}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        resources: list[dict[str, Any]] = []
        for (g, v, _), rt in self.by_gvr.items():
            if g == group and v == version:
                resources.extend(rt.discovery())
        if not resources:
            return None
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
