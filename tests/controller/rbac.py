"""A model of the Kubernetes RBAC authorizer, for checking the install manifests against real requests.

What it models (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac): a ClusterRoleBinding grants its ClusterRole's
rules everywhere (cluster-scoped requests and every namespace); a RoleBinding grants its Role's (or ClusterRole's)
rules only in its own namespace; a rule matches on API group, resource (`name/subresource`), verb and, when it has
`resourceNames`, the object's name — which a create request never has, and which a list or watch has only through
a `metadata.name=` field selector. Rules only add: there is no deny.

`load(directory, namespace)` reads the RBAC objects a kustomization lists (without kustomize: its namespace is
set on namespaced objects and on ServiceAccount subjects that have none, as kustomize's namespace transformer
does); tests/controller/test_deploy.py compares that with `kubectl kustomize` where kubectl is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml

RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
SERVICE_ACCOUNT = ("rollouts", "rollouts-controller")  # (namespace, name) of the controller's identity


@dataclass(frozen=True)
class Request:
    """One API request as the authorizer sees it ("" namespace: cluster-scoped, or a list/watch of all)."""

    namespace: str
    group: str
    resource: str  # "rollouts" or "rollouts/status"
    verb: str
    name: str = ""

    @classmethod
    def of(cls, record: Any) -> Request:
        """From a sandbox `RequestRecord`."""
        name = record.name
        if not name and record.verb in ("list", "watch"):
            for term in (parse_qs(record.query).get("fieldSelector") or [""])[0].split(","):
                key, _, value = term.partition("=")
                if key.strip() == "metadata.name" and not value.startswith("="):
                    name = value.strip()
        resource = record.resource + (f"/{record.subresource}" if record.subresource else "")
        return cls(record.namespace, record.group, resource, record.verb, name)


@dataclass(frozen=True)
class Grant:
    scope: str | None  # None: everywhere (ClusterRoleBinding); else the RoleBinding's namespace
    rules: tuple[dict[str, Any], ...]
    source: str  # "ClusterRoleBinding/x → ClusterRole/y", for messages


def load(directory: Path, namespace: str, *, extra: tuple[Path, ...] = ()) -> list[dict[str, Any]]:
    """The RBAC objects of the kustomization in `directory` (its listed files, not other directories) and of
    the files in `extra`, with `namespace` applied."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    files = [directory / f for f in kustomization.get("resources") or () if (directory / f).is_file()]
    docs: list[dict[str, Any]] = []
    for path in (*files, *extra):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") in RBAC_KINDS]
    for doc in docs:
        if doc["kind"] in ("Role", "RoleBinding"):
            doc["metadata"].setdefault("namespace", namespace)
        for subject in doc.get("subjects") or ():
            if subject.get("kind") == "ServiceAccount":
                subject.setdefault("namespace", namespace)
    return docs


def grants(docs: list[dict[str, Any]], account: tuple[str, str] = SERVICE_ACCOUNT) -> list[Grant]:
    """What the bindings among `docs` grant to the ServiceAccount `account` (namespace, name)."""
    roles = {
        (
            d["kind"],
            d["metadata"].get("namespace", "") if d["kind"] == "Role" else "",
            d["metadata"]["name"],
        ): d
        for d in docs
        if d["kind"] in ("ClusterRole", "Role")
    }
    out: list[Grant] = []
    for binding in docs:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        subjects = binding.get("subjects") or ()
        if not any(
            s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) == account
            for s in subjects
        ):
            continue
        ref = binding["roleRef"]
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        role = roles.get((ref["kind"], (scope or "") if ref["kind"] == "Role" else "", ref["name"]))
        if role is None:
            continue  # a binding to a role that is not installed grants nothing
        source = f"{binding['kind']}/{binding['metadata']['name']} → {ref['kind']}/{ref['name']}"
        out.append(Grant(scope, tuple(role.get("rules") or ()), source))
    return out


def _matches(rule: dict[str, Any], request: Request) -> bool:
    if request.group not in rule.get("apiGroups", ()) or request.verb not in rule.get("verbs", ()):
        return False
    if request.resource not in rule.get("resources", ()):
        return False
    names = rule.get("resourceNames")
    return not names or (bool(request.name) and request.name in names)


def allows(granted: list[Grant], request: Request) -> bool:
    for grant in granted:
        if grant.scope is not None and request.namespace != grant.scope:
            continue
        if any(_matches(rule, request) for rule in grant.rules):
            return True
    return False


def role_binding(
    namespace: str, cluster_role: str, account: tuple[str, str] = SERVICE_ACCOUNT
) -> dict[str, Any]:
    """`kubectl -n NS create rolebinding … --clusterrole=ROLE --serviceaccount=NS:NAME`, as a document."""
    return {
        "kind": "RoleBinding",
        "metadata": {"name": cluster_role, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"kind": "ServiceAccount", "namespace": account[0], "name": account[1]}],
    }
