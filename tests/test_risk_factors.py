"""transformations.risk_factors: closes -> EWMA factor model and scenarios, against pandas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs import risk_factors as risk_factors_job
from jobs.silver import create_silver_table
from riskstream.config import Settings
from riskstream.errors import PipelineError
from riskstream.reference import load_reference
from riskstream.simulator import MarketSimulator
from riskstream.tables import Catalog
from transformations.risk_factors import daily_closes, factor_model, factor_rows, intraday_closes
from transformations.schemas import SILVER_PRICES_DDL

REL = 1e-9
START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


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


@pytest.mark.spark
def test_intraday_closes_take_each_days_latest_tick_and_extend_the_history_after_its_last_date(
    spark: SparkSession,
) -> None:
    ticks = spark.createDataFrame(
        [
            ("PRICE", "AAA", 101.0, datetime(2026, 11, 23, 15, 0, tzinfo=UTC), 7),
            ("PRICE", "AAA", 102.0, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), 8),
            ("PRICE", "AAA", 103.0, datetime(2026, 11, 24, 16, 0, tzinfo=UTC), 9),
            ("PRICE", "AAA", 99.0, datetime(2026, 11, 24, 16, 0, tzinfo=UTC), 10),  # same instant, later sequence
            ("PRICE", "AAA", 98.0, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), 11),  # out of order: older tick_ts
            ("PRICE", "AAA", 97.0, datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC), 12),
            ("PRICE", "AAA", 96.0, datetime(2026, 11, 25, 0, 0, 0, tzinfo=UTC), 13),  # the next UTC day
            ("FX", "EUR", 1.09, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), 3),
        ],
        "tick_type string, instrument_id string, price double, tick_ts timestamp, sequence long",
    )
    intraday = intraday_closes(ticks).toPandas()
    assert sorted(map(tuple, intraday.to_numpy().tolist())) == [
        ("fx", "EUR", date(2026, 11, 24), 1.09),
        ("instrument", "AAA", date(2026, 11, 23), 101.0),
        ("instrument", "AAA", date(2026, 11, 24), 97.0),
        ("instrument", "AAA", date(2026, 11, 25), 96.0),
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
        ("instrument", "AAA", date(2026, 11, 24), 97.0),
        ("instrument", "AAA", date(2026, 11, 25), 96.0),
    ]


def test_rows_for_the_table() -> None:
    closes, _ = _closes(120)
    model = factor_model(closes, decay=0.94, min_history=30, scenario_days=100)
    at = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    factors = factor_rows(model, 0.94, at)
    assert list(factors["factor_id"]) == ["EUR", "AAA", "BBB"]
    assert factors["scenario_returns_10d"].iloc[1] == model.scenario_returns_10d[:, 1].tolist()
    assert factors["scenario_returns_1d"].iloc[2] == model.scenario_returns_1d[:, 2].tolist()
    assert factors["scenario_dates"].iloc[0] == model.scenario_dates
    assert len(model.scenario_dates) == 100
    assert factors["correlations"].iloc[1] == {
        "fx:EUR": model.correlation[1, 0],
        "instrument:BBB": model.correlation[1, 2],
    }
    assert list(factors["observations"]) == [110, 110, 39]  # the window keeps 100 + 10 + 1 closes
    assert (factors["computed_at"] == at).all() and (factors["ewma_decay"] == 0.94).all()


def test_no_closes_is_a_clear_error() -> None:
    empty = pd.DataFrame(columns=["factor_type", "factor_id", "as_of_date", "close"])
    with pytest.raises(ValueError, match=r"no daily closes: load reference\.price_history"):
        factor_model(empty, decay=0.94, min_history=60, scenario_days=250)


# ------------------------------------------------------------------------- the job, on Delta tables


def _silver_tick(tick_id: str, tick_type: str, factor_id: str, price: float, at: datetime, sequence: int) -> tuple:
    return (
        tick_id, tick_type, factor_id, price, None, None, "USD", at, "mdfeed-sim", sequence, 1,
        "prices", 0, sequence, at, at, at,
    )  # fmt: skip


@pytest.mark.spark
def test_the_job_models_the_loaded_history_extended_by_ticks_and_a_rerun_replaces_it(
    spark: SparkSession, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    catalog = Catalog(settings)
    simulator = MarketSimulator(seed=7, n_portfolios=3, n_instruments=8, start=START)
    simulator.write_reference_csv(tmp_path / "reference")
    load_reference(spark, tmp_path / "reference", lambda name: catalog.table("reference", name), lambda n, r: None)
    create_silver_table(spark, catalog, "prices")
    aapl = simulator.reference_data().instruments[0]
    # the history ends on Monday 2026-11-23; Tuesday's last tick closes the day, an older one does not
    ticks = [
        _silver_tick("t1", "PRICE", aapl.instrument_id, aapl.reference_price * 1.05, START, 0),
        _silver_tick("t2", "PRICE", aapl.instrument_id, aapl.reference_price * 1.02, START + timedelta(hours=5), 1),
        _silver_tick("t3", "FX", "EUR", 1.2, START + timedelta(hours=1), 0),
        _silver_tick("t0", "PRICE", aapl.instrument_id, 1.0, START - timedelta(days=3), 2),  # before: ignored
    ]
    spark.createDataFrame(ticks, SILVER_PRICES_DDL).write.format("delta").mode("append").save(
        str(catalog.table("silver", "prices").path)
    )
    computed_at = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)

    count = risk_factors_job.run(spark, settings, computed_at)

    table = catalog.table("gold", "risk_factors")
    written = table.read(spark).toPandas().set_index(["factor_type", "factor_id"])
    history = pd.DataFrame(simulator.reference_data().price_history)
    factors = sorted(history.groupby(["factor_type", "factor_id"]).groups)
    assert count == len(factors) == 8 + 6
    assert sorted(written.index) == factors
    closes = history.pivot(index="as_of_date", columns=["factor_type", "factor_id"], values="close")
    closes.index = [date.fromisoformat(day) for day in closes.index]
    tuesday = date(2026, 11, 24)
    closes.loc[tuesday] = closes.iloc[-1]  # factors without a tick keep Monday's close
    closes.loc[tuesday, ("instrument", aapl.instrument_id)] = aapl.reference_price * 1.02
    closes.loc[tuesday, ("fx", "EUR")] = 1.2
    returns = closes.iloc[-511:].pct_change().iloc[1:]
    for factor in [("instrument", aapl.instrument_id), ("fx", "EUR"), ("fx", "JPY")]:
        row = written.loc[factor]
        assert row["daily_vol"] == pytest.approx(_pandas_ewma_vol(returns[factor], 0.94), rel=REL)
        assert row["observations"] == 510
        assert row["as_of_date"] == tuesday
        np.testing.assert_allclose(row["scenario_returns_1d"], returns[factor].iloc[-500:].to_numpy(), rtol=REL)
        ten_day = closes[factor].iloc[-511:].pct_change(periods=10).iloc[-500:].to_numpy()
        np.testing.assert_allclose(row["scenario_returns_10d"], ten_day, rtol=REL)
    assert list(written.loc[("fx", "EUR")]["scenario_dates"]) == list(returns.index[-500:])
    pair = returns[[("instrument", aapl.instrument_id), ("fx", "EUR")]]
    covariance = (pair.iloc[:, 0] * pair.iloc[:, 1]).ewm(alpha=0.06, adjust=True).mean().iloc[-1]
    expected_rho = covariance / _pandas_ewma_vol(pair.iloc[:, 0], 0.94) / _pandas_ewma_vol(pair.iloc[:, 1], 0.94)
    assert written.loc[("fx", "EUR")]["correlations"][f"instrument:{aapl.instrument_id}"] == pytest.approx(
        expected_rho, rel=REL
    )
    assert len(written.loc[("fx", "EUR")]["correlations"]) == 13

    later = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
    risk_factors_job.run(spark, settings, later)
    rerun = table.read(spark).toPandas().set_index(["factor_type", "factor_id"])
    pd.testing.assert_frame_equal(
        rerun.drop(columns="computed_at").sort_index(), written.drop(columns="computed_at").sort_index()
    )
    history_ops = spark.sql(f"DESCRIBE HISTORY {table.sql_name}").orderBy("version").collect()
    # created (with the change data feed on, for the Snowflake sync), then one overwrite per run
    assert [(row.version, row.operation) for row in history_ops] == [
        (0, "CREATE TABLE"),
        (1, "WRITE"),
        (2, "WRITE"),
    ]
    assert [row.operationParameters["mode"] for row in history_ops[1:]] == ["Overwrite", "Overwrite"]
    properties = {row.key: row.value for row in spark.sql(f"SHOW TBLPROPERTIES {table.sql_name}").collect()}
    assert properties["delta.enableChangeDataFeed"] == "true"


@pytest.mark.spark
def test_the_job_without_a_price_history_says_what_to_load(
    spark: SparkSession, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    catalog = Catalog(settings)
    simulator = MarketSimulator(seed=7, n_portfolios=3, n_instruments=8, start=START)
    simulator.write_reference_csv(tmp_path / "reference")
    (tmp_path / "reference" / "price_history.csv").unlink()
    load_reference(spark, tmp_path / "reference", lambda name: catalog.table("reference", name), lambda n, r: None)
    with pytest.raises(PipelineError, match=r"risk factors: .*price_history is empty; load a price_history\.csv"):
        risk_factors_job.run(spark, settings)
    assert not catalog.table("gold", "risk_factors").exists(spark)
