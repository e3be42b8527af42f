"""Producer benchmark: simulated trades per second into the local broker through the Kafka transport.

``python -m benchmarks.producer [--events 50000] [--batch-sizes 100,500,2000]``

In a scratch folder with its own broker (:mod:`benchmarks.harness`), the simulator's records
(demo fault rates) are generated once, timed on their own, and then sent in full, unthrottled,
once per batch size through :func:`riskstream.producer.produce` and a
:class:`~riskstream.producer.KafkaTransport` built from the shipped local Kafka config (``acks=all``,
idempotent, librdkafka settings of :func:`riskstream.kafka_options.librdkafka_producer_config`).
``produce`` waits for every delivery report of a batch before it sends the next, so the batch size
is how many records are in flight at once. The figures also go to ``out/bench/producer.json``.
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.figures import rows_per_second
from benchmarks.harness import (
    MIB,
    default_output,
    python_peak_rss_mib,
    scratch_environment,
    wide_console,
    write_figures,
)
from riskstream.producer import KafkaTransport, produce

PRODUCE_DEFAULT_BATCH_SIZE: int = inspect.signature(produce).parameters["batch_size"].default
"""The batch size ``riskstream produce`` and the demo send with."""


@dataclass(frozen=True)
class SendFigures:
    batch_size: int
    delivered: int
    failed: int
    seconds: float
    events_per_s: float | None
    mib_per_s: float | None


def run_producer_benchmark(events: int, batch_sizes: Sequence[int], seed: int) -> dict[str, Any]:
    """Simulate ``events`` records once and send them once per batch size; returns the figures."""
    from riskstream.commands.demo import fault_rates
    from riskstream.simulator import MarketSimulator

    began = time.monotonic()
    records = list(MarketSimulator(seed, 6, 30).events(events, rate=1000.0, faults=fault_rates()))
    simulate_s = time.monotonic() - began
    value_mib = sum(len(record.value) for record in records) / MIB
    sends = []
    with scratch_environment() as scratch:
        kafka = scratch.settings.kafka
        for batch_size in batch_sizes:
            transport = KafkaTransport.from_config(kafka, scratch.broker.bootstrap_servers)
            report = produce(records, transport, destination=kafka.topic, planned=events, batch_size=batch_size)
            seconds = report.elapsed_s
            per_s = rows_per_second(report.delivered, seconds)
            sends.append(
                SendFigures(
                    batch_size,
                    report.delivered,
                    report.failed + report.not_sent,
                    round(seconds, 2),
                    per_s,
                    None if per_s is None else value_mib * report.delivered / events / seconds,
                )
            )
    return {
        "benchmark": "producer",
        "events": events,
        "value_mib": round(value_mib, 2),
        "kafka_partitions": kafka.partitions,
        "simulate_s": round(simulate_s, 2),
        "simulated_per_s": rows_per_second(events, simulate_s),
        "produce_default_batch_size": PRODUCE_DEFAULT_BATCH_SIZE,
        "sends": [asdict(send) for send in sends],
        "python_peak_rss_mib": round(python_peak_rss_mib(), 1),
    }


def print_figures(figures: dict[str, Any], out: Console) -> None:
    out.print(
        f"simulator: {figures['events']:,} records ({figures['value_mib']} MiB of values) in "
        f"{figures['simulate_s']:.1f}s = {figures['simulated_per_s']:,.0f} records/s"
    )
    table = Table(title=f"Kafka transport -> local broker ({figures['kafka_partitions']} partitions, acks=all)")
    for column in ("batch size", "delivered", "failed or not sent", "seconds", "events/s", "MiB/s"):
        table.add_column(column, justify="right")
    for send in figures["sends"]:
        default = " (default)" if send["batch_size"] == figures["produce_default_batch_size"] else ""
        table.add_row(
            f"{send['batch_size']}{default}",
            f"{send['delivered']:,}",
            str(send["failed"]),
            f"{send['seconds']:.1f}",
            "-" if send["events_per_s"] is None else f"{send['events_per_s']:,.0f}",
            "-" if send["mib_per_s"] is None else f"{send['mib_per_s']:.2f}",
        )
    out.print(table)
    out.print(f"python peak RSS: {figures['python_peak_rss_mib']:,.0f} MiB")


def parse_batch_sizes(text: str) -> list[int]:
    """``"100,500,2000"`` -> ``[100, 500, 2000]``; anything but positive integers is refused."""
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers separated by commas")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.producer", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="records per batch size")
    parser.add_argument(
        "--batch-sizes",
        type=parse_batch_sizes,
        default=[100, PRODUCE_DEFAULT_BATCH_SIZE, 2000],
        help="comma-separated, e.g. 100,500,2000",
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument("--out", type=Path, default=default_output("producer"), help="where to write the JSON figures")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    console = wide_console()
    figures = run_producer_benchmark(args.events, args.batch_sizes, args.seed)
    print_figures(figures, console)
    write_figures(args.out, figures)
    console.print(f"bench producer: figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
