"""Risk measures beyond parametric VaR: EWMA covariance, nearest correlation matrix, historical VaR,
Expected Shortfall and VaR backtesting statistics.

Pure functions on numpy arrays, no Spark and no I/O, tested against independent numpy/scipy
computations, closed forms and published worked examples. Conventions (the same as
:mod:`transformations.risk`): exposures are signed market values in base currency, returns are
simple daily returns as fractions, and VaR and ES are positive loss amounts.

* **EWMA** (RiskMetrics, J.P. Morgan/Reuters *RiskMetrics - Technical Document*, 1996): zero-mean
  covariance with weights ``(1 - lambda) lambda^k`` on the return ``k`` days back, normalised over
  the ``T`` returns available (``sum_k lambda^k`` for ``k < T``), so a short history is not biased
  towards zero: ``Sigma = sum_k lambda^k r_(T-k) r_(T-k)' / sum_k lambda^k``. It is the forecast for
  the day after the last return.
* **Nearest correlation matrix** (Higham, "Computing the nearest correlation matrix - a problem from
  finance", IMA J. Numer. Anal. 22, 2002): alternating projections with Dykstra's correction onto
  the positive semi-definite matrices and the unit-diagonal matrices, unit weights.
* **Historical simulation**: the P&L of scenario ``s`` is ``sum_i w_i r_(s,i)``; with ``N`` scenarios
  and confidence ``alpha``, the tail holds ``k = N (1 - alpha)`` scenarios. VaR is the
  ``ceil(k)``-th worst loss (with 500 scenarios, 99 % VaR is the 5th worst loss, Hull, *Risk
  Management and Financial Institutions*, historical simulation), and ES is the mean loss of the
  ``k`` worst scenarios, the last one weighted by the fractional part of ``k`` when ``k`` is not a
  whole number (Acerbi and Tasche, "Expected Shortfall: a natural coherent alternative to Value at
  Risk", 2002).
* **Parametric ES** of a zero-mean normal P&L: ``sigma phi(z_alpha) / (1 - alpha)``.
* **Backtesting** (Basel Committee, *Supervisory framework for the use of "backtesting" in
  conjunction with the internal models approach*, 1996; Kupiec 1995; Christoffersen 1998): an
  exception is a day whose loss exceeds that day's VaR. Kupiec's proportion-of-failures likelihood
  ratio tests the exception rate, Christoffersen's tests that an exception does not make the next
  one more likely; both are chi-squared with one degree of freedom. The traffic light counts
  exceptions of 99 % VaR over 250 days: green 0-4, yellow 5-9, red 10 or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

EWMA_DECAY = 0.94
"""RiskMetrics' lambda for daily data."""

TRAFFIC_LIGHT_DAYS = 250
"""The Basel traffic light's window: 250 trading days of 99 % one-day VaR."""

YELLOW_FROM_EXCEPTIONS = 5
RED_FROM_EXCEPTIONS = 10


# ------------------------------------------------------------------------------ EWMA covariance


def ewma_covariance(returns: np.ndarray, decay: float = EWMA_DECAY) -> np.ndarray:
    """RiskMetrics EWMA covariance of daily returns (rows: days, oldest first; columns: instruments).

    Raises:
        ValueError: no returns, a NaN return, or ``decay`` outside (0, 1).
    """
    returns = np.atleast_2d(np.asarray(returns, dtype=float))
    if returns.shape[0] == 0:
        raise ValueError("EWMA needs at least one day of returns")
    if not 0.0 < decay < 1.0:
        raise ValueError(f"EWMA decay {decay} must be strictly between 0 and 1")
    if np.isnan(returns).any():
        raise ValueError("EWMA returns contain NaN: give each instrument a complete history")
    days = returns.shape[0]
    weights = decay ** np.arange(days - 1, -1, -1, dtype=float)
    weights /= weights.sum()
    weighted: np.ndarray = (returns * weights[:, None]).T @ returns
    return weighted


def volatilities_and_correlation(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations and the correlation matrix of a covariance matrix; a zero-variance
    instrument gets correlation 0 with the others (1 with itself)."""
    vols = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    scale = np.where(vols > 0.0, vols, 1.0)
    correlation = covariance / np.outer(scale, scale)
    zero = vols == 0.0
    correlation[zero, :] = 0.0
    correlation[:, zero] = 0.0
    np.fill_diagonal(correlation, 1.0)
    return vols, np.clip(correlation, -1.0, 1.0)


# ------------------------------------------------------------------- nearest correlation matrix


@dataclass(frozen=True)
class Repaired:
    """A correlation matrix made positive semi-definite: ``matrix``, whether it had to change, the
    smallest eigenvalue before, and the iterations used."""

    matrix: np.ndarray
    repaired: bool
    min_eigenvalue_before: float
    iterations: int


def min_eigenvalue(matrix: np.ndarray) -> float:
    """The smallest eigenvalue of a symmetric matrix (0 for an empty one)."""
    if matrix.size == 0:
        return 0.0
    return float(np.linalg.eigvalsh(matrix).min())


def _project_psd(matrix: np.ndarray, floor: float) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    projected: np.ndarray = (vectors * np.clip(values, floor, None)) @ vectors.T
    return projected


def nearest_correlation(
    matrix: np.ndarray,
    *,
    tolerance: float = 1e-12,
    max_iterations: int = 1000,
    psd_tolerance: float = 1e-12,
    eigenvalue_floor: float = 0.0,
) -> Repaired:
    """The nearest correlation matrix in the Frobenius norm (Higham 2002, unit weights).

    A matrix whose smallest eigenvalue is at least ``-psd_tolerance`` is returned unchanged. Otherwise
    alternating projections with Dykstra's correction run until successive iterates differ by less
    than ``tolerance`` (relative, Frobenius), and the result is made exactly symmetric with a unit
    diagonal. ``eigenvalue_floor`` > 0 projects onto matrices whose eigenvalues are at least that
    (Higham's section 3.2 variant), so a repaired matrix is positive definite, not merely
    semi-definite: no book with a non-zero exposure then has a variance of 0.

    Raises:
        ValueError: a non-square matrix, or no convergence within ``max_iterations``.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a correlation matrix must be square, got shape {matrix.shape}")
    before = min_eigenvalue(matrix)
    if before >= -psd_tolerance:
        return Repaired(matrix.copy(), False, before, 0)
    y = matrix.copy()
    correction = np.zeros_like(matrix)
    for iteration in range(1, max_iterations + 1):
        r = y - correction
        x = _project_psd(r, eigenvalue_floor)
        correction = x - r
        previous = y
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if float(np.linalg.norm(y - previous)) <= tolerance * max(float(np.linalg.norm(y)), 1.0):
            result = (y + y.T) / 2.0
            np.fill_diagonal(result, 1.0)
            return Repaired(result, True, before, iteration)
    raise ValueError(f"the nearest correlation matrix did not converge in {max_iterations} iterations")


# ----------------------------------------------------------------------- VaR and Expected Shortfall


def scenario_pnl(exposures: np.ndarray, scenario_returns: np.ndarray) -> np.ndarray:
    """P&L per scenario of a book of signed exposures: ``scenario_returns @ exposures``."""
    pnl: np.ndarray = np.asarray(scenario_returns, dtype=float) @ np.asarray(exposures, dtype=float)
    return pnl


def _tail(pnl: np.ndarray, confidence: float) -> tuple[np.ndarray, float]:
    """Losses, worst first, and the tail size ``N (1 - confidence)``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence} must be strictly between 0 and 1")
    losses = -np.asarray(pnl, dtype=float)
    if losses.size == 0:
        raise ValueError("historical VaR needs at least one scenario")
    tail = losses.size * (1.0 - confidence)
    if tail < 1.0:
        raise ValueError(
            f"{losses.size} scenarios are too few for {confidence:.1%}: the tail needs at least one whole scenario"
        )
    return np.sort(losses)[::-1], tail


def historical_var(pnl: np.ndarray, confidence: float) -> float:
    """The ``ceil(N (1 - confidence))``-th worst loss of the scenario P&L (module docstring)."""
    worst_first, tail = _tail(pnl, confidence)
    # round first, so 500 x (1 - 0.99) = 5.000000000000004 counts as 5
    return float(worst_first[math.ceil(round(tail, 9)) - 1])


def historical_es(pnl: np.ndarray, confidence: float) -> float:
    """Mean loss of the ``N (1 - confidence)`` worst scenarios, a fractional last one weighted (module docstring)."""
    worst_first, tail = _tail(pnl, confidence)
    tail = round(tail, 9)
    whole = math.floor(tail)
    total = float(worst_first[:whole].sum())
    if tail > whole:
        total += (tail - whole) * float(worst_first[whole])
    return total / tail


def parametric_es(sigma: float, confidence: float, horizon_days: int = 1) -> float:
    """ES of a zero-mean normal P&L with standard deviation ``sigma``: ``sigma phi(z) / (1 - alpha) sqrt(h)``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence} must be strictly between 0 and 1")
    normal = NormalDist()
    return sigma * normal.pdf(normal.inv_cdf(confidence)) / (1.0 - confidence) * math.sqrt(horizon_days)


def overlapping_returns(prices: np.ndarray, horizon_days: int) -> np.ndarray:
    """Overlapping ``horizon_days`` simple returns from daily prices (rows: days, oldest first):
    ``P_(t+h) / P_t - 1`` for every ``t``."""
    prices = np.atleast_2d(np.asarray(prices, dtype=float))
    if horizon_days < 1 or prices.shape[0] <= horizon_days:
        raise ValueError(f"{prices.shape[0]} daily prices are too few for {horizon_days}-day returns")
    returns: np.ndarray = prices[horizon_days:] / prices[:-horizon_days] - 1.0
    return returns


# --------------------------------------------------------------------------------- backtesting


def chi2_1_sf(statistic: float) -> float:
    """Survival function of the chi-squared distribution with one degree of freedom: ``erfc(sqrt(x / 2))``."""
    return math.erfc(math.sqrt(max(statistic, 0.0) / 2.0))


def _log_likelihood(failures: int, successes: int, probability: float) -> float:
    """``failures ln p + successes ln (1 - p)``, with ``0 ln 0 = 0``."""
    total = 0.0
    if failures:
        total += failures * math.log(probability)
    if successes:
        total += successes * math.log(1.0 - probability)
    return total


@dataclass(frozen=True)
class Backtest:
    """VaR backtest figures over ``days`` days at ``confidence``."""

    days: int
    exceptions: int
    confidence: float
    kupiec_lr: float
    kupiec_p_value: float
    christoffersen_lr: float
    christoffersen_p_value: float
    traffic_light: str


def kupiec_pof(exceptions: int, days: int, confidence: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures likelihood ratio and its p-value (chi-squared, 1 degree of freedom)."""
    if days <= 0 or not 0 <= exceptions <= days:
        raise ValueError(f"{exceptions} exceptions in {days} days is not a backtest")
    expected = 1.0 - confidence
    observed = exceptions / days
    statistic = -2.0 * (
        _log_likelihood(exceptions, days - exceptions, expected)
        - _log_likelihood(exceptions, days - exceptions, observed)
    )
    statistic = max(statistic, 0.0)
    return statistic, chi2_1_sf(statistic)


def christoffersen_independence(hits: np.ndarray) -> tuple[float, float]:
    """Christoffersen's independence likelihood ratio of a 0/1 exception series, and its p-value.

    Counts the transitions ``n_ij`` from day ``t - 1`` in state ``i`` to day ``t`` in state ``j`` and
    compares one exception probability against one per previous state. A series without a single
    transition out of both states (all 0 or all 1) gives 0.
    """
    series = np.asarray(hits, dtype=int)
    if series.size < 2:
        return 0.0, 1.0
    previous, current = series[:-1], series[1:]
    n00 = int(((previous == 0) & (current == 0)).sum())
    n01 = int(((previous == 0) & (current == 1)).sum())
    n10 = int(((previous == 1) & (current == 0)).sum())
    n11 = int(((previous == 1) & (current == 1)).sum())
    pooled = (n01 + n11) / (n00 + n01 + n10 + n11)
    after_calm = n01 / (n00 + n01) if n00 + n01 else 0.0
    after_exception = n11 / (n10 + n11) if n10 + n11 else 0.0
    restricted = _log_likelihood(n01 + n11, n00 + n10, pooled)
    unrestricted = _log_likelihood(n01, n00, after_calm) + _log_likelihood(n11, n10, after_exception)
    statistic = max(-2.0 * (restricted - unrestricted), 0.0)
    return statistic, chi2_1_sf(statistic)


def traffic_light(exceptions: int) -> str:
    """The Basel zone of an exception count of 99 % VaR over 250 days: green 0-4, yellow 5-9, red 10+."""
    if exceptions < 0:
        raise ValueError(f"an exception count cannot be negative: {exceptions}")
    if exceptions >= RED_FROM_EXCEPTIONS:
        return "red"
    if exceptions >= YELLOW_FROM_EXCEPTIONS:
        return "yellow"
    return "green"


def backtest(losses: np.ndarray, var: np.ndarray, confidence: float) -> Backtest:
    """Backtest a VaR series against the losses (positive = loss) of the same days, oldest first.

    Raises:
        ValueError: the two series differ in length or are empty.
    """
    losses = np.asarray(losses, dtype=float)
    var = np.asarray(var, dtype=float)
    if losses.shape != var.shape or losses.size == 0:
        raise ValueError(f"losses ({losses.shape}) and VaR ({var.shape}) must be two series of the same days")
    hits = (losses > var).astype(int)
    exceptions = int(hits.sum())
    kupiec = kupiec_pof(exceptions, hits.size, confidence)
    independence = christoffersen_independence(hits)
    return Backtest(
        days=int(hits.size),
        exceptions=exceptions,
        confidence=confidence,
        kupiec_lr=kupiec[0],
        kupiec_p_value=kupiec[1],
        christoffersen_lr=independence[0],
        christoffersen_p_value=independence[1],
        traffic_light=traffic_light(exceptions),
    )


def ewma_covariance_path(returns: np.ndarray, decay: float = EWMA_DECAY) -> np.ndarray:
    """The EWMA covariance forecast for each day from the returns before it: element ``t`` equals
    :func:`ewma_covariance` of ``returns[:t]`` (NaN for ``t = 0``, which has no history).

    The normalised sums are carried forward (``A_t = lambda A_(t-1) + r_(t-1) r_(t-1)'``, ``W_t = lambda
    W_(t-1) + 1``, ``Sigma_t = A_t / W_t``), so a backtest's daily forecasts cost one outer product a day.
    """
    returns = np.atleast_2d(np.asarray(returns, dtype=float))
    if not 0.0 < decay < 1.0:
        raise ValueError(f"EWMA decay {decay} must be strictly between 0 and 1")
    days, size = returns.shape
    path = np.full((days, size, size), np.nan)
    weighted = np.zeros((size, size))
    weight = 0.0
    for day in range(1, days):
        previous = returns[day - 1]
        weighted = decay * weighted + np.outer(previous, previous)
        weight = decay * weight + 1.0
        path[day] = weighted / weight
    return path
