"""Portfolio risk maths: exposure, concentration, parametric (variance-covariance) and historical VaR,
Expected Shortfall.

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
* **Risk factors** (:func:`factor_exposures`): every instrument's price in its own currency
  (``instrument:<id>``) and every non-USD currency's USD rate (``fx:<ccy>``). A position of value
  ``w`` in currency ``c`` held in a book of base currency ``b`` is exposed ``w`` to its instrument,
  ``+w`` to ``fx:c`` and ``-w`` to ``fx:b`` (its base value is ``value_c x usd(c) / usd(b)``, so its
  return is, to first order, ``r_instrument + r_usd(c) - r_usd(b)``); USD, the numeraire, is no
  factor, and when ``c = b`` the two currency legs cancel. Exposures to one factor add up.
* **Volatility** ``sigma_f`` is a factor's daily return volatility as a fraction (0.02 = 2 %): its
  EWMA estimate from ``gold.risk_factors`` when it has one (:class:`FactorEstimates`), else the
  instrument's reference ``daily_vol`` or, for a currency, ``risk.fx_daily_vol``. Factors without an
  estimate are listed in ``unmodelled_factors``.
* **Correlation** ``rho_fg``: 1 for the same factor; the EWMA estimate when both have one; else, for
  two instruments, from reference data: the instrument pair if present, else the sector pair (two
  different sectors) if present, else ``risk.intra_sector_correlation`` for two instruments of one
  sector, else :data:`DEFAULT_CORRELATION` (0); any other pair 0. Reference pairs are stored once
  with ``left_id < right_id``; lookups order the pair first.
* A matrix mixed from these sources can fail to be positive semi-definite. One whose smallest
  eigenvalue is below ``-PSD_TOLERANCE`` is replaced by the nearest correlation matrix with
  eigenvalues of at least :data:`EIGENVALUE_FLOOR` (Higham 2002,
  :func:`transformations.risk_measures.nearest_correlation`) and flagged (``correlation_repaired``,
  with the smallest eigenvalue before the repair), so a non-empty book never gets a VaR of 0 from a
  clamped negative variance.
* **Parametric VaR** is a positive loss amount in base currency: ``z_alpha x sigma_p x sqrt(h)``
  with ``sigma_p = sqrt(e' Sigma e)`` over the factor exposures ``e``, ``Sigma_fg = rho_fg sigma_f
  sigma_g``, a zero-mean normal one-day P&L and the square-root-of-time rule for an ``h``-day horizon
  (Hull, *Risk Management and Financial Institutions*, the model-building approach). **Parametric
  ES** at 97.5 % is ``sigma_p phi(z) / (1 - alpha)``.
* **Historical VaR and ES** (:mod:`transformations.risk_measures`) revalue the book linearly in each
  scenario of ``gold.risk_factors``: ``P&L_s = sum_f e_f r_(s,f)`` over the modelled factors (an
  unmodelled factor contributes nothing and is flagged). 10-day figures come two ways, labelled: the
  1-day figure x sqrt(10) (``_10d_sqrt``) and the same quantile of the overlapping 10-day returns
  (``_10d_overlap``). None when there are no scenarios.
* **Stress** (:mod:`transformations.stress`): the portfolio's P&L under each scenario of ``risk.stress_scenarios``
  (``stress_pnl``), the worst scenario and its loss against the portfolio's ``stress_loss_limit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from transformations.risk_measures import (
    historical_es,
    historical_var,
    min_eigenvalue,
    nearest_correlation,
    parametric_es,
    scenario_pnl,
)
from transformations.stress import StressScenario, portfolio_stress, worst_loss

DEFAULT_CORRELATION = 0.0
"""Correlation assumed between two different factors with no estimate and no reference row."""
PSD_TOLERANCE = 1e-10
"""A correlation matrix whose smallest eigenvalue is at least ``-PSD_TOLERANCE`` is used as it is."""
EIGENVALUE_FLOOR = 1e-6
"""The smallest eigenvalue of a repaired correlation matrix."""
ES_CONFIDENCE = 0.975
USD = "USD"

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
    intra_sector: float = DEFAULT_CORRELATION
    """Two instruments of one sector with no instrument row (``risk.intra_sector_correlation``)."""

    @classmethod
    def from_rows(
        cls, rows: Sequence[tuple[str, str, str, float]], intra_sector: float = DEFAULT_CORRELATION
    ) -> CorrelationTable:
        """Build from ``(level, left_id, right_id, correlation)`` rows (the CORRELATIONS_DDL columns)."""
        instruments: dict[tuple[str, str], float] = {}
        sectors: dict[tuple[str, str], float] = {}
        for level, left_id, right_id, correlation in rows:
            key = (min(left_id, right_id), max(left_id, right_id))
            (instruments if level == "instrument" else sectors)[key] = float(correlation)
        return cls(instruments, sectors, intra_sector)

    def correlation(self, instrument_a: str, sector_a: str | None, instrument_b: str, sector_b: str | None) -> float:
        """rho between two positions, by the lookup rule in the module docstring."""
        if instrument_a == instrument_b:
            return 1.0
        pair = (min(instrument_a, instrument_b), max(instrument_a, instrument_b))
        if pair in self.instrument_pairs:
            return self.instrument_pairs[pair]
        if sector_a is not None and sector_b is not None:
            if sector_a == sector_b:
                return self.intra_sector
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


def factor_key(factor_type: str, factor_id: str) -> str:
    """``instrument:US0378331005`` or ``fx:EUR`` (the keys of ``gold.risk_factors``)."""
    return f"{factor_type}:{factor_id}"


@dataclass(frozen=True)
class FactorEstimates:
    """The EWMA estimates and scenarios of ``gold.risk_factors``, by :func:`factor_key`."""

    vols: Mapping[str, float] = field(default_factory=dict)
    correlations: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    returns_1d: Mapping[str, np.ndarray] = field(default_factory=dict)
    returns_10d: Mapping[str, np.ndarray] = field(default_factory=dict)
    scenario_count: int = 0

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> FactorEstimates:
        """Build from ``gold.risk_factors`` rows (``RISK_FACTORS_DDL`` columns, as mappings)."""
        if not rows:
            return cls()
        keys = [factor_key(row["factor_type"], row["factor_id"]) for row in rows]
        counts = {len(row["scenario_returns_1d"]) for row in rows} | {len(row["scenario_returns_10d"]) for row in rows}
        if len(counts) != 1:
            raise ValueError(f"gold.risk_factors: scenario arrays of different lengths {sorted(counts)}")
        return cls(
            vols={key: float(row["daily_vol"]) for key, row in zip(keys, rows, strict=True)},
            correlations={key: dict(row["correlations"] or {}) for key, row in zip(keys, rows, strict=True)},
            returns_1d={
                key: np.asarray(row["scenario_returns_1d"], dtype=float) for key, row in zip(keys, rows, strict=True)
            },
            returns_10d={
                key: np.asarray(row["scenario_returns_10d"], dtype=float) for key, row in zip(keys, rows, strict=True)
            },
            scenario_count=counts.pop(),
        )

    def correlation(self, left: str, right: str) -> float | None:
        """The EWMA correlation of two modelled factors, None when either has no estimate."""
        found = self.correlations.get(left, {}).get(right)
        return None if found is None else float(found)


@dataclass(frozen=True)
class RiskModel:
    """Everything a portfolio's risk needs besides its positions."""

    correlations: CorrelationTable
    estimates: FactorEstimates = field(default_factory=FactorEstimates)
    fx_daily_vol: float = 0.0
    """Daily volatility of a currency factor without an EWMA estimate (``risk.fx_daily_vol``)."""
    scenarios: tuple[StressScenario, ...] = ()
    """The stress scenarios (``risk.stress_scenarios``)."""


@dataclass(frozen=True)
class Factors:
    """A portfolio's risk factors: keys, net exposures in base currency, volatilities and correlation."""

    keys: list[str]
    exposures: np.ndarray
    vols: np.ndarray
    correlation: np.ndarray
    unmodelled: list[str]
    repaired: bool
    min_eigenvalue: float


def factor_exposures(held: pd.DataFrame) -> dict[str, float]:
    """Net exposure per factor key (module docstring), instruments first, in position order."""
    exposures: dict[str, float] = {}
    for row in held.itertuples(index=False):
        value = float(row.market_value_base)
        key = factor_key("instrument", row.instrument_id)
        exposures[key] = exposures.get(key, 0.0) + value
    for row in held.itertuples(index=False):
        value = float(row.market_value_base)
        currency, base = row.instrument_currency, row.base_currency
        if currency == base:
            continue
        for leg, sign in ((currency, 1.0), (base, -1.0)):
            if leg != USD:
                key = factor_key("fx", leg)
                exposures[key] = exposures.get(key, 0.0) + sign * value
    return exposures


def portfolio_factors(held: pd.DataFrame, model: RiskModel) -> Factors:
    """The factors of a portfolio's held positions, with volatilities and a usable correlation matrix."""
    exposures = factor_exposures(held)
    keys = list(exposures)
    instrument_rows = {factor_key("instrument", row.instrument_id): row for row in held.itertuples(index=False)}
    estimates = model.estimates
    vols, unmodelled = [], []
    for key in keys:
        if key in estimates.vols:
            vols.append(estimates.vols[key])
            continue
        unmodelled.append(key)
        if key in instrument_rows:
            vol = instrument_rows[key].daily_vol
            vols.append(0.0 if vol is None or pd.isna(vol) else float(vol))
        else:
            vols.append(model.fx_daily_vol)
    size = len(keys)
    rho = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            rho[i, j] = rho[j, i] = _factor_correlation(keys[i], keys[j], instrument_rows, model)
    smallest = min_eigenvalue(rho)
    repaired = smallest < -PSD_TOLERANCE
    if repaired:
        rho = nearest_correlation(rho, eigenvalue_floor=EIGENVALUE_FLOOR).matrix
    return Factors(
        keys, np.array([exposures[key] for key in keys]), np.array(vols), rho, unmodelled, repaired, smallest
    )


def _factor_correlation(left: str, right: str, instrument_rows: Mapping[str, Any], model: RiskModel) -> float:
    estimated = model.estimates.correlation(left, right)
    if estimated is not None:
        return estimated
    if left in instrument_rows and right in instrument_rows:
        a, b = instrument_rows[left], instrument_rows[right]
        return model.correlations.correlation(a.instrument_id, _sector(a.sector), b.instrument_id, _sector(b.sector))
    return DEFAULT_CORRELATION


def _sector(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


RISK_INPUT_COLUMNS = (
    "portfolio_id",
    "instrument_id",
    "sector",
    "asset_class",
    "base_currency",
    "instrument_currency",
    "market_value_base",
    "daily_vol",
    "gross_limit",
    "var_limit",
    "stress_loss_limit",
)
"""The columns :func:`portfolio_risk_frame` reads of each position."""

HISTORICAL_COLUMNS = (
    "hist_var_95_1d",
    "hist_var_99_1d",
    "hist_var_95_10d_sqrt",
    "hist_var_99_10d_sqrt",
    "hist_var_95_10d_overlap",
    "hist_var_99_10d_overlap",
    "es_975_1d_hist",
)

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
    "es_975_1d_param",
    *HISTORICAL_COLUMNS,
    "scenario_count",
    "unmodelled_factors",
    "correlation_repaired",
    "correlation_min_eigenvalue",
    "stress_pnl",
    "worst_stress_scenario",
    "worst_stress_loss_base",
    "stress_loss_limit",
    "stress_limit_utilisation",
)


def _ratio(numerator: float, denominator: float | None) -> float | None:
    if denominator is None or (isinstance(denominator, float) and math.isnan(denominator)) or denominator == 0:
        return None
    return numerator / denominator


def _tail_measure(measure: Callable[[np.ndarray, float], float], pnl: np.ndarray, confidence: float) -> float | None:
    """``measure`` of the scenario P&L; None when there are too few scenarios for ``confidence``."""
    try:
        return measure(pnl, confidence) + 0.0
    except ValueError:
        return None


def historical_measures(factors: Factors, estimates: FactorEstimates) -> dict[str, float | None]:
    """Historical VaR (1-day, 10-day by sqrt(10) and by overlapping returns) and ES of the modelled factors."""
    if estimates.scenario_count == 0:
        return dict.fromkeys(HISTORICAL_COLUMNS)
    modelled = [index for index, key in enumerate(factors.keys) if key in estimates.returns_1d]
    exposures = factors.exposures[modelled]
    one_day = np.zeros((estimates.scenario_count, len(modelled)))
    ten_day = np.zeros((estimates.scenario_count, len(modelled)))
    for column, index in enumerate(modelled):
        one_day[:, column] = estimates.returns_1d[factors.keys[index]]
        ten_day[:, column] = estimates.returns_10d[factors.keys[index]]
    pnl_1d, pnl_10d = scenario_pnl(exposures, one_day), scenario_pnl(exposures, ten_day)
    var_1d = {confidence: _tail_measure(historical_var, pnl_1d, confidence) for confidence in VAR_CONFIDENCES}
    var_10d = {confidence: _tail_measure(historical_var, pnl_10d, confidence) for confidence in VAR_CONFIDENCES}
    root_ten = math.sqrt(10)
    return {
        "hist_var_95_1d": var_1d[0.95],
        "hist_var_99_1d": var_1d[0.99],
        "hist_var_95_10d_sqrt": None if var_1d[0.95] is None else var_1d[0.95] * root_ten,
        "hist_var_99_10d_sqrt": None if var_1d[0.99] is None else var_1d[0.99] * root_ten,
        "hist_var_95_10d_overlap": var_10d[0.95],
        "hist_var_99_10d_overlap": var_10d[0.99],
        "es_975_1d_hist": _tail_measure(historical_es, pnl_1d, ES_CONFIDENCE),
    }


def portfolio_risk_frame(positions: pd.DataFrame, model: RiskModel) -> pd.DataFrame:
    """Risk of one portfolio from its positions: one output row (the PORTFOLIO_RISK_COLUMNS).

    Args:
        positions: the portfolio's positions, columns ``portfolio_id, instrument_id, sector,
            asset_class, base_currency, instrument_currency, market_value_base, daily_vol,
            gross_limit, var_limit, stress_loss_limit``. Positions with a zero or null market value add nothing; a null
            ``daily_vol`` (an instrument missing from reference data) counts as 0.
        model: correlations, EWMA estimates, fallbacks and stress scenarios.

    Returns:
        A one-row frame. Utilisations are None when the portfolio has no such limit.
    """
    portfolio_id = positions["portfolio_id"].iloc[0]
    held = positions[positions["market_value_base"].fillna(0.0) != 0.0].sort_values("instrument_id")
    exposures = held["market_value_base"].to_numpy(dtype=float)
    factors = portfolio_factors(held, model)
    sigma = portfolio_sigma(factors.exposures, factors.vols, factors.correlation)
    gross, net, largest, herfindahl = concentration(exposures)
    by_class = held.groupby("asset_class", dropna=False)["market_value_base"].sum()
    gross_limit = positions["gross_limit"].iloc[0]
    var_limit = positions["var_limit"].iloc[0]
    gross_limit = None if pd.isna(gross_limit) else float(gross_limit)
    var_limit = None if pd.isna(var_limit) else float(var_limit)
    stress_limit = positions["stress_loss_limit"].iloc[0]
    stress_limit = None if pd.isna(stress_limit) else float(stress_limit)
    stress = portfolio_stress(held, model.scenarios)
    worst_scenario, worst = worst_loss(stress)
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
        "es_975_1d_param": parametric_es(sigma, ES_CONFIDENCE),
        **historical_measures(factors, model.estimates),
        "scenario_count": model.estimates.scenario_count,
        "unmodelled_factors": factors.unmodelled,
        "correlation_repaired": factors.repaired,
        "correlation_min_eigenvalue": factors.min_eigenvalue,
        "stress_pnl": stress,
        "worst_stress_scenario": worst_scenario,
        "worst_stress_loss_base": worst,
        "stress_loss_limit": stress_limit,
        "stress_limit_utilisation": _ratio(worst, stress_limit),
    }
    return pd.DataFrame([row], columns=list(PORTFOLIO_RISK_COLUMNS))
