"""The hot query's book (transformations/book.py) and its data-quality row, on hand-written frames.

Pure pandas, no Spark: ties between marks are broken the same way inside one batch and across two,
and every position is valued at its instrument's one firm mark.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest

from transformations import book
from transformations.quality import quality_row

T = datetime(2026, 12, 7, 10, 0, 0)


def _trades(*rows: tuple[str, str, str, float, datetime]) -> pd.DataFrame:
    """(event_id, portfolio_id, instrument_id, price, trade_ts) NEW buys of 10 in USD books."""
    return pd.DataFrame(
        [
            {
                "event_id": event_id,
                "event_type": "NEW",
                "trade_id": f"T-{event_id}",
                "portfolio_id": portfolio_id,
                "instrument_id": instrument_id,
                "side": "BUY",
                "price": price,
                "trade_ts": trade_ts,
                "delta_quantity": Decimal("10.00000000"),
                "delta_cost_base": 10 * price,
                "notional_base": 10 * price,
                "fx_rate_to_base": 1.0,
                "reference_price": 80.0,
                "multiplier": 1.0,
                "desk": "equities",
                "asset_class": "equity",
                "sector": "technology",
                "base_currency": "USD",
                "instrument_currency": "USD",
                "arrived_late": False,
            }
            for event_id, portfolio_id, instrument_id, price, trade_ts in rows
        ],
        columns=book.TRADE_INPUT_COLUMNS,
    )


def _ticks(*rows: tuple[str, str, float, datetime, int]) -> pd.DataFrame:
    """(tick_id, instrument_id, price, tick_ts, sequence) PRICE ticks."""
    return pd.DataFrame(
        [
            {"tick_id": tick_id, "tick_type": "PRICE", "instrument_id": i, "price": p, "tick_ts": ts, "sequence": s}
            for tick_id, i, p, ts, s in rows
        ],
        columns=book.TICK_INPUT_COLUMNS,
    )


def _marks_after(batches: list[tuple[pd.DataFrame, pd.DataFrame]]) -> list[tuple[str, float, str]]:
    marks = book.empty(book.BOOK_MARK_COLUMNS)
    for batch_id, (trades, ticks) in enumerate(batches):
        marks, _ = book.update_marks(marks, book.mark_candidates(trades, ticks), batch_id)
    return [(row.id, row.price, row.source) for row in marks.itertuples()]


SAME_INSTANT = _trades(("e-1", "P-1", "XYZ", 45.9, T), ("e-2", "P-2", "XYZ", 45.1, T))


@pytest.mark.parametrize(
    "batches",
    [
        [(SAME_INSTANT, _ticks())],
        [(SAME_INSTANT.iloc[[0]], _ticks()), (SAME_INSTANT.iloc[[1]], _ticks())],
        [(SAME_INSTANT.iloc[[1]], _ticks()), (SAME_INSTANT.iloc[[0]], _ticks())],
    ],
    ids=["one batch", "e-1 first", "e-2 first"],
)
def test_two_trades_at_one_instant_mark_by_event_id_in_any_batching(
    batches: list[tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    assert _marks_after(batches) == [("XYZ", 45.1, "trade")]


@pytest.mark.parametrize("tick_first", [True, False])
def test_a_tick_beats_a_trade_at_the_same_instant_in_either_batch(tick_first: bool) -> None:
    trade = (_trades(("e-1", "P-1", "XYZ", 81.0, T)), _ticks())
    tick = (_trades(), _ticks(("k-1", "XYZ", 81.5, T, 1)))
    assert _marks_after([tick, trade] if tick_first else [trade, tick]) == [("XYZ", 81.5, "tick")]
    assert _marks_after([(trade[0], tick[1])]) == [("XYZ", 81.5, "tick")]


def test_every_position_is_valued_at_its_instruments_one_firm_mark() -> None:
    """A USD book buys at 81.5 after a EUR book bought at 81.0 at the same instant; a tick at that instant
    says 81.25: both books hold the instrument at 81.25 (EUR book: at 1/1.1 EUR per USD)."""
    trades = _trades(("e-1", "P-EUR", "XYZ", 81.0, T), ("e-2", "P-USD", "XYZ", 81.5, T))
    trades.loc[0, ["base_currency", "fx_rate_to_base"]] = ["EUR", 1 / 1.1]
    reference = book.Reference(
        {"USD": 1.0, "EUR": 1.1},
        pd.DataFrame({"instrument_id": ["XYZ"], "daily_vol": [0.02], "reference_price": [80.0]}),
        pd.DataFrame(
            {
                "portfolio_id": ["P-EUR", "P-USD"],
                "gross_limit": [1e9, 1e9],
                "var_limit": [1e9, 1e9],
                "single_trade_limit": [None, None],
                "stress_loss_limit": [None, None],
            }
        ),
    )
    marks, _ = book.update_marks(
        book.empty(book.BOOK_MARK_COLUMNS), book.mark_candidates(trades, _ticks(("k-1", "XYZ", 81.25, T, 1))), 0
    )
    positions = book.remark(
        book.apply_deltas(book.Book.new().positions, book.position_deltas(trades)), marks, reference
    )
    valued = {row.portfolio_id: (row.last_price, row.market_value_base) for row in positions.itertuples()}
    assert valued == {"P-EUR": (81.25, pytest.approx(10 * 81.25 / 1.1, rel=1e-12)), "P-USD": (81.25, 812.5)}


def test_the_data_quality_row_counts_what_the_batch_collected() -> None:
    accepted = pd.DataFrame({"trade_ts": [T, T.replace(minute=5)], "arrived_late": [True, False]})
    rejected = [["malformed_json"], ["unknown_portfolio", "missing_fx_rate"], ["unknown_portfolio"]]
    assert quality_row("hot_risk", 7, accepted, rejected, T) == {
        "query_name": "hot_risk",
        "batch_id": 7,
        "processed_ts": T,
        "rows_in": 5,
        "accepted": 2,
        "quarantined": 3,
        "quarantined_by_reason": {"malformed_json": 1, "missing_fx_rate": 1, "unknown_portfolio": 2},
        "accepted_late": 1,
        "min_trade_ts": T,
        "max_trade_ts": T.replace(minute=5),
    }
    assert quality_row("hot_risk", 8, accepted.iloc[:0], [], T) is None
