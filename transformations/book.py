"""The hot path's book: marks, positions, P&L, risk and alerts of one micro-batch, on the driver.

Pure functions on pandas frames (no Spark, no I/O). The hot query (jobs/hot.py) collects each
micro-batch's accepted lifecycle events and ticks (a few thousand narrow rows), applies them here to
the book it keeps in memory (positions, marks and each position's latest P&L row: a few hundred rows),
and writes the results. The rules are those of the Spark transformations they replace on this path
(:mod:`transformations.marks`, :mod:`transformations.gold`), with two corrections that make a book
independent of where micro-batch boundaries fall:

* **One order for marks, everywhere.** A mark candidate is ordered by ``(mark_ts, sequence, tiebreak)``
  within a batch and against the book's mark alike: a tick beats a trade at the same instant (a
  trade's sequence is -1), two trades at the same instant are ordered by event id, two ticks by
  sequence then tick id. The book keeps the winner's ``tiebreak``, so a tie across two batches is
  broken as it would have been inside one.
* **One price per instrument.** Every position is valued at its instrument's firm mark (its
  reference price before it has one); its FX rate is ``usd(instrument currency) / usd(base
  currency)`` from the FX marks, else the reference rates.

Decimal columns (quantities) hold :class:`decimal.Decimal` objects, so sums are exact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from transformations.marks import FX_MARK, INSTRUMENT_MARK, TICK, TRADE, TRADE_SEQUENCE
from transformations.risk import PORTFOLIO_RISK_COLUMNS, RISK_INPUT_COLUMNS, RiskModel, portfolio_risk_frame

POSITION_KEYS = ["portfolio_id", "instrument_id"]
MARK_KEYS = ["mark_type", "id"]
MARK_ORDER = ["mark_ts", "sequence", "tiebreak"]

POSITION_COLUMNS = [
    "portfolio_id",
    "instrument_id",
    "desk",
    "asset_class",
    "sector",
    "base_currency",
    "instrument_currency",
    "multiplier",
    "fx_rate_to_base",
    "net_quantity",
    "cost_basis_base",
    "average_cost_base",
    "last_price",
    "last_price_ts",
    "market_value_base",
    "applied_batch_id",
]
"""gold.positions (POSITIONS_DDL), in order."""
MARK_COLUMNS = ["mark_type", "id", "price", "mark_ts", "sequence", "source", "applied_batch_id"]
"""gold.marks (MARKS_DDL), in order; the book keeps ``tiebreak`` beside them."""
BOOK_MARK_COLUMNS = [*MARK_COLUMNS, "tiebreak"]
PNL_COLUMNS = [
    "portfolio_id",
    "instrument_id",
    "trading_date",
    "base_currency",
    "net_quantity",
    "last_price",
    "fx_rate_to_base",
    "market_value_base",
    "sod_net_quantity",
    "sod_market_value_base",
    "day_buy_quantity",
    "day_buy_cost_base",
    "day_sell_quantity",
    "day_sell_proceeds_base",
    "realized_pnl_base",
    "unrealized_pnl_base",
    "total_pnl_base",
    "applied_batch_id",
]
"""gold.pnl (PNL_DDL), in order."""
ALERT_COLUMNS = [
    "alert_id",
    "portfolio_id",
    "rule",
    "window_start",
    "window_end",
    "measured_value",
    "limit_value",
    "utilisation",
    "trade_id",
    "last_trade_ts",
]
"""gold.risk_alerts (RISK_ALERTS_DDL), in order."""

TRADE_INPUT_COLUMNS = [
    "event_id",
    "event_type",
    "trade_id",
    "portfolio_id",
    "instrument_id",
    "side",
    "price",
    "trade_ts",
    "delta_quantity",
    "delta_cost_base",
    "notional_base",
    "fx_rate_to_base",
    "reference_price",
    "multiplier",
    "desk",
    "asset_class",
    "sector",
    "base_currency",
    "instrument_currency",
    "arrived_late",
]
"""What the book needs of an accepted lifecycle event (``price`` as a double; ``arrived_late`` for the
batch's data-quality row)."""
TICK_INPUT_COLUMNS = ["tick_id", "tick_type", "instrument_id", "price", "tick_ts", "sequence"]
"""What the book needs of an accepted tick."""

_ZERO = Decimal(0)


def empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})


@dataclass
class Book:
    """The hot query's state between micro-batches; ``batch_id`` is the last batch applied (-1: none)."""

    positions: pd.DataFrame
    marks: pd.DataFrame
    pnl: pd.DataFrame
    """Each position's latest gold.pnl row (any trading day)."""
    batch_id: int = -1

    @classmethod
    def new(cls) -> Book:
        return cls(empty(POSITION_COLUMNS), empty(BOOK_MARK_COLUMNS), empty(PNL_COLUMNS))


@dataclass(frozen=True)
class Reference:
    """The reference data the book reads: USD rates, instrument prices and vols, portfolio limits."""

    usd_rates: Mapping[str, float]
    instruments: pd.DataFrame
    """instrument_id, daily_vol, reference_price."""
    portfolios: pd.DataFrame
    """portfolio_id, gross_limit, var_limit, single_trade_limit, stress_loss_limit."""


@dataclass(frozen=True)
class BatchResult:
    """What one micro-batch changed: the new book and the rows to write."""

    book: Book
    affected: pd.DataFrame
    """(portfolio_id, instrument_id) of the positions the batch changed."""
    pnl_rows: pd.DataFrame
    """The batch's gold.pnl rows (one per affected position)."""
    risk: pd.DataFrame
    """gold.portfolio_risk rows of the portfolios recomputed."""
    alerts: pd.DataFrame
    """gold.risk_alerts rows raised by the batch."""
    trading_date: date | None
    marks_moved: bool = True


def mark_candidates(trades: pd.DataFrame, ticks: pd.DataFrame) -> pd.DataFrame:
    """The batch's mark candidates: NEW / AMEND trades (a CANCEL repeats an old price) and every tick."""
    priced = trades[trades["event_type"] != "CANCEL"]
    from_trades = pd.DataFrame(
        {
            "mark_type": INSTRUMENT_MARK,
            "id": priced["instrument_id"],
            "price": priced["price"].astype(float).fillna(priced["reference_price"].astype(float)),
            "mark_ts": priced["trade_ts"],
            "sequence": TRADE_SEQUENCE,
            "source": TRADE,
            "tiebreak": priced["event_id"],
        }
    )
    from_ticks = pd.DataFrame(
        {
            "mark_type": np.where(ticks["tick_type"] == "FX", FX_MARK, INSTRUMENT_MARK),
            "id": ticks["instrument_id"],
            "price": ticks["price"].astype(float),
            "mark_ts": ticks["tick_ts"],
            "sequence": ticks["sequence"].astype("int64"),
            "source": TICK,
            "tiebreak": ticks["tick_id"],
        }
    )
    frames = [frame for frame in (from_trades, from_ticks) if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty(BOOK_MARK_COLUMNS)


def update_marks(marks: pd.DataFrame, candidates: pd.DataFrame, batch_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The book's marks after the batch, and the marks the batch moved (``mark_type``, ``id``)."""
    if candidates.empty:
        return marks, empty(MARK_KEYS)
    fresh = candidates.assign(applied_batch_id=batch_id)[BOOK_MARK_COLUMNS]
    combined = pd.concat([marks[BOOK_MARK_COLUMNS], fresh], ignore_index=True) if not marks.empty else fresh
    latest = combined.sort_values([*MARK_KEYS, *MARK_ORDER], kind="mergesort").groupby(MARK_KEYS).tail(1)
    moved = latest[latest["applied_batch_id"] == batch_id][MARK_KEYS]
    return latest.sort_values(MARK_KEYS).reset_index(drop=True), moved.reset_index(drop=True)


def position_deltas(trades: pd.DataFrame) -> pd.DataFrame:
    """Per (portfolio_id, instrument_id): summed quantity and cost deltas, and the position's attributes."""
    ordered = trades.sort_values(["trade_ts", "event_id"], kind="mergesort")
    grouped = ordered.groupby(POSITION_KEYS, sort=True)
    attributes = grouped[
        ["desk", "asset_class", "sector", "base_currency", "instrument_currency", "multiplier", "fx_rate_to_base"]
    ].last()
    sums = pd.DataFrame(
        {
            "delta_quantity": grouped["delta_quantity"].apply(lambda values: sum(values, _ZERO)),
            "delta_cost_base": grouped["delta_cost_base"].sum(),
        }
    )
    return attributes.join(sums).reset_index()


def apply_deltas(positions: pd.DataFrame, deltas: pd.DataFrame) -> pd.DataFrame:
    """Positions after adding the batch's quantity and cost deltas (new positions inserted)."""
    if deltas.empty:
        return positions
    merged = positions.merge(deltas, on=POSITION_KEYS, how="outer", suffixes=("", "_batch"), sort=True)
    traded = merged["delta_quantity"].notna()
    for name in ("desk", "asset_class", "sector", "base_currency", "instrument_currency", "multiplier"):
        merged[name] = merged[name].where(merged[name].notna(), merged[f"{name}_batch"])
    merged["multiplier"] = merged["multiplier_batch"].where(traded, merged["multiplier"])
    merged["fx_rate_to_base"] = merged["fx_rate_to_base"].where(
        merged["fx_rate_to_base"].notna(), merged["fx_rate_to_base_batch"]
    )
    quantity = merged["net_quantity"].where(merged["net_quantity"].notna(), _ZERO)
    merged["net_quantity"] = [
        q + d if isinstance(d, Decimal) else q for q, d in zip(quantity, merged["delta_quantity"], strict=True)
    ]
    merged["cost_basis_base"] = merged["cost_basis_base"].astype(float).fillna(0.0) + merged["delta_cost_base"].astype(
        float
    ).fillna(0.0)
    return merged[POSITION_COLUMNS]


def usd_rates(marks: pd.DataFrame, reference: Mapping[str, float]) -> dict[str, float]:
    """USD per unit of each currency: its FX mark, else its reference rate."""
    rates = dict(reference)
    fx = marks[marks["mark_type"] == FX_MARK]
    rates.update(zip(fx["id"], fx["price"].astype(float), strict=True))
    return rates


def remark(positions: pd.DataFrame, marks: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """Every position at its instrument's firm mark and the current FX rates (module doc)."""
    if positions.empty:
        return positions
    instrument_marks = marks[marks["mark_type"] == INSTRUMENT_MARK].set_index("id")
    reference_prices = reference.instruments.set_index("instrument_id")["reference_price"]
    rates = usd_rates(marks, reference.usd_rates)
    out = positions.copy()
    mark_price = out["instrument_id"].map(instrument_marks["price"])
    mark_ts = out["instrument_id"].map(instrument_marks["mark_ts"])
    fallback = out["last_price"].where(out["last_price"].notna(), out["instrument_id"].map(reference_prices))
    out["last_price"] = mark_price.where(mark_price.notna(), fallback).astype(float)
    out["last_price_ts"] = mark_ts.where(mark_price.notna(), out["last_price_ts"])
    instrument_usd = out["instrument_currency"].map(rates)
    base_usd = out["base_currency"].map(rates)
    fx = instrument_usd / base_usd
    out["fx_rate_to_base"] = fx.where(fx.notna(), out["fx_rate_to_base"]).astype(float)
    quantity = out["net_quantity"].map(float)
    out["market_value_base"] = quantity * out["last_price"] * out["multiplier"].astype(float) * out["fx_rate_to_base"]
    out["average_cost_base"] = [
        cost / float(q) if q != 0 else None for cost, q in zip(out["cost_basis_base"], out["net_quantity"], strict=True)
    ]
    return out


def affected_positions(positions: pd.DataFrame, traded: pd.DataFrame, moved_marks: pd.DataFrame) -> pd.DataFrame:
    """(portfolio_id, instrument_id) a batch may change: traded, or with a moved instrument or FX mark."""
    moved_instruments = set(moved_marks.loc[moved_marks["mark_type"] == INSTRUMENT_MARK, "id"])
    moved_currencies = set(moved_marks.loc[moved_marks["mark_type"] == FX_MARK, "id"])
    traded_keys = set(zip(traded["portfolio_id"], traded["instrument_id"], strict=True))
    hit = (
        positions["instrument_id"].isin(moved_instruments)
        | positions["instrument_currency"].isin(moved_currencies)
        | positions["base_currency"].isin(moved_currencies)
        | pd.Series(
            [key in traded_keys for key in zip(positions["portfolio_id"], positions["instrument_id"], strict=True)],
            index=positions.index,
            dtype=bool,
        )
    )
    return positions.loc[hit, POSITION_KEYS].reset_index(drop=True)


def pnl_flows(trades: pd.DataFrame) -> pd.DataFrame:
    """Per position: the batch's buy and sell quantities and amounts (sales and proceeds >= 0)."""
    if trades.empty:
        return empty([*POSITION_KEYS, "buy_quantity", "buy_cost_base", "sell_quantity", "sell_proceeds_base"])
    buy = trades["side"] == "BUY"
    frame = pd.DataFrame(
        {
            "portfolio_id": trades["portfolio_id"],
            "instrument_id": trades["instrument_id"],
            "buy_quantity": [q if b else _ZERO for q, b in zip(trades["delta_quantity"], buy, strict=True)],
            "buy_cost_base": trades["delta_cost_base"].astype(float).where(buy, 0.0),
            "sell_quantity": [_ZERO if b else -q for q, b in zip(trades["delta_quantity"], buy, strict=True)],
            "sell_proceeds_base": (-trades["delta_cost_base"].astype(float)).where(~buy, 0.0),
        }
    )
    grouped = frame.groupby(POSITION_KEYS, sort=True)
    return pd.DataFrame(
        {
            "buy_quantity": grouped["buy_quantity"].apply(lambda values: sum(values, _ZERO)),
            "buy_cost_base": grouped["buy_cost_base"].sum(),
            "sell_quantity": grouped["sell_quantity"].apply(lambda values: sum(values, _ZERO)),
            "sell_proceeds_base": grouped["sell_proceeds_base"].sum(),
        }
    ).reset_index()


def _realized(sod_q: float, sod_v: float, buy_q: float, buy_c: float, sell_q: float, sell_p: float) -> float:
    """Average-cost realized P&L of the day (:mod:`transformations.marks`)."""
    if sod_q >= 0:
        entry = sod_q + buy_q
        closed = min(sell_q, entry)
        return closed * (sell_p / sell_q - (sod_v + buy_c) / entry) if closed > 0 else 0.0
    entry = -sod_q + sell_q
    closed = min(buy_q, entry)
    return closed * ((sell_p - sod_v) / entry - buy_c / buy_q) if closed > 0 else 0.0


def pnl_rows(
    previous: pd.DataFrame, flows: pd.DataFrame, positions: pd.DataFrame, trading_date: date, batch_id: int
) -> pd.DataFrame:
    """The gold.pnl rows of the affected ``positions`` (rules in :mod:`transformations.marks`)."""
    if positions.empty:
        return empty(PNL_COLUMNS)
    prior = previous.set_index(POSITION_KEYS) if not previous.empty else empty(PNL_COLUMNS).set_index(POSITION_KEYS)
    batch = flows.set_index(POSITION_KEYS) if not flows.empty else None
    rows = []
    for position in positions.itertuples(index=False):
        key = (position.portfolio_id, position.instrument_id)
        flow = batch.loc[key] if batch is not None and key in batch.index else None
        buy_q = flow["buy_quantity"] if flow is not None else _ZERO
        sell_q = flow["sell_quantity"] if flow is not None else _ZERO
        buy_c = float(flow["buy_cost_base"]) if flow is not None else 0.0
        sell_p = float(flow["sell_proceeds_base"]) if flow is not None else 0.0
        before = prior.loc[key] if key in prior.index else None
        same_day = before is not None and _as_date(before["trading_date"]) == trading_date
        quantity = position.net_quantity
        value = float(position.market_value_base)
        quantity_before = quantity - (buy_q - sell_q)
        unit_value = value / float(quantity) if quantity != 0 else 0.0
        if same_day and before is not None:
            sod_q, sod_v = before["sod_net_quantity"], float(before["sod_market_value_base"])
            buy_q, sell_q = before["day_buy_quantity"] + buy_q, before["day_sell_quantity"] + sell_q
            buy_c, sell_p = float(before["day_buy_cost_base"]) + buy_c, float(before["day_sell_proceeds_base"]) + sell_p
        elif before is not None:
            sod_q, sod_v = before["net_quantity"], float(before["market_value_base"])
        else:
            sod_q, sod_v = quantity_before, float(quantity_before) * unit_value
        total = value - sod_v - (buy_c - sell_p)
        realized = _realized(float(sod_q), sod_v, float(buy_q), buy_c, float(sell_q), sell_p) + 0.0
        rows.append(
            {
                "portfolio_id": key[0],
                "instrument_id": key[1],
                "trading_date": trading_date,
                "base_currency": position.base_currency,
                "net_quantity": quantity,
                "last_price": position.last_price,
                "fx_rate_to_base": position.fx_rate_to_base,
                "market_value_base": value,
                "sod_net_quantity": sod_q,
                "sod_market_value_base": sod_v,
                "day_buy_quantity": buy_q,
                "day_buy_cost_base": buy_c,
                "day_sell_quantity": sell_q,
                "day_sell_proceeds_base": sell_p,
                "realized_pnl_base": realized,
                "unrealized_pnl_base": total - realized,
                "total_pnl_base": total,
                "applied_batch_id": batch_id,
            }
        )
    return pd.DataFrame(rows, columns=PNL_COLUMNS)


def _as_date(value: Any) -> date:
    return value if type(value) is date else pd.Timestamp(value).date()


def latest_pnl(previous: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Each position's latest P&L row after the batch's ``rows`` replace theirs."""
    if rows.empty:
        return previous
    kept = previous
    if not previous.empty:
        replaced = previous.set_index(POSITION_KEYS).index.isin(rows.set_index(POSITION_KEYS).index)
        kept = previous[~replaced]
    combined = pd.concat([frame for frame in (kept, rows) if not frame.empty], ignore_index=True)
    return combined.sort_values(POSITION_KEYS).reset_index(drop=True)[PNL_COLUMNS]


def positions_for_risk(positions: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """Positions with the instrument's current ``daily_vol`` and the portfolio's limits."""
    instruments = reference.instruments[["instrument_id", "daily_vol"]]
    limits = reference.portfolios[["portfolio_id", "gross_limit", "var_limit", "stress_loss_limit"]]
    joined = positions.merge(instruments, on="instrument_id", how="left").merge(limits, on="portfolio_id", how="left")
    return joined[list(RISK_INPUT_COLUMNS)]


def portfolio_risk(
    positions: pd.DataFrame, portfolio_ids: Sequence[str], reference: Reference, model: RiskModel
) -> pd.DataFrame:
    """gold.portfolio_risk rows of ``portfolio_ids`` (those holding positions), by :func:`portfolio_risk_frame`."""
    wanted = positions[positions["portfolio_id"].isin(list(portfolio_ids))]
    if wanted.empty:
        return empty(list(PORTFOLIO_RISK_COLUMNS))
    inputs = positions_for_risk(wanted, reference)
    frames = [portfolio_risk_frame(group, model) for _, group in inputs.groupby("portfolio_id", sort=True)]
    return pd.concat(frames, ignore_index=True)


def minute_start(moment: datetime) -> datetime:
    return pd.Timestamp(moment).floor("min").to_pydatetime()


def alert_id(portfolio_id: str, rule: str, window_start: datetime) -> str:
    """sha256 of ``portfolio|rule|window_start`` as Spark writes a timestamp as text (the topic's dedupe key)."""
    text = f"{portfolio_id}|{rule}|{pd.Timestamp(window_start).strftime('%Y-%m-%d %H:%M:%S')}"
    return hashlib.sha256(text.encode()).hexdigest()


_PORTFOLIO_RULES = (
    ("gross_limit", "gross_exposure_base", "gross_limit"),
    ("var_limit", "var_99_1d", "var_limit"),
    ("concentration", "largest_position_share", None),
    ("stress_loss", "worst_stress_loss_base", "stress_loss_limit"),
)


def portfolio_alerts(
    risk: pd.DataFrame, trades: pd.DataFrame, batch_event_ts: datetime | None, concentration_limit: float
) -> list[dict[str, Any]]:
    """gross_limit / var_limit / concentration / stress_loss breaches of the recomputed portfolios.

    The alert window is the 1-minute window of the portfolio's latest trade in the batch; a portfolio
    recomputed without a trade of its own takes the batch's latest event time.
    """
    latest_trade = trades.groupby("portfolio_id")["trade_ts"].max() if not trades.empty else pd.Series(dtype=object)
    alerts = []
    for row in risk.itertuples(index=False):
        last = latest_trade.get(row.portfolio_id, batch_event_ts)
        if last is None or pd.isna(last):
            continue
        for rule, measured_column, limit_column in _PORTFOLIO_RULES:
            measured = getattr(row, measured_column)
            limit = concentration_limit if limit_column is None else getattr(row, limit_column)
            if measured is None or limit is None or pd.isna(measured) or pd.isna(limit) or not measured > limit:
                continue
            alerts.append(_alert(row.portfolio_id, rule, last, float(measured), float(limit), None))
    return alerts


def single_trade_alerts(trades: pd.DataFrame, portfolios: pd.DataFrame, limit_share: float) -> list[dict[str, Any]]:
    """Per (portfolio, 1-minute window): the largest NEW / AMEND over the single-trade limit."""
    priced = trades[trades["event_type"].isin(["NEW", "AMEND"])]
    if priced.empty:
        return []
    limits = portfolios.set_index("portfolio_id")
    own = priced["portfolio_id"].map(limits["single_trade_limit"]).astype(float)
    share = priced["portfolio_id"].map(limits["gross_limit"]).astype(float) * limit_share
    limit = own.where(own.notna(), share)
    breaches = priced.assign(limit_value=limit)
    breaches = breaches[breaches["notional_base"].astype(float) > breaches["limit_value"]]
    alerts = []
    windows = breaches.assign(window_start=breaches["trade_ts"].map(minute_start))
    for (portfolio_id, _), group in windows.groupby(["portfolio_id", "window_start"], sort=True):
        largest = group.sort_values(["notional_base", "trade_id", "limit_value", "trade_ts"]).iloc[-1]
        alert = _alert(
            portfolio_id,
            "single_trade",
            largest["trade_ts"],
            float(largest["notional_base"]),
            float(largest["limit_value"]),
            largest["trade_id"],
        )
        alert["last_trade_ts"] = group["trade_ts"].max()
        alerts.append(alert)
    return alerts


def _alert(
    portfolio_id: str, rule: str, last_trade_ts: datetime, measured: float, limit: float, trade_id: str | None
) -> dict[str, Any]:
    window_start = minute_start(last_trade_ts)
    return {
        "alert_id": alert_id(portfolio_id, rule, window_start),
        "portfolio_id": portfolio_id,
        "rule": rule,
        "window_start": window_start,
        "window_end": window_start + timedelta(minutes=1),
        "measured_value": measured,
        "limit_value": limit,
        "utilisation": measured / limit if limit != 0 else None,
        "trade_id": trade_id,
        "last_trade_ts": pd.Timestamp(last_trade_ts).to_pydatetime(),
    }


def utc_date(moment: datetime) -> date:
    return pd.Timestamp(moment).date()


def apply_batch(
    book: Book,
    trades: pd.DataFrame,
    ticks: pd.DataFrame,
    batch_id: int,
    reference: Reference,
    model: RiskModel,
    *,
    concentration_limit: float,
    single_trade_limit_share: float,
    recompute_all: bool = False,
) -> BatchResult:
    """One micro-batch: marks, positions, P&L, risk of the touched portfolios (or all) and alerts.

    Args:
        book: the state after the previous batch (not modified).
        trades: the batch's accepted lifecycle events (:data:`TRADE_INPUT_COLUMNS`).
        ticks: the batch's accepted ticks (:data:`TICK_INPUT_COLUMNS`).
        batch_id: stamped on every row the batch changes.
        reference: reference data as of this batch.
        model: the risk model.
        recompute_all: recompute every portfolio's risk (reference data or risk factors changed).
    """
    candidates = mark_candidates(trades, ticks)
    marks, moved = update_marks(book.marks, candidates, batch_id)
    positions = apply_deltas(book.positions, position_deltas(trades) if not trades.empty else empty([]))
    affected = affected_positions(positions, trades, moved)
    positions = remark(positions, marks, reference)
    changed = positions.set_index(POSITION_KEYS).index.isin(affected.set_index(POSITION_KEYS).index)
    positions.loc[changed, "applied_batch_id"] = batch_id
    event_times = [*trades["trade_ts"].tolist(), *ticks["tick_ts"].tolist()]
    batch_event_ts = max(event_times) if event_times else None
    trading_date = utc_date(batch_event_ts) if batch_event_ts is not None else None
    pnl = empty(PNL_COLUMNS)
    if trading_date is not None and not affected.empty:
        pnl = pnl_rows(book.pnl, pnl_flows(trades), positions[changed], trading_date, batch_id)
    touched = sorted(set(affected["portfolio_id"]) | set(trades["portfolio_id"]))
    portfolios = sorted(set(positions["portfolio_id"])) if recompute_all else touched
    risk = portfolio_risk(positions, portfolios, reference, model)
    alerts = portfolio_alerts(risk, trades, batch_event_ts, concentration_limit)
    alerts += single_trade_alerts(trades, reference.portfolios, single_trade_limit_share)
    new_book = Book(positions.reset_index(drop=True), marks, latest_pnl(book.pnl, pnl), batch_id)
    alert_rows = pd.DataFrame(alerts, columns=ALERT_COLUMNS)
    return BatchResult(new_book, affected, pnl, risk, alert_rows, trading_date, marks_moved=not moved.empty)
