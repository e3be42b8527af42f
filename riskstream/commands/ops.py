"""``riskstream ops ...``: the deployed bundle's jobs on Databricks (status, progress, start/stop/restart, sync)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from riskstream import ops
from riskstream.commands.common import TargetOption, console, err_console
from riskstream.errors import ConfigError, OpsError, first_line

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

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


class _RetryReport(logging.Handler):
    """Turns the SDK's debug line about a retry into one line on stderr, so a wait is never silent."""

    def __init__(self, host: str) -> None:
        super().__init__(logging.DEBUG)
        self.host = host

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Retrying"):
            err_console.print(
                f"ops: {self.host} did not answer ({message.removeprefix('Retrying: ')}); retrying for up to "
                f"{ops.RETRY_TIMEOUT_SECONDS} s",
                markup=False,
            )


@contextlib.contextmanager
def _workspace(profile: str | None) -> Iterator[WorkspaceClient]:
    """The workspace client, with retries shown and the SDK's failures as one-line :class:`OpsError`."""
    from databricks.sdk.errors import DatabricksError

    client = ops.workspace_client(profile)
    host = str(client.config.host)
    sdk_retries = logging.getLogger("databricks.sdk.retries")
    report, level, propagate = _RetryReport(host), sdk_retries.level, sdk_retries.propagate
    sdk_retries.addHandler(report)
    sdk_retries.setLevel(logging.DEBUG)
    sdk_retries.propagate = False  # the report is the one line; the SDK's own debug text stays out
    try:
        yield client
    except TimeoutError as error:
        cause = error.__cause__
        why = f"{type(cause).__name__}" if cause is not None else "no answer"
        raise OpsError(
            f"the workspace at {host} did not answer within {ops.RETRY_TIMEOUT_SECONDS} s ({why}); check "
            "DATABRICKS_HOST (or the profile) and the network"
        ) from None
    except DatabricksError as error:
        raise OpsError(f"the workspace at {host} refused the call: {first_line(error)}") from None
    finally:
        sdk_retries.removeHandler(report)
        sdk_retries.setLevel(level)
        sdk_retries.propagate = propagate


def _deployed_target(target: str) -> str:
    if target == "local":
        raise ConfigError("ops works on a deployed target: --target dev or --target prod")
    return target


@app.command()
def status(target: TargetOption = "dev", profile: ProfileOption = None) -> None:
    """Each bundle job and its latest run."""
    target = _deployed_target(target)
    with _workspace(profile) as client:
        statuses = ops.job_statuses(client, target)
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
    with _workspace(profile) as client:
        tasks = ops.streaming_progress(client, target)
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
    with _workspace(profile) as client:
        run_id, started = ops.start_streaming(client, target, timedelta(seconds=timeout))
    if started:
        console.print(f"ops: streaming job of {target} started, run {run_id}")
    else:
        console.print(f"ops: continuous trigger of {target} unpaused; run {run_id} was already active and continues")


@app.command()
def stop(target: TargetOption = "dev", profile: ProfileOption = None, timeout: TimeoutOption = 600) -> None:
    """Pause the streaming job's continuous trigger, cancel its run and wait until it has terminated."""
    target = _deployed_target(target)
    with _workspace(profile) as client:
        cancelled = ops.stop_streaming(client, target, timedelta(seconds=timeout), report=_report)
    if cancelled:
        console.print(f"ops: stopped run {', '.join(map(str, cancelled))}")
    else:
        console.print(f"ops: the streaming job of {target} was not running")


@app.command()
def restart(target: TargetOption = "dev", profile: ProfileOption = None, timeout: TimeoutOption = 600) -> None:
    """Cancel the streaming run and wait for the next one, e.g. to run the wheel of a newer deploy."""
    target = _deployed_target(target)
    with _workspace(profile) as client:
        cancelled, run_id = ops.restart_streaming(client, target, timedelta(seconds=timeout), report=_report)
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
    with _workspace(profile) as client:
        run = ops.trigger_sync(client, target, wait=wait)
    if wait:
        console.print(f"ops: sync run {run.run_id} {run.result_state} at {ops.format_time(run.end_time)}")
    else:
        console.print(f"ops: sync run {run.run_id} triggered")
