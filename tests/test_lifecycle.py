"""The stateful silver operator (dedupe, lateness, NEW/AMEND/CANCEL) on a real stream of two micro-batches.

The cases live in ``tests/fixtures/silver/lifecycle_cases.csv``: each input row with the reason codes
and lifecycle columns it must come out with. Step 1 is the first micro-batch (watermark 0, so nothing
can be beyond the TTL); step 2 arrives after it, when the watermark is the newest accepted step-1
``trade_ts`` (10:06, the rejected 2030 row must not count) minus 10 minutes. T2's AMEND at 09:50 is
behind that watermark and is applied all the same (lateness flags, it never rejects). Trade T8's
last event (Nov 10) is then more than the 7-day state TTL behind the watermark, so its state is
forgotten, and T9's NEW of Nov 16 is ``beyond_state_ttl``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StructType

from transformations.lifecycle import _duration_ms, track_lifecycle

pytestmark = [pytest.mark.spark]

CASES = Path(__file__).parent / "fixtures" / "silver" / "lifecycle_cases.csv"
CASES_DDL = (
    "step int, event_id string, event_type string, trade_id string, trade_version int, side string, "
    "quantity decimal(28,8), price decimal(28,8), trade_ts timestamp, multiplier double, fx_rate_to_base double, "
    "signed_notional_base double, reason_codes string, source_partition int, source_offset long, "
    "expected_reasons string, expected_previous_trade_version int, "
    "expected_delta_quantity decimal(28,8), expected_delta_notional_base double, expected_delta_cost_base double"
)
INPUT_COLUMNS = (
    "event_id",
    "event_type",
    "trade_id",
    "trade_version",
    "side",
    "quantity",
    "signed_quantity",
    "price",
    "trade_ts",
    "multiplier",
    "fx_rate_to_base",
    "signed_notional_base",
    "reason_codes",
    "source_topic",
    "source_partition",
    "source_offset",
)


def _codes(column: str) -> Column:
    """A ``;``-separated CSV cell as an array; an empty cell is an empty array."""
    return F.when(F.col(column).isNull(), F.array().cast("array<string>")).otherwise(F.split(column, ";"))


def _cases(spark: SparkSession) -> DataFrame:
    return (
        spark.read.option("header", True)
        .option("emptyValue", None)
        .schema(CASES_DDL)
        .csv(str(CASES))
        .withColumn("reason_codes", _codes("reason_codes"))
        .withColumn("source_topic", F.lit("trades"))
        .withColumn(
            "signed_quantity",
            F.when(F.col("side") == "SELL", -F.col("quantity")).otherwise(F.col("quantity")).cast("decimal(28,8)"),
        )
    )


def _start_lifecycle(spark: SparkSession, schema: StructType, inbox: Path, name: str, tmp_path: Path) -> StreamingQuery:
    """The operator (10-minute watermark, 7-day TTL) over parquet files dropped into
    ``inbox``, into the memory table ``name``."""
    stream = spark.readStream.schema(schema).option("recursiveFileLookup", True).parquet(str(inbox))
    return (
        stream.transform(track_lifecycle("10 minutes", "7 days"))
        .writeStream.queryName(name)
        .format("memory")
        .outputMode("append")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )


def test_lifecycle_over_two_micro_batches(spark: SparkSession, tmp_path: Path) -> None:
    cases = _cases(spark)
    inbox = tmp_path / "inbox"
    cases.where("step = 1").select(*INPUT_COLUMNS).write.parquet(str(inbox / "step1"))
    query = _start_lifecycle(spark, cases.select(*INPUT_COLUMNS).schema, inbox, "lifecycle_under_test", tmp_path)
    try:
        query.processAllAvailable()
        cases.where("step = 2").select(*INPUT_COLUMNS).write.parquet(str(inbox / "step2"))
        query.processAllAvailable()
        actual = spark.table("lifecycle_under_test")
        assert actual.columns == [
            *INPUT_COLUMNS,
            "previous_trade_version",
            "delta_quantity",
            "delta_notional_base",
            "delta_cost_base",
        ]
        expected = cases.select(
            "source_partition",
            "source_offset",
            "event_id",
            _codes("expected_reasons").alias("reason_codes"),
            F.col("expected_previous_trade_version").alias("previous_trade_version"),
            "signed_quantity",
            F.col("expected_delta_quantity").alias("delta_quantity"),
            F.col("expected_delta_notional_base").alias("delta_notional_base"),
            F.col("expected_delta_cost_base").alias("delta_cost_base"),
        ).orderBy("source_partition", "source_offset")
        assert_df_equality(
            actual.select(*expected.columns).orderBy("source_partition", "source_offset"),
            expected,
            ignore_nullable=True,
        )
    finally:
        query.stop()


def test_missing_columns_are_named(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("e1", "T1")], "event_id string, trade_id string")
    with pytest.raises(ValueError, match=r"track_lifecycle needs columns \['event_type', 'trade_version'"):
        track_lifecycle("10 minutes", "7 days")(frame)


@pytest.mark.parametrize(
    ("duration", "millis"),
    [
        ("500 milliseconds", 500),
        ("1 second", 1000),
        ("10 minutes", 600_000),
        ("1 hour", 3_600_000),
        ("7 days", 604_800_000),
    ],
)
def test_duration_ms(duration: str, millis: int) -> None:
    assert _duration_ms(duration) == millis


def _open_trade(spark: SparkSession, trade_id: str, offset: int, trade_ts: str) -> DataFrame:
    """A NEW event for ``trade_id`` (1 x 10 BUY) with the columns the operator needs."""
    return spark.sql(
        f"""SELECT 'e-{trade_id}' AS event_id, 'NEW' AS event_type, '{trade_id}' AS trade_id, 1 AS trade_version,
        'BUY' AS side, CAST(1 AS DECIMAL(28,8)) AS quantity, CAST(1 AS DECIMAL(28,8)) AS signed_quantity,
        CAST(10 AS DECIMAL(28,8)) AS price, TIMESTAMP'{trade_ts}' AS trade_ts, 1D AS multiplier,
        1D AS fx_rate_to_base, 10D AS signed_notional_base, CAST(array() AS ARRAY<STRING>) AS reason_codes,
        'trades' AS source_topic, 0 AS source_partition, {offset}L AS source_offset"""
    )


def test_idle_open_trades_are_evicted_when_the_watermark_passes_their_ttl(spark: SparkSession, tmp_path: Path) -> None:
    """State TTL without another event for the trade: the event-time timeout removes it."""
    inbox = tmp_path / "inbox"
    first = _open_trade(spark, "T1", 1, "2026-11-10 10:00:00").unionByName(
        _open_trade(spark, "T2", 2, "2026-11-10 10:05:00")
    )
    first.write.parquet(str(inbox / "step1"))
    query = _start_lifecycle(spark, first.schema, inbox, "lifecycle_ttl_under_test", tmp_path)
    try:
        query.processAllAvailable()
        assert query.lastProgress["stateOperators"][0]["numRowsTotal"] == 2
        # T3 moves the watermark to 2026-11-17 10:05: T1's state (last event + 7 days = 10:00) has
        # expired, T2's (10:05) has not, since expiry must be strictly before the watermark.
        _open_trade(spark, "T3", 3, "2026-11-17 10:15:00").write.parquet(str(inbox / "step2"))
        query.processAllAvailable()
        assert query.lastProgress["stateOperators"][0]["numRowsTotal"] == 2
        # T4 moves it to 2026-11-17 10:06: now T2 goes too, while T3 and T4 stay.
        _open_trade(spark, "T4", 4, "2026-11-17 10:16:00").write.parquet(str(inbox / "step3"))
        query.processAllAvailable()
        assert query.lastProgress["stateOperators"][0]["numRowsTotal"] == 2
        assert query.lastProgress["stateOperators"][0]["numRowsRemoved"] == 1
        accepted = spark.table("lifecycle_ttl_under_test").where(F.size("reason_codes") == 0)
        assert sorted(row.trade_id for row in accepted.collect()) == ["T1", "T2", "T3", "T4"]
    finally:
        query.stop()
