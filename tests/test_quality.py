"""transformations.quality.batch_quality: one exact data-quality row per micro-batch."""

from __future__ import annotations

from datetime import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from transformations.quality import DATA_QUALITY_DDL, batch_quality

pytestmark = [pytest.mark.spark]

BATCH_DDL = "event_id string, reason_codes array<string>, trade_ts timestamp, arrived_late boolean"
PROCESSED = datetime(2026, 11, 24, 12, 0)


def test_counts_rows_accepted_quarantined_and_each_reason(spark: SparkSession) -> None:
    batch = spark.createDataFrame(
        [
            ("e1", [], datetime(2026, 11, 24, 9, 30), True),
            ("e2", [], datetime(2026, 11, 24, 9, 45), False),
            ("e3", ["duplicate"], datetime(2026, 11, 24, 9, 0), True),
            ("e4", ["unknown_portfolio", "unknown_instrument"], datetime(2026, 11, 24, 8, 0), False),
            (None, ["malformed_json"], None, None),
            ("e6", ["unknown_instrument"], datetime(2026, 11, 24, 10, 0), False),
        ],
        BATCH_DDL,
    )
    actual = batch.transform(batch_quality("silver_trades", 7, F.lit(PROCESSED)))
    expected = spark.createDataFrame(
        [
            (
                "silver_trades",
                7,
                PROCESSED,
                6,
                2,
                4,
                {"duplicate": 1, "malformed_json": 1, "unknown_instrument": 2, "unknown_portfolio": 1},
                1,
                datetime(2026, 11, 24, 9, 30),
                datetime(2026, 11, 24, 9, 45),
            )
        ],
        DATA_QUALITY_DDL,
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_an_all_accepted_batch_has_an_empty_reason_map(spark: SparkSession) -> None:
    batch = spark.createDataFrame([("e1", [], datetime(2026, 11, 24, 9, 30), False)], BATCH_DDL)
    row = batch.transform(batch_quality("silver_trades", 0, F.lit(PROCESSED))).collect()
    assert [(r.rows_in, r.accepted, r.quarantined, r.quarantined_by_reason) for r in row] == [(1, 1, 0, {})]


def test_a_batch_without_rows_gives_no_row(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], BATCH_DDL)
    assert empty.transform(batch_quality("silver_trades", 3, F.lit(PROCESSED))).count() == 0
