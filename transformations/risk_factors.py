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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from transformations.risk_measures import ewma_covariance, volatilities_and_correlation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FACTOR = ("factor_type", "factor_id")
TEN_DAYS = 10

RISK_FACTORS_DDL = (
    "factor_type string, factor_id string, daily_vol double, observations int, as_of_date date, "
    "ewma_decay double, correlations map<string, double>, scenario_dates array<date>, "
    "scenario_returns_1d array<double>, scenario_returns_10d array<double>, computed_at timestamp"
)
"""gold.risk_factors: one row per modelled factor (key: factor_type, factor_id), replaced as a whole by
one overwrite, so a reader never mixes two runs. ``correlations`` holds the EWMA correlation with every
other modelled factor, keyed :func:`factor_key`; the scenario arrays are aligned on ``scenario_dates``."""


def factor_key(factor_type: str, factor_id: str) -> str:
    """``instrument:US0378331005``, ``fx:EUR``: a factor's key in ``correlations`` and in flags."""
    return f"{factor_type}:{factor_id}"


def intraday_closes(ticks: DataFrame) -> DataFrame:
    """The latest tick (by ``tick_ts``, then ``sequence``) of each factor and UTC day as that day's close.

    Args:
        ticks: ``silver.prices`` (``tick_type`` PRICE or FX, ``instrument_id``, ``price``, ``tick_ts``, ``sequence``).

    Returns:
        ``factor_type, factor_id, as_of_date, close``.
    """
    from pyspark.sql import functions as F

    from transformations.marks import utc_date

    return ticks.groupBy(
        F.when(F.col("tick_type") == "FX", F.lit("fx")).otherwise(F.lit("instrument")).alias("factor_type"),
        F.col("instrument_id").alias("factor_id"),
        utc_date(F.col("tick_ts")).alias("as_of_date"),
    ).agg(F.max_by("price", F.struct("tick_ts", "sequence")).alias("close"))


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
    """``gold.risk_factors`` rows of a model (the columns of :data:`RISK_FACTORS_DDL`)."""
    keys = [factor_key(*factor) for factor in model.factors]
    return pd.DataFrame(
        {
            "factor_type": [kind for kind, _ in model.factors],
            "factor_id": [name for _, name in model.factors],
            "daily_vol": model.daily_vols,
            "observations": model.observations.astype("int32"),
            "as_of_date": model.as_of_date,
            "ewma_decay": decay,
            "correlations": [
                {other: float(model.correlation[i, j]) for j, other in enumerate(keys) if j != i}
                for i in range(len(keys))
            ],
            "scenario_dates": [list(model.scenario_dates)] * len(keys),
            "scenario_returns_1d": [model.scenario_returns_1d[:, i].tolist() for i in range(len(keys))],
            "scenario_returns_10d": [model.scenario_returns_10d[:, i].tolist() for i in range(len(keys))],
            "computed_at": computed_at,
        }
    )
