"""SIGKILL the hot query at each of its write points, restart it: the same tables as one clean run.

``riskstream run hot`` runs as a separate process (its own process group: the CLI and its Spark JVM)
with micro-batches of 3 records per topic. It kills itself through :data:`jobs.hot.KILL_AT_ENV` at
four points of four batches: three before Spark records the batch in the checkpoint (right after
gold.portfolio_risk, nothing else written; after the silver appends and the alerts topic, before the
book; after the book, only the checkpoint commit missing) and one in the gold snapshot thread, right
after the flush holding the batch committed its tables (:mod:`jobs.hot_flush`, the checkpoint and the
next batches running beside it). After each kill the next run resumes
the same checkpoint; the last resumes in-process with availableNow. A second, clean run of the same
topics on a fresh state reads everything in one micro-batch. The two must agree exactly: every Kafka
record in exactly one of silver.trades / silver.quarantine / silver.prices, none twice, and the same
positions, marks, P&L and risk whatever the batch boundaries and the crashes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession

from jobs import hot
from riskstream import kafka_broker
from riskstream.config import Settings, parse_settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog
from tests.conftest import load_fixture_reference, settings_dict
from tests.events import Record, publish, trade_event

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 300
KILLS = ("risk:0", "writes:1", "book:2", "flush:3")
"""Where each run is killed: ``<point>:<batch id>`` (:data:`jobs.hot.KILL_AT_ENV`)."""
INSTRUMENTS = {"US0378331005": "USD", "DE0007164600": "EUR"}
"""Two instruments of tests/fixtures/reference and their currencies."""
IDS = list(INSTRUMENTS)


@cache
def _base() -> datetime:
    """The scenario's first minute, taken when the test first asks for it: recent, so no tick is stale."""
    return (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)


def _at(seconds: int) -> str:
    return (_base() + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _trades() -> list[Record]:
    records = []
    for n in range(1, 31):
        event = trade_event(
            n,
            trade_ts=_at(n),
            portfolio_id="P-001" if n % 3 else "P-002",
            instrument_id=IDS[n % 2],
            currency=INSTRUMENTS[IDS[n % 2]],
            side="BUY" if n % 4 else "SELL",
            quantity=10 + n,
            price=180 + n,
        )
        records.append(Record(event["portfolio_id"], json.dumps(event).encode(), "1"))
    amend = trade_event(
        2,
        event_id="00000000-0000-4000-8000-000000000102",
        event_type="AMEND",
        trade_version=2,
        quantity=99,
        trade_ts=_at(40),
        portfolio_id="P-001",
        instrument_id=IDS[0],
        price=182,
    )
    cancel = trade_event(
        4,
        event_id="00000000-0000-4000-8000-000000000104",
        event_type="CANCEL",
        trade_version=1,
        trade_ts=_at(41),
        portfolio_id="P-001",
        instrument_id=IDS[0],
        price=184,
        side="SELL",
        quantity=14,
    )
    records += [Record("P-001", json.dumps(event).encode(), "1") for event in (amend, cancel)]
    records += [
        Record("P-001", b"{not json", "1"),
        Record("P-001", json.dumps(trade_event(1, trade_ts=_at(1))).encode(), "1"),
    ]
    return records


def _ticks() -> list[Record]:
    ticks = []
    for n in range(1, 9):
        tick = {
            "schema_version": 1,
            "tick_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"riskstream-hot-kill/{n}")),
            "tick_type": "PRICE",
            "instrument_id": IDS[n % 2],
            "price": 200.0 + n,
            "currency": INSTRUMENTS[IDS[n % 2]],
            "tick_ts": _at(10 + 3 * n),
            "source": "kill-test",
            "sequence": n,
        }
        ticks.append(Record(tick["instrument_id"], json.dumps(tick).encode(), "1"))
    return ticks


def _run_until_killed(conf: Path, kill_at: str) -> None:
    env = {**os.environ, "RISKSTREAM_CONF": str(conf), hot.KILL_AT_ENV: kill_at}
    log_path = conf.parent / f"run-hot-{kill_at.replace(':', '-')}.log"
    command = [sys.executable, "-m", "riskstream.cli", "run", "hot", "--trigger", "processing-time"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--interval", "1 second"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
    assert returncode == -signal.SIGKILL, f"run hot ended with {returncode}: {log_path.read_text()[-3000:]}"


def _rows(
    spark: SparkSession, catalog: Catalog, layer: str, name: str, drop: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The table's rows without ``drop``, ordered by their values other than floats (which may differ in
    the last bits between batchings: sums in another order)."""
    frame = catalog.table(layer, name).read(spark).drop(*drop)
    rows = [row.asDict() for row in frame.collect()]
    return sorted(rows, key=lambda row: repr({k: v for k, v in row.items() if not isinstance(v, float | dict)}))


def _approx(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def close(value: Any) -> Any:
        return pytest.approx(value, rel=1e-9, abs=1e-6) if isinstance(value, float | dict) and value else value

    return [{key: close(value) for key, value in row.items()} for row in rows]


def test_kills_at_every_write_point_leave_the_tables_of_one_clean_run(
    spark: SparkSession, kafka: BrokerInfo, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    suffix = uuid.uuid4().hex[:10]
    topics = {"topic": f"trades-{suffix}", "prices_topic": f"prices-{suffix}", "alerts_topic": f"alerts-{suffix}"}
    kafka_broker.create_topics(kafka.bootstrap_servers, {name: 2 for name in topics.values()})
    trades, ticks = _trades(), _ticks()
    publish(kafka.bootstrap_servers, topics["topic"], trades)
    publish(kafka.bootstrap_servers, topics["prices_topic"], ticks)

    killed_base = tmp_path / "killed"
    raw = settings_dict(
        killed_base, kafka.bootstrap_servers, kafka=topics, streams={"hot": {"max_offsets_per_trigger": 3}}
    )
    conf = tmp_path / "kill.yml"
    conf.write_text(yaml.safe_dump(raw), encoding="utf-8")
    killed = parse_settings(settings_dict(killed_base, kafka.bootstrap_servers, kafka=topics))
    clean = parse_settings(settings_dict(tmp_path / "clean", kafka.bootstrap_servers, kafka=topics))
    for settings in (killed, clean):
        load_fixture_reference(spark, Catalog(settings))

    for kill_at in KILLS:
        _run_until_killed(conf, kill_at)
    assert hot.run(spark, killed) is None
    assert hot.run(spark, clean) is None

    killed_catalog, clean_catalog = Catalog(killed), Catalog(clean)
    accepted = [row["event_id"] for row in _rows(spark, killed_catalog, "silver", "trades")]
    assert len(accepted) == len(set(accepted)) == 32  # 30 NEW, one AMEND, one CANCEL
    landed = [
        (row["source_topic"], row["source_partition"], row["source_offset"])
        for layer, name in (("silver", "trades"), ("silver", "quarantine"), ("silver", "prices"))
        for row in _rows(spark, killed_catalog, layer, name)
    ]
    assert len(landed) == len(set(landed)) == len(trades) + len(ticks)
    quarantined = sorted(row["reason_codes"][0] for row in _rows(spark, killed_catalog, "silver", "quarantine"))
    assert quarantined == ["duplicate", "malformed_json"]
    batches = sorted(row["batch_id"] for row in _rows(spark, killed_catalog, "ops", "data_quality"))
    # batches of 3 records per topic (each re-run once after its kill; the last killed run made as many as
    # it had time for), then the rest in one: one data-quality row per batch, none missing, none twice
    assert len(batches) >= 5
    assert batches == list(range(len(batches)))

    volatile = ("applied_batch_id", "processed_ts", "ingest_ts", "quarantined_ts")
    for layer, name in (("silver", "trades"), ("silver", "prices"), ("silver", "quarantine")):
        assert _rows(spark, killed_catalog, layer, name, volatile) == _rows(
            spark, clean_catalog, layer, name, volatile
        ), name
    for name in ("positions", "marks", "pnl", "portfolio_risk"):
        assert _rows(spark, killed_catalog, "gold", name, volatile) == _approx(
            _rows(spark, clean_catalog, "gold", name, volatile)
        ), name
