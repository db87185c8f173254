"""`create -f FILE` and `create analysisrun --from TEMPLATE`: new objects from manifests or templates.

`create analysisrun` is how a person runs an AnalysisTemplate by hand (e.g. before trusting it in a rollout):
the template in the cluster (or a file) becomes an AnalysisRun with the `-a NAME=VALUE` arguments merged into
the template's declared ones (docs/semantics/analysis.md#analysis-args MergeArgs: only declared args survive; an argument left without
a value is an error `args.<name> was not resolved`). The controller then runs it; `get analysisrun` shows it.
"""

from __future__ import annotations

import copy
from typing import Any

import click

from analysis.reading import ReadError, read_documents
from analysis.validating import check_object
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    EXPERIMENTS,
    ROLLOUTS,
    Resource,
)
from rollouts.models.vocabulary import INSTANCE_ID_LABEL
from rollouts.plugin.session import (
    AliasGroup,
    KubeFlags,
    PluginError,
    Session,
    kube_flags,
    not_found,
    run_command,
)

__all__ = ["create", "merge_args", "new_analysis_run", "parse_arg_flags"]

CREATABLE: dict[str, Resource] = {
    r.kind: r for r in (ROLLOUTS, EXPERIMENTS, ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES, ANALYSIS_RUNS)
}


def parse_arg_flags(flags: tuple[str, ...]) -> list[dict[str, Any]]:
    """`-a NAME=VALUE` flags as Argument dicts (the value may itself contain '=')."""
    args = []
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep:
            raise PluginError("arguments must be in the form NAME=VALUE")
        args.append({"name": name, "value": value})
    return args


def merge_args(incoming: list[dict[str, Any]], declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """docs/semantics/analysis.md#analysis-args MergeArgs: the template's args, with values from `incoming` for those it declares.

    >>> merge_args([{"name": "svc", "value": "web"}, {"name": "extra", "value": "x"}], [{"name": "svc"}])
    [{'name': 'svc', 'value': 'web'}]
    """
    merged = copy.deepcopy(declared)
    for arg in incoming:
        for target in merged:
            if target.get("name") == arg.get("name"):
                if arg.get("value") is not None:
                    target["value"] = arg["value"]
                elif arg.get("valueFrom") is not None:
                    target["valueFrom"] = arg["valueFrom"]
    for arg in merged:
        if arg.get("value") is None and arg.get("valueFrom") is None:
            raise PluginError(f"args.{arg.get('name')} was not resolved")
    return merged


def new_analysis_run(
    template: dict[str, Any],
    args: list[dict[str, Any]],
    namespace: str,
    *,
    name: str = "",
    generate_name: str = "",
    instance_id: str = "",
) -> dict[str, Any]:
    """The AnalysisRun made of a template (Argo's NewAnalysisRunFromUnstructured)."""
    spec = copy.deepcopy(template.get("spec") or {})
    if "args" in spec:
        spec["args"] = merge_args(args, spec.get("args") or [])
    elif args:
        spec["args"] = args
    meta_in = template.get("metadata") or {}
    meta: dict[str, Any] = {"namespace": namespace}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or f"{meta_in.get('name', '')}-"
    for key in ("labels", "annotations"):
        if meta_in.get(key):
            meta[key] = dict(meta_in[key])
    if instance_id:
        meta["labels"] = {INSTANCE_ID_LABEL: instance_id}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": meta, "spec": spec}


def load_manifest(path: str) -> dict[str, Any]:
    """One object from a YAML or JSON file (read by `analysis.reading`: bounded, UTF-8, one-line errors)."""
    try:
        docs = read_documents(path)
    except ReadError as e:
        raise PluginError(str(e)) from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        found = f"{len(docs)} documents" if len(docs) != 1 else "a document that is not an object"
        raise PluginError(f"{path}: expected one Kubernetes object, found {found}")
    return docs[0]


def _creatable(path: str) -> tuple[Resource, dict[str, Any]]:
    """The object of `path` and where it goes; refused before any request when its kind cannot be created."""
    obj = load_manifest(path)
    group = str(obj.get("apiVersion", "")).split("/")[0]
    resource = CREATABLE.get(str(obj.get("kind")))
    if resource is None or group != "argoproj.io":
        raise PluginError(f"{path}: creates of {group}/{obj.get('kind')} unsupported")
    return resource, obj


def _template_file(path: str) -> dict[str, Any]:
    """A local AnalysisTemplate or ClusterAnalysisTemplate, valid as `lint` and `analyze` see it."""
    obj = load_manifest(path)
    if obj.get("kind") not in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
        raise PluginError(
            f"{path}: expected an AnalysisTemplate or ClusterAnalysisTemplate, found {obj.get('kind')}"
        )
    _, problems = check_object(obj)
    if problems:
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        raise PluginError(f'{path}: {obj["kind"]} "{name or ""}": {problems[0]}')
    return obj


@click.group("create", cls=AliasGroup, invoke_without_command=True)
@click.option(
    "-f", "--filename", "files", multiple=True, metavar="FILE", help="Manifest to create (repeatable)."
)
@kube_flags
@click.pass_context
def create(ctx: click.Context, files: tuple[str, ...], flags: KubeFlags) -> None:
    """Create Rollouts, Experiments, AnalysisTemplates, ClusterAnalysisTemplates or AnalysisRuns from files,
    or an AnalysisRun from a template (`create analysisrun`).

    \b
    Examples:
      kubectl rollouts create -f rollout.yaml
      kubectl rollouts create analysisrun --from success-rate -a service-name=web
    """
    if ctx.invoked_subcommand is not None:
        return
    if not files:
        raise click.UsageError("one of -f/--filename or a sub-command (analysisrun) is required")

    objects = [_creatable(path) for path in files]  # every file is read before the cluster is asked

    async def body(s: Session) -> None:
        for resource, obj in objects:
            meta = obj.get("metadata")
            ns = (meta.get("namespace") if isinstance(meta, dict) else None) or s.namespace
            created = await s.client.create(resource, obj, ns)
            click.echo(f"{resource.kind.lower()}.{resource.group}/{created['metadata']['name']} created")

    run_command(flags, body)


@click.command("analysisrun")
@click.option("--from", "from_", metavar="TEMPLATE", help="Name of the AnalysisTemplate in the cluster.")
@click.option("--from-file", metavar="FILE", help="A local AnalysisTemplate or ClusterAnalysisTemplate file.")
@click.option("--global", "global_", is_flag=True, help="--from names a ClusterAnalysisTemplate.")
@click.option("-a", "--argument", "arguments", multiple=True, metavar="NAME=VALUE", help="Template argument.")
@click.option("--name", default="", help="Name of the run.")
@click.option("--generate-name", default="", help="Name prefix of the run (default: '<template>-').")
@click.option("--instance-id", default="", help="Controller instance id label for the run.")
@kube_flags
def create_analysisrun(
    from_: str | None,
    from_file: str | None,
    global_: bool,
    arguments: tuple[str, ...],
    name: str,
    generate_name: str,
    instance_id: str,
    flags: KubeFlags,
) -> None:
    """Create an AnalysisRun from an AnalysisTemplate (or, with --global, a ClusterAnalysisTemplate).

    \b
    Examples:
      kubectl rollouts create analysisrun --from success-rate -a service-name=api-server
      kubectl rollouts create analysisrun --global --from smoke --name smoke-now
      kubectl rollouts create analysisrun --from-file template.yaml
    """
    if (from_ is None) == (from_file is None):
        raise PluginError("one of --from or --from-file must be specified")
    args = parse_arg_flags(arguments)
    from_template = _template_file(from_file) if from_file is not None else None

    async def body(s: Session) -> None:
        if from_template is not None:
            template = from_template
        else:
            assert from_ is not None
            resource = CLUSTER_ANALYSIS_TEMPLATES if global_ else ANALYSIS_TEMPLATES
            try:
                template = await s.client.get(resource, from_, s.namespace)
            except NotFound:
                raise not_found(resource, from_) from None
        if not name and not generate_name and not (template.get("metadata") or {}).get("name"):
            raise PluginError("name is invalid")
        run = new_analysis_run(
            template, args, s.namespace, name=name, generate_name=generate_name, instance_id=instance_id
        )
        created = await s.client.create(ANALYSIS_RUNS, run, s.namespace)
        click.echo(f"analysisrun.argoproj.io/{created['metadata']['name']} created")

    run_command(flags, body)


create.add_aliased(create_analysisrun, "ar")  # type: ignore[attr-defined]
