"""Hashes that name things: the pod-template hash of a Rollout's template and the hash of its canary steps.

Where it sits: `decide` computes both on every pass. The pod-template hash names the new ReplicaSet
(`<rollout>-<hash>`), labels its pods (`rollouts-pod-template-hash`) and is written to `status.currentPodHash`;
the step hash is `status.currentStepHash`, and a change of either resets the step index (docs/semantics/objects.md#rollout-status, docs/semantics/controller.md#canary-steps).

Argo computes both as FNV-32a over Go's `json.Marshal` of the typed object, formats the 32-bit sum in decimal and
"safe-encodes" it like k8s `rand.SafeEncodeString` (every byte mapped into a 27-letter alphabet without vowels, so
no words are spelled). Go marshals structs in *field declaration order* (not sorted), drops `omitempty` zero
values and escapes `<`, `>`, `&`. We reproduce that order for the canary step types (so step hashes equal Argo's:
`[{"pause":{}}]` → `6b9b86fbd5`) and for the common pod-template types (ObjectMeta, PodSpec, Container, ports,
env, resources); any other nested object falls back to sorted keys, which only matters for bit-equality with
hashes computed by Argo itself, never for our own consistency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rollouts.strategy.memo import canonical_key, memoized

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def fnv32a(data: bytes, h: int = _FNV32_OFFSET) -> int:
    """FNV-1a 32-bit: xor the byte, then multiply by the FNV prime (mod 2**32)."""
    for b in data:
        h = ((h ^ b) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """k8s `rand.SafeEncodeString`: each byte → `alphanums[byte % 27]`."""
    return "".join(_SAFE_ALPHANUMS[b % len(_SAFE_ALPHANUMS)] for b in s.encode())


# ---------------------------------------------------------------------------------------------------------------
# Go-ordered JSON. A "shape" maps a field name to the shape of its value; `_order` lists the Go field order and
# `_always` the fields Go emits even when absent (non-omitempty), with the value Go writes for them.
# ---------------------------------------------------------------------------------------------------------------

Shape = dict[str, Any]

_STRING_MATCH: Shape = {"_order": ["exact", "prefix", "regex"]}
_ANALYSIS: Shape = {
    "_order": ["templates", "args", "dryRun", "measurementRetention", "analysisRunMetadata"],
    "templates": {"_list": {"_order": ["templateName", "clusterScope"]}},
    "args": {
        "_list": {
            "_order": ["name", "value", "valueFrom"],
            "valueFrom": {
                "_order": ["podTemplateHashValue", "fieldRef"],
                "fieldRef": {"_order": ["fieldPath"]},
            },
        }
    },
    "dryRun": {"_list": {"_order": ["metricName"]}},
    "measurementRetention": {"_list": {"_order": ["metricName", "limit"]}},
    "analysisRunMetadata": {"_order": ["labels", "annotations"]},
}
_STEP: Shape = {
    "_order": [
        "setWeight",
        "pause",
        "experiment",
        "analysis",
        "setCanaryScale",
        "setHeaderRoute",
        "setMirrorRoute",
        "plugin",
    ],
    "pause": {"_order": ["duration"]},
    "analysis": _ANALYSIS,
    "experiment": {
        "_order": [
            "templates",
            "duration",
            "analyses",
            "dryRun",
            "measurementRetention",
            "analysisRunMetadata",
        ],
        "templates": {
            "_list": {"_order": ["name", "specRef", "replicas", "metadata", "selector", "weight", "service"]}
        },
        "analyses": {
            "_list": {"_order": ["name", "templateName", "clusterScope", "args", "requiredForCompletion"]}
        },
    },
    "setCanaryScale": {"_order": ["weight", "replicas", "matchTrafficWeight"]},
    "setHeaderRoute": {
        "_order": ["name", "match"],
        "match": {"_list": {"_order": ["headerName", "headerValue"], "headerValue": _STRING_MATCH}},
    },
    "setMirrorRoute": {
        "_order": ["name", "match", "percentage"],
        "match": {
            "_list": {
                "_order": ["method", "path", "headers"],
                "method": _STRING_MATCH,
                "path": _STRING_MATCH,
                "headers": {"_map": _STRING_MATCH},
            }
        },
    },
    "plugin": {"_order": ["name", "config"]},
}
STEPS_SHAPE: Shape = {"_list": _STEP}

_OBJECT_META: Shape = {
    "_order": [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ],
    "_always": {"creationTimestamp": None},
}
_RESOURCES: Shape = {"_order": ["limits", "requests", "claims"]}
_CONTAINER: Shape = {
    "_order": [
        "name",
        "image",
        "command",
        "args",
        "workingDir",
        "ports",
        "envFrom",
        "env",
        "resources",
        "resizePolicy",
        "restartPolicy",
        "restartPolicyRules",
        "volumeMounts",
        "volumeDevices",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
        "securityContext",
        "stdin",
        "stdinOnce",
        "tty",
    ],
    "_always": {"name": "", "resources": {}},
    "resources": _RESOURCES,
    "ports": {"_list": {"_order": ["name", "hostPort", "containerPort", "protocol", "hostIP"]}},
    "env": {"_list": {"_order": ["name", "value", "valueFrom"]}},
    "volumeMounts": {
        "_list": {
            "_order": ["name", "readOnly", "recursiveReadOnly", "mountPath", "subPath", "mountPropagation"]
        }
    },
}
_POD_SPEC: Shape = {
    "_order": [
        "volumes",
        "initContainers",
        "containers",
        "ephemeralContainers",
        "restartPolicy",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "dnsPolicy",
        "nodeSelector",
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
        "nodeName",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "shareProcessNamespace",
        "securityContext",
        "imagePullSecrets",
        "hostname",
        "subdomain",
        "affinity",
        "schedulerName",
        "tolerations",
        "hostAliases",
        "priorityClassName",
        "priority",
        "dnsConfig",
        "readinessGates",
        "runtimeClassName",
        "enableServiceLinks",
        "preemptionPolicy",
        "overhead",
        "topologySpreadConstraints",
        "setHostnameAsFQDN",
        "os",
        "hostUsers",
        "schedulingGates",
        "resourceClaims",
        "resources",
    ],
    "_always": {"containers": None},
    "initContainers": {"_list": _CONTAINER},
    "containers": {"_list": _CONTAINER},
    "resources": _RESOURCES,
}
POD_TEMPLATE_SHAPE: Shape = {
    "_order": ["metadata", "spec"],
    "_always": {"metadata": {}, "spec": {}},
    "metadata": _OBJECT_META,
    "spec": _POD_SPEC,
}


def _ordered(value: Any, shape: Shape | None) -> Any:
    """Rebuild `value` with dict keys in Go marshal order (known fields first, then the rest sorted)."""
    if isinstance(value, dict):
        if shape is None:
            return {k: _ordered(value[k], None) for k in sorted(value)}
        if "_map" in shape:
            return {k: _ordered(value[k], shape["_map"]) for k in sorted(value)}
        order: list[str] = shape.get("_order", [])
        always: dict[str, Any] = shape.get("_always", {})
        out: dict[str, Any] = {}
        for k in order:
            if k in value:
                out[k] = _ordered(value[k], shape.get(k))
            elif k in always:
                out[k] = _ordered(always[k], shape.get(k))
        for k in sorted(set(value) - set(order)):
            out[k] = _ordered(value[k], None)
        return out
    if isinstance(value, list | tuple):
        item = shape.get("_list") if shape else None
        return [_ordered(v, item) for v in value]
    return value


def go_json(value: Any, shape: Shape | None = None) -> bytes:
    """Compact JSON as Go's encoding/json writes it (HTML-escaped, UTF-8, fields in `shape` order)."""
    text = json.dumps(_ordered(value, shape), separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode()


@memoized(4096)
def _pod_template_hash(key: tuple[str, int | None]) -> str:
    canonical, collision_count = key
    h = fnv32a(go_json(json.loads(canonical), POD_TEMPLATE_SHAPE))
    if collision_count is not None:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\x00\x00\x00\x00", h)
    return safe_encode(str(h))


def pod_template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """`hash.ComputePodTemplateHash`: FNV-32a(JSON(template) [+ uint32 LE collisionCount padded to 8 bytes]).

    Memoised on the template's canonical JSON (the controller hashes the same templates on every pass)."""
    return _pod_template_hash((canonical_key(template), collision_count))


@memoized(4096)
def _step_hash(canonical: str) -> str:
    steps = json.loads(canonical)
    return safe_encode(str(fnv32a(go_json(steps, STEPS_SHAPE) if steps is not None else b"null")))


def step_hash(steps: Sequence[Any] | None) -> str:
    """`conditions.ComputeStepHash` of a canary's steps (absent/None steps marshal as `null`)."""
    return _step_hash(canonical_key(steps))
