"""``riskstream ops ...``: the deployed bundle's jobs on Databricks (status, progress, start/stop/restart, sync)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from riskstream import ops
from riskstream.commands.common import TargetOption, console
from riskstream.errors import ConfigError

app = typer.Typer(
    help="Operate the bundle's jobs on Databricks (auth: DATABRICKS_HOST/DATABRICKS_TOKEN or --profile).",
    no_args_is_help=True,
)

ProfileOption = Annotated[str | None, typer.Option(help="A ~/.databrickscfg profile instead of the environment.")]
TimeoutOption = Annotated[
    int, typer.Option(help="Seconds to wait for the active run to terminate, or for the scheduler's new run.", min=1)
]


def _report(message: str) -> None:
    console.print(message, markup=False)  # job names such as "[dev alice] ..." are not rich markup


def _deployed_target(target: str) -> str:
    if target == "local":
        raise ConfigError("ops works on a deployed target: --target dev or --target prod")
    return target


@app.command()
def status(target: TargetOption = "dev", profile: ProfileOption = None) -> None:
    """Each bundle job and its latest run."""
    target = _deployed_target(target)
    statuses = ops.job_statuses(ops.workspace_client(profile), target)
    if not statuses:
        console.print(
            f"ops: no riskstream jobs for target {target}; deploy with `databricks bundle deploy -t {target}`"
        )
        raise typer.Exit(1)
    for line in ops.status_lines(statuses):
        console.print(line, markup=False)


@app.command()
def progress(target: TargetOption = "dev", profile: ProfileOption = None) -> None:
    """The streaming run's tasks: state, retry attempt, start time. Exits 1 when the stream is not running."""
    target = _deployed_target(target)
    tasks = ops.streaming_progress(ops.workspace_client(profile), target)
    if not tasks:
        console.print(f"ops: the streaming job of {target} has no active run")
        raise typer.Exit(1)
    for task in tasks:
        console.print(
            f"run {task.run_id} {task.task_key}: {task.life_cycle_state}, attempt {task.attempt}, "
            f"started {ops.format_time(task.start_time)}",
            markup=False,
        )


@app.command()
def start(target: TargetOption = "dev", profile: ProfileOption = None, timeout: TimeoutOption = 300) -> None:
    """Unpause the streaming job's continuous trigger and wait for its run (refused when one is active)."""
    target = _deployed_target(target)
    run_id = ops.start_streaming(ops.workspace_client(profile), target, timedelta(seconds=timeout))
    console.print(f"ops: streaming job of {target} started, run {run_id}")


@app.command()
def stop(target: TargetOption = "dev", profile: ProfileOption = None, timeout: TimeoutOption = 600) -> None:
    """Pause the streaming job's continuous trigger, cancel its run and wait until it has terminated."""
    target = _deployed_target(target)
    cancelled = ops.stop_streaming(ops.workspace_client(profile), target, timedelta(seconds=timeout), report=_report)
    if cancelled:
        console.print(f"ops: stopped run {', '.join(map(str, cancelled))}")
    else:
        console.print(f"ops: the streaming job of {target} was not running")


@app.command()
def restart(target: TargetOption = "dev", profile: ProfileOption = None, timeout: TimeoutOption = 600) -> None:
    """Cancel the streaming run and wait for the next one, e.g. to run the wheel of a newer deploy."""
    target = _deployed_target(target)
    cancelled, run_id = ops.restart_streaming(
        ops.workspace_client(profile), target, timedelta(seconds=timeout), report=_report
    )
    stopped = f"stopped run {', '.join(map(str, cancelled))}" if cancelled else "was not running"
    console.print(f"ops: streaming job of {target} {stopped}; the continuous trigger started run {run_id}")


@app.command()
def sync(
    target: TargetOption = "dev",
    profile: ProfileOption = None,
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish and fail unless it succeeded.")] = False,
) -> None:
    """Trigger the Snowflake sync job now."""
    target = _deployed_target(target)
    run = ops.trigger_sync(ops.workspace_client(profile), target, wait=wait)
    if wait:
        console.print(f"ops: sync run {run.run_id} {run.result_state} at {ops.format_time(run.end_time)}")
    else:
        console.print(f"ops: sync run {run.run_id} triggered")
