"""The hot query: Kafka -> silver and gold -> ``gold.portfolio_risk`` within one micro-batch.

One named query (``hot_risk``), one checkpoint. It reads the trades and prices topics itself (never
waiting for bronze, which lands the raw records in queries of its own) and per micro-batch:

* in Spark, on the stream: parse and validate the records, enrich the trades against the reference
  Delta tables, run the JVM lifecycle operator (:func:`jobs.silver.classify`, the same code silver
  ran on bronze) and check the ticks (:mod:`transformations.prices`); the two streams are unioned
  (:func:`transformations.marks.batch_inputs`) into the batch the ``foreachBatch`` function receives;
* on the driver: the accepted events and ticks (a few thousand narrow rows) move the book it keeps in
  memory, positions, marks and P&L, and the touched portfolios' risk is recomputed
  (:func:`transformations.book.apply_batch`, the risk model of :mod:`transformations.risk`);
* writes, each table at most once and none with MERGE: ``gold.portfolio_risk`` first (an overwrite of
  the small current table), then concurrently from a few driver threads silver.trades /
  silver.prices / silver.quarantine / ops.data_quality (appends), gold.positions and gold.marks
  (overwrites), today's gold.pnl rows (``replaceWhere`` on the trading date), the batch's alerts
  (``replaceWhere`` on their keys, then the alerts topic); last, the book itself, a file beside the
  checkpoint (:data:`BOOK_FOLDER`).

Exactly once. The checkpoint holds the Kafka offsets and the lifecycle state; the book holds the batch
id it last applied. After a crash Spark re-runs the one batch it had not committed, with the same
records and the same lifecycle state, so the book (reloaded from the checkpoint's book folder) gives the same rows
again: the overwrites write what they wrote before, the appends are skipped where their commit carries
the batch's marker (:func:`jobs.silver.append_once`), and a batch whose book was already saved is
skipped whole. Topic delivery of alerts is at-least-once (consumers dedupe on ``alert_id``).

The book starts from nothing only on empty gold tables: a checkpoint without a book beside gold tables that
hold positions (written by another checkpoint, or by the layered gold job of an earlier release) is
refused with a message naming ``riskstream rebuild``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Literal

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from jobs.gold import GOLD_TABLES, create_gold_tables
from jobs.hot_flush import KILL_AT_ENV, GoldFlusher, crash_point, frame, overwrite, quality_frame, quality_rows
from jobs.risk_inputs import RiskInputs
from jobs.silver import _query_id, append_once, batch_marker, classify, create_silver_tables, to_silver_trades
from riskstream import hadoop_files
from riskstream.config import Settings, TriggerConfig
from riskstream.errors import PipelineError
from riskstream.kafka_options import spark_sink_options, spark_source_options
from riskstream.prerequisites import check_inputs
from riskstream.runtime import bootstrap_servers
from riskstream.sinks import SCHEDULER_POOL, write_delta
from riskstream.tables import Catalog, TableRef
from transformations import book, gold, marks, prices
from transformations.bronze import to_bronze
from transformations.parsing import to_quarantine
from transformations.quality import quality_row
from transformations.scoring import RuleScorer, Scorer

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyspark import SparkContext
    from pyspark.sql import DataFrame, SparkSession

QUERY_NAME = "hot_risk"
BOOK_FOLDER = "book"
"""Under the query's checkpoint: ``<batch id>.zip``, the book after that batch (positions, marks and P&L as
Parquet members), written whole or not at all; the newest :data:`BOOKS_KEPT` are kept."""
BOOKS_KEPT = 3
BOOK_FRAMES = ("positions", "marks", "pnl")
OUTBOX_ALERTS, OUTBOX_QUALITY = "outbox_alerts", "outbox_quality"
"""Book members beside the frames: the alert and data-quality rows not yet known committed (:mod:`jobs.hot_flush`)."""
WRITER_THREADS = 4
"""Driver threads writing a batch's silver appends and alerts after gold.portfolio_risk: Delta commits overlap."""
__all__ = ["KILL_AT_ENV", "QUERY_NAME", "HotBatchWriter", "HotQuery", "run", "start"]
REBUILD_HINT = "run `riskstream rebuild silver` (it moves silver, gold and the checkpoints aside) and start again"

Source = Literal["kafka", "bronze"]

log = logging.getLogger("riskstream.hot")


class _StepTimes:
    """How long each step of a micro-batch took, logged at debug level (``riskstream -v``)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.steps.append((step, now - self._last))
        self._last = now

    def text(self) -> str:
        return ", ".join(f"{step} {seconds:.2f}s" for step, seconds in self.steps)


@dataclass(frozen=True)
class _Collected:
    """What the driver takes of a micro-batch: the accepted events and ticks, the rejected rows' reasons."""

    trades: pd.DataFrame
    ticks: pd.DataFrame
    rejected_trades: list[list[str]]
    rejected_ticks: list[list[str]]


def _collect(trades: DataFrame, ticks: DataFrame) -> _Collected:
    accepted = F.size("reason_codes") == 0
    trade_rows = trades.where(accepted).select(
        *[F.col(name).cast("double") if name == "price" else name for name in book.TRADE_INPUT_COLUMNS]
    )
    return _Collected(
        trade_rows.toPandas(),
        ticks.where(accepted).select(*book.TICK_INPUT_COLUMNS).toPandas(),
        [list(row[0]) for row in trades.where(~accepted).select("reason_codes").collect()],
        [list(row[0]) for row in ticks.where(~accepted).select("reason_codes").collect()],
    )


def _in_pool(context: SparkContext) -> None:
    """Run a writer thread's Spark jobs in the hot query's scheduler pool (a new thread starts in the default one)."""
    context.setLocalProperty(SCHEDULER_POOL, QUERY_NAME)


def _timed(write: Callable[[], None]) -> float:
    started = time.monotonic()
    write()
    return time.monotonic() - started


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class HotBatchWriter:
    """The ``foreachBatch`` function of ``hot_risk`` (module doc)."""

    def __init__(self, settings: Settings, checkpoint: str, kafka_sink_options: dict[str, str], scorer: Scorer) -> None:
        catalog = Catalog(settings)
        self._checkpoint = checkpoint
        self._silver = {name: catalog.table("silver", name) for name in ("trades", "quarantine", "prices")}
        self._gold = {name: catalog.table("gold", name) for name in GOLD_TABLES}
        self._data_quality = catalog.table("ops", "data_quality")
        self._inputs = RiskInputs(settings)
        self._gold_settings = settings.gold
        self._kafka_sink_options = kafka_sink_options
        self._scorer = scorer
        self._query_id: str | None = None
        self._book: book.Book | None = None
        self._flusher: GoldFlusher | None = None
        self._risk = book.empty(list(book.PORTFOLIO_RISK_COLUMNS))
        self._versions: tuple[int, ...] | None = None
        self._reference: book.Reference | None = None
        self._first_of_run = True

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        if self._book is None:
            self._book = self._restore(spark)
        assert self._flusher is not None
        self._flusher.check()
        if batch_id <= self._book.batch_id:
            return  # re-run after a crash that came after this batch's book was saved: nothing left to do
        batch = batch.persist()
        ticks = batch.where(F.col("input") == marks.TICK).select("tick.*").transform(prices.flag_duplicates()).persist()
        try:
            trades = batch.where(F.col("input") == marks.TRADE).select("trade.*")
            self._write(spark, batch_id, trades, ticks)
        finally:
            ticks.unpersist()
            batch.unpersist()
        self._first_of_run = False

    def close(self) -> None:
        """Write the gold snapshots still pending and stop their thread (the query has stopped)."""
        if self._flusher is not None:
            self._flusher.close()

    def _write(self, spark: SparkSession, batch_id: int, trades: DataFrame, ticks: DataFrame) -> None:
        assert self._book is not None and self._flusher is not None
        times = _StepTimes()
        collected = _collect(trades, ticks)
        trade_frame, tick_frame = collected.trades, collected.ticks
        times.done("stream and collect")
        result = self._apply(spark, batch_id, trade_frame, tick_frame)
        times.done("book")
        if result is not None and not result.risk.empty:
            kept = self._risk[~self._risk["portfolio_id"].isin(result.risk["portfolio_id"])]
            parts = [part for part in (kept, result.risk) if not part.empty]
            risk = pd.concat(parts, ignore_index=True).sort_values("portfolio_id", ignore_index=True)
            marker = batch_marker(f"{QUERY_NAME}:{self._query_id}", batch_id)
            overwrite(self._gold["portfolio_risk"], frame(spark, risk, gold.PORTFOLIO_RISK_DDL), marker)
            self._risk = risk
        times.done("portfolio_risk")
        crash_point("risk", batch_id)
        writes = self._appends(batch_id, collected, trades, ticks)
        if result is not None and not result.alerts.empty:
            alerts = frame(spark, result.alerts, gold.RISK_ALERTS_DDL)
            writes.append(("alerts topic", partial(self._publish_alerts, alerts)))
        context = spark.sparkContext
        with ThreadPoolExecutor(max_workers=WRITER_THREADS, initializer=_in_pool, initargs=(context,)) as pool:
            seconds = dict(
                zip([name for name, _ in writes], pool.map(_timed, [write for _, write in writes]), strict=True)
            )
        log.debug(
            "%s batch %d writes: %s", QUERY_NAME, batch_id, ", ".join(f"{k} {v:.2f}s" for k, v in seconds.items())
        )
        times.done(f"{len(writes)} writes")
        crash_point("writes", batch_id)
        self._hand_over(spark, batch_id, collected, result)
        times.done("book saved")
        log.debug(
            "%s batch %d (%d events, %d ticks): %s",
            QUERY_NAME,
            batch_id,
            len(trade_frame),
            len(tick_frame),
            times.text(),
        )
        crash_point("book", batch_id)

    def _hand_over(
        self, spark: SparkSession, batch_id: int, collected: _Collected, result: book.BatchResult | None
    ) -> None:
        """Save the book after this batch with the outbox, then give the gold snapshots to the flusher."""
        assert self._book is not None and self._flusher is not None
        new_book = result.book if result is not None else replace(self._book, batch_id=batch_id)
        now = pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime()
        quality = quality_row(QUERY_NAME, batch_id, collected.trades, collected.rejected_trades, now)
        alerts = result.alerts if result is not None else book.empty(book.ALERT_COLUMNS)
        outbox_alerts, outbox_quality = self._flusher.outbox()
        if not alerts.empty:
            outbox_alerts = pd.concat([part for part in (outbox_alerts, alerts) if not part.empty], ignore_index=True)
        if quality is not None:
            outbox_quality = [*outbox_quality, quality]
        self._save_book(spark, new_book, outbox_alerts, outbox_quality)
        self._book = new_book
        moved = result is not None
        trading_date = result.trading_date if result is not None and not result.pnl_rows.empty else None
        self._flusher.submit(
            new_book,
            positions=moved,
            marks=moved and result is not None and result.marks_moved,
            pnl_dates={trading_date} if trading_date is not None else set(),
            alerts=alerts,
            quality=[quality] if quality is not None else [],
        )

    def _apply(
        self, spark: SparkSession, batch_id: int, trades: pd.DataFrame, ticks: pd.DataFrame
    ) -> book.BatchResult | None:
        versions = self._inputs.versions(spark, self._versions)
        recompute_all = versions != self._versions
        if trades.empty and ticks.empty and not recompute_all:
            return None
        if recompute_all or self._reference is None:
            self._reference = self._load_reference(spark)
        assert self._book is not None
        result = book.apply_batch(
            self._book,
            trades,
            ticks,
            batch_id,
            self._reference,
            self._inputs.model(spark, versions),
            concentration_limit=self._gold_settings.concentration_limit,
            single_trade_limit_share=self._gold_settings.single_trade_limit_share,
            recompute_all=recompute_all,
        )
        self._versions = versions
        return result

    def _load_reference(self, spark: SparkSession) -> book.Reference:
        reference = self._inputs.reference
        rates = reference["fx_rates"].read(spark).groupBy("currency").agg(F.max_by("usd_rate", "as_of").alias("rate"))
        instruments = reference["instruments"].read(spark).select("instrument_id", "daily_vol", "reference_price")
        portfolios = (
            reference["portfolios"]
            .read(spark)
            .select("portfolio_id", "gross_limit", "var_limit", "single_trade_limit", "stress_loss_limit")
        )
        return book.Reference(
            {row["currency"]: float(row["rate"]) for row in rates.collect()},
            instruments.toPandas(),
            portfolios.toPandas(),
        )

    def _appends(
        self, batch_id: int, collected: _Collected, trades: DataFrame, ticks: DataFrame
    ) -> list[tuple[str, Callable[[], None]]]:
        """The batch's silver appends, leaving out empty ones: a commit costs the same whatever it holds."""
        outputs: list[tuple[str, TableRef, DataFrame]] = []
        if len(collected.trades):
            outputs.append(("trades", self._silver["trades"], trades.transform(to_silver_trades(self._scorer))))
        if len(collected.ticks):
            outputs.append(("prices", self._silver["prices"], ticks.transform(prices.to_silver_prices())))
        if collected.rejected_trades or collected.rejected_ticks:
            quarantine = (
                trades.where(F.size("reason_codes") > 0)
                .transform(to_quarantine())
                .unionByName(ticks.transform(prices.to_tick_quarantine()))
            )
            outputs.append(("quarantine", self._silver["quarantine"], quarantine))
        return [(name, self._append(name, table, output, batch_id)) for name, table, output in outputs]

    def _append(self, name: str, table: TableRef, output: DataFrame, batch_id: int) -> Callable[[], None]:
        app_id = f"{QUERY_NAME}:{self._query_id}:{name}"
        replay_possible = self._first_of_run

        def write() -> None:
            append_once(output, table, app_id, batch_id, replay_possible=replay_possible)

        return write

    def _publish_alerts(self, alerts: DataFrame) -> None:
        """The batch's alerts on the alerts topic now; their gold.risk_alerts rows come with the next flush."""
        gold.alert_records(alerts).write.format("kafka").options(**self._kafka_sink_options).save()

    def _save_book(
        self,
        spark: SparkSession,
        saved: book.Book,
        alerts: pd.DataFrame,
        quality: list[dict[str, object]],
    ) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in BOOK_FRAMES:
                archive.writestr(f"{name}.parquet", _parquet(getattr(saved, name)))
            archive.writestr(f"{OUTBOX_ALERTS}.parquet", _parquet(alerts))
            archive.writestr(f"{OUTBOX_QUALITY}.parquet", _parquet(quality_frame(quality)))
        folder = f"{self._checkpoint}/{BOOK_FOLDER}"
        hadoop_files.write_bytes(spark, f"{folder}/{saved.batch_id}.zip", buffer.getvalue())
        for batch_id in _book_batches(spark, folder)[:-BOOKS_KEPT]:
            hadoop_files.delete(spark, f"{folder}/{batch_id}.zip")

    def _restore(self, spark: SparkSession) -> book.Book:
        """The book after the last batch this checkpoint applied, gold.portfolio_risk as it stands, and the
        flusher started with the saved book's snapshots and outbox pending."""
        self._query_id = _query_id(spark, self._checkpoint)
        interval_s = pd.Timedelta(self._gold_settings.snapshot_interval).total_seconds()
        writer = f"{QUERY_NAME}:{self._query_id}"
        self._flusher = GoldFlusher(spark, writer, self._gold, self._data_quality, interval_s)
        folder = f"{self._checkpoint}/{BOOK_FOLDER}"
        saved = _book_batches(spark, folder)
        if not saved:
            if not self._gold["positions"].read(spark).isEmpty():
                raise PipelineError(
                    f"{QUERY_NAME}: gold.positions holds rows that checkpoint {self._checkpoint} did not write "
                    f"(another checkpoint, or the layered gold job); {REBUILD_HINT}"
                )
            return book.Book.new()
        with zipfile.ZipFile(io.BytesIO(hadoop_files.read_bytes(spark, f"{folder}/{saved[-1]}.zip"))) as archive:
            members = set(archive.namelist())
            frames = {
                name: pd.read_parquet(io.BytesIO(archive.read(f"{name}.parquet")))
                for name in (*BOOK_FRAMES, OUTBOX_ALERTS, OUTBOX_QUALITY)
                if f"{name}.parquet" in members
            }
        self._risk = self._gold["portfolio_risk"].read(spark).toPandas()
        restored = book.Book(frames["positions"], frames["marks"], frames["pnl"], saved[-1])
        self._flusher.restore(
            restored,
            frames.get(OUTBOX_ALERTS, book.empty(book.ALERT_COLUMNS)),
            quality_rows(frames[OUTBOX_QUALITY]) if OUTBOX_QUALITY in frames else [],
        )
        return restored


def _book_batches(spark: SparkSession, folder: str) -> list[int]:
    """The batch ids of the books saved in ``folder``, oldest first."""
    names = hadoop_files.list_names(spark, folder)
    return sorted(int(name.removesuffix(".zip")) for name in names if name.endswith(".zip"))


def create_hot_tables(spark: SparkSession, catalog: Catalog) -> None:
    """Every table the hot query writes, created if missing."""
    create_silver_tables(spark, catalog)
    create_gold_tables(spark, catalog)


def _sources(spark: SparkSession, settings: Settings, source: Source) -> tuple[DataFrame, DataFrame]:
    """Trade and tick records with bronze's columns: read from Kafka, or from bronze (a rebuild)."""
    catalog = Catalog(settings)
    stream = settings.streams.hot
    if source == "bronze":
        options = {"maxFilesPerTrigger": str(stream.max_files_per_trigger)} if stream.max_files_per_trigger else {}
        return tuple(  # type: ignore[return-value]
            catalog.table("bronze", name).read_stream(spark, options) for name in ("trade_events", "price_ticks")
        )
    servers = bootstrap_servers(settings)

    def records(topic: str) -> DataFrame:
        options = spark_source_options(
            settings.kafka, servers, max_offsets_per_trigger=stream.max_offsets_per_trigger, topic=topic
        )
        return spark.readStream.format("kafka").options(**options).load().transform(to_bronze())

    return records(settings.kafka.topic), records(settings.kafka.prices_topic)


def start(
    spark: SparkSession,
    settings: Settings,
    trigger: TriggerConfig | None = None,
    source: Source = "kafka",
    scorer: Scorer | None = None,
) -> StreamingQuery | None:
    """Start ``hot_risk`` (with availableNow: run it to completion and return None)."""
    catalog = Catalog(settings)
    check_inputs(spark, settings, "hot")
    create_hot_tables(spark, catalog)
    reference = {
        name: catalog.table("reference", name).read(spark) for name in ("portfolios", "instruments", "fx_rates")
    }
    trade_records, tick_records = _sources(spark, settings, source)
    classified = trade_records.transform(
        classify(settings.silver, reference["portfolios"], reference["instruments"], reference["fx_rates"])
    )
    checked = tick_records.transform(
        prices.parse_ticks(settings.silver.tick_max_age, settings.silver.future_skew)
    ).transform(prices.check_reference(reference["instruments"], reference["fx_rates"]))
    checkpoint = catalog.checkpoint(QUERY_NAME)
    sink_options = spark_sink_options(settings.kafka, bootstrap_servers(settings), settings.kafka.alerts_topic)
    writer = HotBatchWriter(settings, checkpoint, sink_options, scorer or RuleScorer())
    try:
        query = write_delta(
            marks.batch_inputs(classified, checked),
            catalog.table("gold", "portfolio_risk"),
            query_name=QUERY_NAME,
            checkpoint=checkpoint,
            trigger=trigger or settings.streams.hot.trigger,
            foreach_batch=writer,
        )
    except BaseException:
        with contextlib.suppress(Exception):  # the query's own error is the one to report
            writer.close()
        raise
    if query is None:
        writer.close()
        return None
    return HotQuery(query, writer)


class HotQuery(StreamingQuery):
    """The running ``hot_risk`` query; :meth:`stop` also writes the gold snapshots still pending."""

    def __init__(self, query: StreamingQuery, writer: HotBatchWriter) -> None:
        super().__init__(query._jsq)
        self._writer = writer

    def stop(self) -> None:
        super().stop()
        self._writer.close()


def run(spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None) -> StreamingQuery | None:
    """The ``riskstream run hot`` entry point: None once availableNow has finished, else the running query."""
    return start(spark, settings, trigger)
