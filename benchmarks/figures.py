"""Pure helpers of the benchmarks: figures from progress reports, rates, and the state verdict."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from riskstream.config import SilverConfig
from riskstream.monitoring import progress_row, progress_time_s
from riskstream.simulator import SimulatedRecord


@dataclass(frozen=True)
class QueryRun:
    """What one streaming query did in one availableNow run, from its progress reports.

    The state figures are those of the run's last report (after a no-data batch, if Spark ran one
    to evict expired state), summed over the query's stateful operators; None when the query
    reported no progress in the run.
    """

    query: str
    batches: int
    rows_in: int
    state_rows: int | None
    state_memory_bytes: int | None
    watermark: str | None


def summarise_query(progresses: Sequence[Mapping[str, Any]], query: str) -> QueryRun:
    """Sum the input rows of ``query``'s progress reports (``StreamingQueryProgress`` as dicts) and
    take the state figures of the last one."""
    rows = [progress_row(progress) for progress in progresses if progress.get("name") == query]
    if not rows:
        return QueryRun(query, 0, 0, None, None, None)
    last = rows[-1]
    return QueryRun(
        query,
        batches=len(rows),
        rows_in=sum(row["num_input_rows"] for row in rows),
        state_rows=last["state_rows_total"],
        state_memory_bytes=last["state_memory_bytes"],
        watermark=last["watermark"],
    )


TIME_SPLIT_PARTS = ("queryPlanning", "getBatch", "addBatch", "commit")
"""The parts of ``durationMs`` a micro-batch's time is split into (``walCommit`` and ``latestOffset``
are in ``triggerExecution`` too, and in ``other`` below)."""


@dataclass(frozen=True)
class TimeSplit:
    """Where one query's micro-batches spent their time, summed over its progress reports (ms)."""

    query: str
    batches: int
    data_batches: int
    trigger_ms: int
    parts_ms: dict[str, int]
    other_ms: int
    max_planning_ms: int
    state_update_ms: int
    state_commit_ms: int


def time_split(progresses: Sequence[Mapping[str, Any]], query: str) -> TimeSplit:
    """Sum ``durationMs`` and the state operators' ``allUpdatesTimeMs`` / ``commitTimeMs`` of ``query``."""
    reports = [progress for progress in progresses if progress.get("name") == query]
    durations = [report.get("durationMs") or {} for report in reports]
    parts = {part: sum(int(d.get(part) or 0) for d in durations) for part in TIME_SPLIT_PARTS}
    trigger = sum(int(d.get("triggerExecution") or 0) for d in durations)
    operators = [op for report in reports for op in report.get("stateOperators") or []]
    return TimeSplit(
        query,
        batches=len(reports),
        data_batches=sum(1 for report in reports if int(report.get("numInputRows") or 0) > 0),
        trigger_ms=trigger,
        parts_ms=parts,
        other_ms=trigger - sum(parts.values()),
        max_planning_ms=max((int(d.get("queryPlanning") or 0) for d in durations), default=0),
        state_update_ms=sum(int(op.get("allUpdatesTimeMs") or 0) for op in operators),
        state_commit_ms=sum(int(op.get("commitTimeMs") or 0) for op in operators),
    )


def rows_per_second(rows: int, seconds: float) -> float | None:
    """``rows / seconds``, or None for a zero or negative duration."""
    return rows / seconds if seconds > 0 else None


def round_sizes(events: int, rounds: int) -> list[int]:
    """``events`` split into ``rounds`` sizes that differ by at most one, larger ones first."""
    return [events // rounds + (1 if number < events % rounds else 0) for number in range(rounds)]


def silver_state_horizon(silver: SilverConfig) -> timedelta:
    """How long (event time) after a trade's last event its silver state can live.

    An open trade is kept ``lifecycle_state_ttl`` after its last event, and so is a seen event id
    after its ``trade_ts``; either is removed only once the watermark, which trails the newest
    ``trade_ts`` by ``watermark``, has passed that moment.
    """
    kept = pd.Timedelta(silver.lifecycle_state_ttl) + pd.Timedelta(silver.watermark)
    return timedelta(seconds=kept.total_seconds())


def state_verdict(figures: Sequence[int], tolerance: float = 0.1) -> str:
    """``bounded`` or ``growing`` for a state figure taken after each of several equal rounds.

    Every round adds the same number of events, so state that kept every event would grow by about
    that much each round; state bounded by the watermark stops growing once the rounds cover its
    event-time horizon. Bounded: the last round's figure is at most ``1 + tolerance`` times the
    largest earlier one. One figure shows no trend.
    """
    if len(figures) < 2:
        return "one round: no trend"
    *earlier, last = figures
    return "bounded" if last <= max(earlier) * (1 + tolerance) else "growing"


def verdict_line(label: str, figures: Sequence[int | None]) -> str:
    """E.g. ``silver_trades state rows: 812 → 840 → 836 (bounded)``; None is a round without a progress report."""
    shown = " → ".join("-" if figure is None else str(figure) for figure in figures)
    known = [figure for figure in figures if figure is not None]
    verdict = state_verdict(known) if len(known) == len(figures) else "no progress report in some round"
    return f"{label}: {shown} ({verdict})"


def stream_clock_range(records: Sequence[SimulatedRecord]) -> tuple[str, str]:
    """First and last ``trade_ts`` of the simulator's stream clock over ``records``.

    ``late`` faults (2 h behind the clock) and ``duplicate`` faults (an earlier event resent, with
    its own old ``trade_ts``) are left out, as are records whose ``trade_ts`` was broken out.
    """
    stamps = sorted(
        str(record.event["trade_ts"])
        for record in records
        if record.kind not in ("late", "duplicate") and "trade_ts" in record.event
    )
    return (stamps[0], stamps[-1]) if stamps else ("-", "-")


def query_batches(progresses: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per progress report: ``query``, ``batch_id``, ``start_s`` / ``end_s`` (epoch seconds),
    ``duration_s`` (``triggerExecution``), ``rows`` (input rows) and ``state_rows``, sorted by query and start."""
    rows = []
    for progress in progresses:
        row = progress_row(progress)
        start = progress_time_s(str(progress["timestamp"]))
        duration = (row["trigger_execution_ms"] or 0) / 1000
        rows.append(
            (
                row["query_name"],
                row["batch_id"],
                start,
                start + duration,
                duration,
                row["num_input_rows"],
                row["state_rows_total"],
            )
        )
    columns = ["query", "batch_id", "start_s", "end_s", "duration_s", "rows", "state_rows"]
    return pd.DataFrame(rows, columns=columns).sort_values(["query", "start_s"], ignore_index=True)


def keep_up_by_minute(
    first_s: float, last_s: float, arrivals: Mapping[str, np.ndarray], batches: pd.DataFrame
) -> pd.DataFrame:
    """Per query and minute from ``first_s`` until ``last_s``: rows that reached the query's source
    (``input``: the epoch seconds in ``arrivals[query]``), rows its batches finished (``processed``, by
    batch end), ``ratio`` = processed / input (NaN without input) and ``backlog`` at the minute's end
    (everything that arrived by then and was not processed yet)."""
    edges = first_s + 60.0 * np.arange(int(np.ceil((last_s - first_s) / 60.0)) + 1)
    rows = []
    for query, arrived in arrivals.items():
        own = batches[batches["query"] == query]
        ends, sizes = own["end_s"].to_numpy(dtype=float), own["rows"].to_numpy(dtype=float)
        for minute, (start, end) in enumerate(itertools.pairwise(edges)):
            came = float(((arrived >= start) & (arrived < end)).sum())
            done = float(sizes[(ends >= start) & (ends < end)].sum())
            backlog = float((arrived < end).sum()) - float(sizes[ends < end].sum())
            rows.append((query, minute, start - first_s, came, done, done / came if came else np.nan, backlog))
    columns = ["query", "minute", "minute_start_s", "input", "processed", "ratio", "backlog"]
    return pd.DataFrame(rows, columns=columns)


def trend(
    batches: pd.DataFrame, memory: pd.DataFrame, first_s: float, last_s: float
) -> dict[str, tuple[float | None, float | None]]:
    """A soak's drift: per query the batch duration p50 and the largest state rows, and the mean JVM
    and Python resident memory, in the first and in the last 5 minutes of ``first_s`` .. ``last_s``."""
    spans = ((first_s, first_s + 300.0), (last_s - 300.0, last_s))

    def figure(frame: pd.DataFrame, column: str, at: str, how: str) -> tuple[float | None, float | None]:
        values = []
        for start, end in spans:
            chosen = frame[(frame[at] >= start) & (frame[at] < end)][column].dropna()
            values.append(None if chosen.empty else float(getattr(chosen, how)()))
        return values[0], values[1]

    out: dict[str, tuple[float | None, float | None]] = {}
    for query, own in batches.groupby("query"):
        out[f"{query} batch p50 s"] = figure(own, "duration_s", "start_s", "median")
        out[f"{query} state rows max"] = figure(own, "state_rows", "start_s", "max")
    if not memory.empty:
        out["JVM MiB mean"] = figure(memory, "jvm_mib", "at_s", "mean")
        out["Python MiB mean"] = figure(memory, "python_mib", "at_s", "mean")
    return out


def duration_parts(progresses: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per progress report: ``query``, ``rows`` and one column per ``durationMs`` part (ms; NaN where absent)."""
    rows = [
        {
            "query": progress.get("name"),
            "rows": int(progress.get("numInputRows") or 0),
            **(progress.get("durationMs") or {}),
        }
        for progress in progresses
    ]
    return pd.DataFrame(rows, columns=None if rows else ["query", "rows"])
