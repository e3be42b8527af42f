"""riskstream.sinks.write_delta: what a streaming query is started with."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import functions as F

from riskstream.config import TriggerConfig
from riskstream.sinks import NO_DATA_BATCHES, write_delta
from riskstream.tables import TableRef

ROWS_DDL = "ts timestamp, value long"


def _append(spark: Any, table: TableRef, minute: int) -> None:
    rows = [(datetime(2026, 11, 30, 9, minute, second), second) for second in (1, 2, 3)]
    spark.createDataFrame(rows, ROWS_DDL).write.format("delta").mode("append").save(str(table.path))


@pytest.mark.parametrize(
    ("trigger", "empty_batches"),
    [
        (TriggerConfig(kind="processing_time", interval="200 milliseconds"), 0),
        (TriggerConfig(kind="available_now"), 1),  # Spark's default: one batch to evict behind the watermark
    ],
)
def test_processing_time_queries_run_no_batch_for_a_moving_watermark_alone(
    spark: Any, tmp_path: Path, trigger: TriggerConfig, empty_batches: int
) -> None:
    source = TableRef("bronze", "rows", path=str(tmp_path / "rows"))
    _append(spark, source, minute=0)
    _append(spark, source, minute=5)  # a second version: the watermark moves past the first minute's window
    seen: list[int] = []
    windows = source.read_stream(spark).withWatermark("ts", "1 minute").groupBy(F.window("ts", "1 minute")).count()
    shared_before = spark.conf.get(NO_DATA_BATCHES)
    query = write_delta(
        windows,
        source,
        query_name=f"windows_{trigger.kind}",
        checkpoint=str(tmp_path / "checkpoint"),
        trigger=trigger,
        output_mode="update",
        foreach_batch=lambda batch, _batch_id: seen.append(batch.count()),
    )
    if query is not None:
        try:
            query.processAllAvailable()
            time.sleep(2)  # ten more triggers: time for a batch the watermark alone would ask for
        finally:
            query.stop()
    assert spark.conf.get(NO_DATA_BATCHES) == shared_before  # the shared session is left as it was
    assert sum(1 for rows in seen if rows == 0) == empty_batches
    assert sum(seen) == 2  # the two windows, one per data batch
