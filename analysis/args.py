"""Arguments: merging templates into one run, and ``{{args.x}}`` substitution (docs/semantics/analysis.md#analysis-args).

Pure analysis core (the secret lookup is an injected async callable). Two users:

* the strategy core, building an AnalysisRun spec from the templates a Rollout references:
  `build_run_spec` = Argo's `NewAnalysisRunFromTemplates` (`flatten_templates` + `merge_args`);
* the runner, resolving a run's metrics before measuring: `resolve_metrics_without_secrets` (for validation
  and scheduling, secrets replaced by a placeholder as Argo does), then `resolve_secret_args` and
  `resolve_metric` with the real values right before the providers are called.

Substitution is applied to every string field of the metric (query, address, conditions, headers, a count
given as ``"{{args.n}}"``…). Argo marshals the metric to JSON, substitutes JSON-escaped values and unmarshals;
substituting the raw value into each string field is the same thing without the round trip. Tags are trimmed
(``{{ args.x }}`` works). Secret values are redacted to ``*****`` by `redact` (`analysis.redaction`,
re-exported here) in every message, value and metadata the runner writes, raw or in any of the encodings a
backend may echo them back in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.models import (
    AnalysisRunSpec,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    DryRun,
    MeasurementRetention,
    Metric,
)
from analysis.redaction import REDACTED, redact, secret_forms

__all__ = [
    "REDACTED",
    "ArgsError",
    "FlatTemplate",
    "SecretResolver",
    "build_run_spec",
    "dict_secret_resolver",
    "flatten_templates",
    "merge_args",
    "redact",
    "resolve_metric",
    "resolve_metrics_without_secrets",
    "resolve_secret_args",
    "resolve_template",
    "secret_forms",
]

SecretResolver = Callable[[str, str], Awaitable[str]]
"""``await resolver(secret_name, key)`` → the secret value (from the run's namespace). Raise on failure with a
message such as ``secrets "db" not found`` or ``key 'k' does not exist in secret 'db'``."""

SECRET_PLACEHOLDER = "temp-for-secret"  # Argo's stand-in while validating/scheduling


class ArgsError(ValueError):
    """An argument problem; the run fails with ``Unable to resolve metric arguments: <message>``."""


# --- templating ----------------------------------------------------------------------------------


def resolve_template(text: str, values: Mapping[str, str]) -> str:
    """Substitute ``{{tag}}`` with ``values[tag.strip()]`` (fasttemplate semantics, docs/semantics/analysis.md#analysis-args).

    An unknown tag is replaced by nothing and reported as ``failed to resolve {{<tag as written>}}`` (the last
    one, as Argo's loop overwrites its error); a ``{{`` without ``}}`` is fasttemplate's error.

    >>> resolve_template("rate{svc='{{ args.svc }}'}", {"args.svc": "api"})
    "rate{svc='api'}"
    """
    if "{{" not in text:
        return text
    out: list[str] = []
    error: str | None = None
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(text[pos:])
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise ArgsError(
                f'Cannot find end tag="}}}}" in the template="{text}" starting from "{text[start + 2 :]}"'
            )
        out.append(text[pos:start])
        tag = text[start + 2 : end]
        value = values.get(tag.strip())
        if value is None:
            error = f"failed to resolve {{{{{tag}}}}}"
        else:
            out.append(value)
        pos = end + 2
    if error is not None:
        raise ArgsError(error)
    return "".join(out)


def _substitute(node: Any, values: Mapping[str, str]) -> tuple[Any, bool]:
    """(node with every string templated, whether anything changed)."""
    if isinstance(node, str):
        if "{{" not in node:
            return node, False
        return resolve_template(node, values), True
    if isinstance(node, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, value in node.items():
            out[key], touched = _substitute(value, values)
            changed = changed or touched
        return out, changed
    if isinstance(node, list):
        items = [_substitute(v, values) for v in node]
        return [v for v, _ in items], any(touched for _, touched in items)
    return node, False


def _values(args: Sequence[Argument]) -> dict[str, str]:
    values: dict[str, str] = {}
    for arg in args:
        if arg.value is None:
            raise ArgsError(f'argument "{arg.name}" was not supplied')
        values[f"args.{arg.name}"] = arg.value
    return values


def _resolve(metric: Metric, values: Mapping[str, str]) -> Metric:
    wire, changed = _substitute(metric.to_wire(), values)
    return Metric.model_validate(wire) if changed else metric


def resolve_metric(metric: Metric, args: Sequence[Argument]) -> Metric:
    """The metric with ``{{args.x}}`` substituted in every string field (`ResolveMetricArgs`).

    Returns the metric itself when it has no tag (metrics are never modified in place).
    """
    return _resolve(metric, _values(args))


def _without_secrets(args: Sequence[Argument]) -> list[Argument]:
    out: list[Argument] = []
    for arg in args:
        if arg.value_from is not None and arg.value_from.secret_key_ref is not None:
            out.append(Argument(name=arg.name, value=SECRET_PLACEHOLDER))
        else:
            out.append(arg)
    return out


def resolve_metrics_without_secrets(
    metrics: Sequence[Metric], args: Sequence[Argument] | None
) -> list[Metric]:
    """Metrics resolved with secrets replaced by a placeholder, for validation and scheduling (docs/semantics/analysis.md#analysis-args)."""
    values = _values(_without_secrets(args or []))
    return [_resolve(m, values) for m in metrics]


async def resolve_secret_args(
    args: Sequence[Argument] | None, resolver: SecretResolver | None
) -> tuple[list[Argument], list[str]]:
    """Args with ``valueFrom.secretKeyRef`` replaced by their values, and the secret values (for `redact`)."""
    resolved: list[Argument] = []
    secrets: list[str] = []
    for arg in args or []:
        ref = arg.value_from.secret_key_ref if arg.value_from is not None else None
        if ref is None:
            resolved.append(arg)
            continue
        if resolver is None:
            raise ArgsError(f"args.{arg.name} needs secret '{ref.name}' but no secret resolver is configured")
        try:
            value = await resolver(ref.name, ref.key)
        except Exception as e:
            raise ArgsError(str(e) or type(e).__name__) from e
        if value not in secrets:
            secrets.append(value)
        resolved.append(Argument(name=arg.name, value=value))
    return resolved, secrets


def dict_secret_resolver(secrets: Mapping[str, Mapping[str, str]]) -> SecretResolver:
    """A resolver over an in-memory ``{secret: {key: value}}`` map, with Kubernetes' error wording."""

    async def resolve(name: str, key: str) -> str:
        if name not in secrets:
            raise LookupError(f'secrets "{name}" not found')
        data = secrets[name]
        if key not in data:
            raise LookupError(f"key '{key}' does not exist in secret '{name}'")
        return data[key]

    return resolve


# --- merging templates ---------------------------------------------------------------------------


@dataclass
class FlatTemplate:
    """Several (cluster) templates flattened into one spec (`FlattenTemplates`)."""

    metrics: list[Metric] = field(default_factory=list)
    args: list[Argument] = field(default_factory=list)
    dry_run: list[DryRun] = field(default_factory=list)
    measurement_retention: list[MeasurementRetention] = field(default_factory=list)


def _check_unique_rules(names: Sequence[str], kind: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ArgsError(f"two {kind} metric rules have the same name '{name}'")
        seen.add(name)


def flatten_templates(
    templates: Sequence[AnalysisTemplate], cluster_templates: Sequence[ClusterAnalysisTemplate] = ()
) -> FlatTemplate:
    """Concatenate metrics/args/dryRun/measurementRetention of the templates, namespaced ones first (docs/semantics/analysis.md#analysis-args)."""
    specs = [t.spec for t in templates] + [t.spec for t in cluster_templates]
    flat = FlatTemplate()
    seen: set[str] = set()
    for spec in specs:
        for metric in spec.metrics:
            if metric.name in seen:
                raise ArgsError(f"two metrics have the same name '{metric.name}'")
            seen.add(metric.name)
            flat.metrics.append(metric)
        flat.dry_run.extend(spec.dry_run or [])
        flat.measurement_retention.extend(spec.measurement_retention or [])
    _check_unique_rules([d.metric_name for d in flat.dry_run], "Dry-Run")
    _check_unique_rules([r.metric_name for r in flat.measurement_retention], "Measurement Retention")
    for spec in specs:
        for arg in spec.args or []:
            _append_or_update(flat.args, arg)
    return flat


def _append_or_update(combined: list[Argument], new: Argument) -> None:
    for i, prev in enumerate(combined):
        if prev.name != new.name:
            continue
        if prev.value is not None and new.value is not None and prev.value != new.value:
            raise ArgsError(
                f"Argument `{prev.name}` specified multiple times with different values: "
                f"'{prev.value}', '{new.value}'"
            )
        if prev.value is None:  # a set value is never replaced by a placeholder
            combined[i] = new
        return
    combined.append(new)


def merge_args(incoming: Sequence[Argument] | None, template_args: Sequence[Argument]) -> list[Argument]:
    """`MergeArgs`: template args, overridden by the caller's value/valueFrom; extra incoming args dropped.

    Raises ``args.<name> was not resolved`` for an arg left with neither value nor valueFrom.
    """
    merged = [a.model_copy() for a in template_args]
    index = {a.name: i for i, a in enumerate(merged)}
    for arg in incoming or []:
        i = index.get(arg.name)
        if i is None:
            continue
        if arg.value is not None:
            merged[i] = merged[i].model_copy(update={"value": arg.value})
        elif arg.value_from is not None:
            merged[i] = merged[i].model_copy(update={"value_from": arg.value_from})
    for arg in merged:
        if arg.value is None and arg.value_from is None:
            raise ArgsError(f"args.{arg.name} was not resolved")
    return merged


def build_run_spec(
    templates: Sequence[AnalysisTemplate],
    cluster_templates: Sequence[ClusterAnalysisTemplate] = (),
    args: Sequence[Argument] | None = None,
    dry_run: Sequence[DryRun] = (),
    measurement_retention: Sequence[MeasurementRetention] = (),
) -> AnalysisRunSpec:
    """An AnalysisRun spec from templates and the caller's args (`NewAnalysisRunFromTemplates`).

    The caller's dryRun / measurementRetention rules come first, then the templates'. Raises ArgsError.
    """
    flat = flatten_templates(templates, cluster_templates)
    merged = merge_args(args, flat.args)
    dry = [*dry_run, *flat.dry_run]
    retention = [*measurement_retention, *flat.measurement_retention]
    _check_unique_rules([d.metric_name for d in dry], "Dry-Run")
    _check_unique_rules([r.metric_name for r in retention], "Measurement Retention")
    return AnalysisRunSpec(
        metrics=[m.model_copy(deep=True) for m in flat.metrics],
        args=merged or None,
        dry_run=dry or None,
        measurement_retention=retention or None,
    )
