"""Latency by lineage (riskstream.lineage), on hand-written tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs import hot
from jobs.silver import batch_marker
from riskstream import lineage
from riskstream.errors import PipelineError
from riskstream.lineage import (
    GoldBatch,
    batch_commit_times,
    covered_version,
    event_times,
    first_commit_from,
    gold_batch,
    hot_batch,
    hot_batch_commits,
    hot_event_times,
    hot_tick_times,
    percentiles,
    source_offsets,
    tick_times,
)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ({"reservoirVersion": 5, "index": -1, "isStartingVersion": False}, 4),
        ({"reservoirVersion": 5, "index": 3, "isStartingVersion": False}, 5),
        ({"reservoirVersion": 0, "index": -1, "isStartingVersion": True}, -1),
    ],
)
def test_a_delta_source_offset_covers_the_versions_before_it(offset: dict[str, object], expected: int) -> None:
    assert covered_version(offset) == expected


def test_a_source_without_an_offset_covers_no_version() -> None:
    assert covered_version(None) == -1


METADATA = (
    '{"batchWatermarkMs":0,"batchTimestampMs":1764547262000,'
    '"conf":{"spark.sql.shuffle.partitions":"2","spark.sql.streaming.stateStore.providerClass":'
    '"org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"}}'
)
TRADES_OFFSET = (
    '{"sourceVersion":1,"reservoirId":"3f1c2a4e-0b7d-4c55-9a51-0d2f4e8b6a10",'
    '"reservoirVersion":7,"index":-1,"isStartingVersion":false}'
)
PRICES_OFFSET = (
    '{"sourceVersion":1,"reservoirId":"8e0a9d3b-5c21-4f6e-b7a4-2c9e1d0f3b57",'
    '"reservoirVersion":4,"index":2,"isStartingVersion":false}'
)


def test_the_offsets_file_holds_one_offset_per_source_in_source_order() -> None:
    assert source_offsets("\n".join(["v1", METADATA, TRADES_OFFSET, PRICES_OFFSET])) == [
        {
            "sourceVersion": 1,
            "reservoirId": "3f1c2a4e-0b7d-4c55-9a51-0d2f4e8b6a10",
            "reservoirVersion": 7,
            "index": -1,
            "isStartingVersion": False,
        },
        {
            "sourceVersion": 1,
            "reservoirId": "8e0a9d3b-5c21-4f6e-b7a4-2c9e1d0f3b57",
            "reservoirVersion": 4,
            "index": 2,
            "isStartingVersion": False,
        },
    ]
    assert source_offsets("\n".join(["v1", METADATA, TRADES_OFFSET, "-"]))[1] is None


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # silver.trades first (read up to version 6), silver.prices second (read into version 4)
        (["v1", METADATA, TRADES_OFFSET, PRICES_OFFSET], GoldBatch(3, 6, 150.0, prices_covered_version=4)),
        # no tick in silver.prices yet when the batch was planned: "-" for that source
        (["v1", METADATA, TRADES_OFFSET, "-"], GoldBatch(3, 6, 150.0, prices_covered_version=-1)),
        # ticks only so far
        (["v1", METADATA, "-", PRICES_OFFSET], GoldBatch(3, -1, 150.0, prices_covered_version=4)),
        # a batch from before gold_positions read silver.prices: one source, no tick read
        (["v1", METADATA, TRADES_OFFSET], GoldBatch(3, 6, 150.0, prices_covered_version=-1)),
    ],
)
def test_a_gold_batch_reads_silver_trades_from_the_first_source_and_silver_prices_from_the_second(
    lines: list[str], expected: GoldBatch
) -> None:
    assert gold_batch(3, "\n".join(lines) + "\n", 150.0) == expected


def test_an_offsets_file_without_a_source_line_is_refused() -> None:
    with pytest.raises(PipelineError, match="not a streaming checkpoint offsets file"):
        source_offsets("v1\n" + METADATA)


BATCHES = [  # given out of order on purpose
    GoldBatch(batch_id=2, covered_version=4, finished_s=120.0),
    GoldBatch(batch_id=0, covered_version=1, finished_s=100.0),
    GoldBatch(batch_id=1, covered_version=2, finished_s=110.0),
]
RISK_COMMITS = np.array([118.0, 98.0, 108.0])
POSITION_COMMITS = np.array([97.0, 97.5, 107.0, 117.0])


def test_each_gold_batch_gets_the_risk_commit_after_the_previous_batch_and_the_positions_commit_before_it() -> None:
    ordered = sorted(BATCHES, key=lambda batch: batch.batch_id)
    expected = pd.DataFrame(
        {
            "gold_batch": [0, 1, 2],
            "covered_version": [1, 2, 4],
            "risk_s": [98.0, 108.0, 118.0],
            "positions_s": [97.5, 107.0, 117.0],
        }
    )
    pd.testing.assert_frame_equal(batch_commit_times(ordered, RISK_COMMITS, POSITION_COMMITS), expected)


def test_a_batch_that_committed_no_risk_before_it_finished_has_none() -> None:
    ordered = [GoldBatch(0, 1, 100.0), GoldBatch(1, 2, 110.0)]
    got = batch_commit_times(ordered, np.array([98.0, 111.0]), np.array([97.0]))
    assert got["risk_s"].tolist()[0] == 98.0
    assert np.isnan(got["risk_s"].tolist()[1]) and np.isnan(got["positions_s"].tolist()[1])


def test_events_are_credited_to_the_gold_batch_that_read_their_silver_version() -> None:
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "portfolio_id": ["P2", "P1", "P1", "P3"],
            "sent_s": [90.0, 96.0, 101.0, 119.0],
            "bronze_s": [92.0, 99.0, 102.5, 121.0],
            "silver_s": [95.0, 100.0, 104.0, 123.0],
            "silver_version": [1, 2, 3, 5],
        }
    )
    # P1 alerted by batch 1 (twice: the first record counts) and batch 2; P2 by batch 0.
    alerts = pd.DataFrame({"portfolio_id": ["P1", "P1", "P2", "P1"], "published_s": [109.0, 108.5, 99.0, 118.25]})
    got = event_times(events, BATCHES, RISK_COMMITS, POSITION_COMMITS, alerts)
    expected = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "portfolio_id": ["P2", "P1", "P1", "P3"],
            "sent_s": [90.0, 96.0, 101.0, 119.0],
            "gold_batch": [0.0, 1.0, 2.0, np.nan],
            "bronze": [2.0, 3.0, 1.5, 2.0],
            "silver": [5.0, 4.0, 3.0, 4.0],
            "positions": [7.5, 11.0, 16.0, np.nan],
            # e3 reached silver at 104, before batch 1's risk commit at 108, but batch 1 read only up to
            # version 2: its risk is batch 2's commit at 118, not 108.
            "risk": [8.0, 12.0, 17.0, np.nan],
            "alert": [9.0, 12.5, 17.25, np.nan],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


# Batch 1 read only ticks and batch 2 only trades (the other source's offset did not move).
TICK_BATCHES = [  # given out of order on purpose
    GoldBatch(batch_id=3, covered_version=3, finished_s=130.0, prices_covered_version=4),
    GoldBatch(batch_id=1, covered_version=1, finished_s=110.0, prices_covered_version=2),
    GoldBatch(batch_id=0, covered_version=1, finished_s=100.0, prices_covered_version=-1),
    GoldBatch(batch_id=2, covered_version=3, finished_s=120.0, prices_covered_version=2),
]
TICK_RISK_COMMITS = np.array([98.0, 108.0, 118.0, 128.0])
TICK_POSITION_COMMITS = np.array([97.5, 107.0, 117.0, 126.5, 127.0])


def test_ticks_are_credited_to_the_gold_batch_whose_prices_offset_covers_their_silver_version() -> None:
    ticks = pd.DataFrame(
        {
            "tick_id": ["t1", "t2", "t3", "t4"],
            "instrument_id": ["AAPL", "EUR", "AAPL", "MSFT"],
            "sent_s": [101.0, 102.0, 111.0, 125.0],
            "bronze_s": [102.0, 103.5, 113.0, 126.0],
            "silver_s": [104.0, 105.0, 115.0, 127.0],
            "silver_version": [1, 2, 3, 5],
        }
    )
    got = tick_times(ticks, TICK_BATCHES, TICK_RISK_COMMITS, TICK_POSITION_COMMITS)
    expected = pd.DataFrame(
        {
            "tick_id": ["t1", "t2", "t3", "t4"],
            "instrument_id": ["AAPL", "EUR", "AAPL", "MSFT"],
            "sent_s": [101.0, 102.0, 111.0, 125.0],
            "gold_batch": [1.0, 1.0, 3.0, np.nan],
            "bronze": [1.0, 1.5, 2.0, 1.0],
            "silver": [3.0, 3.0, 4.0, 2.0],
            # t3 reached silver at 115, before batch 2's risk commit at 118, but batch 2 read no new
            # ticks (its prices offset stayed at version 2): its batch is 3 (positions 127, risk 128).
            "positions": [6.0, 5.0, 16.0, np.nan],
            "risk": [7.0, 6.0, 17.0, np.nan],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_events_are_credited_through_the_trades_offset_alone() -> None:
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "portfolio_id": ["P1", "P2"],
            "sent_s": [96.0, 109.0],
            "bronze_s": [97.0, 110.0],
            "silver_s": [98.0, 112.0],
            "silver_version": [1, 3],
        }
    )
    alerts = pd.DataFrame({"portfolio_id": pd.Series([], dtype=object), "published_s": pd.Series([], dtype=float)})
    got = event_times(events, TICK_BATCHES, TICK_RISK_COMMITS, TICK_POSITION_COMMITS, alerts)
    # e2 (trades version 3) skips batch 1, which read ticks only, and goes to batch 2.
    assert got["gold_batch"].tolist() == [0, 2]
    assert got["risk"].tolist() == [2.0, 9.0]
    assert got["positions"].tolist() == [1.5, 8.0]


def test_percentiles_leave_out_events_that_did_not_reach_the_stage() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    assert percentiles(values) == {
        "count": 4,
        "p50": 2.5,
        "p95": pytest.approx(3.85),
        "p99": pytest.approx(3.97),
        "max": 4.0,
    }
    assert percentiles(np.array([np.nan])) == {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}


# ------------------------------------------------------------------------------ the hot structure


@pytest.mark.parametrize(
    ("user_metadata", "expected"),
    [
        ("hot_risk:q1:trades#batch=7", ("q1", 7)),  # an append
        ("hot_risk:q1#batch=12", ("q1", 12)),  # an overwrite
        ("silver_trades:q1:trades#batch=7", None),  # the layered silver job
        ("hot_risk:q1:trades#batch=x", None),
        ("hot_risk:q1:trades:extra#batch=7", None),
        ("hot_risk:#batch=7", None),
        ("hot_risk:q1:trades", None),
        ("", None),
        (None, None),
    ],
)
def test_a_hot_commit_names_its_query_and_batch_in_its_user_metadata(
    user_metadata: str | None, expected: tuple[str, int] | None
) -> None:
    assert hot_batch(user_metadata) == expected


def test_the_hot_markers_read_are_the_ones_the_hot_query_writes() -> None:
    assert lineage.HOT_QUERY == hot.QUERY_NAME
    assert hot_batch(batch_marker(f"{hot.QUERY_NAME}:0b6e7c1a-query:trades", 41)) == ("0b6e7c1a-query", 41)
    assert hot_batch(batch_marker(f"{hot.QUERY_NAME}:0b6e7c1a-query", 41)) == ("0b6e7c1a-query", 41)


# Commits of gold.portfolio_risk and gold.positions: the table's creation, a batch of an earlier checkpoint
# (query q0), batch 5 of q1 committed twice (re-run after a crash: the first counts), batch 6 wrote positions
# but no risk (only ticks of an instrument no portfolio holds), batch 8 had not committed when the run stopped.
HOT_RISK_COMMITS = pd.DataFrame(
    {
        "commit_s": [90.0, 50.0, 100.0, 111.5, 110.0, 130.0],
        "user_metadata": [
            None,
            "hot_risk:q0#batch=4",
            "hot_risk:q1#batch=4",
            "hot_risk:q1#batch=5",
            "hot_risk:q1#batch=5",
            "hot_risk:q1#batch=7",
        ],
    }
)
HOT_POSITION_COMMITS = pd.DataFrame(
    {
        "commit_s": [90.0, 50.25, 100.75, 110.5, 120.25, 130.25],
        "user_metadata": [
            None,
            "hot_risk:q0#batch=4",
            "hot_risk:q1#batch=4",
            "hot_risk:q1#batch=5",
            "hot_risk:q1#batch=6",
            "hot_risk:q1#batch=7",
        ],
    }
)


def test_a_hot_batch_is_timed_by_its_first_commit_per_query_id() -> None:
    expected = pd.DataFrame(
        {"query_id": ["q0", "q1", "q1", "q1"], "hot_batch": [4.0, 4.0, 5.0, 7.0], "risk_s": [50.0, 100.0, 110.0, 130.0]}
    )
    pd.testing.assert_frame_equal(hot_batch_commits(HOT_RISK_COMMITS, "risk_s"), expected)


def test_hot_events_are_credited_to_the_gold_commits_of_their_silver_commits_batch() -> None:
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
            "portfolio_id": ["P1", "P2", "P1", "P1", "P3", "P2"],
            "sent_s": [97.0, 98.0, 107.0, 127.5, 135.0, 120.0],
            # bronze runs beside the hot query: after silver here, and not yet for e4 and e5
            "bronze_s": [104.0, 104.0, 114.0, np.nan, np.nan, 122.0],
            "silver_s": [99.5, 99.5, 109.5, 129.5, 138.25, 121.0],
            "silver_metadata": [
                "hot_risk:q1:trades#batch=4",
                "hot_risk:q1:trades#batch=4",
                "hot_risk:q1:trades#batch=5",
                "hot_risk:q1:trades#batch=7",
                "hot_risk:q1:trades#batch=8",
                "silver_trades:q9:trades#batch=3",  # written by the layered silver job: no hot batch
            ],
        }
    )
    alerts = pd.DataFrame(
        {
            # P2 at 99 comes after q0's batch 4 risk commit (50) and before q1's (100): q0's, not e2's.
            # P3 at 131.5 is batch 7's, and e5 is in batch 8.
            "portfolio_id": ["P1", "P1", "P2", "P1", "P1", "P3"],
            "published_s": [101.25, 100.75, 99.0, 112.0, 131.0, 131.5],
        }
    )
    got = hot_event_times(events, HOT_RISK_COMMITS, HOT_POSITION_COMMITS, alerts)
    expected = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
            "portfolio_id": ["P1", "P2", "P1", "P1", "P3", "P2"],
            "sent_s": [97.0, 98.0, 107.0, 127.5, 135.0, 120.0],
            "query_id": ["q1", "q1", "q1", "q1", "q1", None],
            "hot_batch": [4.0, 4.0, 5.0, 7.0, 8.0, np.nan],
            "bronze": [7.0, 6.0, 7.0, np.nan, np.nan, 2.0],
            "silver": [2.5, 1.5, 2.5, 2.0, 3.25, 1.0],
            "positions": [3.75, 2.75, 3.5, 2.75, np.nan, np.nan],
            "risk": [3.0, 2.0, 3.0, 2.5, np.nan, np.nan],
            "alert": [3.75, np.nan, 5.0, 3.5, np.nan, np.nan],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_hot_ticks_are_credited_to_the_gold_commits_of_their_silver_prices_commits_batch() -> None:
    ticks = pd.DataFrame(
        {
            "tick_id": ["t1", "t2", "t3"],
            "instrument_id": ["AAPL", "EUR", "MSFT"],
            "sent_s": [108.0, 118.0, 128.0],
            "bronze_s": [115.0, 119.0, np.nan],
            "silver_s": [109.5, 120.0, 129.5],
            "silver_metadata": [
                "hot_risk:q1:prices#batch=5",
                "hot_risk:q1:prices#batch=6",
                "hot_risk:q1:prices#batch=7",
            ],
        }
    )
    got = hot_tick_times(ticks, HOT_RISK_COMMITS, HOT_POSITION_COMMITS)
    expected = pd.DataFrame(
        {
            "tick_id": ["t1", "t2", "t3"],
            "instrument_id": ["AAPL", "EUR", "MSFT"],
            "sent_s": [108.0, 118.0, 128.0],
            "query_id": ["q1", "q1", "q1"],
            "hot_batch": [5.0, 6.0, 7.0],
            "bronze": [7.0, 1.0, np.nan],
            "silver": [1.5, 2.0, 1.5],
            # batch 6 moved a mark no portfolio holds: positions were rewritten, risk was not
            "positions": [2.5, 2.25, 2.25],
            "risk": [2.0, np.nan, 2.0],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_hot_events_before_any_risk_commit_have_no_positions_risk_or_alert_time() -> None:
    """A run stopped before the hot query's first gold commit (demo --follow stopped early): no commit carries
    a marker yet, and the events silver holds get NaN for the stages after silver."""
    no_commits = pd.DataFrame({"commit_s": pd.Series(dtype=float), "user_metadata": pd.Series(dtype=object)})
    rows = pd.DataFrame(
        {
            "event_id": ["e-1"],
            "portfolio_id": ["P-001"],
            "sent_s": [1.0],
            "bronze_s": [2.0],
            "silver_s": [3.5],
            "silver_metadata": ["hot_risk:q-1:trades#batch=0"],
        }
    )
    out = lineage.hot_event_times(rows, no_commits, no_commits, pd.DataFrame(columns=["portfolio_id", "published_s"]))
    assert out.to_dict("records") == [
        {
            "event_id": "e-1",
            "portfolio_id": "P-001",
            "sent_s": 1.0,
            "query_id": "q-1",
            "hot_batch": 0.0,
            "bronze": 1.0,
            "silver": 2.5,
            "positions": pytest.approx(float("nan"), nan_ok=True),
            "risk": pytest.approx(float("nan"), nan_ok=True),
            "alert": pytest.approx(float("nan"), nan_ok=True),
        }
    ]


def test_positions_are_credited_to_the_first_flush_at_or_after_the_batch() -> None:
    """The gold snapshot flusher writes gold.positions once for several batches, marked with the newest: an
    event of batch 5 is in the flush marked 6 (the first at or after 5), of another query id in none."""
    flushes = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q1", "q2"],
            "hot_batch": [3.0, 6.0, 9.0, 5.0],
            "positions_s": [10.0, 20.0, 30.0, 15.0],
        }
    )
    rows = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q1", "q1", "q1", "q3", None],
            "hot_batch": [3.0, 4.0, 6.0, 7.0, 10.0, 5.0, np.nan],
        }
    )
    got = first_commit_from(rows, flushes, "positions_s")
    np.testing.assert_array_equal(got, [10.0, 20.0, 20.0, 30.0, np.nan, np.nan, np.nan])
