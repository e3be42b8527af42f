"""Silver, scoring: a preliminary per-trade risk score from 0 (benign) to 100 (look at it now).

A :class:`Scorer` is any ``DataFrame -> DataFrame`` callable that adds ``risk_score double`` and
``risk_reasons array<string>``; the silver job calls ``df.transform(scorer)`` and does not care
which one it got. :class:`RuleScorer` is the documented rule set used today; :class:`MlflowScorer`
lets an MLflow model replace it without touching the job.

Rules of :class:`RuleScorer` (points add up, capped at 100; within one rule only the highest band
that is reached counts; a rule whose inputs are null does not fire):

* size vs limit, ``notional_base / single_trade_limit``: >= 1.0 -> 40 ``over_single_trade_limit``,
  >= 0.5 -> 25 ``near_single_trade_limit``, >= 0.2 -> 10 ``large_vs_single_trade_limit``;
* instrument volatility, ``daily_vol`` (std. dev. of 1-day returns): >= 0.03 -> 20 ``high_volatility``,
  >= 0.015 -> 10 ``elevated_volatility``;
* price vs reference, ``abs(price / reference_price - 1)``: >= 0.10 -> 30 ``off_market_price``,
  >= 0.03 -> 15 ``price_deviation``;
* amendment, ``event_type = 'AMEND'``: 5 ``amendment``.

Why these: a single trade near or above the portfolio's single-trade limit is the first thing a
risk manager checks; a volatile instrument makes the same notional riskier; a price far from the
reference price points to a fat finger, an off-market trade or stale reference data; amendments
carry operational risk. The price rule only compares like with like: it fires only when the trade
is in the instrument's currency. A CANCEL removes exposure, so it scores 0 with no reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

SCORE_COLUMNS = ("risk_score", "risk_reasons")
MAX_SCORE = 100.0


class Scorer(Protocol):
    """Adds ``risk_score`` (double, 0..100) and ``risk_reasons`` (array<string>) to enriched trades."""

    def __call__(self, trades: DataFrame) -> DataFrame: ...


@dataclass(frozen=True)
class Band:
    """A measure at or above ``threshold`` scores ``points`` and reports ``code``."""

    threshold: float
    points: float
    code: str


@dataclass(frozen=True)
class Rule:
    """One rule: a measure and its bands (checked from the highest threshold down)."""

    name: str
    bands: tuple[Band, ...]

    def __post_init__(self) -> None:
        thresholds = [band.threshold for band in self.bands]
        if thresholds != sorted(thresholds, reverse=True):
            raise ValueError(f"rule {self.name}: bands must be ordered from the highest threshold down")


def _default_rules() -> tuple[Rule, ...]:
    return (
        Rule(
            "size_vs_limit",
            (
                Band(1.0, 40, "over_single_trade_limit"),
                Band(0.5, 25, "near_single_trade_limit"),
                Band(0.2, 10, "large_vs_single_trade_limit"),
            ),
        ),
        Rule("volatility", (Band(0.03, 20, "high_volatility"), Band(0.015, 10, "elevated_volatility"))),
        Rule("price_deviation", (Band(0.10, 30, "off_market_price"), Band(0.03, 15, "price_deviation"))),
        Rule("amendment", (Band(1.0, 5, "amendment"),)),
    )


def _measures() -> dict[str, Column]:
    """Each rule's measure; null means the rule cannot be evaluated for the row."""
    price = F.col("price").cast("double")
    same_currency = F.col("currency") == F.col("instrument_currency")
    return {
        "size_vs_limit": F.col("notional_base") / F.col("single_trade_limit"),
        "volatility": F.col("daily_vol"),
        "price_deviation": F.when(same_currency, F.abs(price / F.col("reference_price") - F.lit(1.0))),
        "amendment": F.when(F.col("event_type") == "AMEND", F.lit(1.0)).otherwise(F.lit(0.0)),
    }


@dataclass(frozen=True)
class RuleScorer:
    """The documented rule set (see the module docstring); ``rules`` can be replaced for tuning.

    Reads ``notional_base``, ``single_trade_limit`` (added by :func:`transformations.enrichment.enrich`),
    ``daily_vol``, ``price``, ``reference_price``, ``currency``, ``instrument_currency`` and ``event_type``.
    ``risk_reasons`` lists the fired band codes in rule order.
    """

    rules: tuple[Rule, ...] = field(default_factory=_default_rules)

    def __call__(self, trades: DataFrame) -> DataFrame:
        measures = _measures()
        points: list[Column] = []
        codes: list[Column] = []
        for rule in self.rules:
            measure = measures[rule.name]
            band_points = F.lit(0.0)
            band_code = F.lit(None).cast("string")
            for band in reversed(rule.bands):  # highest band last, so it wins
                reached = measure >= F.lit(band.threshold)
                band_points = F.when(reached, F.lit(float(band.points))).otherwise(band_points)
                band_code = F.when(reached, F.lit(band.code)).otherwise(band_code)
            points.append(band_points)
            codes.append(band_code)
        total = F.least(F.lit(MAX_SCORE), sum(points[1:], points[0]))
        reasons = F.filter(F.array(*codes), lambda code: code.isNotNull())
        is_cancel = F.col("event_type") == "CANCEL"
        return trades.withColumns(
            {
                "risk_score": F.when(is_cancel, F.lit(0.0)).otherwise(total),
                "risk_reasons": F.when(is_cancel, F.array().cast("array<string>")).otherwise(reasons),
            }
        )


DEFAULT_MODEL_FEATURES = (
    "notional_base",
    "single_trade_limit",
    "daily_vol",
    "price",
    "reference_price",
    "quantity",
    "multiplier",
)


class MlflowScorer:
    """Scores with an MLflow pyfunc model through ``mlflow.pyfunc.spark_udf``.

    The model receives a pandas DataFrame with ``feature_columns`` (as doubles, same names) and
    returns one number per row; the score is that number clipped to 0..100 and ``risk_reasons`` is
    ``["model:<reason_tag>"]``. The UDF is built once per scorer (loading a model per micro-batch
    would be slow); build the scorer on the driver where the session lives.

    Args:
        model_uri: any MLflow model URI (``models:/risk_score/Production``, ``runs:/<id>/model``, a path).
        feature_columns: the columns handed to the model, in order.
        reason_tag: what ``risk_reasons`` says produced the score.
        env_manager: ``local`` uses the current environment (the cluster's libraries); see MLflow's docs.
    """

    def __init__(
        self,
        model_uri: str,
        feature_columns: Sequence[str] = DEFAULT_MODEL_FEATURES,
        reason_tag: str = "mlflow",
        env_manager: str = "local",
    ) -> None:
        self.model_uri = model_uri
        self.feature_columns = tuple(feature_columns)
        self.reason_tag = reason_tag
        self.env_manager = env_manager
        self._udf: Any = None

    def _model_udf(self, trades: DataFrame) -> Any:
        if self._udf is None:
            import mlflow.pyfunc

            self._udf = mlflow.pyfunc.spark_udf(
                trades.sparkSession, self.model_uri, result_type="double", env_manager=self.env_manager
            )
        return self._udf

    def __call__(self, trades: DataFrame) -> DataFrame:
        model = self._model_udf(trades)
        features = F.struct(*[F.col(name).cast("double").alias(name) for name in self.feature_columns])
        raw_score = model(features)
        clipped = F.greatest(F.lit(0.0), F.least(F.lit(MAX_SCORE), raw_score))
        return trades.withColumns(
            {
                "risk_score": clipped,
                "risk_reasons": F.array(F.lit(f"model:{self.reason_tag}")),
            }
        )
