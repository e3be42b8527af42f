"""Latency benchmark: event -> risk while ``riskstream run all`` runs as it does in production.

``python -m benchmarks.latency [--rate 1000] [--tick-rate 50] [--duration 300] [--warmup 60] [--interval "1 second"]
[--bronze-interval "10 seconds"] [--windows-interval "30 seconds"]``

In a scratch folder with its own broker (:mod:`benchmarks.harness`): load the simulator's reference
data (plus the probe's portfolio and instrument, below), start ``riskstream run all`` (bronze, the hot query
``hot_risk``, the two window queries) as a separate process with processing-time triggers (``hot_risk``
on ``--interval``, the two bronze queries on ``--bronze-interval``, the window queries on
``--windows-interval``; the conf is written to the scratch folder and passed through
``RISKSTREAM_CONF``), produce the simulator's stream (demo fault rates) at a steady ``--rate`` for
``--warmup`` + ``--duration`` seconds with ``trade_ts`` on the wall clock, and beside it (a second
thread) its price and FX ticks at ``--tick-rate`` (demo tick fault rates, ``tick_ts`` on the wall
clock), wait until the pipeline has drained (or ``--drain`` runs out), stop it with SIGTERM, and
measure, for what was sent after the warm-up:

* per accepted event and tick, seconds from its Kafka timestamp to its commit in bronze, silver,
  ``gold.positions`` and ``gold.portfolio_risk``, and (events) to the alert record of its batch on the
  alerts topic, by lineage through the hot query's commit markers (:func:`riskstream.lineage.measure_hot`);
* a black-box figure beside it that knows nothing of the pipeline's insides: a probe thread sends one
  valid NEW trade per second (BUY 1 unit of the instrument :data:`PROBE_INSTRUMENT` at its reference price,
  on the portfolio :data:`PROBE_PORTFOLIO`, both loaded with the reference data and never traded or ticked
  by the simulator; the portfolio's limits are out of any probe's reach) and a poller reads
  ``gold.portfolio_risk`` every ``--probe-poll`` seconds as any Delta reader could (its log and data files,
  :class:`RiskPoller`): nothing moves the instrument's mark off its reference price, so after *k* probes
  that portfolio's ``gross_exposure_base`` is *k* x reference price x multiplier, probe *k* is in once it
  shows *k*, and its latency is the commit timestamp of the first table version showing it minus its
  Kafka timestamp (from the delivery report). It should agree with the lineage's ``risk`` stage;
* per query (from its progress reports in ``ops.stream_progress``): batches, rows per batch, batch
  duration p50 / p95, processing rate while busy and its ratio to the Kafka read ceiling, per minute
  processed / input (bronze's input: its topic; ``hot_risk``'s: both topics; the window queries':
  ``silver.trades`` commits), backlog and state rows, and whether it keeps up (:func:`keep_up`);
* the run's JVM CPU: average cores used over the measured window, from ``/proc/<pid>/stat`` (utime +
  stime) of the JVM in the ``riskstream run`` process tree, and its memory every 5 s (the benchmark's own
  JVM, idle while the run is measured, and the local Kafka broker are reported apart);
* the Kafka read ceiling: a plain consumer draining the trades topic after the run.

It prints the tables and a closing line (keeps up, p95 to risk, JVM CPU) and writes the figures to
``out/bench/latency.json``. With ``--duration`` of 10 minutes or more it adds the soak trend: first
against last 5 minutes. ``--rate 2000`` and ``--rate 5000`` are the capacity runs.

The probe portfolio holds one instrument, so the hot query raises a concentration alert for it in
the batches that recompute it (one alert row more beside the simulated book's own breaches).
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
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from benchmarks.figures import duration_parts, keep_up_by_minute, query_batches, trend
from benchmarks.harness import default_output, scratch_environment, wide_console, write_figures
from jobs import bronze, gold, hot
from riskstream import lineage
from riskstream.config import Settings, parse_settings
from riskstream.simulator import DEFAULT_TICK_RATE, SOURCE_SYSTEM, Instrument, Portfolio, ReferenceData, format_ts

MEMORY_SAMPLE_SECONDS = 5.0
QUIET_SECONDS = 45.0
"""Drained: no new commit in bronze, silver.trades or gold.positions for this long after producing ended."""
DEFAULT_BRONZE_INTERVAL = "30 seconds"
DEFAULT_WINDOWS_INTERVAL = "1 minute"
"""Off the path to risk: raw landing and the window tables on slow triggers leave the cores to hot_risk."""
KEEP_UP_SHARE = 0.95
"""A query keeps up when every judged minute's processed / input is at least this (:func:`keep_up`)."""
PROBE_PORTFOLIO = "P-PROBE"
PROBE_INSTRUMENT = "XXPROBE00001"
"""The probe's instrument (ISIN-shaped, country code XX: no simulated id has it); only the probes trade it."""
PROBE_LIMIT = 1e12
"""The probe portfolio's gross, VaR and single-trade limits (base currency): far above anything it holds."""
PROBE_POLL_SECONDS = 0.5
AGREEMENT_SECONDS = 0.5
AGREEMENT_SHARE = 0.2
"""The probe agrees with the lineage when its p50 and p95 are each within the larger of these of the lineage's."""


@dataclass(frozen=True)
class Options:
    rate: float = 1000.0
    tick_rate: float = DEFAULT_TICK_RATE
    """Price and FX ticks per second, produced beside the trades; 0 sends none."""
    duration_s: float = 300.0
    warmup_s: float = 60.0
    drain_s: float = 300.0
    interval: str = "1 second"
    """Trigger of ``hot_risk``."""
    windows_interval: str = DEFAULT_WINDOWS_INTERVAL
    bronze_interval: str = DEFAULT_BRONZE_INTERVAL
    seed: int = 7
    portfolios: int = 6
    instruments: int = 30
    progress_out: Path | None = None
    log_out: Path | None = None
    """Where to keep the run's whole output, run with ``riskstream -v`` (the hot query's step times)."""
    """Where to keep every progress report of the run (JSON lines), for a closer look afterwards."""
    probe: bool = True
    probe_poll_s: float = PROBE_POLL_SECONDS


def with_processing_time(
    settings: Settings, interval: str, windows_interval: str, bronze_interval: str = DEFAULT_BRONZE_INTERVAL
) -> Settings:
    """``settings`` with ``hot_risk`` on a processing-time trigger of ``interval``, both bronze queries on
    one of ``bronze_interval`` (``streams.prices`` unset: the price ticks' bronze query as the trades') and
    the two window queries on one of ``windows_interval``. ``streams.silver`` and ``streams.gold`` (the
    layered path, which ``run all`` does not start) are left as they are."""
    raw = settings.model_dump(by_alias=True, mode="json")
    streams = raw["streams"]
    streams["hot"]["trigger"] = {"kind": "processing_time", "interval": interval}
    streams["bronze"]["trigger"] = {"kind": "processing_time", "interval": bronze_interval}
    streams["prices"] = None
    streams["gold_windows"] = {**streams["gold"], "trigger": {"kind": "processing_time", "interval": windows_interval}}
    return parse_settings(raw, "latency benchmark settings")


# ------------------------------------------------------------------------------------- the probe


def probe_instrument(reference: ReferenceData) -> Instrument:
    """The probe's instrument for ``reference`` (without the probe): a copy of its first instrument whose
    currency is the probe portfolio's base currency (its first portfolio's), with the id
    :data:`PROBE_INSTRUMENT` and the name "Latency probe".

    In the portfolio's own currency its ``fx_rate_to_base`` is exactly 1 whatever the FX marks, so each
    probe adds exactly ``reference_price x multiplier`` to the portfolio's ``gross_exposure_base``.

    Raises:
        ValueError: no instrument of ``reference`` is in that currency.
    """
    currency = reference.portfolios[0].base_currency
    for instrument in reference.instruments:
        if instrument.currency == currency:
            return replace(instrument, instrument_id=PROBE_INSTRUMENT, name="Latency probe")
    raise ValueError(
        f"no instrument in {currency}, the base currency of the probe portfolio {PROBE_PORTFOLIO} (that of "
        f"{reference.portfolios[0].portfolio_id}): the probe needs one to copy for {PROBE_INSTRUMENT}"
    )


def with_probe_portfolio(reference: ReferenceData) -> ReferenceData:
    """``reference`` plus :data:`PROBE_PORTFOLIO` (the first portfolio's desk and base currency, limits of
    :data:`PROBE_LIMIT` and no stress-loss limit) and the instrument :data:`PROBE_INSTRUMENT`
    (:func:`probe_instrument`).

    The instrument gets no price history and no correlation rows: a factor without history is unmodelled
    (its risk uses its reference ``daily_vol`` and it is listed in the risk row's ``unmodelled_factors``)
    and the probe portfolio holds no other instrument to correlate it with, and ``gross_exposure_base``,
    what the probe reads, depends on neither."""
    template = reference.portfolios[0]
    probe = Portfolio(
        PROBE_PORTFOLIO,
        "Latency probe",
        template.desk,
        template.base_currency,
        gross_limit=PROBE_LIMIT,
        var_limit=PROBE_LIMIT,
        single_trade_limit=PROBE_LIMIT,
        stress_loss_limit=None,
    )
    return replace(
        reference,
        portfolios=(*reference.portfolios, probe),
        instruments=(*reference.instruments, probe_instrument(reference)),
    )


class ProbeReference:
    """What :func:`riskstream.commands.demo.load_reference_data` needs of a simulator: its reference CSVs,
    here with the probe portfolio and instrument added (``instrument``). The simulator keeps the reference
    data it was built from, without them, so it never trades or ticks the probe's instrument."""

    def __init__(self, reference: ReferenceData) -> None:
        self.reference = with_probe_portfolio(reference)
        self.instrument = probe_instrument(reference)

    def write_reference_csv(self, out_dir: Path) -> dict[str, Path]:
        return self.reference.write_csv(out_dir)


def probe_event(number: int, instrument: Instrument, at: datetime, event_id: str) -> dict[str, Any]:
    """Probe ``number`` (from 1): a valid v1 NEW buying 1 unit of ``instrument`` at its reference price."""
    return {
        "schema_version": 1,
        "event_id": event_id,
        "event_type": "NEW",
        "trade_id": f"T-PROBE-{number:06d}",
        "trade_version": 1,
        "portfolio_id": PROBE_PORTFOLIO,
        "instrument_id": instrument.instrument_id,
        "side": "BUY",
        "quantity": 1,
        "price": instrument.reference_price,
        "currency": instrument.currency,
        "trade_ts": format_ts(at),
        "source_system": SOURCE_SYSTEM,
    }


class BackgroundThread:
    """A daemon thread running ``_run`` for the length of a ``with`` block (not at all unless ``enabled``).

    Leaving the block sets ``_stop`` and joins the thread; a failure ``_run`` appended to ``_failure`` is
    raised then (``failure_text`` says what failed), unless the block itself raised.
    """

    failure_text = "the background thread failed"

    def __init__(self, name: str, enabled: bool = True) -> None:
        self.enabled = enabled
        self._stop = threading.Event()
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Self:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()
        if self._failure and exc[0] is None:
            raise RuntimeError(f"{self.failure_text}: {self._failure[0]}") from self._failure[0]

    def _run(self) -> None:
        raise NotImplementedError


class ProbeSender(BackgroundThread):
    """Sends one probe trade per second to the trades topic from a thread until the block ends; ``sent``
    holds the Kafka timestamp (epoch seconds, from the delivery report) of each delivered probe, in order."""

    failure_text = "sending the probes failed"

    def __init__(self, settings: Settings, instrument: Instrument, enabled: bool = True) -> None:
        super().__init__("bench-probe", enabled)
        self.settings, self.instrument = settings, instrument
        self.sent: list[float] = []
        self.failed = 0

    def _run(self) -> None:
        from confluent_kafka import KafkaError, Message, Producer

        from riskstream.kafka_options import librdkafka_producer_config
        from riskstream.runtime import bootstrap_servers

        try:
            config = librdkafka_producer_config(
                self.settings.kafka, bootstrap_servers(self.settings), client_id="riskstream-bench-probe"
            )
            producer = Producer(config)
            reports: list[tuple[KafkaError | None, float]] = []

            def delivered(error: KafkaError | None, message: Message) -> None:
                reports.append((error, message.timestamp()[1] / 1000.0))

            next_at, number = time.monotonic(), 0
            while not self._stop.is_set():
                number += 1
                reports.clear()
                event = probe_event(number, self.instrument, datetime.now(UTC), str(uuid.uuid4()))
                producer.produce(
                    self.settings.kafka.topic,
                    key=PROBE_PORTFOLIO.encode(),
                    value=json.dumps(event, separators=(",", ":")).encode(),
                    headers=[("schema_version", b"1")],
                    on_delivery=delivered,
                )
                producer.flush(30)
                if reports and reports[0][0] is None:
                    self.sent.append(reports[0][1])
                else:
                    self.failed += 1
                next_at += 1.0
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except Exception as error:  # raised in the main thread by __exit__
            self._failure.append(error)


def local_path(location: str) -> Path:
    """A table location as Spark reports it (``file:/tmp/t``, ``file:///tmp/t`` or ``/tmp/t``) as a local path."""
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"not a local table location: {location}")
    return Path(unquote(parsed.path))


def apply_commit(files: frozenset[str], lines: Sequence[str]) -> tuple[float | None, frozenset[str]]:
    """One Delta commit (the JSON lines of ``_delta_log/<version>.json``) applied to a table's data files.

    Returns its commit time (epoch seconds: ``commitInfo.inCommitTimestamp`` where the table has them, else
    ``commitInfo.timestamp``; None without a ``commitInfo``) and the files after it: ``files`` without its
    ``remove`` paths, with its ``add`` paths. ``cdc`` files are change data, not table rows. A file with a
    deletion vector is refused: its rows are not all the table's.
    """
    added: set[str] = set()
    removed: set[str] = set()
    commit_s: float | None = None
    for line in lines:
        if not line.strip():
            continue
        action = json.loads(line)
        if "add" in action:
            if action["add"].get("deletionVector"):
                raise ValueError(f"{action['add']['path']} has a deletion vector; this reader does not apply them")
            added.add(unquote(action["add"]["path"]))
        elif "remove" in action:
            removed.add(unquote(action["remove"]["path"]))
        elif "commitInfo" in action:
            info = action["commitInfo"]
            commit_s = float(info.get("inCommitTimestamp") or info["timestamp"]) / 1000.0
    return commit_s, frozenset((files - removed) | added)


class RiskPoller(BackgroundThread):
    """Reads how many probes ``gold.portfolio_risk`` shows every ``poll_s`` seconds from a thread until the
    block ends, as any Delta reader could: from the table's log and data files, version by version.

    ``observations`` holds one row per table version: ``version``, ``commit_s`` (its commit timestamp),
    ``seen_s`` (when the poll read it) and ``probes``: the :data:`PROBE_PORTFOLIO` row's
    ``gross_exposure_base`` over the value of one probe, ``instrument``'s ``reference_price x multiplier``,
    rounded (0 without the row). A poll applies every commit written since the last one
    (:func:`apply_commit`, starting from version 0), so the first version showing each probe is never
    skipped, and reads the probe portfolio's row from the data files each version holds with pyarrow (each
    file once: data files never change; the hot query overwrites the table, so a version removes the last
    one's file and adds a new one). No Spark: a Spark read costs a few hundred ms of JVM CPU each
    (``DESCRIBE HISTORY`` ~0.25 s, a ``VERSION AS OF`` read ~0.5 s), close to a core at two polls a second
    on the two cores the pipeline is measured on. Reads only a local table (the benchmark's).
    """

    def __init__(self, location: Path, instrument: Instrument, poll_s: float, enabled: bool = True) -> None:
        super().__init__("bench-probe-poller", enabled)
        self.location, self.poll_s = location, poll_s
        self.probe_value = instrument.reference_price * instrument.multiplier
        """``gross_exposure_base`` one probe adds (the instrument is in the portfolio's base currency)."""
        self.observations: list[dict[str, float]] = []
        self.errors: list[str] = []
        self._version = -1
        self._files: frozenset[str] = frozenset()
        self._exposure_in_file: dict[str, float] = {}

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.observations, columns=["version", "commit_s", "seen_s", "probes"])

    def _exposure(self, file_name: str) -> float:
        """The probe portfolio's ``gross_exposure_base`` in one data file (0 without its row)."""
        if file_name not in self._exposure_in_file:
            import pyarrow.parquet as pq

            rows = pq.read_table(
                self.location / file_name,
                columns=["gross_exposure_base"],
                filters=[("portfolio_id", "=", PROBE_PORTFOLIO)],
            )
            values = rows["gross_exposure_base"].to_pylist()
            self._exposure_in_file[file_name] = sum(float(value) for value in values if value is not None)
        return self._exposure_in_file[file_name]

    def _probes(self, files: frozenset[str]) -> int:
        """How many probes a version holding ``files`` shows."""
        return round(sum(self._exposure(file_name) for file_name in files) / self.probe_value)

    def poll(self, seen_s: float) -> None:
        """Apply every commit since the last poll, adding an observation per version seen at ``seen_s``."""
        try:
            while (commit := self.location / "_delta_log" / f"{self._version + 1:020d}.json").exists():
                commit_s, files = apply_commit(self._files, commit.read_text(encoding="utf-8").splitlines())
                probes = self._probes(files)
                self.observations.append(
                    {
                        "version": self._version + 1,
                        "commit_s": commit.stat().st_mtime if commit_s is None else commit_s,
                        "seen_s": seen_s,
                        "probes": probes,
                    }
                )
                self._version, self._files = self._version + 1, files
        except (OSError, ValueError, KeyError) as error:  # pyarrow's errors are OSError / ValueError too
            self.errors.append(str(error).splitlines()[0][:200])

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll(time.time())


def probe_latencies(sent_s: Sequence[float], observations: pd.DataFrame) -> pd.DataFrame:
    """Per probe *k* (the *k*-th delivered, from 1): its Kafka timestamp (``sent_s``), the commit time and the
    poll time of the first observed version showing at least *k* probes (``commit_s``, ``seen_s``; NaN if
    none did), ``latency`` = commit - sent and ``observed`` = seen - sent (seconds)."""
    ordered = observations.sort_values("version")
    shown = np.maximum.accumulate(ordered["probes"].to_numpy(dtype=np.int64)) if len(ordered) else np.array([])
    sent = np.asarray(sent_s, dtype=float)
    at = np.searchsorted(shown, np.arange(1, len(sent) + 1), side="left")
    reached = at < len(ordered)

    def picked(column: str) -> np.ndarray:
        if not len(ordered):
            return np.full(len(sent), np.nan)
        values = ordered[column].to_numpy(dtype=float)[np.minimum(at, len(ordered) - 1)]
        return np.where(reached, values, np.nan)

    commit, seen = picked("commit_s"), picked("seen_s")
    return pd.DataFrame(
        {
            "probe": np.arange(1, len(sent) + 1),
            "sent_s": sent,
            "commit_s": commit,
            "seen_s": seen,
            "latency": commit - sent,
            "observed": seen - sent,
        }
    )


def agreement(probe: dict[str, Any], by_lineage: dict[str, Any]) -> str:
    """``agree`` when the probe's p50 and p95 are each within the larger of :data:`AGREEMENT_SECONDS` and
    :data:`AGREEMENT_SHARE` of the lineage's, ``disagree`` otherwise, ``-`` when either has no figure."""
    if any(figures.get(key) is None for figures in (probe, by_lineage) for key in ("p50", "p95")):
        return "-"
    close = all(
        abs(probe[key] - by_lineage[key]) <= max(AGREEMENT_SECONDS, AGREEMENT_SHARE * by_lineage[key])
        for key in ("p50", "p95")
    )
    return "agree" if close else "disagree"


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


def jvm_pids(pid: int) -> list[int]:
    """The JVMs (``java`` processes) in the process tree under ``pid``."""
    found, pending = [], _children(pid)
    while pending:
        child = pending.pop()
        if _command(child).endswith("java"):
            found.append(child)
        pending.extend(_children(child))
    return found


def cpu_seconds(stat: str, clock_ticks: int) -> float:
    """User + system CPU seconds of a process from its ``/proc/<pid>/stat`` line (fields 14 and 15, counted
    after the parenthesised command, which may hold spaces)."""
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks


def _process_cpu_s(pid: int, clock_ticks: int) -> float | None:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), clock_ticks)
    return None


def _jvm_cpu_s(pid: int, clock_ticks: int) -> float | None:
    """CPU seconds of the JVMs under ``pid`` together (None: none runs)."""
    times = [_process_cpu_s(jvm, clock_ticks) for jvm in jvm_pids(pid)]
    known = [seconds for seconds in times if seconds is not None]
    return sum(known) if known else None


def average_cores(samples: pd.DataFrame, column: str, start_s: float, end_s: float) -> float | None:
    """Cores used on average between the first and the last sample taken in ``start_s`` .. ``end_s``: the
    CPU seconds in ``column`` (cumulative) they differ by over the seconds between them; None with fewer
    than two samples."""
    if samples.empty or column not in samples:
        return None
    inside = samples[(samples["at_s"] >= start_s) & (samples["at_s"] <= end_s)].dropna(subset=[column])
    if len(inside) < 2:
        return None
    first, last = inside.iloc[0], inside.iloc[-1]
    return float((last[column] - first[column]) / (last["at_s"] - first["at_s"]))


class RunSampler(BackgroundThread):
    """Every ``every_s`` seconds: resident memory of the run process (Python) and of its JVM, the cumulative
    CPU seconds of that JVM (``jvm_cpu_s``) and of each process in ``others`` (``<name>_cpu_s``)."""

    def __init__(
        self, pid: int, every_s: float = MEMORY_SAMPLE_SECONDS, others: Mapping[str, int] | None = None
    ) -> None:
        super().__init__("run-sampler")
        self.pid, self.every_s, self.others = pid, every_s, dict(others or {})
        self.samples: list[dict[str, float | None]] = []
        self._clock_ticks = os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            jvms = jvm_pids(self.pid)
            self.samples.append(
                {
                    "at_s": time.time(),
                    "python_mib": _rss_mib(self.pid),
                    "jvm_mib": sum(_rss_mib(jvm) or 0.0 for jvm in jvms) if jvms else None,
                    "jvm_cpu_s": _jvm_cpu_s(self.pid, self._clock_ticks),
                    **{f"{name}_cpu_s": _process_cpu_s(pid, self._clock_ticks) for name, pid in self.others.items()},
                }
            )


@contextlib.contextmanager
def running_pipeline(
    conf_path: Path, state: Path, log_path: Path, verbose: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """``riskstream run all`` on the benchmark conf, in its own process group; stopped with SIGTERM
    (the command's clean stop) and, if it has not stopped after two minutes, killed by its group id."""
    executable = shutil.which("riskstream", path=str(Path(sys.executable).parent)) or "riskstream"
    env = {**os.environ, "RISKSTREAM_CONF": str(conf_path), "RISKSTREAM_STATE_DIR": str(state)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, *(["-v"] if verbose else []), "run", "all"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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
    if settings.storage.base_path is None:
        return 0
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
                offset = message.offset()
                if offset is not None and offset + 1 >= ends[message.partition()]:
                    remaining.discard(message.partition())
        seconds = time.monotonic() - began
    finally:
        consumer.close()
    return {"records": float(read), "expected": float(total), "seconds": seconds, "per_s": read / seconds}


class TickProducer(BackgroundThread):
    """Sends the simulator's price and FX ticks to the prices topic from a thread while the trades are
    produced; raises the thread's failure on leaving."""

    failure_text = "producing the ticks failed"

    def __init__(self, settings: Settings, simulator: Any, options: Options, total: int) -> None:
        super().__init__("bench-ticks", enabled=total > 0)
        self.settings, self.simulator, self.options, self.total = settings, simulator, options, total
        self.delivered = 0

    def _run(self) -> None:
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
            scratch.settings, options.interval, options.windows_interval, options.bronze_interval
        )
        conf_path = scratch.folder / "latency.yml"
        conf_path.write_text(yaml.safe_dump(settings.model_dump(by_alias=True, mode="json")), encoding="utf-8")
        spark = get_spark(settings)
        catalog = Catalog(settings)
        start = datetime.now(UTC)
        simulator = MarketSimulator(options.seed, options.portfolios, options.instruments, start=start)
        reference = ProbeReference(simulator.reference_data())
        load_reference_data(spark, settings, reference, lambda message: None, scratch.folder / "reference")
        probe_instrument = reference.instrument
        total = round(options.rate * (options.warmup_s + options.duration_s))
        tick_total = round(options.tick_rate * (options.warmup_s + options.duration_s))
        console.print(
            f"bench latency: starting `riskstream run all` (hot_risk trigger {options.interval}, bronze "
            f"{options.bronze_interval}, window queries {options.windows_interval}) ..."
        )
        log_path = scratch.folder / "run.log"
        with (
            running_pipeline(
                conf_path, scratch.folder / "state", log_path, verbose=options.log_out is not None
            ) as process,
            RunSampler(process.pid, others={"bench_jvm": _own_jvm_pid(spark), "broker": scratch.broker.pid}) as sampler,
            RiskPoller(
                local_path(lineage.table_location(spark, catalog.table("gold", "portfolio_risk"))),
                probe_instrument,
                options.probe_poll_s,
                options.probe,
            ) as poller,
        ):
            now = datetime.now(UTC)
            simulator = MarketSimulator(options.seed, options.portfolios, options.instruments, start=now)
            records = simulator.events(total, rate=options.rate, faults=fault_rates())
            console.print(
                f"bench latency: producing {total:,} events at {options.rate:,.0f}/s "
                f"and {tick_total:,} ticks at {options.tick_rate:,.0f}/s"
                + (f", one probe trade per second on {PROBE_PORTFOLIO}" if options.probe else "")
                + " ..."
            )
            produce_started = time.time()
            with (
                TickProducer(settings, simulator, options, tick_total) as ticks,
                ProbeSender(settings, probe_instrument, options.probe) as probes,
            ):
                report = produce_events(settings, records, total, options.rate)
            produce_ended = time.time()
            console.print(
                f"bench latency: produced in {produce_ended - produce_started:.0f}s; waiting for the pipeline to drain"
            )
            drained_s = wait_until_drained(settings, options.drain_s)
        console.print(f"bench latency: stopped the pipeline after draining {drained_s:.0f}s; measuring ...")
        window = MeasuredWindow(produce_started, produce_started + options.warmup_s, produce_ended)
        figures = _measure(spark, settings, catalog, options, window, sampler.samples, options.progress_out)
        figures["probe"] = _probe_figures(probes, poller, window.measured_from_s, figures["latency_s"]["risk"], options)
        figures["delivered"] = report.delivered
        figures["ticks_delivered"] = ticks.delivered
        figures["drain_s"] = round(drained_s, 1)
        figures["kafka_ceiling"] = kafka_read_ceiling(settings)
        figures["run_log_tail"] = log_path.read_text(errors="replace").splitlines()[-5:]
        if options.log_out is not None:
            shutil.copyfile(log_path, options.log_out)
        _add_ceiling_ratios(figures)
        spark.stop()
    return figures


def _own_jvm_pid(spark: Any) -> int:
    """The pid of this process's Spark driver JVM."""
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())


@dataclass(frozen=True)
class MeasuredWindow:
    produce_started_s: float
    measured_from_s: float
    """The end of the warm-up: what was sent from here on is measured."""
    produce_ended_s: float


def keep_up(minutes: pd.DataFrame, query: str, warmup_s: float) -> tuple[float | None, bool | None]:
    """The lowest processed / input of ``query`` per minute after the warm-up, and whether it is at least
    :data:`KEEP_UP_SHARE` (None: no minute to judge).

    The run's last minute is left out: its input ends with producing, and a query on a slow trigger (the
    window queries' 30 seconds) processes its last part after the minute is over.
    """
    last_minute = minutes["minute"].max() if len(minutes) else -1
    own = minutes[(minutes["query"] == query) & (minutes["minute_start_s"] >= warmup_s)]
    ratios = own[own["minute"] < last_minute]["ratio"].dropna()
    if ratios.empty:
        return None, None
    lowest = float(ratios.min())
    return lowest, lowest >= KEEP_UP_SHARE


def every_query_keeps_up(verdicts: Sequence[bool | None]) -> bool | None:
    """True when every query keeps up, False when one does not, None when one (or all) could not be judged."""
    if not verdicts or any(verdict is None for verdict in verdicts):
        return None if all(verdict is not False for verdict in verdicts) else False
    return all(verdicts)


def _measure(
    spark: Any,
    settings: Settings,
    catalog: Any,
    options: Options,
    window: MeasuredWindow,
    samples: list[dict[str, float | None]],
    progress_out: Path | None,
) -> dict[str, Any]:
    times = lineage.measure_hot(spark, settings)
    after_warmup = times["sent_s"].to_numpy(dtype=float) >= window.measured_from_s
    latency: dict[str, Any] = {
        stage: lineage.percentiles(times[stage].to_numpy(dtype=float)[after_warmup]) for stage in lineage.STAGES
    }
    latency["events_after_warmup"] = int(after_warmup.sum())
    latency["not_in_risk"] = int(np.isnan(times["risk"].to_numpy(dtype=float)[after_warmup]).sum())
    ticks = lineage.measure_hot_ticks(spark, settings)
    ticks_after = ticks["sent_s"].to_numpy(dtype=float) >= window.measured_from_s
    tick_latency: dict[str, Any] = {
        stage: lineage.percentiles(ticks[stage].to_numpy(dtype=float)[ticks_after]) for stage in lineage.TICK_STAGES
    }
    tick_latency["ticks_after_warmup"] = int(ticks_after.sum())
    tick_latency["not_in_risk"] = int(np.isnan(ticks["risk"].to_numpy(dtype=float)[ticks_after]).sum())
    trade_records = _bronze_rows(spark, catalog.table("bronze", "trade_events"))["sent_s"].to_numpy(dtype=float)
    tick_records = _bronze_rows(spark, catalog.table("bronze", "price_ticks"))["sent_s"].to_numpy(dtype=float)
    progress_rows = catalog.table("ops", "stream_progress").read(spark).select("progress_json").collect()
    progress = [json.loads(row.progress_json) for row in progress_rows]
    if progress_out is not None:
        progress_out.write_text("".join(json.dumps(report) + "\n" for report in progress), encoding="utf-8")
    batches = query_batches(progress)
    parts = duration_parts(progress)
    silver_commits = times["sent_s"].to_numpy(dtype=float) + times["silver"].to_numpy(dtype=float)
    arrivals = {
        bronze.QUERY_NAME: trade_records,
        bronze.PRICES_QUERY_NAME: tick_records,
        hot.QUERY_NAME: np.concatenate([trade_records, tick_records]),
        gold.QUERY_PORTFOLIO_RISK_1M: silver_commits,
        gold.QUERY_EXPOSURE_5M: silver_commits,
    }
    minutes = keep_up_by_minute(window.produce_started_s, window.produce_ended_s, arrivals, batches)
    per_query = []
    for query, group in batches.groupby("query"):
        with_data = group[group["rows"] > 0]
        busy_s = with_data["duration_s"].sum()
        lowest, keeps = keep_up(minutes, str(query), options.warmup_s)
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
                "min_keep_up_after_warmup": lowest,
                "keeps_up": keeps,
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
    sample_frame = pd.DataFrame(samples)
    measured = (window.measured_from_s, window.produce_ended_s)
    figures: dict[str, Any] = {
        "benchmark": "latency",
        "produce_started_s": window.produce_started_s,
        "rate": options.rate,
        "duration_s": options.duration_s,
        "warmup_s": options.warmup_s,
        "interval": options.interval,
        "bronze_interval": options.bronze_interval,
        "windows_interval": options.windows_interval,
        "uptime": Path("/proc/loadavg").read_text().split()[:3],
        "latency_s": latency,
        "tick_rate": options.tick_rate,
        "tick_latency_s": tick_latency,
        "queries": per_query,
        "keeps_up": every_query_keeps_up([query["keeps_up"] for query in per_query]),
        "jvm_cpu_cores": average_cores(sample_frame, "jvm_cpu_s", *measured),
        "bench_jvm_cpu_cores": average_cores(sample_frame, "bench_jvm_cpu_s", *measured),
        "broker_cpu_cores": average_cores(sample_frame, "broker_cpu_s", *measured),
        "minutes": minutes.round(3).to_dict(orient="records"),
        "memory": sample_frame.round(2).to_dict(orient="records"),
    }
    if options.duration_s >= 600:
        figures["soak"] = soak_trend(batches, sample_frame, *measured)
    return figures


def soak_trend(
    batches: pd.DataFrame, samples: pd.DataFrame, first_s: float, last_s: float
) -> dict[str, tuple[float | None, float | None]]:
    """:func:`benchmarks.figures.trend` (batch duration p50 and state rows per query, JVM and Python memory)
    with the run's JVM cores, in the first and in the last 5 minutes of ``first_s`` .. ``last_s``."""
    soak = trend(batches, samples, first_s, last_s)
    soak["JVM cores"] = (
        average_cores(samples, "jvm_cpu_s", first_s, first_s + 300.0),
        average_cores(samples, "jvm_cpu_s", last_s - 300.0, last_s),
    )
    return soak


def _probe_figures(
    probes: ProbeSender, poller: RiskPoller, measured_from_s: float, risk: dict[str, Any], options: Options
) -> dict[str, Any]:
    """The probes sent after the warm-up: latency to the ``gold.portfolio_risk`` commit showing them and to the
    poll that saw them, and whether the first agrees with the lineage's ``risk`` figure."""
    if not options.probe:
        return {"enabled": False}
    each = probe_latencies(probes.sent, poller.frame())
    after = each[each["sent_s"] >= measured_from_s]
    commit = lineage.percentiles(after["latency"].to_numpy(dtype=float))
    return {
        "enabled": True,
        "poll_s": options.probe_poll_s,
        "sent": len(probes.sent),
        "failed": probes.failed,
        "after_warmup": len(after),
        "not_seen": int(after["commit_s"].isna().sum()),
        "commit_s": commit,
        "seen_s": lineage.percentiles(after["observed"].to_numpy(dtype=float)),
        "lineage_risk_s": risk,
        "agreement": agreement(commit, risk),
        "versions_read": len(poller.observations),
        "poll_errors": poller.errors[:5],
        "poll_error_count": len(poller.errors),
    }


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


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_figures(figures: dict[str, Any], out: Console) -> None:
    latency = figures["latency_s"]
    out.print(
        f"latency: {figures['rate']:,.0f} events/s for {figures['duration_s']:.0f}s after {figures['warmup_s']:.0f}s "
        f"warm-up; triggers: hot_risk {figures['interval']}, bronze {figures['bronze_interval']}, window queries "
        f"{figures['windows_interval']}; load average at the end {' '.join(figures['uptime'])}"
    )
    _print_stage_latency(
        out,
        f"Kafka timestamp -> stage, seconds ({latency['events_after_warmup']:,} accepted events after warm-up)",
        latency,
        lineage.STAGES,
        "events",
    )
    _print_probe(figures, out)
    _print_tick_latency(figures, out)
    ceiling = figures["kafka_ceiling"]
    queries = Table(title=f"queries (Kafka read ceiling: {ceiling['per_s']:,.0f} records/s, a plain consumer)")
    for column in (
        "query",
        "batches (with data)",
        "rows/batch p50",
        "batch s p50 / p95 / max",
        "busy rows/s",
        "x ceiling",
        "min processed/input",
        "keeps up",
        "state rows last (max)",
    ):
        queries.add_column(column, justify="right")
    for query in figures["queries"]:
        ratio = query.get("ratio_to_kafka_ceiling")
        keep = query["min_keep_up_after_warmup"]
        queries.add_row(
            query["query"],
            f"{query['batches']} ({query['data_batches']})",
            "-" if query["rows_per_batch_p50"] is None else f"{query['rows_per_batch_p50']:,.0f}",
            " / ".join(_seconds(query[key]) for key in ("duration_p50_s", "duration_p95_s", "duration_max_s")),
            "-" if query["busy_rows_per_s"] is None else f"{query['busy_rows_per_s']:,.0f}",
            "-" if ratio is None else f"{ratio:.2f}",
            "-" if keep is None else f"{keep:.2f}",
            _yes_no(query["keeps_up"]),
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
        split.add_row(query["query"], *("-" if pd.isna(own.get(name)) else f"{own[name]:,.0f}" for name in names))
    out.print(split)
    _print_minutes(figures, out)
    out.print(
        f"JVM CPU: {_cores(figures['jvm_cpu_cores'])} cores (average over the measured window); the benchmark's own "
        f"JVM: {_cores(figures['bench_jvm_cpu_cores'])} cores; the Kafka broker: "
        f"{_cores(figures['broker_cpu_cores'])} cores"
    )
    out.print(
        f"keeps up (processed / input >= {KEEP_UP_SHARE} in every minute after warm-up but the last): "
        + ", ".join(f"{query['query']} {_yes_no(query['keeps_up'])}" for query in figures["queries"])
    )
    if "soak" in figures:
        soak = Table(title="soak: first against last 5 minutes after warm-up")
        for column in ("figure", "first", "last"):
            soak.add_column(column, justify="right")
        for name, (first, last) in figures["soak"].items():
            shown = _cores if name == "JVM cores" else _seconds
            soak.add_row(name, shown(first), shown(last))
        out.print(soak)
    out.print(summary_line(figures))


def summary_line(figures: dict[str, Any]) -> str:
    """E.g. ``at 1,000 events/s: keeps up: yes; p95 Kafka -> gold.portfolio_risk 2.9 s (p50 1.8 s); JVM CPU 1.05
    cores``."""
    risk = figures["latency_s"]["risk"]
    return (
        f"at {figures['rate']:,.0f} events/s: keeps up: {_yes_no(figures['keeps_up'])}; p95 Kafka -> "
        f"gold.portfolio_risk {_seconds(risk['p95'])} s (p50 {_seconds(risk['p50'])} s); "
        f"JVM CPU {_cores(figures['jvm_cpu_cores'])} cores"
    )


def _print_probe(figures: dict[str, Any], out: Console) -> None:
    probe = figures.get("probe") or {}
    if not probe.get("enabled"):
        return
    table = Table(
        title=f"black box: probe trades (1/s on {PROBE_PORTFOLIO}, {probe['after_warmup']:,} after warm-up) -> "
        f"gold.portfolio_risk, beside the lineage, seconds"
    )
    for column in ("figure", "count", "p50", "p95", "max"):
        table.add_column(column, justify="right")
    rows = (
        ("probe: commit showing it", probe["commit_s"]),
        (f"probe: poll that saw it (every {probe['poll_s']} s)", probe["seen_s"]),
        ("lineage: risk", probe["lineage_risk_s"]),
    )
    for name, row in rows:
        table.add_row(name, f"{row['count']:,}", *(_seconds(row[key]) for key in ("p50", "p95", "max")))
    out.print(table)
    out.print(
        f"probe and lineage {probe['agreement']} (p50 and p95 each within {AGREEMENT_SECONDS} s or "
        f"{AGREEMENT_SHARE:.0%}); {probe['not_seen']} probes after warm-up never seen, {probe['failed']} not "
        f"delivered, {probe['poll_error_count']} failed polls"
    )


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
    parser.add_argument("--interval", default="1 second", help="trigger of hot_risk")
    parser.add_argument("--bronze-interval", default=DEFAULT_BRONZE_INTERVAL, help="trigger of the two bronze queries")
    parser.add_argument(
        "--windows-interval", default=DEFAULT_WINDOWS_INTERVAL, help="trigger of the two window queries"
    )
    parser.add_argument("--no-probe", action="store_true", help="send no probe trades and poll nothing")
    parser.add_argument(
        "--probe-poll", type=float, default=PROBE_POLL_SECONDS, help="seconds between two reads of the probe's row"
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument("--out", type=Path, default=default_output("latency"), help="where to write the JSON figures")
    parser.add_argument("--keep-log", type=Path, help="run with -v and keep its output here (per-batch step times)")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0 or args.tick_rate < 0 or args.probe_poll <= 0:
        parser.error("--rate, --duration and --probe-poll must be positive, --warmup and --tick-rate at least 0")
    # SIGTERM unwinds like Ctrl-C, so the pipeline, the broker and the scratch folder are cleaned up.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    console = wide_console()
    options = Options(
        rate=args.rate,
        tick_rate=args.tick_rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        drain_s=args.drain,
        interval=args.interval,
        windows_interval=args.windows_interval,
        bronze_interval=args.bronze_interval,
        seed=args.seed,
        progress_out=args.out.with_suffix(".progress.jsonl"),
        log_out=args.keep_log,
        probe=not args.no_probe,
        probe_poll_s=args.probe_poll,
    )
    figures = run_latency_benchmark(options, console)
    print_figures(figures, console)
    write_figures(args.out, figures)
    console.print(f"bench latency: figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
