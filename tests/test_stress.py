"""transformations.stress and the stress scenarios in conf, against explicit revaluation by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs import stress as stress_job
from jobs.gold import create_gold_tables
from riskstream.config import DEFAULT_STRESS_SCENARIOS, RiskConfig, Settings, StressScenarioConfig, parse_settings
from riskstream.errors import ConfigError
from riskstream.tables import Catalog
from tests.conftest import settings_dict
from transformations.gold import POSITIONS_DDL
from transformations.schemas import PORTFOLIOS_DDL
from transformations.stress import StressScenario, portfolio_stress, position_pnl, worst_loss

REL = 1e-12


def test_the_most_specific_shock_wins() -> None:
    scenario = StressScenario(
        "s", "", asset_class={"equity": -0.2}, sector={"technology": -0.3}, instrument={"AAPL": -0.5}
    )
    assert scenario.instrument_shock("AAPL", "technology", "equity") == -0.5
    assert scenario.instrument_shock("MSFT", "technology", "equity") == -0.3
    assert scenario.instrument_shock("JPM", "banks", "equity") == -0.2
    assert scenario.instrument_shock("UST", "government", "rates") == 0.0
    assert scenario.instrument_shock("X", None, None) == 0.0


@pytest.mark.parametrize(
    ("currency", "base", "expected"),
    [
        ("USD", "EUR", 0.05),  # a USD asset in a EUR book: worth 5 % more euros
        ("EUR", "USD", 1 / 1.05 - 1),  # a EUR asset in a USD book: the euro buys 1/1.05 of the dollars
        ("EUR", "GBP", 0.0),  # neither is USD: both lose the same against USD, the cross rate holds
        ("USD", "USD", 0.0),
    ],
)
def test_a_usd_rally_revalues_each_currency_pair(currency: str, base: str, expected: float) -> None:
    rally = StressScenario("usd_rally", "", fx={"USD": 0.05})
    assert position_pnl(rally, 1_000_000.0, "X", None, "fx", currency, base) == pytest.approx(
        1_000_000.0 * expected, rel=REL, abs=1e-9
    )


def test_portfolio_stress_sums_full_revaluations_of_a_multi_currency_book() -> None:
    held = pd.DataFrame(
        {
            "instrument_id": ["AAPL", "SAP", "BUND", "FLAT"],
            "sector": ["technology", "technology", "government", "energy"],
            "asset_class": ["equity", "equity", "rates", "commodity"],
            "instrument_currency": ["USD", "EUR", "EUR", "USD"],
            "base_currency": ["EUR"] * 4,
            "market_value_base": [2_000_000.0, -500_000.0, 3_000_000.0, 0.0],
        }
    )
    scenarios = [scenario.scenario() for scenario in DEFAULT_STRESS_SCENARIOS]
    stress = portfolio_stress(held, scenarios)
    # by hand: value x ((1 + instrument shock) x (1 + s_ccy) / (1 + s_base) - 1)
    expected = {
        "equity_crash": 2e6 * -0.2 + -5e5 * -0.2,
        "credit_widening": 0.0,
        "rates_shock": 3e6 * -0.03,
        "commodity_slump": 0.0,  # FLAT holds nothing
        "usd_rally": 2e6 * 0.05,
        "usd_fall": 2e6 * -0.05,
        "risk_off": 2e6 * (0.8 * 1.05 - 1) + -5e5 * -0.2,
    }
    assert list(stress) == list(expected)
    assert stress == pytest.approx(expected, rel=REL, abs=1e-9)
    assert worst_loss(stress) == ("equity_crash", pytest.approx(300_000.0, rel=REL))


def test_worst_loss_of_a_book_that_only_gains_is_zero() -> None:
    assert worst_loss({"a": 10.0, "b": 5.0}) == ("b", 0.0)
    assert worst_loss({}) == (None, 0.0)


def test_conf_scenarios_default_and_are_checked() -> None:
    assert RiskConfig().stress_scenarios == DEFAULT_STRESS_SCENARIOS
    assert [scenario.name for scenario in RiskConfig().scenarios()] == [
        "equity_crash",
        "credit_widening",
        "rates_shock",
        "commodity_slump",
        "usd_rally",
        "usd_fall",
        "risk_off",
    ]
    custom = RiskConfig(
        stress_scenarios=({"name": "oil_spike", "description": "Energy +40 %", "sector": {"energy": 0.4}},)
    )
    assert custom.scenarios() == (StressScenario("oil_spike", "Energy +40 %", sector={"energy": 0.4}),)


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"name": "Crash!", "description": ""}, "stress scenario name 'Crash!': lower-case letters"),
        ({"name": "wipeout", "description": "", "asset_class": {"equity": -1.0}}, "equity shock -1.0 must be above -1"),
        ({"name": "typo", "description": "", "asset_class": {"equities": -0.2}}, "asset classes ['equities'] are not"),
        ({"name": "fx", "description": "", "fx": {"usd": 0.05}}, "fx keys ['usd'] are not 3-letter currency codes"),
    ],
)
def test_a_bad_scenario_is_refused_with_its_name(scenario: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StressScenarioConfig(**scenario)


def test_repeated_scenario_names_are_refused() -> None:
    twice = ({"name": "a", "description": ""}, {"name": "a", "description": ""})
    with pytest.raises(ValueError, match=r"stress scenario names must be unique: \['a'\] repeat"):
        RiskConfig(stress_scenarios=twice)


def test_the_settings_loader_names_the_bad_scenario_key(tmp_path: Path) -> None:
    raw = settings_dict(tmp_path, risk={"stress_scenarios": [{"name": "x", "description": "", "fx": {"EUR": -2}}]})
    with pytest.raises(ConfigError, match=r"risk\.stress_scenarios\.0.*stress scenario x: fx EUR shock -2\.0"):
        parse_settings(raw, "test settings")


@pytest.mark.spark
def test_the_stress_job_replaces_gold_stress_results_with_every_portfolio_and_scenario(
    spark: SparkSession, make_settings: Callable[..., Settings]
) -> None:
    scenarios = [
        {"name": "equity_crash", "description": "Equities -20 %", "asset_class": {"equity": -0.2}},
        {"name": "usd_rally", "description": "USD +5 %", "fx": {"USD": 0.05}},
    ]
    settings = make_settings(risk={"stress_scenarios": scenarios})
    catalog = Catalog(settings)
    create_gold_tables(spark, catalog)
    positions = [
        ("P-1", "AAPL", "equities", "equity", "technology", "EUR", "USD", 2_000_000.0),
        ("P-1", "BUND", "equities", "rates", "government", "EUR", "EUR", 1_000_000.0),
        ("P-2", "SAP", "equities", "equity", "technology", "USD", "EUR", -400_000.0),
    ]
    rows = [
        (p, i, d, a, s, b, c, 1.0, 1.0, Decimal(1), 0.0, None, 1.0, None, value, 0)
        for p, i, d, a, s, b, c, value in positions
    ]
    spark.createDataFrame(rows, POSITIONS_DDL).write.format("delta").mode("append").save(
        str(catalog.table("gold", "positions").path)
    )
    portfolios = [
        ("P-1", "One", "equities", "EUR", 1e9, 1e6, 1e6, 350_000.0),
        ("P-2", "Two", "equities", "USD", 1e9, 1e6, 1e6, None),
    ]
    spark.createDataFrame(portfolios, PORTFOLIOS_DDL).write.format("delta").save(
        str(catalog.table("reference", "portfolios").path)
    )
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    assert stress_job.run(spark, settings, at) == 4

    written = {
        (row.portfolio_id, row.scenario): row.asDict()
        for row in catalog.table("gold", "stress_results").read(spark).collect()
    }
    # P-1 (EUR): the crash takes 20 % of the US stock; the rally adds 5 % to it. P-2 (USD) is short a
    # EUR stock: the crash gains 20 % of 0.4m, the rally (the euro worth 1/1.05 dollars) gains too.
    expected = {
        ("P-1", "equity_crash"): (
            -400_000.0,
            400_000.0,
            {"equity": -400_000.0, "rates": 0.0},
            350_000.0,
            400 / 350,
            True,
        ),
        ("P-1", "usd_rally"): (100_000.0, 0.0, {"equity": 100_000.0, "rates": 0.0}, 350_000.0, 0.0, False),
        ("P-2", "equity_crash"): (80_000.0, 0.0, {"equity": 80_000.0}, None, None, None),
        ("P-2", "usd_rally"): (
            -400_000.0 * (1 / 1.05 - 1),
            0.0,
            {"equity": -400_000.0 * (1 / 1.05 - 1)},
            None,
            None,
            None,
        ),
    }
    assert sorted(written) == sorted(expected)
    for key, (pnl, loss, by_class, limit, use, breach) in expected.items():
        row = written[key]
        assert row["pnl_base"] == pytest.approx(pnl, rel=REL), key
        assert row["loss_base"] == pytest.approx(loss, rel=REL, abs=1e-9), key
        assert row["pnl_by_asset_class"] == pytest.approx(by_class, rel=REL, abs=1e-9), key
        assert (row["stress_loss_limit"], row["breach"]) == (limit, breach), key
        assert row["limit_utilisation"] == (None if use is None else pytest.approx(use, rel=REL)), key
        assert (row["computed_at"], row["position_count"]) == (at.replace(tzinfo=None), 2 if key[0] == "P-1" else 1)


@pytest.mark.spark
def test_a_worst_stress_loss_above_the_limit_raises_the_stress_loss_alert(spark: SparkSession) -> None:
    from transformations.gold import portfolio_alerts

    ddl = (
        "portfolio_id string, gross_exposure_base double, gross_limit double, var_99_1d double, var_limit double, "
        "largest_position_share double, worst_stress_loss_base double, stress_loss_limit double"
    )
    risk = spark.createDataFrame(
        [
            ("P-1", 1e6, 2e6, 1e4, 2e4, 0.2, 450_000.0, 400_000.0),  # the stress loss breaches
            ("P-2", 1e6, 2e6, 1e4, 2e4, 0.2, 300_000.0, 400_000.0),  # within the limit
            ("P-3", 1e6, 2e6, 1e4, 2e4, 0.2, 900_000.0, None),  # no stress limit: no alert
        ],
        ddl,
    )
    at = datetime(2026, 11, 24, 9, 30, 15)
    events = spark.createDataFrame([("P-1", at), ("P-2", at), ("P-3", at)], "portfolio_id string, trade_ts timestamp")

    alerts = risk.transform(portfolio_alerts(events, 0.25)).collect()

    assert [(row.portfolio_id, row.rule, row.measured_value, row.limit_value, row.window_start) for row in alerts] == [
        ("P-1", "stress_loss", 450_000.0, 400_000.0, datetime(2026, 11, 24, 9, 30))
    ]
