"""Streaming progress recorded as data: ``ops.stream_progress``.

Every micro-batch's ``StreamingQueryProgress`` is flattened into one row (query name and ids, batch
id, input/processed rates, durations, state-store rows and memory, rows a stateful operator left
out because they were behind its watermark, watermark, the raw JSON) and
MERGEd on (run_id, batch_id), so recording the same progress twice changes nothing. The stream
health notebook and ``riskstream ops`` read this table; on Databricks the same rows can be scraped
into any monitoring system.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from riskstream.tables import TableRef

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STREAM_PROGRESS_DDL = (
    "query_name string, query_id string, run_id string, batch_id long, progress_ts timestamp, "
    "num_input_rows long, input_rows_per_second double, processed_rows_per_second double, "
    "trigger_execution_ms long, add_batch_ms long, state_rows_total long, state_memory_bytes long, "
    "rows_dropped_by_watermark long, watermark string, sources string, sink string, progress_json string"
)


def as_dict(progress: Any) -> dict[str, Any]:
    """A progress report as plain JSON data: pyspark 4 returns ``StreamingQueryProgress`` objects."""
    text = getattr(progress, "json", None)
    if isinstance(text, str):
        loaded: dict[str, Any] = json.loads(text)
        return loaded
    return dict(progress)


def progress_row(report: Any) -> dict[str, Any]:
    """Flatten one progress report (``StreamingQuery.lastProgress``) into a table row."""
    progress = as_dict(report)
    durations = progress.get("durationMs") or {}
    state_operators = progress.get("stateOperators") or []
    event_time = progress.get("eventTime") or {}
    return {
        "query_name": progress.get("name"),
        "query_id": progress.get("id"),
        "run_id": progress.get("runId"),
        "batch_id": int(progress["batchId"]),
        "progress_ts": progress.get("timestamp"),
        "num_input_rows": int(progress.get("numInputRows") or 0),
        "input_rows_per_second": float(progress.get("inputRowsPerSecond") or 0.0),
        "processed_rows_per_second": float(progress.get("processedRowsPerSecond") or 0.0),
        "trigger_execution_ms": durations.get("triggerExecution"),
        "add_batch_ms": durations.get("addBatch"),
        "state_rows_total": sum(int(op.get("numRowsTotal") or 0) for op in state_operators),
        "state_memory_bytes": sum(int(op.get("memoryUsedBytes") or 0) for op in state_operators),
        "rows_dropped_by_watermark": sum(int(op.get("numRowsDroppedByWatermark") or 0) for op in state_operators),
        "watermark": event_time.get("watermark"),
        "sources": json.dumps([source.get("description") for source in progress.get("sources") or []]),
        "sink": (progress.get("sink") or {}).get("description"),
        "progress_json": json.dumps(progress, sort_keys=True),
    }


def record_progress(spark: SparkSession, table: TableRef, progresses: Iterable[Any]) -> int:
    """MERGE progress reports into ``table`` (created on first use); returns how many were given."""
    from pyspark.sql import functions as F

    rows = [progress_row(progress) for progress in progresses]
    if not rows:
        return 0
    frame = spark.createDataFrame(
        rows, schema=STREAM_PROGRESS_DDL.replace("progress_ts timestamp", "progress_ts string")
    )
    frame = frame.withColumn("progress_ts", F.to_timestamp("progress_ts"))
    table.create_if_missing(spark, STREAM_PROGRESS_DDL)
    (
        table.delta_table(spark)
        .alias("t")
        .merge(frame.alias("s"), "t.run_id = s.run_id AND t.batch_id = s.batch_id")
        .whenNotMatchedInsertAll()
        .execute()
    )
    return len(rows)


class ProgressCollector:
    """Collects every query's progress reports through a ``StreamingQueryListener``.

    The listener callback runs on Spark's listener thread, so it only queues the report; the
    driver's own thread writes them with :func:`record_progress` (``drain`` then record), after an
    availableNow run or periodically while processingTime queries run.
    """

    def __init__(self) -> None:
        import queue

        self._reports: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._listener: Any = None

    def attach(self, spark: SparkSession) -> ProgressCollector:
        from pyspark.sql.streaming import StreamingQueryListener

        reports = self._reports

        class _Listener(StreamingQueryListener):
            def onQueryStarted(self, event: Any) -> None:
                return None

            def onQueryProgress(self, event: Any) -> None:
                reports.put(as_dict(event.progress))

            def onQueryIdle(self, event: Any) -> None:
                return None

            def onQueryTerminated(self, event: Any) -> None:
                return None

        self._listener = _Listener()
        spark.streams.addListener(self._listener)
        return self

    def detach(self, spark: SparkSession) -> None:
        if self._listener is not None:
            spark.streams.removeListener(self._listener)
            self._listener = None

    def drain(self, spark: SparkSession | None = None) -> list[dict[str, Any]]:
        """Every report queued since the last drain.

        With ``spark``, first waits until Spark's listener bus has delivered every event posted so
        far: a query's last progress report is delivered asynchronously, after ``awaitTermination``
        has already returned.
        """
        if spark is not None:
            # LiveListenerBus.waitUntilEmpty is Spark-internal but public in the bytecode; the Python
            # listener runs synchronously on the bus thread, so an empty bus means every report is queued.
            spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()
        drained = []
        while not self._reports.empty():
            drained.append(self._reports.get_nowait())
        return drained


def _left_nothing_behind(progress: dict[str, Any]) -> bool:
    """True when the batch read every source up to the offset that was the newest when it started.

    A Kafka source reports that newest offset (``latestOffset``); a Delta source reports none (null),
    and without ``maxFilesPerTrigger`` / ``maxBytesPerTrigger`` it reads every version committed
    before the batch started, so a null counts as read to the newest.
    """
    sources = progress.get("sources") or []
    return all(source.get("latestOffset") in (None, source.get("endOffset")) for source in sources)


@dataclass(frozen=True)
class QueryStatus:
    name: str
    batch_id: int | None
    rows_per_s: float
    """Input rows of the batches that finished since the previous status, per second."""
    lag_s: float
    """How far the query may be behind its source: 0 while it waits with no new data; otherwise the
    seconds since the start of its newest batch that left nothing behind (everything that had
    arrived by then is processed), or since the status began watching if it has not had one yet."""


class LiveStatus:
    """The one-line live status of ``riskstream run`` with processing-time triggers, from each
    query's recent progress reports and its status (no extra Spark work)."""

    def __init__(self, started_s: float) -> None:
        self._last_batch: dict[str, int] = {}
        self._caught_up_s: dict[str, float] = {}
        self._started_s = started_s
        self._previous_s = started_s

    def update(self, name: str, recent: list[dict[str, Any]], waiting: bool, now_s: float) -> QueryStatus:
        """The status of query ``name`` at ``now_s`` from its recent progress reports (oldest first) and
        whether it is waiting with no new data."""
        seen = self._last_batch.get(name, -1)
        new = [progress for progress in recent if int(progress["batchId"]) > seen]
        rows = sum(int(progress.get("numInputRows") or 0) for progress in new)
        for progress in new:
            if _left_nothing_behind(progress):
                self._caught_up_s[name] = progress_time_s(str(progress["timestamp"]))
        if new:
            self._last_batch[name] = int(new[-1]["batchId"])
        if waiting:
            self._caught_up_s[name] = now_s
        elapsed = max(now_s - self._previous_s, 1e-9)
        lag = max(0.0, now_s - self._caught_up_s.get(name, self._started_s)) if not waiting else 0.0
        return QueryStatus(name, self._last_batch.get(name), rows / elapsed, lag)

    def line(self, statuses: list[QueryStatus], now_s: float) -> str:
        """``status: bronze_trade_events #12 1,010/s lag 3s | silver_trades ...`` (batch, rows/s, lag)"""
        self._previous_s = now_s
        parts = [
            f"{status.name} #{'-' if status.batch_id is None else status.batch_id} "
            f"{status.rows_per_s:,.0f}/s lag {status.lag_s:.0f}s"
            for status in statuses
        ]
        return "status: " + " | ".join(parts)


def progress_time_s(text: str) -> float:
    """Epoch seconds of a progress report's ISO-8601 ``timestamp`` (``2026-11-30T20:31:05.123Z``)."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
