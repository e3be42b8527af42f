"""Portfolio risk maths: exposure, concentration and parametric (variance-covariance) VaR.

Pure functions on numpy arrays / pandas frames, no Spark and no I/O, so they are tested directly
against an independent numpy computation and a published worked example. gold applies them per
portfolio with ``applyInPandas`` (:func:`transformations.gold.portfolio_risk`).

Conventions:

* **Exposure** ``w_i`` of a position is its market value in the portfolio's base currency,
  signed: long positions are positive, short positions negative
  (``net_quantity x last_price x multiplier x fx_rate_to_base``).
* **Gross exposure** is ``sum |w_i|``; **net exposure** is ``sum w_i``.
* **Shares** are ``|w_i| / gross``; the **largest position share** is their maximum and the
  **Herfindahl index** ``sum share_i^2`` (1 for a single position, 1/n for n equal ones). Both are
  undefined (None) for an empty or flat portfolio (gross = 0).
* **Volatility** ``sigma_i`` is the instrument's daily return volatility as a fraction (0.02 = 2 %).
* **Correlation** ``rho_ij`` comes from reference data: 1 for the same instrument, else the
  instrument pair if present, else the sector pair (two different sectors) if present, else
  :data:`DEFAULT_CORRELATION` (0, independent). Two instruments of the same sector with no
  instrument row therefore get the default: reference data has no intra-sector rows (pairs are
  stored once with ``left_id < right_id``); lookups order the pair first.
* **VaR** is a positive loss amount in base currency: ``z_alpha x sigma_p x sqrt(h)`` with
  ``sigma_p = sqrt(w' Sigma w)``, ``Sigma_ij = rho_ij sigma_i sigma_j``, a zero-mean normal
  one-day P&L and the square-root-of-time rule for an ``h``-day horizon (Hull, *Risk Management
  and Financial Institutions*, the model-building approach).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

DEFAULT_CORRELATION = 0.0
"""Correlation assumed between two different instruments with no instrument or sector row."""

VAR_CONFIDENCES = (0.95, 0.99)
VAR_HORIZONS_DAYS = (1, 10)


def z_score(confidence: float) -> float:
    """One-sided standard normal quantile: 1.6448536269514722 at 0.95, 2.3263478740408408 at 0.99."""
    return NormalDist().inv_cdf(confidence)


@dataclass(frozen=True)
class CorrelationTable:
    """Correlation reference data as two lookups keyed by the ordered pair ``(left_id, right_id)``."""

    instrument_pairs: Mapping[tuple[str, str], float]
    sector_pairs: Mapping[tuple[str, str], float]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, str, float]]) -> CorrelationTable:
        """Build from ``(level, left_id, right_id, correlation)`` rows (the CORRELATIONS_DDL columns)."""
        instruments: dict[tuple[str, str], float] = {}
        sectors: dict[tuple[str, str], float] = {}
        for level, left_id, right_id, correlation in rows:
            key = (min(left_id, right_id), max(left_id, right_id))
            (instruments if level == "instrument" else sectors)[key] = float(correlation)
        return cls(instruments, sectors)

    def correlation(self, instrument_a: str, sector_a: str | None, instrument_b: str, sector_b: str | None) -> float:
        """rho between two positions, by the lookup rule in the module docstring."""
        if instrument_a == instrument_b:
            return 1.0
        pair = (min(instrument_a, instrument_b), max(instrument_a, instrument_b))
        if pair in self.instrument_pairs:
            return self.instrument_pairs[pair]
        if sector_a is not None and sector_b is not None and sector_a != sector_b:
            sector_pair = (min(sector_a, sector_b), max(sector_a, sector_b))
            if sector_pair in self.sector_pairs:
                return self.sector_pairs[sector_pair]
        return DEFAULT_CORRELATION

    def matrix(self, instrument_ids: Sequence[str], sectors: Sequence[str | None]) -> np.ndarray:
        """The correlation matrix for positions in this order (symmetric, ones on the diagonal)."""
        size = len(instrument_ids)
        rho = np.eye(size)
        for i in range(size):
            for j in range(i + 1, size):
                rho[i, j] = rho[j, i] = self.correlation(instrument_ids[i], sectors[i], instrument_ids[j], sectors[j])
        return rho


def covariance_matrix(daily_vols: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """``Sigma_ij = rho_ij sigma_i sigma_j`` (daily return covariance, fractions squared)."""
    return correlation * np.outer(daily_vols, daily_vols)


def portfolio_sigma(exposures: np.ndarray, daily_vols: np.ndarray, correlation: np.ndarray) -> float:
    """Standard deviation of the one-day P&L in base currency: ``sqrt(w' Sigma w)``."""
    if exposures.size == 0:
        return 0.0
    variance = float(exposures @ covariance_matrix(daily_vols, correlation) @ exposures)
    return math.sqrt(max(variance, 0.0))


def parametric_var(sigma_p: float, z: float, horizon_days: int) -> float:
    """Variance-covariance VaR: ``z x sigma_p x sqrt(horizon_days)``, a positive loss in base currency."""
    return z * sigma_p * math.sqrt(horizon_days)


def concentration(exposures: np.ndarray) -> tuple[float, float, float | None, float | None]:
    """``(gross, net, largest_position_share, herfindahl)`` of signed exposures; shares None when gross is 0."""
    gross = float(np.abs(exposures).sum())
    net = float(exposures.sum())
    if gross == 0.0:
        return gross, net, None, None
    shares = np.abs(exposures) / gross
    return gross, net, float(shares.max()), float((shares**2).sum())


PORTFOLIO_RISK_COLUMNS = (
    "portfolio_id",
    "position_count",
    "gross_exposure_base",
    "net_exposure_base",
    "exposure_by_asset_class",
    "largest_position_share",
    "herfindahl_index",
    "sigma_1d_base",
    "var_95_1d",
    "var_99_1d",
    "var_95_10d",
    "var_99_10d",
    "gross_limit",
    "var_limit",
    "gross_limit_utilisation",
    "var_limit_utilisation",
)


def _ratio(numerator: float, denominator: float | None) -> float | None:
    if denominator is None or (isinstance(denominator, float) and math.isnan(denominator)) or denominator == 0:
        return None
    return numerator / denominator


def portfolio_risk_frame(positions: pd.DataFrame, correlations: CorrelationTable) -> pd.DataFrame:
    """Risk of one portfolio from its positions: one output row (the PORTFOLIO_RISK_COLUMNS).

    Args:
        positions: the portfolio's positions, columns ``portfolio_id, instrument_id, sector,
            asset_class, market_value_base, daily_vol, gross_limit, var_limit``. Positions with a
            zero or null market value add nothing; a null ``daily_vol`` counts as 0 (no risk known).
        correlations: the correlation reference data.

    Returns:
        A one-row frame. Utilisations are None when the portfolio has no such limit.
    """
    portfolio_id = positions["portfolio_id"].iloc[0]
    held = positions[positions["market_value_base"].fillna(0.0) != 0.0].sort_values("instrument_id")
    exposures = held["market_value_base"].to_numpy(dtype=float)
    vols = held["daily_vol"].fillna(0.0).to_numpy(dtype=float)
    rho = correlations.matrix(list(held["instrument_id"]), list(held["sector"].where(held["sector"].notna(), None)))
    sigma = portfolio_sigma(exposures, vols, rho)
    gross, net, largest, herfindahl = concentration(exposures)
    by_class = held.groupby("asset_class", dropna=False)["market_value_base"].sum()
    gross_limit = positions["gross_limit"].iloc[0]
    var_limit = positions["var_limit"].iloc[0]
    gross_limit = None if pd.isna(gross_limit) else float(gross_limit)
    var_limit = None if pd.isna(var_limit) else float(var_limit)
    var = {
        (confidence, horizon): parametric_var(sigma, z_score(confidence), horizon)
        for confidence in VAR_CONFIDENCES
        for horizon in VAR_HORIZONS_DAYS
    }
    row = {
        "portfolio_id": portfolio_id,
        "position_count": len(held),
        "gross_exposure_base": gross,
        "net_exposure_base": net,
        "exposure_by_asset_class": {str(key): float(value) for key, value in sorted(by_class.items())},
        "largest_position_share": largest,
        "herfindahl_index": herfindahl,
        "sigma_1d_base": sigma,
        "var_95_1d": var[(0.95, 1)],
        "var_99_1d": var[(0.99, 1)],
        "var_95_10d": var[(0.95, 10)],
        "var_99_10d": var[(0.99, 10)],
        "gross_limit": gross_limit,
        "var_limit": var_limit,
        "gross_limit_utilisation": _ratio(gross, gross_limit),
        "var_limit_utilisation": _ratio(var[(0.99, 1)], var_limit),
    }
    return pd.DataFrame([row], columns=list(PORTFOLIO_RISK_COLUMNS))
