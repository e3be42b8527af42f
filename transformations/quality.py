"""Data quality as data: one ``ops.data_quality`` row per silver micro-batch.

The row says what the batch did with its bronze rows: how many came in, how many were accepted into
``silver.trades``, how many were quarantined and for which reasons. Since every bronze row lands in
exactly one of the two silver tables, ``rows_in = accepted + quarantined`` on every row; a row's
reason codes are each counted, so ``quarantined_by_reason`` may add up to more than ``quarantined``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.sql import functions as F

from transformations import Transform

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

DATA_QUALITY_DDL = (
    "query_name string, batch_id long, processed_ts timestamp, rows_in long, accepted long, quarantined long, "
    "quarantined_by_reason map<string,long>, accepted_late long, min_trade_ts timestamp, max_trade_ts timestamp"
)
"""ops.data_quality (key: query_name, batch_id). ``accepted_late`` counts accepted rows that
``arrived_late`` (applied like any other); ``*_trade_ts`` cover the accepted rows only."""


def batch_quality(query_name: str, batch_id: int, processed_ts: Column | None = None) -> Transform:
    """A silver micro-batch (rows with ``reason_codes``, ``trade_ts``, ``arrived_late``) -> its one data-quality row.

    A batch with no rows (Spark's no-data batches, run when only the watermark moved) gives no row.
    """

    def transform(batch: DataFrame) -> DataFrame:
        accepted = F.size("reason_codes") == 0
        totals = batch.agg(
            F.count(F.lit(1)).alias("rows_in"),
            F.count(F.when(accepted, 1)).alias("accepted"),
            F.count(F.when(~accepted, 1)).alias("quarantined"),
            F.count(F.when(accepted & F.col("arrived_late"), 1)).alias("accepted_late"),
            F.min(F.when(accepted, F.col("trade_ts"))).alias("min_trade_ts"),
            F.max(F.when(accepted, F.col("trade_ts"))).alias("max_trade_ts"),
        )
        reasons = (
            batch.select(F.explode("reason_codes").alias("reason"))
            .groupBy("reason")
            .agg(F.count(F.lit(1)).alias("rows"))
            .agg(F.map_from_entries(F.sort_array(F.collect_list(F.struct("reason", "rows")))).alias("by_reason"))
        )
        return (
            totals.crossJoin(reasons)
            .where(F.col("rows_in") > 0)
            .select(
                F.lit(query_name).alias("query_name"),
                F.lit(batch_id).cast("long").alias("batch_id"),
                (processed_ts if processed_ts is not None else F.current_timestamp()).alias("processed_ts"),
                "rows_in",
                "accepted",
                "quarantined",
                F.col("by_reason").cast("map<string,bigint>").alias("quarantined_by_reason"),
                "accepted_late",
                "min_trade_ts",
                "max_trade_ts",
            )
        )

    return transform


def quality_row(
    query_name: str,
    batch_id: int,
    accepted: pd.DataFrame,
    rejected_reasons: Iterable[Iterable[str]],
    processed_ts: datetime,
) -> dict[str, Any] | None:
    """:func:`batch_quality` on the driver, from what the hot query has collected anyway: the batch's
    accepted rows (``trade_ts``, ``arrived_late``) and each rejected row's reason codes; None for no rows."""
    reasons = [list(codes) for codes in rejected_reasons]
    rows_in = len(accepted) + len(reasons)
    if rows_in == 0:
        return None
    counts = Counter(code for codes in reasons for code in codes)
    times = accepted["trade_ts"] if len(accepted) else pd.Series(dtype="datetime64[ns]")
    return {
        "query_name": query_name,
        "batch_id": batch_id,
        "processed_ts": processed_ts,
        "rows_in": rows_in,
        "accepted": len(accepted),
        "quarantined": len(reasons),
        "quarantined_by_reason": dict(sorted(counts.items())),
        "accepted_late": int(accepted["arrived_late"].fillna(False).astype(bool).sum()) if len(accepted) else 0,
        "min_trade_ts": times.min() if len(times) else None,
        "max_trade_ts": times.max() if len(times) else None,
    }
