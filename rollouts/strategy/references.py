"""What a Rollout references must exist and fit it: Argo's referenced-resource validation, in one home.

Argo reads the objects a Rollout names before every reconcile (`rolloutContext.getRolloutReferencedResources`: a
missing one is a field error built from the API server's NotFound) and then checks them
(`validation.ValidateRolloutReferencedResources`); its `lint` runs the same checks on the objects of a file.
Here too: `reference_errors` is called by `decide` (with the Services the controller observed, where absent
means "does not exist") and by `lint` (with the Services of the file, where absent means "defined elsewhere",
so only the objects present are checked). Every message is Kubernetes' field-error wording, which
`rollouts.validation.invalid_spec_message` prefixes with `The Rollout "<name>" is invalid: ` for the status.

Argo's order, first error wins: the strategy's Services (blue-green: active, preview; canary: stable, canary,
ping, pong) and then its AnalysisTemplates must exist; then each Service must fit (its selector matches the pod
template's labels, except the pod-template-hash label; a Service managed by another Rollout is not this one's);
then the templates of each analysis must merge into a run. The template checks themselves live where templates
are merged (`rollouts.strategy.analysisruns`); this module fixes the order and owns the Service rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from rollouts.models import Rollout
from rollouts.models.vocabulary import MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL
from rollouts.strategy.plan import ServiceState
from rollouts.validation.errors import FieldError

__all__ = ["TemplateChecks", "reference_errors", "service_refs", "service_state"]


def service_refs(ro: Rollout) -> list[tuple[str, str]]:
    """(field path, Service name) of every Service the strategy names, in the order Argo reads them
    (`getReferencedServices`: a blue-green strategy's only, else a canary's)."""
    blue_green, canary = ro.spec.strategy.blue_green, ro.spec.strategy.canary
    refs: list[tuple[str, str | None]] = []
    if blue_green is not None:
        refs = [
            ("spec.strategy.blueGreen.activeService", blue_green.active_service),
            ("spec.strategy.blueGreen.previewService", blue_green.preview_service),
        ]
    elif canary is not None:
        refs = [
            ("spec.strategy.canary.stableService", canary.stable_service),
            ("spec.strategy.canary.canaryService", canary.canary_service),
        ]
        if canary.ping_pong is not None:
            refs += [
                ("spec.strategy.canary.pingPong.pingService", canary.ping_pong.ping_service),
                ("spec.strategy.canary.pingPong.pongService", canary.ping_pong.pong_service),
            ]
    return [(path, name) for path, name in refs if name]


def _template_labels(ro: Rollout) -> Mapping[str, Any]:
    metadata = (ro.spec.template or {}).get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _fit_errors(ro: Rollout, labels: Mapping[str, Any], path: str, service: ServiceState) -> list[FieldError]:
    """`ValidateService`: the selector matches the pod template's labels; no other Rollout manages it."""
    errors = [
        FieldError(path, f'Service "{service.name}" has unmatch label "{key}" in rollout', service.name)
        for key, value in service.selector.items()
        if key != POD_TEMPLATE_HASH_LABEL and labels.get(key) != value
    ]
    manager = service.annotations.get(MANAGED_BY_ANNOTATION)
    if manager is not None and manager != ro.name:
        errors.append(
            FieldError(path, f'Service "{service.name}" is managed by another Rollout', service.name)
        )
    return errors


class TemplateChecks(Protocol):
    """The referenced AnalysisTemplates' two checks (`rollouts.strategy.analysisruns`, where the templates are
    merged into runs): does each exist, and do they merge. Each returns its first error, or None."""

    def missing(self) -> str | None: ...
    def merge(self) -> str | None: ...


def reference_errors(
    ro: Rollout,
    services: Mapping[str, ServiceState],
    *,
    complete: bool,
    templates: TemplateChecks | None = None,
) -> list[FieldError | str]:
    """Every referenced-resource error of `ro` in Argo's order, first one first: missing Services, missing
    templates (both only when `complete`: `services` then holds every Service of the namespace, so an absent
    name does not exist; lint passes what its file defines, where absent means "defined elsewhere"), then the
    Services that do not fit the Rollout, then the templates that do not merge."""
    refs = service_refs(ro)
    errors: list[FieldError | str] = []
    if complete:
        errors += [FieldError(p, f'service "{n}" not found', n) for p, n in refs if n not in services]
        missing = templates.missing() if templates is not None else None
        if missing:
            errors.append(missing)
    present = [(path, services[name]) for path, name in refs if name in services]
    if present:
        labels = _template_labels(ro)
        for path, service in present:
            errors += _fit_errors(ro, labels, path, service)
    if not errors and templates is not None:
        merge = templates.merge()
        if merge:
            errors.append(merge)
    return errors


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float | bool)}


def service_state(obj: Mapping[str, Any]) -> ServiceState:
    """A Service's wire JSON as the checks read it (any shape: a non-mapping `spec` has no selector)."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    spec = obj.get("spec")
    return ServiceState(
        name=str(meta.get("name") or ""),
        selector=_str_map(spec.get("selector") if isinstance(spec, Mapping) else None),
        annotations=_str_map(meta.get("annotations")),
    )
