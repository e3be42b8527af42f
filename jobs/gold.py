"""Gold job: silver.trades (Delta source) -> the five gold tables and the risk-alerts topic.

Three named queries, one checkpoint each:

* ``gold_portfolio_risk_1m`` and ``gold_exposure_by_asset_class_5m``: watermarked window
  aggregations in update mode, upserted with MERGE on the table key (a late event replaces its
  window's row; a replayed batch writes the same values again).
* ``gold_positions``: per micro-batch, MERGE the lifecycle deltas into gold.positions (skipped for
  rows already stamped with this batch id, so a replay is a no-op), re-mark other portfolios'
  positions in the traded instruments, recompute gold.portfolio_risk for the touched portfolios
  (for every portfolio when the instruments, portfolios or correlations reference table or
  ``gold.risk_factors`` has a new Delta version, looked up at most once per ``gold.reference_check_interval``, so new
  volatilities, correlations or limits reach all of gold.portfolio_risk with the next batch after
  the look-up, not only the traded portfolios), MERGE gold.risk_alerts on (portfolio_id, rule,
  window_start) and publish the batch's alerts to ``kafka.alerts_topic`` (neither when the batch
  raised no alert). Topic delivery is at-least-once (a replayed batch publishes again);
  consumers dedupe on ``alert_id``, the hash of the alert key carried in every record.

Why a batch-id column rather than Delta's idempotent-DML session confs
(``spark.databricks.delta.write.txnAppId/txnVersion``, which MERGE honours since delta-io/delta
PR #1555): those are *session* settings, and the three gold queries share one session, so a conf
set by one query's batch could tag, and wrongly skip, another query's concurrent commit.

Every gold table is created with ``delta.enableChangeDataFeed = true`` for the Snowflake sync.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from jobs.risk_inputs import RiskInputs
from jobs.silver import create_silver_table
from riskstream.config import Settings, StreamConfig, TriggerConfig
from riskstream.kafka_options import spark_sink_options
from riskstream.prerequisites import check_inputs
from riskstream.rebuild import check_positions_checkpoint
from riskstream.runtime import bootstrap_servers
from riskstream.sinks import BatchFunction, write_delta
from riskstream.tables import Catalog, TableRef
from transformations import gold, marks

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

QUERY_PORTFOLIO_RISK_1M = "gold_portfolio_risk_1m"
QUERY_EXPOSURE_5M = "gold_exposure_by_asset_class_5m"
QUERY_POSITIONS = "gold_positions"

GOLD_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "portfolio_risk_1m": (gold.PORTFOLIO_RISK_1M_DDL, ("portfolio_id", "window_start")),
    "exposure_by_asset_class_5m": (gold.EXPOSURE_BY_ASSET_CLASS_5M_DDL, ("desk", "asset_class", "window_start")),
    "positions": (gold.POSITIONS_DDL, ("portfolio_id", "instrument_id")),
    "portfolio_risk": (gold.PORTFOLIO_RISK_DDL, ("portfolio_id",)),
    "risk_alerts": (gold.RISK_ALERTS_DDL, ("portfolio_id", "rule", "window_start")),
    "marks": (gold.MARKS_DDL, ("mark_type", "id")),
    "pnl": (gold.PNL_DDL, ("portfolio_id", "instrument_id", "trading_date")),
}


def create_gold_tables(spark: SparkSession, catalog: Catalog) -> None:
    """Create the gold tables if missing, with the change data feed on; add the columns a table made
    by an earlier release lacks."""
    for name, (ddl, _) in GOLD_TABLES.items():
        table = catalog.table("gold", name)
        table.create_if_missing(spark, ddl, properties={"delta.enableChangeDataFeed": "true"})
        table.add_missing_columns(spark, ddl)


def _key_condition(keys: tuple[str, ...]) -> str:
    return " AND ".join(f"t.`{key}` = s.`{key}`" for key in keys)


def upsert(spark: SparkSession, source: DataFrame, table: TableRef, keys: tuple[str, ...]) -> None:
    """MERGE ``source`` into ``table`` on ``keys``: replace matched rows, insert the others."""
    (
        table.delta_table(spark)
        .alias("t")
        .merge(source.alias("s"), _key_condition(keys))
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )


def upsert_batches(table: TableRef, keys: tuple[str, ...]) -> BatchFunction:
    """A foreachBatch function upserting each micro-batch (update-mode window rows) on ``keys``."""

    def write(batch: DataFrame, batch_id: int) -> None:
        upsert(batch.sparkSession, batch, table, keys)

    return write


_NEWER_MARK = "(s.last_price_ts IS NOT NULL AND (t.last_price_ts IS NULL OR s.last_price_ts >= t.last_price_ts))"
_UPDATED_PRICE = f"CASE WHEN {_NEWER_MARK} THEN s.last_price ELSE t.last_price END"
_NEW_MARKET_VALUE = f"(t.net_quantity + s.delta_quantity) * ({_UPDATED_PRICE}) * s.multiplier * s.fx_rate_to_base"
_POSITION_UPDATE: dict[str, str | Column] = {
    "net_quantity": "t.net_quantity + s.delta_quantity",
    "cost_basis_base": "t.cost_basis_base + s.delta_cost_base",
    "average_cost_base": (
        "CASE WHEN t.net_quantity + s.delta_quantity != 0 "
        "THEN (t.cost_basis_base + s.delta_cost_base) / CAST(t.net_quantity + s.delta_quantity AS DOUBLE) END"
    ),
    "last_price": _UPDATED_PRICE,
    "last_price_ts": "greatest(t.last_price_ts, s.last_price_ts)",
    "fx_rate_to_base": "s.fx_rate_to_base",
    "multiplier": "s.multiplier",
    "market_value_base": f"CAST({_NEW_MARKET_VALUE} AS DOUBLE)",
    "applied_batch_id": "s.batch_id",
}
_POSITION_INSERT: dict[str, str | Column] = {
    **{name: f"s.{name}" for name in ("portfolio_id", "instrument_id", "desk", "asset_class", "sector")},
    **{name: f"s.{name}" for name in ("base_currency", "instrument_currency", "multiplier", "fx_rate_to_base")},
    "net_quantity": "s.delta_quantity",
    "cost_basis_base": "s.delta_cost_base",
    "average_cost_base": (
        "CASE WHEN s.delta_quantity != 0 THEN s.delta_cost_base / CAST(s.delta_quantity AS DOUBLE) END"
    ),
    "last_price": "coalesce(s.last_price, s.reference_price)",
    "last_price_ts": "s.last_price_ts",
    "market_value_base": (
        "CAST(s.delta_quantity AS DOUBLE) * coalesce(s.last_price, s.reference_price) "
        "* s.multiplier * s.fx_rate_to_base"
    ),
    "applied_batch_id": "s.batch_id",
}
_REMARK_UPDATE: dict[str, str | Column] = {
    name: f"s.{name}" for name in ("last_price", "last_price_ts", "fx_rate_to_base", "market_value_base")
}
_KEYS = ("portfolio_id", "instrument_id")


class PositionsRiskAlertsWriter:
    """The foreachBatch of ``gold_positions``: marks -> positions -> pnl -> portfolio_risk -> risk_alerts -> topic.

    A micro-batch holds new silver.trades and silver.prices rows (:func:`transformations.marks.batch_inputs`).
    """

    def __init__(self, settings: Settings, kafka_sink_options: dict[str, str]) -> None:
        catalog = Catalog(settings)
        self._gold = {name: catalog.table("gold", name) for name in GOLD_TABLES}
        self._inputs = RiskInputs(settings)
        self._reference = self._inputs.reference
        self._settings = settings.gold
        self._kafka_sink_options = kafka_sink_options
        self._risk_reference_versions: tuple[int, ...] | None = None
        """The reference tables' Delta versions that gold.portfolio_risk was last fully computed with."""

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        batch = batch.persist()
        try:
            counts = {row["input"]: row["count"] for row in batch.groupBy("input").count().collect()}
            if not counts:
                return
            trades, ticks = marks.split_inputs(batch)
            if counts.get(marks.TRADE):
                self._merge_position_deltas(spark, trades, batch_id)
            new_marks = marks.batch_marks(trades, ticks).persist()
            try:
                self._merge_marks(spark, new_marks, batch_id)
                affected = self._remark_positions(spark, trades, new_marks)
            finally:
                new_marks.unpersist()
            try:
                self._merge_pnl(spark, trades, ticks, affected, batch_id)
                self._risk_and_alerts(spark, trades, ticks, affected)
            finally:
                affected.unpersist()
        finally:
            batch.unpersist()

    def _merge_position_deltas(self, spark: SparkSession, trades: DataFrame, batch_id: int) -> None:
        (
            self._gold["positions"]
            .delta_table(spark)
            .alias("t")
            .merge(trades.transform(gold.position_deltas(batch_id)).alias("s"), _key_condition(_KEYS))
            .whenMatchedUpdate(condition="t.applied_batch_id < s.batch_id", set=_POSITION_UPDATE)
            .whenNotMatchedInsert(values=_POSITION_INSERT)
            .execute()
        )

    def _merge_marks(self, spark: SparkSession, new_marks: DataFrame, batch_id: int) -> None:
        (
            self._gold["marks"]
            .delta_table(spark)
            .alias("t")
            .merge(marks.marks_to_store(new_marks, batch_id).alias("s"), _key_condition(("mark_type", "id")))
            .whenMatchedUpdateAll(condition=marks.MARK_IS_LATER)
            .whenNotMatchedInsertAll()
            .execute()
        )

    def _remark_positions(self, spark: SparkSession, trades: DataFrame, new_marks: DataFrame) -> DataFrame:
        """Re-mark the positions the batch may move; returns their keys, persisted (the caller unpersists)."""
        positions = self._gold["positions"].read(spark)
        affected = marks.affected_positions(trades, new_marks, positions).persist()
        remarked = positions.join(affected, list(_KEYS), "left_semi").transform(
            marks.remark_positions(self._gold["marks"].read(spark), self._reference["fx_rates"].read(spark))
        )
        (
            self._gold["positions"]
            .delta_table(spark)
            .alias("t")
            .merge(remarked.alias("s"), _key_condition(_KEYS))
            .whenMatchedUpdate(set=_REMARK_UPDATE)
            .execute()
        )
        return affected

    def _merge_pnl(
        self, spark: SparkSession, trades: DataFrame, ticks: DataFrame, affected: DataFrame, batch_id: int
    ) -> None:
        positions = self._gold["positions"].read(spark).join(affected, list(_KEYS), "left_semi")
        rows = marks.pnl_rows(
            marks.latest_pnl(self._gold["pnl"].read(spark), affected),
            marks.pnl_flows(trades),
            positions,
            marks.batch_event_time(trades, ticks),
            batch_id,
        )
        (
            self._gold["pnl"]
            .delta_table(spark)
            .alias("t")
            .merge(rows.alias("s"), _key_condition((*_KEYS, "trading_date")))
            .whenMatchedUpdateAll(condition="t.applied_batch_id < s.applied_batch_id")
            .whenNotMatchedInsertAll()
            .execute()
        )

    def _risk_and_alerts(self, spark: SparkSession, trades: DataFrame, ticks: DataFrame, affected: DataFrame) -> None:
        reference_versions = self._inputs.versions(spark, self._risk_reference_versions)
        everyone = reference_versions != self._risk_reference_versions
        touched = trades.select("portfolio_id").unionByName(affected.select("portfolio_id")).distinct()
        risk = self._recompute_risk(spark, touched, everyone, reference_versions).persist()
        try:
            upsert(spark, risk, self._gold["portfolio_risk"], GOLD_TABLES["portfolio_risk"][1])
            self._risk_reference_versions = reference_versions
            alerts = self._alerts(spark, trades, marks.event_times(trades, ticks), risk).persist()
            try:
                if not alerts.isEmpty():  # no MERGE commit and no Kafka write for a batch without alerts
                    upsert(spark, alerts, self._gold["risk_alerts"], GOLD_TABLES["risk_alerts"][1])
                    gold.alert_records(alerts).write.format("kafka").options(**self._kafka_sink_options).save()
            finally:
                alerts.unpersist()
        finally:
            risk.unpersist()

    def _recompute_risk(
        self, spark: SparkSession, touched: DataFrame, everyone: bool, versions: tuple[int, ...]
    ) -> DataFrame:
        positions = self._gold["positions"].read(spark)
        if not everyone:
            positions = positions.join(touched, "portfolio_id", "left_semi")
        instruments = self._reference["instruments"].read(spark)
        return positions.transform(gold.positions_for_risk(instruments, self._portfolios(spark))).transform(
            gold.portfolio_risk(self._inputs.model(spark, versions))
        )

    def _portfolios(self, spark: SparkSession) -> DataFrame:
        return self._reference["portfolios"].read(spark)

    def _alerts(self, spark: SparkSession, trades: DataFrame, event_times: DataFrame, risk: DataFrame) -> DataFrame:
        portfolio_level = risk.transform(gold.portfolio_alerts(event_times, self._settings.concentration_limit))
        single_trade = trades.transform(
            gold.single_trade_alerts(self._portfolios(spark), self._settings.single_trade_limit_share)
        )
        return gold.finish_alerts(portfolio_level.unionByName(single_trade))


def start(
    spark: SparkSession,
    settings: Settings,
    trigger: TriggerConfig | None = None,
    queries: Collection[str] = (QUERY_PORTFOLIO_RISK_1M, QUERY_EXPOSURE_5M, QUERY_POSITIONS),
) -> list[StreamingQuery]:
    """Start the gold queries (all three by default, or those named in ``queries``); with availableNow
    each runs to completion and none is returned."""
    catalog = Catalog(settings)
    silver_trades = catalog.table("silver", "trades")
    check_inputs(spark, settings, "gold" if QUERY_POSITIONS in queries else "windows")
    create_gold_tables(spark, catalog)
    create_silver_table(spark, catalog, "prices")
    streams = settings.streams
    windows_stream = streams.gold_windows or streams.gold

    def source_options(stream: StreamConfig) -> dict[str, str]:
        limit = stream.max_files_per_trigger
        return {} if limit is None else {"maxFilesPerTrigger": str(limit)}

    watermark = settings.gold.watermark
    windowed = {
        QUERY_PORTFOLIO_RISK_1M: ("portfolio_risk_1m", gold.portfolio_risk_1m(watermark)),
        QUERY_EXPOSURE_5M: ("exposure_by_asset_class_5m", gold.exposure_by_asset_class_5m(watermark)),
    }
    started: list[StreamingQuery | None] = []
    for query_name, (table_name, aggregate) in windowed.items():
        if query_name not in queries:
            continue
        table = catalog.table("gold", table_name)
        started.append(
            write_delta(
                silver_trades.read_stream(spark, source_options(windows_stream)).transform(aggregate),
                table,
                query_name=query_name,
                checkpoint=catalog.checkpoint(query_name),
                trigger=trigger or windows_stream.trigger,
                output_mode="update",
                foreach_batch=upsert_batches(table, GOLD_TABLES[table_name][1]),
            )
        )
    if QUERY_POSITIONS not in queries:
        return [query for query in started if query is not None]
    sink_options = spark_sink_options(settings.kafka, bootstrap_servers(settings), settings.kafka.alerts_topic)
    check_positions_checkpoint(spark, catalog.checkpoint(QUERY_POSITIONS), sources=2)
    silver_prices = catalog.table("silver", "prices")
    inputs = marks.batch_inputs(
        silver_trades.read_stream(spark, source_options(streams.gold)),
        silver_prices.read_stream(spark, source_options(streams.gold)),
    )
    started.append(
        write_delta(
            inputs,
            catalog.table("gold", "positions"),
            query_name=QUERY_POSITIONS,
            checkpoint=catalog.checkpoint(QUERY_POSITIONS),
            trigger=trigger or streams.gold.trigger,
            foreach_batch=PositionsRiskAlertsWriter(settings, sink_options),
        )
    )
    return [query for query in started if query is not None]


def run_windows(
    spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None
) -> list[StreamingQuery] | None:
    """The ``riskstream run windows`` entry point: the two window queries, off the path to risk."""
    return start(spark, settings, trigger, queries=(QUERY_PORTFOLIO_RISK_1M, QUERY_EXPOSURE_5M)) or None


def run(spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None) -> list[StreamingQuery] | None:
    """The ``riskstream run gold`` entry point: None once availableNow has finished, else the running queries."""
    queries = start(spark, settings, trigger)
    return queries or None
