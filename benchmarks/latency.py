"""Latency benchmark: event -> risk while ``riskstream run all`` runs as it does in production.

``python -m benchmarks.latency [--rate 1000] [--tick-rate 50] [--duration 300] [--warmup 60] [--interval "1 second"]``

In a scratch folder with its own broker (:mod:`benchmarks.harness`): load the simulator's reference
data, start ``riskstream run all`` as a separate process with processing-time triggers (every
stream's trigger set to ``--interval``; the conf is written to the scratch folder and passed through
``RISKSTREAM_CONF``), produce the simulator's stream (demo fault rates) at a steady ``--rate`` for
``--warmup`` + ``--duration`` seconds with ``trade_ts`` on the wall clock, and beside it (a second
thread) its price and FX ticks at ``--tick-rate`` (the simulator's default, demo tick fault rates,
``tick_ts`` on the wall clock), wait until the pipeline has drained (or ``--drain`` runs out), stop
it with SIGTERM, and measure:

* per accepted event, seconds from its Kafka timestamp to its commit in bronze, in silver, in
  ``gold.positions`` and ``gold.portfolio_risk``, and to the alert record of its batch on the alerts
  topic, by lineage (:mod:`riskstream.lineage` says how), for events sent after the warm-up;
* per query (from its progress reports in ``ops.stream_progress``): batches, rows per batch, batch
  duration p50 / p95, processing rate while busy and its ratio to the Kafka read ceiling, and per
  minute processed / input (does it keep up?), backlog and state rows;
* the run's memory every 5 s (``/proc``: the ``riskstream run`` Python process and its JVM);
* the Kafka read ceiling: a plain consumer draining the same topic after the run.

It prints the tables and writes the figures to ``out/bench/latency.json``. With ``--duration`` of 10
minutes or more it adds the soak trend: first against last 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from benchmarks.figures import duration_parts, keep_up_by_minute, query_batches, trend
from benchmarks.harness import default_output, scratch_environment, wide_console, write_figures
from riskstream import lineage
from riskstream.config import Settings, parse_settings
from riskstream.simulator import DEFAULT_TICK_RATE

MEMORY_SAMPLE_SECONDS = 5.0
QUIET_SECONDS = 45.0
"""Drained: no new commit in bronze, silver.trades or gold.positions for this long after producing ended."""


@dataclass(frozen=True)
class Options:
    rate: float = 1000.0
    tick_rate: float = DEFAULT_TICK_RATE
    """Price and FX ticks per second, produced beside the trades; 0 sends none."""
    duration_s: float = 300.0
    warmup_s: float = 60.0
    drain_s: float = 300.0
    interval: str = "1 second"
    windows_interval: str = "30 seconds"
    prices_interval: str | None = None
    """Trigger of the two price queries; None: ``interval``."""
    seed: int = 7
    portfolios: int = 6
    instruments: int = 30
    progress_out: Path | None = None
    """Where to keep every progress report of the run (JSON lines), for a closer look afterwards."""


def with_processing_time(
    settings: Settings, interval: str, windows_interval: str, prices_interval: str | None = None
) -> Settings:
    """``settings`` with bronze, silver and ``gold_positions`` on a processing-time trigger of
    ``interval``, the two gold window queries on one of ``windows_interval`` and the two price queries
    on one of ``prices_interval`` (default ``interval``)."""
    raw = settings.model_dump(by_alias=True, mode="json")
    for name in ("bronze", "silver", "gold"):
        raw["streams"][name]["trigger"] = {"kind": "processing_time", "interval": interval}
    raw["streams"]["gold_windows"] = {
        **raw["streams"]["gold"],
        "trigger": {"kind": "processing_time", "interval": windows_interval},
    }
    raw["streams"]["prices"] = {
        **raw["streams"]["silver"],
        "trigger": {"kind": "processing_time", "interval": prices_interval or interval},
    }
    return parse_settings(raw, "latency benchmark settings")


# ------------------------------------------------------------------------------- the run process


def _rss_mib(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    return ""


class MemorySampler:
    """Samples the resident memory of the run process (Python) and its JVM child every few seconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[dict[str, float | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            jvms = [child for child in _children(self.pid) if _command(child).endswith("java")]
            jvm = sum(_rss_mib(child) or 0.0 for child in jvms) if jvms else None
            self.samples.append({"at_s": time.time(), "python_mib": _rss_mib(self.pid), "jvm_mib": jvm})


@contextlib.contextmanager
def running_pipeline(conf_path: Path, state: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``riskstream run all`` on the benchmark conf, in its own process group; stopped with SIGTERM
    (the command's clean stop) and, if it has not stopped after two minutes, killed by its group id."""
    executable = shutil.which("riskstream", path=str(Path(sys.executable).parent)) or "riskstream"
    env = {**os.environ, "RISKSTREAM_CONF": str(conf_path), "RISKSTREAM_STATE_DIR": str(state)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "run", "all"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_for_line(process, log_path, "running; Ctrl-C stops them", timeout_s=300)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _wait_for_line(process: subprocess.Popen[bytes], log_path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in log_path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(
                f"`riskstream run all` exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        time.sleep(1)
    raise RuntimeError(f"`riskstream run all` did not start its queries within {timeout_s:.0f}s")


def _log_versions(settings: Settings) -> int:
    """How many commits bronze, silver.trades and gold.positions hold together (local paths)."""
    base = Path(settings.storage.base_path)
    folders = [base / "bronze" / "trade_events", base / "silver" / "trades", base / "gold" / "positions"]
    return sum(len(list((folder / "_delta_log").glob("*.json"))) for folder in folders if folder.is_dir())


def wait_until_drained(settings: Settings, limit_s: float) -> float:
    """Wait until no table of the critical path has committed for :data:`QUIET_SECONDS`; the seconds waited."""
    began = time.monotonic()
    seen, quiet_since = _log_versions(settings), time.monotonic()
    while time.monotonic() - began < limit_s:
        time.sleep(2)
        now = _log_versions(settings)
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            break
    return time.monotonic() - began


def kafka_read_ceiling(settings: Settings) -> dict[str, float]:
    """A plain consumer draining the trades topic from the start: records and records/s."""
    from confluent_kafka import Consumer, TopicPartition

    from riskstream.runtime import bootstrap_servers

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers(settings),
            "group.id": "riskstream-bench-ceiling",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
        }
    )
    try:
        topic = settings.kafka.topic
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        total, remaining = sum(ends.values()), set(p for p, end in ends.items() if end > 0)
        read, began = 0, time.monotonic()
        while remaining and time.monotonic() - began < 300:
            for message in consumer.consume(num_messages=10_000, timeout=1.0):
                if message.error():
                    continue
                read += 1
                if message.offset() + 1 >= ends[message.partition()]:
                    remaining.discard(message.partition())
        seconds = time.monotonic() - began
    finally:
        consumer.close()
    return {"records": float(read), "expected": float(total), "seconds": seconds, "per_s": read / seconds}


class TickProducer:
    """Sends the simulator's price and FX ticks to the prices topic from a thread while the trades are
    produced; raises the thread's failure on leaving."""

    def __init__(self, settings: Settings, simulator: Any, options: Options, total: int) -> None:
        self.settings, self.simulator, self.options, self.total = settings, simulator, options, total
        self.delivered = 0
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._send, name="bench-ticks", daemon=True)

    def __enter__(self) -> TickProducer:
        if self.total > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.total > 0:
            self._thread.join()
        if self._failure and exc[0] is None:
            raise RuntimeError(f"producing the ticks failed: {self._failure[0]}") from self._failure[0]

    def _send(self) -> None:
        from riskstream.commands.demo import produce_events, tick_fault_rates

        try:
            ticks = self.simulator.ticks(
                self.total, rate=self.options.tick_rate, trade_rate=self.options.rate, faults=tick_fault_rates()
            )
            topic = self.settings.kafka.prices_topic
            report = produce_events(self.settings, ticks, self.total, self.options.tick_rate, topic=topic)
            self.delivered = report.delivered
        except Exception as error:  # raised in the main thread by __exit__
            self._failure.append(error)


# --------------------------------------------------------------------------------- the benchmark


def run_latency_benchmark(options: Options, console: Console) -> dict[str, Any]:
    from riskstream.commands.demo import fault_rates, load_reference_data, produce_events
    from riskstream.simulator import MarketSimulator
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    with scratch_environment() as scratch:
        settings = with_processing_time(
            scratch.settings, options.interval, options.windows_interval, options.prices_interval
        )
        conf_path = scratch.folder / "latency.yml"
        conf_path.write_text(yaml.safe_dump(settings.model_dump(by_alias=True, mode="json")), encoding="utf-8")
        spark = get_spark(settings)
        catalog = Catalog(settings)
        start = datetime.now(UTC)
        simulator = MarketSimulator(options.seed, options.portfolios, options.instruments, start=start)
        load_reference_data(spark, settings, simulator, lambda message: None, scratch.folder / "reference")
        total = round(options.rate * (options.warmup_s + options.duration_s))
        tick_total = round(options.tick_rate * (options.warmup_s + options.duration_s))
        console.print(
            f"bench latency: starting `riskstream run all` (triggers {options.interval}, "
            f"window queries {options.windows_interval}) ..."
        )
        log_path = scratch.folder / "run.log"
        with (
            running_pipeline(conf_path, scratch.folder / "state", log_path) as process,
            MemorySampler(process.pid) as memory,
        ):
            now = datetime.now(UTC)
            simulator = MarketSimulator(options.seed, options.portfolios, options.instruments, start=now)
            records = simulator.events(total, rate=options.rate, faults=fault_rates())
            console.print(
                f"bench latency: producing {total:,} events at {options.rate:,.0f}/s "
                f"and {tick_total:,} ticks at {options.tick_rate:,.0f}/s ..."
            )
            produce_started = time.time()
            with TickProducer(settings, simulator, options, tick_total) as ticks:
                report = produce_events(settings, records, total, options.rate)
            produce_ended = time.time()
            console.print(
                f"bench latency: produced in {produce_ended - produce_started:.0f}s; waiting for the pipeline to drain"
            )
            drained_s = wait_until_drained(settings, options.drain_s)
        console.print(f"bench latency: stopped the pipeline after draining {drained_s:.0f}s; measuring ...")
        figures = _measure(
            spark, settings, catalog, options, produce_started, produce_ended, memory.samples, options.progress_out
        )
        figures["delivered"] = report.delivered
        figures["ticks_delivered"] = ticks.delivered
        figures["drain_s"] = round(drained_s, 1)
        figures["kafka_ceiling"] = kafka_read_ceiling(settings)
        figures["run_log_tail"] = log_path.read_text(errors="replace").splitlines()[-5:]
        _add_ceiling_ratios(figures)
        spark.stop()
    return figures


def _measure(
    spark: Any,
    settings: Settings,
    catalog: Any,
    options: Options,
    produce_started: float,
    produce_ended: float,
    memory: list[dict[str, float | None]],
    progress_out: Path | None,
) -> dict[str, Any]:

    measured_from = produce_started + options.warmup_s
    times = lineage.measure(spark, settings)
    after_warmup = times["sent_s"].to_numpy(dtype=float) >= measured_from
    latency = {stage: lineage.percentiles(times[stage].to_numpy(dtype=float)[after_warmup]) for stage in lineage.STAGES}
    latency["events_after_warmup"] = int(after_warmup.sum())
    latency["not_in_risk"] = int(np.isnan(times["risk"].to_numpy(dtype=float)[after_warmup]).sum())
    ticks = lineage.measure_ticks(spark, settings)
    ticks_after = ticks["sent_s"].to_numpy(dtype=float) >= measured_from
    tick_latency: dict[str, Any] = {
        stage: lineage.percentiles(ticks[stage].to_numpy(dtype=float)[ticks_after]) for stage in lineage.TICK_STAGES
    }
    tick_latency["ticks_after_warmup"] = int(ticks_after.sum())
    tick_latency["not_in_risk"] = int(np.isnan(ticks["risk"].to_numpy(dtype=float)[ticks_after]).sum())
    bronze_rows = _bronze_rows(spark, catalog.table("bronze", "trade_events"))
    bronze_ticks = _bronze_rows(spark, catalog.table("bronze", "price_ticks"))
    progress_rows = catalog.table("ops", "stream_progress").read(spark).select("progress_json").collect()
    progress = [json.loads(row.progress_json) for row in progress_rows]
    if progress_out is not None:
        progress_out.write_text("".join(json.dumps(report) + "\n" for report in progress), encoding="utf-8")
    batches = query_batches(progress)
    parts = duration_parts(progress)
    arrivals = {
        "bronze_trade_events": bronze_rows["sent_s"].to_numpy(dtype=float),
        "silver_trades": bronze_rows["commit_s"].to_numpy(dtype=float),
        "bronze_price_ticks": bronze_ticks["sent_s"].to_numpy(dtype=float),
        "silver_prices": bronze_ticks["commit_s"].to_numpy(dtype=float),
    }
    silver_commits = times["sent_s"].to_numpy(dtype=float) + times["silver"].to_numpy(dtype=float)
    for query in batches["query"].unique():
        arrivals.setdefault(str(query), silver_commits)
    minutes = keep_up_by_minute(produce_started, produce_ended, arrivals, batches)
    per_query = []
    for query, group in batches.groupby("query"):
        with_data = group[group["rows"] > 0]
        busy_s = with_data["duration_s"].sum()
        after = minutes[(minutes["query"] == query) & (minutes["minute_start_s"] >= options.warmup_s)]
        per_query.append(
            {
                "query": query,
                "batches": len(group),
                "data_batches": len(with_data),
                "rows": int(group["rows"].sum()),
                "rows_per_batch_p50": float(with_data["rows"].median()) if len(with_data) else None,
                "duration_p50_s": float(group["duration_s"].quantile(0.5)),
                "duration_p95_s": float(group["duration_s"].quantile(0.95)),
                "duration_max_s": float(group["duration_s"].max()),
                "busy_rows_per_s": float(with_data["rows"].sum() / busy_s) if busy_s > 0 else None,
                "min_keep_up_after_warmup": float(after["ratio"].min()) if len(after) else None,
                "parts_p50_ms": {
                    part: float(values.median())
                    for part, values in parts[(parts["query"] == query) & (parts["rows"] > 0)]
                    .drop(columns=["query", "rows"])
                    .items()
                },
                "state_rows_last": int(group["state_rows"].iloc[-1]),
                "state_rows_max": int(group["state_rows"].max()),
            }
        )
    memory_frame = pd.DataFrame(memory)
    figures: dict[str, Any] = {
        "benchmark": "latency",
        "produce_started_s": produce_started,
        "rate": options.rate,
        "duration_s": options.duration_s,
        "warmup_s": options.warmup_s,
        "interval": options.interval,
        "windows_interval": options.windows_interval,
        "prices_interval": options.prices_interval,
        "uptime": Path("/proc/loadavg").read_text().split()[:3],
        "latency_s": latency,
        "tick_rate": options.tick_rate,
        "tick_latency_s": tick_latency,
        "queries": per_query,
        "minutes": minutes.round(3).to_dict(orient="records"),
        "memory": memory_frame.round(1).to_dict(orient="records"),
    }
    if options.duration_s >= 600:
        figures["soak"] = trend(batches, memory_frame, produce_started + options.warmup_s, produce_ended)
    return figures


def _bronze_rows(spark: Any, table: Any) -> pd.DataFrame:
    """Per row of a bronze table: its Kafka timestamp (``sent_s``) and the commit that wrote it (``commit_s``)."""
    from pyspark.sql import functions as F

    _, added = lineage.commit_log(spark, table)
    rows: pd.DataFrame = (
        table.read(spark)
        .withColumn("file_name", F.col("_metadata.file_name"))
        .join(added, "file_name")
        .select(F.col("kafka_timestamp").cast("double").alias("sent_s"), "commit_s")
        .toPandas()
    )
    return rows


def _add_ceiling_ratios(figures: dict[str, Any]) -> None:
    ceiling = figures["kafka_ceiling"]["per_s"]
    for query in figures["queries"]:
        rate = query["busy_rows_per_s"]
        query["ratio_to_kafka_ceiling"] = None if rate is None or not ceiling else rate / ceiling


# ----------------------------------------------------------------------------------------- output


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_figures(figures: dict[str, Any], out: Console) -> None:
    latency = figures["latency_s"]
    out.print(
        f"latency: {figures['rate']:,.0f} events/s for {figures['duration_s']:.0f}s after {figures['warmup_s']:.0f}s "
        f"warm-up, triggers {figures['interval']} (window queries {figures['windows_interval']}, "
        f"price queries {figures.get('prices_interval') or figures['interval']}); "
        f"load average at the end {' '.join(figures['uptime'])}"
    )
    _print_stage_latency(
        out,
        f"Kafka timestamp -> stage, seconds ({latency['events_after_warmup']:,} accepted events after warm-up)",
        latency,
        lineage.STAGES,
        "events",
    )
    _print_tick_latency(figures, out)
    ceiling = figures["kafka_ceiling"]
    queries = Table(title=f"queries (Kafka read ceiling: {ceiling['per_s']:,.0f} records/s, a plain consumer)")
    for column in (
        "query",
        "batches",
        "rows/batch p50",
        "batch p50 s",
        "batch p95 s",
        "batch max s",
        "busy rows/s",
        "x ceiling",
        "min processed/input",
        "state rows last (max)",
    ):
        queries.add_column(column, justify="right")
    for query in figures["queries"]:
        ratio = query.get("ratio_to_kafka_ceiling")
        keep = query["min_keep_up_after_warmup"]
        queries.add_row(
            query["query"],
            f"{query['batches']} ({query['data_batches']} with data)",
            "-" if query["rows_per_batch_p50"] is None else f"{query['rows_per_batch_p50']:,.0f}",
            _seconds(query["duration_p50_s"]),
            _seconds(query["duration_p95_s"]),
            _seconds(query["duration_max_s"]),
            "-" if query["busy_rows_per_s"] is None else f"{query['busy_rows_per_s']:,.0f}",
            "-" if ratio is None else f"{ratio:.2f}",
            "-" if keep is None else f"{keep:.2f}",
            f"{query['state_rows_last']:,} ({query['state_rows_max']:,})",
        )
    out.print(queries)
    split = Table(title="where a batch with data spends its time: durationMs, p50 per part (ms)")
    names = sorted({part for query in figures["queries"] for part in query["parts_p50_ms"]})
    split.add_column("query", justify="right")
    for name in names:
        split.add_column(name, justify="right")
    for query in figures["queries"]:
        own = query["parts_p50_ms"]
        split.add_row(query["query"], *("-" if own.get(name) is None else f"{own[name]:,.0f}" for name in names))
    out.print(split)
    _print_minutes(figures, out)
    if "soak" in figures:
        soak = Table(title="soak: first against last 5 minutes after warm-up")
        for column in ("figure", "first", "last"):
            soak.add_column(column, justify="right")
        for name, (first, last) in figures["soak"].items():
            soak.add_row(name, _seconds(first), _seconds(last))
        out.print(soak)


def _print_tick_latency(figures: dict[str, Any], out: Console) -> None:
    ticks = figures.get("tick_latency_s")
    if not ticks or not figures.get("tick_rate"):
        return
    title = (
        f"tick Kafka timestamp -> stage, seconds ({ticks['ticks_after_warmup']:,} accepted ticks after warm-up, "
        f"{figures['tick_rate']:,.0f} ticks/s)"
    )
    _print_stage_latency(out, title, ticks, lineage.TICK_STAGES, "ticks")


def _print_stage_latency(out: Console, title: str, latency: dict[str, Any], stages: tuple[str, ...], noun: str) -> None:
    """The percentiles of ``latency`` per stage, and how many of the ``noun`` had not reached risk."""
    table = Table(title=title)
    for column in ("stage", noun, "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for stage in stages:
        row = latency[stage]
        table.add_row(stage, f"{row['count']:,}", *(_seconds(row[key]) for key in ("p50", "p95", "p99", "max")))
    out.print(table)
    if latency["not_in_risk"]:
        out.print(
            f"{latency['not_in_risk']:,} {noun} after warm-up had not reached gold.portfolio_risk when the run stopped"
        )


def _print_minutes(figures: dict[str, Any], out: Console) -> None:
    minutes = pd.DataFrame(figures["minutes"])
    if minutes.empty:
        return
    memory = pd.DataFrame(figures["memory"])
    table = Table(title="per minute: processed / input (backlog rows at the minute's end), memory")
    queries = list(dict.fromkeys(minutes["query"]))
    table.add_column("minute", justify="right")
    for query in queries:
        table.add_column(query, justify="right")
    table.add_column("JVM MiB", justify="right")
    table.add_column("Python MiB", justify="right")
    first_s = figures.get("produce_started_s", 0.0)
    for minute, group in minutes.groupby("minute"):
        cells = []
        for query in queries:
            row = group[group["query"] == query]
            cells.append("-" if row.empty else f"{row['ratio'].iloc[0]:.2f} ({int(row['backlog'].iloc[0]):,})")
        in_minute = memory[(memory["at_s"] - first_s) // 60 == minute] if not memory.empty else memory
        jvm = in_minute["jvm_mib"].max() if not in_minute.empty else None
        python = in_minute["python_mib"].max() if not in_minute.empty else None
        table.add_row(str(minute), *cells, _seconds(jvm), _seconds(python))
    out.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second produced")
    parser.add_argument(
        "--tick-rate", type=float, default=DEFAULT_TICK_RATE, help="price and FX ticks per second produced (0: none)"
    )
    parser.add_argument("--duration", type=float, default=300.0, help="seconds measured, after the warm-up")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds produced before measuring")
    parser.add_argument("--drain", type=float, default=300.0, help="most seconds to wait for the pipeline to catch up")
    parser.add_argument("--interval", default="1 second", help="trigger of bronze, silver and gold_positions")
    parser.add_argument("--windows-interval", default="30 seconds", help="trigger of the two gold window queries")
    parser.add_argument(
        "--prices-interval", default=None, help="trigger of the two price queries (default: --interval)"
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument("--out", type=Path, default=default_output("latency"), help="where to write the JSON figures")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0 or args.tick_rate < 0:
        parser.error("--rate and --duration must be positive, --warmup and --tick-rate at least 0")
    # SIGTERM unwinds like Ctrl-C, so the pipeline, the broker and the scratch folder are cleaned up.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    console = wide_console()
    options = Options(
        args.rate,
        args.tick_rate,
        args.duration,
        args.warmup,
        args.drain,
        args.interval,
        args.windows_interval,
        args.prices_interval,
        args.seed,
        progress_out=args.out.with_suffix(".progress.jsonl"),
    )
    figures = run_latency_benchmark(options, console)
    print_figures(figures, console)
    write_figures(args.out, figures)
    console.print(f"bench latency: figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
