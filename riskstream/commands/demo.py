"""``riskstream demo``: the whole local flow on the embedded defaults, end to end.

broker -> simulated reference data (loaded into Delta) -> simulated trades with injected faults
(Kafka) -> bronze -> silver -> gold (availableNow) -> Snowflake emulator sync + verify -> summary
and dashboard. ``--follow`` keeps producing and processing with processingTime triggers until
Ctrl-C or SIGTERM. Every process the demo starts (the broker, the producer thread, the streaming
queries) is stopped before it returns, and a second run reuses the tables and checkpoints
(``--fresh`` deletes the local state first).

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
from datetime import UTC, datetime
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
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from riskstream.simulator import FaultRates

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


@dataclass(frozen=True)
class DemoOptions:
    events: int = 2000
    seed: int | None = None
    """Simulator seed; None derives one from the clock, so a re-run sends new event_ids (the same
    seed repeats the same event_ids, which silver then drops as duplicates)."""
    portfolios: int = 6
    instruments: int = 30
    rate: float = 0.0
    """Records per second sent (0: as fast as the broker acknowledges)."""
    rounds: int = 4
    """The events are sent in this many equal rounds, each followed by a bronze -> silver -> gold
    run, so gold.portfolio_risk gets one version per round (the dashboard's points in time)."""
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


@dataclass
class DemoSummary:
    produced: int = 0
    produced_by_kind: dict[str, int] = field(default_factory=dict)
    events_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    unaccounted: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    portfolios: list[dict[str, Any]] = field(default_factory=list)
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


def _job(name: str) -> Any:
    """The layer's job module (``jobs.<name>``), with a clear error if this checkout lacks it."""
    try:
        return importlib.import_module(f"jobs.{name}")
    except ModuleNotFoundError as error:
        raise PipelineError(f"the {name} job (jobs/{name}.py) is not in this checkout: {error}") from None


# ------------------------------------------------------------------------------------------ steps


def load_reference_data(spark: SparkSession, settings: Settings, simulator: Any, echo: Callable[[str], None]) -> None:
    """Write the simulator's reference CSVs under the state folder and load them into Delta."""
    from riskstream.reference import load_reference
    from riskstream.tables import Catalog

    folder = state_dir() / "reference"
    simulator.write_reference_csv(folder)
    catalog = Catalog(settings)
    load_reference(
        spark,
        folder,
        lambda name: catalog.table("reference", name),
        lambda name, rows: echo(f"reference.{name}: {rows} rows"),
    )


def produce_events(
    settings: Settings, records: Any, planned: int, rate: float, *, require_all: bool = True, on_progress: Any = None
) -> Any:
    """Send ``records`` to the trades topic through the producer library.

    Raises DeliveryError when a record failed, and also when fewer than ``planned`` were sent if
    ``require_all`` (``--follow`` stops its endless stream on purpose, so it only checks failures).
    """
    from riskstream.producer import KafkaTransport, produce
    from riskstream.runtime import bootstrap_servers

    transport = KafkaTransport.from_config(settings.kafka, bootstrap_servers(settings))
    report = produce(
        records, transport, destination=settings.kafka.topic, planned=planned, rate=rate, on_progress=on_progress
    )
    if require_all or report.failed:
        report.raise_for_failures()
    return report


def run_pipeline_available_now(spark: SparkSession, settings: Settings, echo: Callable[[str], None]) -> None:
    """bronze -> silver -> gold, each processing everything available, in flow order."""
    trigger = TriggerConfig(kind="available_now")
    for name in ("bronze", "silver", "gold"):
        began = time.monotonic()
        _job(name).run(spark, settings, trigger)
        echo(f"{name}: done in {time.monotonic() - began:.1f}s")


def start_pipeline(spark: SparkSession, settings: Settings, interval: str) -> list[StreamingQuery]:
    """bronze, silver and gold as running queries with processingTime triggers."""
    trigger = TriggerConfig(kind="processing_time", interval=interval)
    queries: list[StreamingQuery] = []
    try:
        for name in ("bronze", "silver", "gold"):
            job = _job(name)
            started = (
                job.start(spark, settings, trigger) if hasattr(job, "start") else job.run(spark, settings, trigger)
            )
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


def collect_summary(spark: SparkSession, settings: Settings, summary: DemoSummary) -> None:
    """Counts, quarantine reasons, per-portfolio risk and alerts from the tables."""
    from pyspark.sql import functions as F

    from riskstream import analytics
    from riskstream.tables import Catalog

    catalog = Catalog(settings)
    summary.events_in = catalog.table("bronze", "trade_events").read(spark).count()
    summary.accepted = catalog.table("silver", "trades").read(spark).count()
    quarantine = catalog.table("silver", "quarantine").read(spark)
    summary.quarantined = quarantine.count()
    summary.unaccounted = summary.events_in - summary.accepted - summary.quarantined
    reasons = quarantine.select(F.explode("reason_codes").alias("reason")).groupBy("reason").count().collect()
    summary.quarantined_by_reason = dict(sorted((row.reason, int(row["count"])) for row in reasons))
    currencies = catalog.table("reference", "portfolios").read(spark).select("portfolio_id", "base_currency")
    overview = analytics.risk_overview(spark, settings).join(currencies, "portfolio_id", "left")
    summary.portfolios = [row.asDict() for row in overview.orderBy("portfolio_id").collect()]
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
) -> int:
    """Produce continuously in a thread and run the pipeline with processingTime triggers until stopped."""
    stop = threading.Event()
    produced = Counter[str]()
    failure: list[BaseException] = []
    total = int(options.follow_rate * 8 * 3600)

    def producer_loop() -> None:
        records = itertools.takewhile(
            lambda _: not stop.is_set(), simulator.events(total, rate=options.follow_rate, faults=fault_rates())
        )
        try:
            report = produce_events(settings, records, total, options.follow_rate, require_all=False)
        except Exception as error:  # the main thread reports it after shutting down
            failure.append(error)
            return
        produced.update(report.by_kind)

    queries = start_pipeline(spark, settings, options.follow_interval)
    thread = threading.Thread(target=producer_loop, name="demo-producer", daemon=True)
    thread.start()
    began = time.monotonic()
    echo(
        f"follow: producing {options.follow_rate:g} events/s, triggers every {options.follow_interval}; Ctrl-C to stop"
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
        thread.join(timeout=60)
        stop_queries(queries)
    errors = [str(query.exception()) for query in queries if query.exception() is not None]
    if failure:
        raise failure[0]
    if errors:
        raise PipelineError("a streaming query failed: " + errors[0])
    return sum(produced.values())


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
    summary = DemoSummary()
    topics = {settings.kafka.topic: settings.kafka.partitions, settings.kafka.alerts_topic: settings.kafka.partitions}
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
            summary.produced = _follow(spark, settings, simulator, options, echo)
        else:
            stream = simulator.events(options.events, rate=max(options.rate, 50.0), faults=fault_rates())
            by_kind = Counter[str]()
            rounds = max(1, min(options.rounds, options.events))
            for number in range(rounds):
                size = options.events // rounds + (1 if number < options.events % rounds else 0)
                report = produce_events(settings, itertools.islice(stream, size), size, options.rate)
                summary.produced += report.delivered
                by_kind.update(report.by_kind)
                echo(f"round {number + 1}/{rounds}: produce: {report.summary()}")
                run_pipeline_available_now(spark, settings, echo)
            summary.produced_by_kind = dict(sorted(by_kind.items()))
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
    events: Annotated[int, typer.Option(min=1, help="How many events to produce (with injected faults).")] = 2000,
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
    """Start the local broker, load reference data, produce faulty trades, run bronze->silver->gold,
    sync to the Snowflake emulator, print a summary and write the dashboard; stops what it started.
    The demo runs on the local target only (it starts and stops its own broker)."""
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
