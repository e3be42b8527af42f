"""Risk maths (transformations/risk.py) against a published worked example and an independent numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from transformations.risk import (
    CorrelationTable,
    concentration,
    parametric_var,
    portfolio_risk_frame,
    portfolio_sigma,
    z_score,
)


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
        ("JPM", "Banks", "BAC", "Banks", 0.0),  # same sector, no pair: the default
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
            "market_value_base": [1_200_000.0, -400_000.0, 650_000.0, 2_000_000.0, 0.0],
            "daily_vol": [0.018, 0.015, 0.022, 0.006, 0.5],
            "gross_limit": [5_000_000.0] * 5,
            "var_limit": [100_000.0] * 5,
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

    row = portfolio_risk_frame(positions, CORRELATIONS).iloc[0].to_dict()

    assert row["portfolio_id"] == "P1"
    assert row["position_count"] == 4
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, rel=1e-12), column
    assert row["exposure_by_asset_class"] == {"equity": 1_450_000.0, "fx": 2_000_000.0}
    assert row["gross_limit_utilisation"] == pytest.approx(4_250_000.0 / 5_000_000.0, rel=1e-12)
    assert row["var_limit_utilisation"] == pytest.approx(expected["var_99_1d"] / 100_000.0, rel=1e-12)


def test_flat_portfolio_has_no_shares_and_zero_var() -> None:
    positions = pd.DataFrame(
        {
            "portfolio_id": ["P2"],
            "instrument_id": ["AAPL"],
            "sector": ["Technology"],
            "asset_class": ["equity"],
            "market_value_base": [0.0],
            "daily_vol": [0.018],
            "gross_limit": [None],
            "var_limit": [50_000.0],
        }
    )
    row = portfolio_risk_frame(positions, CORRELATIONS).iloc[0].to_dict()
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
