"""Pipeline benchmark: a replay, Kafka -> bronze and the hot query, end to end, and whether state stays bounded.

``python -m benchmarks.pipeline [--events 15000] [--rounds 3] [--round-span-hours H]``

On the shipped local configuration in a scratch folder with its own broker
(:mod:`benchmarks.harness`): load the simulator's reference data, then per round produce the
round's share of the simulated events (demo fault rates) and replay them the way an operator would:
``riskstream run all --trigger available-now`` in a process of its own, which starts its JVM and runs
bronze (``jobs.bronze.run``), the hot query (``jobs.hot.run``: Kafka -> silver and gold ->
``gold.portfolio_risk``) and the window queries (``jobs.gold.run_windows``) one after the other, each
with availableNow. Per round it prints the end-to-end figure, events / (seconds from launching the
command until the hot query is done: Python and JVM start-up, bronze and the hot query), beside the
Kafka read ceiling (a plain consumer draining the trades topic after the last round); per job the rows
in, micro-batches, wall seconds (from its ``starting`` line to its ``done`` line) and rows/s, the window
queries apart (they are off the path to risk); the command's memory and JVM CPU; per round and stateful
query (the hot query's lifecycle operator, the two window aggregations) the state rows and state memory
of the query's last progress report (from ``ops.stream_progress``, which the command writes). The
figures also go to ``out/bench/pipeline.json``.

Event time. The stream's ``trade_ts`` cover ``rounds x round span``, ending just before now (the
lifecycle quarantines ``trade_ts`` more than ``future_skew`` ahead of the Kafka timestamp), so each
round's events are later than the previous round's and the watermarks advance. The default round span
is the lifecycle's state horizon (:func:`benchmarks.figures.silver_state_horizon`, 7 days 10 minutes
with the shipped config): state bounded by the watermark then holds about one round's trades after
every round, while state that kept every trade would grow by a round's worth each time. The closing
verdict lines say which of the two the figures show; the benchmark exits 0 either way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
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
from benchmarks.harness import MIB, default_output, scratch_environment, wide_console, write_figures
from benchmarks.latency import RunSampler, average_cores, kafka_read_ceiling
from jobs import bronze, gold, hot

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from riskstream.tables import TableRef

SAMPLE_SECONDS = 1.0
"""How often the replay command's memory and CPU are sampled."""


@dataclass(frozen=True)
class Stage:
    name: str
    """The job as ``riskstream run`` names it (and prints it in its ``run <job>: ...`` lines)."""
    input_query: str
    """The query whose input rows are the job's rows in."""
    queries: tuple[str, ...]
    on_path: bool
    """On the path from Kafka to ``gold.portfolio_risk`` (the window queries are not)."""


STAGES = (
    Stage("hot", hot.QUERY_NAME, (hot.QUERY_NAME,), on_path=True),
    Stage("bronze", bronze.QUERY_NAME, (bronze.QUERY_NAME, bronze.PRICES_QUERY_NAME), on_path=False),
    Stage(
        "windows",
        gold.QUERY_PORTFOLIO_RISK_1M,
        (gold.QUERY_PORTFOLIO_RISK_1M, gold.QUERY_EXPOSURE_5M),
        on_path=False,
    ),
)
"""What ``riskstream run all`` runs, in its order (bronze's prices query reads an empty topic here: this
benchmark sends no ticks, so its batches are the cost of an idle second stream)."""
STATE_QUERIES = (hot.QUERY_NAME, gold.QUERY_PORTFOLIO_RISK_1M, gold.QUERY_EXPOSURE_5M)
LAST_ON_PATH = "hot"
"""The end-to-end figure ends when this job is done."""

_STAGE_LINE = re.compile(r"^run (?P<job>\w+): (?P<what>starting|done)\b")


@dataclass(frozen=True)
class PipelineOptions:
    events: int = 15_000
    """All rounds together (``--events 200000 --rounds 1`` is the replay speed check of the README)."""
    rounds: int = 3
    round_span: timedelta | None = None
    """Event time covered by one round; None: the lifecycle's state horizon."""
    seed: int = 7
    portfolios: int = 6
    instruments: int = 30


@dataclass(frozen=True)
class StageFigures:
    round: int
    stage: str
    on_path: bool
    rows_in: int
    batches: int
    wall_s: float | None
    rows_per_s: float | None


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
    startup_s: float | None = None
    """From launching the command to its first ``starting`` line: Python, settings, JVM and Spark session."""
    end_to_end_s: float | None = None
    """From launching the command to the hot query's ``done`` line."""
    end_to_end_per_s: float | None = None
    jvm_cpu_cores: float | None = None
    """The command's JVM, averaged from launch to exit."""
    python_peak_rss_mib: float | None = None
    jvm_peak_rss_mib: float | None = None


@dataclass
class PipelineFigures:
    options: dict[str, Any]
    settings: dict[str, Any]
    rounds: list[RoundFigures]
    stages: list[StageFigures]
    state: list[StateFigures]
    splits: list[tuple[int, TimeSplit]] = field(default_factory=list)
    """(round, where each query's micro-batches spent their time)."""
    kafka_ceiling: dict[str, float] | None = None
    """A plain consumer draining the trades topic after the last round
    (:func:`benchmarks.latency.kafka_read_ceiling`)."""

    def state_rows(self, query: str) -> list[int | None]:
        return [figure.state_rows for figure in self.state if figure.query == query]

    def verdicts(self) -> dict[str, str]:
        """One line per stateful query, e.g. ``hot_risk state rows: 812 → 840 → 836 (bounded)``."""
        return {query: verdict_line(f"{query} state rows", self.state_rows(query)) for query in STATE_QUERIES}

    def end_to_end_to_ceiling(self) -> float | None:
        """Round 1's end-to-end events/s as a share of the plain consumer's records/s: machine-independent."""
        rate = next((figure.end_to_end_per_s for figure in self.rounds if figure.round == 1), None)
        ceiling = (self.kafka_ceiling or {}).get("per_s")
        return rate / ceiling if rate is not None and ceiling else None

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": "pipeline",
            "options": self.options,
            "settings": self.settings,
            "rounds": [asdict(figure) for figure in self.rounds],
            "stages": [asdict(figure) for figure in self.stages],
            "state": [asdict(figure) for figure in self.state],
            "time_split": [{"round": number, **asdict(split)} for number, split in self.splits],
            "kafka_ceiling": self.kafka_ceiling,
            "end_to_end_to_kafka_ceiling": self.end_to_end_to_ceiling(),
            "verdicts": self.verdicts(),
        }


def job_times(lines: Sequence[tuple[float, str]]) -> dict[str, tuple[float | None, float | None]]:
    """Per job of ``riskstream run``'s output: the seconds (first of each pair in ``lines``, from launch) at
    which it printed its ``run <job>: starting`` and its ``run <job>: done`` line (None: not printed)."""
    times: dict[str, list[float | None]] = {}
    for at_s, line in lines:
        matched = _STAGE_LINE.match(line)
        if matched is None:
            continue
        own = times.setdefault(matched["job"], [None, None])
        own[0 if matched["what"] == "starting" else 1] = at_s
    return {job: (started, done) for job, (started, done) in times.items()}


@dataclass(frozen=True)
class Replay:
    lines: list[tuple[float, str]]
    """The command's output, each line with the seconds from launch at which it was read."""
    samples: list[dict[str, float | None]]


def run_replay(conf_path: Path, state: Path) -> Replay:
    """``riskstream run all --trigger available-now`` on the benchmark conf, in a process of its own."""
    executable = shutil.which("riskstream", path=str(Path(sys.executable).parent)) or "riskstream"
    env = {
        **os.environ,
        "RISKSTREAM_CONF": str(conf_path),
        "RISKSTREAM_STATE_DIR": str(state),
        "PYTHONUNBUFFERED": "1",
    }
    began = time.monotonic()
    process = subprocess.Popen(
        [executable, "run", "all", "--trigger", "available-now"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[tuple[float, str]] = []
    with RunSampler(process.pid, every_s=SAMPLE_SECONDS) as sampler:
        for raw in process.stdout:
            lines.append((time.monotonic() - began, raw.decode(errors="replace").rstrip()))
        code = process.wait()
    if code != 0:
        tail = "\n".join(line for _, line in lines[-30:])
        raise RuntimeError(f"`riskstream run all --trigger available-now` exited with {code}:\n{tail}")
    return Replay(lines, sampler.samples)


def _new_progress(spark: SparkSession, table: TableRef, seen: set[tuple[str, int]]) -> list[dict[str, Any]]:
    """The progress reports in ``ops.stream_progress`` not in ``seen`` (run id, batch id), which they join."""
    reports = [json.loads(row.progress_json) for row in table.read(spark).select("progress_json").collect()]
    fresh = [report for report in reports if (report["runId"], int(report["batchId"])) not in seen]
    seen.update((report["runId"], int(report["batchId"])) for report in fresh)
    return sorted(fresh, key=lambda report: str(report.get("timestamp")))


def round_figures(
    base: RoundFigures, replay: Replay, progresses: Sequence[Mapping[str, Any]]
) -> tuple[RoundFigures, list[StageFigures], list[StateFigures], list[tuple[int, TimeSplit]]]:
    """A round's figures from its replay's output lines, samples and progress reports."""
    number = base.round
    times = job_times(replay.lines)
    first_start = min((started for started, _ in times.values() if started is not None), default=None)
    end_s = times.get(LAST_ON_PATH, (None, None))[1]
    samples = pd.DataFrame(replay.samples)

    def peak(column: str) -> float | None:
        if samples.empty or samples[column].dropna().empty:
            return None
        return round(float(samples[column].max()), 1)

    cores = average_cores(samples, "jvm_cpu_s", float("-inf"), float("inf"))
    figures = replace(
        base,
        startup_s=None if first_start is None else round(first_start, 2),
        end_to_end_s=None if end_s is None else round(end_s, 2),
        end_to_end_per_s=None if end_s is None else rows_per_second(base.produced, end_s),
        jvm_cpu_cores=None if cores is None else round(cores, 2),
        python_peak_rss_mib=peak("python_mib"),
        jvm_peak_rss_mib=peak("jvm_mib"),
    )
    stages = []
    for stage in STAGES:
        started, done = times.get(stage.name, (None, None))
        wall_s = None if started is None or done is None else round(done - started, 2)
        stage_input = summarise_query(progresses, stage.input_query)
        rate = None if wall_s is None else rows_per_second(stage_input.rows_in, wall_s)
        stages.append(
            StageFigures(number, stage.name, stage.on_path, stage_input.rows_in, stage_input.batches, wall_s, rate)
        )
    state = []
    for query in STATE_QUERIES:
        run = summarise_query(progresses, query)
        state.append(StateFigures(number, query, run.state_rows, run.state_memory_bytes, run.watermark))
    splits = [(number, time_split(progresses, query)) for stage in STAGES for query in stage.queries]
    return figures, stages, state, splits


def run_pipeline_benchmark(options: PipelineOptions, echo: Callable[[str], None]) -> PipelineFigures:
    """Run the benchmark (module docstring) in a scratch environment and return its figures."""
    from riskstream.commands.demo import fault_rates, load_reference_data, produce_events
    from riskstream.simulator import MarketSimulator
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    with scratch_environment() as scratch:
        settings = scratch.settings
        echo(f"scratch folder {scratch.folder}, broker {scratch.broker.bootstrap_servers} (pid {scratch.broker.pid})")
        conf_path = scratch.folder / "pipeline.yml"
        conf_path.write_text(yaml.safe_dump(settings.model_dump(by_alias=True, mode="json")), encoding="utf-8")
        span = options.round_span or silver_state_horizon(settings.silver)
        start = datetime.now(UTC).replace(microsecond=0) - span * options.rounds
        figures = PipelineFigures(
            options={**asdict(options), "round_span": str(span), "round_span_s": span.total_seconds()},
            settings={
                "spark_master": settings.spark.master,
                "shuffle_partitions": settings.spark.shuffle_partitions,
                "rocksdb_state_store": settings.spark.rocksdb_state_store,
                "kafka_partitions": settings.kafka.partitions,
                "hot_max_offsets_per_trigger": settings.streams.hot.max_offsets_per_trigger,
                "silver": settings.silver.model_dump(),
                "gold_watermark": settings.gold.watermark,
            },
            rounds=[],
            stages=[],
            state=[],
        )
        simulator = MarketSimulator(options.seed, options.portfolios, options.instruments, start=start)
        spark = get_spark(settings)
        progress_table = Catalog(settings).table("ops", "stream_progress")
        seen: set[tuple[str, int]] = set()
        try:
            load_reference_data(spark, settings, simulator, lambda message: None, scratch.folder / "reference")
            rate = options.events / (span * options.rounds).total_seconds()
            stream = simulator.events(options.events, rate=rate, faults=fault_rates())
            for number, size in enumerate(round_sizes(options.events, options.rounds), start=1):
                records = list(itertools.islice(stream, size))
                began = time.monotonic()
                report = produce_events(settings, records, size, 0.0)
                first, last = stream_clock_range(records)
                produced = RoundFigures(number, report.delivered, round(time.monotonic() - began, 2), first, last)
                echo(f"round {number}/{options.rounds}: produced {report.delivered} events, trade_ts {first} .. {last}")
                replay = run_replay(conf_path, scratch.folder / "state")
                round_figure, stages, state, splits = round_figures(
                    produced, replay, _new_progress(spark, progress_table, seen)
                )
                figures.rounds.append(round_figure)
                figures.stages += stages
                figures.state += state
                figures.splits += splits
                echo(f"round {number}/{options.rounds}: `riskstream run all --trigger available-now` done")
            figures.kafka_ceiling = kafka_read_ceiling(settings)
        finally:
            spark.stop()
    return figures


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_figures(figures: PipelineFigures, out: Console) -> None:
    replay = Table(title="Replay per round: `riskstream run all --trigger available-now` in its own process")
    columns = ("round", "events", "start-up s", "end to end s", "events/s end to end", "JVM CPU cores")
    for column in (*columns, "Python peak RSS MiB", "JVM peak RSS MiB"):
        replay.add_column(column, justify="right")
    for round_figure in figures.rounds:
        replay.add_row(
            str(round_figure.round),
            _number(round_figure.produced),
            _number(round_figure.startup_s, 1),
            _number(round_figure.end_to_end_s, 1),
            _number(round_figure.end_to_end_per_s),
            _number(round_figure.jvm_cpu_cores, 2),
            _number(round_figure.python_peak_rss_mib),
            _number(round_figure.jvm_peak_rss_mib),
        )
    out.print(replay)
    throughput = Table(title="Per job (availableNow, one after the other; the window queries are off the path)")
    for column in ("round", "job", "path", "rows in", "batches", "wall s", "rows/s"):
        throughput.add_column(column, justify="left" if column in ("job", "path") else "right")
    for stage in figures.stages:
        throughput.add_row(
            str(stage.round),
            stage.stage,
            "on" if stage.on_path else "off",
            _number(stage.rows_in),
            str(stage.batches),
            _number(stage.wall_s, 1),
            _number(stage.rows_per_s),
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
    for number, split_figure in figures.splits:
        parts = split_figure.parts_ms
        seconds = [
            split_figure.trigger_ms,
            parts["queryPlanning"],
            split_figure.max_planning_ms,
            parts["getBatch"],
            parts["addBatch"],
            parts["commit"],
            split_figure.other_ms,
            split_figure.state_update_ms,
            split_figure.state_commit_ms,
        ]
        split.add_row(
            str(number),
            split_figure.query,
            str(split_figure.batches),
            str(split_figure.data_batches),
            *[_number(ms / 1000, 2) for ms in seconds],
        )
    out.print(split)
    for line in summary_lines(figures):
        out.print(line)
    for line in figures.verdicts().values():
        out.print(line)


def summary_lines(figures: PipelineFigures) -> list[str]:
    """Round 1's end-to-end rate beside the plain consumer's, and its window queries apart."""
    first = next((figure for figure in figures.rounds if figure.round == 1), None)
    if first is None:
        return []
    ceiling = (figures.kafka_ceiling or {}).get("per_s")
    ratio = figures.end_to_end_to_ceiling()
    windows = next((stage for stage in figures.stages if stage.round == 1 and stage.stage == "windows"), None)
    return [
        f"end to end, round 1 (start-up + hot): {first.produced:,} events in "
        f"{_number(first.end_to_end_s, 1)} s = {_number(first.end_to_end_per_s)} events/s; plain consumer "
        f"{_number(ceiling)} records/s; end to end / plain consumer "
        f"{_number(None if ratio is None else ratio * 100, 1)} %",
        f"window queries, round 1 (off the path, after the hot query): "
        f"{_number(None if windows is None else windows.wall_s, 1)} s",
    ]


def _options(argv: Sequence[str] | None) -> tuple[PipelineOptions, Path]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=PipelineOptions.events, help="events in all rounds together")
    parser.add_argument("--rounds", type=int, default=PipelineOptions.rounds, help="produce + replay runs")
    parser.add_argument(
        "--round-span-hours", type=float, default=None, help="event time per round (default: the state horizon)"
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
