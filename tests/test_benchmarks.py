"""The benchmarks' pure helpers (the benchmarks themselves run with ``make bench``, not here)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.figures import (
    QueryRun,
    TimeSplit,
    round_sizes,
    rows_per_second,
    silver_state_horizon,
    state_verdict,
    stream_clock_range,
    summarise_query,
    time_split,
    verdict_line,
)
from benchmarks.pipeline import STATE_QUERIES, PipelineFigures, StateFigures
from benchmarks.producer import parse_batch_sizes
from riskstream.config import SilverConfig
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
