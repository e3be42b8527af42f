"""Risk factors from daily closes: returns, RiskMetrics EWMA volatilities and correlations, and the
historical scenarios (pure pandas / numpy; the scheduled ``riskstream risk factors`` job reads and
writes the tables, :mod:`jobs.risk_factors`).

A **risk factor** is an instrument's price in its own currency (``instrument``) or a currency's USD
rate (``fx``). Its daily closes are ``reference.price_history`` extended by ``silver.prices``: for
each UTC day after a factor's last history close, the day's latest tick (by ``tick_ts``, then
``sequence``) is that day's close, so today's close is provisional until the day ends.

* **Dates** are the union of every factor's close dates (the last ``scenario_days + 10`` of them);
  a factor without a close on a date keeps its previous close (a return of 0 that day, the whole
  move on its next close). Before its first close a factor has no return (NaN).
* **Returns** are simple daily returns ``close_t / close_(t-1) - 1``.
* A factor with at least ``min_history`` returns in the window is **modelled**: its EWMA volatility
  (:func:`transformations.risk_measures.ewma_covariance` over its complete returns) and, for each
  pair of modelled factors, the EWMA correlation over the dates both have returns. Others are left to
  the reference volatilities (instrument ``daily_vol``, ``risk.fx_daily_vol`` for a currency).
* **Scenarios** are the last ``scenario_days`` dates: per modelled factor, its 1-day returns on those
  dates and its overlapping 10-day returns ``close_t / close_(t-10) - 1`` ending on them (a factor
  with fewer returns than that gets 0 where it has none, and is flagged by ``observations``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from transformations.risk_measures import ewma_covariance, volatilities_and_correlation

FACTOR = ("factor_type", "factor_id")
TEN_DAYS = 10

RISK_FACTORS_DDL = (
    "factor_type string, factor_id string, daily_vol double, observations int, as_of_date date, "
    "ewma_decay double, scenario_returns_1d array<double>, scenario_returns_10d array<double>, "
    "computed_at timestamp"
)
"""gold.risk_factors: one row per modelled factor (key: factor_type, factor_id); the scenario arrays
are aligned on ``gold.risk_scenario_dates``."""

RISK_FACTOR_CORRELATIONS_DDL = (
    "left_type string, left_id string, right_type string, right_id string, correlation double, "
    "as_of_date date, computed_at timestamp"
)
"""gold.risk_factor_correlations: EWMA correlation of each pair of modelled factors, stored once with
``(left_type, left_id) < (right_type, right_id)``."""

RISK_SCENARIO_DATES_DDL = "scenario int, scenario_date date, as_of_date date, computed_at timestamp"
"""gold.risk_scenario_dates: the date of each scenario position (0 = oldest) of the arrays."""


def intraday_closes(ticks: pd.DataFrame) -> pd.DataFrame:
    """The latest tick of each factor and UTC day as that day's close.

    Args:
        ticks: ``tick_type`` (PRICE or FX), ``instrument_id``, ``price``, ``tick_ts`` (UTC), ``sequence``.

    Returns:
        ``factor_type, factor_id, as_of_date, close``.
    """
    if ticks.empty:
        return pd.DataFrame(columns=[*FACTOR, "as_of_date", "close"])
    frame = ticks.assign(
        factor_type=np.where(ticks["tick_type"] == "FX", "fx", "instrument"),
        factor_id=ticks["instrument_id"],
        as_of_date=pd.to_datetime(ticks["tick_ts"], utc=True).dt.date,
    ).sort_values(["tick_ts", "sequence"])
    latest = frame.groupby([*FACTOR, "as_of_date"], as_index=False).last()
    return latest.rename(columns={"price": "close"})[[*FACTOR, "as_of_date", "close"]]


def daily_closes(history: pd.DataFrame, intraday: pd.DataFrame) -> pd.DataFrame:
    """``history`` extended, per factor, by the intraday closes after its last history date."""
    if intraday.empty:
        return history[[*FACTOR, "as_of_date", "close"]].copy()
    last = history.groupby(list(FACTOR), as_index=False)["as_of_date"].max().rename(columns={"as_of_date": "last"})
    later = intraday.merge(last, on=list(FACTOR), how="left")
    later = later[later["last"].isna() | (later["as_of_date"] > later["last"])]
    return pd.concat([history, later.drop(columns="last")], ignore_index=True)[[*FACTOR, "as_of_date", "close"]]


@dataclass(frozen=True)
class FactorModel:
    """The factors modelled from history: volatilities, correlations and aligned scenarios."""

    factors: list[tuple[str, str]]
    daily_vols: np.ndarray
    observations: np.ndarray
    correlation: np.ndarray
    scenario_dates: list[object]
    scenario_returns_1d: np.ndarray
    """scenario x factor."""
    scenario_returns_10d: np.ndarray
    as_of_date: object


def wide_closes(closes: pd.DataFrame, keep_dates: int) -> pd.DataFrame:
    """Closes as a date x factor frame on the union of dates (the last ``keep_dates``), carried forward."""
    wide = closes.pivot_table(index="as_of_date", columns=list(FACTOR), values="close", aggfunc="last").sort_index()
    return wide.ffill().iloc[-keep_dates:]


def factor_model(closes: pd.DataFrame, *, decay: float, min_history: int, scenario_days: int) -> FactorModel:
    """EWMA volatilities and correlations of the factors with ``min_history`` returns, and their scenarios.

    Raises:
        ValueError: no close at all, or ``min_history`` below 2.
    """
    if closes.empty:
        raise ValueError("no daily closes: load reference.price_history (riskstream reference load)")
    if min_history < 2:
        raise ValueError(f"min_history {min_history} must be at least 2")
    wide = wide_closes(closes, scenario_days + TEN_DAYS + 1)
    returns = wide.pct_change(fill_method=None)
    counts = returns.notna().sum()
    modelled = [column for column in wide.columns if counts[column] >= min_history]
    returns = returns[modelled]
    vols = np.array([_ewma_vol(returns[column].dropna().to_numpy(), decay) for column in modelled])
    correlation = np.eye(len(modelled))
    for i in range(len(modelled)):
        for j in range(i + 1, len(modelled)):
            both = returns.iloc[:, [i, j]].dropna().to_numpy()
            if len(both) >= min_history:
                _, pair = volatilities_and_correlation(ewma_covariance(both, decay))
                correlation[i, j] = correlation[j, i] = pair[0, 1]
    ten_day = (wide[modelled] / wide[modelled].shift(TEN_DAYS) - 1.0).iloc[-scenario_days:]
    one_day = returns.iloc[-scenario_days:]
    return FactorModel(
        factors=[(str(kind), str(name)) for kind, name in modelled],
        daily_vols=vols,
        observations=np.array([int(counts[column]) for column in modelled]),
        correlation=correlation,
        scenario_dates=list(one_day.index),
        scenario_returns_1d=one_day.fillna(0.0).to_numpy(),
        scenario_returns_10d=ten_day.fillna(0.0).to_numpy(),
        as_of_date=wide.index[-1],
    )


def _ewma_vol(returns: np.ndarray, decay: float) -> float:
    return float(np.sqrt(ewma_covariance(returns[:, None], decay)[0, 0]))


def factor_rows(model: FactorModel, decay: float, computed_at: object) -> pd.DataFrame:
    """``gold.risk_factors`` rows of a model."""
    return pd.DataFrame(
        {
            "factor_type": [kind for kind, _ in model.factors],
            "factor_id": [name for _, name in model.factors],
            "daily_vol": model.daily_vols,
            "observations": model.observations.astype("int32"),
            "as_of_date": model.as_of_date,
            "ewma_decay": decay,
            "scenario_returns_1d": [model.scenario_returns_1d[:, i].tolist() for i in range(len(model.factors))],
            "scenario_returns_10d": [model.scenario_returns_10d[:, i].tolist() for i in range(len(model.factors))],
            "computed_at": computed_at,
        }
    )


def correlation_rows(model: FactorModel, computed_at: object) -> pd.DataFrame:
    """``gold.risk_factor_correlations`` rows: each pair once, the smaller ``(type, id)`` on the left."""
    rows = []
    order = sorted(range(len(model.factors)), key=lambda index: model.factors[index])
    for a_position, i in enumerate(order):
        for j in order[a_position + 1 :]:
            left, right = model.factors[i], model.factors[j]
            rows.append((*left, *right, float(model.correlation[i, j]), model.as_of_date, computed_at))
    return pd.DataFrame(
        rows, columns=["left_type", "left_id", "right_type", "right_id", "correlation", "as_of_date", "computed_at"]
    )


def scenario_date_rows(model: FactorModel, computed_at: object) -> pd.DataFrame:
    """``gold.risk_scenario_dates`` rows."""
    return pd.DataFrame(
        {
            "scenario": np.arange(len(model.scenario_dates), dtype="int32"),
            "scenario_date": model.scenario_dates,
            "as_of_date": model.as_of_date,
            "computed_at": computed_at,
        }
    )
