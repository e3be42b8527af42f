"""Pipeline benchmark: bronze -> silver -> gold throughput, memory, and whether state stays bounded.

``python -m benchmarks.pipeline [--events 15000] [--rounds 3] [--round-span-hours H]``

On the shipped local configuration in a scratch folder with its own broker
(:mod:`benchmarks.harness`): load the simulator's reference data, then per round produce the
round's share of the simulated events (demo fault rates) and run bronze, silver and gold with
availableNow, one after the other, through the jobs' own ``run`` functions. Per round and stage it
prints rows in, micro-batches, wall seconds, rows/s and memory; per round and stateful query (silver's
lifecycle operator, gold's two window aggregations) the state rows and state memory of the
query's last progress report. The figures also go to ``out/bench/pipeline.json``.

Event time. The stream's ``trade_ts`` cover ``rounds x round span``, ending just before now
(silver quarantines ``trade_ts`` more than ``future_skew`` ahead of the clock), so each round's
events are later than the previous round's and the watermarks advance. The default round span is
silver's state horizon (:func:`benchmarks.figures.silver_state_horizon`, 7 days 10 minutes with
the shipped config): state bounded by the watermark then holds about one round's trades after
every round, while state that kept every trade would grow by a round's worth each time. The
closing verdict lines say which of the two the figures show; the benchmark exits 0 either way.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from benchmarks.figures import (
    TimeSplit,
    round_sizes,
    rows_per_second,
    silver_state_horizon,
    stream_clock_range,
    summarise_query,
    time_split,
    verdict_line,
)
from benchmarks.harness import (
    MIB,
    default_output,
    jvm_memory,
    python_peak_rss_mib,
    scratch_environment,
    wide_console,
    write_figures,
)
from jobs import bronze, gold, silver

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from riskstream.config import Settings
    from riskstream.monitoring import ProgressCollector


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[..., Any]
    input_query: str
    """The query whose input rows are the stage's rows in (gold's three queries read the same rows)."""
    state_queries: tuple[str, ...]


STAGES = (
    Stage("bronze", bronze.run, bronze.QUERY_NAME, ()),
    Stage("silver", silver.run, silver.QUERY_NAME, (silver.QUERY_NAME,)),
    Stage("gold", gold.run, gold.QUERY_POSITIONS, (gold.QUERY_PORTFOLIO_RISK_1M, gold.QUERY_EXPOSURE_5M)),
)
STAGE_QUERIES = {
    "bronze": (bronze.QUERY_NAME, bronze.PRICES_QUERY_NAME),
    "silver": (silver.QUERY_NAME, silver.PRICES_QUERY_NAME),
    "gold": (gold.QUERY_POSITIONS, gold.QUERY_PORTFOLIO_RISK_1M, gold.QUERY_EXPOSURE_5M),
}
"""Every query a stage's ``run`` runs (bronze and silver each run a trades and a prices query; this
benchmark sends no ticks, so the prices queries' batches are the cost of an idle second stream)."""
STATE_QUERIES = tuple(query for stage in STAGES for query in stage.state_queries)


@dataclass(frozen=True)
class PipelineOptions:
    events: int = 15_000
    """All rounds together (``--events 200000 --rounds 1`` is the silver speed check of the README)."""
    rounds: int = 3
    round_span: timedelta | None = None
    """Event time covered by one round; None: silver's state horizon."""
    seed: int = 7
    portfolios: int = 6
    instruments: int = 30


@dataclass(frozen=True)
class StageFigures:
    round: int
    stage: str
    rows_in: int
    batches: int
    wall_s: float
    rows_per_s: float | None
    python_peak_rss_mib: float
    jvm_heap_used_mib: float
    jvm_peak_rss_mib: float | None


@dataclass(frozen=True)
class StateFigures:
    round: int
    query: str
    state_rows: int | None
    state_memory_bytes: int | None
    watermark: str | None


@dataclass(frozen=True)
class RoundFigures:
    round: int
    produced: int
    produce_s: float
    first_trade_ts: str
    last_trade_ts: str


@dataclass
class PipelineFigures:
    options: dict[str, Any]
    settings: dict[str, Any]
    rounds: list[RoundFigures]
    stages: list[StageFigures]
    state: list[StateFigures]
    splits: list[tuple[int, TimeSplit]] = field(default_factory=list)
    """(round, where each query's micro-batches spent their time)."""

    def state_rows(self, query: str) -> list[int | None]:
        return [figure.state_rows for figure in self.state if figure.query == query]

    def verdicts(self) -> dict[str, str]:
        """One line per stateful query, e.g. ``silver_trades state rows: 812 → 840 → 836 (bounded)``."""
        return {query: verdict_line(f"{query} state rows", self.state_rows(query)) for query in STATE_QUERIES}

    def silver_to_bronze(self) -> float | None:
        """Silver's rows/s as a share of bronze's (round 1): machine-independent, unlike either rate."""
        rates = {stage.stage: stage.rows_per_s for stage in self.stages if stage.round == 1}
        bronze_rate, silver_rate = rates.get("bronze"), rates.get("silver")
        return silver_rate / bronze_rate if bronze_rate and silver_rate is not None else None

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": "pipeline",
            "options": self.options,
            "settings": self.settings,
            "rounds": [asdict(figure) for figure in self.rounds],
            "stages": [asdict(figure) for figure in self.stages],
            "state": [asdict(figure) for figure in self.state],
            "time_split": [{"round": number, **asdict(split)} for number, split in self.splits],
            "silver_to_bronze_rows_per_s": self.silver_to_bronze(),
            "verdicts": self.verdicts(),
        }


def _run_stages(
    spark: SparkSession, settings: Settings, collector: ProgressCollector, number: int, figures: PipelineFigures
) -> None:
    """bronze, silver, gold with availableNow, in flow order, adding their figures for round ``number``."""
    from riskstream.config import TriggerConfig

    trigger = TriggerConfig(kind="available_now")
    collector.drain(spark)
    for stage in STAGES:
        began = time.monotonic()
        stage.run(spark, settings, trigger)
        wall_s = time.monotonic() - began
        progresses = collector.drain(spark)
        memory = jvm_memory(spark)
        stage_input = summarise_query(progresses, stage.input_query)
        figures.stages.append(
            StageFigures(
                number,
                stage.name,
                stage_input.rows_in,
                stage_input.batches,
                round(wall_s, 2),
                rows_per_second(stage_input.rows_in, wall_s),
                round(python_peak_rss_mib(), 1),
                round(memory.heap_used_mib, 1),
                None if memory.peak_rss_mib is None else round(memory.peak_rss_mib, 1),
            )
        )
        figures.splits += [(number, time_split(progresses, query)) for query in STAGE_QUERIES[stage.name]]
        for query in stage.state_queries:
            run = summarise_query(progresses, query)
            figures.state.append(StateFigures(number, query, run.state_rows, run.state_memory_bytes, run.watermark))


def run_pipeline_benchmark(options: PipelineOptions, echo: Callable[[str], None]) -> PipelineFigures:
    """Run the benchmark (module docstring) in a scratch environment and return its figures."""
    from riskstream.commands.demo import fault_rates, load_reference_data, produce_events
    from riskstream.monitoring import ProgressCollector
    from riskstream.simulator import MarketSimulator
    from riskstream.spark import get_spark

    with scratch_environment() as scratch:
        settings = scratch.settings
        echo(f"scratch folder {scratch.folder}, broker {scratch.broker.bootstrap_servers} (pid {scratch.broker.pid})")
        span = options.round_span or silver_state_horizon(settings.silver)
        start = datetime.now(UTC).replace(microsecond=0) - span * options.rounds
        figures = PipelineFigures(
            options={**asdict(options), "round_span": str(span), "round_span_s": span.total_seconds()},
            settings={
                "spark_master": settings.spark.master,
                "shuffle_partitions": settings.spark.shuffle_partitions,
                "rocksdb_state_store": settings.spark.rocksdb_state_store,
                "kafka_partitions": settings.kafka.partitions,
                "silver": settings.silver.model_dump(),
                "gold_watermark": settings.gold.watermark,
            },
            rounds=[],
            stages=[],
            state=[],
        )
        simulator = MarketSimulator(options.seed, options.portfolios, options.instruments, start=start)
        spark = get_spark(settings)
        collector = ProgressCollector().attach(spark)
        try:
            load_reference_data(spark, settings, simulator, lambda message: None, scratch.folder / "reference")
            rate = options.events / (span * options.rounds).total_seconds()
            stream = simulator.events(options.events, rate=rate, faults=fault_rates())
            for number, size in enumerate(round_sizes(options.events, options.rounds), start=1):
                records = list(itertools.islice(stream, size))
                began = time.monotonic()
                report = produce_events(settings, records, size, 0.0)
                first, last = stream_clock_range(records)
                figures.rounds.append(
                    RoundFigures(number, report.delivered, round(time.monotonic() - began, 2), first, last)
                )
                echo(f"round {number}/{options.rounds}: produced {report.delivered} events, trade_ts {first} .. {last}")
                _run_stages(spark, settings, collector, number, figures)
                echo(f"round {number}/{options.rounds}: bronze, silver, gold done")
        finally:
            collector.detach(spark)
            spark.stop()
    return figures


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_figures(figures: PipelineFigures, out: Console) -> None:
    throughput = Table(title="Throughput and memory (after each stage)")
    columns = ("round", "stage", "rows in", "batches", "wall s", "rows/s", "py peak RSS MiB", "JVM heap MiB")
    for column in (*columns, "JVM peak RSS MiB"):
        throughput.add_column(column, justify="left" if column == "stage" else "right")
    for stage in figures.stages:
        throughput.add_row(
            str(stage.round),
            stage.stage,
            _number(stage.rows_in),
            str(stage.batches),
            _number(stage.wall_s, 1),
            _number(stage.rows_per_s),
            _number(stage.python_peak_rss_mib),
            _number(stage.jvm_heap_used_mib),
            _number(stage.jvm_peak_rss_mib),
        )
    out.print(throughput)
    state = Table(title="State after each round (last progress report of the query)")
    for column in ("round", "query", "state rows", "state memory MiB", "watermark"):
        state.add_column(column, justify="left" if column in ("query", "watermark") else "right")
    for figure in figures.state:
        memory = None if figure.state_memory_bytes is None else figure.state_memory_bytes / MIB
        state.add_row(
            str(figure.round), figure.query, _number(figure.state_rows), _number(memory, 2), figure.watermark or "-"
        )
    out.print(state)
    split = Table(title="Where micro-batches spent their time (durationMs summed over the round's batches, s)")
    headings = ("round", "query", "batches", "data", "trigger", "planning", "max plan", "getBatch", "addBatch")
    for column in (*headings, "commit", "other", "state upd", "state commit"):
        split.add_column(column, justify="left" if column == "query" else "right")
    for number, figure in figures.splits:
        parts = figure.parts_ms
        seconds = [
            figure.trigger_ms,
            parts["queryPlanning"],
            figure.max_planning_ms,
            parts["getBatch"],
            parts["addBatch"],
            parts["commit"],
            figure.other_ms,
            figure.state_update_ms,
            figure.state_commit_ms,
        ]
        split.add_row(
            str(number),
            figure.query,
            str(figure.batches),
            str(figure.data_batches),
            *[_number(ms / 1000, 2) for ms in seconds],
        )
    out.print(split)
    ratio = figures.silver_to_bronze()
    out.print(
        f"silver rows/s as a share of bronze rows/s (round 1): {_number(None if ratio is None else ratio * 100, 1)} %"
    )
    for line in figures.verdicts().values():
        out.print(line)


def _options(argv: Sequence[str] | None) -> tuple[PipelineOptions, Path]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=PipelineOptions.events, help="events in all rounds together")
    parser.add_argument("--rounds", type=int, default=PipelineOptions.rounds, help="produce + bronze/silver/gold runs")
    parser.add_argument(
        "--round-span-hours", type=float, default=None, help="event time per round (default: silver's state horizon)"
    )
    parser.add_argument("--seed", type=int, default=PipelineOptions.seed, help="simulator seed")
    parser.add_argument("--out", type=Path, default=default_output("pipeline"), help="where to write the JSON figures")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.events < args.rounds:
        parser.error("need --rounds >= 1 and --events >= --rounds")
    if args.round_span_hours is not None and args.round_span_hours <= 0:
        parser.error("--round-span-hours must be positive")
    span = None if args.round_span_hours is None else timedelta(hours=args.round_span_hours)
    return PipelineOptions(events=args.events, rounds=args.rounds, round_span=span, seed=args.seed), args.out


def main(argv: Sequence[str] | None = None) -> int:
    options, out_path = _options(argv)
    console = wide_console()
    began = time.monotonic()
    figures = run_pipeline_benchmark(options, lambda message: console.print(f"bench pipeline: {message}", markup=False))
    print_figures(figures, console)
    write_figures(out_path, figures.as_json())
    console.print(f"bench pipeline: finished in {time.monotonic() - began:.0f}s; figures in {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
