"""The Go types behind the fields of built-in kinds: what kube-apiserver's decoder refuses before anything else.

Where it sits: data for `decoding.check_types`, which the store calls on every write before validation.
kube-apiserver decodes a request into Go structs, so `metadata: []`, `metadata.name: 5` or
`spec.replicas: "3"` never reach its validation. Only the fields the sandbox itself reads (and `metadata` of
every object, custom resources included) are declared here; unknown fields are ignored, as Go's decoder
ignores them. A type is a scalar (`kind` string, int with its `bits`, bool, bytes for base64 `[]byte`,
intstr, any), a struct with its `fields`, or a slice or map of an `item` type; `go` is its name in messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rollouts.sandbox.resources import ResourceType


@dataclass(frozen=True)
class GoType:
    """A Go type: a scalar (`kind` string/int/bool/bytes/intstr/any), a struct, a slice or a map."""

    go: str
    kind: str
    fields: dict[str, GoType] = field(default_factory=dict, compare=False, hash=False)
    item: GoType | None = None
    bits: int = 64


STRING = GoType("string", "string")
INT32 = GoType("int32", "int", bits=32)
INT64 = GoType("int64", "int")
BOOL = GoType("bool", "bool")
TIME = GoType("v1.Time", "string")
BYTES = GoType("[]uint8", "bytes")
INTSTR = GoType("intstr.IntOrString", "intstr")
ANY = GoType("interface {}", "any")


def struct(go: str, **fields: GoType) -> GoType:
    return GoType(go, "struct", {k.rstrip("_"): v for k, v in fields.items()})


def slice_of(item: GoType) -> GoType:
    return GoType("[]" + item.go, "slice", item=item)


def map_of(value: GoType) -> GoType:
    return GoType("map[string]" + value.go, "map", item=value)


STRINGS = slice_of(STRING)
LABELS = map_of(STRING)

OBJECT_META = struct(
    "v1.ObjectMeta",
    name=STRING,
    generateName=STRING,
    namespace=STRING,
    selfLink=STRING,
    uid=STRING,
    resourceVersion=STRING,
    generation=INT64,
    creationTimestamp=TIME,
    deletionTimestamp=TIME,
    deletionGracePeriodSeconds=INT64,
    labels=LABELS,
    annotations=LABELS,
    finalizers=STRINGS,
    managedFields=slice_of(struct("v1.ManagedFieldsEntry")),
    ownerReferences=slice_of(
        struct(
            "v1.OwnerReference",
            apiVersion=STRING,
            kind=STRING,
            name=STRING,
            uid=STRING,
            controller=BOOL,
            blockOwnerDeletion=BOOL,
        )
    ),
)
LABEL_SELECTOR = struct(
    "v1.LabelSelector",
    matchLabels=LABELS,
    matchExpressions=slice_of(
        struct("v1.LabelSelectorRequirement", key=STRING, operator=STRING, values=STRINGS)
    ),
)
CONTAINER = struct(
    "v1.Container",
    name=STRING,
    image=STRING,
    ports=slice_of(struct("v1.ContainerPort", name=STRING, containerPort=INT32, protocol=STRING)),
)
POD_SPEC = struct(
    "v1.PodSpec", containers=slice_of(CONTAINER), initContainers=slice_of(CONTAINER), nodeName=STRING
)
POD_TEMPLATE = struct("v1.PodTemplateSpec", metadata=OBJECT_META, spec=POD_SPEC)


def _condition(go: str) -> GoType:
    return struct(go, type_=STRING, status=STRING, reason=STRING, message=STRING, lastTransitionTime=TIME)


def _workload(kind: str, **spec: GoType) -> GoType:
    return struct(
        f"v1.{kind}",
        metadata=OBJECT_META,
        spec=struct(
            f"v1.{kind}Spec",
            replicas=INT32,
            minReadySeconds=INT32,
            selector=LABEL_SELECTOR,
            template=POD_TEMPLATE,
            **spec,
        ),
        status=struct(
            f"v1.{kind}Status",
            replicas=INT32,
            readyReplicas=INT32,
            availableReplicas=INT32,
            observedGeneration=INT64,
            conditions=slice_of(_condition(f"v1.{kind}Condition")),
        ),
    )


TYPES: dict[tuple[str, str], GoType] = {
    ("apps", "replicasets"): _workload("ReplicaSet"),
    ("apps", "deployments"): _workload("Deployment", paused=BOOL, revisionHistoryLimit=INT32),
    ("", "pods"): struct(
        "v1.Pod",
        metadata=OBJECT_META,
        spec=POD_SPEC,
        status=struct(
            "v1.PodStatus",
            phase=STRING,
            podIP=STRING,
            conditions=slice_of(_condition("v1.PodCondition")),
            containerStatuses=slice_of(
                struct("v1.ContainerStatus", name=STRING, ready=BOOL, restartCount=INT32)
            ),
        ),
    ),
    ("", "services"): struct(
        "v1.Service",
        metadata=OBJECT_META,
        spec=struct(
            "v1.ServiceSpec",
            type_=STRING,
            clusterIP=STRING,
            clusterIPs=STRINGS,
            selector=LABELS,
            sessionAffinity=STRING,
            ports=slice_of(
                struct(
                    "v1.ServicePort",
                    name=STRING,
                    protocol=STRING,
                    port=INT32,
                    targetPort=INTSTR,
                    nodePort=INT32,
                )
            ),
        ),
    ),
    ("batch", "jobs"): struct(
        "v1.Job",
        metadata=OBJECT_META,
        spec=struct(
            "v1.JobSpec",
            completions=INT32,
            parallelism=INT32,
            backoffLimit=INT32,
            suspend=BOOL,
            template=POD_TEMPLATE,
        ),
        status=struct(
            "v1.JobStatus",
            active=INT32,
            succeeded=INT32,
            failed=INT32,
            ready=INT32,
            startTime=TIME,
            completionTime=TIME,
            conditions=slice_of(_condition("v1.JobCondition")),
        ),
    ),
    ("", "namespaces"): struct(
        "v1.Namespace",
        metadata=OBJECT_META,
        spec=struct("v1.NamespaceSpec", finalizers=STRINGS),
        status=struct("v1.NamespaceStatus", phase=STRING),
    ),
    ("", "podtemplates"): struct("v1.PodTemplate", metadata=OBJECT_META, template=POD_TEMPLATE),
    ("", "configmaps"): struct("v1.ConfigMap", metadata=OBJECT_META, data=LABELS, binaryData=map_of(BYTES)),
    ("", "secrets"): struct(
        "v1.Secret", metadata=OBJECT_META, type_=STRING, data=map_of(BYTES), stringData=LABELS
    ),
    ("coordination.k8s.io", "leases"): struct(
        "v1.Lease",
        metadata=OBJECT_META,
        spec=struct(
            "v1.LeaseSpec",
            holderIdentity=STRING,
            leaseDurationSeconds=INT32,
            leaseTransitions=INT32,
            acquireTime=TIME,
            renewTime=TIME,
        ),
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): struct(
        "v1.CustomResourceDefinition",
        metadata=OBJECT_META,
        spec=struct(
            "v1.CustomResourceDefinitionSpec",
            group=STRING,
            scope=STRING,
            names=struct(
                "v1.CustomResourceDefinitionNames",
                plural=STRING,
                singular=STRING,
                kind=STRING,
                listKind=STRING,
                shortNames=STRINGS,
                categories=STRINGS,
            ),
            versions=slice_of(
                struct(
                    "v1.CustomResourceDefinitionVersion",
                    name=STRING,
                    served=BOOL,
                    storage=BOOL,
                    schema=struct(
                        "v1.CustomResourceValidation", openAPIV3Schema=struct("v1.JSONSchemaProps")
                    ),
                    subresources=struct(
                        "v1.CustomResourceSubresources",
                        status=struct("v1.CustomResourceSubresourceStatus"),
                        scale=struct(
                            "v1.CustomResourceSubresourceScale",
                            specReplicasPath=STRING,
                            statusReplicasPath=STRING,
                            labelSelectorPath=STRING,
                        ),
                    ),
                    additionalPrinterColumns=slice_of(
                        struct(
                            "v1.CustomResourceColumnDefinition",
                            name=STRING,
                            type_=STRING,
                            format=STRING,
                            description=STRING,
                            jsonPath=STRING,
                            priority=INT32,
                        )
                    ),
                )
            ),
        ),
    ),
}
SCALE = struct("v1.Scale", metadata=OBJECT_META, spec=struct("v1.ScaleSpec", replicas=INT32))
DELETE_OPTIONS = struct(
    "v1.DeleteOptions",
    gracePeriodSeconds=INT64,
    orphanDependents=BOOL,
    propagationPolicy=STRING,
    dryRun=STRINGS,
    preconditions=struct("v1.Preconditions", uid=STRING, resourceVersion=STRING),
)
_ANY_OBJECT = struct("unstructured.Unstructured", metadata=OBJECT_META)


def type_of(rt: ResourceType) -> GoType:
    """The declared type of a resource's objects (only `metadata` for kinds without an entry)."""
    return TYPES.get(rt.key, _ANY_OBJECT)
