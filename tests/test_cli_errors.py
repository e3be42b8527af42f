"""One error path: a command whose inputs are missing says what to run, in one line, before Spark
starts and without creating anything; an unexpected failure is one line too, its traceback only
with ``riskstream -v``.

Each case runs the real console entry point (:func:`riskstream.cli.main`) in-process on an empty
state folder and asserts the exact message, the exit code and that the folder is still empty.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from riskstream import cli, logs
from riskstream.prerequisites import REFERENCE_HINT


@pytest.fixture
def empty_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(state))
    monkeypatch.delenv("RISKSTREAM_CONF", raising=False)
    return state


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    """Run the console script with ``arguments``: its exit code and what it printed (stdout + stderr)."""
    monkeypatch.setattr(sys, "argv", ["riskstream", *arguments])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    captured = capsys.readouterr()
    code = stopped.value.code
    return (code if isinstance(code, int) else 1), captured.out + captured.err


def _files(state: Path) -> list[str]:
    return sorted(str(path.relative_to(state)) for path in state.rglob("*"))


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            "silver",
            "run silver: bronze.trade_events does not exist yet ({state}/delta/bronze/trade_events); run "
            "`riskstream run bronze` first (after `riskstream produce`). Nothing was created",
        ),
        (
            "gold",
            "run gold: silver.trades does not exist yet ({state}/delta/silver/trades); run `riskstream run silver` "
            "first. Nothing was created",
        ),
    ],
)
def test_a_layer_without_its_input_says_what_to_run_first(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], layer: str, message: str
) -> None:
    code, output = _main(monkeypatch, capsys, "run", layer)
    assert (code, output) == (6, f"error: {message.format(state=empty_state)}\n")
    assert _files(empty_state) == []


def test_silver_without_reference_data_says_how_to_load_it(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (empty_state / "delta" / "bronze" / "trade_events" / "_delta_log").mkdir(parents=True)
    before = _files(empty_state)
    code, output = _main(monkeypatch, capsys, "run", "silver")
    path = empty_state / "delta" / "reference" / "portfolios"
    assert (code, output) == (
        6,
        f"error: run silver: reference.portfolios does not exist yet ({path}); {REFERENCE_HINT}. Nothing was created\n",
    )
    assert _files(empty_state) == before


@pytest.mark.parametrize("layer", ["bronze", "all"])
def test_bronze_without_a_broker_says_how_to_start_one(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], layer: str
) -> None:
    code, output = _main(monkeypatch, capsys, "run", layer)
    assert (code, output) == (4, "error: no local Kafka broker is running: start it with `riskstream kafka start`\n")
    assert _files(empty_state) == []


def test_version(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert _main(monkeypatch, capsys, "--version") == (0, f"riskstream {version('riskstream')}\n")


class _JavaError:
    """What py4j hands over for a JVM exception: its class and message."""

    def getClass(self) -> Any:
        return type("Class", (), {"getName": lambda self: "org.apache.spark.sql.delta.DeltaAnalysisException"})()

    def getMessage(self) -> str:
        return "[DELTA_SCHEMA_NOT_SET] Table schema is not set.\n\tat org.apache.spark..."


class _SparkFailure(Exception):
    java_exception = _JavaError()


def test_an_unexpected_failure_is_one_line_and_verbose_shows_the_traceback(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise _SparkFailure("py4j text nobody should read")

    monkeypatch.setattr("riskstream.commands.kafka.kafka_broker.running_broker", fail)
    code, output = _main(monkeypatch, capsys, "kafka", "status")
    assert (code, output) == (
        1,
        "error: DeltaAnalysisException: [DELTA_SCHEMA_NOT_SET] Table schema is not set. "
        "(unexpected; `riskstream -v ...` shows the traceback)\n",
    )
    monkeypatch.setattr(sys, "argv", ["riskstream", "-v", "kafka", "status"])
    with pytest.raises(_SparkFailure):
        cli.main()
    logs.configure(False)


def test_an_exception_without_a_message_is_named() -> None:
    assert cli.describe_failure(TimeoutError()) == "TimeoutError"
    assert cli.describe_failure(ValueError("bad value\nsecond line")) == "ValueError: bad value"


@pytest.mark.spark
def test_a_spark_command_prints_its_own_lines_and_no_jvm_warnings(tmp_path: Path) -> None:
    """`riskstream reference load` starts a local Spark session: stdout is the command's report and
    stderr holds nothing from Spark or log4j (the JDK's own notice about the incubator module Spark
    loads is the one line the JVM prints before any configuration applies)."""
    import os
    import subprocess

    environment = {**os.environ, "RISKSTREAM_STATE_DIR": str(tmp_path / "state")}
    environment.pop("RISKSTREAM_CONF", None)
    command = [sys.executable, "-m", "riskstream.cli"]
    reference = tmp_path / "reference"
    subprocess.run([*command, "simulate", "reference", "--out", str(reference)], env=environment, check=True)
    loaded = subprocess.run(
        [*command, "reference", "load", "--source", str(reference)], env=environment, capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
    delta = tmp_path / "state" / "delta" / "reference"
    assert loaded.stdout.splitlines() == [
        f"reference load: reading {reference}",
        f"reference load: {delta}/portfolios <- 10 rows",
        f"reference load: {delta}/instruments <- 40 rows",
        f"reference load: {delta}/fx_rates <- 7 rows",
        f"reference load: {delta}/correlations <- 858 rows",
        # 40 instruments and 6 currencies, 521 closes each
        f"reference load: {delta}/price_history <- 23966 rows",
        "reference load: done, 24881 rows in 5 tables",
    ]
    jdk_notice = "WARNING: Using incubator modules: jdk.incubator.vector"
    assert [line for line in loaded.stderr.splitlines() if line != jdk_notice] == []


def test_the_demo_takes_no_target(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo runs the local target only, so it has no --target to accept and then refuse."""
    code, output = _main(monkeypatch, capsys, "demo", "--target", "dev")
    assert code == 2
    assert "No such option: --target" in output


@pytest.mark.parametrize(
    ("command", "switches"),
    [
        (["demo"], ["--fresh", "--follow", "--sync"]),
        (["sync"], ["--verify"]),
        (["snowflake", "ddl"], ["--apply"]),
        (["ops", "sync"], ["--wait"]),
        ([], ["--verbose", "--version", "--help"]),
        (["run"], ["--help"]),
        (["ops", "status"], ["--help"]),
    ],
)
def test_switches_show_no_value_in_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str], switches: list[str]
) -> None:
    code, output = _main(monkeypatch, capsys, *command, "--help")
    assert code == 0
    lines = {switch: next(line for line in output.splitlines() if f" {switch} " in line) for switch in switches}
    assert {switch: "<bool>" in line for switch, line in lines.items()} == dict.fromkeys(switches, False)


def test_an_unknown_conf_profile_names_the_choices(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _main(monkeypatch, capsys, "run", "silver", "--target", "staging", "--conf", "staging")
    assert code == 2
    assert "'staging' is not a conf profile; choose one of dev, local, prod" in " ".join(
        line.strip(" │") for line in output.splitlines()
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["sync"],
            "sync: no gold table exists yet (under {state}/delta/gold); run `riskstream run gold` first. "
            "Nothing was created",
        ),
        (
            ["sync", "--table", "positions"],
            "sync: gold.positions does not exist yet ({state}/delta/gold/positions); run `riskstream run gold` "
            "first. Nothing was created",
        ),
    ],
)
def test_sync_without_gold_tables_says_what_to_run(
    empty_state: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    code, output = _main(monkeypatch, capsys, *arguments)
    assert (code, output) == (7, f"error: {message.format(state=empty_state)}\n")
    assert _files(empty_state) == []


def test_maintain_without_tables_has_nothing_to_do(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _main(monkeypatch, capsys, "maintain")
    assert (code, output) == (
        0,
        f"maintain: no bronze, silver or gold table under {empty_state}/delta yet; nothing to do\n",
    )
    assert _files(empty_state) == []


def test_rebuild_with_nothing_built_moves_nothing(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _main(monkeypatch, capsys, "rebuild", "silver")
    assert (code, output) == (
        6,
        f"error: rebuild silver: no silver or gold table or checkpoint exists under {empty_state}/delta yet, so "
        "there is nothing to rebuild; `riskstream run silver` builds silver from bronze. Nothing was moved\n",
    )
    assert _files(empty_state) == []


def test_reference_load_without_files_says_how_to_write_them(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = empty_state.parent / "reference"
    code, output = _main(monkeypatch, capsys, "reference", "load", "--source", str(source))
    assert (code, output) == (
        2,
        f"reference load: reading {source}\nerror: {source}/portfolios.csv: reference file not found (write a set "
        f"with `riskstream simulate reference --out {source}` and load it with `riskstream reference load "
        f"--source {source}`)\n",
    )
    assert _files(empty_state) == []
