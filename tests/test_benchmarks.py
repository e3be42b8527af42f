"""The benchmarks' pure helpers (the benchmarks themselves run with ``make bench``, not here)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
from benchmarks.latency import (
    PROBE_INSTRUMENT,
    PROBE_LIMIT,
    PROBE_PORTFOLIO,
    Options,
    ProbeReference,
    ProbeSender,
    RiskPoller,
    _print_probe,
    _probe_figures,
    agreement,
    apply_commit,
    average_cores,
    cpu_seconds,
    every_query_keeps_up,
    keep_up,
    local_path,
    probe_event,
    probe_instrument,
    probe_latencies,
    soak_trend,
    summary_line,
    with_probe_portfolio,
    with_processing_time,
)
from benchmarks.pipeline import (
    STAGES,
    STATE_QUERIES,
    PipelineFigures,
    Replay,
    RoundFigures,
    StageFigures,
    StateFigures,
    job_times,
    round_figures,
    summary_lines,
)
from benchmarks.producer import parse_batch_sizes
from riskstream.commands.run import ALL
from riskstream.config import Settings, SilverConfig, TriggerConfig
from riskstream.contract import event_errors
from riskstream.reference import read_reference
from riskstream.simulator import Instrument, MarketSimulator, Portfolio, RecordKind, SimulatedRecord


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
        "hot_risk": "hot_risk state rows: 812 → 840 → 836 (bounded)",
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


def test_the_latency_benchmark_runs_the_hot_query_bronze_and_the_window_queries_on_their_own_triggers(
    make_settings: Callable[..., Settings],
) -> None:
    given = make_settings(streams={"prices": {"trigger": {"kind": "processing_time", "interval": "5 seconds"}}})
    streams = with_processing_time(given, "1 second", "30 seconds").streams
    assert streams.hot.trigger == TriggerConfig(kind="processing_time", interval="1 second")
    assert streams.bronze.trigger == TriggerConfig(kind="processing_time", interval="30 seconds")
    assert streams.prices is None  # bronze_price_ticks runs on streams.bronze
    assert streams.gold_windows is not None
    assert streams.gold_windows.trigger == TriggerConfig(kind="processing_time", interval="30 seconds")
    # the layered path, which `run all` does not start, keeps its triggers
    assert (streams.silver, streams.gold) == (given.streams.silver, given.streams.gold)
    slower_bronze = with_processing_time(given, "2 seconds", "1 minute", "20 seconds").streams
    assert slower_bronze.hot.trigger == TriggerConfig(kind="processing_time", interval="2 seconds")
    assert slower_bronze.bronze.trigger == TriggerConfig(kind="processing_time", interval="20 seconds")


# ------------------------------------------------------------------------------- the latency probe


PROBE_CORP = Instrument(
    PROBE_INSTRUMENT, "Latency probe", "credit", "investment_grade", "CH", "CHF", 10.0, 0.0095, 93.2321
)
"""The probe instrument of ``MarketSimulator(7, 3, 10)``: a copy of CH0001000030, its first CHF instrument
(P-001, the first portfolio, is in CHF)."""


def test_the_probe_portfolio_and_instrument_are_added_to_the_simulators_reference_data() -> None:
    reference = MarketSimulator(7, 3, 10).reference_data()
    first = reference.portfolios[0]
    assert (first.portfolio_id, first.base_currency) == ("P-001", "CHF")
    assert reference.instruments[3] == Instrument(
        "CH0001000030", "Investment Grade Bond 4", "credit", "investment_grade", "CH", "CHF", 10.0, 0.0095, 93.2321
    )
    assert [instrument.currency for instrument in reference.instruments[:3]] == ["USD", "USD", "JPY"]
    probed = with_probe_portfolio(reference)
    assert probed.portfolios == (
        *reference.portfolios,
        Portfolio(PROBE_PORTFOLIO, "Latency probe", first.desk, first.base_currency, 1e12, 1e12, 1e12, None),
    )
    assert probed.instruments == (*reference.instruments, PROBE_CORP)
    assert PROBE_LIMIT == 1e12
    assert PROBE_INSTRUMENT == "XXPROBE00001"
    assert PROBE_PORTFOLIO not in {portfolio.portfolio_id for portfolio in reference.portfolios}
    assert PROBE_INSTRUMENT not in {instrument.instrument_id for instrument in reference.instruments}
    # no price history, correlation or FX rate of its own: CHF has one, and risk leaves the instrument unmodelled
    assert (probed.fx_rates, probed.correlations, probed.price_history) == (
        reference.fx_rates,
        reference.correlations,
        reference.price_history,
    )
    assert probe_instrument(reference) == PROBE_CORP


def test_the_probe_reference_loads_the_probe_and_leaves_the_simulator_without_it() -> None:
    simulator = MarketSimulator(7, 3, 10)
    probe_reference = ProbeReference(simulator.reference_data())
    assert probe_reference.reference == with_probe_portfolio(simulator.reference_data())
    assert probe_reference.instrument == PROBE_CORP
    # the simulator trades and ticks only its own reference data, which has neither
    assert PROBE_INSTRUMENT not in {instrument.instrument_id for instrument in simulator.reference_data().instruments}
    assert PROBE_PORTFOLIO not in {portfolio.portfolio_id for portfolio in simulator.reference_data().portfolios}


def test_the_probe_instrument_passes_the_reference_loaders_checks(tmp_path: Path) -> None:
    ProbeReference(MarketSimulator(7, 3, 10).reference_data()).write_reference_csv(tmp_path)
    rows = read_reference(tmp_path)  # reads and checks every file, as `riskstream reference load` does
    assert rows["instruments"][-1] == (
        "XXPROBE00001",
        "Latency probe",
        "credit",
        "investment_grade",
        "CH",
        "CHF",
        10.0,
        0.0095,
        93.2321,
    )
    assert rows["portfolios"][-1] == ("P-PROBE", "Latency probe", "equities", "CHF", 1e12, 1e12, 1e12, None)


def test_the_probe_needs_an_instrument_in_the_probe_portfolios_base_currency() -> None:
    reference = MarketSimulator(7, 3, 10).reference_data()
    without_chf = replace(
        reference, instruments=tuple(instrument for instrument in reference.instruments if instrument.currency != "CHF")
    )
    message = (
        "no instrument in CHF, the base currency of the probe portfolio P-PROBE (that of P-001): the probe needs one "
        "to copy for XXPROBE00001"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        with_probe_portfolio(without_chf)
    with pytest.raises(ValueError, match=re.escape(message)):
        ProbeReference(without_chf)


def test_a_probe_is_a_valid_new_trade_of_one_unit() -> None:
    at = datetime(2026, 3, 2, 9, 30, 1, 234567, tzinfo=UTC)
    event = probe_event(12, PROBE_CORP, at, "3f1c2a4e-0b7d-4c55-9a51-0d2f4e8b6a10")
    assert event == {
        "schema_version": 1,
        "event_id": "3f1c2a4e-0b7d-4c55-9a51-0d2f4e8b6a10",
        "event_type": "NEW",
        "trade_id": "T-PROBE-000012",
        "trade_version": 1,
        "portfolio_id": "P-PROBE",
        "instrument_id": "XXPROBE00001",
        "side": "BUY",
        "quantity": 1,
        "price": 93.2321,
        "currency": "CHF",
        "trade_ts": "2026-03-02T09:30:01.234Z",
        "source_system": "oms-sim",
    }
    assert event_errors(event) == []


def test_each_probe_is_timed_by_the_first_version_that_shows_it() -> None:
    # version 3 shows probe 1; versions 4 and 5 (read on one poll, 4 was skipped) show 2 and 3;
    # version 6 shows no more; probe 4 was never seen.
    observations = pd.DataFrame(
        {
            "version": [6, 3, 5, 4, 2],
            "commit_s": [104.5, 101.5, 103.25, 102.5, 100.0],
            "seen_s": [105.0, 102.0, 103.5, 103.5, 100.5],
            "probes": [3, 1, 3, 2, 0],
        }
    )
    got = probe_latencies([100.5, 101.0, 102.0, 103.0], observations)
    expected = pd.DataFrame(
        {
            "probe": [1, 2, 3, 4],
            "sent_s": [100.5, 101.0, 102.0, 103.0],
            "commit_s": [101.5, 102.5, 103.25, np.nan],
            "seen_s": [102.0, 103.5, 103.5, np.nan],
            "latency": [1.0, 1.5, 1.25, np.nan],
            "observed": [1.5, 2.5, 1.5, np.nan],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_probes_without_observations_have_no_latency() -> None:
    got = probe_latencies([100.0], pd.DataFrame(columns=["version", "commit_s", "seen_s", "probes"]))
    assert got["probe"].tolist() == [1]
    assert np.isnan(got["latency"].iloc[0]) and np.isnan(got["observed"].iloc[0])


def test_a_delta_commit_removes_and_adds_data_files() -> None:
    lines = [
        '{"commitInfo":{"timestamp":1764547262123,"operation":"WRITE","operationParameters":{"mode":"Overwrite"}}}',
        '{"remove":{"path":"part-00000-a.snappy.parquet","deletionTimestamp":1764547262100,"dataChange":true}}',
        '{"add":{"path":"part-00000-b%20c.snappy.parquet","partitionValues":{},"size":10,"dataChange":true}}',
        '{"cdc":{"path":"_change_data/cdc-00000.snappy.parquet","partitionValues":{},"size":5,"dataChange":false}}',
        "",
    ]
    files = frozenset({"part-00000-a.snappy.parquet", "part-00001-z.snappy.parquet"})
    assert apply_commit(files, lines) == (
        1764547262.123,
        frozenset({"part-00000-b c.snappy.parquet", "part-00001-z.snappy.parquet"}),
    )
    in_commit = '{"commitInfo":{"timestamp":1764547262999,"inCommitTimestamp":1764547262500}}'
    assert apply_commit(frozenset(), [in_commit]) == (1764547262.5, frozenset())
    assert apply_commit(frozenset(), ['{"protocol":{"minReaderVersion":1}}']) == (None, frozenset())


@pytest.mark.parametrize("location", ["file:/tmp/bench/delta/gold/positions", "file:///tmp/bench/delta/gold/positions"])
def test_a_local_table_location_is_a_path(location: str) -> None:
    assert local_path(location) == Path("/tmp/bench/delta/gold/positions")
    assert local_path("/tmp/bench/delta/gold/positions") == Path("/tmp/bench/delta/gold/positions")
    with pytest.raises(ValueError, match="not a local table location: abfss://gold@account"):
        local_path("abfss://gold@account.dfs.core.windows.net/positions")


def test_a_data_file_with_a_deletion_vector_is_refused() -> None:
    line = '{"add":{"path":"part-1.parquet","deletionVector":{"storageType":"u","pathOrInlineDv":"x"}}}'
    with pytest.raises(ValueError, match=r"part-1\.parquet has a deletion vector"):
        apply_commit(frozenset(), [line])


def _risk_file(folder: Path, name: str, rows: list[tuple[str, float]]) -> None:
    """A gold.portfolio_risk data file with a few of its columns: per portfolio its gross exposure (and, in
    ``net_exposure_base``, its negative: a column the poller must not read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    portfolios, gross = zip(*rows, strict=True)
    table = pa.table(
        {
            "portfolio_id": list(portfolios),
            "position_count": pa.array([1] * len(rows), pa.int64()),
            "gross_exposure_base": pa.array(list(gross), pa.float64()),
            "net_exposure_base": pa.array([-value for value in gross], pa.float64()),
        }
    )
    pq.write_table(table, folder / name)


def _commit(folder: Path, version: int, *actions: str) -> None:
    (folder / "_delta_log" / f"{version:020d}.json").write_text("\n".join(actions) + "\n", encoding="utf-8")


def _probes_value(count: int) -> float:
    """P-PROBE's gross_exposure_base after ``count`` probes, as the book computes it: net quantity x mark (the
    reference price) x multiplier x fx_rate_to_base (1: the instrument is in the portfolio's base currency)."""
    return abs(float(count) * PROBE_CORP.reference_price * PROBE_CORP.multiplier * 1.0)


def test_the_poller_counts_the_probes_in_the_risk_row_of_every_version_from_the_log_and_the_data_files(
    tmp_path: Path,
) -> None:
    # A hand-made Delta table (the real format, written without Spark): created, then overwritten as the hot
    # query does (each version removes the last file and adds one; the change data feed's cdc files are no rows).
    (tmp_path / "_delta_log").mkdir()
    _commit(tmp_path, 0, '{"commitInfo":{"timestamp":100000,"operation":"CREATE TABLE"}}', '{"protocol":{}}')
    _risk_file(tmp_path, "a.parquet", [("P-001", 7_500_000.0), ("P-002", 40_000_000.0)])
    _commit(tmp_path, 1, '{"commitInfo":{"timestamp":101000}}', '{"add":{"path":"a.parquet"}}')
    _risk_file(tmp_path, "b.parquet", [("P-001", 7_600_000.0), ("P-002", 40_000_000.0), ("P-PROBE", _probes_value(1))])
    _commit(
        tmp_path,
        2,
        '{"commitInfo":{"timestamp":101500}}',
        '{"remove":{"path":"a.parquet"}}',
        '{"add":{"path":"b.parquet"}}',
    )
    poller = RiskPoller(tmp_path, PROBE_CORP, poll_s=0.5)
    assert poller.probe_value == 93.2321 * 10.0
    poller.poll(seen_s=101.75)
    _risk_file(tmp_path, "c.parquet", [("P-001", 7_700_000.0), ("P-PROBE", _probes_value(3))])
    (tmp_path / "_change_data").mkdir()
    _risk_file(tmp_path, "_change_data/cdc-1.parquet", [("P-PROBE", _probes_value(1)), ("P-PROBE", _probes_value(3))])
    _commit(
        tmp_path,
        3,
        '{"commitInfo":{"timestamp":102250}}',
        '{"remove":{"path":"b.parquet"}}',
        '{"add":{"path":"c.parquet"}}',
        '{"cdc":{"path":"_change_data/cdc-1.parquet"}}',
    )
    _commit(  # its file is not there yet
        tmp_path,
        4,
        '{"commitInfo":{"timestamp":103000}}',
        '{"remove":{"path":"c.parquet"}}',
        '{"add":{"path":"d.parquet"}}',
    )
    poller.poll(seen_s=103.5)
    expected = pd.DataFrame(
        {
            "version": [0, 1, 2, 3],
            "commit_s": [100.0, 101.0, 101.5, 102.25],
            "seen_s": [101.75, 101.75, 101.75, 103.5],
            "probes": [0, 0, 1, 3],
        }
    )
    pd.testing.assert_frame_equal(poller.frame(), expected)
    assert len(poller.errors) == 1 and "d.parquet" in poller.errors[0]  # version 4 is retried at the next poll
    _risk_file(tmp_path, "d.parquet", [("P-001", 7_700_000.0), ("P-002", 39_000_000.0), ("P-PROBE", _probes_value(7))])
    poller.poll(seen_s=104.0)
    assert poller.frame().iloc[4].to_dict() == {"version": 4, "commit_s": 103.0, "seen_s": 104.0, "probes": 7}
    assert len(poller.observations) == 5 and len(poller.errors) == 1
    _risk_file(tmp_path, "e.parquet", [("P-001", 7_800_000.0)])  # a version without the probe's row shows none
    _commit(
        tmp_path,
        5,
        '{"commitInfo":{"timestamp":104500}}',
        '{"remove":{"path":"d.parquet"}}',
        '{"add":{"path":"e.parquet"}}',
    )
    poller.poll(seen_s=105.0)
    assert poller.frame()["probes"].tolist() == [0, 0, 1, 3, 7, 0]


def test_the_poller_rounds_the_probes_gross_exposure_to_whole_probes(tmp_path: Path) -> None:
    (tmp_path / "_delta_log").mkdir()
    # 2 probes, the value summed one at a time, and 500 probes: float rounding does not change the count
    _risk_file(tmp_path, "a.parquet", [("P-PROBE", 932.321 + 932.321)])
    _commit(tmp_path, 0, '{"commitInfo":{"timestamp":100000}}', '{"add":{"path":"a.parquet"}}')
    _risk_file(tmp_path, "b.parquet", [("P-PROBE", sum([932.321] * 500))])
    _commit(
        tmp_path,
        1,
        '{"commitInfo":{"timestamp":101000}}',
        '{"remove":{"path":"a.parquet"}}',
        '{"add":{"path":"b.parquet"}}',
    )
    poller = RiskPoller(tmp_path, PROBE_CORP, poll_s=0.5)
    poller.poll(seen_s=101.5)
    assert poller.frame()["probes"].tolist() == [2, 500]
    assert poller.errors == []


@pytest.mark.parametrize(
    ("probe", "by_lineage", "verdict"),
    [
        ({"p50": 1.4, "p95": 2.9}, {"p50": 1.5, "p95": 2.6}, "agree"),  # within 0.5 s
        ({"p50": 4.6, "p95": 11.9}, {"p50": 4.0, "p95": 10.0}, "agree"),  # within 20 %
        ({"p50": 1.5, "p95": 3.3}, {"p50": 1.5, "p95": 2.6}, "disagree"),  # p95 0.7 s and 27 % off
        ({"p50": 0.9, "p95": 2.6}, {"p50": 1.5, "p95": 2.6}, "disagree"),  # p50 0.6 s and 40 % off
        ({"p50": None, "p95": None}, {"p50": 1.5, "p95": 2.6}, "-"),
    ],
)
def test_the_probe_agrees_with_the_lineage_within_half_a_second_or_a_fifth(
    probe: dict[str, float | None], by_lineage: dict[str, float | None], verdict: str
) -> None:
    assert agreement(probe, by_lineage) == verdict


def _probe_run(make_settings: Callable[..., Settings], tmp_path: Path) -> tuple[ProbeSender, RiskPoller]:
    """A finished probe run: 4 probes sent (1 not delivered), 4 table versions read, 1 failed poll."""
    probes = ProbeSender(make_settings(), PROBE_CORP, enabled=False)
    probes.sent, probes.failed = [100.0, 101.0, 102.0, 103.0], 1
    poller = RiskPoller(tmp_path, PROBE_CORP, poll_s=0.5, enabled=False)
    poller.observations = [
        {"version": 0, "commit_s": 100.5, "seen_s": 100.5, "probes": 0},
        {"version": 1, "commit_s": 102.0, "seen_s": 102.5, "probes": 1},
        {"version": 2, "commit_s": 103.0, "seen_s": 103.5, "probes": 2},
        {"version": 3, "commit_s": 104.0, "seen_s": 104.5, "probes": 3},
    ]
    poller.errors = ["[Errno 2] Failed to open local file 'd.parquet'"]
    return probes, poller


LINEAGE_RISK = {"count": 900, "p50": 1.9, "p95": 2.4, "p99": 2.6, "max": 3.0}
"""The lineage's ``risk`` stage (``figures["latency_s"]["risk"]``) of :func:`_probe_run`'s run."""


def test_the_probe_figures_compare_the_probe_with_the_lineages_risk_stage(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    probes, poller = _probe_run(make_settings, tmp_path)
    # after the warm-up (from 101.0): probes 2 and 3, each in 2.0 s (seen 2.5 s after), and probe 4, never seen
    figures = _probe_figures(probes, poller, 101.0, LINEAGE_RISK, Options(probe_poll_s=0.5))
    assert figures == {
        "enabled": True,
        "poll_s": 0.5,
        "sent": 4,
        "failed": 1,
        "after_warmup": 3,
        "not_seen": 1,
        "commit_s": {"count": 2, "p50": 2.0, "p95": 2.0, "p99": 2.0, "max": 2.0},
        "seen_s": {"count": 2, "p50": 2.5, "p95": 2.5, "p99": 2.5, "max": 2.5},
        "lineage_risk_s": LINEAGE_RISK,
        "agreement": "agree",
        "versions_read": 4,
        "poll_errors": ["[Errno 2] Failed to open local file 'd.parquet'"],
        "poll_error_count": 1,
    }
    assert _probe_figures(probes, poller, 101.0, LINEAGE_RISK, Options(probe=False)) == {"enabled": False}


def test_the_probe_table_is_printed_against_gold_portfolio_risk_beside_the_lineages_risk(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from rich.console import Console

    probes, poller = _probe_run(make_settings, tmp_path)
    out = Console(width=200, record=True)
    _print_probe({"probe": _probe_figures(probes, poller, 101.0, LINEAGE_RISK, Options(probe_poll_s=0.5))}, out)
    assert [line.rstrip() for line in out.export_text().splitlines()] == PRINTED_PROBE


PRINTED_PROBE = [
    "   black box: probe trades (1/s on P-PROBE, 3 after warm-up) ->",  # rich wraps the title to the table
    "         gold.portfolio_risk, beside the lineage, seconds",
    "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━┳━━━━━┳━━━━━┳━━━━━┓",
    "┃                                figure ┃ count ┃ p50 ┃ p95 ┃ max ┃",
    "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━╇━━━━━╇━━━━━┩",
    "│              probe: commit showing it │     2 │ 2.0 │ 2.0 │ 2.0 │",
    "│ probe: poll that saw it (every 0.5 s) │     2 │ 2.5 │ 2.5 │ 2.5 │",
    "│                         lineage: risk │   900 │ 1.9 │ 2.4 │ 3.0 │",
    "└───────────────────────────────────────┴───────┴─────┴─────┴─────┘",
    "probe and lineage agree (p50 and p95 each within 0.5 s or 20%); 1 probes after warm-up never seen, 1 not "
    "delivered, 1 failed polls",
]


def test_cpu_seconds_are_user_plus_system_ticks_after_the_command_name() -> None:
    # the command holds a space and a parenthesis; utime 1234 and stime 566 clock ticks
    stat = "4242 (java (main) x) S 4200 4242 4200 0 -1 4194560 9000 0 12 0 1234 566 0 0 20 0 42 0 7777 1 1\n"
    assert cpu_seconds(stat, 100) == 18.0


def test_average_cores_take_the_first_and_last_sample_inside_the_window() -> None:
    samples = pd.DataFrame(
        {
            "at_s": [95.0, 100.0, 105.0, 110.0, 115.0, 125.0],
            "jvm_cpu_s": [1.0, 2.0, np.nan, 9.5, 14.0, 30.0],
        }
    )
    assert average_cores(samples, "jvm_cpu_s", 100.0, 120.0) == 0.8  # (14 - 2) / (115 - 100)
    assert average_cores(samples, "jvm_cpu_s", 111.0, 120.0) is None  # one sample
    assert average_cores(pd.DataFrame(), "jvm_cpu_s", 0.0, 1.0) is None


def test_a_query_keeps_up_when_every_minute_after_warmup_but_the_last_processes_95_percent() -> None:
    minutes = pd.DataFrame(
        {
            "query": ["hot"] * 4 + ["windows"] * 4,
            "minute": [0, 1, 2, 3] * 2,
            "minute_start_s": [0.0, 60.0, 120.0, 180.0] * 2,
            # minute 0 is warm-up and minute 3 is cut by the end of producing: neither is judged
            "ratio": [0.5, 0.97, 1.01, 0.6, 0.3, 0.96, 0.94, 0.5],
        }
    )
    assert keep_up(minutes, "hot", 60.0) == (0.97, True)
    assert keep_up(minutes, "windows", 60.0) == (0.94, False)
    assert keep_up(minutes, "bronze", 60.0) == (None, None)
    assert keep_up(minutes, "hot", 150.0) == (None, None)


@pytest.mark.parametrize(
    ("verdicts", "overall"),
    [
        ([True, True, True], True),
        ([True, False, True], False),
        ([True, None, False], False),  # one that does not keep up is enough
        ([True, None], None),  # one could not be judged (a run too short)
        ([], None),
    ],
)
def test_the_run_keeps_up_when_every_query_does(verdicts: list[bool | None], overall: bool | None) -> None:
    assert every_query_keeps_up(verdicts) is overall


def test_the_soak_trend_adds_the_jvm_cores_of_the_first_and_last_five_minutes() -> None:
    batches = pd.DataFrame(
        {"query": ["hot_risk"] * 2, "start_s": [10.0, 650.0], "duration_s": [1.5, 2.5], "state_rows": [100, 120]}
    )
    samples = pd.DataFrame(
        {
            "at_s": [0.0, 300.0, 600.0, 900.0],
            "jvm_mib": [1000.0, 1100.0, 1150.0, 1200.0],
            "python_mib": [200.0, 200.0, 210.0, 210.0],
            "jvm_cpu_s": [0.0, 270.0, 600.0, 930.0],
        }
    )
    assert soak_trend(batches, samples, 0.0, 900.0) == {
        "hot_risk batch p50 s": (1.5, 2.5),
        "hot_risk state rows max": (100.0, 120.0),
        "JVM MiB mean": (1000.0, 1150.0),  # trend's spans leave out their end: [0, 300) and [600, 900)
        "Python MiB mean": (200.0, 210.0),
        "JVM cores": (0.9, 1.1),
    }


def test_the_latency_summary_line() -> None:
    figures = {
        "rate": 5000.0,
        "keeps_up": False,
        "latency_s": {"risk": {"count": 9, "p50": 1.84, "p95": 2.96, "p99": 3.1, "max": 3.2}},
        "jvm_cpu_cores": 1.047,
    }
    assert summary_line(figures) == (
        "at 5,000 events/s: keeps up: no; p95 Kafka -> gold.portfolio_risk 3.0 s (p50 1.8 s); JVM CPU 1.05 cores"
    )


# ------------------------------------------------------------------------------- the replay benchmark


def test_the_replay_runs_the_jobs_of_run_all_in_its_order() -> None:
    assert tuple(stage.name for stage in STAGES) == ALL
    assert [stage.name for stage in STAGES if stage.on_path] == ["hot"]


def test_job_times_come_from_the_run_commands_lines() -> None:
    lines = [
        (0.5, "some log line"),
        (21.0, "run bronze: starting (available_now)"),
        (30.5, "run bronze: done in 9.4s (4 micro-batches)"),
        (30.6, "run hot: starting (available_now)"),
        (52.0, "run hot: done in 21.3s (2 micro-batches)"),
        (52.1, "run windows: starting (available_now)"),
        (55.0, "  run windows: done in 2.9s (2 micro-batches)"),  # not at the line's start: not a job line
    ]
    assert job_times(lines) == {"bronze": (21.0, 30.5), "hot": (30.6, 52.0), "windows": (52.1, None)}


def _replay_progress(name: str, batch: int, rows: int, state_rows: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "id": f"{name}-id",
        "runId": f"{name}-run",
        "batchId": batch,
        "timestamp": "2026-03-02T09:30:00.000Z",
        "numInputRows": rows,
        "durationMs": {"triggerExecution": 1000},
        "stateOperators": [{"numRowsTotal": state_rows, "memoryUsedBytes": 2048}] if state_rows else [],
        "eventTime": {"watermark": "2026-03-02T09:20:00.000Z"},
    }


def test_a_rounds_figures_come_from_the_replays_lines_samples_and_progress() -> None:
    replay = Replay(
        lines=[
            (20.0, "run hot: starting (available_now)"),
            (35.0, "run hot: done in 15.0s (1 micro-batches)"),
            (35.0, "run bronze: starting (available_now)"),
            (45.0, "run bronze: done in 10.0s (2 micro-batches)"),
            (45.0, "run windows: starting (available_now)"),
            (50.0, "run windows: done in 5.0s (2 micro-batches)"),
        ],
        samples=[
            {"at_s": 1000.0, "python_mib": 150.0, "jvm_mib": None, "jvm_cpu_s": None},
            {"at_s": 1010.0, "python_mib": 210.0, "jvm_mib": 900.0, "jvm_cpu_s": 4.0},
            {"at_s": 1050.0, "python_mib": 200.0, "jvm_mib": 1400.04, "jvm_cpu_s": 52.0},
        ],
    )
    progresses = [
        _replay_progress("bronze_trade_events", 0, 6000),
        _replay_progress("bronze_price_ticks", 0, 0),
        _replay_progress("hot_risk", 0, 6000, state_rows=5800),
        _replay_progress("gold_portfolio_risk_1m", 0, 5700, state_rows=40),
        _replay_progress("gold_exposure_by_asset_class_5m", 0, 5700, state_rows=12),
    ]
    base = RoundFigures(1, 6000, 1.5, "2026-03-02T09:00:00.000Z", "2026-03-02T09:29:59.000Z")
    figures, stages, state, splits = round_figures(base, replay, progresses)
    assert figures == RoundFigures(
        1,
        6000,
        1.5,
        "2026-03-02T09:00:00.000Z",
        "2026-03-02T09:29:59.000Z",
        startup_s=20.0,
        end_to_end_s=35.0,
        end_to_end_per_s=6000 / 35.0,
        jvm_cpu_cores=1.2,  # (52 - 4) / (1050 - 1010)
        python_peak_rss_mib=210.0,
        jvm_peak_rss_mib=1400.0,
    )
    assert stages == [
        StageFigures(1, "hot", True, 6000, 1, 15.0, 400.0),
        StageFigures(1, "bronze", False, 6000, 1, 10.0, 600.0),
        StageFigures(1, "windows", False, 5700, 1, 5.0, 1140.0),
    ]
    assert state == [
        StateFigures(1, "hot_risk", 5800, 2048, "2026-03-02T09:20:00.000Z"),
        StateFigures(1, "gold_portfolio_risk_1m", 40, 2048, "2026-03-02T09:20:00.000Z"),
        StateFigures(1, "gold_exposure_by_asset_class_5m", 12, 2048, "2026-03-02T09:20:00.000Z"),
    ]
    assert [split.query for _, split in splits] == [
        "hot_risk",
        "bronze_trade_events",
        "bronze_price_ticks",
        "gold_portfolio_risk_1m",
        "gold_exposure_by_asset_class_5m",
    ]
    pipeline = PipelineFigures({}, {}, [figures], stages, state, kafka_ceiling={"per_s": 40_000.0})
    assert summary_lines(pipeline) == [
        "end to end, round 1 (start-up + hot): 6,000 events in 35.0 s = 171 events/s; plain consumer "
        "40,000 records/s; end to end / plain consumer 0.4 %",
        "window queries, round 1 (off the path, after the hot query): 5.0 s",
    ]
