"""What every benchmark needs around the code it measures: a scratch environment and memory figures.

A benchmark never touches the user's ``.state``: it runs on the shipped local configuration
re-pointed at a temporary folder, with the project's own Kafka broker started in that folder
(127.0.0.1, free port) and stopped by its pid when the benchmark ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from riskstream import kafka_broker
from riskstream.config import Settings, load_settings, parse_settings
from riskstream.paths import project_root

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIB = 2**20


@dataclass(frozen=True)
class Scratch:
    """A temporary folder holding the tables, checkpoints and broker of one benchmark run."""

    folder: Path
    settings: Settings
    broker: kafka_broker.BrokerInfo


def repoint(shipped: Settings, folder: Path, bootstrap_servers: str) -> Settings:
    """``shipped`` with tables, checkpoints and the emulator under ``folder`` and Kafka at ``bootstrap_servers``."""
    raw = shipped.model_dump(by_alias=True)
    raw["storage"].update(base_path=str(folder / "delta"), checkpoint_root=str(folder / "checkpoints"))
    raw["snowflake"]["emulator_path"] = str(folder / "snowflake")
    raw["kafka"]["bootstrap_servers"] = bootstrap_servers
    raw["spark"]["ui_enabled"] = False
    return parse_settings(raw, "benchmark settings")


@contextlib.contextmanager
def scratch_environment() -> Iterator[Scratch]:
    """The shipped local target in a temporary folder with its own broker (the trades, prices and
    alerts topics created); both are gone afterwards."""
    shipped = load_settings("local")
    kafka = shipped.kafka
    topics = {name: kafka.partitions for name in (kafka.topic, kafka.prices_topic, kafka.alerts_topic)}
    with tempfile.TemporaryDirectory(prefix="riskstream-bench-") as name:
        folder = Path(name)
        with kafka_broker.running(folder, topics=topics) as broker:
            yield Scratch(folder, repoint(shipped, folder, broker.bootstrap_servers), broker)


def wide_console() -> Console:
    """A console whose tables keep their columns when the output goes to a file or a pipe (rich
    would otherwise assume 80 columns); on a terminal, the terminal's width."""
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def python_peak_rss_mib() -> float:
    """Peak resident memory of this Python process (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class JvmMemory:
    heap_used_mib: float
    """Heap in use right now (``Runtime.totalMemory - freeMemory``), garbage not yet collected included."""
    peak_rss_mib: float | None
    """The driver JVM's peak resident memory (``VmHWM`` in /proc), None where /proc is missing."""


def jvm_memory(spark: SparkSession) -> JvmMemory:
    """Memory of the local Spark driver JVM (in local mode also the executor)."""
    jvm: Any = spark.sparkContext._jvm
    runtime = jvm.java.lang.Runtime.getRuntime()
    heap_used = (runtime.totalMemory() - runtime.freeMemory()) / MIB
    status = Path(f"/proc/{jvm.java.lang.ProcessHandle.current().pid()}/status")
    peak: float | None = None
    with contextlib.suppress(OSError):
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return JvmMemory(heap_used, peak)


def machine() -> dict[str, Any]:
    """Where the figures were taken, for the JSON output."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def default_output(name: str) -> Path:
    return project_root() / "out" / "bench" / f"{name}.json"


def write_figures(path: Path, figures: dict[str, Any]) -> None:
    """Write ``figures`` as JSON with the time of the run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"run_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **figures}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
