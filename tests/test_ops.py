"""`riskstream ops` against a local HTTP server that answers the Jobs 2.2 REST calls databricks-sdk makes.

Databricks is not reachable here. The SDK is not patched: a real WorkspaceClient (PAT auth from
DATABRICKS_HOST / DATABRICKS_TOKEN) talks HTTP to a ThreadingHTTPServer on 127.0.0.1 with a free
port, which keeps a small in-memory workspace (jobs, runs) and records every request, so each
test asserts exactly which calls were made and in what order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from riskstream import ops
from riskstream.cli import app
from riskstream.errors import ConfigError, OpsError

TOKEN = "dapi-test-token-never-printed"
STARTED_MS = 1_735_732_800_000  # 2025-01-01T12:00:00Z


def _job(
    job_id: int, name: str, component: str, target: str = "dev", creator: str = "alice@example.com"
) -> dict[str, Any]:
    tags = {"project": "riskstream", "riskstream_target": target, "riskstream_component": component}
    return {"job_id": job_id, "creator_user_name": creator, "settings": {"name": name, "tags": tags}}


@dataclass
class FakeWorkspace:
    """Jobs and runs as the Jobs API would return them; run-now and cancel change them."""

    jobs: list[dict[str, Any]]
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    polls_before_terminated: int = 1
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    next_run_id: int = 900
    _cancel_polls: dict[int, int] = field(default_factory=dict)

    def handle(self, method: str, path: str, query: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append((method, path, query or body))
        if (method, path) == ("GET", "/api/2.2/jobs/get"):
            return 200, self._job(int(query["job_id"]))
        if (method, path) == ("POST", "/api/2.2/jobs/update"):
            job = self._job(int(body["job_id"]))
            job["settings"].update(body["new_settings"])
            self._schedule(job)
            return 200, {}
        if (method, path) == ("GET", "/api/2.2/jobs/list"):
            return 200, {"jobs": self.jobs, "has_more": False}
        if (method, path) == ("GET", "/api/2.0/preview/scim/v2/Me"):
            return 200, {"id": "7", "userName": "alice@example.com"}
        if (method, path) == ("GET", "/api/2.2/jobs/runs/list"):
            runs = self.runs.get(int(query["job_id"]), [])
            if query.get("active_only") == "true":
                runs = [
                    run for run in runs if run["state"]["life_cycle_state"] in ("PENDING", "RUNNING", "TERMINATING")
                ]
            return 200, {"runs": runs[: int(query.get("limit", 20))], "has_more": False}
        if (method, path) == ("GET", "/api/2.2/jobs/runs/get"):
            run = self._run(int(query["run_id"]))
            if run is None:
                return 404, {
                    "error_code": "RESOURCE_DOES_NOT_EXIST",
                    "message": f"Run {query['run_id']} does not exist.",
                }
            pending = self._cancel_polls.get(run["run_id"])
            if pending is not None:
                if pending <= 0:
                    run["state"] = {"life_cycle_state": "TERMINATED", "result_state": "CANCELED"}
                    run["end_time"] = STARTED_MS + 60_000
                    del self._cancel_polls[run["run_id"]]
                    self._schedule(self._job(run["job_id"]))
                else:
                    self._cancel_polls[run["run_id"]] = pending - 1
            return 200, run
        if (method, path) == ("POST", "/api/2.2/jobs/runs/cancel"):
            run = self._run(int(body["run_id"]))
            assert run is not None
            run["state"] = {"life_cycle_state": "TERMINATING"}
            self._cancel_polls[run["run_id"]] = self.polls_before_terminated
            return 200, {}
        if (method, path) == ("POST", "/api/2.2/jobs/run-now"):
            self.next_run_id += 1
            run = {
                "run_id": self.next_run_id,
                "job_id": body["job_id"],
                "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"},
                "start_time": STARTED_MS,
                "end_time": STARTED_MS + 30_000,
                "run_page_url": f"https://workspace/#job/{body['job_id']}/run/{self.next_run_id}",
            }
            self.runs.setdefault(int(body["job_id"]), []).insert(0, run)
            return 200, {"run_id": self.next_run_id, "number_in_job": self.next_run_id}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for '{method} {path}'"}

    def _job(self, job_id: int) -> dict[str, Any]:
        return next(job for job in self.jobs if job["job_id"] == job_id)

    def _schedule(self, job: dict[str, Any]) -> None:
        """The continuous scheduler: an unpaused continuous job with no active run gets a new run."""
        continuous = job["settings"].get("continuous")
        if not continuous or continuous.get("pause_status") == "PAUSED":
            return
        runs = self.runs.setdefault(job["job_id"], [])
        if any(run["state"]["life_cycle_state"] in ("PENDING", "RUNNING", "TERMINATING") for run in runs):
            return
        self.next_run_id += 1
        state = {"life_cycle_state": "RUNNING"}
        runs.insert(0, {"run_id": self.next_run_id, "job_id": job["job_id"], "state": state, "start_time": STARTED_MS})

    def _run(self, run_id: int) -> dict[str, Any] | None:
        return next((run for runs in self.runs.values() for run in runs if run["run_id"] == run_id), None)


def _handler(workspace: FakeWorkspace, seen_tokens: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            seen_tokens.append(f"{url.path} {self.headers.get('Authorization', '(none)')}")
            status, payload = workspace.handle(method, url.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@dataclass
class Server:
    workspace: FakeWorkspace
    tokens: list[str]
    url: str

    @property
    def calls(self) -> list[tuple[str, str, dict[str, Any]]]:
        return self.workspace.requests


STREAMING, SYNC, REFERENCE, MAINTENANCE = 101, 102, 103, 104


def _dev_workspace() -> FakeWorkspace:
    return FakeWorkspace(
        jobs=[
            _job(MAINTENANCE, "[dev alice] riskstream-table-maintenance-dev", "maintenance"),
            _job(SYNC, "[dev alice] riskstream-snowflake-sync-dev", "sync"),
            {
                **_job(STREAMING, "[dev alice] riskstream-streaming-dev", "streaming"),
                "settings": {
                    "name": "[dev alice] riskstream-streaming-dev",
                    "tags": _job(STREAMING, "", "streaming")["settings"]["tags"],
                    "continuous": {"pause_status": "UNPAUSED", "task_retry_mode": "ON_FAILURE"},
                },
            },
            _job(REFERENCE, "[dev alice] riskstream-reference-refresh-dev", "reference"),
            _job(201, "riskstream-streaming-prod", "streaming", target="prod"),
            {"job_id": 300, "settings": {"name": "someone else's job"}},
        ],
        runs={
            STREAMING: [
                {
                    "run_id": 501,
                    "job_id": STREAMING,
                    "state": {"life_cycle_state": "RUNNING"},
                    "start_time": STARTED_MS,
                    "tasks": [
                        {"task_key": "silver", "state": {"life_cycle_state": "RUNNING"}, "attempt_number": 2},
                        {
                            "task_key": "bronze",
                            "state": {"life_cycle_state": "RUNNING"},
                            "attempt_number": 0,
                            "start_time": STARTED_MS,
                        },
                        {"task_key": "gold", "state": {"life_cycle_state": "PENDING"}, "attempt_number": 0},
                    ],
                }
            ],
            SYNC: [
                {
                    "run_id": 502,
                    "job_id": SYNC,
                    "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED"},
                    "start_time": STARTED_MS,
                    "end_time": STARTED_MS + 45_000,
                }
            ],
        },
    )


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The fake workspace on 127.0.0.1 (free port); shut down when the test ends."""
    workspace = _dev_workspace()
    tokens: list[str] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(workspace, tokens))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    for name in (
        "DATABRICKS_CONFIG_PROFILE",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_AUTH_TYPE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    try:
        yield Server(workspace, tokens, url)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _ops(*arguments: str) -> Any:
    result = CliRunner().invoke(app, ["ops", *arguments])
    assert TOKEN not in result.output
    return result


# The SDK asks for the host's metadata when a client is built; a 404 (as here) means "none".
METADATA = ("GET", "/.well-known/databricks-config", {})
LIST = ("GET", "/api/2.2/jobs/list", {})


def _active(job_id: int) -> tuple[str, str, dict[str, Any]]:
    return ("GET", "/api/2.2/jobs/runs/list", {"active_only": "true", "job_id": str(job_id)})


def test_status_lists_the_targets_jobs_with_their_last_run(server: Server) -> None:
    result = _ops("status", "--target", "dev")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "streaming: [dev alice] riskstream-streaming-dev (job 101) run 501 RUNNING started 2025-01-01 12:00:00Z",
        "sync: [dev alice] riskstream-snowflake-sync-dev (job 102) run 502 TERMINATED/FAILED "
        "started 2025-01-01 12:00:00Z",
        "reference: [dev alice] riskstream-reference-refresh-dev (job 103) never ran",
        "maintenance: [dev alice] riskstream-table-maintenance-dev (job 104) never ran",
    ]
    assert server.calls == [
        METADATA,
        LIST,
        *(("GET", "/api/2.2/jobs/runs/list", {"job_id": str(job), "limit": "1"}) for job in (101, 102, 103, 104)),
    ]
    assert server.tokens == [
        "/.well-known/databricks-config (none)",
        *[f"/api/2.2/jobs/{path} Bearer {TOKEN}" for path in ("list", *["runs/list"] * 4)],
    ]


def test_progress_shows_each_streaming_task(server: Server) -> None:
    result = _ops("progress", "--target", "dev")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "run 501 bronze: RUNNING, attempt 0, started 2025-01-01 12:00:00Z",
        "run 501 gold: PENDING, attempt 0, started -",
        "run 501 silver: RUNNING, attempt 2, started -",
    ]
    assert server.calls == [METADATA, LIST, _active(STREAMING), ("GET", "/api/2.2/jobs/runs/get", {"run_id": "501"})]


GET_STREAMING = ("GET", "/api/2.2/jobs/get", {"job_id": str(STREAMING)})


def _pause(status: str) -> tuple[str, str, dict[str, Any]]:
    trigger = {"pause_status": status, "task_retry_mode": "ON_FAILURE"}
    return ("POST", "/api/2.2/jobs/update", {"job_id": STREAMING, "new_settings": {"continuous": trigger}})


def _paused_and_idle(server: Server) -> None:
    streaming = next(job for job in server.workspace.jobs if job["job_id"] == STREAMING)
    streaming["settings"]["continuous"]["pause_status"] = "PAUSED"
    server.workspace.runs[STREAMING][0]["state"] = {"life_cycle_state": "TERMINATED", "result_state": "CANCELED"}


def test_start_refuses_while_a_run_is_active(server: Server) -> None:
    result = _ops("start", "--target", "dev")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    assert str(result.exception) == (
        "[dev alice] riskstream-streaming-dev is already running (run 501); use `riskstream ops restart` to restart it"
    )
    assert server.calls == [METADATA, LIST, GET_STREAMING, _active(STREAMING)]


def test_start_unpauses_the_continuous_trigger_and_reports_its_run(server: Server) -> None:
    _paused_and_idle(server)
    result = _ops("start", "--target", "dev")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["ops: streaming job of dev started, run 901"]
    assert server.calls == [METADATA, LIST, GET_STREAMING, _active(STREAMING), _pause("UNPAUSED"), _active(STREAMING)]


def test_start_of_a_paused_trigger_with_an_active_run_reports_that_run(server: Server) -> None:
    """A run started by hand while the trigger was paused: start unpauses and names it, not "started"."""
    streaming = next(job for job in server.workspace.jobs if job["job_id"] == STREAMING)
    streaming["settings"]["continuous"]["pause_status"] = "PAUSED"
    result = _ops("start", "--target", "dev")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ops: continuous trigger of dev unpaused; run 501 was already active and continues"
    ]
    assert server.calls == [METADATA, LIST, GET_STREAMING, _active(STREAMING), _pause("UNPAUSED")]


def test_stop_pauses_the_trigger_then_cancels_and_waits(server: Server) -> None:
    result = _ops("stop", "--target", "dev", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ops: pausing the continuous trigger of [dev alice] riskstream-streaming-dev",
        "ops: cancelling run 501 of [dev alice] riskstream-streaming-dev",
        "ops: stopped run 501",
    ]
    get_501 = ("GET", "/api/2.2/jobs/runs/get", {"run_id": "501"})
    assert server.calls == [
        METADATA,
        LIST,
        GET_STREAMING,
        _pause("PAUSED"),
        _active(STREAMING),
        ("POST", "/api/2.2/jobs/runs/cancel", {"run_id": 501}),
        get_501,  # TERMINATING: the SDK waits and polls again
        get_501,  # TERMINATED; the paused scheduler starts nothing
    ]
    assert [run["run_id"] for run in server.workspace.runs[STREAMING]] == [501]


def test_restart_cancels_and_waits_for_the_schedulers_next_run(server: Server) -> None:
    result = _ops("restart", "--target", "dev", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ops: cancelling run 501 of [dev alice] riskstream-streaming-dev",
        "ops: streaming job of dev stopped run 501; the continuous trigger started run 901",
    ]
    get_501 = ("GET", "/api/2.2/jobs/runs/get", {"run_id": "501"})
    assert server.calls == [
        METADATA,
        LIST,
        GET_STREAMING,
        _active(STREAMING),
        ("POST", "/api/2.2/jobs/runs/cancel", {"run_id": 501}),
        get_501,  # TERMINATING: the SDK waits and polls again
        get_501,  # TERMINATED: the scheduler starts run 901
        _active(STREAMING),
    ]


def test_restart_of_a_paused_stream_is_refused(server: Server) -> None:
    _paused_and_idle(server)
    result = _ops("restart", "--target", "dev")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    assert str(result.exception) == (
        "[dev alice] riskstream-streaming-dev is paused; start it with `riskstream ops start`"
    )
    assert server.calls == [METADATA, LIST, GET_STREAMING]


def test_stop_when_paused_and_idle_changes_nothing(server: Server) -> None:
    _paused_and_idle(server)
    result = _ops("stop", "--target", "dev")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["ops: the streaming job of dev was not running"]
    assert server.calls == [METADATA, LIST, GET_STREAMING, _active(STREAMING)]


def test_a_streaming_job_deployed_before_continuous_is_named(server: Server) -> None:
    streaming = next(job for job in server.workspace.jobs if job["job_id"] == STREAMING)
    del streaming["settings"]["continuous"]
    result = _ops("stop", "--target", "dev")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    assert str(result.exception) == (
        "[dev alice] riskstream-streaming-dev is not a continuous job; deploy the current bundle first "
        "(databricks bundle deploy)"
    )


def test_sync_triggers_the_sync_job_and_waits(server: Server) -> None:
    result = _ops("sync", "--target", "dev", "--wait")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["ops: sync run 901 SUCCESS at 2025-01-01 12:00:30Z"]
    assert server.calls == [
        METADATA,
        LIST,
        ("POST", "/api/2.2/jobs/run-now", {"job_id": SYNC}),
        ("GET", "/api/2.2/jobs/runs/get", {"run_id": "901"}),
    ]


def test_a_target_that_is_not_deployed_says_how_to_deploy(server: Server) -> None:
    server.workspace.jobs = [job for job in server.workspace.jobs if job["job_id"] != 201]
    result = _ops("start", "--target", "prod")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    assert str(result.exception) == (
        "no streaming job tagged for target prod in this workspace; deploy it first: databricks bundle deploy -t prod"
    )
    assert server.calls == [METADATA, LIST]


ME = ("GET", "/api/2.0/preview/scim/v2/Me", {})


def test_another_developers_dev_deployment_is_not_mine(server: Server) -> None:
    """bob's dev copy of the bundle sits next to alice's; alice (the token's user) gets her own jobs."""
    server.workspace.jobs.append(
        _job(105, "[dev bob] riskstream-snowflake-sync-dev", "sync", creator="bob@example.com")
    )
    result = _ops("sync", "--target", "dev")
    assert result.exit_code == 0, result.output
    assert server.calls == [METADATA, LIST, ME, ("POST", "/api/2.2/jobs/run-now", {"job_id": SYNC})]


def test_two_copies_of_a_job_are_refused(server: Server) -> None:
    server.workspace.jobs.append(_job(105, "[dev alice] riskstream-snowflake-sync-dev", "sync"))
    result = _ops("sync", "--target", "dev")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    assert str(result.exception) == (
        "two sync jobs for target dev: '[dev alice] riskstream-snowflake-sync-dev' (102) and "
        "'[dev alice] riskstream-snowflake-sync-dev' (105), neither of them yours alone; remove one with "
        "`databricks bundle destroy`"
    )


def test_ops_refuses_the_local_target(server: Server) -> None:
    result = _ops("status", "--target", "local")
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2
    assert str(result.exception) == "ops works on a deployed target: --target dev or --target prod"
    assert server.calls == []


def test_an_unreachable_workspace_fails_in_seconds_saying_it_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the port: each retry is one line, and the command gives up after the limit."""
    import socket

    with socket.socket() as probe:  # a free port, closed again: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    monkeypatch.setattr(ops, "RETRY_TIMEOUT_SECONDS", 3)
    result = _ops("status", "--target", "dev")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    host = f"http://127.0.0.1:{port}"
    assert str(result.exception) == (
        f"the workspace at {host} did not answer within 3 s (ConnectionError); check DATABRICKS_HOST (or the "
        "profile) and the network"
    )
    retries = result.output.splitlines()
    assert retries and all(line.startswith(f"ops: {host} did not answer (") for line in retries), retries
    assert all(line.endswith("; retrying for up to 3 s") for line in retries), retries


def test_missing_credentials_keep_the_sdks_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.databrickscfg
    result = _ops("status", "--target", "dev")
    assert isinstance(result.exception, OpsError) and result.exception.exit_code == 9
    assert str(result.exception) == (
        "cannot authenticate to Databricks with DATABRICKS_HOST and DATABRICKS_TOKEN (or a default profile): "
        "default auth: cannot configure default credentials, please check "
        "https://docs.databricks.com/en/dev-tools/auth.html#databricks-client-unified-authentication to configure "
        "credentials for your preferred authentication method."
    )
