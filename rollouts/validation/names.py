"""Object names a Rollout carries or refers to, checked as the API server checks them for each kind.

Part of `rollouts.validation` (import from there). An API server refuses a Rollout whose name is not a DNS-1123
subdomain (at most 253 characters), a namespace that is not a DNS-1123 label, a Service whose name is not a
DNS-1035 label, an AnalysisTemplate whose name is not a subdomain (apimachinery `validation.IsDNS1123Subdomain`,
`IsDNS1123Label`, `IsDNS1035Label`; core/v1 `ValidateServiceName`). A manifest checked by `lint` or `plan` never
met an API server, so the same rules run here with the same messages (`analysis.names`, shared with the
analysis objects' validation). One more bound comes from what the
controller creates: ReplicaSets are named ``<rollout>-<pod-template-hash>`` (up to 10 characters of hash), so a
Rollout name longer than 242 characters could never get one.
"""

from __future__ import annotations

from collections.abc import Iterable

from analysis.names import (
    SUBDOMAIN_MAX,
    dns1035_label_problems,
    dns1123_label_problems,
    dns1123_subdomain_problems,
)
from analysis.names import max_len as _max_len
from rollouts.models import Rollout, RolloutAnalysis
from rollouts.validation.errors import FieldError

HASH_MAX = 10  # the safe-encoded FNV-32 pod-template hash
ROLLOUT_NAME_MAX = SUBDOMAIN_MAX - 1 - HASH_MAX


def _field_errors(path: str, value: str, problems: list[str]) -> list[FieldError]:
    return [FieldError(path, "; ".join(problems), value)] if problems else []


def validate_names(ro: Rollout) -> list[FieldError]:
    """Errors of the Rollout's own name and namespace and of the Services and templates it names."""
    meta = ro.metadata
    errs: list[FieldError] = []
    if not meta.name and not meta.generate_name:
        errs.append(FieldError("metadata.name", "name or generateName is required", kind="Required"))
    elif meta.name:
        problems = dns1123_subdomain_problems(meta.name)
        if not problems and len(meta.name) > ROLLOUT_NAME_MAX:
            problems = [
                f"{_max_len(ROLLOUT_NAME_MAX)}, so that its ReplicaSets (<name>-<pod-template-hash>) "
                f"fit the {SUBDOMAIN_MAX} characters of a Kubernetes name"
            ]
        errs += _field_errors("metadata.name", meta.name, problems)
    if meta.namespace:
        errs += _field_errors("metadata.namespace", meta.namespace, dns1123_label_problems(meta.namespace))
    for path, service in _services(ro):
        errs += _field_errors(path, service, dns1035_label_problems(service))
    for path, analysis in analyses(ro):
        for i, ref in enumerate(analysis.templates or []):
            errs += _field_errors(
                f"{path}.templates[{i}].templateName",
                ref.template_name,
                dns1123_subdomain_problems(ref.template_name),
            )
    return errs


def _services(ro: Rollout) -> Iterable[tuple[str, str]]:
    bg, c = ro.spec.strategy.blue_green, ro.spec.strategy.canary
    named: list[tuple[str, str | None]] = []
    if bg is not None:
        p = "spec.strategy.blueGreen"
        named += [(f"{p}.activeService", bg.active_service), (f"{p}.previewService", bg.preview_service)]
    if c is not None:
        p = "spec.strategy.canary"
        named += [(f"{p}.canaryService", c.canary_service), (f"{p}.stableService", c.stable_service)]
        if c.ping_pong is not None:
            named += [
                (f"{p}.pingPong.pingService", c.ping_pong.ping_service),
                (f"{p}.pingPong.pongService", c.ping_pong.pong_service),
            ]
    return [(path, name) for path, name in named if name]


def analyses(ro: Rollout) -> list[tuple[str, RolloutAnalysis]]:
    """Every analysis of the spec with its path: background, steps, blue-green pre/post-promotion."""
    bg, c = ro.spec.strategy.blue_green, ro.spec.strategy.canary
    out: list[tuple[str, RolloutAnalysis | None]] = []
    if bg is not None:
        p = "spec.strategy.blueGreen"
        out += [
            (f"{p}.prePromotionAnalysis", bg.pre_promotion_analysis),
            (f"{p}.postPromotionAnalysis", bg.post_promotion_analysis),
        ]
    if c is not None:
        p = "spec.strategy.canary"
        out.append((f"{p}.analysis", c.analysis))
        out += [(f"{p}.steps[{i}].analysis", step.analysis) for i, step in enumerate(c.steps or [])]
    return [(path, a) for path, a in out if a is not None]
