"""A deterministic market simulator: reference data, a stream of trade events and a stream of market
data ticks, both with injected faults.

Everything derives from one seed and one start time, so a test (or a silver scenario) gets the same
bytes on every run and knows the expected fate of each record from :attr:`SimulatedRecord.kind`.

The market:

* portfolios spread over five desks (one per asset class: equity, FX, rates, credit, commodity),
  each with a base currency and gross / VaR / single-trade limits in that currency;
* each portfolio has a mandate, a signed USD target holding in every instrument of its desk
  (weights within +-20 % of equal), and trades towards it: a NEW picks an instrument with a
  probability that grows steeply with how far (relative to the target) its holding is from the
  target (:data:`PICK_POWER`), so the book fills evenly, and trades towards the target 95 % of the
  time. Limits are set from the mandate, so a book that has reached its targets uses 45-85 % of its
  gross and VaR limits; two roles make a few portfolios breach on purpose (see :data:`CONCENTRATED_ROLE`
  and :data:`OVERSIZED_ROLE`). The demo's dashboard then shows a few breaches, not a wall of them;
* instruments with currency, sector, country, contract multiplier, daily volatility and a
  reference price;
* prices follow geometric Brownian motion driven by a factor model (a global factor, one per asset
  class and one per sector), so instruments in the same sector move together. The instrument
  correlations written to ``correlations.csv`` are exactly the ones the factor model implies;
* a daily close history (``price_history.csv``, :data:`HISTORY_DAYS` returns) of every instrument and
  non-USD currency from the same factor model, with volatility clustering, ending at the reference
  levels (:func:`_price_history`).

The stream: a clock starts at ``start`` and advances ``1 / rate`` seconds per event; ``trade_ts`` is
that clock, so event time is reproducible and independent of how fast a producer sends. Each valid
event is a NEW (trade_version 1), an AMEND of an open trade (version + 1, new quantity and price) or
a CANCEL of an open trade (version + 1, the last terms repeated). v1 and v2 events are mixed.

Faults are allocated exactly (largest remainder of ``rate x count``) and placed at seeded random
positions, so ``count=1000, FaultRates(duplicate=0.05)`` yields exactly 50 duplicates:

=====================  ==================================================================  ==================
kind                   what is sent                                                         expected fate
=====================  ==================================================================  ==================
``valid``              a lifecycle event in order                                           accepted
``malformed_json``     a truncated JSON document                                            quarantined
``schema_invalid``     a NEW event breaking the contract in one way (see ``detail``)        quarantined
``duplicate``          an earlier valid record again, byte for byte (same ``event_id``)     quarantined
``late``               a NEW whose ``trade_ts`` is ``lateness`` behind the stream clock     accepted, late
``out_of_order``       a NEW held back and sent up to ``reorder_window`` records later      accepted
``unknown_portfolio``  a schema-valid NEW for a portfolio not in reference data             quarantined
``unknown_instrument`` a schema-valid NEW for an instrument not in reference data           quarantined
=====================  ==================================================================  ==================

Fault records never touch the lifecycle state: later AMEND / CANCEL events only refer to trades
whose NEW was sent as ``valid`` (or, once released, ``out_of_order``).

The market data stream (:meth:`MarketSimulator.ticks`, contract ``conf/schemas/price_tick.v1.json``,
record key ``instrument_id``): ticks at ``rate`` per second, ``tick_ts = start + j / rate``. A PRICE tick
quotes a reference instrument (a seeded random pick) in its own currency at the mid of *the trade
stream's* price path: :meth:`MarketSimulator.events` with ``rate=trade_rate`` and the same seed steps
its path once per trade, and a tick at stream time ``t`` replays that path (same generator, same
steps) to step ``floor(t x trade_rate) + 1``, the mid a trade at that instant is priced from, so
trades execute within 0.05 % of the current tick. :data:`QUOTE_SHARE` of PRICE ticks quote a bid and
an ask around the mid instead of a price. An FX tick (share ``fx_share``) quotes one unit of a
non-USD reference currency in USD (``instrument_id`` the currency, ``currency`` USD, as ``usd_rate``),
following its own seeded GBM from the reference ``usd_rate`` (:data:`FX_DAILY_VOL`, scaled by
``market_speedup``). Prices are rounded like trade prices; ``sequence`` counts each instrument's
ticks from 0. Faults are allocated and placed like the trade stream's (:class:`TickFaultRates`):

======================  ===================================================================  =============
kind                    what is sent                                                         expected fate
======================  ===================================================================  =============
``valid``               a tick at the stream clock                                           accepted
``malformed_json``      a truncated JSON document                                            quarantined
``non_positive_price``  a ``price`` of 0 or below (``detail``: zero_price / negative_price)  quarantined
``stale``               a tick whose ``tick_ts`` is ``staleness`` behind the stream clock    quarantined
``out_of_order``        a tick held back and sent right after the next valid tick, which     accepted
                        quotes the same instrument and is newer: it must not move the mark
``unknown_instrument``  a schema-valid PRICE tick for ``UNKNOWN`` + 6 digits                 quarantined
======================  ===================================================================  =============
"""

from __future__ import annotations

import csv
import json
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from statistics import NormalDist
from typing import Any, Generic, Literal, TypeVar, get_args

import numpy as np

from riskstream.errors import ConfigError

RecordKind = Literal[
    "valid",
    "malformed_json",
    "schema_invalid",
    "duplicate",
    "late",
    "out_of_order",
    "unknown_portfolio",
    "unknown_instrument",
]
RECORD_KINDS: tuple[RecordKind, ...] = get_args(RecordKind)
FAULT_KINDS: tuple[RecordKind, ...] = RECORD_KINDS[1:]
TickKind = Literal["valid", "malformed_json", "non_positive_price", "stale", "out_of_order", "unknown_instrument"]
TICK_KINDS: tuple[TickKind, ...] = get_args(TickKind)
TICK_FAULT_KINDS: tuple[TickKind, ...] = TICK_KINDS[1:]
KindT = TypeVar("KindT", bound=str)

DEFAULT_START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SOURCE_SYSTEM = "oms-sim"
TRADING_SECONDS_PER_DAY = 6.5 * 3600
DEFAULT_TICK_RATE = 50.0
"""Ticks per second of stream time by default (the trade stream's default is 100 events per second)."""
TICK_SOURCE = "mdfeed-sim"
QUOTE_SHARE = 0.3
"""Share of PRICE ticks that quote a bid and an ask (mid = price) instead of a price."""
HALF_SPREAD = (0.00005, 0.0003)
"""Range of a quote's half spread, as a fraction of the mid."""
FX_DAILY_VOL = 0.006
"""Daily volatility of every currency's USD rate in the FX tick stream."""
_FX_TICK_KINDS: tuple[TickKind, ...] = ("valid", "malformed_json", "non_positive_price", "stale")
"""Kinds that may be an FX tick; ``out_of_order`` quotes what its newer tick quotes, ``unknown_instrument`` is PRICE."""

# Reference CSV columns, in the order of transformations/schemas.py (PORTFOLIOS_DDL etc.).
PORTFOLIO_COLUMNS = (
    "portfolio_id",
    "name",
    "desk",
    "base_currency",
    "gross_limit",
    "var_limit",
    "single_trade_limit",
    "stress_loss_limit",
)
INSTRUMENT_COLUMNS = (
    "instrument_id",
    "name",
    "asset_class",
    "sector",
    "country",
    "currency",
    "multiplier",
    "daily_vol",
    "reference_price",
)
FX_RATE_COLUMNS = ("currency", "usd_rate", "as_of")
CORRELATION_COLUMNS = ("level", "left_id", "right_id", "correlation")
PRICE_HISTORY_COLUMNS = ("factor_type", "factor_id", "as_of_date", "close")

HISTORY_DAYS = 520
"""Daily returns in the simulated close history: 520 business days, a little over two years."""
GARCH_ALPHA = 0.07
GARCH_BETA = 0.91
"""GARCH(1,1) weights of the history's common variance multiplier (persistence 0.98, long-run level 1)."""

# USD per one unit of the currency, the simulator's starting point (perturbed by the seed).
_USD_RATES = {"USD": 1.0, "EUR": 1.085, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.13, "CAD": 0.73, "AUD": 0.66}
_COUNTRIES = {"US": "USD", "DE": "EUR", "FR": "EUR", "GB": "GBP", "JP": "JPY", "CH": "CHF", "CA": "CAD"}
_VENUES = {"US": "XNYS", "DE": "XETR", "FR": "XPAR", "GB": "XLON", "JP": "XTKS", "CH": "XSWX", "CA": "XTSE"}
_DESKS = {"equity": "equities", "fx": "fx", "rates": "rates", "credit": "credit", "commodity": "commodities"}
_DESK_LABELS = {"equity": "Equities", "fx": "FX", "rates": "Rates", "credit": "Credit", "commodity": "Commodities"}


@dataclass(frozen=True)
class _AssetClassSpec:
    sectors: tuple[str, ...]
    vol_range: tuple[float, float]
    price_range: tuple[float, float]
    multipliers: tuple[float, ...]
    usd_notional: float
    """Typical trade size in USD; quantities are drawn around it."""


_ASSET_CLASSES: dict[str, _AssetClassSpec] = {
    "equity": _AssetClassSpec(
        ("technology", "financials", "energy", "healthcare", "consumer"), (0.012, 0.035), (20, 600), (1,), 250_000
    ),
    "fx": _AssetClassSpec(("g10",), (0.004, 0.012), (0.6, 1.6), (1,), 2_000_000),
    "rates": _AssetClassSpec(("government", "swaps"), (0.003, 0.009), (95, 130), (1000,), 5_000_000),
    "credit": _AssetClassSpec(("investment_grade", "high_yield"), (0.002, 0.010), (80, 105), (10,), 1_000_000),
    "commodity": _AssetClassSpec(
        ("petroleum", "metals", "agriculture"), (0.015, 0.030), (3, 2500), (100, 1000), 500_000
    ),
}


CONCENTRATED_ROLE = 1
"""Portfolios whose number (0-based) is this modulo 5 hold one instrument at three times the weight
of the others: above the default 25 % concentration limit once the book is built."""
OVERSIZED_ROLE = 3
"""Portfolios whose number (0-based) is this modulo 5 are sized at 105-115 % of their gross and VaR limits."""
TARGET_UNITS_PER_INSTRUMENT = (8.0, 14.0)
"""A mandate holds this many typical trade sizes (``usd_notional``) per instrument, on average."""
PICK_POWER = 6.0
"""A NEW picks an instrument with probability proportional to (relative gap to target + 0.05) ** this:
the book fills evenly, so its concentration stays near the target weights while it builds."""
TOWARDS_TARGET = 0.95
"""Probability that a NEW trades towards its instrument's target (otherwise away from it)."""


@dataclass(frozen=True)
class _Mandate:
    """What a portfolio aims to hold: signed USD targets for the instruments of its desk."""

    instruments: tuple[int, ...]
    """Indices into the reference instruments (the desk's asset class)."""
    target_usd: np.ndarray


@dataclass(frozen=True)
class Portfolio:
    """One row of ``portfolios.csv``; limits are in ``base_currency``."""

    portfolio_id: str
    name: str
    desk: str
    base_currency: str
    gross_limit: float
    var_limit: float
    single_trade_limit: float
    stress_loss_limit: float | None = None


@dataclass(frozen=True)
class Instrument:
    """One row of ``instruments.csv``; ``daily_vol`` is a fraction (0.02 = 2 % per day)."""

    instrument_id: str
    name: str
    asset_class: str
    sector: str
    country: str
    currency: str
    multiplier: float
    daily_vol: float
    reference_price: float


@dataclass(frozen=True)
class FxRate:
    """One row of ``fx_rates.csv``: ``usd_rate`` is USD per one unit of ``currency``."""

    currency: str
    usd_rate: float
    as_of: str


@dataclass(frozen=True)
class Correlation:
    """One row of ``correlations.csv``: ``level`` is ``instrument`` or ``sector``, ``left_id < right_id``."""

    level: str
    left_id: str
    right_id: str
    correlation: float


@dataclass(frozen=True)
class PriceClose:
    """One row of ``price_history.csv``: a daily close of a risk factor. ``factor_type`` is ``instrument``
    (``close`` in the instrument's currency) or ``fx`` (``factor_id`` a currency, ``close`` its USD rate)."""

    factor_type: str
    factor_id: str
    as_of_date: str
    close: float


@dataclass(frozen=True)
class ReferenceData:
    """A consistent set of reference data: every instrument's currency has an FX rate, and so does
    every portfolio's base currency."""

    portfolios: tuple[Portfolio, ...]
    instruments: tuple[Instrument, ...]
    fx_rates: tuple[FxRate, ...]
    correlations: tuple[Correlation, ...]
    price_history: tuple[PriceClose, ...] = ()

    def frames(self) -> dict[str, Any]:
        """The five tables as pandas DataFrames, columns in the reference DDL order."""
        import pandas as pd

        return {
            name: pd.DataFrame([asdict(row) for row in rows], columns=list(columns))
            for name, rows, columns in self._tables()
        }

    def _tables(self) -> list[tuple[str, tuple[Any, ...], tuple[str, ...]]]:
        return [
            ("portfolios", self.portfolios, PORTFOLIO_COLUMNS),
            ("instruments", self.instruments, INSTRUMENT_COLUMNS),
            ("fx_rates", self.fx_rates, FX_RATE_COLUMNS),
            ("correlations", self.correlations, CORRELATION_COLUMNS),
            ("price_history", self.price_history, PRICE_HISTORY_COLUMNS),
        ]

    def write_csv(self, out_dir: Path) -> dict[str, Path]:
        """Write ``<table>.csv`` (header row, DDL column order) into ``out_dir``; returns the paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, rows, columns in self._tables():
            path = out_dir / f"{name}.csv"
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_csv_value(getattr(row, column)) for column in columns])
            written[name] = path
        return written


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


@dataclass(frozen=True)
class _FaultShares:
    """Shares of fault kinds, checked on creation: each 0..1, together at most 1."""

    def __post_init__(self) -> None:
        _check_fault_shares(self.as_dict())

    def as_dict(self) -> dict[str, float]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True)
class FaultRates(_FaultShares):
    """Share of records (0..1) of each fault kind; the rest are valid. The shares must sum to <= 1."""

    malformed_json: float = 0.0
    schema_invalid: float = 0.0
    duplicate: float = 0.0
    late: float = 0.0
    out_of_order: float = 0.0
    unknown_portfolio: float = 0.0
    unknown_instrument: float = 0.0

    def allocate(self, count: int) -> dict[RecordKind, int]:
        """Exactly how many records of each kind ``count`` records hold (largest-remainder rounding)."""
        return _allocate(RECORD_KINDS, self.as_dict(), count)


@dataclass(frozen=True)
class TickFaultRates(_FaultShares):
    """Share of ticks (0..1) of each fault kind; the rest are valid. The shares must sum to <= 1."""

    malformed_json: float = 0.0
    non_positive_price: float = 0.0
    stale: float = 0.0
    out_of_order: float = 0.0
    unknown_instrument: float = 0.0

    def allocate(self, count: int) -> dict[TickKind, int]:
        """Exactly how many ticks of each kind ``count`` ticks hold (largest-remainder rounding)."""
        return _allocate(TICK_KINDS, self.as_dict(), count)


def _check_fault_shares(shares: dict[str, float]) -> None:
    for name, value in shares.items():
        if not 0.0 <= value <= 1.0 or math.isnan(value):
            raise ConfigError(f"fault rate {name}={value} must be between 0 and 1")
    if sum(shares.values()) > 1.0 + 1e-9:
        raise ConfigError(f"fault rates sum to {sum(shares.values()):.3f}; they must sum to at most 1")


def _allocate(kinds: tuple[KindT, ...], fault_shares: dict[str, float], count: int) -> dict[KindT, int]:
    """``count`` split over ``kinds`` (the first one, ``valid``, takes what the fault shares leave):
    each kind gets the floor of its exact share, and the records left over go to the largest
    remainders (ties in ``kinds`` order), so the counts always sum to ``count``."""
    shares = {kind: fault_shares.get(kind, 0.0) for kind in kinds}
    shares[kinds[0]] = max(0.0, 1.0 - sum(fault_shares.values()))
    exact = {kind: share * count for kind, share in shares.items()}
    counts = {kind: math.floor(value + 1e-9) for kind, value in exact.items()}
    remainder = count - sum(counts.values())
    by_fraction = sorted(kinds, key=lambda kind: (-(exact[kind] - counts[kind]), kinds.index(kind)))
    for kind in by_fraction[:remainder]:
        counts[kind] += 1
    return counts


@dataclass(frozen=True)
class SimulatedRecord(Generic[KindT]):
    """One Kafka record as the producer sends it, plus what the pipeline is expected to do with it.

    A trade event is a ``SimulatedRecord[RecordKind]``, a market data tick a ``SimulatedRecord[TickKind]``;
    the producer sends either one the same way.

    Attributes:
        key: the record key: a trade's ``portfolio_id`` (also for faulty events, so they land on
            the portfolio's partition), a tick's ``instrument_id``.
        value: the JSON payload, UTF-8 (not parseable for ``malformed_json``).
        headers: ``[("schema_version", b"1" | b"2")]``.
        kind: the expected fate, see the module docstring.
        event: the event or tick as a dict (the intended one, before truncation, for ``malformed_json``).
        detail: for ``schema_invalid``, which rule is broken (e.g. ``missing_price``); for
            ``non_positive_price``, ``zero_price`` or ``negative_price``; else "".
    """

    key: str
    value: bytes
    headers: list[tuple[str, bytes]]
    kind: KindT
    event: dict[str, Any]
    detail: str = ""

    @property
    def schema_version(self) -> int:
        return int(dict(self.headers)["schema_version"])


SCHEMA_BREAKS = (
    "missing_price",
    "missing_trade_ts",
    "negative_quantity",
    "zero_price",
    "invalid_side",
    "invalid_event_type",
    "invalid_currency",
    "trade_ts_without_millis",
    "invalid_event_id",
    "trade_version_zero",
    "unknown_schema_version",
)
"""The ways a ``schema_invalid`` record breaks the contract (recorded in ``SimulatedRecord.detail``).

Only breaks that every reader of the contract rejects: an extra field or a numeric string for a
decimal also fail the JSON Schema, but silver reads tolerantly and accepts them (see
transformations/parsing.py), so they would not have one expected fate."""


def format_ts(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, e.g. ``2026-11-24T09:30:00.123Z``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _isin(country: str, number: int) -> str:
    """An ISIN-shaped identifier with a valid check digit (ISO 6166, Luhn over the digit expansion)."""
    body = f"{country}{number:09d}"
    digits = "".join(str(int(char, 36)) for char in body)
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
        total += value // 10 + value % 10
    return f"{body}{(10 - total % 10) % 10}"


@dataclass
class _OpenTrade:
    event: dict[str, Any]


@dataclass
class _StreamState:
    """Mutable state of one ``events()`` run."""

    prices: np.ndarray
    open_trades: dict[str, _OpenTrade] = field(default_factory=dict)
    open_ids: list[str] = field(default_factory=list)
    sent_valid: list[SimulatedRecord[RecordKind]] = field(default_factory=list)
    trade_counter: int = 0
    holdings_usd: dict[tuple[str, str], float] = field(default_factory=dict)
    """Signed USD notional held per (portfolio, instrument) by the accepted trades sent so far."""


class MarketSimulator:
    """Reference data and a reproducible trade event stream for one seed.

    Args:
        seed: drives every random choice; the same seed gives the same reference data and events.
        n_portfolios: portfolios, spread round-robin over the five desks.
        n_instruments: instruments, spread round-robin over the five asset classes (at least 5).
        start: the stream clock's start (UTC); ``trade_ts`` of the first event.
        v2_share: share of events sent as schema_version 2 (with counterparty_id and strategy).
        amend_share, cancel_share: among valid events with open trades, the share of AMENDs and
            CANCELs; the rest are NEWs.
        lateness: how far behind the stream clock a ``late`` event's ``trade_ts`` is.
        reorder_window: an ``out_of_order`` event is sent 1..window records after its turn.
        market_speedup: market time passed per second of stream time (1 = real time, so prices
            barely move in a short test; 390 turns one stream second into one trading minute).
        reference_seed: drives the reference data alone (defaults to ``seed``). Keeping it fixed
            while ``seed`` changes gives new event streams (new event and trade ids) against the
            same book, which is what a re-run on existing tables needs.
    """

    def __init__(
        self,
        seed: int = 7,
        n_portfolios: int = 10,
        n_instruments: int = 40,
        *,
        start: datetime = DEFAULT_START,
        v2_share: float = 0.5,
        amend_share: float = 0.2,
        cancel_share: float = 0.1,
        lateness: timedelta = timedelta(hours=2),
        reorder_window: int = 5,
        market_speedup: float = 1.0,
        reference_seed: int | None = None,
    ) -> None:
        if n_portfolios < 1:
            raise ConfigError("n_portfolios must be at least 1")
        if n_instruments < len(_ASSET_CLASSES):
            raise ConfigError(f"n_instruments must be at least {len(_ASSET_CLASSES)} (one per asset class)")
        if start.tzinfo is None:
            raise ConfigError("start must be timezone-aware (UTC)")
        for name, share in (("v2_share", v2_share), ("amend_share", amend_share), ("cancel_share", cancel_share)):
            if not 0.0 <= share <= 1.0:
                raise ConfigError(f"{name}={share} must be between 0 and 1")
        if amend_share + cancel_share > 1.0:
            raise ConfigError("amend_share + cancel_share must be at most 1")
        if reorder_window < 1:
            raise ConfigError("reorder_window must be at least 1")
        if lateness <= timedelta(0):
            raise ConfigError("lateness must be positive")
        self.seed = seed
        self.reference_seed = seed if reference_seed is None else reference_seed
        self.start = start.astimezone(UTC)
        self.v2_share = v2_share
        self.amend_share = amend_share
        self.cancel_share = cancel_share
        self.lateness = lateness
        self.reorder_window = reorder_window
        self.market_speedup = market_speedup
        self._reference, self._loadings, self._mandates = self._build_reference(n_portfolios, n_instruments)
        self._instrument_index = {inst.instrument_id: i for i, inst in enumerate(self._reference.instruments)}
        self._usd_rate = {row.currency: row.usd_rate for row in self._reference.fx_rates}

    # ----------------------------------------------------------------- reference data

    def reference_data(self) -> ReferenceData:
        return self._reference

    def target_book(self) -> Any:
        """Every portfolio's mandate as positions at the reference prices: a pandas frame with the
        ``gold.positions`` columns risk reads (``market_value_base`` the signed target, in base currency)."""
        import pandas as pd

        instruments = self._reference.instruments
        rows = []
        for portfolio in self._reference.portfolios:
            mandate = self._mandates[portfolio.portfolio_id]
            for index, target_usd in zip(mandate.instruments, mandate.target_usd, strict=True):
                instrument = instruments[index]
                rows.append(
                    {
                        "portfolio_id": portfolio.portfolio_id,
                        "instrument_id": instrument.instrument_id,
                        "sector": instrument.sector,
                        "asset_class": instrument.asset_class,
                        "instrument_currency": instrument.currency,
                        "base_currency": portfolio.base_currency,
                        "market_value_base": float(target_usd) / self._usd_rate[portfolio.base_currency],
                        "daily_vol": instrument.daily_vol,
                    }
                )
        return pd.DataFrame(rows)

    def write_reference_csv(self, out_dir: Path) -> dict[str, Path]:
        """Write the reference CSV files (see :meth:`ReferenceData.write_csv`) into ``out_dir``."""
        return self._reference.write_csv(out_dir)

    def _build_reference(
        self, n_portfolios: int, n_instruments: int
    ) -> tuple[ReferenceData, np.ndarray, dict[str, _Mandate]]:
        rng = random.Random(f"reference-{self.reference_seed}")
        as_of = format_ts(self.start.replace(hour=0, minute=0, second=0, microsecond=0))
        fx_rates = tuple(
            FxRate(currency, 1.0 if currency == "USD" else round(rate * rng.uniform(0.97, 1.03), 6), as_of)
            for currency, rate in _USD_RATES.items()
        )
        usd_rate = {row.currency: row.usd_rate for row in fx_rates}

        classes = list(_ASSET_CLASSES)
        instruments: list[Instrument] = []
        for number in range(n_instruments):
            asset_class = classes[number % len(classes)]
            spec = _ASSET_CLASSES[asset_class]
            sector = spec.sectors[(number // len(classes)) % len(spec.sectors)]
            instruments.append(self._instrument(rng, number, asset_class, sector, spec, usd_rate))

        loadings = np.array(
            [[rng.uniform(0.2, 0.4), rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.6)] for _ in instruments]
        )
        matrix = _factor_correlation(instruments, loadings)
        correlations = self._correlations(instruments, matrix)
        vols = np.array([inst.daily_vol for inst in instruments])

        currencies = ["USD", "EUR", "GBP", "JPY", "CHF"]
        portfolios = []
        mandates = {}
        for number in range(n_portfolios):
            asset_class = classes[number % len(classes)]
            spec = _ASSET_CLASSES[asset_class]
            base = currencies[rng.randrange(len(currencies))]
            mandate = _mandate(rng, number, asset_class, instruments)
            members = list(mandate.instruments)
            exposure = mandate.target_usd * vols[members]
            covariance = matrix[np.ix_(members, members)]
            var_usd = NormalDist().inv_cdf(0.99) * math.sqrt(float(exposure @ covariance @ exposure))
            gross_usd = float(np.abs(mandate.target_usd).sum())
            use = rng.uniform(1.05, 1.15) if number % 5 == OVERSIZED_ROLE else rng.uniform(0.45, 0.85)
            var_use = rng.uniform(1.05, 1.15) if number % 5 == OVERSIZED_ROLE else rng.uniform(0.45, 0.85)
            portfolio_id = f"P-{number + 1:03d}"
            mandates[portfolio_id] = mandate
            stress_usd = _worst_stress_loss(mandate, instruments, base, usd_rate)
            portfolios.append(
                Portfolio(
                    portfolio_id=portfolio_id,
                    name=f"{_DESK_LABELS[asset_class]} Book {number + 1}",
                    desk=_DESKS[asset_class],
                    base_currency=base,
                    gross_limit=round(gross_usd / use / usd_rate[base], -3),
                    var_limit=round(var_usd / var_use / usd_rate[base], -3),
                    single_trade_limit=round(spec.usd_notional * rng.uniform(6.0, 8.0) / usd_rate[base], -3),
                    # the same use as the VaR limit (no draw of its own, so the rest of the data keeps its seed)
                    stress_loss_limit=round(stress_usd / var_use / usd_rate[base], -3) if stress_usd > 0 else None,
                )
            )
        history = _price_history(
            instruments, loadings, matrix, fx_rates, self.start.date(), self.reference_seed, HISTORY_DAYS
        )
        reference = ReferenceData(tuple(portfolios), tuple(instruments), fx_rates, tuple(correlations), history)
        return reference, loadings, mandates

    @staticmethod
    def _instrument(
        rng: random.Random,
        number: int,
        asset_class: str,
        sector: str,
        spec: _AssetClassSpec,
        usd_rate: dict[str, float],
    ) -> Instrument:
        """Instrument number ``number``. Ids are unique: ISIN-shaped for equity and credit, the
        currency pair for FX spot (USD quoted; a numeric suffix once every pair is taken), a root +
        sector + number for futures."""
        country = rng.choice(sorted(_COUNTRIES))
        currency = _COUNTRIES[country]
        low, high = spec.price_range
        price = round(math.exp(rng.uniform(math.log(low), math.log(high))), 4)
        vol = round(rng.uniform(*spec.vol_range), 4)
        multiplier = float(rng.choice(spec.multipliers))
        if asset_class == "fx":
            pairs = [currency for currency in _USD_RATES if currency != "USD"]
            nth = number // len(_ASSET_CLASSES)
            base_ccy = pairs[nth % len(pairs)]
            suffix = "" if nth < len(pairs) else f"{nth:03d}"
            instrument_id, name, currency, country = f"{base_ccy}USD{suffix}", f"{base_ccy} / USD spot", "USD", "US"
            price = round(usd_rate[base_ccy], 6)
        elif asset_class in ("equity", "credit"):
            instrument_id = _isin(country, 100_000 + number)
            kind = "Corp" if asset_class == "equity" else "Bond"
            name = f"{sector.replace('_', ' ').title()} {kind} {number + 1}"
        else:
            root = {"rates": "FUT", "commodity": "CMD"}[asset_class]
            instrument_id = f"{root}{sector[:3].upper()}{number:03d}"
            name = f"{sector.title()} future {number + 1}"
        return Instrument(instrument_id, name, asset_class, sector, country, currency, multiplier, vol, price)

    @staticmethod
    def _correlations(instruments: list[Instrument], matrix: np.ndarray) -> list[Correlation]:
        """Instrument pairs (the factor model's correlation) and sector pairs (mean over their instruments)."""
        rows = []
        order = sorted(range(len(instruments)), key=lambda i: instruments[i].instrument_id)
        for a_pos, i in enumerate(order):
            for j in order[a_pos + 1 :]:
                rows.append(
                    Correlation(
                        "instrument", instruments[i].instrument_id, instruments[j].instrument_id, float(matrix[i, j])
                    )
                )
        sectors = sorted({inst.sector for inst in instruments})
        members = {sector: [i for i, inst in enumerate(instruments) if inst.sector == sector] for sector in sectors}
        for a_pos, left in enumerate(sectors):
            for right in sectors[a_pos + 1 :]:
                values = [matrix[i, j] for i in members[left] for j in members[right]]
                rows.append(Correlation("sector", left, right, round(float(np.mean(values)), 6)))
        return rows

    # ----------------------------------------------------------------- events

    def events(
        self,
        count: int | None = None,
        *,
        duration_s: float | None = None,
        rate: float = 100.0,
        faults: FaultRates | None = None,
    ) -> Iterator[SimulatedRecord[RecordKind]]:
        """Yield ``count`` records (or ``duration_s x rate``), deterministically for the seed.

        Args:
            count: how many records; exactly one of ``count`` and ``duration_s``.
            duration_s: stream time to cover; ``round(duration_s * rate)`` records.
            rate: events per second of stream time (spaces ``trade_ts``; the producer paces sends).
            faults: shares of injected faults; none by default.
        """
        if (count is None) == (duration_s is None):
            raise ConfigError("give exactly one of count or duration")
        if rate <= 0:
            raise ConfigError("rate must be positive")
        total = count if count is not None else round((duration_s or 0.0) * rate)
        if total < 0:
            raise ConfigError("count must not be negative")
        faults = faults or FaultRates()
        kinds = self._kind_sequence(total, faults)
        return self._stream(kinds, rate)

    def _kind_sequence(self, total: int, faults: FaultRates) -> list[RecordKind]:
        allocation = faults.allocate(total)
        if allocation["duplicate"] and not allocation["valid"]:
            raise ConfigError("duplicates resend valid events: leave some share valid")
        kinds: list[RecordKind] = [kind for kind in RECORD_KINDS for _ in range(allocation[kind])]
        random.Random(f"kinds-{self.seed}").shuffle(kinds)
        first_valid = kinds.index("valid") if "valid" in kinds else total
        if "duplicate" in kinds[:first_valid]:  # nothing to resend yet: the first valid goes before it
            position = kinds.index("duplicate")
            kinds[position], kinds[first_valid] = kinds[first_valid], kinds[position]
        return kinds

    def _stream(self, kinds: list[RecordKind], rate: float) -> Iterator[SimulatedRecord[RecordKind]]:
        rng = random.Random(f"events-{self.seed}")
        np_rng = np.random.default_rng(self.seed)
        instruments = self._reference.instruments
        state = _StreamState(prices=np.array([inst.reference_price for inst in instruments]))
        vols = np.array([inst.daily_vol for inst in instruments])
        dt_days = self.market_speedup / rate / TRADING_SECONDS_PER_DAY
        held: list[tuple[int, SimulatedRecord[RecordKind]]] = []
        for position, kind in enumerate(kinds):
            now = self.start + timedelta(seconds=position / rate)
            self._step_market(state, np_rng, vols, dt_days)
            ready = [record for release, record in held if release <= position]
            held = [(release, record) for release, record in held if release > position]
            for record in ready:
                self._open(state, record)
                yield record
            record = self._record(kind, now, rng, state)
            if kind == "out_of_order":
                # released before record position + 2 .. + window + 1: 1..window later records go first
                held.append((position + 2 + rng.randrange(self.reorder_window), record))
                continue
            if kind == "valid":
                state.sent_valid.append(record)
            yield record
        for _, record in held:
            self._open(state, record)
            yield record

    def _step_market(self, state: _StreamState, np_rng: np.random.Generator, vols: np.ndarray, dt: float) -> None:
        """One GBM step (zero drift) with shocks from the factor model, so moves are correlated."""
        shocks = _factor_shocks(self._reference.instruments, self._loadings, np_rng)
        state.prices = state.prices * np.exp(-0.5 * vols**2 * dt + vols * math.sqrt(dt) * shocks)

    def _open(self, state: _StreamState, record: SimulatedRecord[RecordKind]) -> None:
        trade_id = record.event["trade_id"]
        state.open_trades[trade_id] = _OpenTrade(record.event)
        state.open_ids.append(trade_id)

    def _record(
        self, kind: RecordKind, now: datetime, rng: random.Random, state: _StreamState
    ) -> SimulatedRecord[RecordKind]:
        if kind == "duplicate":
            original = state.sent_valid[rng.randrange(len(state.sent_valid))]
            return SimulatedRecord(original.key, original.value, list(original.headers), "duplicate", original.event)
        if kind == "valid":
            event = self._lifecycle_event(now, rng, state)
        else:
            event = self._new_event(now, rng, state, register=False)
        detail = ""
        if kind in ("late", "out_of_order"):
            self._book(state, event, 1.0)  # accepted by silver: part of the book
        if kind == "late":
            event["trade_ts"] = format_ts(now - self.lateness)
        elif kind == "unknown_portfolio":
            event["portfolio_id"] = f"P-UNKNOWN-{rng.randrange(1000):03d}"
        elif kind == "unknown_instrument":
            event["instrument_id"] = f"UNKNOWN{rng.randrange(1_000_000):06d}"
        elif kind == "schema_invalid":
            detail = SCHEMA_BREAKS[rng.randrange(len(SCHEMA_BREAKS))]
            event = _break_schema(event, detail)
        value = json.dumps(event, separators=(",", ":")).encode("utf-8")
        if kind == "malformed_json":
            value = value[: rng.randrange(1, len(value) - 1)]
        header = str(event["schema_version"]).encode()
        return SimulatedRecord(
            str(event.get("portfolio_id", "")), value, [("schema_version", header)], kind, event, detail
        )

    def _lifecycle_event(self, now: datetime, rng: random.Random, state: _StreamState) -> dict[str, Any]:
        draw = rng.random()
        if state.open_ids and draw < self.amend_share + self.cancel_share:
            position = rng.randrange(len(state.open_ids))
            trade_id = state.open_ids[position]
            previous = state.open_trades[trade_id].event
            event = dict(previous)
            event["event_id"] = _uuid4(rng)
            event["trade_version"] = previous["trade_version"] + 1
            event["trade_ts"] = format_ts(now)
            self._book(state, previous, -1.0)
            if draw < self.amend_share:
                event["event_type"] = "AMEND"
                event["quantity"] = max(1, round(previous["quantity"] * rng.uniform(0.5, 1.5)))
                event["price"] = self._trade_price(state, previous["instrument_id"], rng)
                state.open_trades[trade_id] = _OpenTrade(event)
                self._book(state, event, 1.0)
            else:
                event["event_type"] = "CANCEL"
                del state.open_trades[trade_id]
                state.open_ids[position] = state.open_ids[-1]
                state.open_ids.pop()
            return event
        return self._new_event(now, rng, state, register=True)

    def _new_event(self, now: datetime, rng: random.Random, state: _StreamState, *, register: bool) -> dict[str, Any]:
        reference = self._reference
        portfolio = reference.portfolios[rng.randrange(len(reference.portfolios))]
        asset_class = next(name for name, desk in _DESKS.items() if desk == portfolio.desk)
        mandate = self._mandates[portfolio.portfolio_id]
        held = np.array(
            [
                state.holdings_usd.get((portfolio.portfolio_id, reference.instruments[i].instrument_id), 0.0)
                for i in mandate.instruments
            ]
        )
        gaps = mandate.target_usd - held
        weights = (np.abs(gaps) / np.abs(mandate.target_usd) + 0.05) ** PICK_POWER
        pick = rng.choices(range(len(weights)), weights=weights.tolist())[0]
        instrument = reference.instruments[mandate.instruments[pick]]
        towards = "BUY" if gaps[pick] > 0 else "SELL"
        side = towards if rng.random() < TOWARDS_TARGET else {"BUY": "SELL", "SELL": "BUY"}[towards]
        price = self._trade_price(state, instrument.instrument_id, rng)
        size_usd = _ASSET_CLASSES[asset_class].usd_notional * math.exp(rng.gauss(0.0, 0.6))
        quantity = max(1, round(size_usd / (price * instrument.multiplier * self._usd_rate[instrument.currency])))
        state.trade_counter += 1
        version = 2 if rng.random() < self.v2_share else 1
        event: dict[str, Any] = {
            "schema_version": version,
            "event_id": _uuid4(rng),
            "event_type": "NEW",
            "trade_id": f"T-{self.seed}-{state.trade_counter:08d}",
            "trade_version": 1,
            "portfolio_id": portfolio.portfolio_id,
            "instrument_id": instrument.instrument_id,
            "side": side,
            "quantity": quantity,
            "price": price,
            "currency": instrument.currency,
            "trade_ts": format_ts(now),
            "venue": "XOFF" if asset_class in ("fx", "rates", "credit") else _VENUES[instrument.country],
            "trader_id": f"TR-{portfolio.desk[:2].upper()}{rng.randrange(1, 20):02d}",
            "source_system": SOURCE_SYSTEM,
        }
        if version == 2:
            event["counterparty_id"] = f"CP-{rng.randrange(1, 50):04d}"
            event["strategy"] = rng.choice(("hedge", "market_making", "directional", "client_flow"))
        if register:
            state.open_trades[event["trade_id"]] = _OpenTrade(event)
            state.open_ids.append(event["trade_id"])
            self._book(state, event, 1.0)
        return event

    def _book(self, state: _StreamState, event: dict[str, Any], sign: float) -> None:
        """Add (``sign`` 1) or take back (-1) an accepted trade's signed USD notional in the holdings."""
        instrument = self._reference.instruments[self._instrument_index[event["instrument_id"]]]
        notional = event["quantity"] * event["price"] * instrument.multiplier * self._usd_rate[instrument.currency]
        key = (event["portfolio_id"], event["instrument_id"])
        side = 1.0 if event["side"] == "BUY" else -1.0
        state.holdings_usd[key] = state.holdings_usd.get(key, 0.0) + sign * side * notional

    def _trade_price(self, state: _StreamState, instrument_id: str, rng: random.Random) -> float:
        mid = float(state.prices[self._instrument_index[instrument_id]])
        return _round_price(mid * (1 + rng.uniform(-0.0005, 0.0005)))

    # ----------------------------------------------------------------- market data ticks

    def ticks(
        self,
        count: int | None = None,
        *,
        duration_s: float | None = None,
        rate: float = DEFAULT_TICK_RATE,
        trade_rate: float = 100.0,
        faults: TickFaultRates | None = None,
        fx_share: float = 0.15,
        staleness: timedelta = timedelta(minutes=10),
    ) -> Iterator[SimulatedRecord[TickKind]]:
        """Yield ``count`` price and FX ticks (or ``duration_s x rate``), deterministically for the seed.

        Args:
            count: how many ticks; exactly one of ``count`` and ``duration_s``.
            duration_s: stream time to cover; ``round(duration_s * rate)`` ticks.
            rate: ticks per second of stream time (spaces ``tick_ts``; the producer paces sends).
            trade_rate: the ``rate`` of the trade stream (:meth:`events`, same seed and start) whose
                price path the PRICE ticks quote.
            faults: shares of injected faults; none by default.
            fx_share: share of FX ticks among the ticks that may be FX (valid, malformed_json,
                non_positive_price and stale ones): ``fx_share x those``, rounded half up, exactly.
            staleness: how far behind the stream clock a ``stale`` tick's ``tick_ts`` is.
        """
        if (count is None) == (duration_s is None):
            raise ConfigError("give exactly one of count or duration")
        if rate <= 0 or trade_rate <= 0:
            raise ConfigError("rate and trade_rate must be positive")
        if not 0.0 <= fx_share <= 1.0:
            raise ConfigError(f"fx_share={fx_share} must be between 0 and 1")
        if staleness <= timedelta(0):
            raise ConfigError("staleness must be positive")
        total = count if count is not None else round((duration_s or 0.0) * rate)
        if total < 0:
            raise ConfigError("count must not be negative")
        slots, releases = self._tick_plan(total, faults or TickFaultRates(), fx_share)
        return self._tick_stream(slots, releases, rate, trade_rate, staleness)

    def _tick_plan(
        self, total: int, faults: TickFaultRates, fx_share: float
    ) -> tuple[list[_TickSlot], dict[int, list[int]]]:
        """What each position quotes, and after which valid tick each ``out_of_order`` one is sent.

        An ``out_of_order`` tick quotes what the next valid tick quotes and is released right after
        it; so every one needs a valid tick after it (the last ``out_of_order`` and the last valid
        position trade places when needed).
        """
        allocation = faults.allocate(total)
        kinds: list[TickKind] = [kind for kind in TICK_KINDS for _ in range(allocation[kind])]
        rng = random.Random(f"tick-plan-{self.seed}")
        rng.shuffle(kinds)
        if "out_of_order" in kinds:
            if "valid" not in kinds:
                raise ConfigError("out-of-order ticks are sent after a newer valid tick: leave some share valid")
            last_valid = total - 1 - kinds[::-1].index("valid")
            last_held = total - 1 - kinds[::-1].index("out_of_order")
            if last_held > last_valid:
                kinds[last_held], kinds[last_valid] = kinds[last_valid], kinds[last_held]
        may_be_fx = [position for position, kind in enumerate(kinds) if kind in _FX_TICK_KINDS]
        fx_positions = set(rng.sample(may_be_fx, math.floor(fx_share * len(may_be_fx) + 0.5)))
        currencies = [row.currency for row in self._reference.fx_rates if row.currency != "USD"]
        instruments = self._reference.instruments
        slots: list[_TickSlot] = []
        for position, kind in enumerate(kinds):
            if position in fx_positions:
                slots.append(_TickSlot(kind, "FX", currencies[rng.randrange(len(currencies))]))
            else:
                slots.append(_TickSlot(kind, "PRICE", instruments[rng.randrange(len(instruments))].instrument_id))
        releases: dict[int, list[int]] = {}
        newer = total
        for position in reversed(range(total)):
            if kinds[position] == "valid":
                newer = position
            elif kinds[position] == "out_of_order":
                slots[position] = _TickSlot("out_of_order", slots[newer].tick_type, slots[newer].quote)
                releases.setdefault(newer, []).insert(0, position)
        return slots, releases

    def _tick_stream(
        self,
        slots: list[_TickSlot],
        releases: dict[int, list[int]],
        rate: float,
        trade_rate: float,
        staleness: timedelta,
    ) -> Iterator[SimulatedRecord[TickKind]]:
        rng = random.Random(f"ticks-{self.seed}")
        instruments = self._reference.instruments
        # The trade stream's generator and steps (see _stream), replayed: the same price path exactly.
        market = _StreamState(prices=np.array([inst.reference_price for inst in instruments]))
        market_rng = np.random.default_rng(self.seed)
        vols = np.array([inst.daily_vol for inst in instruments])
        trade_dt_days = self.market_speedup / trade_rate / TRADING_SECONDS_PER_DAY
        trades_per_tick = Fraction(trade_rate) / Fraction(rate)
        market_steps = 0
        currencies = [row.currency for row in self._reference.fx_rates if row.currency != "USD"]
        usd_rates = np.array([self._usd_rate[currency] for currency in currencies])
        fx_rng = np.random.default_rng(random.Random(f"fx-ticks-{self.seed}").getrandbits(64))
        fx_dt_days = self.market_speedup / rate / TRADING_SECONDS_PER_DAY
        sequences: Counter[str] = Counter()
        held: dict[int, SimulatedRecord[TickKind]] = {}
        for position, slot in enumerate(slots):
            now = self.start + timedelta(seconds=position / rate)
            # A trade at this instant would be record floor(position x trade_rate / rate), priced after one more step.
            while market_steps <= math.floor(position * trades_per_tick):
                self._step_market(market, market_rng, vols, trade_dt_days)
                market_steps += 1
            shocks = fx_rng.standard_normal(len(currencies))
            usd_rates = usd_rates * np.exp(
                -0.5 * FX_DAILY_VOL**2 * fx_dt_days + FX_DAILY_VOL * math.sqrt(fx_dt_days) * shocks
            )
            if slot.tick_type == "FX":
                mid, currency = float(usd_rates[currencies.index(slot.quote)]), "USD"
            else:
                index = self._instrument_index[slot.quote]
                mid, currency = float(market.prices[index]), instruments[index].currency
            instrument_id = slot.quote
            if slot.kind == "unknown_instrument":
                instrument_id = f"UNKNOWN{rng.randrange(1_000_000):06d}"
            tick_ts = now - staleness if slot.kind == "stale" else now
            tick, detail = _tick(slot, instrument_id, mid, currency, tick_ts, sequences[instrument_id], rng)
            sequences[instrument_id] += 1
            record = _tick_record(slot.kind, tick, detail, rng)
            if slot.kind == "out_of_order":
                held[position] = record
                continue
            yield record
            for earlier in releases.get(position, ()):
                yield held.pop(earlier)


@dataclass(frozen=True)
class _TickSlot:
    """One position of a tick stream as planned: its kind, type and what it quotes (an instrument
    id for PRICE, the template of an ``unknown_instrument`` tick; a currency for FX)."""

    kind: TickKind
    tick_type: Literal["PRICE", "FX"]
    quote: str


def _tick(
    slot: _TickSlot,
    instrument_id: str,
    mid: float,
    currency: str,
    tick_ts: datetime,
    sequence: int,
    rng: random.Random,
) -> tuple[dict[str, Any], str]:
    """The tick of ``slot`` quoting ``mid``, and its fault detail (``zero_price`` / ``negative_price`` or "")."""
    tick: dict[str, Any] = {
        "schema_version": 1,
        "tick_id": _uuid4(rng),
        "tick_type": slot.tick_type,
        "instrument_id": instrument_id,
    }
    detail = ""
    if slot.kind == "non_positive_price":
        detail = rng.choice(("zero_price", "negative_price"))
        tick["price"] = 0.0 if detail == "zero_price" else -_round_price(mid)
    elif slot.tick_type == "PRICE" and rng.random() < QUOTE_SHARE:
        half_spread = mid * rng.uniform(*HALF_SPREAD)
        tick["bid"] = _round_price(mid - half_spread)
        tick["ask"] = _round_price(mid + half_spread)
    else:
        tick["price"] = _round_price(mid)
    tick.update(currency=currency, tick_ts=format_ts(tick_ts), source=TICK_SOURCE, sequence=sequence)
    return tick, detail


def _tick_record(kind: TickKind, tick: dict[str, Any], detail: str, rng: random.Random) -> SimulatedRecord[TickKind]:
    """The Kafka record of ``tick``: compact JSON (truncated for ``malformed_json``), keyed by instrument."""
    value = json.dumps(tick, separators=(",", ":")).encode("utf-8")
    if kind == "malformed_json":
        value = value[: rng.randrange(1, len(value) - 1)]
    return SimulatedRecord(tick["instrument_id"], value, [("schema_version", b"1")], kind, tick, detail)


def _round_price(price: float) -> float:
    """A price as trades and ticks quote it: 6 decimals below 10, else 4; at least one unit of the last decimal."""
    decimals = 6 if price < 10 else 4
    return max(round(price, decimals), 10.0**-decimals)


def _mandate(rng: random.Random, number: int, asset_class: str, instruments: list[Instrument]) -> _Mandate:
    """Portfolio ``number``'s targets: every instrument of ``asset_class``, mostly long, weights
    within +-20 % of equal (one at three times its weight for the :data:`CONCENTRATED_ROLE`)."""
    members = tuple(i for i, inst in enumerate(instruments) if inst.asset_class == asset_class)
    weights = np.array([rng.uniform(0.8, 1.2) for _ in members])
    if number % 5 == CONCENTRATED_ROLE:
        weights[rng.randrange(len(members))] *= 3.0
    units = rng.uniform(*TARGET_UNITS_PER_INSTRUMENT) * len(members)
    signs = np.array([1.0 if rng.random() < 0.75 else -1.0 for _ in members])
    target = signs * weights / weights.sum() * units * _ASSET_CLASSES[asset_class].usd_notional
    return _Mandate(members, target)


def _worst_stress_loss(
    mandate: _Mandate, instruments: list[Instrument], base: str, usd_rate: dict[str, float]
) -> float:
    """The largest loss, in USD, of the mandate's target book under the default stress scenarios."""
    import pandas as pd

    from riskstream.config import DEFAULT_STRESS_SCENARIOS
    from transformations.stress import portfolio_stress, worst_loss

    held = pd.DataFrame(
        {
            "instrument_id": [instruments[i].instrument_id for i in mandate.instruments],
            "sector": [instruments[i].sector for i in mandate.instruments],
            "asset_class": [instruments[i].asset_class for i in mandate.instruments],
            "instrument_currency": [instruments[i].currency for i in mandate.instruments],
            "base_currency": base,
            "market_value_base": mandate.target_usd / usd_rate[base],
        }
    )
    scenarios = [scenario.scenario() for scenario in DEFAULT_STRESS_SCENARIOS]
    return worst_loss(portfolio_stress(held, scenarios))[1] * usd_rate[base]


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _factor_correlation(instruments: tuple[Instrument, ...] | list[Instrument], loadings: np.ndarray) -> np.ndarray:
    """corr(i, j) = g_i g_j + [same asset class] a_i a_j + [same sector] s_i s_j, rounded to 6 places.

    The factor model makes the matrix positive semi-definite by construction; the idiosyncratic
    part tops each variance up to 1.
    """
    count = len(instruments)
    matrix = np.eye(count)
    for i in range(count):
        for j in range(i + 1, count):
            value = loadings[i, 0] * loadings[j, 0]
            if instruments[i].asset_class == instruments[j].asset_class:
                value += loadings[i, 1] * loadings[j, 1]
            if instruments[i].sector == instruments[j].sector:
                value += loadings[i, 2] * loadings[j, 2]
            matrix[i, j] = matrix[j, i] = round(float(value), 6)
    return matrix


def business_days_before(day: date, count: int) -> list[date]:
    """The ``count`` business days (Monday to Friday) before ``day``, oldest first."""
    days: list[date] = []
    current = day
    while len(days) < count:
        current -= timedelta(days=1)
        if current.weekday() < 5:
            days.append(current)
    return days[::-1]


def _price_history(
    instruments: list[Instrument],
    loadings: np.ndarray,
    correlation: np.ndarray,
    fx_rates: tuple[FxRate, ...],
    start: date,
    seed: int,
    days: int,
) -> tuple[PriceClose, ...]:
    """Daily closes over ``days`` returns ending on the business day before ``start`` at the reference
    price (instruments) and USD rate (non-USD currencies).

    Returns are log-normal steps of the factor model (:func:`_factor_shocks`) at each instrument's
    ``daily_vol`` and :data:`FX_DAILY_VOL` (independent FX shocks), all scaled by one GARCH(1,1)
    variance multiplier ``h``: ``h' = (1 - a - b) + a z^2 h + b h`` with ``z`` the day's equally
    weighted mean instrument shock, standardised by its factor-model variance. So calm and stormy
    spells alternate (volatility clustering) around each instrument's reference volatility. The path
    is built forward from 1 and scaled so the last close equals the reference level.
    """
    np_rng = np.random.default_rng(random.Random(f"history-{seed}").getrandbits(64))
    instrument_tuple = tuple(instruments)
    vols = np.array([inst.daily_vol for inst in instruments])
    currencies = [row for row in fx_rates if row.currency != "USD"]
    mean_shock_sd = math.sqrt(float(correlation.mean()))
    variance = 1.0
    log_returns = np.empty((days, len(instruments)))
    fx_log_returns = np.empty((days, len(currencies)))
    for day in range(days):
        shocks = _factor_shocks(instrument_tuple, loadings, np_rng)
        fx_shocks = np_rng.standard_normal(len(currencies))
        log_returns[day] = -0.5 * vols**2 * variance + vols * math.sqrt(variance) * shocks
        fx_log_returns[day] = -0.5 * FX_DAILY_VOL**2 * variance + FX_DAILY_VOL * math.sqrt(variance) * fx_shocks
        z = float(shocks.mean()) / mean_shock_sd
        variance = (1.0 - GARCH_ALPHA - GARCH_BETA) + GARCH_ALPHA * z**2 * variance + GARCH_BETA * variance
    dates = [day.isoformat() for day in business_days_before(start, days + 1)]
    rows: list[PriceClose] = []
    for factor_type, ids, levels, returns in (
        (
            "instrument",
            [inst.instrument_id for inst in instruments],
            [inst.reference_price for inst in instruments],
            log_returns,
        ),
        ("fx", [row.currency for row in currencies], [row.usd_rate for row in currencies], fx_log_returns),
    ):
        paths = np.exp(np.vstack([np.zeros((1, len(ids))), np.cumsum(returns, axis=0)]))
        closes = paths / paths[-1] * np.array(levels)
        for column, factor_id in enumerate(ids):
            rows.extend(
                PriceClose(factor_type, factor_id, as_of, float(f"{closes[row, column]:.10g}"))
                for row, as_of in enumerate(dates)
            )
    return tuple(rows)


def _factor_shocks(
    instruments: tuple[Instrument, ...], loadings: np.ndarray, np_rng: np.random.Generator
) -> np.ndarray:
    """Standard-normal shocks per instrument with the factor model's correlation."""
    classes = sorted({inst.asset_class for inst in instruments})
    sectors = sorted({inst.sector for inst in instruments})
    global_shock = np_rng.standard_normal()
    class_shocks = dict(zip(classes, np_rng.standard_normal(len(classes)), strict=True))
    sector_shocks = dict(zip(sectors, np_rng.standard_normal(len(sectors)), strict=True))
    idiosyncratic = np_rng.standard_normal(len(instruments))
    residual = np.sqrt(1.0 - (loadings**2).sum(axis=1))
    common = np.array(
        [
            loadings[i, 0] * global_shock
            + loadings[i, 1] * class_shocks[inst.asset_class]
            + loadings[i, 2] * sector_shocks[inst.sector]
            for i, inst in enumerate(instruments)
        ]
    )
    result: np.ndarray = common + residual * idiosyncratic
    return result


def _break_schema(event: dict[str, Any], how: str) -> dict[str, Any]:
    """A copy of ``event`` that breaks exactly one contract rule."""
    broken = dict(event)
    if how.startswith("missing_"):
        del broken[how.removeprefix("missing_")]
    elif how == "negative_quantity":
        broken["quantity"] = -abs(broken["quantity"])
    elif how == "zero_price":
        broken["price"] = 0
    elif how == "invalid_side":
        broken["side"] = "HOLD"
    elif how == "invalid_event_type":
        broken["event_type"] = "REPLACE"
    elif how == "invalid_currency":
        broken["currency"] = broken["currency"].lower()
    elif how == "trade_ts_without_millis":
        broken["trade_ts"] = broken["trade_ts"][:19] + "Z"
    elif how == "invalid_event_id":
        broken["event_id"] = "not-a-uuid"
    elif how == "trade_version_zero":
        broken["trade_version"] = 0
    elif how == "unknown_schema_version":
        broken["schema_version"] = 3
    else:
        raise ValueError(f"unknown schema break {how!r}")
    return broken
