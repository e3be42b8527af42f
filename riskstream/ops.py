"""Operating the deployed bundle through the Databricks Jobs API (databricks-sdk).

The bundle's jobs are found by the tags every job in ``resources/*.yml`` sets: ``project:
riskstream``, ``riskstream_target: <dev|prod>`` and ``riskstream_component: <streaming|sync|
reference|risk|maintenance|notebooks>``. Tags survive the name prefix development mode adds (``[dev alice] ...``),
so the same lookup works for both targets.

The streaming job is a continuous job (see resources/streaming.job.yml): the scheduler keeps one
run active while its trigger is unpaused. ``start`` unpauses the trigger and waits for the run the
scheduler starts; ``stop`` pauses it first (so nothing restarts the stream) then cancels the active
run and waits until it has terminated; ``restart`` cancels the active run and waits for the
scheduler's next one, which is how a freshly deployed wheel gets picked up (``databricks bundle
deploy`` replaces the job definition but never restarts a running job).

"Latest streaming progress" is read from the active run itself (runs/get): each task's life-cycle
state, attempt number (how many times Databricks has retried it) and start time. Per-batch
metrics (rows per second, batch ids) live in the ``ops.stream_progress`` Delta table, which needs
a SQL warehouse to read; this module does not query it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from riskstream.errors import OpsError, first_line

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.jobs import BaseRun, Continuous, PauseStatus, Run

PROJECT_TAG = "project"
PROJECT = "riskstream"
TARGET_TAG = "riskstream_target"
COMPONENT_TAG = "riskstream_component"
COMPONENTS = ("streaming", "sync", "reference", "risk", "maintenance", "notebooks")


RETRY_TIMEOUT_SECONDS = 30
"""How long one workspace call keeps retrying (connection errors, 429/503) before ops gives up."""
HTTP_TIMEOUT_SECONDS = 10
"""How long one HTTP request may take."""


def workspace_client(profile: str | None = None) -> WorkspaceClient:
    """A client for the workspace: DATABRICKS_HOST / DATABRICKS_TOKEN from the environment, or a profile.

    The SDK's own unified authentication reads the environment and ``~/.databrickscfg``; calls give
    up after :data:`RETRY_TIMEOUT_SECONDS` (the SDK's default is five minutes). The token is never
    printed here or in the errors raised; the SDK's reason for refusing the credentials is.
    """
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config
    from databricks.sdk.errors import DatabricksError

    try:
        config = Config(
            profile=profile, retry_timeout_seconds=RETRY_TIMEOUT_SECONDS, http_timeout_seconds=HTTP_TIMEOUT_SECONDS
        )
        return WorkspaceClient(config=config)
    except (ValueError, DatabricksError) as error:
        where = f"profile {profile!r}" if profile else "DATABRICKS_HOST and DATABRICKS_TOKEN (or a default profile)"
        reason = first_line(error)
        reason = reason.split(" Config: ")[0]  # the SDK appends its settings (secrets masked): not needed here
        raise OpsError(f"cannot authenticate to Databricks with {where}: {reason}") from None


@dataclass(frozen=True)
class BundleJob:
    """One job deployed by the bundle."""

    component: str
    job_id: int
    name: str
    creator: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """A job run as ops shows it. Times are UTC; ``result_state`` is None while the run is active."""

    run_id: int
    life_cycle_state: str
    result_state: str | None
    start_time: datetime | None
    end_time: datetime | None
    run_page_url: str | None


@dataclass(frozen=True)
class JobStatus:
    """A bundle job and its most recent run (None when it never ran)."""

    job: BundleJob
    last_run: RunSummary | None


@dataclass(frozen=True)
class TaskProgress:
    """One task of an active streaming run: ``attempt`` 0 is the first try, each retry adds one."""

    run_id: int
    task_key: str
    life_cycle_state: str
    attempt: int
    start_time: datetime | None


def _utc(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None


def _summary(run: BaseRun | Run) -> RunSummary:
    state = run.state
    return RunSummary(
        run_id=int(run.run_id or 0),
        life_cycle_state=state.life_cycle_state.value if state and state.life_cycle_state else "UNKNOWN",
        result_state=state.result_state.value if state and state.result_state else None,
        start_time=_utc(run.start_time),
        end_time=_utc(run.end_time),
        run_page_url=run.run_page_url,
    )


def find_bundle_jobs(client: WorkspaceClient, target: str) -> dict[str, BundleJob]:
    """The bundle's jobs for ``target``, by component.

    Each developer deploys their own copy of ``dev`` (per-user schemas, checkpoints and secret
    scope; job names prefixed ``[dev <user>]``). When a component has several jobs for the target,
    the caller's own (the job's creator is the authenticated user) is the one meant.

    Raises:
        OpsError: a component still has several jobs after that (none of them, or several, are the
            caller's); ops will not guess which one is meant.
    """
    candidates: dict[str, list[BundleJob]] = {}
    for job in client.jobs.list():
        tags = (job.settings.tags if job.settings else None) or {}
        if tags.get(PROJECT_TAG) != PROJECT or tags.get(TARGET_TAG) != target:
            continue
        component = tags.get(COMPONENT_TAG, "")
        name = (job.settings.name if job.settings else None) or ""
        candidates.setdefault(component, []).append(
            BundleJob(component=component, job_id=int(job.job_id or 0), name=name, creator=job.creator_user_name)
        )
    if any(len(jobs) > 1 for jobs in candidates.values()):
        me = client.current_user.me().user_name
        candidates = {
            component: [job for job in jobs if job.creator == me] or jobs for component, jobs in candidates.items()
        }
    found: dict[str, BundleJob] = {}
    for component, jobs in candidates.items():
        if len(jobs) > 1:
            first, second = jobs[:2]
            raise OpsError(
                f"two {component} jobs for target {target}: {first.name!r} ({first.job_id}) and "
                f"{second.name!r} ({second.job_id}), neither of them yours alone; remove one with "
                "`databricks bundle destroy`"
            )
        found[component] = jobs[0]
    return found


def bundle_job(client: WorkspaceClient, target: str, component: str) -> BundleJob:
    """The one job of ``component`` for ``target``; OpsError when the bundle is not deployed."""
    jobs = find_bundle_jobs(client, target)
    if component not in jobs:
        raise OpsError(
            f"no {component} job tagged for target {target} in this workspace; "
            f"deploy it first: databricks bundle deploy -t {target}"
        )
    return jobs[component]


def job_statuses(client: WorkspaceClient, target: str) -> list[JobStatus]:
    """Every bundle job of ``target`` with its latest run, in :data:`COMPONENTS` order."""
    jobs = find_bundle_jobs(client, target)
    order = {component: index for index, component in enumerate(COMPONENTS)}
    statuses = []
    for component in sorted(jobs, key=lambda name: (order.get(name, len(order)), name)):
        job = jobs[component]
        latest = next(iter(client.jobs.list_runs(job_id=job.job_id, limit=1)), None)
        statuses.append(JobStatus(job, _summary(latest) if latest else None))
    return statuses


def _active_runs(client: WorkspaceClient, job_id: int) -> list[BaseRun]:
    return list(itertools.islice(client.jobs.list_runs(job_id=job_id, active_only=True), 25))


def streaming_progress(client: WorkspaceClient, target: str) -> list[TaskProgress]:
    """The tasks of the streaming job's active run(s); empty when the stream is not running."""
    job = bundle_job(client, target, "streaming")
    progress = []
    for active in _active_runs(client, job.job_id):
        run = client.jobs.get_run(run_id=int(active.run_id or 0))
        for task in sorted(run.tasks or [], key=lambda task: task.task_key or ""):
            state = task.state
            progress.append(
                TaskProgress(
                    run_id=int(run.run_id or 0),
                    task_key=task.task_key or "",
                    life_cycle_state=state.life_cycle_state.value if state and state.life_cycle_state else "UNKNOWN",
                    attempt=int(task.attempt_number or 0),
                    start_time=_utc(task.start_time),
                )
            )
    return progress


POLL_SECONDS = 5.0
"""How often start and restart look for the run the continuous scheduler starts."""


def _continuous(client: WorkspaceClient, job: BundleJob) -> Continuous:
    settings = client.jobs.get(job_id=job.job_id).settings
    if settings is None or settings.continuous is None:
        raise OpsError(
            f"{job.name} is not a continuous job; deploy the current bundle first (databricks bundle deploy)"
        )
    return settings.continuous


def _set_pause(client: WorkspaceClient, job: BundleJob, current: Continuous, pause: PauseStatus) -> None:
    """Update only the trigger's pause status (``new_settings.continuous`` replaces the whole field)."""
    from databricks.sdk.service.jobs import Continuous, JobSettings

    trigger = Continuous(pause_status=pause, task_retry_mode=current.task_retry_mode)
    client.jobs.update(job_id=job.job_id, new_settings=JobSettings(continuous=trigger))


def _await_new_run(
    client: WorkspaceClient, job: BundleJob, not_in: set[int], timeout: timedelta, poll_seconds: float
) -> int:
    """The id of the first active run of ``job`` not in ``not_in``, waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        fresh = [
            run_id
            for run_id in (int(run.run_id or 0) for run in _active_runs(client, job.job_id))
            if run_id not in not_in
        ]
        if fresh:
            return fresh[0]
        if time.monotonic() >= deadline:
            raise OpsError(
                f"{job.name}: the continuous trigger started no run within {int(timeout.total_seconds())}s; "
                "see the job's page"
            )
        time.sleep(poll_seconds)


def start_streaming(
    client: WorkspaceClient,
    target: str,
    timeout: timedelta = timedelta(minutes=5),
    poll_seconds: float = POLL_SECONDS,
) -> tuple[int, bool]:
    """Unpause the streaming job's continuous trigger; return the id of its run and whether the
    trigger started it (False: a run was already active while the trigger was paused, and it
    continues as the trigger's run).

    Raises:
        OpsError: the trigger is already unpaused with a run active (use restart), or no run came.
    """
    from databricks.sdk.service.jobs import PauseStatus

    job = bundle_job(client, target, "streaming")
    trigger = _continuous(client, job)
    active = [int(run.run_id or 0) for run in _active_runs(client, job.job_id)]
    if trigger.pause_status != PauseStatus.PAUSED and active:
        ids = ", ".join(map(str, active))
        raise OpsError(f"{job.name} is already running (run {ids}); use `riskstream ops restart` to restart it")
    if trigger.pause_status == PauseStatus.PAUSED:
        _set_pause(client, job, trigger, PauseStatus.UNPAUSED)
    if active:
        return active[0], False
    return _await_new_run(client, job, set(), timeout, poll_seconds), True


def _cancel_and_wait(
    client: WorkspaceClient, job: BundleJob, timeout: timedelta, report: Callable[[str], None]
) -> list[int]:
    from databricks.sdk.errors import OperationFailed

    cancelled = []
    for run in _active_runs(client, job.job_id):
        run_id = int(run.run_id or 0)
        report(f"ops: cancelling run {run_id} of {job.name}")
        try:
            client.jobs.cancel_run(run_id=run_id).result(timeout=timeout)
        except (TimeoutError, OperationFailed) as error:
            raise OpsError(f"run {run_id} of {job.name} did not stop: {error}") from None
        cancelled.append(run_id)
    return cancelled


def stop_streaming(
    client: WorkspaceClient,
    target: str,
    timeout: timedelta = timedelta(minutes=10),
    report: Callable[[str], None] = lambda message: None,
) -> list[int]:
    """Pause the continuous trigger, then cancel the active run and wait until it has terminated.

    Returns:
        The ids of the runs cancelled (empty when nothing was running).

    Raises:
        OpsError: a run did not terminate within ``timeout`` or ended in INTERNAL_ERROR.
    """
    from databricks.sdk.service.jobs import PauseStatus

    job = bundle_job(client, target, "streaming")
    trigger = _continuous(client, job)
    if trigger.pause_status != PauseStatus.PAUSED:
        report(f"ops: pausing the continuous trigger of {job.name}")
        _set_pause(client, job, trigger, PauseStatus.PAUSED)
    return _cancel_and_wait(client, job, timeout, report)


def restart_streaming(
    client: WorkspaceClient,
    target: str,
    timeout: timedelta = timedelta(minutes=10),
    report: Callable[[str], None] = lambda message: None,
    poll_seconds: float = POLL_SECONDS,
) -> tuple[list[int], int]:
    """Cancel the active run and wait for the one the continuous trigger starts (the deployed wheel).

    Returns:
        The cancelled run ids and the new run id.

    Raises:
        OpsError: the trigger is paused (use start), a run did not stop, or no new run came.
    """
    from databricks.sdk.service.jobs import PauseStatus

    job = bundle_job(client, target, "streaming")
    if _continuous(client, job).pause_status == PauseStatus.PAUSED:
        raise OpsError(f"{job.name} is paused; start it with `riskstream ops start`")
    cancelled = _cancel_and_wait(client, job, timeout, report)
    return cancelled, _await_new_run(client, job, set(cancelled), timeout, poll_seconds)


def trigger_sync(
    client: WorkspaceClient, target: str, wait: bool = False, timeout: timedelta = timedelta(minutes=30)
) -> RunSummary:
    """Run the Snowflake sync job now; with ``wait``, block until it ends and fail unless it succeeded."""
    from databricks.sdk.errors import OperationFailed

    job = bundle_job(client, target, "sync")
    started = client.jobs.run_now(job_id=job.job_id)
    run_id = int(started.run_id)
    if not wait:
        return RunSummary(run_id, "PENDING", None, None, None, None)
    try:
        finished = _summary(started.result(timeout=timeout))
    except (TimeoutError, OperationFailed) as error:
        raise OpsError(f"sync run {run_id} did not finish: {error}") from None
    if finished.result_state != "SUCCESS":
        raise OpsError(f"sync run {run_id} ended {finished.result_state}; see {finished.run_page_url}")
    return finished


def format_time(moment: datetime | None) -> str:
    """``2025-01-31 12:00:05Z`` or ``-``."""
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def status_lines(statuses: Iterable[JobStatus]) -> list[str]:
    """One line per job: component, name, id, and its latest run's state and start."""
    lines = []
    for status in statuses:
        job, run = status.job, status.last_run
        if run is None:
            last = "never ran"
        else:
            state = run.life_cycle_state + (f"/{run.result_state}" if run.result_state else "")
            last = f"run {run.run_id} {state} started {format_time(run.start_time)}"
        lines.append(f"{job.component}: {job.name} (job {job.job_id}) {last}")
    return lines
