"""Produced events to gold: JSON trade events published to the real local Kafka broker -> bronze ->
silver (the real silver job: parsing, lifecycle, enrichment, scoring) -> gold, all availableNow
(the session's ``events_pipeline``, tests/events_pipeline.py, with three faulty records among them).

The expected notionals, positions and VaR are recomputed in tests/test_gold_pipeline.py's helpers
from the fixture events and reference data alone (not from silver's output). Risk scores come from
silver's scorer and are not re-derived here (tests/test_gold_pipeline.py checks their aggregation).
"""

from __future__ import annotations

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import SparkSession

from tests.events_pipeline import EventsPipeline
from tests.test_gold_pipeline import (
    PORTFOLIOS,
    PRECISION,
    STEP_1,
    _assert_positions,
    _expected_1m,
    _expected_positions,
    _expected_risk,
    _frame,
    _with_watermarks,
)
from transformations.gold import PORTFOLIO_RISK_1M_DDL

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def test_produced_events_reach_gold_with_exact_values(spark: SparkSession, events_pipeline: EventsPipeline) -> None:
    catalog = events_pipeline.catalog
    quarantined = catalog.table("silver", "quarantine").read(spark).select("reason_codes").collect()
    assert sorted(row.reason_codes for row in quarantined) == [["duplicate"], ["malformed_json"], ["unknown_portfolio"]]
    assert catalog.table("silver", "trades").read(spark).count() == len(STEP_1)
    _assert_positions(spark, catalog, STEP_1)
    positions = _expected_positions(STEP_1)
    risk = {row.portfolio_id: row.asDict() for row in catalog.table("gold", "portfolio_risk").read(spark).collect()}
    assert sorted(risk) == sorted(PORTFOLIOS)
    for portfolio_id, row in risk.items():
        expected = _expected_risk(positions, portfolio_id)
        for column in ("gross_exposure_base", "net_exposure_base", "var_95_1d", "var_99_1d", "var_99_10d"):
            assert row[column] == pytest.approx(expected[column], rel=1e-12), (portfolio_id, column)
    risk_columns = ["mean_risk_score", "max_risk_score"]
    assert_approx_df_equality(
        catalog.table("gold", "portfolio_risk_1m").read(spark).drop(*risk_columns),
        _frame(spark, _expected_1m(_with_watermarks(STEP_1)), PORTFOLIO_RISK_1M_DDL).drop(*risk_columns),
        PRECISION,
        ignore_nullable=True,
        ignore_row_order=True,
    )
