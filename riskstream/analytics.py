"""What the analyst notebooks call: quarantine review and replay, data quality, stream health, risk.

Each notebook reads its widgets, validates them with the ``parse_*`` helpers here and calls one
function of this module, so no logic lives only in a notebook. The functions come in two layers:

* pure ``DataFrame -> DataFrame`` functions (``summarize_quarantine``, ``data_quality_by_day``...)
  that tests drive with literal frames;
* thin readers taking ``(spark, settings, ...)`` that load the Delta tables of a target through
  :class:`~riskstream.tables.Catalog` and delegate to the pure functions.

Day boundaries are UTC dates (the session time zone is UTC). Amounts are in each portfolio's base
currency, as in the gold tables.
"""

from __future__ import annotations

import bisect
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from riskstream.config import Settings
from riskstream.contract import event_errors
from riskstream.errors import ConfigError, DeliveryError
from riskstream.tables import Catalog, TableRef

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from pyspark.sql import DataFrame, SparkSession

STREAM_TABLES: tuple[tuple[str, str], ...] = (
    ("bronze", "trade_events"),
    ("silver", "trades"),
    ("silver", "quarantine"),
    ("gold", "marks"),
    ("gold", "positions"),
    ("gold", "pnl"),
    ("gold", "portfolio_risk"),
    ("gold", "portfolio_risk_1m"),
    ("gold", "exposure_by_asset_class_5m"),
    ("gold", "risk_alerts"),
)
"""The tables the streaming queries write, in flow order (what stream health reports on)."""


# ---------------------------------------------------------------------------------------------
# Widget validation
# ---------------------------------------------------------------------------------------------


NOTEBOOK_WIDGETS = ("target", "conf", "settings")
"""The widgets every notebook declares to find its deployment; the bundle's notebooks job sets them."""


def notebook_settings(widget: Callable[[str], str]) -> Settings:
    """The settings of the deployment a notebook's widgets name (``widget`` is ``dbutils.widgets.get``).

    ``target`` and ``conf`` are as on the command line; ``settings`` holds the deployment's
    ``KEY=VALUE`` pairs separated by spaces, exactly the ``--set`` values a bundle task gets (the
    notebooks job of the bundle passes them; copy them from its parameters for interactive use).
    """
    from riskstream.config import load_settings

    target = widget("target").strip() or "local"
    return load_settings(target, conf=widget("conf").strip() or None, overrides=widget("settings").split())


def parse_date(value: str, widget: str) -> date | None:
    """An optional ``YYYY-MM-DD`` widget value; empty means "no bound"."""
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"widget {widget!r}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def parse_date_range(start: str, end: str) -> tuple[date | None, date | None]:
    """Validated ``(start_date, end_date)`` widget values, both inclusive and optional."""
    first, last = parse_date(start, "start_date"), parse_date(end, "end_date")
    if first and last and first > last:
        raise ConfigError(f"start_date {first} is after end_date {last}")
    return first, last


def parse_choice(value: str, widget: str, allowed: Sequence[str]) -> str:
    """A widget value that must be one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"widget {widget!r}: {value!r} is not one of {list(allowed)}")
    return value


def _within(column: str, start: date | None, end: date | None) -> Any:
    from pyspark.sql import functions as F

    condition = F.lit(True)
    if start is not None:
        condition = condition & (F.to_date(F.col(column)) >= F.lit(start))
    if end is not None:
        condition = condition & (F.to_date(F.col(column)) <= F.lit(end))
    return condition


# ---------------------------------------------------------------------------------------------
# Quarantine review
# ---------------------------------------------------------------------------------------------

QUARANTINE_RECORD_COLUMNS = (
    "source_partition",
    "source_offset",
    "kafka_key",
    "event_id",
    "trade_id",
    "reason_codes",
    "reason_detail",
    "raw_text",
    "quarantined_ts",
)


def summarize_quarantine(start: date | None = None, end: date | None = None) -> Callable[[DataFrame], DataFrame]:
    """Quarantined records per reason code and UTC day of quarantine.

    A record with several reason codes counts once under each of them, so the counts of a day can
    add up to more than the records quarantined that day. Output: ``day, reason, records``, ordered
    by day, then most frequent reason first.
    """
    from pyspark.sql import functions as F

    def transform(quarantine: DataFrame) -> DataFrame:
        return (
            quarantine.where(_within("quarantined_ts", start, end))
            .select(F.to_date("quarantined_ts").alias("day"), F.explode("reason_codes").alias("reason"))
            .groupBy("day", "reason")
            .agg(F.count(F.lit(1)).alias("records"))
            .orderBy(F.col("day"), F.col("records").desc(), F.col("reason"))
        )

    return transform


def select_quarantined(reason: str | None = None, limit: int = 1000) -> Callable[[DataFrame], DataFrame]:
    """The quarantined records carrying ``reason`` (all when None), oldest offset first, for review."""
    from pyspark.sql import functions as F

    def transform(quarantine: DataFrame) -> DataFrame:
        chosen = quarantine if reason is None else quarantine.where(F.array_contains("reason_codes", reason))
        return chosen.select(*QUARANTINE_RECORD_COLUMNS).orderBy("source_partition", "source_offset").limit(limit)

    return transform


def quarantine_summary(
    spark: SparkSession, settings: Settings, start: date | None = None, end: date | None = None
) -> DataFrame:
    """:func:`summarize_quarantine` over the target's ``silver.quarantine``."""
    return _table(settings, "silver", "quarantine").read(spark).transform(summarize_quarantine(start, end))


def quarantine_records(
    spark: SparkSession, settings: Settings, reason: str | None = None, limit: int = 1000
) -> DataFrame:
    """:func:`select_quarantined` over the target's ``silver.quarantine``."""
    return _table(settings, "silver", "quarantine").read(spark).transform(select_quarantined(reason, limit))


# ---------------------------------------------------------------------------------------------
# Replay of corrected events
# ---------------------------------------------------------------------------------------------

REPUBLISH_HEADER = "republish_of"
"""Kafka header carrying the event_id of the quarantined event a corrected event replaces."""


@dataclass(frozen=True)
class RepublishOutcome:
    """What happened to one corrected event. ``status`` is ``published``, ``rejected`` or ``held``."""

    index: int
    original_event_id: str | None
    event_id: str | None
    status: str
    detail: str


def parse_corrected_events(text: str) -> list[Any]:
    """Corrected events from a widget: a JSON array of objects, or one JSON object per line."""
    stripped = text.strip()
    if not stripped:
        raise ConfigError("widget 'corrected_events' is empty: paste a JSON array of corrected events")
    try:
        if stripped.startswith("["):
            parsed = json.loads(stripped)
            return list(parsed)
        return [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise ConfigError(f"widget 'corrected_events' is not valid JSON: {error}") from None


def republish_quarantined(
    settings: Settings,
    corrected_events: Sequence[Any],
    *,
    bootstrap: str | None = None,
    new_event_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    dry_run: bool = False,
) -> list[RepublishOutcome]:
    """Validate corrected events and publish them to the trades topic, all or none.

    Each corrected event is a new emission, so it gets a new ``event_id`` (the contract's dedupe
    key); the quarantined event's id travels in the :data:`REPUBLISH_HEADER` header. Records are
    keyed by ``portfolio_id`` with the ``schema_version`` header, exactly like the producer.

    Nothing is published when any event breaks the contract: the invalid ones are ``rejected``
    with every violation, the valid ones ``held``, so the analyst fixes the batch and resubmits.

    Raises:
        DeliveryError: the broker did not acknowledge every record within 30 seconds.
    """
    outcomes: list[RepublishOutcome] = []
    prepared: list[tuple[int, str | None, dict[str, Any]]] = []
    for index, event in enumerate(corrected_events):
        if not isinstance(event, dict):
            outcomes.append(RepublishOutcome(index, None, None, "rejected", "(event): not a JSON object"))
            continue
        original = event.get("event_id")
        # Validated with its new id: the quarantined id may itself be what was wrong with it.
        candidate = {**event, "event_id": new_event_id()}
        errors = event_errors(candidate)
        if errors:
            outcomes.append(RepublishOutcome(index, original, None, "rejected", "; ".join(errors)))
            continue
        prepared.append((index, original, candidate))
    if outcomes or dry_run:
        detail = "not published: other events in the batch were rejected" if outcomes else "dry run"
        held = [RepublishOutcome(i, original, event["event_id"], "held", detail) for i, original, event in prepared]
        return sorted(outcomes + held, key=lambda outcome: outcome.index)

    from confluent_kafka import Producer

    from riskstream.kafka_options import librdkafka_producer_config
    from riskstream.runtime import bootstrap_servers

    producer = Producer(
        librdkafka_producer_config(
            settings.kafka, bootstrap or bootstrap_servers(settings), client_id="riskstream-republish"
        )
    )
    for _, original, event in prepared:
        headers: list[tuple[str, str | bytes | None]] = [("schema_version", str(event["schema_version"]).encode())]
        if original:
            headers.append((REPUBLISH_HEADER, str(original).encode()))
        producer.produce(
            settings.kafka.topic, key=event["portfolio_id"].encode(), value=json.dumps(event).encode(), headers=headers
        )
    undelivered = producer.flush(30)
    if undelivered:
        raise DeliveryError(f"{undelivered} corrected events were not acknowledged by the broker within 30s")
    return [
        RepublishOutcome(index, original, event["event_id"], "published", f"to {settings.kafka.topic}")
        for index, original, event in prepared
    ]


def outcomes_frame(spark: SparkSession, outcomes: Sequence[RepublishOutcome]) -> DataFrame:
    """The outcomes as a DataFrame for ``display``."""
    rows = [(o.index, o.original_event_id, o.event_id, o.status, o.detail) for o in outcomes]
    return spark.createDataFrame(
        rows, "index int, original_event_id string, event_id string, status string, detail string"
    )


# ---------------------------------------------------------------------------------------------
# Data quality
# ---------------------------------------------------------------------------------------------


def data_quality_by_day(
    trades: DataFrame, quarantine: DataFrame, start: date | None = None, end: date | None = None
) -> Callable[[DataFrame], DataFrame]:
    """Per UTC ingest day: events in, accepted, quarantined, duplicates, late, unaccounted, accept rate.

    Silver drops nothing: every bronze record ends up in exactly one of ``silver.trades`` (accepted)
    or ``silver.quarantine`` (rejected with reasons; a resent ``event_id`` has reason ``duplicate``).
    ``unaccounted = events_in - accepted - quarantined`` is therefore 0 on a healthy day; anything
    else means silver has not yet processed that day's records, or something was lost.
    ``duplicates`` counts quarantined records with that reason; ``late`` counts accepted events that
    ``arrived_late`` (lateness flags, it never rejects: they are in the books). ``accept_rate`` is
    ``accepted / events_in`` (null on a day without events). Applied to ``bronze.trade_events``.
    """
    from pyspark.sql import functions as F

    def per_day(frame: DataFrame, name: str, *extra: Any) -> DataFrame:
        counts = [F.count(F.lit(1)).alias(name), *extra]
        return frame.where(_within("ingest_ts", start, end)).groupBy(F.to_date("ingest_ts").alias("day")).agg(*counts)

    def transform(bronze: DataFrame) -> DataFrame:
        duplicates = F.sum(F.array_contains("reason_codes", "duplicate").cast("long")).alias("duplicates")
        late = F.sum(F.coalesce(F.col("arrived_late"), F.lit(False)).cast("long")).alias("late")
        joined = (
            per_day(bronze, "events_in")
            .join(per_day(trades, "accepted", late), "day", "left")
            .join(per_day(quarantine, "quarantined", duplicates), "day", "left")
            .fillna(0, ["accepted", "quarantined", "duplicates", "late"])
        )
        return joined.select(
            "day",
            "events_in",
            "accepted",
            "quarantined",
            F.col("duplicates").cast("long").alias("duplicates"),
            F.col("late").cast("long").alias("late"),
            (F.col("events_in") - F.col("accepted") - F.col("quarantined")).alias("unaccounted"),
            F.round(F.col("accepted") / F.col("events_in"), 4).alias("accept_rate"),
        ).orderBy("day")

    return transform


def data_quality(
    spark: SparkSession, settings: Settings, start: date | None = None, end: date | None = None
) -> DataFrame:
    """:func:`data_quality_by_day` over the target's bronze and silver tables."""
    trades = _table(settings, "silver", "trades").read(spark)
    quarantine = _table(settings, "silver", "quarantine").read(spark)
    bronze = _table(settings, "bronze", "trade_events").read(spark)
    return bronze.transform(data_quality_by_day(trades, quarantine, start, end))


def batch_quality(
    spark: SparkSession, settings: Settings, start: date | None = None, end: date | None = None
) -> DataFrame:
    """``ops.data_quality``: what each silver micro-batch did with its rows, newest batch first.

    One row per batch (processed within ``start``..``end``, UTC days): rows in, accepted,
    quarantined (always ``rows_in = accepted + quarantined``), the count of each reason code and
    how many accepted events arrived late.
    """
    from pyspark.sql import functions as F

    return (
        _table(settings, "ops", "data_quality")
        .read(spark)
        .where(_within("processed_ts", start, end))
        .select(
            "batch_id",
            "processed_ts",
            "rows_in",
            "accepted",
            "quarantined",
            F.to_json("quarantined_by_reason").alias("quarantined_by_reason"),
            "accepted_late",
            "min_trade_ts",
            "max_trade_ts",
        )
        .orderBy(F.col("batch_id").desc())
    )


# ---------------------------------------------------------------------------------------------
# Stream health
# ---------------------------------------------------------------------------------------------


def summarize_history(table_name: str) -> Callable[[DataFrame], DataFrame]:
    """One health row for a table from its Delta history (``DESCRIBE HISTORY``).

    Streaming writes record the query id and micro-batch id (``epochId``) in each commit's
    ``operationParameters``, so the history answers "is the query advancing and how much does
    it write" without reading checkpoints. Output columns: ``table, version, last_commit_ts,
    last_operation, last_batch_id, commits, streaming_commits, rows_written`` where
    ``rows_written`` sums ``numOutputRows`` over all commits.
    """
    from pyspark.sql import functions as F

    def transform(history: DataFrame) -> DataFrame:
        streaming = F.col("operation") == "STREAMING UPDATE"
        rows = F.coalesce(F.col("operationMetrics")["numOutputRows"].cast("long"), F.lit(0))
        latest = F.max_by(F.struct("timestamp", "operation"), "version")
        return history.agg(
            F.max("version").alias("version"),
            latest["timestamp"].alias("last_commit_ts"),
            latest["operation"].alias("last_operation"),
            F.max(F.when(streaming, F.col("operationParameters")["epochId"].cast("long"))).alias("last_batch_id"),
            F.count(F.lit(1)).alias("commits"),
            F.sum(streaming.cast("long")).alias("streaming_commits"),
            F.sum(rows).alias("rows_written"),
        ).select(F.lit(table_name).alias("table"), "*")

    return transform


def stream_health(spark: SparkSession, settings: Settings) -> DataFrame:
    """Health of every streaming table of the target that exists, in flow order."""
    from functools import reduce

    catalog = Catalog(settings)
    rows = []
    for layer, name in STREAM_TABLES:
        table = catalog.table(layer, name)  # type: ignore[arg-type]
        if table.exists(spark):
            history = spark.sql(f"DESCRIBE HISTORY {table.sql_name}")
            rows.append(history.transform(summarize_history(f"{layer}.{name}")))
    if not rows:
        raise ConfigError("no pipeline tables exist yet for this target: run the pipeline first")
    return reduce(lambda left, right: left.unionByName(right), rows)


# ---------------------------------------------------------------------------------------------
# Risk explorer
# ---------------------------------------------------------------------------------------------

RISK_OVERVIEW_COLUMNS = (
    "portfolio_id",
    "position_count",
    "gross_exposure_base",
    "net_exposure_base",
    "var_99_1d",
    "var_99_10d",
    "gross_limit",
    "var_limit",
    "gross_limit_utilisation",
    "var_limit_utilisation",
)


def select_portfolios(portfolio_id: str | None) -> Callable[[DataFrame], DataFrame]:
    """Rows of one portfolio (all when None), ordered by portfolio."""
    from pyspark.sql import functions as F

    def transform(frame: DataFrame) -> DataFrame:
        chosen = frame if portfolio_id is None else frame.where(F.col("portfolio_id") == portfolio_id)
        return chosen.orderBy("portfolio_id")

    return transform


def risk_overview(spark: SparkSession, settings: Settings, portfolio_id: str | None = None) -> DataFrame:
    """Exposure, VaR and limit use per portfolio from ``gold.portfolio_risk``."""
    risk = _table(settings, "gold", "portfolio_risk").read(spark)
    return risk.select(*RISK_OVERVIEW_COLUMNS).transform(select_portfolios(portfolio_id))


def portfolio_positions(spark: SparkSession, settings: Settings, portfolio_id: str | None = None) -> DataFrame:
    """A portfolio's positions from ``gold.positions``, largest absolute market value first."""
    from pyspark.sql import functions as F

    positions = _table(settings, "gold", "positions").read(spark).transform(select_portfolios(portfolio_id))
    return positions.orderBy("portfolio_id", F.abs(F.col("market_value_base")).desc(), "instrument_id")


def portfolio_alerts(spark: SparkSession, settings: Settings, portfolio_id: str | None = None) -> DataFrame:
    """Risk alerts of a portfolio from ``gold.risk_alerts``, newest window first."""
    from pyspark.sql import functions as F

    alerts = _table(settings, "gold", "risk_alerts").read(spark).transform(select_portfolios(portfolio_id))
    return alerts.orderBy("portfolio_id", F.col("window_start").desc(), "rule")


PNL_COLUMNS = (
    "trading_date",
    "portfolio_id",
    "instrument_id",
    "base_currency",
    "sod_net_quantity",
    "net_quantity",
    "day_buy_quantity",
    "day_buy_cost_base",
    "day_sell_quantity",
    "day_sell_proceeds_base",
    "last_price",
    "fx_rate_to_base",
    "sod_market_value_base",
    "market_value_base",
    "realized_pnl_base",
    "unrealized_pnl_base",
    "total_pnl_base",
)
"""What the intraday P&L shows of ``gold.pnl``: every column but the batch bookkeeping."""

MARK_COLUMNS = ("mark_type", "id", "price", "mark_ts", "sequence", "source")


def select_trading_day(trading_date: date | None = None) -> Callable[[DataFrame], DataFrame]:
    """``gold.pnl`` rows of one trading date: ``trading_date``, or the newest date in the table when None.

    The newest date is the table's, not each portfolio's: a portfolio without a row that day shows
    no P&L rather than an older day's.
    """
    from pyspark.sql import functions as F

    def transform(pnl: DataFrame) -> DataFrame:
        if trading_date is not None:
            return pnl.where(F.col("trading_date") == F.lit(trading_date))
        newest = pnl.agg(F.max("trading_date").alias("newest_trading_date"))
        return pnl.join(newest, F.col("trading_date") == F.col("newest_trading_date")).drop("newest_trading_date")

    return transform


def intraday_pnl(portfolio_id: str | None = None, trading_date: date | None = None) -> Callable[[DataFrame], DataFrame]:
    """Each position's P&L since the start of one trading day (:func:`select_trading_day`), in base
    currency: :data:`PNL_COLUMNS`, per portfolio the largest absolute total first.

    ``total_pnl_base = market_value_base - sod_market_value_base - (day_buy_cost_base -
    day_sell_proceeds_base)`` and ``realized_pnl_base + unrealized_pnl_base = total_pnl_base``, as
    the gold job writes them. Applied to ``gold.pnl``.
    """
    from pyspark.sql import functions as F

    def transform(pnl: DataFrame) -> DataFrame:
        chosen = pnl.transform(select_trading_day(trading_date)).transform(select_portfolios(portfolio_id))
        return chosen.select(*PNL_COLUMNS).orderBy("portfolio_id", F.abs("total_pnl_base").desc(), "instrument_id")

    return transform


def marks_used(pnl: DataFrame, positions: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """The ``gold.marks`` rows behind P&L rows (:func:`intraday_pnl`): each instrument's price mark
    and the FX marks of its currency and of the portfolio's base currency.

    FX marks are USD per unit, so USD itself has none. The instrument's currency comes from
    ``positions`` (``gold.positions``). Output: :data:`MARK_COLUMNS`, instrument marks first, then
    FX, each by id. Applied to ``gold.marks``.
    """
    from pyspark.sql import functions as F

    def transform(marks: DataFrame) -> DataFrame:
        keys = ["portfolio_id", "instrument_id"]
        currencies = pnl.select(*keys, "base_currency").join(
            positions.select(*keys, "instrument_currency"), keys, "left"
        )
        wanted = (
            pnl.select(F.lit("instrument").alias("mark_type"), F.col("instrument_id").alias("id"))
            .unionByName(currencies.select(F.lit("fx").alias("mark_type"), F.col("instrument_currency").alias("id")))
            .unionByName(currencies.select(F.lit("fx").alias("mark_type"), F.col("base_currency").alias("id")))
        )
        instruments_first = F.when(F.col("mark_type") == "instrument", 0).otherwise(1)
        return (
            marks.join(wanted, ["mark_type", "id"], "left_semi").select(*MARK_COLUMNS).orderBy(instruments_first, "id")
        )

    return transform


def portfolio_pnl(
    spark: SparkSession, settings: Settings, portfolio_id: str | None = None, trading_date: date | None = None
) -> DataFrame:
    """:func:`intraday_pnl` over the target's ``gold.pnl``."""
    return _table(settings, "gold", "pnl").read(spark).transform(intraday_pnl(portfolio_id, trading_date))


def pnl_marks(spark: SparkSession, settings: Settings, pnl: DataFrame) -> DataFrame:
    """:func:`marks_used` by the P&L rows ``pnl`` (from :func:`portfolio_pnl`), from the target's ``gold.marks``."""
    positions = _table(settings, "gold", "positions").read(spark)
    return _table(settings, "gold", "marks").read(spark).transform(marks_used(pnl, positions))


def _data_versions(spark: SparkSession, table: TableRef, max_versions: int) -> list[Any]:
    """``(version, timestamp)`` of the newest ``max_versions`` commits that wrote data, newest first."""
    from pyspark.sql import functions as F

    return (
        spark.sql(f"DESCRIBE HISTORY {table.sql_name}")
        .where(~F.col("operation").isin("CREATE TABLE", "OPTIMIZE", "VACUUM START", "VACUUM END"))
        .select("version", "timestamp")
        .orderBy(F.col("version").desc())
        .limit(max_versions)
        .collect()
    )


def _as_of_version(spark: SparkSession, table: TableRef, version: int) -> DataFrame:
    reader = spark.read.format("delta").option("versionAsOf", version)
    return reader.table(table.identifier) if table.identifier else reader.load(table.path)


def _event_times(spark: SparkSession, settings: Settings, commits: Sequence[Any]) -> dict[int, Any]:
    """For each ``portfolio_risk`` commit, the event time it covers: the newest trade time
    (``max(last_price_ts)``) in ``gold.positions`` as of that commit.

    The gold job merges positions and then writes portfolio_risk in the same micro-batch, so the
    newest positions version committed at or before a risk commit is the one the risk was
    computed from. Versions without such a positions version (or without trades) are left out.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    positions = _table(settings, "gold", "positions")
    if not commits or not positions.exists(spark):
        return {}
    history = sorted((row.timestamp, row.version) for row in _data_versions(spark, positions, 10_000))
    times = [timestamp for timestamp, _ in history]
    chosen: dict[int, int] = {}
    for commit in commits:
        earlier = bisect.bisect_right(times, commit.timestamp)
        if earlier:
            chosen[commit.version] = history[earlier - 1][1]
    frames = [
        _as_of_version(spark, positions, version).agg(
            F.lit(version).cast("long").alias("positions_version"), F.max("last_price_ts").alias("event_time")
        )
        for version in sorted(set(chosen.values()))
    ]
    if not frames:
        return {}
    rows = reduce(lambda left, right: left.unionByName(right), frames).collect()
    newest = {row.positions_version: row.event_time for row in rows}
    return {risk: newest[version] for risk, version in chosen.items() if newest.get(version) is not None}


def risk_history(spark: SparkSession, settings: Settings, max_versions: int = 200) -> DataFrame:
    """``gold.portfolio_risk`` over time: each Delta version of it, stamped with its commit time
    and with the event time it covers.

    Every commit of ``portfolio_risk`` holds the full current risk of each portfolio, so reading
    the table as of each version (time travel) gives exposure and VaR over time without a
    separate history table. Output: ``as_of`` (commit timestamp), ``event_time`` (the newest trade
    time the version includes, see :func:`_event_times`; null when unknown), ``version`` and the
    :data:`RISK_OVERVIEW_COLUMNS`; the newest ``max_versions`` versions only.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    table = _table(settings, "gold", "portfolio_risk")
    commits = _data_versions(spark, table, max_versions)
    if not commits:
        raise ConfigError(f"{table} has no data versions yet: run the gold job first")
    event_times = _event_times(spark, settings, commits)
    frames = [
        _as_of_version(spark, table, commit.version).select(
            F.lit(commit.timestamp).cast("timestamp").alias("as_of"),
            F.lit(event_times.get(commit.version)).cast("timestamp").alias("event_time"),
            F.lit(commit.version).cast("long").alias("version"),
            *RISK_OVERVIEW_COLUMNS,
        )
        for commit in commits
    ]
    return reduce(lambda left, right: left.unionByName(right), frames).orderBy("as_of", "portfolio_id")


def event_to_gold_latencies(spark: SparkSession, settings: Settings) -> Any:
    """Seconds from each accepted event's Kafka timestamp to the ``gold.portfolio_risk`` commit of the
    gold batch that read it (by lineage: :mod:`riskstream.lineage`), as a numpy array; events no
    gold batch has read yet are left out."""
    import numpy as np

    from riskstream import lineage

    risk = lineage.measure_hot(spark, settings, alerts=False)["risk"].to_numpy(dtype=float)
    return risk[np.isfinite(risk)]


# ---------------------------------------------------------------------------------------------
# Risk measures
# ---------------------------------------------------------------------------------------------

MEASURE_COLUMNS = ("measure", "value_base", "method", "inputs")
_MEASURES = (
    ("VaR 95 % 1-day", "var_95_1d", "parametric", "z x sigma over the factor exposures"),
    ("VaR 99 % 1-day", "var_99_1d", "parametric", "z x sigma over the factor exposures"),
    ("VaR 95 % 10-day", "var_95_10d", "parametric", "1-day x sqrt(10)"),
    ("VaR 99 % 10-day", "var_99_10d", "parametric", "1-day x sqrt(10)"),
    ("ES 97.5 % 1-day", "es_975_1d_param", "parametric", "sigma x phi(z) / (1 - alpha)"),
    ("VaR 95 % 1-day", "hist_var_95_1d", "historical", "{scenarios} daily scenarios"),
    ("VaR 99 % 1-day", "hist_var_99_1d", "historical", "{scenarios} daily scenarios"),
    ("VaR 95 % 10-day", "hist_var_95_10d_sqrt", "historical", "1-day x sqrt(10)"),
    ("VaR 99 % 10-day", "hist_var_99_10d_sqrt", "historical", "1-day x sqrt(10)"),
    ("VaR 95 % 10-day", "hist_var_95_10d_overlap", "historical", "{scenarios} overlapping 10-day scenarios"),
    ("VaR 99 % 10-day", "hist_var_99_10d_overlap", "historical", "{scenarios} overlapping 10-day scenarios"),
    ("ES 97.5 % 1-day", "es_975_1d_hist", "historical", "mean of the worst 2.5 % of {scenarios} scenarios"),
    ("worst stress loss", "worst_stress_loss_base", "stress", "{worst}"),
)
FACTOR_INPUT_COLUMNS = ("factor", "exposure_base", "daily_vol", "vol_source", "observations")


def chosen_portfolio(spark: SparkSession, settings: Settings, portfolio_id: str) -> str:
    """``portfolio_id`` (spaces dropped), or when empty the portfolio using most of its VaR limit (ties and
    portfolios without a limit by id), the one a risk manager looks at first.

    Raises:
        ConfigError: empty ``portfolio_id`` and no row in ``gold.portfolio_risk``.
    """
    from pyspark.sql import functions as F

    if portfolio_id.strip():
        return portfolio_id.strip()
    risk = _table(settings, "gold", "portfolio_risk").read(spark)
    first = (
        risk.orderBy(F.col("var_limit_utilisation").desc_nulls_last(), "portfolio_id").select("portfolio_id").first()
    )
    if first is None:
        raise ConfigError("portfolio_id: gold.portfolio_risk has no portfolio yet")
    return str(first.portfolio_id)


def risk_measures(spark: SparkSession, settings: Settings, portfolio_id: str) -> tuple[Any, dict[str, Any]]:
    """One portfolio's measures from ``gold.portfolio_risk``, a row per measure (:data:`MEASURE_COLUMNS`), and
    the model's flags (scenario count, unmodelled factors, correlation repair).

    Raises:
        ConfigError: the portfolio has no row in ``gold.portfolio_risk``.
    """
    import pandas as pd
    from pyspark.sql import functions as F

    rows = _table(settings, "gold", "portfolio_risk").read(spark).where(F.col("portfolio_id") == portfolio_id).collect()
    if not rows:
        raise ConfigError(f"portfolio_id: {portfolio_id!r} has no row in gold.portfolio_risk")
    risk = rows[0].asDict()
    scenarios = risk.get("scenario_count") or 0
    measures = pd.DataFrame(
        [
            (
                name,
                risk.get(column),
                method,
                inputs.format(scenarios=scenarios, worst=risk.get("worst_stress_scenario")),
            )
            for name, column, method, inputs in _MEASURES
        ],
        columns=list(MEASURE_COLUMNS),
    )
    flags = {
        "scenario_count": scenarios,
        "unmodelled_factors": list(risk.get("unmodelled_factors") or []),
        "correlation_repaired": risk.get("correlation_repaired"),
        "correlation_min_eigenvalue": risk.get("correlation_min_eigenvalue"),
        "stress_loss_limit": risk.get("stress_loss_limit"),
        "stress_limit_utilisation": risk.get("stress_limit_utilisation"),
    }
    return measures, flags


def factor_inputs(spark: SparkSession, settings: Settings, portfolio_id: str) -> Any:
    """The portfolio's risk factors (:func:`transformations.risk.factor_exposures`) with the volatility risk
    uses: the EWMA estimate of ``gold.risk_factors``, else the reference ``daily_vol`` (instruments) or
    ``risk.fx_daily_vol`` (currencies). Largest absolute exposure first, ties in factor order
    (instruments, then currencies) (:data:`FACTOR_INPUT_COLUMNS`)."""
    import pandas as pd
    from pyspark.sql import functions as F

    from transformations.risk import factor_exposures, factor_key

    positions: pd.DataFrame = (
        _table(settings, "gold", "positions")
        .read(spark)
        .where(F.col("portfolio_id") == portfolio_id)
        .where(F.col("market_value_base") != 0)
        .select("instrument_id", "instrument_currency", "base_currency", "market_value_base")
        .orderBy("instrument_id")
        .toPandas()
    )
    exposures = factor_exposures(positions)
    estimates: dict[str, tuple[float, int]] = {}
    factors_table = _table(settings, "gold", "risk_factors")
    if factors_table.exists(spark):
        for row in factors_table.read(spark).select("factor_type", "factor_id", "daily_vol", "observations").collect():
            estimates[factor_key(row.factor_type, row.factor_id)] = (row.daily_vol, row.observations)
    reference: dict[str, float] = {}
    instruments = _table(settings, "reference", "instruments")
    if instruments.exists(spark):
        reference = {
            factor_key("instrument", row.instrument_id): row.daily_vol
            for row in instruments.read(spark).select("instrument_id", "daily_vol").collect()
        }
    rows: list[tuple[str, float, float | None, str, int | None]] = []
    for key, exposure in exposures.items():
        if key in estimates:
            rows.append((key, exposure, estimates[key][0], "ewma", estimates[key][1]))
        elif key.startswith("fx:"):
            rows.append((key, exposure, settings.risk.fx_daily_vol, "risk.fx_daily_vol", None))
        else:
            rows.append((key, exposure, reference.get(key), "reference daily_vol", None))
    frame = pd.DataFrame(rows, columns=list(FACTOR_INPUT_COLUMNS))
    order = frame["exposure_base"].abs().sort_values(ascending=False, kind="stable").index  # ties: instruments first
    return frame.loc[order].reset_index(drop=True)


STRESS_COLUMNS = (
    "scenario",
    "description",
    "pnl_base",
    "loss_base",
    "pnl_by_asset_class",
    "limit_utilisation",
    "breach",
)
BACKTEST_COLUMNS = (
    "as_of_date",
    "days",
    "exceptions",
    "expected_exceptions",
    "kupiec_lr",
    "kupiec_p_value",
    "christoffersen_lr",
    "christoffersen_p_value",
    "traffic_light",
)


def portfolio_stress(spark: SparkSession, settings: Settings, portfolio_id: str) -> Any:
    """The portfolio's rows of ``gold.stress_results`` (:data:`STRESS_COLUMNS`), largest loss first; empty
    until ``riskstream risk stress`` has run."""
    import pandas as pd
    from pyspark.sql import functions as F

    table = _table(settings, "gold", "stress_results")
    if not table.exists(spark):
        return pd.DataFrame(columns=list(STRESS_COLUMNS))
    chosen = table.read(spark).where(F.col("portfolio_id") == portfolio_id)
    return chosen.orderBy(F.col("loss_base").desc(), "scenario").select(*STRESS_COLUMNS).toPandas()


def portfolio_backtest(spark: SparkSession, settings: Settings, portfolio_id: str) -> tuple[Any, Any]:
    """The portfolio's ``gold.var_backtest`` summary (:data:`BACKTEST_COLUMNS`) and its daily series
    (``date, var, pnl, exception``); both empty until ``riskstream risk backtest`` has run."""
    import pandas as pd
    from pyspark.sql import functions as F

    table = _table(settings, "gold", "var_backtest")
    series_columns = ["date", "var", "pnl", "exception"]
    if not table.exists(spark):
        return pd.DataFrame(columns=list(BACKTEST_COLUMNS)), pd.DataFrame(columns=series_columns)
    rows = table.read(spark).where(F.col("portfolio_id") == portfolio_id).collect()
    if not rows:
        return pd.DataFrame(columns=list(BACKTEST_COLUMNS)), pd.DataFrame(columns=series_columns)
    row = rows[0]
    summary = pd.DataFrame([[row[column] for column in BACKTEST_COLUMNS]], columns=list(BACKTEST_COLUMNS))
    series = pd.DataFrame({"date": row.dates, "var": row.var, "pnl": row.pnl})
    series["exception"] = -series["pnl"] > series["var"]
    return summary, series


def backtest_figure(series: Any, portfolio_id: str) -> Figure:
    """Daily loss against the day's 99 % VaR forecast, exceptions marked."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5))
    axes = figure.subplots()
    losses = -series["pnl"]
    axes.plot(range(len(series)), series["var"], label="99 % VaR forecast", color="tab:blue")
    axes.bar(range(len(series)), losses, label="loss (negative: gain)", color="tab:gray", alpha=0.6)
    hits = series.index[series["exception"]]
    axes.scatter(hits, losses[hits], label="exception", color="tab:red", zorder=3)
    axes.set_title(f"VaR backtest of {portfolio_id}: {len(hits)} exceptions in {len(series)} days")
    axes.set_xlabel("day (oldest first)")
    axes.legend(loc="upper left")
    return figure


def _table(settings: Settings, layer: str, name: str) -> TableRef:
    return Catalog(settings).table(layer, name)  # type: ignore[arg-type]


def _bar_chart(title: str, ylabel: str, draw: Callable[[Axes], None]) -> Figure:
    """A figure with one axes that ``draw`` fills with labelled bars; y from zero, legend, title."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.5))
    axes = figure.subplots()
    draw(axes)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    return figure


def limit_use_figure(overview: pd.DataFrame) -> Figure:
    """Bar chart of gross and VaR limit use per portfolio (``risk_overview`` rows), 100 % marked.

    Use is a share of each portfolio's own limit, so portfolios in different base currencies
    compare on one axis; bars above the line are breaches.
    """
    import pandas as pd

    def draw(axes: Axes) -> None:
        positions = list(range(len(overview)))
        width = 0.4
        for offset, column, label in (
            (-width / 2, "gross_limit_utilisation", "gross exposure / gross limit"),
            (width / 2, "var_limit_utilisation", "99 % 1-day VaR / VaR limit"),
        ):
            values = [0.0 if pd.isna(value) else 100.0 * float(value) for value in overview[column]]
            axes.bar([x + offset for x in positions], values, width, label=label)
        axes.axhline(100.0, color="red", linewidth=1, label="limit (100 %)")
        axes.set_xticks(positions, list(overview["portfolio_id"]))

    return _bar_chart("Limit use per portfolio (each in its base currency)", "use of limit (%)", draw)


def quality_figure(quality: pd.DataFrame) -> Figure:
    """Stacked bars per ingest day (``data_quality`` rows): accepted, quarantined, not yet accounted."""

    def draw(axes: Axes) -> None:
        days = [str(day) for day in quality["day"]]
        bottom = [0.0] * len(days)
        for column, label in (
            ("accepted", "accepted"),
            ("quarantined", "quarantined"),
            ("unaccounted", "not yet in silver"),
        ):
            values = [float(value) for value in quality[column]]
            axes.bar(days, values, bottom=bottom, label=label)
            bottom = [low + value for low, value in zip(bottom, values, strict=True)]

    return _bar_chart("Events per UTC ingest day", "events", draw)
