"""Risk scoring: the documented rules band by band (exact scores and reasons), and an MLflow model
behind the same interface (a tiny pyfunc model saved to a temporary folder and served with spark_udf)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from transformations.scoring import Band, MlflowScorer, Rule, RuleScorer, Scorer

pytestmark = pytest.mark.spark

TRADES_DDL = (
    "case string, event_type string, notional_base double, single_trade_limit double, daily_vol double, "
    "price decimal(28,8), reference_price double, currency string, instrument_currency string"
)
SCORED_DDL = TRADES_DDL + ", risk_score double, risk_reasons array<string>"
BENIGN = {
    "event_type": "NEW",
    "notional_base": 1_000.0,
    "single_trade_limit": 1_000_000.0,
    "daily_vol": 0.01,
    "price": 100,
    "reference_price": 100.0,
    "currency": "USD",
    "instrument_currency": "USD",
}

# (case, changes to a benign trade, expected score, expected reasons)
RULE_CASES: list[tuple[str, dict[str, Any], float, list[str]]] = [
    ("benign", {}, 0.0, []),
    ("over_limit", {"notional_base": 1_000_000.0}, 40.0, ["over_single_trade_limit"]),
    ("half_limit", {"notional_base": 500_000.0}, 25.0, ["near_single_trade_limit"]),
    ("fifth_of_limit", {"notional_base": 200_000.0}, 10.0, ["large_vs_single_trade_limit"]),
    ("just_below_fifth", {"notional_base": 199_999.0}, 0.0, []),
    ("high_vol", {"daily_vol": 0.03}, 20.0, ["high_volatility"]),
    ("elevated_vol", {"daily_vol": 0.015}, 10.0, ["elevated_volatility"]),
    ("off_market_price", {"price": 111}, 30.0, ["off_market_price"]),
    ("price_below_reference", {"price": 96}, 15.0, ["price_deviation"]),
    ("price_other_currency_not_compared", {"price": 150, "currency": "EUR"}, 0.0, []),
    ("amendment", {"event_type": "AMEND"}, 5.0, ["amendment"]),
    (
        "everything",
        {"event_type": "AMEND", "notional_base": 3e6, "daily_vol": 0.05, "price": 80},
        95.0,
        ["over_single_trade_limit", "high_volatility", "off_market_price", "amendment"],
    ),
    ("cancel_scores_zero", {"event_type": "CANCEL", "notional_base": 3e6, "daily_vol": 0.05}, 0.0, []),
    ("unknown_reference_inputs", {"single_trade_limit": None, "daily_vol": None, "reference_price": None}, 0.0, []),
]


def _trade(case: str, changes: dict[str, Any]) -> tuple[Any, ...]:
    values = {**BENIGN, **changes}
    values["price"] = Decimal(values["price"]) if values["price"] is not None else None
    return (case, *(values[name] for name in BENIGN))


def test_rule_scorer_bands(spark: SparkSession) -> None:
    trades = spark.createDataFrame([_trade(case, changes) for case, changes, _, _ in RULE_CASES], TRADES_DDL)
    scorer: Scorer = RuleScorer()

    actual = trades.transform(scorer)

    expected = spark.createDataFrame(
        [(*_trade(case, changes), score, reasons) for case, changes, score, reasons in RULE_CASES], SCORED_DDL
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_rule_scorer_caps_at_100(spark: SparkSession) -> None:
    rules = (
        Rule("size_vs_limit", (Band(1.0, 80, "huge"),)),
        Rule("volatility", (Band(0.03, 50, "wild"),)),
    )
    trades = spark.createDataFrame([_trade("both", {"notional_base": 2e6, "daily_vol": 0.04})], TRADES_DDL)
    row = trades.transform(RuleScorer(rules)).collect()[0]
    assert (row.risk_score, row.risk_reasons) == (100.0, ["huge", "wild"])


def test_rule_bands_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="bands must be ordered from the highest threshold down"):
        Rule("volatility", (Band(0.01, 5, "low"), Band(0.03, 20, "high")))


def _save_model(path: Path) -> str:
    import mlflow.pyfunc

    class ShareOfLimit(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        """Score = notional as a percentage of the single-trade limit (a stand-in for a trained model)."""

        def predict(self, context, model_input, params=None):  # no type hints: MLflow reads them as a signature
            return model_input["notional_base"] / model_input["single_trade_limit"] * 100.0

    # The class lives in this test module, which the Python workers cannot import: pickle it by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    mlflow.pyfunc.save_model(str(path), python_model=ShareOfLimit(), pip_requirements=["mlflow-skinny"])
    return str(path)


def test_mlflow_scorer_scores_with_a_pyfunc_model(spark: SparkSession, tmp_path: Path) -> None:
    model_uri = _save_model(tmp_path / "model")
    trades = spark.createDataFrame(
        [
            _trade("quarter", {"notional_base": 250_000.0}),
            _trade("over", {"notional_base": 3_000_000.0}),
            _trade("negative", {"notional_base": -10.0}),
        ],
        TRADES_DDL,
    )
    scorer: Scorer = MlflowScorer(model_uri, feature_columns=("notional_base", "single_trade_limit"))

    actual = trades.transform(scorer)

    expected = spark.createDataFrame(
        [
            (*_trade("quarter", {"notional_base": 250_000.0}), 25.0, ["model:mlflow"]),
            (*_trade("over", {"notional_base": 3_000_000.0}), 100.0, ["model:mlflow"]),
            (*_trade("negative", {"notional_base": -10.0}), 0.0, ["model:mlflow"]),
        ],
        SCORED_DDL,
    )
    assert_df_equality(actual, expected, ignore_nullable=True, ignore_row_order=True)
