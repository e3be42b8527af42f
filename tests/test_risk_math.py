"""Risk maths (transformations/risk.py) against a published worked example and an independent numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from transformations.risk import (
    EIGENVALUE_FLOOR,
    CorrelationTable,
    FactorEstimates,
    RiskModel,
    concentration,
    parametric_var,
    portfolio_factors,
    portfolio_risk_frame,
    portfolio_sigma,
    z_score,
)
from transformations.stress import StressScenario


def test_hull_two_asset_worked_example() -> None:
    """John C. Hull, *Risk Management and Financial Institutions* (3rd ed., 2012), ch. 15
    "Market Risk VaR: The Model-Building Approach", the Microsoft / AT&T example (also in
    *Options, Futures, and Other Derivatives*): $10m in Microsoft with a 2 % daily volatility and
    $5m in AT&T with 1 %, correlation 0.3. The book's one-day standard deviation is $220,227 and
    the 10-day 99 % VaR ``220,227 x sqrt(10) x 2.33 = $1,622,657`` (the book rounds z to 2.33;
    the single-asset VaRs are $1,473,621 and $368,405)."""
    exposures = np.array([10_000_000.0, 5_000_000.0])
    vols = np.array([0.02, 0.01])
    correlation = np.array([[1.0, 0.3], [0.3, 1.0]])

    sigma = portfolio_sigma(exposures, vols, correlation)

    assert round(sigma) == 220_227
    assert round(parametric_var(sigma, 2.33, 10)) == 1_622_657
    assert round(parametric_var(portfolio_sigma(exposures[:1], vols[:1], np.eye(1)), 2.33, 10)) == 1_473_621
    assert round(parametric_var(portfolio_sigma(exposures[1:], vols[1:], np.eye(1)), 2.33, 10)) == 368_405


@pytest.mark.parametrize(("confidence", "expected"), [(0.95, 1.6448536269514722), (0.99, 2.3263478740408408)])
def test_z_scores(confidence: float, expected: float) -> None:
    assert z_score(confidence) == pytest.approx(expected, abs=1e-12)


CORRELATIONS = CorrelationTable.from_rows(
    [
        ("instrument", "AAPL", "MSFT", 0.6),
        ("instrument", "EURUSD", "GBPUSD", 0.7),
        ("sector", "Banks", "Technology", 0.4),
    ]
)


@pytest.mark.parametrize(
    ("a", "sector_a", "b", "sector_b", "expected"),
    [
        ("AAPL", "Technology", "AAPL", "Technology", 1.0),  # same instrument
        ("MSFT", "Technology", "AAPL", "Technology", 0.6),  # instrument pair, either order
        ("JPM", "Banks", "AAPL", "Technology", 0.4),  # no instrument pair: sector pair
        ("GBPUSD", "FX", "EURUSD", "FX", 0.7),
        ("JPM", "Banks", "BAC", "Banks", 0.0),  # same sector, no pair: the intra-sector default (0 here)
        ("JPM", "Banks", "UST10Y", "Government", 0.0),  # nothing known: the default
        ("JPM", None, "AAPL", "Technology", 0.0),
    ],
)
def test_correlation_lookup_rule(a: str, sector_a: str | None, b: str, sector_b: str | None, expected: float) -> None:
    assert CORRELATIONS.correlation(a, sector_a, b, sector_b) == expected


def _numpy_reference(exposures: list[float], vols: list[float], rho: list[list[float]]) -> dict[str, float]:
    """Independent computation: explicit double sum over pairs, no matrix helpers from the module."""
    variance = 0.0
    for i, w_i in enumerate(exposures):
        for j, w_j in enumerate(exposures):
            variance += w_i * w_j * rho[i][j] * vols[i] * vols[j]
    sigma = math.sqrt(variance)
    gross = sum(abs(w) for w in exposures)
    shares = [abs(w) / gross for w in exposures]
    return {
        "sigma_1d_base": sigma,
        "var_95_1d": 1.6448536269514722 * sigma,
        "var_99_1d": 2.3263478740408408 * sigma,
        "var_95_10d": 1.6448536269514722 * sigma * math.sqrt(10),
        "var_99_10d": 2.3263478740408408 * sigma * math.sqrt(10),
        "gross_exposure_base": gross,
        "net_exposure_base": sum(exposures),
        "largest_position_share": max(shares),
        "herfindahl_index": sum(s * s for s in shares),
    }


def test_portfolio_risk_frame_matches_independent_computation() -> None:
    positions = pd.DataFrame(
        {
            "portfolio_id": ["P1"] * 5,
            "instrument_id": ["AAPL", "MSFT", "JPM", "EURUSD", "FLAT"],
            "sector": ["Technology", "Technology", "Banks", "FX", "Technology"],
            "asset_class": ["equity", "equity", "equity", "fx", "equity"],
            "base_currency": ["USD"] * 5,
            "instrument_currency": ["USD"] * 5,
            "market_value_base": [1_200_000.0, -400_000.0, 650_000.0, 2_000_000.0, 0.0],
            "daily_vol": [0.018, 0.015, 0.022, 0.006, 0.5],
            "gross_limit": [5_000_000.0] * 5,
            "var_limit": [100_000.0] * 5,
            "stress_loss_limit": [None] * 5,
        }
    )
    # Sorted by instrument: AAPL, EURUSD, JPM, MSFT (FLAT has no exposure and is left out).
    exposures = [1_200_000.0, 2_000_000.0, 650_000.0, -400_000.0]
    vols = [0.018, 0.006, 0.022, 0.015]
    rho = [
        [1.0, 0.0, 0.4, 0.6],
        [0.0, 1.0, 0.0, 0.0],
        [0.4, 0.0, 1.0, 0.4],
        [0.6, 0.0, 0.4, 1.0],
    ]
    expected = _numpy_reference(exposures, vols, rho)

    row = portfolio_risk_frame(positions, RiskModel(CORRELATIONS)).iloc[0].to_dict()

    assert row["portfolio_id"] == "P1"
    assert row["position_count"] == 4
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, rel=1e-12), column
    assert row["exposure_by_asset_class"] == {"equity": 1_450_000.0, "fx": 2_000_000.0}
    assert row["gross_limit_utilisation"] == pytest.approx(4_250_000.0 / 5_000_000.0, rel=1e-12)
    assert row["var_limit_utilisation"] == pytest.approx(expected["var_99_1d"] / 100_000.0, rel=1e-12)
    sigma = expected["sigma_1d_base"]
    assert row["es_975_1d_param"] == pytest.approx(sigma * stats.norm.pdf(stats.norm.ppf(0.975)) / 0.025, rel=1e-9)
    # no gold.risk_factors yet: every factor on its reference volatility, no historical figures
    assert row["unmodelled_factors"] == ["instrument:AAPL", "instrument:EURUSD", "instrument:JPM", "instrument:MSFT"]
    assert (row["scenario_count"], row["hist_var_99_1d"], row["es_975_1d_hist"]) == (0, None, None)
    assert row["correlation_repaired"] is False


def test_flat_portfolio_has_no_shares_and_zero_var() -> None:
    positions = pd.DataFrame(
        {
            "portfolio_id": ["P2"],
            "instrument_id": ["AAPL"],
            "sector": ["Technology"],
            "asset_class": ["equity"],
            "base_currency": ["USD"],
            "instrument_currency": ["USD"],
            "market_value_base": [0.0],
            "daily_vol": [0.018],
            "gross_limit": [None],
            "var_limit": [50_000.0],
            "stress_loss_limit": [100_000.0],
        }
    )
    row = portfolio_risk_frame(positions, RiskModel(CORRELATIONS)).iloc[0].to_dict()
    assert (row["position_count"], row["gross_exposure_base"], row["var_99_10d"]) == (0, 0.0, 0.0)
    assert row["largest_position_share"] is None and row["herfindahl_index"] is None
    assert row["gross_limit_utilisation"] is None
    assert row["var_limit_utilisation"] == 0.0
    assert row["exposure_by_asset_class"] == {}


@pytest.mark.parametrize(
    ("exposures", "expected"),
    [
        ([100.0], (100.0, 100.0, 1.0, 1.0)),
        ([50.0, -50.0], (100.0, 0.0, 0.5, 0.5)),
        ([30.0, 30.0, -40.0], (100.0, 20.0, 0.4, 0.09 + 0.09 + 0.16)),
    ],
)
def test_concentration(exposures: list[float], expected: tuple[float, float, float, float]) -> None:
    assert concentration(np.array(exposures)) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------------ the risk-factor model


def _positions(rows: list[tuple[str, str, str, str, float, float]], base: str = "EUR") -> pd.DataFrame:
    """(instrument, sector, asset_class, currency, market_value_base, daily_vol) rows of portfolio P9."""
    return pd.DataFrame(
        {
            "portfolio_id": ["P9"] * len(rows),
            "instrument_id": [row[0] for row in rows],
            "sector": [row[1] for row in rows],
            "asset_class": [row[2] for row in rows],
            "base_currency": [base] * len(rows),
            "instrument_currency": [row[3] for row in rows],
            "market_value_base": [row[4] for row in rows],
            "daily_vol": [row[5] for row in rows],
            "gross_limit": [1e9] * len(rows),
            "var_limit": [1e6] * len(rows),
            "stress_loss_limit": [250_000.0] * len(rows),
        }
    )


def _exposures_by_revaluation(book: pd.DataFrame, factors: list[str]) -> np.ndarray:
    """Independent factor exposures: the gradient of the book's base value in the factor returns, by
    central differences of ``V = sum value_c (1 + r_i) usd_c (1 + r_c) / (usd_b (1 + r_b))``."""

    def value(returns: dict[str, float]) -> float:
        total = 0.0
        for row in book.itertuples():
            instrument = 1 + returns.get(f"instrument:{row.instrument_id}", 0.0)
            currency = 1 + returns.get(f"fx:{row.instrument_currency}", 0.0)
            base = 1 + returns.get(f"fx:{row.base_currency}", 0.0)
            total += row.market_value_base * instrument * currency / base
        return total

    step = 1e-7
    return np.array([(value({key: step}) - value({key: -step})) / (2 * step) for key in factors])


def test_fx_is_a_risk_factor_of_a_foreign_position() -> None:
    # a EUR book: a USD, a EUR and a GBP stock
    book = _positions(
        [
            ("AAPL", "Technology", "equity", "USD", 1_000_000.0, 0.018),
            ("BP", "Energy", "equity", "GBP", -300_000.0, 0.017),
            ("SAP", "Technology", "equity", "EUR", 500_000.0, 0.016),
        ]
    )
    model = RiskModel(CorrelationTable.from_rows([("instrument", "AAPL", "SAP", 0.5)]), fx_daily_vol=0.006)
    factors = portfolio_factors(book, model)
    assert factors.keys == ["instrument:AAPL", "instrument:BP", "instrument:SAP", "fx:EUR", "fx:GBP"]
    # the currency legs: AAPL -1m on fx:EUR (USD is the numeraire), BP +0.3m on fx:EUR and -0.3m on fx:GBP
    np.testing.assert_allclose(factors.exposures, [1e6, -3e5, 5e5, -7e5, -3e5], rtol=1e-12)
    np.testing.assert_allclose(factors.exposures, _exposures_by_revaluation(book, factors.keys), rtol=1e-6)
    vols = [0.018, 0.017, 0.016, 0.006, 0.006]
    rho = np.eye(5)
    rho[0, 2] = rho[2, 0] = 0.5
    expected_sigma = _numpy_reference(list(factors.exposures), vols, rho.tolist())["sigma_1d_base"]
    row = portfolio_risk_frame(book, model).iloc[0]
    assert row["sigma_1d_base"] == pytest.approx(expected_sigma, rel=1e-12)
    assert row["var_99_1d"] == pytest.approx(2.3263478740408408 * expected_sigma, rel=1e-12)
    without_fx = math.sqrt(
        sum((w * v) ** 2 for w, v in zip([1e6, -3e5, 5e5], vols, strict=False)) + 2 * 0.5 * 1e6 * 5e5 * 0.018 * 0.016
    )
    assert row["sigma_1d_base"] > without_fx  # the old model's figure: no currency risk at all
    assert row["unmodelled_factors"] == factors.keys


def test_two_instruments_of_one_sector_without_a_pair_get_the_intra_sector_correlation() -> None:
    book = _positions(
        [("JPM", "Banks", "equity", "USD", 1e6, 0.02), ("BAC", "Banks", "equity", "USD", 2e6, 0.025)], base="USD"
    )
    row = portfolio_risk_frame(book, RiskModel(CorrelationTable.from_rows([], intra_sector=0.45))).iloc[0]
    expected = _numpy_reference([2e6, 1e6], [0.025, 0.02], [[1.0, 0.45], [0.45, 1.0]])
    assert row["sigma_1d_base"] == pytest.approx(expected["sigma_1d_base"], rel=1e-12)


def _scipy_nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """Independent nearest correlation matrix: minimise the Frobenius distance over X = L L' with unit rows
    of L (every such X is a correlation matrix), from the identity, with scipy."""
    size = matrix.shape[0]

    def build(flat: np.ndarray) -> np.ndarray:
        rows = flat.reshape(size, size)
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return rows @ rows.T

    best = optimize.minimize(
        lambda flat: float(np.sum((build(flat) - matrix) ** 2)),
        np.eye(size).ravel(),
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 10_000},
    )
    return build(best.x)


def test_a_non_psd_matrix_is_repaired_flagged_and_never_gives_a_zero_var() -> None:
    # pairs that cannot all hold: A~B 0.9, A~C 0.9, B~C -0.9 (smallest eigenvalue 1 - 1.8 = ... < 0)
    table = CorrelationTable.from_rows(
        [("instrument", "A", "B", 0.9), ("instrument", "A", "C", 0.9), ("instrument", "B", "C", -0.9)]
    )
    indefinite = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    values, vectors = np.linalg.eigh(indefinite)
    # the book along the negative eigenvector: the old model clamped its negative variance to VaR 0
    weights = vectors[:, 0] * 1e6 / np.array([0.01, 0.01, 0.01])
    book = _positions(
        [(name, "S" + name, "equity", "USD", float(weight), 0.01) for name, weight in zip("ABC", weights, strict=True)],
        base="USD",
    )
    old_variance = float(weights * 0.01 @ indefinite @ (weights * 0.01))
    assert old_variance < 0

    factors = portfolio_factors(book, RiskModel(table))
    row = portfolio_risk_frame(book, RiskModel(table)).iloc[0]

    assert bool(row["correlation_repaired"]) is True
    assert row["correlation_min_eigenvalue"] == pytest.approx(values[0], rel=1e-12)
    np.testing.assert_allclose(factors.correlation, _scipy_nearest_correlation(indefinite), atol=2e-5)
    assert np.linalg.eigvalsh(factors.correlation).min() >= EIGENVALUE_FLOOR * 0.99
    exposures = weights
    expected = math.sqrt(float((exposures * 0.01) @ factors.correlation @ (exposures * 0.01)))
    # rel 1e-9: the book lies along the matrix's weakest direction, so the variance cancels heavily
    assert row["sigma_1d_base"] == pytest.approx(expected, rel=1e-9)
    assert row["var_99_1d"] > 0.0


def _estimates(
    keys: list[str], vols: list[float], rho: np.ndarray, one_day: np.ndarray, ten_day: np.ndarray
) -> FactorEstimates:
    rows = [
        {
            "factor_type": key.split(":")[0],
            "factor_id": key.split(":")[1],
            "daily_vol": vols[i],
            "correlations": {other: float(rho[i, j]) for j, other in enumerate(keys) if j != i},
            "scenario_returns_1d": one_day[:, i].tolist(),
            "scenario_returns_10d": ten_day[:, i].tolist(),
        }
        for i, key in enumerate(keys)
    ]
    return FactorEstimates.from_rows(rows)


def test_ewma_estimates_and_historical_scenarios_drive_var_and_es() -> None:
    book = _positions(
        [
            ("AAPL", "Technology", "equity", "USD", 1_000_000.0, 0.018),
            ("NEWCO", "Technology", "equity", "USD", 200_000.0, 0.03),  # no history: reference vol, no scenarios
            ("SAP", "Technology", "equity", "EUR", 500_000.0, 0.016),
        ]
    )
    keys = ["instrument:AAPL", "instrument:SAP", "fx:EUR"]
    rng = np.random.default_rng(17)
    one_day = rng.standard_t(5, (500, 3)) * 0.01
    ten_day = rng.standard_t(5, (500, 3)) * 0.03
    rho = np.array([[1.0, 0.55, 0.1], [0.55, 1.0, -0.2], [0.1, -0.2, 1.0]])
    model = RiskModel(
        CorrelationTable.from_rows([], intra_sector=0.4),
        _estimates(keys, [0.021, 0.015, 0.007], rho, one_day, ten_day),
        fx_daily_vol=0.006,
    )
    row = portfolio_risk_frame(book, model).iloc[0]

    factors = portfolio_factors(book, model)
    assert factors.keys == ["instrument:AAPL", "instrument:NEWCO", "instrument:SAP", "fx:EUR"]
    assert row["unmodelled_factors"] == ["instrument:NEWCO"]
    # exposures: AAPL 1m, NEWCO 0.2m, SAP 0.5m, fx:EUR -(1m + 0.2m) (the two USD stocks in a EUR book)
    exposures = np.array([1e6, 2e5, 5e5, -1.2e6])
    vols = [0.021, 0.03, 0.015, 0.007]
    full = np.array(
        [[1.0, 0.4, 0.55, 0.1], [0.4, 1.0, 0.4, 0.0], [0.55, 0.4, 1.0, -0.2], [0.1, 0.0, -0.2, 1.0]]
    )  # NEWCO: the intra-sector default with the stocks, 0 with the currency
    expected = _numpy_reference(list(exposures), vols, full.tolist())
    assert row["sigma_1d_base"] == pytest.approx(expected["sigma_1d_base"], rel=1e-12)
    # historical: the modelled factors' scenarios, sorted independently
    modelled = exposures[[0, 2, 3]]
    losses_1d = np.sort(-(one_day @ modelled))[::-1]
    losses_10d = np.sort(-(ten_day @ modelled))[::-1]
    assert row["scenario_count"] == 500
    assert row["hist_var_99_1d"] == pytest.approx(losses_1d[4], rel=1e-12)
    assert row["hist_var_95_1d"] == pytest.approx(losses_1d[24], rel=1e-12)
    assert row["hist_var_99_10d_sqrt"] == pytest.approx(losses_1d[4] * math.sqrt(10), rel=1e-12)
    assert row["hist_var_99_10d_overlap"] == pytest.approx(losses_10d[4], rel=1e-12)
    assert row["hist_var_95_10d_overlap"] == pytest.approx(losses_10d[24], rel=1e-12)
    assert row["es_975_1d_hist"] == pytest.approx((losses_1d[:12].sum() + 0.5 * losses_1d[12]) / 12.5, rel=1e-12)


def test_factor_estimates_refuse_scenario_arrays_of_different_lengths() -> None:
    rows = [
        {"factor_type": "fx", "factor_id": "EUR", "daily_vol": 0.006, "correlations": {},
         "scenario_returns_1d": [0.0] * 5, "scenario_returns_10d": [0.0] * 5},
        {"factor_type": "fx", "factor_id": "GBP", "daily_vol": 0.006, "correlations": {},
         "scenario_returns_1d": [0.0] * 4, "scenario_returns_10d": [0.0] * 4},
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"scenario arrays of different lengths \[4, 5\]"):
        FactorEstimates.from_rows(rows)


def test_stress_columns_and_the_limit_use() -> None:
    book = _positions(
        [
            ("AAPL", "Technology", "equity", "USD", 1_000_000.0, 0.018),
            ("SAP", "Technology", "equity", "EUR", 500_000.0, 0.016),
        ]
    )
    scenarios = (
        StressScenario("equity_crash", "Equities -20 %", asset_class={"equity": -0.2}),
        StressScenario("usd_rally", "USD +5 %", fx={"USD": 0.05}),
    )
    row = portfolio_risk_frame(book, RiskModel(CORRELATIONS, scenarios=scenarios)).iloc[0]
    # EUR book: the crash loses 20 % of both; the rally gains 5 % on the USD stock
    assert row["stress_pnl"] == pytest.approx({"equity_crash": -300_000.0, "usd_rally": 50_000.0}, rel=1e-12)
    assert (row["worst_stress_scenario"], row["worst_stress_loss_base"]) == ("equity_crash", pytest.approx(300_000.0))
    assert row["stress_loss_limit"] == 250_000.0
    assert row["stress_limit_utilisation"] == pytest.approx(1.2, rel=1e-12)
