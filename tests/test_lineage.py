"""Latency by lineage (riskstream.lineage), on hand-written tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskstream.lineage import GoldBatch, batch_commit_times, covered_version, event_times, percentiles


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
