"""The gold snapshot flusher (:mod:`jobs.hot_flush`) on real Delta tables: what it writes, coalesced, and
after a restart from a saved book's outbox, nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs.gold import GOLD_TABLES
from jobs.hot import create_hot_tables
from jobs.hot_flush import GoldFlusher, quality_frame, quality_rows
from jobs.silver import last_batch_written
from riskstream.config import Settings
from riskstream.tables import Catalog
from transformations import book

pytestmark = pytest.mark.spark

WRITER = "hot_risk:q-flush"
DAY = date(2026, 12, 7)
AT = datetime(2026, 12, 7, 9, 30)


def _position(instrument_id: str, quantity: str, batch_id: int) -> dict[str, Any]:
    return {
        "portfolio_id": "P-001",
        "instrument_id": instrument_id,
        "desk": "EQ",
        "asset_class": "equity",
        "sector": "tech",
        "base_currency": "USD",
        "instrument_currency": "USD",
        "multiplier": 1.0,
        "fx_rate_to_base": 1.0,
        "net_quantity": Decimal(quantity),
        "cost_basis_base": 100.0,
        "average_cost_base": 10.0,
        "last_price": 10.5,
        "last_price_ts": AT,
        "market_value_base": 105.0,
        "applied_batch_id": batch_id,
    }


def _mark(instrument_id: str, price: float, batch_id: int) -> dict[str, Any]:
    return {
        "mark_type": "instrument",
        "id": instrument_id,
        "price": price,
        "mark_ts": AT,
        "sequence": -1,
        "source": "trade",
        "applied_batch_id": batch_id,
    }


def _pnl(instrument_id: str, day: date, total: float, batch_id: int) -> dict[str, Any]:
    zero = Decimal("0")
    return {
        "portfolio_id": "P-001",
        "instrument_id": instrument_id,
        "trading_date": day,
        "base_currency": "USD",
        "net_quantity": Decimal("10"),
        "last_price": 10.5,
        "fx_rate_to_base": 1.0,
        "market_value_base": 105.0,
        "sod_net_quantity": zero,
        "sod_market_value_base": 0.0,
        "day_buy_quantity": Decimal("10"),
        "day_buy_cost_base": 100.0,
        "day_sell_quantity": zero,
        "day_sell_proceeds_base": 0.0,
        "realized_pnl_base": 0.0,
        "unrealized_pnl_base": total,
        "total_pnl_base": total,
        "applied_batch_id": batch_id,
    }


def _alert(rule: str, measured: float) -> dict[str, Any]:
    return {
        "alert_id": f"a-{rule}",
        "portfolio_id": "P-001",
        "rule": rule,
        "window_start": AT,
        "window_end": datetime(2026, 12, 7, 9, 31),
        "measured_value": measured,
        "limit_value": 100.0,
        "utilisation": measured / 100.0,
        "trade_id": "T-1",
        "last_trade_ts": AT,
    }


def _quality(batch_id: int, accepted: int) -> dict[str, object]:
    return {
        "query_name": "hot_risk",
        "batch_id": batch_id,
        "processed_ts": AT,
        "rows_in": accepted + 1,
        "accepted": accepted,
        "quarantined": 1,
        "quarantined_by_reason": {"duplicate": 1},
        "accepted_late": 0,
        "min_trade_ts": AT,
        "max_trade_ts": None,
    }


def _book(positions: list[dict[str, Any]], marks: list[dict[str, Any]], pnl: list[dict[str, Any]], batch: int) -> Any:
    return book.Book(
        pd.DataFrame(positions, columns=book.POSITION_COLUMNS),
        pd.DataFrame(marks),
        pd.DataFrame(pnl, columns=book.PNL_COLUMNS),
        batch,
    )


def _rows(spark: SparkSession, catalog: Catalog, layer: str, name: str, order: list[str]) -> list[dict[str, Any]]:
    return [row.asDict() for row in catalog.table(layer, name).read(spark).orderBy(*order).collect()]


def _flusher(spark: SparkSession, catalog: Catalog) -> GoldFlusher:
    tables = {name: catalog.table("gold", name) for name in GOLD_TABLES}
    return GoldFlusher(spark, WRITER, tables, catalog.table("ops", "data_quality"), interval_s=5.0)


def test_batches_handed_over_are_written_once_coalesced_and_again_idempotently_after_a_restart(
    spark: SparkSession, make_settings: Callable[..., Settings]
) -> None:
    catalog = Catalog(make_settings())
    create_hot_tables(spark, catalog)
    first = _book(
        [_position("I1", "10", 0)],
        [_mark("I1", 10.5, 0)],
        [_pnl("I1", DAY, 5.0, 0), _pnl("I2", date(2026, 12, 4), 1.0, 0)],
        0,
    )
    second = _book(
        [_position("I1", "10", 0), _position("I2", "3", 1)],
        [_mark("I1", 10.5, 0), _mark("I2", 20.0, 1)],
        [_pnl("I1", DAY, 7.0, 1), _pnl("I2", date(2026, 12, 4), 1.0, 0)],
        1,
    )
    alerts_0 = pd.DataFrame([_alert("gross_limit", 120.0)], columns=book.ALERT_COLUMNS)
    alerts_1 = pd.DataFrame([_alert("gross_limit", 130.0), _alert("var_limit", 110.0)], columns=book.ALERT_COLUMNS)

    flusher = _flusher(spark, catalog)
    flusher.submit(first, positions=True, marks=True, pnl_dates={DAY}, alerts=alerts_0, quality=[_quality(0, 4)])
    flusher.submit(second, positions=True, marks=True, pnl_dates={DAY}, alerts=alerts_1, quality=[_quality(1, 6)])
    flusher.close()

    def written() -> dict[str, list[dict[str, Any]]]:
        return {
            "positions": _rows(spark, catalog, "gold", "positions", ["instrument_id"]),
            "marks": _rows(spark, catalog, "gold", "marks", ["id"]),
            "pnl": _rows(spark, catalog, "gold", "pnl", ["instrument_id"]),
            "alerts": _rows(spark, catalog, "gold", "risk_alerts", ["rule"]),
            "quality": _rows(spark, catalog, "ops", "data_quality", ["batch_id"]),
        }

    after = written()
    assert after["positions"] == [_position("I1", "10.00000000", 0), _position("I2", "3.00000000", 1)]
    assert after["marks"] == [_mark("I1", 10.5, 0), _mark("I2", 20.0, 1)]
    # only the trading day handed over is replaced: the 4 December row was never submitted
    assert [(row["instrument_id"], row["trading_date"], row["total_pnl_base"]) for row in after["pnl"]] == [
        ("I1", DAY, 7.0)
    ]
    # the later breach of a key replaces the earlier one
    assert [(row["rule"], row["measured_value"]) for row in after["alerts"]] == [
        ("gross_limit", 130.0),
        ("var_limit", 110.0),
    ]
    assert [(row["batch_id"], row["accepted"], row["quarantined_by_reason"]) for row in after["quality"]] == [
        (0, 4, {"duplicate": 1}),
        (1, 6, {"duplicate": 1}),
    ]
    assert last_batch_written(spark, catalog.table("ops", "data_quality"), f"{WRITER}:data_quality") == 1

    # a restart from the book saved after batch 1, whose outbox still held batch 1's alerts and quality row
    # (the flush had not been confirmed when the book was saved): the same tables, nothing twice
    outbox_quality = quality_rows(quality_frame([_quality(1, 6)]))
    assert outbox_quality == [{**_quality(1, 6), "processed_ts": pd.Timestamp(AT), "min_trade_ts": pd.Timestamp(AT)}]
    restarted = _flusher(spark, catalog)
    restarted.restore(second, alerts_1, outbox_quality)
    restarted.close()
    again = written()
    assert again["positions"] == after["positions"]
    assert again["marks"] == after["marks"]
    # every trading day the book holds is rewritten on a restart
    assert [(row["instrument_id"], row["trading_date"]) for row in again["pnl"]] == [
        ("I1", DAY),
        ("I2", date(2026, 12, 4)),
    ]
    assert again["alerts"] == after["alerts"]
    assert again["quality"] == after["quality"]


def test_a_failed_flush_is_raised_to_the_stream_and_keeps_its_rows_in_the_outbox(
    spark: SparkSession, make_settings: Callable[..., Settings]
) -> None:
    catalog = Catalog(make_settings())
    create_hot_tables(spark, catalog)
    broken = _book([_position("I1", "10", 0)], [{"unexpected": 1}], [], 0)
    alerts = pd.DataFrame([_alert("gross_limit", 120.0)], columns=book.ALERT_COLUMNS)
    flusher = _flusher(spark, catalog)
    flusher.submit(broken, positions=True, marks=True, pnl_dates=set(), alerts=alerts, quality=[_quality(0, 1)])
    with pytest.raises(Exception, match="writing the gold snapshots failed"):
        flusher.close()
    outbox_alerts, outbox_quality = flusher.outbox()
    assert outbox_alerts.to_dict("records") == alerts.to_dict("records")
    assert outbox_quality == [_quality(0, 1)]
    assert catalog.table("ops", "data_quality").read(spark).count() == 0
