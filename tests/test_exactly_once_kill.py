"""SIGKILL a running job mid-stream, restart it: no row lost or doubled, in bronze and in silver.

The job runs as ``python -m riskstream.cli run <layer> --trigger processing-time`` in its own process
group (the CLI and its Spark JVM), with many small micro-batches (``max_offsets_per_trigger`` /
``max_files_per_trigger``), configured through ``RISKSTREAM_CONF``. Once it has committed at least one
micro-batch, and before it has finished, the whole group is SIGKILLed; the test then re-runs the job
in-process with availableNow and checks the tables against every Kafka offset.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import bronze, silver
from riskstream.config import Settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.reference import load_reference
from riskstream.tables import Catalog
from tests.conftest import settings_dict
from tests.events import Record, publish, trade_event

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

REPO = Path(__file__).resolve().parent.parent
VALID_EVENTS = 40
MALFORMED = 4
START_TIMEOUT_S = 240


def _records() -> list[Record]:
    import json

    records = [
        Record("P-001" if n % 2 else "P-002", json.dumps(trade_event(n, portfolio_id="P-001")).encode(), "1")
        for n in range(1, VALID_EVENTS + 1)
    ]
    records += [Record("P-003", f"garbage {n}".encode(), "1") for n in range(MALFORMED)]
    return records


def _commits(table_path: str) -> int:
    log = Path(table_path) / "_delta_log"
    return len(list(log.glob("*.json"))) if log.is_dir() else 0


def _run_and_kill(conf: Path, layer: str, table_path: str, committed_before: int) -> None:
    """Start ``run <layer>``, wait until ``table_path`` has more than ``committed_before`` commits, SIGKILL it."""
    env = {**os.environ, "RISKSTREAM_CONF": str(conf)}
    log = (conf.parent / f"run-{layer}.log").open("wb")
    command = [sys.executable, "-m", "riskstream.cli", "run", layer, "--trigger", "processing-time"]
    process = subprocess.Popen(
        [*command, "--interval", "1 second"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _commits(table_path) <= committed_before:
            assert process.poll() is None, f"run {layer} exited early with {process.returncode}"
            assert time.monotonic() < deadline, f"run {layer} committed nothing in {START_TIMEOUT_S}s"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


def test_kill_bronze_then_silver_mid_run(
    spark: SparkSession,
    kafka: BrokerInfo,
    topic: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    overrides = {
        "kafka": {"topic": topic},
        "streams": {"bronze": {"max_offsets_per_trigger": 2}, "silver": {"max_files_per_trigger": 1}},
    }
    raw = settings_dict(tmp_path, kafka.bootstrap_servers, **overrides)
    conf = tmp_path / "kill.yml"
    conf.write_text(yaml.safe_dump(raw), encoding="utf-8")
    # the in-process restarts take the rest in as few micro-batches as they like
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    catalog = Catalog(settings)
    load_reference(spark, REPO / "tests" / "fixtures" / "reference", lambda n: catalog.table("reference", n), print)
    records = _records()
    publish(kafka.bootstrap_servers, topic, records)
    total = len(records)

    bronze_table = catalog.table("bronze", "trade_events")
    _run_and_kill(conf, "bronze", str(bronze_table.path), 1)  # version 0 is the CREATE TABLE
    assert 0 < bronze_table.read(spark).count() < total, "the kill must land mid-run"
    assert bronze.run(spark, settings) is None
    offsets = bronze_table.read(spark).groupBy("partition", "offset").count()
    assert offsets.where("count > 1").count() == 0
    per_partition = {
        r.partition: r.offsets
        for r in offsets.groupBy("partition").agg(F.sort_array(F.collect_list("offset")).alias("offsets")).collect()
    }
    assert sum(len(v) for v in per_partition.values()) == total
    assert all(v == list(range(len(v))) for v in per_partition.values())

    trades, quarantine = catalog.table("silver", "trades"), catalog.table("silver", "quarantine")
    _run_and_kill(conf, "silver", str(trades.path), 1)
    landed_before_restart = trades.read(spark).count() + quarantine.read(spark).count()
    assert 0 < landed_before_restart < total, "the kill must land mid-run"
    assert silver.run(spark, settings) is None

    trade_rows = trades.read(spark)
    assert trade_rows.select("event_id").distinct().count() == trade_rows.count() == VALID_EVENTS
    landed = trade_rows.select("source_partition", "source_offset").unionAll(
        quarantine.read(spark).select("source_partition", "source_offset")
    )
    assert sorted(tuple(r) for r in landed.collect()) == sorted(
        (p, o) for p, offs in per_partition.items() for o in offs
    )
    assert sorted(r.reason_codes[0] for r in quarantine.read(spark).collect()) == ["malformed_json"] * MALFORMED


def test_ctrl_c_stops_a_running_job_cleanly(
    spark: SparkSession,
    kafka: BrokerInfo,
    topic: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    """SIGINT (Ctrl-C) to ``riskstream run bronze`` mid-stream: it stops its query with
    ``StreamingQuery.stop()`` (pyspark's own SIGINT handler, which cancels all jobs and fails the
    query, does not run), exits 0, and a re-run completes bronze exactly."""
    raw = settings_dict(
        tmp_path, kafka.bootstrap_servers, kafka={"topic": topic}, streams={"bronze": {"max_offsets_per_trigger": 2}}
    )
    conf = tmp_path / "ctrl-c.yml"
    conf.write_text(yaml.safe_dump(raw), encoding="utf-8")
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    records = _records()
    publish(kafka.bootstrap_servers, topic, records)
    bronze_table = Catalog(settings).table("bronze", "trade_events")

    env = {**os.environ, "RISKSTREAM_CONF": str(conf)}
    command = [sys.executable, "-m", "riskstream.cli", "run", "bronze", "--trigger", "processing-time"]
    process = subprocess.Popen(
        [*command, "--interval", "1 second"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _commits(str(bronze_table.path)) <= 2:
            assert process.poll() is None, f"run bronze exited early with {process.returncode}"
            assert time.monotonic() < deadline, f"run bronze committed nothing in {START_TIMEOUT_S}s"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith("run:")]
    assert lines[-2:] == ["run: stopping queries ...", "run: stopped"]
    assert "cancellation of all jobs" not in text
    assert 0 < bronze_table.read(spark).count() < len(records), "the Ctrl-C must land mid-run"

    assert bronze.run(spark, settings) is None
    offsets = bronze_table.read(spark).groupBy("partition", "offset").count()
    assert offsets.where("count > 1").count() == 0
    assert offsets.count() == len(records)
