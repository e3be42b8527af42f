"""``riskstream demo``: the whole local flow on the embedded defaults, end to end.

broker -> simulated reference data (loaded into Delta) -> simulated trades and price / FX ticks
with injected faults (Kafka, two topics) -> bronze -> silver -> gold (availableNow) -> Snowflake
emulator sync + verify -> summary and dashboard. ``--follow`` keeps producing and processing with
processingTime triggers until Ctrl-C or SIGTERM. Every process the demo starts (the broker, the
producer threads, the streaming queries) is stopped before it returns, and a second run reuses the
tables and checkpoints (``--fresh`` deletes the local state first).

**Ticks**: from the same simulator and seed as the trades, at the simulator's default tick rate with
the trades' stream rate as ``trade_rate`` (:meth:`~riskstream.simulator.MarketSimulator.ticks`), so
they quote the price path the trades were priced from, over the same stream time (each round sends
its share of both). Gold re-marks positions from them and computes the day's P&L. Silver quarantines
a tick whose ``tick_ts`` is more than ``silver.tick_max_age`` (5 minutes) before its Kafka timestamp,
but the demo's stream clock starts with the demo and covers 40 s of market data (2000 trades at 50
per second) while its rounds take minutes: round 3's valid ticks would already be older than that. So
the demo runs silver with :data:`DEMO_TICK_MAX_AGE` (never less than configured) and sends its
``stale`` ticks :data:`DEMO_TICK_STALENESS` old, and each keeps its fate however slow the machine is.

**Event -> gold latency**, as printed: for each accepted event, the time from its Kafka record
timestamp (set by the producer when the record was sent) to the ``gold.portfolio_risk`` commit of
the gold micro-batch that read it (found by lineage, :mod:`riskstream.lineage`), i.e. when the event's
effect on its portfolio's risk became readable. With availableNow it includes waiting for the
sequential bronze/silver/gold runs; with ``--follow`` it is the streaming latency. ``python -m
benchmarks.latency`` measures the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from riskstream import kafka_broker
from riskstream.commands.common import console, settings_for, stop_on_signals
from riskstream.config import Settings, TriggerConfig
from riskstream.errors import ConfigError, PipelineError
from riskstream.paths import project_root, state_dir
from riskstream.tables import Catalog

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from riskstream.simulator import FaultRates, TickFaultRates

DEMO_FAULTS = {
    "malformed_json": 0.02,
    "schema_invalid": 0.03,
    "duplicate": 0.03,
    "late": 0.02,
    "out_of_order": 0.03,
    "unknown_portfolio": 0.01,
    "unknown_instrument": 0.01,
}
"""Shares of injected faults in the demo stream (see riskstream.simulator for each fate)."""
DEMO_TICK_FAULTS = {
    "malformed_json": 0.01,
    "non_positive_price": 0.02,
    "stale": 0.02,
    "out_of_order": 0.03,
    "unknown_instrument": 0.01,
}
"""Shares of injected faults in the demo's price and FX ticks (riskstream.simulator, ``ticks``)."""
DEMO_TICK_MAX_AGE = "1 hour"
"""``silver.tick_max_age`` during the demo (see the module docstring), unless the settings allow more."""
DEMO_TICK_STALENESS = timedelta(hours=2)
"""How far behind the stream clock the demo's ``stale`` ticks are: beyond :data:`DEMO_TICK_MAX_AGE`."""
MIN_STREAM_RATE = 50.0
"""The trades' stream clock runs at ``max(--rate, this)`` events per second (so 0, unthrottled, still
advances event time)."""
FOLLOW_TICK_SECONDS = 3600.0
"""``--follow`` sends ticks for this long (the tick plan is built up front: an hour is about 180,000
ticks), trades for eight hours."""


@dataclass(frozen=True)
class DemoOptions:
    events: int = 2000
    seed: int | None = None
    """Simulator seed; None derives one from the clock, so a re-run sends new event_ids (the same
    seed repeats the same event_ids, which silver then drops as duplicates)."""
    portfolios: int = 6
    instruments: int = 30
    rate: float = 0.0
    """Records per second sent, on each topic (0: as fast as the broker acknowledges)."""
    rounds: int = 4
    """The events (and the ticks) are sent in this many equal rounds, each followed by a bronze ->
    silver -> gold run, so gold.portfolio_risk gets one version per round (the dashboard's points in time)."""
    follow: bool = False
    follow_interval: str = "5 seconds"
    follow_rate: float = 50.0
    follow_seconds: float | None = None
    """Stop ``--follow`` after this long (tests); None waits for Ctrl-C / SIGTERM."""
    sync: bool = True
    out_dir: Path | None = None


@dataclass(frozen=True)
class LatencyStats:
    """Event -> gold latency in seconds over ``events`` accepted events (see the module docstring)."""

    events: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class PortfolioPnl:
    """A portfolio's P&L on one trading day from ``gold.pnl`` (its positions summed), in its base currency."""

    portfolio_id: str
    base_currency: str | None
    realized: float | None
    unrealized: float | None
    total: float | None


@dataclass
class DemoSummary:
    produced: int = 0
    produced_by_kind: dict[str, int] = field(default_factory=dict)
    events_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    """Trade events in silver.quarantine (from the trades topic)."""
    unaccounted: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    ticks_produced: int = 0
    ticks_produced_by_kind: dict[str, int] = field(default_factory=dict)
    ticks_in: int = 0
    ticks_accepted: int = 0
    ticks_quarantined: int = 0
    """Ticks in silver.quarantine (from the prices topic)."""
    ticks_unaccounted: int = 0
    ticks_quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    portfolios: list[dict[str, Any]] = field(default_factory=list)
    pnl_date: date | None = None
    """The newest trading date in gold.pnl (today's, for a run that just finished)."""
    pnl: list[PortfolioPnl] = field(default_factory=list)
    """Per portfolio with a gold.pnl row on ``pnl_date``, by portfolio id."""
    alerts_by_rule: dict[str, int] = field(default_factory=dict)
    alert_portfolios: dict[str, list[str]] = field(default_factory=dict)
    """Per rule, the portfolios with at least one alert of it (sorted)."""
    latency: LatencyStats | None = None
    synced: dict[str, str] = field(default_factory=dict)
    verified: dict[str, str] = field(default_factory=dict)
    dashboard_png: Path | None = None
    dashboard_html: Path | None = None
    broker_pid: int | None = None
    broker_stopped: bool = False


def fault_rates() -> FaultRates:
    from riskstream.simulator import FaultRates

    return FaultRates(**DEMO_FAULTS)


def tick_fault_rates() -> TickFaultRates:
    from riskstream.simulator import TickFaultRates

    return TickFaultRates(**DEMO_TICK_FAULTS)


def with_demo_tick_max_age(settings: Settings) -> Settings:
    """``settings`` with ``silver.tick_max_age`` raised to :data:`DEMO_TICK_MAX_AGE` (kept if already longer)."""
    import pandas as pd

    if pd.Timedelta(settings.silver.tick_max_age) >= pd.Timedelta(DEMO_TICK_MAX_AGE):
        return settings
    silver = settings.silver.model_copy(update={"tick_max_age": DEMO_TICK_MAX_AGE})
    return settings.model_copy(update={"silver": silver})


def trade_stream_rate(options: DemoOptions) -> float:
    """Events per second of the trades' stream clock (``trade_ts`` spacing)."""
    return max(options.rate, MIN_STREAM_RATE)


def tick_count(options: DemoOptions) -> int:
    """How many ticks cover the stream time of ``options.events`` trades at the simulator's default tick rate."""
    from riskstream.simulator import DEFAULT_TICK_RATE

    return round(options.events / trade_stream_rate(options) * DEFAULT_TICK_RATE)


def round_sizes(total: int, rounds: int) -> list[int]:
    """``total`` records split over ``rounds``, the first ones one larger where it does not divide."""
    return [total // rounds + (1 if number < total % rounds else 0) for number in range(rounds)]


PIPELINE = (("bronze", "jobs.bronze", "run"), ("hot", "jobs.hot", "run"), ("windows", "jobs.gold", "run_windows"))
"""What the demo runs, in flow order: raw landing, the hot query (Kafka -> risk), the window aggregations."""


def _job(module: str, function: str) -> Any:
    """A job's entry point, with a clear error if this checkout lacks it."""
    try:
        return getattr(importlib.import_module(module), function)
    except (ModuleNotFoundError, AttributeError) as error:
        raise PipelineError(f"the job {module}.{function} is not in this checkout: {error}") from None


# ------------------------------------------------------------------------------------------ steps


def load_reference_data(
    spark: SparkSession,
    settings: Settings,
    simulator: Any,
    echo: Callable[[str], None],
    folder: Path | None = None,
) -> None:
    """Write the simulator's reference CSVs into ``folder`` (default: under the state folder), load them
    into Delta and estimate the risk factors from their price history (what the daily workflows do on
    Databricks). The benchmarks set up their scratch pipelines with it too."""
    from jobs import risk_factors
    from riskstream.reference import load_reference
    from riskstream.tables import Catalog

    folder = folder or state_dir() / "reference"
    simulator.write_reference_csv(folder)
    catalog = Catalog(settings)
    load_reference(
        spark,
        folder,
        lambda name: catalog.table("reference", name),
        lambda name, rows: echo(f"reference.{name}: {rows} rows"),
    )
    count = risk_factors.run(spark, settings)
    echo(f"gold.risk_factors: {count} factors (EWMA volatilities, correlations, historical scenarios)")


def produce_events(
    settings: Settings,
    records: Any,
    planned: int,
    rate: float,
    *,
    require_all: bool = True,
    on_progress: Any = None,
    topic: str | None = None,
) -> Any:
    """Send ``records`` to ``topic`` (default the trades topic) through the producer library.

    Raises DeliveryError when a record failed, and also when fewer than ``planned`` were sent if
    ``require_all`` (``--follow`` stops its endless stream on purpose, so it only checks failures).
    """
    from riskstream.producer import KafkaTransport, produce
    from riskstream.runtime import bootstrap_servers

    destination = topic or settings.kafka.topic
    transport = KafkaTransport.from_config(settings.kafka, bootstrap_servers(settings), topic=destination)
    report = produce(
        records,
        transport,
        destination=destination,
        planned=planned,
        rate=rate,
        on_progress=on_progress,
    )
    if require_all or report.failed:
        report.raise_for_failures()
    return report


def run_pipeline_available_now(spark: SparkSession, settings: Settings, echo: Callable[[str], None]) -> None:
    """bronze, hot and windows, each processing everything available, in flow order."""
    trigger = TriggerConfig(kind="available_now")
    for name, module, function in PIPELINE:
        began = time.monotonic()
        _job(module, function)(spark, settings, trigger)
        echo(f"{name}: done in {time.monotonic() - began:.1f}s")


def start_pipeline(spark: SparkSession, settings: Settings, interval: str) -> list[StreamingQuery]:
    """bronze, hot and windows as running queries with processingTime triggers."""
    trigger = TriggerConfig(kind="processing_time", interval=interval)
    queries: list[StreamingQuery] = []
    try:
        for _, module, function in PIPELINE:
            started = _job(module, function)(spark, settings, trigger)
            queries.extend(started if isinstance(started, list) else [started])
    except BaseException:
        stop_queries(queries)  # leave nothing running when a later layer cannot start
        raise
    return queries


def stop_queries(queries: list[StreamingQuery]) -> None:
    """Stop every query (downstream first, so none waits on a stopped upstream)."""
    for query in reversed(queries):
        with contextlib.suppress(Exception):  # already failed or stopped: nothing left to stop
            query.stop()


def sync_and_verify(spark: SparkSession, settings: Settings, summary: DemoSummary, echo: Callable[[str], None]) -> None:
    """Sync the gold tables to the Snowflake emulator and reconcile them with Delta."""
    from riskstream.snowflake.sync import selected_tables, sync_tables
    from riskstream.snowflake.verify import verify_tables

    tables = selected_tables(None)
    for result in sync_tables(spark, settings, tables, echo=echo):
        summary.synced[result.table] = result.describe()
    for check in verify_tables(spark, settings, tables):
        summary.verified[check.table] = "ok" if check.ok else f"MISMATCH: {check.describe()}"


def measure_latency(spark: SparkSession, settings: Settings) -> LatencyStats:
    """Event -> gold latency of every accepted event (definition in the module docstring)."""
    import numpy as np

    from riskstream.analytics import event_to_gold_latencies

    latencies = event_to_gold_latencies(spark, settings)
    if latencies.size == 0:
        return LatencyStats(0, None, None, None)
    p50, p95 = np.percentile(latencies, [50, 95])
    return LatencyStats(int(latencies.size), float(p50), float(p95), float(latencies.max()))


def _reason_counts(quarantined: DataFrame) -> dict[str, int]:
    """Per reason code, how many quarantined records carry it (by code)."""
    from pyspark.sql import functions as F

    reasons = quarantined.select(F.explode("reason_codes").alias("reason")).groupBy("reason").count().collect()
    return dict(sorted((row.reason, int(row["count"])) for row in reasons))


def collect_summary(spark: SparkSession, settings: Settings, summary: DemoSummary) -> None:
    """Counts, quarantine reasons, per-portfolio risk, P&L and alerts from the tables."""
    from pyspark.sql import functions as F

    from riskstream import analytics
    from riskstream.dashboard import pnl_by_portfolio
    from riskstream.tables import Catalog

    catalog = Catalog(settings)
    quarantine = catalog.table("silver", "quarantine").read(spark)
    trades_quarantined = quarantine.where(F.col("source_topic") == settings.kafka.topic)
    ticks_quarantined = quarantine.where(F.col("source_topic") == settings.kafka.prices_topic)
    summary.events_in = catalog.table("bronze", "trade_events").read(spark).count()
    summary.accepted = catalog.table("silver", "trades").read(spark).count()
    summary.quarantined = trades_quarantined.count()
    summary.unaccounted = summary.events_in - summary.accepted - summary.quarantined
    summary.quarantined_by_reason = _reason_counts(trades_quarantined)
    summary.ticks_in = catalog.table("bronze", "price_ticks").read(spark).count()
    summary.ticks_accepted = catalog.table("silver", "prices").read(spark).count()
    summary.ticks_quarantined = ticks_quarantined.count()
    summary.ticks_unaccounted = summary.ticks_in - summary.ticks_accepted - summary.ticks_quarantined
    summary.ticks_quarantined_by_reason = _reason_counts(ticks_quarantined)
    currencies = catalog.table("reference", "portfolios").read(spark).select("portfolio_id", "base_currency")
    overview = analytics.risk_overview(spark, settings).join(currencies, "portfolio_id", "left")
    summary.portfolios = [row.asDict() for row in overview.orderBy("portfolio_id").collect()]
    pnl_table = catalog.table("gold", "pnl")
    if pnl_table.exists(spark):
        day = pnl_by_portfolio(pnl_table.read(spark).transform(analytics.select_trading_day()).toPandas())
        summary.pnl_date = day["trading_date"].iloc[0] if len(day) else None
        summary.pnl = [
            PortfolioPnl(
                row.portfolio_id, row.base_currency, row.realized_pnl_base, row.unrealized_pnl_base, row.total_pnl_base
            )
            for row in day.itertuples(index=False)
        ]
    alerts_table = catalog.table("gold", "risk_alerts")
    if alerts_table.exists(spark):
        rules = (
            alerts_table.read(spark)
            .groupBy("rule")
            .agg(F.count(F.lit(1)).alias("alerts"), F.array_sort(F.collect_set("portfolio_id")).alias("portfolios"))
            .orderBy("rule")
            .collect()
        )
        summary.alerts_by_rule = {row.rule: int(row.alerts) for row in rules}
        summary.alert_portfolios = {row.rule: list(row.portfolios) for row in rules}
    summary.latency = measure_latency(spark, settings)


# ----------------------------------------------------------------------------------------- output


def _amount(value: Any) -> str:
    from riskstream.dashboard import compact_amount

    return "-" if value is None else compact_amount(float(value))


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def print_summary(summary: DemoSummary, out: Console) -> None:
    flow = Table(title="Events", show_header=True)
    for column in ("produced", "events in (bronze)", "accepted (silver)", "quarantined", "unaccounted"):
        flow.add_column(column, justify="right")
    flow.add_row(
        str(summary.produced),
        str(summary.events_in),
        str(summary.accepted),
        str(summary.quarantined),
        str(summary.unaccounted),
    )
    out.print(flow)
    reasons = Table(title="Quarantined by reason (a record can carry several)")
    reasons.add_column("reason")
    reasons.add_column("records", justify="right")
    for reason, count in summary.quarantined_by_reason.items():
        reasons.add_row(reason, str(count))
    out.print(reasons)
    ticks = Table(title="Price and FX ticks", show_header=True)
    for column in ("produced", "ticks in (bronze)", "accepted (silver)", "quarantined", "unaccounted"):
        ticks.add_column(column, justify="right")
    ticks.add_row(
        str(summary.ticks_produced),
        str(summary.ticks_in),
        str(summary.ticks_accepted),
        str(summary.ticks_quarantined),
        str(summary.ticks_unaccounted),
    )
    out.print(ticks)
    tick_reasons = ", ".join(f"{reason} {count}" for reason, count in summary.ticks_quarantined_by_reason.items())
    out.print(f"ticks quarantined by reason: {tick_reasons or 'none'}")
    risk = Table(title="Portfolio risk: positions, gross and net exposure, 99% 1-day VaR (base currency), limit use")
    for column in ("portfolio", "ccy", "pos", "gross", "net", "VaR", "gross use", "VaR use"):
        risk.add_column(column, justify="left" if column in ("portfolio", "ccy") else "right")
    for row in summary.portfolios:
        risk.add_row(
            str(row["portfolio_id"]),
            str(row.get("base_currency") or "-"),
            str(row["position_count"]),
            _amount(row["gross_exposure_base"]),
            _amount(row["net_exposure_base"]),
            _amount(row["var_99_1d"]),
            _share(row["gross_limit_utilisation"]),
            _share(row["var_limit_utilisation"]),
        )
    out.print(risk)
    if summary.pnl:
        pnl = Table(title=f"P&L on {summary.pnl_date} (base currency)")
        for column in ("portfolio", "ccy", "realized", "unrealized", "total"):
            pnl.add_column(column, justify="left" if column in ("portfolio", "ccy") else "right")
        for day in summary.pnl:
            pnl.add_row(
                day.portfolio_id,
                day.base_currency or "-",
                _amount(day.realized),
                _amount(day.unrealized),
                _amount(day.total),
            )
        out.print(pnl)
    alerts = (
        ", ".join(
            f"{rule} {count} ({', '.join(summary.alert_portfolios.get(rule, []))})"
            for rule, count in summary.alerts_by_rule.items()
        )
        or "none"
    )
    out.print(f"alerts: {alerts}")
    latency = summary.latency
    if latency is not None and latency.p50_s is not None:
        out.print(
            f"event -> gold latency over {latency.events} accepted events: p50 {latency.p50_s:.2f}s, "
            f"p95 {latency.p95_s:.2f}s, max {latency.max_s:.2f}s (Kafka timestamp -> gold.portfolio_risk commit)"
        )
    for table, state in summary.verified.items():
        out.print(f"snowflake {table}: {state}")
    if summary.dashboard_png and summary.dashboard_html:
        out.print(f"dashboard: {summary.dashboard_png} and {summary.dashboard_html}")


# ------------------------------------------------------------------------------------ orchestration


def _follow(
    spark: SparkSession, settings: Settings, simulator: Any, options: DemoOptions, echo: Callable[[str], None]
) -> tuple[int, int]:
    """Produce trades and ticks continuously (a thread each) and run the pipeline with processingTime
    triggers until stopped; returns how many trades and ticks were sent."""
    from riskstream.simulator import DEFAULT_TICK_RATE

    stop = threading.Event()
    produced = Counter[str]()
    failure: list[BaseException] = []
    trades_total = int(options.follow_rate * 8 * 3600)
    ticks_total = int(DEFAULT_TICK_RATE * FOLLOW_TICK_SECONDS)

    def producer_loop(stream: str, records: Callable[[], Any], total: int, rate: float, topic: str) -> None:
        try:  # the tick plan is built here, in the thread, not before the queries start
            sending = itertools.takewhile(lambda _: not stop.is_set(), records())
            report = produce_events(settings, sending, total, rate, require_all=False, topic=topic)
        except Exception as error:  # the main thread reports it after shutting down
            failure.append(error)
            return
        produced[stream] = sum(report.by_kind.values())

    producers = {
        "trades": (
            lambda: simulator.events(trades_total, rate=options.follow_rate, faults=fault_rates()),
            trades_total,
            options.follow_rate,
            settings.kafka.topic,
        ),
        "ticks": (
            lambda: simulator.ticks(
                ticks_total,
                rate=DEFAULT_TICK_RATE,
                trade_rate=options.follow_rate,
                faults=tick_fault_rates(),
                staleness=DEMO_TICK_STALENESS,
            ),
            ticks_total,
            DEFAULT_TICK_RATE,
            settings.kafka.prices_topic,
        ),
    }
    queries = start_pipeline(spark, settings, options.follow_interval)
    threads = [
        threading.Thread(target=producer_loop, args=(stream, *producer), name=f"demo-producer-{stream}", daemon=True)
        for stream, producer in producers.items()
    ]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    echo(
        f"follow: producing {options.follow_rate:g} events/s and {DEFAULT_TICK_RATE:g} ticks/s, "
        f"triggers every {options.follow_interval}; Ctrl-C to stop"
    )
    try:
        with stop_on_signals() as stop_signal:
            while not stop_signal.requested and (
                options.follow_seconds is None or time.monotonic() - began < options.follow_seconds
            ):
                time.sleep(1.0)
                failed = [query for query in queries if query.exception() is not None]
                if failed or failure:
                    break
                if int(time.monotonic() - began) % 10 == 0:
                    rows = {query.name: dict(query.lastProgress or {}).get("numInputRows", 0) for query in queries}
                    echo("follow: last batch rows " + ", ".join(f"{name} {count}" for name, count in rows.items()))
        if stop_signal.requested:
            echo("follow: stopping ...")
    except KeyboardInterrupt:  # not the main thread: no handler was installed
        echo("follow: stopping ...")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        stop_queries(queries)
    errors = [str(query.exception()) for query in queries if query.exception() is not None]
    if failure:
        raise failure[0]
    if errors:
        raise PipelineError("a streaming query failed: " + errors[0])
    return produced["trades"], produced["ticks"]


def produce_in_rounds(
    spark: SparkSession,
    settings: Settings,
    simulator: Any,
    options: DemoOptions,
    summary: DemoSummary,
    echo: Callable[[str], None],
) -> None:
    """Per round: send the round's share of the trades and of the ticks (the same stream time), then
    run bronze -> silver -> gold with availableNow."""
    from riskstream.simulator import DEFAULT_TICK_RATE

    trade_rate = trade_stream_rate(options)
    ticks = tick_count(options)
    trade_stream = simulator.events(options.events, rate=trade_rate, faults=fault_rates())
    tick_stream = simulator.ticks(
        ticks, rate=DEFAULT_TICK_RATE, trade_rate=trade_rate, faults=tick_fault_rates(), staleness=DEMO_TICK_STALENESS
    )
    by_kind, tick_kinds = Counter[str](), Counter[str]()
    rounds = max(1, min(options.rounds, options.events))
    for number, (size, tick_size) in enumerate(
        zip(round_sizes(options.events, rounds), round_sizes(ticks, rounds), strict=True)
    ):
        report = produce_events(settings, itertools.islice(trade_stream, size), size, options.rate)
        summary.produced += report.delivered
        by_kind.update(report.by_kind)
        echo(f"round {number + 1}/{rounds}: produce: {report.summary()}")
        report = produce_events(
            settings,
            itertools.islice(tick_stream, tick_size),
            tick_size,
            options.rate,
            topic=settings.kafka.prices_topic,
        )
        summary.ticks_produced += report.delivered
        tick_kinds.update(report.by_kind)
        echo(f"round {number + 1}/{rounds}: produce ticks: {report.summary()}")
        run_pipeline_available_now(spark, settings, echo)
    summary.produced_by_kind = dict(sorted(by_kind.items()))
    summary.ticks_produced_by_kind = dict(sorted(tick_kinds.items()))


DEMO_REFERENCE_SEED = 2026
"""The demo's book (portfolios, instruments, FX, correlations) is the same on every run; only the
event stream's seed changes, so a re-run without --fresh adds new trades to consistent positions."""


def run_demo(settings: Settings, options: DemoOptions, echo: Callable[[str], None]) -> DemoSummary:
    """Run the demo on ``settings`` (local target) and return its summary. Stops what it started."""
    from riskstream.dashboard import write_dashboard
    from riskstream.simulator import MarketSimulator
    from riskstream.spark import get_spark

    if not settings.is_local:
        raise ConfigError("the demo runs on the local target only")
    settings = with_demo_tick_max_age(settings)
    summary = DemoSummary()
    topics = {
        name: settings.kafka.partitions
        for name in (settings.kafka.topic, settings.kafka.prices_topic, settings.kafka.alerts_topic)
    }
    started_here = kafka_broker.running_broker() is None
    echo("broker: starting the local Apache Kafka broker" if started_here else "broker: reusing the running broker")
    broker = kafka_broker.start(topics=topics, partitions=settings.kafka.partitions)
    summary.broker_pid = broker.pid
    try:
        echo(f"broker: {broker.bootstrap_servers} (pid {broker.pid})")
        spark = get_spark(settings)
        now = datetime.now(UTC).replace(microsecond=0)
        seed = options.seed if options.seed is not None else int(now.timestamp()) % 1_000_000
        echo(f"simulator: seed {seed} (repeat a run with --seed {seed} --fresh)")
        echo(f"silver: ticks older than {settings.silver.tick_max_age} are stale (the demo's clock is compressed)")
        simulator = MarketSimulator(
            seed,
            options.portfolios,
            options.instruments,
            start=now,
            market_speedup=390.0,
            reference_seed=DEMO_REFERENCE_SEED,
        )
        load_reference_data(spark, settings, simulator, echo)
        if options.follow:
            summary.produced, summary.ticks_produced = _follow(spark, settings, simulator, options, echo)
        else:
            produce_in_rounds(spark, settings, simulator, options, summary, echo)
        if options.sync:
            sync_and_verify(spark, settings, summary, echo)
        collect_summary(spark, settings, summary)
        out_dir = options.out_dir or project_root() / "out"
        if Catalog(settings).table("gold", "portfolio_risk").read(spark).isEmpty():
            # --follow stopped before gold's first batch committed: nothing to draw yet.
            echo("dashboard: gold.portfolio_risk is still empty; no dashboard written")
        else:
            files = write_dashboard(spark, settings, out_dir, generated_at=datetime.now(UTC))
            summary.dashboard_png, summary.dashboard_html = files.png, files.html
    finally:
        if started_here:
            kafka_broker.stop()
            summary.broker_stopped = True
            echo(f"broker: stopped (pid {broker.pid})")
    return summary


def reset_local_state() -> None:
    """Stop the project's broker and delete the local state folder (tables, checkpoints, Kafka data)."""
    kafka_broker.stop()
    shutil.rmtree(state_dir(), ignore_errors=True)


def demo(
    events: Annotated[
        int,
        typer.Option(min=1, help="How many trade events to produce (with injected faults); ticks cover their time."),
    ] = 2000,
    seed: Annotated[
        int | None, typer.Option(help="Simulator seed (default: from the clock); the same seed, the same events.")
    ] = None,
    portfolios: Annotated[int, typer.Option(min=1, help="Simulated portfolios.")] = 6,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete local state (tables, checkpoints, Kafka) first.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Keep producing and processing (processingTime) until Ctrl-C."),
    ] = False,
    rate: Annotated[float, typer.Option(min=0.0, help="--follow: events per second.")] = 50.0,
    sync: Annotated[bool, typer.Option(help="Sync gold to the Snowflake emulator and verify.")] = True,
    out: Annotated[Path | None, typer.Option(help="Where to write dashboard.png/.html (default ./out).")] = None,
) -> None:
    """Start the local broker, load reference data, produce faulty trades and price / FX ticks, run
    bronze->silver->gold, sync to the Snowflake emulator, print a summary and write the dashboard; stops
    what it started. The demo runs on the local target only (it starts and stops its own broker)."""
    settings = settings_for("local")
    if fresh:
        reset_local_state()
        console.print(f"demo: deleted local state in {state_dir()}")
        settings = settings_for("local")
    options = DemoOptions(
        events=events, seed=seed, portfolios=portfolios, follow=follow, follow_rate=rate, sync=sync, out_dir=out
    )
    began = time.monotonic()
    with console.status("demo: starting ...") as status:

        def echo(message: str) -> None:
            console.print(f"demo: {message}", markup=False)
            status.update(f"demo: {message}")

        summary = run_demo(settings, options, echo)
    print_summary(summary, console)
    console.print(f"demo: finished in {time.monotonic() - began:.0f}s")
