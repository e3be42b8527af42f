"""The hot query's gold snapshots, written off the latency path by one background thread.

``gold.portfolio_risk`` is written inside the micro-batch (:mod:`jobs.hot`). The other gold outputs of a
batch are state the book already holds, so they need not hold the next micro-batch back: gold.positions
and gold.marks (overwrites of the current book), the P&L rows of the trading dates touched
(``replaceWhere``), gold.risk_alerts (``replaceWhere`` on the alert keys) and the batches' ops.data_quality
rows (one append). :class:`GoldFlusher` writes them in a thread of its own, at most once every
``gold.snapshot_interval`` (conf), coalescing every batch handed to it since its last flush: one commit per table
for any number of micro-batches, so the commits per second stay flat however short the batches get.

Nothing is lost to a crash. A batch's snapshot is handed over only after the book holding it is saved
beside the checkpoint, and that book file also carries the outbox: the alert and data-quality rows not yet
known to be committed (:meth:`GoldFlusher.outbox`). After a restart the flusher starts from the saved book
with everything marked dirty and the outbox pending (:meth:`GoldFlusher.restore`); overwrites and
``replaceWhere`` rewrite the same rows, and data-quality rows are skipped up to the batch of the last
commit carrying the writer's marker (:func:`jobs.silver.last_batch_written`).

Each flush's commits carry ``hot_risk:<query id>#batch=<N>`` (N: the newest batch in it); lineage credits
an event to the first commit whose batch is at or after its own.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd

from jobs.silver import batch_marker, last_batch_written
from riskstream.errors import PipelineError
from riskstream.sinks import SCHEDULER_POOL
from transformations import book, gold
from transformations.quality import DATA_QUALITY_DDL
from transformations.schemas import schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskstream.tables import TableRef

REASONS = "quarantined_by_reason"
QUALITY_COLUMNS = [
    "query_name",
    "batch_id",
    "processed_ts",
    "rows_in",
    "accepted",
    "quarantined",
    REASONS,
    "accepted_late",
    "min_trade_ts",
    "max_trade_ts",
]
"""ops.data_quality's columns (:data:`transformations.quality.DATA_QUALITY_DDL`)."""
SNAPSHOT_POOL = "hot_risk_snapshots"
"""The fair-scheduler pool of the flusher's Spark jobs (riskstream/fairscheduler.xml: one share, as any
query's, against the hot query's four)."""
ALERT_KEY = ["portfolio_id", "rule", "window_start"]
KILL_AT_ENV = "RISKSTREAM_HOT_KILL_AT"
"""Crash tests only: ``<point>:<batch id>`` SIGKILLs the process group at that point of that batch, before
Spark records the batch in the checkpoint (:mod:`jobs.hot` names the points); ``flush:<batch id>`` right
after the flush that holds the batch has committed every table."""

log = logging.getLogger("riskstream.hot")


def crash_point(point: str, *batch_ids: int) -> None:
    """Kill the process group if :data:`KILL_AT_ENV` names ``point`` at one of ``batch_ids``."""
    wanted = os.environ.get(KILL_AT_ENV, "")
    if any(wanted == f"{point}:{batch_id}" for batch_id in batch_ids):
        os.killpg(os.getpgid(0), signal.SIGKILL)


def frame(spark: SparkSession, rows: pd.DataFrame, ddl: str) -> DataFrame:
    """A driver frame as a Spark DataFrame with exactly the columns and types of ``ddl``."""
    target = schema(ddl)
    return spark.createDataFrame(rows[target.fieldNames()], schema=target)


def _sql_literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"TIMESTAMP'{pd.Timestamp(value).strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def alert_keys_predicate(alerts: pd.DataFrame) -> str:
    """A SQL predicate matching exactly the (portfolio_id, rule, window_start) keys of ``alerts``."""
    keys = alerts[ALERT_KEY].drop_duplicates()
    return " OR ".join(
        f"(portfolio_id = {_sql_literal(p)} AND rule = {_sql_literal(r)} AND window_start = {_sql_literal(w)})"
        for p, r, w in keys.itertuples(index=False)
    )


def overwrite(table: TableRef, rows: DataFrame, marker: str, replace_where: str | None = None) -> None:
    """Overwrite ``table`` with ``rows`` (one file; with ``replace_where`` only the rows it matches) in a commit
    whose ``userMetadata`` is ``marker``."""
    writer = rows.coalesce(1).write.format("delta").mode("overwrite").option("userMetadata", marker)
    if replace_where is not None:
        writer = writer.option("replaceWhere", replace_where)
    table.save(writer)


def dates_predicate(days: set[date]) -> str:
    return "trading_date IN (" + ", ".join(f"DATE'{day.isoformat()}'" for day in sorted(days)) + ")"


def quality_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """ops.data_quality rows as a frame Parquet can hold (``quarantined_by_reason`` as JSON text)."""
    encoded = [{**row, REASONS: json.dumps(row[REASONS])} for row in rows]
    return pd.DataFrame(encoded, columns=QUALITY_COLUMNS)


def quality_rows(encoded: pd.DataFrame) -> list[dict[str, object]]:
    """The rows :func:`quality_frame` encoded."""
    rows: list[dict[str, object]] = encoded.astype(object).where(encoded.notna(), None).to_dict("records")
    return [{**row, REASONS: json.loads(str(row[REASONS]))} for row in rows]


@dataclass
class _Pending:
    """What the next flush writes: the newest book handed over and what changed since the last flush."""

    book: book.Book | None = None
    first_batch: int | None = None
    """The oldest batch handed over since the last flush."""
    positions: bool = False
    marks: bool = False
    pnl_dates: set[date] = field(default_factory=set)
    alerts: list[pd.DataFrame] = field(default_factory=list)
    quality: list[dict[str, object]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.positions or self.marks or self.pnl_dates or self.alerts or self.quality)


class GoldFlusher:
    """Writes the hot query's gold snapshots and data-quality rows in a thread of its own (module doc)."""

    def __init__(
        self,
        spark: SparkSession,
        writer: str,
        tables: dict[str, TableRef],
        data_quality: TableRef,
        interval_s: float,
    ) -> None:
        """``interval_s``: at least this long between the starts of two flushes (closing flushes at once)."""
        self._spark = spark
        self._interval_s = interval_s
        self._writer = writer
        self._tables = tables
        self._data_quality = data_quality
        self._condition = threading.Condition()
        self._pending = _Pending()
        self._in_flight = _Pending()
        self._closing = False
        self._error: BaseException | None = None
        self._last_start = 0.0
        self._quality_replay_possible = True
        self._thread = threading.Thread(target=self._loop, name=f"{writer} gold flusher", daemon=True)
        self._thread.start()

    def restore(self, saved: book.Book, alerts: pd.DataFrame, quality: list[dict[str, object]]) -> None:
        """After a restart: every snapshot table from ``saved`` and the outbox the saved book carried."""
        self.submit(
            saved,
            positions=True,
            marks=True,
            pnl_dates=set(saved.pnl["trading_date"]) if not saved.pnl.empty else set(),
            alerts=alerts,
            quality=quality,
        )

    def submit(
        self,
        new_book: book.Book,
        *,
        positions: bool,
        marks: bool,
        pnl_dates: set[date],
        alerts: pd.DataFrame,
        quality: list[dict[str, object]],
    ) -> None:
        """Hand over a batch whose book is saved: the flusher writes it with whatever else is pending."""
        with self._condition:
            self.check()
            pending = self._pending
            pending.book = new_book
            if pending.first_batch is None:
                pending.first_batch = new_book.batch_id
            pending.positions |= positions
            pending.marks |= marks
            pending.pnl_dates |= pnl_dates
            if not alerts.empty:
                pending.alerts.append(alerts)
            pending.quality.extend(quality)
            self._condition.notify_all()

    def outbox(self) -> tuple[pd.DataFrame, list[dict[str, object]]]:
        """The alert and data-quality rows handed over and not yet known committed, oldest first."""
        with self._condition:
            alerts = [*self._in_flight.alerts, *self._pending.alerts]
            quality = [*self._in_flight.quality, *self._pending.quality]
        return (pd.concat(alerts, ignore_index=True) if alerts else book.empty(book.ALERT_COLUMNS)), quality

    def check(self) -> None:
        """Raise the error a flush failed with (the query then fails; the outbox is in the saved book)."""
        if self._error is not None:
            raise PipelineError(f"{self._writer}: writing the gold snapshots failed: {self._error}") from self._error

    def close(self) -> None:
        """Flush what is pending now and stop the thread; raise if a flush failed."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join()
        self.check()

    def _loop(self) -> None:
        context = self._spark.sparkContext
        context.setLocalProperty(SCHEDULER_POOL, SNAPSHOT_POOL)
        while True:
            with self._condition:
                while self._pending.empty() and not self._closing:
                    self._condition.wait()
                if self._pending.empty():
                    return
                wait = self._interval_s - (time.monotonic() - self._last_start)
                if wait > 0 and not self._closing:
                    self._condition.wait(wait)
                    continue
                self._in_flight, self._pending = self._pending, _Pending(book=self._pending.book)
                self._last_start = time.monotonic()
                taken = self._in_flight
            try:
                self._flush(taken)
            except BaseException as error:
                log.exception("%s: gold flush failed", self._writer)
                with self._condition:
                    self._error = error
                    self._condition.notify_all()
                return
            with self._condition:
                self._in_flight = _Pending()

    def _flush(self, taken: _Pending) -> None:
        assert taken.book is not None
        started = time.monotonic()
        spark, saved = self._spark, taken.book
        marker = batch_marker(self._writer, saved.batch_id)
        written: list[str] = []
        if taken.positions:
            self._overwrite("positions", frame(spark, saved.positions, gold.POSITIONS_DDL), marker)
            written.append("positions")
        if taken.marks:
            self._overwrite("marks", frame(spark, saved.marks, gold.MARKS_DDL), marker)
            written.append("marks")
        if taken.pnl_dates:
            days = saved.pnl[saved.pnl["trading_date"].isin(taken.pnl_dates)]
            self._overwrite("pnl", frame(spark, days, gold.PNL_DDL), marker, dates_predicate(taken.pnl_dates))
            written.append("pnl")
        if taken.alerts:
            latest = pd.concat(taken.alerts, ignore_index=True).drop_duplicates(ALERT_KEY, keep="last")
            rows = frame(spark, latest, gold.RISK_ALERTS_DDL)
            self._overwrite("risk_alerts", rows, marker, alert_keys_predicate(latest))
            written.append("risk_alerts")
        if taken.quality:
            self._append_quality(taken.quality)
            written.append("data_quality")
        log.debug(
            "%s flush to batch %d (%s): %.2fs",
            self._writer,
            saved.batch_id,
            ", ".join(written),
            time.monotonic() - started,
        )
        first = saved.batch_id if taken.first_batch is None else taken.first_batch
        crash_point("flush", *range(first, saved.batch_id + 1))

    def _overwrite(self, name: str, rows: DataFrame, marker: str, replace_where: str | None = None) -> None:
        overwrite(self._tables[name], rows, marker, replace_where)

    def _append_quality(self, rows: list[dict[str, object]]) -> None:
        app_id = f"{self._writer}:data_quality"
        if self._quality_replay_possible:
            written = last_batch_written(self._spark, self._data_quality, app_id)
            rows = [row for row in rows if written is None or int(row["batch_id"]) > written]  # type: ignore[call-overload]
            self._quality_replay_possible = False
        if not rows:
            return
        newest = max(int(row["batch_id"]) for row in rows)  # type: ignore[call-overload]
        output = frame(self._spark, pd.DataFrame(rows), DATA_QUALITY_DDL)
        self._data_quality.save(
            output.write.format("delta").mode("append").option("userMetadata", batch_marker(app_id, newest))
        )
