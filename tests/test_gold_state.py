"""Bounded state: the 1-minute window aggregation keeps only the windows the watermark still allows.

A simulated hour of trading (12 chunks of 5 minutes of event time, two portfolios, one trade every
30 seconds each) is appended to a silver.trades Delta table chunk by chunk; after each chunk the
streaming aggregation processes it and we read the state store's row count from the query's
progress (``stateOperators[0].numRowsTotal``). Without the watermark the state would hold every
window ever seen (120 at the end); with it, it stays below a bound set by the watermark and the chunk
length, however long the run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from riskstream.config import Settings
from riskstream.tables import Catalog
from transformations.gold import portfolio_risk_1m
from transformations.schemas import SILVER_TRADES_DDL

pytestmark = [pytest.mark.spark]

START = datetime(2026, 3, 2, 9, 0)
CHUNKS, CHUNK_MINUTES, PORTFOLIOS = 12, 5, ("P1", "P2")
WATERMARK_MINUTES = 10


def _chunk(index: int) -> list[dict[str, Any]]:
    rows = []
    for step in range(CHUNK_MINUTES * 2):
        trade_ts = START + timedelta(minutes=index * CHUNK_MINUTES, seconds=30 * step)
        for portfolio_id in PORTFOLIOS:
            rows.append(
                {
                    "event_id": f"{portfolio_id}-{index}-{step}",
                    "event_type": "NEW",
                    "trade_id": f"T-{portfolio_id}-{index}-{step}",
                    "portfolio_id": portfolio_id,
                    "instrument_id": "AAPL",
                    "side": "BUY",
                    "trade_ts": trade_ts,
                    "desk": "Equities",
                    "asset_class": "equity",
                    "notional_base": 1000.0,
                    "signed_notional_base": 1000.0,
                    "delta_notional_base": 1000.0,
                    "risk_score": 10.0,
                }
            )
    return rows


def test_window_state_stays_bounded_over_a_long_run(
    spark: SparkSession, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    catalog = Catalog(settings)
    silver = catalog.table("silver", "trades")
    windows_seen: set[tuple[str, datetime]] = set()

    def collect(batch: DataFrame, batch_id: int) -> None:
        windows_seen.update((row.portfolio_id, row.window_start) for row in batch.collect())

    spark.createDataFrame(_chunk(0), SILVER_TRADES_DDL).write.format("delta").save(str(silver.path))
    query = (
        silver.read_stream(spark)
        .transform(portfolio_risk_1m(f"{WATERMARK_MINUTES} minutes"))
        .writeStream.queryName("gold_state_bound_test")
        .outputMode("update")
        .option("checkpointLocation", catalog.checkpoint("gold_state_bound_test"))
        .foreachBatch(collect)
        .start()
    )
    state_rows = []
    try:
        for index in range(CHUNKS):
            if index:
                spark.createDataFrame(_chunk(index), SILVER_TRADES_DDL).write.format("delta").mode("append").save(
                    str(silver.path)
                )
            query.processAllAvailable()
            state_rows.append(query.lastProgress["stateOperators"][0]["numRowsTotal"])
    finally:
        query.stop()

    print(f"state rows after each 5-minute chunk: {state_rows}")
    # Every window of the hour was emitted ...
    assert len(windows_seen) == len(PORTFOLIOS) * CHUNKS * CHUNK_MINUTES == 120
    # ... but the state never held more than the windows newer than the watermark: the current chunk,
    # the watermark's span behind the previous chunk's end, and the window at its edge.
    bound = len(PORTFOLIOS) * (CHUNK_MINUTES + WATERMARK_MINUTES + CHUNK_MINUTES + 1)
    assert max(state_rows) <= bound == 42
    # It grows while the watermark has nothing to evict, then stops growing.
    assert state_rows[:2] == [10, 20]
    assert max(state_rows[CHUNKS // 2 :]) <= max(state_rows[: CHUNKS // 2])
