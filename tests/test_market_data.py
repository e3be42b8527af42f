"""Market data end to end: trades and price / FX ticks produced to the real local Kafka broker ->
bronze -> silver -> gold (the real jobs, availableNow, three steps), against an independent
computation.

The book (reference data of tests/fixtures/gold): P-EQ-1 (USD) buys AAPL and MSFT, P-FX-2 (EUR) buys
AAPL and the EURUSD future. Step 2 sends ticks only: AAPL quoted as bid/ask, an out-of-order AAPL tick
(older than the one before it, so it must not move the price), a stale AAPL tick (two hours old:
quarantined), MSFT, a JPM tick nobody holds yet and an EUR FX tick. Step 3 sells part of P-EQ-1's
AAPL (realized P&L), buys JPM at a time before JPM's tick (the later tick marks it) and ticks MSFT.
P-FX-2 never trades after step 1: its AAPL moves with the ticks and its USD positions with the EUR
rate.

The expected marks, market values, P&L, VaR and alerts are recomputed here from the events and the
reference CSVs with plain Python and numpy, by the documented rules (transformations/marks.py,
transformations/risk.py), never from the pipeline's own output; floats are compared to a relative
1e-9.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pytest
from pyspark.sql import SparkSession

from riskstream import kafka_broker
from riskstream.config import Settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog
from tests.independent_risk import Held, factor_sigma
from tests.test_gold_pipeline import (
    CONCENTRATION_LIMIT,
    INSTRUMENTS,
    PORTFOLIOS,
    SINGLE_TRADE_LIMIT_SHARE,
    USD_RATES,
    Z99,
    _correlation,
    _write_reference,
)

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

RELATIVE = 1e-9


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@cache
def _base() -> datetime:
    """Every event of the scenario is within 21 s of this minute start: one trading day, one alert
    window, recent enough that no tick is stale by accident. Taken when the test first asks for it."""
    return (_now() - timedelta(minutes=3)).replace(second=0, microsecond=0)


MAX_AGE = "30 minutes"
"""silver.tick_max_age in this test: far from the scenario's ages on a slow machine."""


@dataclass(frozen=True)
class Trade:
    key: str
    trade_id: str
    portfolio_id: str
    instrument_id: str
    side: str
    quantity: float
    price: float
    seconds: float

    @property
    def ts(self) -> datetime:
        return _base() + timedelta(seconds=self.seconds)

    @property
    def event_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"riskstream-market-data/{self.key}"))

    def value(self) -> str:
        return json.dumps(
            {
                "schema_version": 1,
                "event_id": self.event_id,
                "event_type": "NEW",
                "trade_id": self.trade_id,
                "trade_version": 1,
                "portfolio_id": self.portfolio_id,
                "instrument_id": self.instrument_id,
                "side": self.side,
                "quantity": self.quantity,
                "price": self.price,
                "currency": INSTRUMENTS[self.instrument_id]["currency"],
                "trade_ts": _text(self.ts),
                "source_system": "market-data-test",
            }
        )


@dataclass(frozen=True)
class Tick:
    key: str
    tick_type: str
    instrument_id: str
    sequence: int
    seconds: float | None  # None: stale, two hours before it is sent
    price: float | None = None
    bid: float | None = None
    ask: float | None = None

    @property
    def tick_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"riskstream-market-data/{self.key}"))

    @property
    def ts(self) -> datetime:
        return _base() + timedelta(seconds=self.seconds) if self.seconds is not None else _now() - timedelta(hours=2)

    @property
    def mid(self) -> float:
        if self.price is not None:
            return self.price
        assert self.bid is not None and self.ask is not None
        return (self.bid + self.ask) / 2

    def value(self) -> str:
        quote = {"price": self.price} if self.price is not None else {"bid": self.bid, "ask": self.ask}
        currency = "USD" if self.tick_type == "FX" else INSTRUMENTS[self.instrument_id]["currency"]
        return json.dumps(
            {
                "schema_version": 1,
                "tick_id": self.tick_id,
                "tick_type": self.tick_type,
                "instrument_id": self.instrument_id,
                **quote,
                "currency": currency,
                "tick_ts": _text(self.ts),
                "source": "market-data-test",
                "sequence": self.sequence,
            }
        )


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


STEP_1: list[Trade | Tick] = [
    Trade("t1", "MD-1", "P-EQ-1", "AAPL", "BUY", 6000, 190.0, 0),
    Trade("t2", "MD-2", "P-EQ-1", "MSFT", "BUY", 2000, 410.0, 1),
    Trade("t3", "MD-3", "P-FX-2", "AAPL", "BUY", 1000, 191.0, 2),
    Trade("t4", "MD-4", "P-FX-2", "EURUSD", "BUY", 3000, 1.08, 3),
]
STEP_2: list[Trade | Tick] = [
    Tick("k1", "PRICE", "MSFT", 1, 10, price=420.0),
    Tick("k2", "PRICE", "AAPL", 5, 12, bid=199.9, ask=200.1),
    Tick("k3", "PRICE", "AAPL", 4, 11, price=198.0),  # out of order: older than k2, sent after it
    Tick("k4", "PRICE", "AAPL", 2, None, price=150.0),  # stale
    Tick("k5", "FX", "EUR", 1, 13, price=1.10),
    Tick("k6", "PRICE", "JPM", 1, 14, price=205.0),
]
STEP_3: list[Trade | Tick] = [
    Trade("t5", "MD-5", "P-EQ-1", "AAPL", "SELL", 2000, 201.0, 20),
    Trade("t6", "MD-6", "P-EQ-1", "JPM", "BUY", 500, 201.0, 5),  # before JPM's tick k6: the tick marks it
    Tick("k7", "PRICE", "MSFT", 2, 21, price=421.0),
]
STALE = {"k4"}


# ----------------------------------------------------------------------------- the independent model


def _usd(currency: str, ticks: list[Tick]) -> float:
    quotes = [(t.ts, t.sequence, t.mid) for t in ticks if t.tick_type == "FX" and t.instrument_id == currency]
    return max(quotes)[2] if quotes else USD_RATES[currency]


def _reference_fx(portfolio_id: str, instrument_id: str) -> float:
    return USD_RATES[INSTRUMENTS[instrument_id]["currency"]] / USD_RATES[PORTFOLIOS[portfolio_id]["base_currency"]]


def _model(events: list[Trade | Tick]) -> dict[str, Any]:
    """Marks, positions with P&L and risk per portfolio after ``events`` (all of one trading day)."""
    trades = [e for e in events if isinstance(e, Trade)]
    ticks = [e for e in events if isinstance(e, Tick) and e.key not in STALE]
    marks: dict[str, tuple[datetime, int, str, float]] = {}
    for trade in trades:
        candidate = (trade.ts, -1, trade.event_id, trade.price)
        marks[trade.instrument_id] = max(marks.get(trade.instrument_id, candidate), candidate)
    for tick in ticks:
        if tick.tick_type == "PRICE":
            candidate = (tick.ts, tick.sequence, tick.tick_id, tick.mid)
            marks[tick.instrument_id] = max(marks.get(tick.instrument_id, candidate), candidate)
    positions: dict[tuple[str, str], dict[str, float]] = {}
    for trade in trades:
        sign = 1.0 if trade.side == "BUY" else -1.0
        cost = sign * trade.quantity * trade.price * float(INSTRUMENTS[trade.instrument_id]["multiplier"])
        cost *= _reference_fx(trade.portfolio_id, trade.instrument_id)
        position = positions.setdefault(
            (trade.portfolio_id, trade.instrument_id), {"q": 0.0, "qb": 0.0, "cb": 0.0, "qs": 0.0, "ps": 0.0}
        )
        position["q"] += sign * trade.quantity
        if sign > 0:
            position["qb"] += trade.quantity
            position["cb"] += cost
        else:
            position["qs"] += trade.quantity
            position["ps"] -= cost
    for (portfolio_id, instrument_id), position in positions.items():
        instrument = INSTRUMENTS[instrument_id]
        fx = _usd(instrument["currency"], ticks) / _usd(PORTFOLIOS[portfolio_id]["base_currency"], ticks)
        price = marks[instrument_id][3]
        position.update(price=price, fx=fx, mv=position["q"] * price * float(instrument["multiplier"]) * fx)
        closed = min(position["qs"], position["qb"])
        realized = closed * (position["ps"] / position["qs"] - position["cb"] / position["qb"]) if closed > 0 else 0.0
        total = position["mv"] - (position["cb"] - position["ps"])
        position.update(total=total, realized=realized, unrealized=total - realized)
    return {"marks": marks, "positions": positions, "risk": {p: _risk(positions, p) for p in PORTFOLIOS}}


def _risk(positions: dict[tuple[str, str], dict[str, float]], portfolio_id: str) -> dict[str, float]:
    held = sorted((i, p["mv"]) for (pid, i), p in positions.items() if pid == portfolio_id and p["mv"] != 0.0)
    w = np.array([mv for _, mv in held])
    base = PORTFOLIOS[portfolio_id]["base_currency"]
    sigma = factor_sigma(
        [Held(i, INSTRUMENTS[i]["currency"], base, mv, float(INSTRUMENTS[i]["daily_vol"])) for i, mv in held],
        _correlation,
    )
    gross = float(np.abs(w).sum())
    return {
        "gross_exposure_base": gross,
        "net_exposure_base": float(w.sum()),
        "largest_position_share": float(np.abs(w).max() / gross),
        "sigma_1d_base": sigma,
        "var_99_1d": Z99 * sigma,
    }


def _alerts(steps: list[list[Trade | Tick]]) -> dict[tuple[str, str], tuple[float, float, datetime]]:
    """(portfolio, rule) -> (measured, limit, last_trade_ts): every alert window is the base minute, so a
    later step's breach replaces an earlier one's row."""
    alerts: dict[tuple[str, str], tuple[float, float, datetime]] = {}
    seen: list[Trade | Tick] = []
    for step in steps:
        seen = seen + step
        state = _model(seen)
        trades = [e for e in step if isinstance(e, Trade)]
        ticks = [e for e in step if isinstance(e, Tick) and e.key not in STALE]
        batch_ts = max(e.ts for e in trades + ticks)
        moved_instruments = {e.instrument_id for e in trades} | {
            t.instrument_id for t in ticks if t.tick_type == "PRICE"
        }
        moved_currencies = {t.instrument_id for t in ticks if t.tick_type == "FX"}
        touched = {t.portfolio_id for t in trades} | {
            pid
            for (pid, iid) in state["positions"]
            if iid in moved_instruments
            or INSTRUMENTS[iid]["currency"] in moved_currencies
            or PORTFOLIOS[pid]["base_currency"] in moved_currencies
        }
        for portfolio_id in touched:
            risk = state["risk"][portfolio_id]
            own = [t.ts for t in trades if t.portfolio_id == portfolio_id]
            last = max(own) if own else batch_ts
            limits = PORTFOLIOS[portfolio_id]
            for rule, measured, limit in (
                ("gross_limit", risk["gross_exposure_base"], float(limits["gross_limit"])),
                ("var_limit", risk["var_99_1d"], float(limits["var_limit"])),
                ("concentration", risk["largest_position_share"], CONCENTRATION_LIMIT),
            ):
                if measured > limit:
                    alerts[(portfolio_id, rule)] = (measured, limit, last)
        for trade in trades:
            limits = PORTFOLIOS[trade.portfolio_id]
            limit = (
                float(limits["single_trade_limit"])
                if limits["single_trade_limit"]
                else SINGLE_TRADE_LIMIT_SHARE * float(limits["gross_limit"])
            )
            notional = trade.quantity * trade.price * float(INSTRUMENTS[trade.instrument_id]["multiplier"])
            notional *= _reference_fx(trade.portfolio_id, trade.instrument_id)
            if notional > limit:
                alerts[(trade.portfolio_id, "single_trade")] = (notional, limit, trade.ts)
    return alerts


# ----------------------------------------------------------------------------- the pipeline


def _produce(bootstrap: str, settings: Settings, events: list[Trade | Tick]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for event in events:  # in list order: k3 is sent after k2
        if isinstance(event, Trade):
            producer.produce(
                settings.kafka.topic, key=event.portfolio_id, value=event.value(), headers=[("schema_version", b"1")]
            )
        else:
            producer.produce(
                settings.kafka.prices_topic,
                key=event.instrument_id,
                value=event.value(),
                headers=[("schema_version", b"1")],
            )
        assert producer.flush(30) == 0


PATHS = ("hot", "layered")
"""The hot query (Kafka -> risk in one micro-batch) and the layered jobs (bronze -> silver -> gold)."""


def _run_all(spark: SparkSession, settings: Settings, path: str) -> None:
    from jobs import bronze, hot, silver
    from jobs import gold as gold_job

    for job in (bronze, hot) if path == "hot" else (bronze, silver, gold_job):
        assert job.run(spark, settings) is None


def _rows(spark: SparkSession, catalog: Catalog, layer: str, name: str) -> list[dict[str, Any]]:
    return [row.asDict() for row in catalog.table(layer, name).read(spark).collect()]  # type: ignore[arg-type]


def _assert_gold(spark: SparkSession, catalog: Catalog, events: list[Trade | Tick]) -> None:
    model = _model(events)
    positions = {(r["portfolio_id"], r["instrument_id"]): r for r in _rows(spark, catalog, "gold", "positions")}
    assert sorted(positions) == sorted(model["positions"])
    for key, expected in model["positions"].items():
        row = positions[key]
        assert float(row["net_quantity"]) == expected["q"], key
        assert row["last_price"] == pytest.approx(expected["price"], rel=RELATIVE), key
        assert row["fx_rate_to_base"] == pytest.approx(expected["fx"], rel=RELATIVE), key
        assert row["market_value_base"] == pytest.approx(expected["mv"], rel=RELATIVE), key
    pnl = {(r["portfolio_id"], r["instrument_id"]): r for r in _rows(spark, catalog, "gold", "pnl")}
    assert sorted(pnl) == sorted(model["positions"])
    trading_date = _base().date()
    for key, expected in model["positions"].items():
        row = pnl[key]
        assert (row["trading_date"], float(row["sod_net_quantity"]), row["sod_market_value_base"]) == (
            trading_date,
            0.0,
            0.0,
        ), key
        assert (float(row["day_buy_quantity"]), float(row["day_sell_quantity"])) == (expected["qb"], expected["qs"]), (
            key
        )
        actual = {name: row[f"{name}_pnl_base"] for name in ("realized", "unrealized", "total")}
        wanted = {name: expected[name] for name in ("realized", "unrealized", "total")}
        assert actual == pytest.approx(wanted, rel=RELATIVE, abs=1e-9), key
        assert row["market_value_base"] == pytest.approx(expected["mv"], rel=RELATIVE), key
    risk = {r["portfolio_id"]: r for r in _rows(spark, catalog, "gold", "portfolio_risk")}
    assert sorted(risk) == sorted(PORTFOLIOS)
    for portfolio_id, expected_risk in model["risk"].items():
        actual_risk = {name: risk[portfolio_id][name] for name in expected_risk}
        assert actual_risk == pytest.approx(expected_risk, rel=RELATIVE), portfolio_id
    marks = {(r["mark_type"], r["id"]): r for r in _rows(spark, catalog, "gold", "marks")}
    expected_marks = {("instrument", i): m for i, m in model["marks"].items()}
    fx_ticks = [e for e in events if isinstance(e, Tick) and e.tick_type == "FX"]
    expected_marks |= {("fx", t.instrument_id): (t.ts, t.sequence, t.tick_id, t.mid) for t in fx_ticks}
    assert sorted(marks) == sorted(expected_marks)
    for key, (ts, sequence, _, price) in expected_marks.items():
        assert (marks[key]["mark_ts"], marks[key]["sequence"]) == (ts, sequence), key
        assert marks[key]["price"] == pytest.approx(price, rel=RELATIVE), key


@pytest.mark.parametrize("path", PATHS)
def test_ticks_mark_positions_pnl_risk_and_alerts_exactly(
    spark: SparkSession, kafka: BrokerInfo, make_settings: Callable[..., Settings], path: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    topics = {"topic": f"trades-{suffix}", "prices_topic": f"prices-{suffix}", "alerts_topic": f"alerts-{suffix}"}
    kafka_broker.create_topics(kafka.bootstrap_servers, {name: 2 for name in topics.values()})
    settings = make_settings(kafka.bootstrap_servers, kafka=topics, silver={"tick_max_age": MAX_AGE})
    catalog = Catalog(settings)
    _write_reference(spark, catalog)

    _produce(kafka.bootstrap_servers, settings, STEP_1)
    _run_all(spark, settings, path)
    _assert_gold(spark, catalog, STEP_1)

    _produce(kafka.bootstrap_servers, settings, STEP_2)
    _run_all(spark, settings, path)
    _assert_gold(spark, catalog, STEP_1 + STEP_2)
    untraded = {
        (r["portfolio_id"], r["instrument_id"]): r["last_price"] for r in _rows(spark, catalog, "gold", "positions")
    }
    assert untraded[("P-FX-2", "AAPL")] == pytest.approx(200.0, rel=RELATIVE)  # 191 before: moved by ticks alone

    _produce(kafka.bootstrap_servers, settings, STEP_3)
    _run_all(spark, settings, path)
    everything = STEP_1 + STEP_2 + STEP_3
    _assert_gold(spark, catalog, everything)

    accepted = {r["tick_id"]: r for r in _rows(spark, catalog, "silver", "prices")}
    ticks = {e.tick_id: e for e in everything if isinstance(e, Tick)}
    assert sorted(accepted) == sorted(t.tick_id for t in ticks.values() if t.key not in STALE)
    quarantined = [
        (r["event_id"], r["reason_codes"])
        for r in _rows(spark, catalog, "silver", "quarantine")
        if r["source_topic"] == settings.kafka.prices_topic
    ]
    stale = next(t for t in ticks.values() if t.key in STALE)
    assert quarantined == [(stale.tick_id, ["stale_tick"])]

    alerts = {(r["portfolio_id"], r["rule"]): r for r in _rows(spark, catalog, "gold", "risk_alerts")}
    expected_alerts = _alerts([STEP_1, STEP_2, STEP_3])
    assert sorted(alerts) == sorted(expected_alerts)
    for key, (measured, limit, last_trade_ts) in expected_alerts.items():
        row = alerts[key]
        assert (row["window_start"], row["last_trade_ts"]) == (_base(), last_trade_ts), key
        assert (row["measured_value"], row["limit_value"]) == pytest.approx((measured, limit), rel=RELATIVE), key
