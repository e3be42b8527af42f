"""VaR backtesting (transformations/backtest.py, jobs/backtest.py) against an independent day-by-day
computation, and the must-show: the simulator's own book is green under the model as specified and red
with its volatility halved."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import yaml
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from jobs.backtest import backtest_rows
from jobs.gold import create_gold_tables
from jobs.risk_tables import RISK_TABLES
from riskstream.cli import app
from riskstream.config import DEFAULT_STRESS_SCENARIOS, parse_settings
from riskstream.reference import load_reference
from riskstream.simulator import MarketSimulator
from riskstream.snowflake.sync import sync_tables
from riskstream.snowflake.verify import verify_tables
from riskstream.tables import Catalog
from tests.conftest import settings_dict
from transformations.backtest import book_backtest, factor_returns
from transformations.gold import POSITIONS_DDL
from transformations.risk import factor_exposures
from transformations.risk_measures import christoffersen_independence, ewma_covariance, kupiec_pof

REL = 1e-9
Z99 = NormalDist().inv_cdf(0.99)


def _closes(days: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = [d.date() for d in pd.bdate_range("2025-01-01", periods=days)]
    rows = []
    for factor_type, factor_id, vol in (("instrument", "AAA", 0.02), ("instrument", "BBB", 0.01), ("fx", "EUR", 0.006)):
        path = 100 * np.cumprod(1 + rng.normal(0, vol, days))
        rows.extend((factor_type, factor_id, day, float(close)) for day, close in zip(dates, path, strict=True))
    return pd.DataFrame(rows, columns=["factor_type", "factor_id", "as_of_date", "close"])


def test_book_backtest_equals_an_independent_day_by_day_forecast() -> None:
    closes = _closes(400)
    returns = factor_returns(closes)
    exposures = {"instrument:AAA": 1e6, "instrument:BBB": -4e5, "fx:EUR": -6e5, "instrument:NEW": 1e5}
    tested = book_backtest(exposures, returns, decay=0.94)

    wide = closes.pivot(index="as_of_date", columns=["factor_type", "factor_id"], values="close")
    daily = wide.pct_change().iloc[1:]
    keys = [("instrument", "AAA"), ("instrument", "BBB"), ("fx", "EUR")]
    weights = np.array([1e6, -4e5, -6e5])
    matrix = daily[keys].to_numpy()
    expected_var, expected_pnl = [], []
    for day in range(len(daily) - 250, len(daily)):
        covariance = ewma_covariance(matrix[:day], 0.94)  # only the days before
        expected_var.append(Z99 * np.sqrt(weights @ covariance @ weights))
        expected_pnl.append(matrix[day] @ weights)
    np.testing.assert_allclose(tested.var, expected_var, rtol=REL)
    np.testing.assert_allclose(tested.pnl, expected_pnl, rtol=REL)
    hits = (-np.array(expected_pnl) > np.array(expected_var)).astype(int)
    assert tested.result.exceptions == int(hits.sum())
    assert (tested.result.kupiec_lr, tested.result.kupiec_p_value) == kupiec_pof(int(hits.sum()), 250, 0.99)
    assert tested.result.christoffersen_lr == christoffersen_independence(hits)[0]
    assert tested.dates == list(daily.index[-250:])
    assert tested.unmodelled == ["instrument:NEW"]


def test_too_short_a_history_is_refused() -> None:
    returns = factor_returns(_closes(200))
    with pytest.raises(ValueError, match="199 days of returns are too few for a 250-day backtest"):
        book_backtest({"instrument:AAA": 1.0}, returns, decay=0.94)


def _firm_book(simulator: MarketSimulator) -> pd.DataFrame:
    """Every portfolio's mandate in one USD book."""
    book = simulator.target_book()
    usd = {row.currency: row.usd_rate for row in simulator.reference_data().fx_rates}
    return book.assign(
        market_value_base=book["market_value_base"] * book["base_currency"].map(usd),
        base_currency="USD",
        portfolio_id="FIRM",
    ).sort_values("instrument_id")


def test_the_simulators_book_is_green_as_specified_and_red_with_its_volatility_halved() -> None:
    """A correct 99 % model has 2.5 exceptions expected in 250 days and a 1 in 9 chance of 5 or more
    (yellow) on any one book, so the outcome is that of a fixed seed (11): its firm-wide book has 3
    exceptions (green) as specified and 27 (red) with every volatility halved; of its ten portfolios,
    seven are green and none is red as specified, and all ten are red halved."""
    simulator = MarketSimulator(seed=11, n_portfolios=10, n_instruments=40)
    returns = factor_returns(pd.DataFrame(simulator.reference_data().price_history))
    firm = factor_exposures(_firm_book(simulator))

    specified = book_backtest(firm, returns, decay=0.94).result
    halved = book_backtest(firm, returns, decay=0.94, vol_scale=0.5).result

    assert (specified.exceptions, specified.traffic_light) == (3, "green")
    assert specified.kupiec_p_value > 0.05
    assert (halved.exceptions, halved.traffic_light) == (27, "red")
    assert halved.kupiec_p_value < 1e-6
    at = datetime(2026, 11, 24, tzinfo=UTC)
    book, closes = simulator.target_book(), pd.DataFrame(simulator.reference_data().price_history)
    zones = [row[10] for row in backtest_rows(book, closes, decay=0.94, computed_at=at)]
    halved_zones = [row[10] for row in backtest_rows(book, closes, decay=0.94, computed_at=at, vol_scale=0.5)]
    assert (zones.count("green"), zones.count("yellow"), zones.count("red")) == (7, 3, 0)
    assert halved_zones == ["red"] * 10


# ------------------------------------------------------------------- the risk commands, end to end


@pytest.mark.spark
def test_the_risk_commands_write_their_tables_from_the_loaded_book(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`riskstream risk factors | stress | backtest` on the simulator's reference data and target book (the
    real typer app, the test session's Spark): each prints what it wrote, and the tables equal the pure
    functions' results on the same inputs."""
    state = tmp_path / "state"
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(state))
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(state)), encoding="utf-8")
    monkeypatch.setenv("RISKSTREAM_CONF", str(conf))
    settings = parse_settings(settings_dict(state), "test settings")
    catalog = Catalog(settings)
    simulator = MarketSimulator(seed=11, n_portfolios=4, n_instruments=12)
    simulator.write_reference_csv(tmp_path / "reference")
    load_reference(spark, tmp_path / "reference", lambda name: catalog.table("reference", name), lambda n, r: None)
    book = simulator.target_book()
    create_gold_tables(spark, catalog)
    rows = [
        (r.portfolio_id, r.instrument_id, "desk", r.asset_class, r.sector, r.base_currency, r.instrument_currency,
         1.0, 1.0, Decimal(1), 0.0, None, 1.0, None, float(r.market_value_base), 0)
        for r in book.itertuples()
    ]  # fmt: skip
    spark.createDataFrame(rows, POSITIONS_DDL).write.format("delta").mode("append").save(
        str(catalog.table("gold", "positions").path)
    )
    gold = state / "delta" / "gold"

    outputs = {command: CliRunner().invoke(app, ["risk", command]) for command in ("factors", "stress", "backtest")}

    assert {command: result.exit_code for command, result in outputs.items()} == dict.fromkeys(outputs, 0)
    lines = {command: result.output.splitlines() for command, result in outputs.items()}
    assert lines["factors"][0] == "risk factors: EWMA lambda 0.94, at least 60 returns per factor, 500 scenarios"
    assert re.fullmatch(rf"risk factors: {gold}/risk_factors <- 18 factors in \d+\.\ds", lines["factors"][1])
    names = ", ".join(scenario.name for scenario in DEFAULT_STRESS_SCENARIOS)
    assert lines["stress"][0] == f"risk stress: scenarios {names}"
    assert re.fullmatch(rf"risk stress: {gold}/stress_results <- 28 rows in \d+\.\ds", lines["stress"][1])
    assert lines["backtest"][0] == "risk backtest: 250 days, 99 % one-day VaR, EWMA lambda 0.94"
    assert re.fullmatch(rf"risk backtest: {gold}/var_backtest <- 4 portfolios in \d+\.\ds", lines["backtest"][1])

    closes = pd.DataFrame(simulator.reference_data().price_history)
    closes["as_of_date"] = pd.to_datetime(closes["as_of_date"]).dt.date
    at = datetime(2026, 11, 24, tzinfo=UTC)
    expected = {row[0]: row for row in backtest_rows(book, closes, decay=0.94, computed_at=at)}
    written = {row.portfolio_id: row for row in catalog.table("gold", "var_backtest").read(spark).collect()}
    assert sorted(written) == sorted(expected)
    for portfolio_id, row in written.items():
        want = expected[portfolio_id]
        assert (row.exceptions, row.traffic_light, row.days, row.as_of_date) == (want[4], want[10], 250, want[1])
        assert row.kupiec_lr == pytest.approx(want[6], rel=REL, abs=1e-12)
        np.testing.assert_allclose(row.var, want[15], rtol=REL)
        np.testing.assert_allclose(row.pnl, want[16], rtol=REL)
    stress = catalog.table("gold", "stress_results").read(spark).toPandas()
    assert sorted(stress["portfolio_id"].unique()) == sorted(book["portfolio_id"].unique())
    assert len(stress) == 4 * len(DEFAULT_STRESS_SCENARIOS)

    # the three tables reach Snowflake (the emulator) through the change-data-feed sync, and reconcile
    registry = {name: keys for name, (_, keys) in RISK_TABLES.items()}
    synced = sync_tables(spark, settings, registry)
    assert [(result.table, result.mode, result.inserted) for result in synced] == [
        ("risk_factors", "snapshot", 18),
        ("stress_results", "snapshot", 28),
        ("var_backtest", "snapshot", 4),
    ]
    assert all(result.ok for result in verify_tables(spark, settings, registry))
