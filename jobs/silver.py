"""Silver job: ``bronze.trade_events`` -> ``silver.trades``; ``bronze.price_ticks`` -> ``silver.prices``.

Two named queries, one checkpoint each; rejected records of both go to ``silver.quarantine``
(``source_topic`` tells them apart). ``silver_prices`` is :func:`run_prices` (the tick rules are in
:mod:`transformations.prices`); the rest of this note is about ``silver_trades``. Per bronze row: parse and validate
(:func:`~transformations.parsing.parse_events`), enrich against the reference Delta tables (a
stream-static join: the Delta static side is re-resolved every micro-batch, so ``riskstream
reference load`` reaches a running query without a restart; ``tests/test_silver_job.py`` checks
it), derive amounts, then the stateful operator
(:func:`~transformations.lifecycle.track_lifecycle`: dedupe, lateness, NEW/AMEND/CANCEL). Every row
comes out of that operator exactly once, so every bronze row lands in exactly one of the two tables.

Exactly once: the checkpoint records which bronze files each micro-batch read and the operator's
state; ``foreachBatch`` writes both tables, and the batch's ``ops.data_quality`` row
(:func:`~transformations.quality.batch_quality`), each commit marked with the writer and the batch id
in its ``userMetadata`` (:func:`append_once`), so a batch replayed after a crash writes nothing twice,
even if it crashed between the writes. Only the first batch a run writes can be a replay (Spark
re-runs the one batch whose commit it did not record, then moves on), so only that batch reads the
tables' recent history to skip what is already there; later batches append without a lookup. Delta's
own ``txnAppId`` / ``txnVersion`` options would do the same check on every write, at about 0.7 s per
write on this machine type (a 10-row append: 0.9 to 1.0 s with them, 0.25 s without). The app id
includes the streaming query's id (from the checkpoint), so a fresh checkpoint, whose batch ids
restart at 0, is not mistaken for a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from riskstream.config import Settings, SilverConfig, TriggerConfig
from riskstream.errors import PipelineError
from riskstream.rebuild import check_silver_checkpoint
from riskstream.sinks import write_delta
from riskstream.tables import Catalog, TableRef
from transformations import Transform, prices
from transformations.bronze import BRONZE_DDL
from transformations.enrichment import derive_amounts, enrich
from transformations.lifecycle import flag_lateness, track_lifecycle
from transformations.parsing import parse_events, to_quarantine
from transformations.quality import DATA_QUALITY_DDL, batch_quality
from transformations.schemas import QUARANTINE_DDL, SILVER_PRICES_DDL, SILVER_TRADES_DDL, schema
from transformations.scoring import RuleScorer, Scorer

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

QUERY_NAME = "silver_trades"
PRICES_QUERY_NAME = "silver_prices"
_PARSE_CODES = "_parse_reason_codes"
_PARSE_DETAILS = "_parse_reason_details"


def classify(settings: SilverConfig, portfolios: DataFrame, instruments: DataFrame, fx_rates: DataFrame) -> Transform:
    """Bronze rows -> one row per bronze row with ``reason_codes`` (empty = accepted) and lifecycle deltas.

    Enrichment runs on every row (a stream has no cheap split-and-union), but a row the parser
    already rejected keeps only its parse reasons: a malformed record is ``malformed_json``, not also
    ``unknown_portfolio``.
    """

    def transform(bronze_rows: DataFrame) -> DataFrame:
        parsed = bronze_rows.transform(parse_events(settings.future_skew, now=F.col("kafka_ts"))).withColumns(
            {_PARSE_CODES: F.col("reason_codes"), _PARSE_DETAILS: F.col("reason_details")}
        )
        parse_failed = F.size(_PARSE_CODES) > 0
        enriched = (
            parsed.transform(enrich(portfolios, instruments, fx_rates))
            .withColumns(
                {
                    "reason_codes": F.when(parse_failed, F.col(_PARSE_CODES)).otherwise(F.col("reason_codes")),
                    "reason_details": F.when(parse_failed, F.col(_PARSE_DETAILS)).otherwise(F.col("reason_details")),
                }
            )
            .drop(_PARSE_CODES, _PARSE_DETAILS)
            .transform(derive_amounts())
        )
        return enriched.transform(flag_lateness(settings.watermark)).transform(
            track_lifecycle(settings.watermark, settings.lifecycle_state_ttl)
        )

    return transform


def to_silver_trades(scorer: Scorer, processed_ts: F.Column | None = None) -> Transform:
    """Accepted rows -> exactly the columns of ``silver.trades``, scored."""
    processed = processed_ts if processed_ts is not None else F.current_timestamp()

    def transform(classified: DataFrame) -> DataFrame:
        scored = classified.where(F.size("reason_codes") == 0).transform(scorer)
        return scored.withColumn("processed_ts", processed).select(*schema(SILVER_TRADES_DDL).fieldNames())

    return transform


STATS_COLUMNS = {
    "trades": "event_id,trade_id,portfolio_id,instrument_id,trade_ts,processed_ts",
    "prices": "tick_id,instrument_id,tick_ts,processed_ts",
    "quarantine": "source_partition,source_offset,event_id,trade_id,ingest_ts,quarantined_ts",
}
"""The columns Delta keeps file statistics on (``delta.dataSkippingStatsColumns``): what readers filter on.
Delta's default is the first 32 columns; collecting those cost silver about an eighth of its write time."""


_SILVER_DDL = {"trades": SILVER_TRADES_DDL, "quarantine": QUARANTINE_DDL, "prices": SILVER_PRICES_DDL}


def create_silver_tables(spark: SparkSession, catalog: Catalog) -> None:
    """Create ``silver.trades``, ``silver.quarantine``, ``silver.prices`` and ``ops.data_quality`` if missing."""
    for name in _SILVER_DDL:
        create_silver_table(spark, catalog, name)
    catalog.table("ops", "data_quality").create_if_missing(spark, DATA_QUALITY_DDL)


def create_silver_table(spark: SparkSession, catalog: Catalog, name: str) -> None:
    """Create ``silver.<name>`` with its contract schema and statistics columns if missing. gold calls
    it for ``prices`` too: its query reads silver.prices, and a deployment upgraded to the price stream
    may start gold before the new silver query has run."""
    properties = {"delta.dataSkippingStatsColumns": STATS_COLUMNS[name]}
    catalog.table("silver", name).create_if_missing(spark, _SILVER_DDL[name], properties=properties)


class _BatchAppender:
    """Appends each output of a micro-batch once (:func:`append_once`), as writer ``<query>:<query id>:<output>``.

    Only the first batch of a run can be a replay, so only it reads the tables' history (module doc).
    A failure is raised as a :class:`PipelineError` naming the query, the batch and its bronze rows.
    """

    def __init__(self, query_name: str, checkpoint: str, bronze: TableRef) -> None:
        self._query_name = query_name
        self._checkpoint = checkpoint
        self._bronze = bronze
        self._query_id: str | None = None

    def append(
        self, session: SparkSession, batch_id: int, outputs: Callable[[], Iterable[tuple[str, TableRef, DataFrame]]]
    ) -> None:
        first_of_run = self._query_id is None
        if self._query_id is None:
            self._query_id = _query_id(session, self._checkpoint)
        try:
            for name, table, output in outputs():
                app_id = f"{self._query_name}:{self._query_id}:{name}"
                append_once(output, table, app_id, batch_id, replay_possible=first_of_run)
        except Exception as error:
            rows = bronze_offsets_of_batch(session, self._checkpoint, batch_id, self._bronze)
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise PipelineError(
                f"{self._query_name} batch {batch_id} failed on bronze rows {rows}: {first_line}. The next run "
                "retries the batch from the checkpoint and writes nothing twice"
            ) from error


HISTORY_LOOKBACK = 1000
"""How many of a table's latest commits :func:`last_batch_written` reads (others' commits, such as
``OPTIMIZE``, may come between this writer's)."""
_BATCH_MARKER = "#batch="


def batch_marker(app_id: str, batch_id: int) -> str:
    """The ``userMetadata`` of the commit that appends batch ``batch_id`` of writer ``app_id``."""
    return f"{app_id}{_BATCH_MARKER}{batch_id}"


def last_batch_written(spark: SparkSession, table: TableRef, app_id: str) -> int | None:
    """The batch id of ``app_id``'s newest commit to ``table`` (its ``userMetadata``), None if there is none."""
    history = spark.sql(f"DESCRIBE HISTORY {table.sql_name} LIMIT {HISTORY_LOOKBACK}").select("userMetadata")
    for row in history.collect():  # newest first
        writer, marker, batch = (row.userMetadata or "").rpartition(_BATCH_MARKER)
        if marker and writer == app_id and batch.isdigit():
            return int(batch)
    return None


def append_once(df: DataFrame, table: TableRef, app_id: str, batch_id: int, *, replay_possible: bool = True) -> bool:
    """Append ``df`` unless ``table`` already holds the commit of (``app_id``, ``batch_id``); True if it appended.

    With ``replay_possible`` the table's history is read first (see the module doc); without it the
    caller knows the batch is new and the append is blind. Either way the commit carries
    :func:`batch_marker`.
    """
    if replay_possible:
        written = last_batch_written(df.sparkSession, table, app_id)
        if written is not None and written >= batch_id:
            return False
    table.save(df.write.format("delta").mode("append").option("userMetadata", batch_marker(app_id, batch_id)))
    return True


def _query_id(spark: SparkSession, checkpoint: str) -> str:
    """The streaming query id stored in the checkpoint's ``metadata`` file (stable across restarts)."""
    first_line = spark.read.text(f"{checkpoint}/metadata").first()
    return str(json.loads(first_line[0])["id"]) if first_line else "unknown"


def _files_at(spark: SparkSession, table: TableRef, version: int) -> set[str]:
    if version < 0:
        return set()
    return set(spark.sql(f"SELECT * FROM {table.sql_name} VERSION AS OF {version}").inputFiles())


def bronze_offsets_of_batch(spark: SparkSession, checkpoint: str, batch_id: int, bronze: TableRef) -> str:
    """The Kafka offsets (per topic and partition) of the bronze rows a silver micro-batch read, as text.

    For error messages only, so it never raises. The batch's Delta source offsets come from the
    checkpoint's offset log (written before the batch runs); the bronze files added between them are
    read for their ``offset`` column. Bronze is append-only, so this is exact up to whole Delta
    versions at either end (it may name a few more rows, never fewer).
    """

    def source_offset(batch: int) -> dict[str, Any]:
        lines = [row[0] for row in spark.read.text(f"{checkpoint}/offsets/{batch}").collect()]
        loaded: dict[str, Any] = json.loads(lines[2])  # "v1", the batch metadata, then one line per source
        return loaded

    try:
        end = source_offset(batch_id)
        last_version = int(end["reservoirVersion"]) - (1 if int(end["index"]) < 0 else 0)
        if batch_id == 0 or end.get("isStartingVersion"):
            before: set[str] = set()
        else:
            start = source_offset(batch_id - 1)
            before = _files_at(spark, bronze, int(start["reservoirVersion"]) - 1)
        files = sorted(_files_at(spark, bronze, last_version) - before)
        if not files:
            return "no bronze rows"
        ranges = (
            spark.read.parquet(*files)
            .groupBy("topic", "partition")
            .agg(F.min("offset").alias("first"), F.max("offset").alias("last"))
            .orderBy("topic", "partition")
            .collect()
        )
        return ", ".join(f"{row.topic}[{row.partition}] offsets {row.first}-{row.last}" for row in ranges)
    except Exception as error:  # a failing lookup must not hide the batch's own error
        return f"bronze offsets unknown ({type(error).__name__})"


def run(
    spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None, scorer: Scorer | None = None
) -> list[StreamingQuery] | None:
    """Start (or, for availableNow, run to completion) the two silver queries: trades, then prices."""
    started = [run_trades(spark, settings, trigger, scorer), run_prices(spark, settings, trigger)]
    return [query for query in started if query is not None] or None


def run_prices(spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None) -> StreamingQuery | None:
    """``silver_prices``: bronze.price_ticks -> silver.prices and silver.quarantine, exactly once.

    The same guarantees as the trades query: every bronze row lands in exactly one of the two tables
    (:mod:`transformations.prices`), and each append is marked with the writer and the batch id
    (:func:`append_once`), so a replayed batch writes nothing twice.
    """
    catalog = Catalog(settings)
    stream = settings.streams.prices or settings.streams.silver
    prices_table, quarantine = catalog.table("silver", "prices"), catalog.table("silver", "quarantine")
    checkpoint = catalog.checkpoint(PRICES_QUERY_NAME)
    for name in ("prices", "quarantine"):
        create_silver_table(spark, catalog, name)
    source_options = {"maxFilesPerTrigger": str(stream.max_files_per_trigger)} if stream.max_files_per_trigger else {}
    bronze = catalog.table("bronze", "price_ticks")
    # an upgraded deployment may run the new silver before the new bronze query has created it
    bronze.create_if_missing(spark, BRONZE_DDL, partitioned_by=("ingest_date",))
    reference = {name: catalog.table("reference", name).read(spark) for name in ("instruments", "fx_rates")}
    checked = (
        bronze.read_stream(spark, source_options)
        .transform(prices.parse_ticks(settings.silver.tick_max_age, settings.silver.future_skew))
        .transform(prices.check_reference(reference["instruments"], reference["fx_rates"]))
    )
    appender = _BatchAppender(PRICES_QUERY_NAME, checkpoint, bronze)

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        flagged = batch.transform(prices.flag_duplicates()).persist()
        try:
            appender.append(
                batch.sparkSession,
                batch_id,
                lambda: (
                    ("prices", prices_table, flagged.transform(prices.to_silver_prices())),
                    ("quarantine", quarantine, flagged.transform(prices.to_tick_quarantine())),
                ),
            )
        finally:
            flagged.unpersist()

    return write_delta(
        checked,
        prices_table,
        query_name=PRICES_QUERY_NAME,
        checkpoint=checkpoint,
        trigger=trigger or stream.trigger,
        foreach_batch=write_batch,
    )


def run_trades(
    spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None, scorer: Scorer | None = None
) -> StreamingQuery | None:
    """``silver_trades``: bronze.trade_events -> silver.trades, silver.quarantine and ops.data_quality."""
    catalog = Catalog(settings)
    stream = settings.streams.silver
    trades, quarantine = catalog.table("silver", "trades"), catalog.table("silver", "quarantine")
    data_quality = catalog.table("ops", "data_quality")
    checkpoint = catalog.checkpoint(QUERY_NAME)
    check_silver_checkpoint(spark, checkpoint)
    create_silver_tables(spark, catalog)
    source_options = {"maxFilesPerTrigger": str(stream.max_files_per_trigger)} if stream.max_files_per_trigger else {}
    bronze = catalog.table("bronze", "trade_events")
    bronze_rows = bronze.read_stream(spark, source_options)
    reference = {
        name: catalog.table("reference", name).read(spark) for name in ("portfolios", "instruments", "fx_rates")
    }
    classified = bronze_rows.transform(
        classify(settings.silver, reference["portfolios"], reference["instruments"], reference["fx_rates"])
    )
    trade_scorer = scorer or RuleScorer()
    appender = _BatchAppender(QUERY_NAME, checkpoint, bronze)

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            appender.append(
                batch.sparkSession,
                batch_id,
                lambda: (
                    ("trades", trades, batch.transform(to_silver_trades(trade_scorer))),
                    ("quarantine", quarantine, batch.where(F.size("reason_codes") > 0).transform(to_quarantine())),
                    ("data_quality", data_quality, batch.transform(batch_quality(QUERY_NAME, batch_id))),
                ),
            )
        finally:
            batch.unpersist()

    return write_delta(
        classified,
        trades,
        query_name=QUERY_NAME,
        checkpoint=checkpoint,
        trigger=trigger or stream.trigger,
        foreach_batch=write_batch,
    )
