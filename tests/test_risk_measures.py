"""transformations.risk_measures against independent computations: pandas' EWMA, scipy's
distributions and integrals, Higham's published example, and hand-worked backtests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from transformations.risk_measures import (
    Backtest,
    backtest,
    chi2_1_sf,
    christoffersen_independence,
    ewma_covariance,
    ewma_covariance_path,
    historical_es,
    historical_var,
    kupiec_pof,
    min_eigenvalue,
    nearest_correlation,
    overlapping_returns,
    parametric_es,
    scenario_pnl,
    traffic_light,
    volatilities_and_correlation,
)

REL = 1e-9


def _returns(days: int, instruments: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(instruments, instruments)) * 0.01
    return rng.standard_normal((days, instruments)) @ mixing


# ----------------------------------------------------------------------------------------- EWMA


@pytest.mark.parametrize("decay", [0.94, 0.97])
def test_ewma_covariance_equals_pandas_exponentially_weighted_means_of_the_return_products(decay: float) -> None:
    returns = _returns(300, 4)
    frame = pd.DataFrame(returns)
    expected = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            products = frame[i] * frame[j]
            expected[i, j] = products.ewm(alpha=1 - decay, adjust=True).mean().iloc[-1]
    np.testing.assert_allclose(ewma_covariance(returns, decay), expected, rtol=REL, atol=0)


def test_ewma_of_one_day_is_the_outer_product_and_the_newest_day_weighs_most() -> None:
    day = np.array([[0.01, -0.02]])
    np.testing.assert_allclose(ewma_covariance(day), np.outer(day[0], day[0]), rtol=REL)
    calm_then_shock = np.vstack([np.full((99, 1), 0.001), [[0.05]]])
    shock_then_calm = calm_then_shock[::-1]
    total_weight = sum(0.94**k for k in range(100))
    newest_shock = (0.05**2 + 0.001**2 * sum(0.94**k for k in range(1, 100))) / total_weight
    oldest_shock = (0.001**2 * sum(0.94**k for k in range(99)) + 0.05**2 * 0.94**99) / total_weight
    assert ewma_covariance(calm_then_shock)[0, 0] == pytest.approx(newest_shock, rel=REL)
    assert ewma_covariance(shock_then_calm)[0, 0] == pytest.approx(oldest_shock, rel=REL)


@pytest.mark.parametrize(
    ("returns", "decay", "message"),
    [
        (np.empty((0, 2)), 0.94, "at least one day"),
        (np.ones((3, 2)), 1.0, "strictly between 0 and 1"),
        (np.array([[0.01, np.nan]]), 0.94, "NaN"),
    ],
)
def test_ewma_refuses_what_it_cannot_weigh(returns: np.ndarray, decay: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ewma_covariance(returns, decay)


def test_volatilities_and_correlation_split_a_covariance_and_leave_a_zero_variance_instrument_uncorrelated() -> None:
    covariance = np.array([[0.04, 0.006, 0.0], [0.006, 0.01, 0.0], [0.0, 0.0, 0.0]])
    vols, correlation = volatilities_and_correlation(covariance)
    np.testing.assert_allclose(vols, [0.2, 0.1, 0.0], rtol=REL)
    np.testing.assert_allclose(correlation, [[1.0, 0.3, 0.0], [0.3, 1.0, 0.0], [0.0, 0.0, 1.0]], rtol=REL)


# --------------------------------------------------------------------- nearest correlation matrix


def test_nearest_correlation_reproduces_highams_published_example() -> None:
    # Higham (2002), section 4: the nearest correlation matrix to this indefinite unit-diagonal matrix.
    indefinite = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    repaired = nearest_correlation(indefinite)
    published = np.array([[1.0, 0.7607, 0.1573], [0.7607, 1.0, 0.7607], [0.1573, 0.7607, 1.0]])
    np.testing.assert_allclose(repaired.matrix, published, atol=5e-5)
    assert repaired.repaired
    assert repaired.min_eigenvalue_before == pytest.approx(1 - math.sqrt(2), rel=REL)
    assert min_eigenvalue(repaired.matrix) >= -1e-10
    np.testing.assert_array_equal(np.diag(repaired.matrix), np.ones(3))
    np.testing.assert_array_equal(repaired.matrix, repaired.matrix.T)


def test_nearest_correlation_is_no_farther_than_any_other_correlation_matrix_on_a_grid() -> None:
    indefinite = np.array([[1.0, 0.9, -0.6], [0.9, 1.0, 0.2], [-0.6, 0.2, 1.0]])
    repaired = nearest_correlation(indefinite).matrix
    distance = np.linalg.norm(repaired - indefinite)
    grid = np.linspace(-1, 1, 41)
    best = math.inf
    for a in grid:
        for b in grid:
            for c in grid:
                candidate = np.array([[1.0, a, b], [a, 1.0, c], [b, c, 1.0]])
                if np.linalg.eigvalsh(candidate).min() >= 0:
                    best = min(best, float(np.linalg.norm(candidate - indefinite)))
    assert distance <= best + 1e-9


def test_a_positive_semi_definite_matrix_is_returned_unchanged() -> None:
    fine = np.array([[1.0, 0.5], [0.5, 1.0]])
    repaired = nearest_correlation(fine)
    np.testing.assert_array_equal(repaired.matrix, fine)
    assert (repaired.repaired, repaired.iterations) == (False, 0)
    assert repaired.min_eigenvalue_before == pytest.approx(0.5, rel=REL)


# -------------------------------------------------------------------------------------- VaR, ES


def test_historical_var_of_500_scenarios_at_99_percent_is_the_fifth_worst_loss() -> None:
    pnl = np.random.default_rng(3).normal(0, 1000, 500)
    worst_first = np.sort(-pnl)[::-1]
    assert historical_var(pnl, 0.99) == worst_first[4]
    assert historical_var(pnl, 0.95) == worst_first[24]


def _empirical_es(losses: np.ndarray, confidence: float) -> float:
    """(1 / (1 - a)) x the integral from a to 1 of the empirical loss quantile function (a step function)."""
    ascending = np.sort(losses)
    n = ascending.size
    edges = np.arange(n + 1) / n
    overlap = np.clip(edges[1:], confidence, 1.0) - np.clip(edges[:-1], confidence, 1.0)
    return float((ascending * overlap).sum() / (1.0 - confidence))


@pytest.mark.parametrize(("scenarios", "confidence"), [(500, 0.975), (500, 0.99), (250, 0.975), (1000, 0.95)])
def test_historical_es_equals_the_integral_of_the_empirical_quantile_function(
    scenarios: int, confidence: float
) -> None:
    pnl = np.random.default_rng(scenarios).standard_t(4, scenarios) * 1000
    assert historical_es(pnl, confidence) == pytest.approx(_empirical_es(-pnl, confidence), rel=REL)


def test_historical_es_of_a_hand_worked_tail() -> None:
    # 40 scenarios at 97.5 %: the tail is one scenario, the worst loss; at 95 %, the mean of the two worst.
    pnl = np.concatenate([[-900.0, -500.0, -300.0], np.linspace(-100, 400, 37)])
    assert historical_es(pnl, 0.975) == 900.0
    assert historical_es(pnl, 0.95) == 700.0
    assert historical_var(pnl, 0.95) == 500.0
    # 100 scenarios at 97.5 %: 2.5 scenarios, (900 + 500 + 0.5 x 300) / 2.5
    more = np.concatenate([[-900.0, -500.0, -300.0], np.linspace(0, 500, 97)])
    assert historical_es(more, 0.975) == pytest.approx(620.0, rel=REL)


def test_too_few_scenarios_for_the_tail_are_refused() -> None:
    with pytest.raises(ValueError, match=r"too few for 99\.0%"):
        historical_var(np.zeros(50), 0.99)


@pytest.mark.parametrize(("confidence", "horizon"), [(0.975, 1), (0.99, 1), (0.95, 10)])
def test_parametric_es_equals_the_closed_form_and_the_integral_of_the_normal_tail(
    confidence: float, horizon: int
) -> None:
    sigma = 125_000.0
    closed_form = sigma * stats.norm.pdf(stats.norm.ppf(confidence)) / (1 - confidence) * math.sqrt(horizon)
    # E[L | L > VaR] of L ~ N(0, (sigma sqrt(h))^2), integrated in standard units up to 40 sigma
    tail, _ = integrate.quad(lambda x: x * stats.norm.pdf(x), stats.norm.ppf(confidence), 40.0, epsabs=0, epsrel=1e-13)
    assert parametric_es(sigma, confidence, horizon) == pytest.approx(closed_form, rel=REL)
    assert parametric_es(sigma, confidence, horizon) == pytest.approx(
        sigma * math.sqrt(horizon) * tail / (1 - confidence), rel=REL
    )


def test_scenario_pnl_and_overlapping_returns_equal_pandas() -> None:
    prices = 100 * np.cumprod(1 + _returns(30, 3), axis=0)
    expected = pd.DataFrame(prices).pct_change(periods=10).dropna().to_numpy()
    np.testing.assert_allclose(overlapping_returns(prices, 10), expected, rtol=REL)
    exposures = np.array([1e6, -5e5, 2e5])
    np.testing.assert_allclose(
        scenario_pnl(exposures, expected), [float(np.dot(row, exposures)) for row in expected], rtol=REL
    )


# ---------------------------------------------------------------------------------- backtesting


def test_kupiec_statistic_of_a_hand_worked_case() -> None:
    # 5 exceptions in 250 days at 99 %:
    # LR = -2 [245 ln 0.99 + 5 ln 0.01] + 2 [245 ln 0.98 + 5 ln 0.02]
    #    = -2 (-2.4623323 - 23.0258509) + 2 (-4.9496633 - 19.5601150) = 1.9568098
    statistic, p_value = kupiec_pof(5, 250, 0.99)
    assert statistic == pytest.approx(1.9568098, abs=5e-7)
    assert p_value == pytest.approx(stats.chi2.sf(statistic, 1), rel=REL)
    assert kupiec_pof(0, 250, 0.99)[0] == pytest.approx(-2 * 250 * math.log(0.99), rel=REL)
    assert kupiec_pof(250, 250, 0.99)[0] == pytest.approx(-2 * 250 * math.log(0.01), rel=REL)


@pytest.mark.parametrize("statistic", [0.0, 0.1, 1.9568, 3.841458820694124, 12.5, 60.0])
def test_the_chi_squared_survival_function_equals_scipys(statistic: float) -> None:
    assert chi2_1_sf(statistic) == pytest.approx(stats.chi2.sf(statistic, 1), rel=REL)


def test_christoffersen_independence_of_hand_counted_transitions() -> None:
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0])
    # transitions: 00 x5 (0-1, 4-5, 5-6, 8-9, 13-14), 01 x3, 10 x3, 11 x3
    n00, n01, n10, n11 = 5, 3, 3, 3
    pooled = (n01 + n11) / 14
    pi01, pi11 = n01 / (n00 + n01), n11 / (n10 + n11)
    restricted = stats.binom.logpmf(n01 + n11, 14, pooled) - math.log(math.comb(14, n01 + n11))
    unrestricted = (
        stats.binom.logpmf(n01, n00 + n01, pi01)
        - math.log(math.comb(n00 + n01, n01))
        + stats.binom.logpmf(n11, n10 + n11, pi11)
        - math.log(math.comb(n10 + n11, n11))
    )
    expected = -2 * (restricted - unrestricted)
    statistic, p_value = christoffersen_independence(hits)
    assert statistic == pytest.approx(expected, rel=REL)
    assert p_value == pytest.approx(stats.chi2.sf(expected, 1), rel=REL)
    assert christoffersen_independence(np.zeros(250)) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("exceptions", "zone"), [(0, "green"), (4, "green"), (5, "yellow"), (9, "yellow"), (10, "red"), (25, "red")]
)
def test_traffic_light_boundaries(exceptions: int, zone: str) -> None:
    assert traffic_light(exceptions) == zone


def test_backtest_counts_losses_beyond_var_as_exceptions() -> None:
    var = np.full(250, 100.0)
    losses = np.zeros(250)
    losses[[10, 11, 100, 200, 240]] = [150.0, 100.5, 300.0, 101.0, 100.0]  # the last equals VaR: no exception
    result = backtest(losses, var, 0.99)
    hits = np.zeros(250, dtype=int)
    hits[[10, 11, 100, 200]] = 1
    lr, p = kupiec_pof(4, 250, 0.99)
    ind, ind_p = christoffersen_independence(hits)
    assert result == Backtest(250, 4, 0.99, lr, p, ind, ind_p, "green")
    with pytest.raises(ValueError, match="same days"):
        backtest(losses[:-1], var, 0.99)


def test_the_ewma_path_forecasts_each_day_from_the_days_before_it() -> None:
    returns = _returns(120, 3)
    path = ewma_covariance_path(returns, 0.94)
    assert np.isnan(path[0]).all()
    for day in (1, 2, 60, 119):
        np.testing.assert_allclose(path[day], ewma_covariance(returns[:day], 0.94), rtol=REL, atol=1e-18)
