"""transformations.risk_factors: closes -> EWMA factor model and scenarios, against pandas."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from transformations.risk_factors import (
    correlation_rows,
    daily_closes,
    factor_model,
    factor_rows,
    intraday_closes,
    scenario_date_rows,
)

REL = 1e-9


def _closes(days: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long closes of three factors (one starts late) and the wide frame they came from."""
    rng = np.random.default_rng(seed)
    dates = [d.date() for d in pd.bdate_range("2025-01-01", periods=days)]
    returns = rng.normal(0, 0.01, (days, 3)) @ np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]])
    wide = pd.DataFrame(100 * np.cumprod(1 + returns, axis=0), index=dates, columns=["AAA", "BBB", "EUR"])
    wide.loc[dates[: days - 40], "BBB"] = np.nan  # BBB has only 40 closes: 39 returns
    rows = []
    for column, kind in (("AAA", "instrument"), ("BBB", "instrument"), ("EUR", "fx")):
        for day, close in wide[column].dropna().items():
            rows.append((kind, column, day, float(close)))
    return pd.DataFrame(rows, columns=["factor_type", "factor_id", "as_of_date", "close"]), wide


def _pandas_ewma_vol(returns: pd.Series, decay: float) -> float:
    return float(np.sqrt((returns**2).ewm(alpha=1 - decay, adjust=True).mean().iloc[-1]))


def test_factor_model_equals_pandas_ewma_and_pct_change() -> None:
    closes, wide = _closes(300)
    model = factor_model(closes, decay=0.94, min_history=60, scenario_days=250)

    assert model.factors == [("fx", "EUR"), ("instrument", "AAA")]  # BBB: 39 returns < 60
    assert model.observations.tolist() == [260, 260]  # the window keeps 250 + 10 + 1 closes
    window = wide.iloc[-261:]
    returns = window.pct_change().iloc[1:]
    expected_vols = [_pandas_ewma_vol(returns["EUR"], 0.94), _pandas_ewma_vol(returns["AAA"], 0.94)]
    np.testing.assert_allclose(model.daily_vols, expected_vols, rtol=REL)
    products = (returns["EUR"] * returns["AAA"]).ewm(alpha=0.06, adjust=True).mean().iloc[-1]
    assert model.correlation[0, 1] == pytest.approx(products / expected_vols[0] / expected_vols[1], rel=REL)
    np.testing.assert_allclose(model.scenario_returns_1d, returns[["EUR", "AAA"]].iloc[-250:].to_numpy(), rtol=REL)
    ten_day = window[["EUR", "AAA"]].pct_change(periods=10).iloc[-250:].to_numpy()
    np.testing.assert_allclose(model.scenario_returns_10d, ten_day, rtol=REL)
    assert model.scenario_dates == list(window.index[-250:])
    assert model.as_of_date == window.index[-1]


def test_a_short_history_factor_is_modelled_with_what_it_has_and_zero_scenarios_before_it() -> None:
    closes, wide = _closes(300)
    model = factor_model(closes, decay=0.97, min_history=30, scenario_days=250)
    assert model.factors == [("fx", "EUR"), ("instrument", "AAA"), ("instrument", "BBB")]
    assert model.observations.tolist() == [260, 260, 39]
    bbb = wide["BBB"].dropna().pct_change().iloc[1:]
    assert model.daily_vols[2] == pytest.approx(_pandas_ewma_vol(bbb, 0.97), rel=REL)
    expected = np.concatenate([np.zeros(250 - 39), bbb.to_numpy()])
    np.testing.assert_allclose(model.scenario_returns_1d[:, 2], expected, rtol=REL, atol=0)
    pair = pd.concat([wide["AAA"].pct_change(), bbb], axis=1).dropna()
    covariance = (pair.iloc[:, 0] * pair.iloc[:, 1]).ewm(alpha=0.03, adjust=True).mean().iloc[-1]
    expected_rho = covariance / _pandas_ewma_vol(pair.iloc[:, 0], 0.97) / _pandas_ewma_vol(pair.iloc[:, 1], 0.97)
    assert model.correlation[1, 2] == pytest.approx(expected_rho, rel=REL)


def test_intraday_closes_take_each_days_latest_tick_and_extend_the_history_after_its_last_date() -> None:
    ticks = pd.DataFrame(
        [
            ("PRICE", "AAA", 101.0, datetime(2026, 11, 23, 15, 0, tzinfo=UTC), 7),
            ("PRICE", "AAA", 102.0, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), 8),
            ("PRICE", "AAA", 103.0, datetime(2026, 11, 24, 16, 0, tzinfo=UTC), 9),
            ("PRICE", "AAA", 99.0, datetime(2026, 11, 24, 16, 0, tzinfo=UTC), 10),  # same instant, later sequence
            ("PRICE", "AAA", 98.0, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), 11),  # out of order: older tick_ts
            ("FX", "EUR", 1.09, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), 3),
        ],
        columns=["tick_type", "instrument_id", "price", "tick_ts", "sequence"],
    )
    intraday = intraday_closes(ticks)
    assert sorted(map(tuple, intraday.to_numpy().tolist())) == [
        ("fx", "EUR", date(2026, 11, 24), 1.09),
        ("instrument", "AAA", date(2026, 11, 23), 101.0),
        ("instrument", "AAA", date(2026, 11, 24), 99.0),
    ]
    history = pd.DataFrame(
        [("instrument", "AAA", date(2026, 11, 23), 100.0), ("fx", "EUR", date(2026, 11, 20), 1.08)],
        columns=["factor_type", "factor_id", "as_of_date", "close"],
    )
    extended = daily_closes(history, intraday)
    assert sorted(map(tuple, extended.to_numpy().tolist())) == [
        ("fx", "EUR", date(2026, 11, 20), 1.08),
        ("fx", "EUR", date(2026, 11, 24), 1.09),
        ("instrument", "AAA", date(2026, 11, 23), 100.0),  # the history's close wins for its own dates
        ("instrument", "AAA", date(2026, 11, 24), 99.0),
    ]


def test_rows_for_the_tables() -> None:
    closes, _ = _closes(120)
    model = factor_model(closes, decay=0.94, min_history=30, scenario_days=100)
    at = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    factors = factor_rows(model, 0.94, at)
    assert list(factors["factor_id"]) == ["EUR", "AAA", "BBB"]
    assert len(factors["scenario_returns_1d"].iloc[0]) == 100
    assert factors["scenario_returns_10d"].iloc[1] == model.scenario_returns_10d[:, 1].tolist()
    pairs = correlation_rows(model, at)
    assert [tuple(row) for row in pairs[["left_type", "left_id", "right_type", "right_id"]].to_numpy()] == [
        ("fx", "EUR", "instrument", "AAA"),
        ("fx", "EUR", "instrument", "BBB"),
        ("instrument", "AAA", "instrument", "BBB"),
    ]
    assert pairs["correlation"].iloc[2] == model.correlation[1, 2]
    dates = scenario_date_rows(model, at)
    assert list(dates["scenario"]) == list(range(100))
    assert list(dates["scenario_date"]) == model.scenario_dates


def test_no_closes_is_a_clear_error() -> None:
    empty = pd.DataFrame(columns=["factor_type", "factor_id", "as_of_date", "close"])
    with pytest.raises(ValueError, match=r"no daily closes: load reference\.price_history"):
        factor_model(empty, decay=0.94, min_history=60, scenario_days=250)
