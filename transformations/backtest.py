"""VaR backtesting of today's book (pure pandas / numpy; the scheduled ``riskstream risk backtest`` job
reads and writes the tables, :mod:`jobs.backtest`).

For each of the last ``days`` days ``t`` (250 by default, the Basel window) the book's factor exposures
(:func:`transformations.risk.factor_exposures`, today's positions: a *hypothetical* backtest) are
revalued with the day's factor returns, ``P&L_t = sum_f e_f r_(t,f)``, and compared with the 99 % one-day
parametric VaR forecast for that day from the returns **before** it only:
``VaR_t = vol_scale x z_99 x sqrt(e' Sigma_t e)`` with ``Sigma_t`` the EWMA covariance of the returns up
to ``t - 1`` (:func:`transformations.risk_measures.ewma_covariance_path`). ``vol_scale`` is 1 for the
model as specified; a test halves it to show a mis-specified model failing. An exception is a day whose
loss ``-P&L_t`` exceeds ``VaR_t``; the exceptions feed Kupiec's and Christoffersen's tests and the Basel
traffic light (:func:`transformations.risk_measures.backtest`).

Returns are simple daily returns of the factors' closes on the union of their dates, a missing close
carried forward; a factor of the book without any close is left out (and listed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from transformations.risk_measures import Backtest, backtest, ewma_covariance_path

BACKTEST_DAYS = 250
BACKTEST_CONFIDENCE = 0.99

VAR_BACKTEST_DDL = (
    "portfolio_id string, as_of_date date, confidence double, days int, exceptions int, "
    "expected_exceptions double, kupiec_lr double, kupiec_p_value double, christoffersen_lr double, "
    "christoffersen_p_value double, traffic_light string, vol_scale double, ewma_decay double, "
    "unmodelled_factors array<string>, dates array<date>, var array<double>, pnl array<double>, "
    "computed_at timestamp"
)
"""gold.var_backtest (key portfolio_id): the last backtest of each portfolio's current book, with the
daily series it was judged on (``dates``, ``var``, ``pnl`` aligned, oldest first)."""


@dataclass(frozen=True)
class BookBacktest:
    """A book's backtest and the series behind it."""

    result: Backtest
    dates: list[object]
    var: np.ndarray
    pnl: np.ndarray
    unmodelled: list[str]


def factor_returns(closes: pd.DataFrame) -> pd.DataFrame:
    """Daily simple returns, date x factor key (``type:id``), from long closes
    (``factor_type, factor_id, as_of_date, close``) on the union of dates, missing closes carried forward."""
    keyed = closes.assign(factor=closes["factor_type"] + ":" + closes["factor_id"])
    wide = keyed.pivot_table(index="as_of_date", columns="factor", values="close", aggfunc="last").sort_index()
    returns: pd.DataFrame = wide.ffill().pct_change(fill_method=None).iloc[1:]
    return returns


def book_backtest(
    exposures: Mapping[str, float],
    returns: pd.DataFrame,
    *,
    decay: float,
    days: int = BACKTEST_DAYS,
    confidence: float = BACKTEST_CONFIDENCE,
    vol_scale: float = 1.0,
) -> BookBacktest:
    """Backtest the book ``exposures`` (factor key -> base-currency exposure) over the last ``days`` of
    ``returns`` (module docstring).

    Raises:
        ValueError: fewer than ``days + 1`` days of returns (the first forecast needs one day before it).
    """
    modelled = [key for key in exposures if key in returns.columns]
    unmodelled = [key for key in exposures if key not in returns.columns]
    if len(returns) < days + 1:
        raise ValueError(f"{len(returns)} days of returns are too few for a {days}-day backtest")
    matrix = returns[modelled].fillna(0.0).to_numpy()
    weights = np.array([exposures[key] for key in modelled])
    path = ewma_covariance_path(matrix, decay)[-days:]
    variance = np.einsum("i,tij,j->t", weights, path, weights)
    z = NormalDist().inv_cdf(confidence)
    var = vol_scale * z * np.sqrt(np.clip(variance, 0.0, None))
    pnl = matrix[-days:] @ weights
    return BookBacktest(backtest(-pnl, var, confidence), list(returns.index[-days:]), var, pnl, unmodelled)
