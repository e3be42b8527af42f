"""The silver job end to end: real Kafka broker -> bronze job -> silver job (Delta), exact table content.

``tests/fixtures/silver/scenario_events.jsonl`` holds a mixed stream in two parts: v1 and v2 events,
a resent event (duplicate), a malformed record, an unknown instrument, an AMEND for an unknown trade,
AMEND and CANCEL sequences, a v1 event carrying the v2-only ``counterparty_id`` (null in silver), and,
in part 2, an event older than the watermark (applied: lateness flags, it never rejects) and an
AMEND after a CANCEL. Each part is published, then bronze and silver run with availableNow; the expected
rows are in ``scenario_expected.json``. A further silver run adds nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import bronze, silver
from riskstream.config import Settings, TriggerConfig
from riskstream.kafka_broker import BrokerInfo
from riskstream.reference import read_reference, write_reference
from riskstream.tables import Catalog
from tests.conftest import load_fixture_reference
from tests.events import Record, load_records, publish, trade_event
from transformations.schemas import SILVER_TRADES_DDL

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

FIXTURES = Path(__file__).parent / "fixtures"
TRADE_COLUMNS = (
    "event_id string, event_type string, trade_id string, trade_version int, schema_version int, "
    "counterparty_id string, previous_trade_version int, signed_quantity decimal(28,8), "
    "delta_quantity decimal(28,8), delta_notional_base double, delta_cost_base double, desk string, "
    "base_currency string, fx_rate_to_base double"
)
QUARANTINE_COLUMNS = "event_id string, trade_id string, reason_codes array<string>, raw_text string"


def _expected_trades(spark: SparkSession, rows: list[list[object]]):  # type: ignore[no-untyped-def]
    typed = [tuple(Decimal(v) if i in (7, 8) else v for i, v in enumerate(row)) for row in rows]
    return spark.createDataFrame(typed, TRADE_COLUMNS)


def _run_both(spark: SparkSession, settings: Settings) -> None:
    assert bronze.run(spark, settings) is None
    assert silver.run(spark, settings) is None


def test_scenario_exact_trades_and_quarantine(
    spark: SparkSession, kafka: BrokerInfo, topic: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    catalog = Catalog(settings)
    load_fixture_reference(spark, catalog)
    parts = load_records(FIXTURES / "silver" / "scenario_events.jsonl")
    expected = json.loads((FIXTURES / "silver" / "scenario_expected.json").read_text(encoding="utf-8"))

    publish(kafka.bootstrap_servers, topic, parts[1])
    _run_both(spark, settings)
    publish(kafka.bootstrap_servers, topic, parts[2])
    _run_both(spark, settings)

    trades_table, quarantine_table = catalog.table("silver", "trades"), catalog.table("silver", "quarantine")
    trade_names = [part.split()[0] for part in TRADE_COLUMNS.split(", ")]
    assert_df_equality(
        trades_table.read(spark).select(*trade_names).orderBy("event_id"),
        _expected_trades(spark, expected["trades"]).orderBy("event_id"),
        ignore_nullable=True,
    )
    quarantine_names = [part.split()[0] for part in QUARANTINE_COLUMNS.split(", ")]
    actual_quarantine = quarantine_table.read(spark).select(
        *quarantine_names[:3], F.when(F.col("event_id").isNull(), F.col("raw_text")).alias("raw_text")
    )
    assert_df_equality(
        actual_quarantine.orderBy("event_id", "reason_codes"),
        spark.createDataFrame([tuple(row) for row in expected["quarantine"]], QUARANTINE_COLUMNS).orderBy(
            "event_id", "reason_codes"
        ),
        ignore_nullable=True,
    )

    # every bronze row is in exactly one of the two tables
    bronze_keys = catalog.table("bronze", "trade_events").read(spark).select("partition", "offset")
    silver_keys = (
        trades_table.read(spark)
        .select(F.col("source_partition").alias("partition"), F.col("source_offset").alias("offset"))
        .unionAll(
            quarantine_table.read(spark).select(
                F.col("source_partition").alias("partition"), F.col("source_offset").alias("offset")
            )
        )
    )
    assert_df_equality(silver_keys.orderBy("partition", "offset"), bronze_keys.orderBy("partition", "offset"))

    # ops.data_quality: one row per batch that had rows, adding up to exactly the two tables
    quality = catalog.table("ops", "data_quality").read(spark).orderBy("batch_id").collect()
    # Each run is a data batch then a no-data batch (the watermark moved, so event-time timeouts
    # are checked); the no-data batches 1 and 3 have no rows, so no quality row.
    assert [(row.batch_id, row.rows_in) for row in quality] == [(0, len(parts[1])), (2, len(parts[2]))]
    assert all(row.rows_in == row.accepted + row.quarantined for row in quality)
    assert sum(row.rows_in for row in quality) == bronze_keys.count()
    assert sum(row.accepted for row in quality) == len(expected["trades"])
    assert sum(row.quarantined for row in quality) == len(expected["quarantine"])
    reasons_in_quality: Counter[str] = Counter()
    for row in quality:
        reasons_in_quality.update(row.quarantined_by_reason)
    assert reasons_in_quality == Counter(code for row in expected["quarantine"] for code in row[2])

    # a second availableNow run finds nothing new and commits nothing
    versions = {t.name: spark.sql(f"DESCRIBE HISTORY {t.sql_name}").count() for t in (trades_table, quarantine_table)}
    assert silver.run(spark, settings) is None
    assert trades_table.read(spark).count() == len(expected["trades"])
    assert quarantine_table.read(spark).count() == len(expected["quarantine"])
    assert {t.name: spark.sql(f"DESCRIBE HISTORY {t.sql_name}").count() for t in (trades_table, quarantine_table)} == (
        versions
    )


def test_replayed_batch_is_written_once(spark: SparkSession, make_settings: Callable[..., Settings]) -> None:
    """The same (app id, batch id) appended twice, as after a crash between write and commit: one copy.

    Found by the commit marker, also behind other writers' commits and an OPTIMIZE.
    """
    table = Catalog(make_settings()).table("silver", "quarantine")
    table.create_if_missing(spark, "event_id string")
    rows = spark.createDataFrame([("e1",), ("e2",)], "event_id string")
    app = "silver_trades:q1:quarantine"
    assert silver.append_once(rows, table, app, 0) is True
    assert silver.append_once(rows, table, app, 0) is False
    assert silver.append_once(rows.limit(1), table, app, 1) is True
    # another writer's commit and a compaction come between: the marker behind them still counts
    assert silver.append_once(rows.limit(1), table, "silver_trades:q2:quarantine", 0) is True
    spark.sql(f"OPTIMIZE {table.sql_name}")
    assert silver.last_batch_written(spark, table, app) == 1
    assert silver.last_batch_written(spark, table, "silver_trades:q3:quarantine") is None
    assert silver.append_once(rows, table, app, 1) is False
    assert sorted(row.event_id for row in table.read(spark).collect()) == ["e1", "e1", "e1", "e2"]
    latest = spark.sql(f"DESCRIBE HISTORY {table.sql_name}").where("operation = 'WRITE'").orderBy("version")
    assert [row.userMetadata for row in latest.collect()] == [
        "silver_trades:q1:quarantine#batch=0",
        "silver_trades:q1:quarantine#batch=1",
        "silver_trades:q2:quarantine#batch=0",
    ]


def test_silver_tables_keep_statistics_on_the_filter_columns(
    spark: SparkSession, make_settings: Callable[..., Settings]
) -> None:
    """A silver.trades made by an earlier release gets the stats columns once; a second start changes nothing."""
    catalog = Catalog(make_settings())
    trades = catalog.table("silver", "trades")
    trades.create_if_missing(spark, SILVER_TRADES_DDL)
    silver.create_silver_tables(spark, catalog)
    silver.create_silver_tables(spark, catalog)
    for name, table in (("trades", trades), ("quarantine", catalog.table("silver", "quarantine"))):
        detail = spark.sql(f"DESCRIBE DETAIL {table.sql_name}").first()
        assert detail is not None
        assert detail["properties"] == {"delta.dataSkippingStatsColumns": silver.STATS_COLUMNS[name]}
    history = spark.sql(f"DESCRIBE HISTORY {trades.sql_name}").orderBy("version").collect()
    assert [row.operation for row in history] == ["CREATE TABLE", "SET TBLPROPERTIES"]


def test_reference_reload_reaches_a_running_query(
    spark: SparkSession, kafka: BrokerInfo, topic: str, make_settings: Callable[..., Settings]
) -> None:
    """``riskstream reference load`` while silver runs: the next micro-batch sees the new instrument."""
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    catalog = Catalog(settings)
    tables = partial(catalog.table, "reference")
    reference_rows = read_reference(FIXTURES / "reference")
    write_reference(spark, reference_rows, tables, lambda *_: None)
    new_instrument = "XS0000000001"
    first = trade_event(101, instrument_id=new_instrument)
    publish(kafka.bootstrap_servers, topic, [Record("P-001", json.dumps(first).encode(), "1")])
    assert bronze.run(spark, settings) is None

    query = silver.run_trades(spark, settings, TriggerConfig(kind="processing_time", interval="1 second"))
    assert query is not None
    try:
        query.processAllAvailable()
        instruments = [
            *reference_rows["instruments"],
            (new_instrument, "New bond", "credit", "financials", "GB", "USD", 1.0, 0.004, 99.5),
        ]
        write_reference(spark, {**reference_rows, "instruments": instruments}, tables, lambda *_: None)
        second = trade_event(102, instrument_id=new_instrument)
        publish(kafka.bootstrap_servers, topic, [Record("P-001", json.dumps(second).encode(), "1")])
        assert bronze.run(spark, settings) is None
        query.processAllAvailable()
    finally:
        query.stop()
    quarantined = catalog.table("silver", "quarantine").read(spark).select("event_id", "reason_codes").collect()
    assert [(row.event_id, row.reason_codes) for row in quarantined] == [(first["event_id"], ["unknown_instrument"])]
    accepted = catalog.table("silver", "trades").read(spark).select("event_id", "asset_class").collect()
    assert [(row.event_id, row.asset_class) for row in accepted] == [(second["event_id"], "credit")]
