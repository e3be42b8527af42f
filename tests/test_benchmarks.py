"""The benchmarks' pure helpers (the benchmarks themselves run with ``make bench``, not here)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks.figures import (
    QueryRun,
    TimeSplit,
    duration_parts,
    keep_up_by_minute,
    query_batches,
    round_sizes,
    rows_per_second,
    silver_state_horizon,
    state_verdict,
    stream_clock_range,
    summarise_query,
    time_split,
    trend,
    verdict_line,
)
from benchmarks.latency import with_processing_time
from benchmarks.pipeline import STATE_QUERIES, PipelineFigures, StateFigures
from benchmarks.producer import parse_batch_sizes
from riskstream.config import Settings, SilverConfig, TriggerConfig
from riskstream.simulator import RecordKind, SimulatedRecord


@pytest.mark.parametrize(
    ("figures", "verdict"),
    [
        ([812, 840, 836], "bounded"),
        ([1000, 1800, 1850], "bounded"),  # filling up to the horizon, then flat
        ([1000, 1000, 1100], "bounded"),  # exactly at the 10 % tolerance
        ([1000, 1000, 1101], "growing"),
        ([1000, 2000, 3000], "growing"),  # every round's events kept
        ([0, 0, 0], "bounded"),
        ([0, 0, 5], "growing"),
        ([5, 0], "bounded"),
        ([812], "one round: no trend"),
        ([], "one round: no trend"),
    ],
)
def test_state_verdict(figures: list[int], verdict: str) -> None:
    assert state_verdict(figures) == verdict


def test_verdict_line() -> None:
    assert verdict_line("silver_trades state rows", [812, 840, 836]) == (
        "silver_trades state rows: 812 → 840 → 836 (bounded)"
    )
    assert verdict_line("q", [1, 2, 3]) == "q: 1 → 2 → 3 (growing)"


def _progress(name: str, batch_id: int, rows: int, operators: list[dict[str, int]], watermark: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": "query-id",
        "runId": "run-id",
        "batchId": batch_id,
        "numInputRows": rows,
        "stateOperators": operators,
        "eventTime": {"watermark": watermark},
    }


def test_summarise_query_sums_rows_and_takes_the_last_state() -> None:
    progresses = [
        _progress("silver_trades", 0, 600, [{"numRowsTotal": 500, "memoryUsedBytes": 9000}], "1970-01-01T00:00:00Z"),
        _progress("gold_positions", 0, 580, [], "1970-01-01T00:00:00Z"),
        _progress("silver_trades", 1, 0, [{"numRowsTotal": 420, "memoryUsedBytes": 8000}], "2026-03-02T09:50:00Z"),
        _progress(
            "gold_portfolio_risk_1m",
            0,
            580,
            [{"numRowsTotal": 7, "memoryUsedBytes": 100}, {"numRowsTotal": 3, "memoryUsedBytes": 50}],
            "2026-03-02T09:50:00Z",
        ),
    ]
    assert summarise_query(progresses, "silver_trades") == QueryRun(
        "silver_trades", 2, 600, 420, 8000, "2026-03-02T09:50:00Z"
    )
    assert summarise_query(progresses, "gold_portfolio_risk_1m") == QueryRun(
        "gold_portfolio_risk_1m", 1, 580, 10, 150, "2026-03-02T09:50:00Z"
    )
    assert summarise_query(progresses, "gold_positions") == QueryRun(
        "gold_positions", 1, 580, 0, 0, "1970-01-01T00:00:00Z"
    )
    assert summarise_query(progresses, "bronze_trade_events") == QueryRun("bronze_trade_events", 0, 0, None, None, None)


@pytest.mark.parametrize(
    ("events", "rounds", "sizes"),
    [(20_000, 3, [6667, 6667, 6666]), (9, 3, [3, 3, 3]), (5, 1, [5]), (2, 3, [1, 1, 0])],
)
def test_round_sizes(events: int, rounds: int, sizes: list[int]) -> None:
    assert round_sizes(events, rounds) == sizes


def test_rows_per_second() -> None:
    assert rows_per_second(500, 2.0) == 250.0
    assert rows_per_second(500, 0.0) is None


def test_silver_state_horizon() -> None:
    assert silver_state_horizon(SilverConfig()) == timedelta(days=7, minutes=10)
    shorter_ttl = SilverConfig(lifecycle_state_ttl="30 minutes", watermark="5 minutes")
    assert silver_state_horizon(shorter_ttl) == timedelta(minutes=35)


def test_verdict_line_with_a_round_without_progress() -> None:
    assert verdict_line("q", [4, None, 4]) == "q: 4 → - → 4 (no progress report in some round)"


def _record(kind: RecordKind, event: dict[str, Any]) -> SimulatedRecord:
    return SimulatedRecord("P1", b"{}", [("schema_version", b"1")], kind, event)


def test_stream_clock_range_leaves_out_late_duplicate_and_broken_timestamps() -> None:
    records = [
        _record("duplicate", {"trade_ts": "2026-11-03T04:00:00.000Z"}),
        _record("valid", {"trade_ts": "2026-11-10T04:00:00.000Z"}),
        _record("late", {"trade_ts": "2026-11-10T02:30:00.000Z"}),
        _record("schema_invalid", {}),
        _record("out_of_order", {"trade_ts": "2026-11-10T04:30:00.000Z"}),
        _record("valid", {"trade_ts": "2026-11-10T04:20:00.000Z"}),
    ]
    assert stream_clock_range(records) == ("2026-11-10T04:00:00.000Z", "2026-11-10T04:30:00.000Z")
    assert stream_clock_range([_record("late", {"trade_ts": "2026-11-10T02:30:00.000Z"})]) == ("-", "-")


def test_pipeline_verdicts_per_stateful_query() -> None:
    rows_per_round: list[list[int | None]] = [[812, 7, 30], [840, 9, 36], [836, 21, None]]
    state = [
        StateFigures(number, query, rows, 0, None)
        for number, rows_by_query in enumerate(rows_per_round, start=1)
        for query, rows in zip(STATE_QUERIES, rows_by_query, strict=True)
    ]
    figures = PipelineFigures(options={}, settings={}, rounds=[], stages=[], state=state)
    assert figures.verdicts() == {
        "silver_trades": "silver_trades state rows: 812 → 840 → 836 (bounded)",
        "gold_portfolio_risk_1m": "gold_portfolio_risk_1m state rows: 7 → 9 → 21 (growing)",
        "gold_exposure_by_asset_class_5m": (
            "gold_exposure_by_asset_class_5m state rows: 30 → 36 → - (no progress report in some round)"
        ),
    }


@pytest.mark.parametrize(("text", "sizes"), [("100,500,2000", [100, 500, 2000]), ("500", [500]), ("7,", [7])])
def test_parse_batch_sizes(text: str, sizes: list[int]) -> None:
    assert parse_batch_sizes(text) == sizes


@pytest.mark.parametrize("text", ["", "0,500", "-1"])
def test_parse_batch_sizes_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected positive integers separated by commas"):
        parse_batch_sizes(text)


def test_time_split_sums_each_part_of_the_batches_of_one_query() -> None:
    def report(name: str, rows: int, durations: dict[str, int], operators: list[dict[str, int]]) -> dict[str, Any]:
        return {"name": name, "numInputRows": rows, "durationMs": durations, "stateOperators": operators}

    progresses = [
        report(
            "silver_trades",
            500,
            {
                "queryPlanning": 300,
                "getBatch": 20,
                "addBatch": 900,
                "commit": 50,
                "walCommit": 10,
                "triggerExecution": 1300,
            },
            [{"allUpdatesTimeMs": 120, "commitTimeMs": 40}],
        ),
        report("gold_positions", 500, {"queryPlanning": 999, "triggerExecution": 2000}, []),
        report(
            "silver_trades",
            0,
            {"queryPlanning": 700, "addBatch": 100, "commit": 30, "triggerExecution": 900},
            [{"allUpdatesTimeMs": 5, "commitTimeMs": 15}],
        ),
    ]
    assert time_split(progresses, "silver_trades") == TimeSplit(
        "silver_trades",
        batches=2,
        data_batches=1,
        trigger_ms=2200,
        parts_ms={"queryPlanning": 1000, "getBatch": 20, "addBatch": 1000, "commit": 80},
        other_ms=100,
        max_planning_ms=700,
        state_update_ms=125,
        state_commit_ms=55,
    )
    assert time_split(progresses, "bronze_trade_events") == TimeSplit(
        "bronze_trade_events", 0, 0, 0, {"queryPlanning": 0, "getBatch": 0, "addBatch": 0, "commit": 0}, 0, 0, 0, 0
    )


def _timed_progress(
    name: str, batch: int, at: str, trigger_ms: int, rows: int, state_rows: int = 0
) -> dict[str, object]:
    return {
        "name": name,
        "id": "q",
        "runId": "r",
        "batchId": batch,
        "timestamp": at,
        "numInputRows": rows,
        "durationMs": {"triggerExecution": trigger_ms},
        "stateOperators": [{"numRowsTotal": state_rows}] if state_rows else [],
    }


def test_batches_come_from_progress_reports_with_their_end_times() -> None:
    reports = [
        _timed_progress("silver", 1, "1970-01-01T00:01:40.000Z", 2500, 300, 40),
        _timed_progress("bronze", 7, "1970-01-01T00:01:30.000Z", 500, 200),
    ]
    expected = pd.DataFrame(
        {
            "query": ["bronze", "silver"],
            "batch_id": [7, 1],
            "start_s": [90.0, 100.0],
            "end_s": [90.5, 102.5],
            "duration_s": [0.5, 2.5],
            "rows": [200, 300],
            "state_rows": [0, 40],
        }
    )
    pd.testing.assert_frame_equal(query_batches(reports), expected)


def test_keep_up_counts_input_and_processed_rows_per_minute_with_the_backlog() -> None:
    batches = pd.DataFrame(
        {
            "query": ["q", "q", "q"],
            "end_s": [1030.0, 1070.0, 1110.0],
            "rows": [3, 2, 4],
        }
    )
    arrivals = {"q": np.array([1000.0, 1010.0, 1020.0, 1050.0, 1065.0, 1080.0, 1090.0, 1100.0, 1105.0])}
    got = keep_up_by_minute(1000.0, 1120.0, arrivals, batches)
    expected = pd.DataFrame(
        {
            "query": ["q", "q"],
            "minute": [0, 1],
            "minute_start_s": [0.0, 60.0],
            "input": [4.0, 5.0],
            "processed": [3.0, 6.0],
            "ratio": [0.75, 1.2],
            "backlog": [1.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_the_soak_trend_compares_the_first_and_last_five_minutes() -> None:
    batches = pd.DataFrame(
        {
            "query": ["q"] * 4,
            "start_s": [0.0, 100.0, 700.0, 800.0],
            "duration_s": [1.0, 3.0, 2.0, 4.0],
            "state_rows": [10, 12, 11, 13],
        }
    )
    memory = pd.DataFrame({"at_s": [50.0, 850.0], "jvm_mib": [1000.0, 1100.0], "python_mib": [200.0, 210.0]})
    assert trend(batches, memory, 0.0, 900.0) == {
        "q batch p50 s": (2.0, 3.0),
        "q state rows max": (12.0, 13.0),
        "JVM MiB mean": (1000.0, 1100.0),
        "Python MiB mean": (200.0, 210.0),
    }


def test_duration_parts_keep_each_part_of_each_report() -> None:
    reports = [
        _timed_progress("q", 0, "1970-01-01T00:00:00.000Z", 900, 5),
        _timed_progress("q", 1, "1970-01-01T00:00:01.000Z", 400, 0),
    ]
    reports[0]["durationMs"] = {"triggerExecution": 900, "addBatch": 600}
    expected = pd.DataFrame(
        {"query": ["q", "q"], "rows": [5, 0], "triggerExecution": [900, 400], "addBatch": [600.0, np.nan]}
    )
    pd.testing.assert_frame_equal(duration_parts(reports), expected)


def test_the_latency_benchmark_runs_the_critical_path_and_the_window_queries_on_their_own_triggers(
    make_settings: Callable[..., Settings],
) -> None:
    settings = with_processing_time(make_settings(), "1 second", "30 seconds")
    streams = settings.streams
    assert [getattr(streams, name).trigger for name in ("bronze", "silver", "gold")] == [
        TriggerConfig(kind="processing_time", interval="1 second")
    ] * 3
    assert streams.gold_windows is not None
    assert streams.gold_windows.trigger == TriggerConfig(kind="processing_time", interval="30 seconds")
    assert streams.prices is not None
    assert streams.prices.trigger == TriggerConfig(kind="processing_time", interval="1 second")
    slower_prices = with_processing_time(make_settings(), "1 second", "30 seconds", "5 seconds").streams.prices
    assert slower_prices is not None
    assert slower_prices.trigger == TriggerConfig(kind="processing_time", interval="5 seconds")
