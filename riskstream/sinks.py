"""One sink helper for batch and streaming writes to Delta.

The trigger is data (:class:`~riskstream.config.TriggerConfig`). For ``available_now`` the helper
blocks until the query has processed everything available and returns ``None``; for
``processing_time`` it returns the running :class:`StreamingQuery` and the caller decides how long
to wait. A failed query raises :class:`~riskstream.errors.PipelineError` naming the query; its
checkpoint and the Delta table stay consistent (Delta commits each micro-batch atomically and
records the query id and batch id, so a replayed batch is skipped).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from riskstream.config import TriggerConfig
from riskstream.errors import PipelineError
from riskstream.tables import TableRef

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

BatchFunction = Callable[["DataFrame", int], None]

NO_DATA_BATCHES = "spark.sql.streaming.noDataMicroBatches.enabled"
"""Whether Spark runs a micro-batch without new data when a watermark moves (to evict state and close
windows). Off for processing-time queries (:func:`write_delta`): every stateful query here writes in
update mode or through ``foreachBatch``, so such a batch only evicts state, which the next batch with
data does as well; each one cost silver and both window queries a full batch (15 to 46 s under load)
while the next batch with data waited behind it. availableNow keeps Spark's default, so a run ends
with its state evicted."""


def _apply_trigger(writer: DataStreamWriter, trigger: TriggerConfig) -> DataStreamWriter:
    if trigger.kind == "available_now":
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=trigger.interval)


def await_available_now(query: StreamingQuery) -> None:
    """Block until an availableNow query finishes; raise PipelineError if it failed."""
    from pyspark.errors import StreamingQueryException

    try:
        query.awaitTermination()
    except StreamingQueryException as error:
        raise PipelineError(f"streaming query {query.name!r} failed: {error.getMessage()}") from None


SCHEDULER_POOL = "spark.scheduler.pool"


@contextlib.contextmanager
def _scheduler_pool(df: DataFrame, name: str) -> Iterator[None]:
    """Start the query inside a fair-scheduler pool of its own (``spark.scheduler.mode=FAIR``).

    Spark jobs of all queries share one context; in one FIFO queue a window query's shuffle holds
    every core while bronze's small append waits behind it. The pool is a thread-local property,
    inherited by the query's execution thread when it starts (Databricks' advice for several
    streams on one cluster). Without a SparkContext (Spark Connect) queries run in the default pool.
    """
    try:
        context = df.sparkSession.sparkContext
    except Exception:  # pyspark's Spark Connect session has no SparkContext
        yield
        return
    previous = context.getLocalProperty(SCHEDULER_POOL)
    context.setLocalProperty(SCHEDULER_POOL, name)
    try:
        yield
    finally:
        context.setLocalProperty(SCHEDULER_POOL, previous)  # type: ignore[arg-type]  # None removes it


def write_delta(
    df: DataFrame,
    table: TableRef,
    *,
    query_name: str | None = None,
    checkpoint: str | None = None,
    trigger: TriggerConfig | None = None,
    output_mode: str = "append",
    foreach_batch: BatchFunction | None = None,
    partition_by: tuple[str, ...] = (),
) -> StreamingQuery | None:
    """Write ``df`` to ``table``: a batch append, or a named, checkpointed streaming query.

    Args:
        df: batch or streaming DataFrame.
        table: destination Delta table (ignored for the data when ``foreach_batch`` does the writing).
        query_name: streaming only; also the checkpoint's identity in progress reports.
        checkpoint: streaming only; one folder per query, never shared.
        trigger: streaming only; availableNow blocks, processingTime returns the query.
        output_mode: streaming output mode (``append`` for the Delta sink; ``update`` with foreach_batch).
        foreach_batch: a function that writes each micro-batch itself (MERGE, idempotent appends).
        partition_by: partition columns when the table is created by this write.
    """
    if not df.isStreaming:
        writer = df.write.format("delta").mode("append")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        table.save(writer)
        return None
    if not (query_name and checkpoint and trigger):
        raise PipelineError("a streaming write needs query_name, checkpoint and trigger")
    stream_writer = df.writeStream.queryName(query_name).option("checkpointLocation", checkpoint)
    stream_writer = _apply_trigger(stream_writer.outputMode(output_mode), trigger)
    if foreach_batch is not None:
        stream_writer = stream_writer.foreachBatch(foreach_batch)
    else:
        stream_writer = stream_writer.format("delta")
        if partition_by:
            stream_writer = stream_writer.partitionBy(*partition_by)
    conf = df.sparkSession.conf
    shared = conf.get(NO_DATA_BATCHES)
    if trigger.kind == "processing_time":
        conf.set(NO_DATA_BATCHES, "false")  # read once, by the query's own copy of the session, at its start
    try:
        with _scheduler_pool(df, query_name):
            if foreach_batch is not None or not table.identifier:
                query = stream_writer.start() if foreach_batch is not None else stream_writer.start(table.path)
            else:
                query = stream_writer.toTable(table.identifier)
    finally:
        conf.set(NO_DATA_BATCHES, str(shared))
    if trigger.kind == "available_now":
        await_available_now(query)
        return None
    return query
