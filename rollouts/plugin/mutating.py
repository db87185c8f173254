"""Commands that change a rollout or a run: promote, abort, retry, pause, restart, set image, undo, terminate.

Each reads what its intent needs (usually the rollout), asks `intents.py` for the exact patches of reference
docs/semantics/plugin.md#get-rollout-output/docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause, sends them, and prints Argo's line (`rollout 'web' aborted`). Status patches go to the status
subresource, or to the object itself when the CRD has none (`KubeClient.patch_status` finds out).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from rollouts.kube import KubeClient
from rollouts.kube.errors import Conflict, NotFound
from rollouts.kube.resources import ANALYSIS_RUNS, DEPLOYMENTS, EXPERIMENTS, REPLICA_SETS, ROLLOUTS, Resource
from rollouts.plugin import intents
from rollouts.plugin.fetching import label_selector
from rollouts.plugin.intents import IntentError, Patch, UndoSkipped
from rollouts.plugin.session import (
    AliasGroup,
    KubeFlags,
    PluginError,
    Session,
    kube_flags,
    not_found,
    parse_duration,
    run_command,
)

__all__ = ["abort", "apply_patch", "pause", "promote", "restart", "retry", "set_", "terminate", "undo"]

SET_IMAGE_ATTEMPTS = 5


async def apply_patch(client: KubeClient, resource: Resource, namespace: str, name: str, patch: Patch) -> Any:
    """Send one intent; NotFound becomes kubectl's `<resource> "<name>" not found`."""
    try:
        if patch.type == "replace":
            return await client.replace(resource, patch.body, namespace)
        if patch.subresource == "status":
            return await client.patch_status(resource, name, patch.body, namespace, patch_type=patch.type)
        return await client.patch(resource, name, patch.body, namespace, patch_type=patch.type)
    except NotFound:
        raise not_found(resource, name) from None


async def _get(client: KubeClient, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
    try:
        return await client.get(resource, name, namespace)
    except NotFound:
        raise not_found(resource, name) from None


# ------------------------------------------------------------------------------------------------------------
# The actions themselves, shared by the commands below and the dashboard (`rollouts.dashboard`): each sends its
# intent's patches and returns Argo's line. A refusal of the API server propagates as the client's KubeError.


async def abort_rollout(client: KubeClient, namespace: str, name: str) -> str:
    await apply_patch(client, ROLLOUTS, namespace, name, intents.abort({"metadata": {"name": name}}))
    return f"rollout '{name}' aborted"


async def pause_rollout(client: KubeClient, namespace: str, name: str) -> str:
    await apply_patch(client, ROLLOUTS, namespace, name, intents.pause({"metadata": {"name": name}}))
    return f"rollout '{name}' paused"


async def retry_a_rollout(client: KubeClient, namespace: str, name: str) -> str:
    await apply_patch(client, ROLLOUTS, namespace, name, intents.retry({"metadata": {"name": name}}))
    return f"rollout '{name}' retried"


async def promote_rollout(
    client: KubeClient,
    namespace: str,
    name: str,
    *,
    full: bool = False,
    skip_current_step: bool = False,
    skip_all_steps: bool = False,
) -> str:
    ro = await _get(client, ROLLOUTS, namespace, name)
    patches = intents.promote(
        ro, full=full, skip_current_step=skip_current_step, skip_all_steps=skip_all_steps
    )
    for patch in patches:
        await apply_patch(client, ROLLOUTS, namespace, name, patch)
    return f"rollout '{name}' fully promoted" if full else f"rollout '{name}' promoted"


async def restart_rollout(
    client: KubeClient, namespace: str, name: str, delay: timedelta = timedelta(0), shown: str = "0s"
) -> str:
    patch = intents.restart({}, datetime.now(UTC), delay)
    await apply_patch(client, ROLLOUTS, namespace, name, patch)
    return f"rollout '{name}' restarts in {shown}"


async def set_rollout_image(client: KubeClient, namespace: str, name: str, container: str, image: str) -> str:
    """The image of a container (`*`: every one); a workloadRef Rollout's Deployment is updated instead.
    Retries on conflict up to SET_IMAGE_ATTEMPTS times."""
    for attempt in range(SET_IMAGE_ATTEMPTS):
        ro = await _get(client, ROLLOUTS, namespace, name)
        ref = (ro.get("spec") or {}).get("workloadRef")
        resource, target = ROLLOUTS, ro
        if ref:
            if ref.get("kind") != "Deployment":
                raise PluginError(f"workload of type {ref.get('kind')} is not supported")
            resource = DEPLOYMENTS
            target = await _get(client, DEPLOYMENTS, namespace, str(ref.get("name")))
        patch = intents.set_image(target, container, image)
        try:
            await apply_patch(client, resource, namespace, target["metadata"]["name"], patch)
        except Conflict:
            if attempt + 1 < SET_IMAGE_ATTEMPTS:
                continue
            raise
        return f'{resource.kind.lower()} "{target["metadata"]["name"]}" image updated'
    raise PluginError(f"rollout '{name}': still conflicting after {SET_IMAGE_ATTEMPTS} attempts")


def _each(flags: KubeFlags, names: tuple[str, ...], action: Any) -> None:
    async def body(s: Session) -> None:
        for name in names:
            click.echo(await action(s.client, s.namespace, name))

    run_command(flags, body)


@click.command("abort")
@click.argument("names", metavar="ROLLOUT...", nargs=-1, required=True)
@kube_flags
def abort(names: tuple[str, ...], flags: KubeFlags) -> None:
    """Abort a rollout: stop progressing and send all traffic back to the stable version.

    The rollout's spec.template still describes the new version: `retry rollout` resumes it; setting the
    template back to the stable one (`undo`) rolls back.

    \b
    Example:
      kubectl rollouts abort guestbook
    """
    _each(flags, names, abort_rollout)


@click.command("pause")
@click.argument("names", metavar="ROLLOUT...", nargs=-1, required=True)
@kube_flags
def pause(names: tuple[str, ...], flags: KubeFlags) -> None:
    """Pause a rollout (spec.paused=true); resume it with `promote`.

    \b
    Example:
      kubectl rollouts pause guestbook
    """
    _each(flags, names, pause_rollout)


@click.group("retry", cls=AliasGroup)
def retry() -> None:
    """Retry an aborted rollout.

    \b
    Example:
      kubectl rollouts retry rollout guestbook
    """


@click.command("rollout")
@click.argument("names", metavar="ROLLOUT...", nargs=-1, required=True)
@kube_flags
def retry_rollout(names: tuple[str, ...], flags: KubeFlags) -> None:
    """Retry an aborted rollout: clear status.abort so the update starts again.

    \b
    Example:
      kubectl rollouts retry rollout guestbook
    """
    _each(flags, names, retry_a_rollout)


retry.add_aliased(retry_rollout, "ro", "rollouts")  # type: ignore[attr-defined]


@click.group("terminate", cls=AliasGroup)
def terminate() -> None:
    """Terminate a running analysis run or experiment.

    \b
    Examples:
      kubectl rollouts terminate analysisrun guestbook-877894d5b-4-success-rate
      kubectl rollouts terminate experiment my-experiment
    """


@click.command("analysisrun")
@click.argument("names", metavar="ANALYSISRUN...", nargs=-1, required=True)
@kube_flags
def terminate_analysisrun(names: tuple[str, ...], flags: KubeFlags) -> None:
    """Terminate analysis runs (spec.terminate=true): no new measurements; the run completes.

    \b
    Example:
      kubectl rollouts terminate analysisrun guestbook-877894d5b-4-success-rate
    """

    async def terminate_one(client: KubeClient, namespace: str, name: str) -> str:
        patch = intents.terminate({"metadata": {"name": name}})
        await apply_patch(client, ANALYSIS_RUNS, namespace, name, patch)
        return f"analysisRun '{name}' terminated"

    _each(flags, names, terminate_one)


terminate.add_aliased(terminate_analysisrun, "ar", "analysisruns")  # type: ignore[attr-defined]


@click.command("experiment")
@click.argument("names", metavar="EXPERIMENT...", nargs=-1, required=True)
@kube_flags
def terminate_experiment(names: tuple[str, ...], flags: KubeFlags) -> None:
    """Terminate experiments (spec.terminate=true): their analyses end and their pods are scaled down.

    \b
    Example:
      kubectl rollouts terminate experiment my-experiment
    """

    async def terminate_one(client: KubeClient, namespace: str, name: str) -> str:
        await apply_patch(
            client, EXPERIMENTS, namespace, name, intents.terminate({"metadata": {"name": name}})
        )
        return f"experiment '{name}' terminated"

    _each(flags, names, terminate_one)


terminate.add_aliased(terminate_experiment, "exp", "experiments")  # type: ignore[attr-defined]


@click.command("promote")
@click.argument("name", metavar="ROLLOUT")
@click.option("--full", is_flag=True, help="Promote fully: skip the remaining steps, pauses and analysis.")
@click.option(
    "-c", "--skip-current-step", is_flag=True, hidden=True, help="Deprecated: promote without flags."
)
@click.option("-a", "--skip-all-steps", is_flag=True, hidden=True, help="Deprecated: use --full.")
@kube_flags
def promote(name: str, full: bool, skip_current_step: bool, skip_all_steps: bool, flags: KubeFlags) -> None:
    """Promote a rollout paused at a canary step or a blue-green pause; `--full` goes straight to 100 %.

    \b
    Examples:
      # Resume a paused rollout (completes the current pause step)
      kubectl rollouts promote guestbook
      # Skip the remaining steps, pauses and analysis
      kubectl rollouts promote guestbook --full
    """
    if skip_current_step:
        click.echo(
            "Flag --skip-current-step has been deprecated, use without the flag instead ex: promote ROLLOUT_NAME",
            err=True,
        )
    if skip_all_steps:
        click.echo("Flag --skip-all-steps has been deprecated, use --full instead", err=True)
    if skip_current_step and skip_all_steps:
        raise PluginError(intents.BOTH_SKIP_FLAGS)

    async def body(s: Session) -> None:
        message = await promote_rollout(
            s.client,
            s.namespace,
            name,
            full=full,
            skip_current_step=skip_current_step,
            skip_all_steps=skip_all_steps,
        )
        click.echo(message)

    run_command(flags, body)


@click.command("restart")
@click.argument("name", metavar="ROLLOUT")
@click.option("-i", "--in", "in_", metavar="DURATION", help="Restart after this long (e.g. 30s, 5m, 1h).")
@kube_flags
def restart(name: str, in_: str | None, flags: KubeFlags) -> None:
    """Restart the pods of a rollout (spec.restartAt = now, or now + --in).

    \b
    Examples:
      kubectl rollouts restart guestbook
      kubectl rollouts restart guestbook --in 10s
    """
    delay = timedelta(seconds=parse_duration(in_, "'-i' / '--in'"))

    async def body(s: Session) -> None:
        click.echo(await restart_rollout(s.client, s.namespace, name, delay, in_ or "0s"))

    run_command(flags, body)


@click.group("set", cls=AliasGroup)
def set_() -> None:
    """Set fields of a rollout.

    \b
    Example:
      kubectl rollouts set image guestbook guestbook=argoproj/rollouts-demo:yellow
    """


@click.command("image")
@click.argument("name", metavar="ROLLOUT")
@click.argument("assignment", metavar="CONTAINER=IMAGE")
@kube_flags
def set_image(name: str, assignment: str, flags: KubeFlags) -> None:
    """Update the image of a container of a rollout (`*` = every container: init, regular, ephemeral).

    A rollout with a workloadRef has its Deployment updated instead. Retries on conflict up to 5 times.

    \b
    Examples:
      kubectl rollouts set image my-rollout app=registry/app:v2
      kubectl rollouts set image my-rollout '*=registry/app:v2'
    """
    parts = assignment.split("=")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise click.UsageError(f"expected CONTAINER=IMAGE, got {assignment!r}")
    container, image = parts

    async def body(s: Session) -> None:
        click.echo(await set_rollout_image(s.client, s.namespace, name, container, image))

    run_command(flags, body)


set_.add_aliased(set_image)  # type: ignore[attr-defined]


@click.command("undo")
@click.argument("name", metavar="ROLLOUT")
@click.option(
    "--to-revision",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="The revision to roll back to (0 = previous).",
)
@kube_flags
def undo(name: str, to_revision: int, flags: KubeFlags) -> None:
    """Roll back to a previous revision: the rollout's pod template becomes that revision's template.

    \b
    Examples:
      # Back to the previous revision
      kubectl rollouts undo guestbook
      # Back to revision 3
      kubectl rollouts undo guestbook --to-revision=3
    """

    async def body(s: Session) -> None:
        ro = await _get(s.client, ROLLOUTS, s.namespace, name)
        uid = ro["metadata"].get("uid")
        selector = label_selector((ro.get("spec") or {}).get("selector"))
        if not selector:
            raise PluginError(f'rollout "{name}" has no spec.selector: its ReplicaSets cannot be found')
        listed = await s.client.list(REPLICA_SETS, s.namespace, label_selector=selector)
        owned = [
            rs
            for rs in listed
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in (rs.get("metadata") or {}).get("ownerReferences") or []
            )
        ]
        try:
            patch = intents.undo(ro, owned, to_revision)
        except UndoSkipped as skipped:
            click.echo(str(skipped))
            return
        except IntentError:
            raise
        ref = (ro.get("spec") or {}).get("workloadRef")
        try:
            if ref:
                kinds = {"Deployment": DEPLOYMENTS, "ReplicaSet": REPLICA_SETS}
                if ref.get("kind") not in kinds:
                    raise PluginError(f"workload of type {ref.get('kind')} is not supported")
                await apply_patch(s.client, kinds[ref["kind"]], s.namespace, str(ref.get("name")), patch)
            else:
                await apply_patch(s.client, ROLLOUTS, s.namespace, name, patch)
        except PluginError as e:
            raise PluginError(f"failed restoring revision {to_revision}: {e.format_message()}") from e
        click.echo(f"rollout '{name}' undo")

    run_command(flags, body)
