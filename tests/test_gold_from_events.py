"""Produced events to gold: JSON trade events published to the real local Kafka broker -> bronze ->
silver (the real silver job: parsing, lifecycle, enrichment, scoring) -> gold, all availableNow.

The expected notionals, positions and VaR are recomputed in tests/test_gold_pipeline.py's helpers
from the fixture events and reference data alone (not from silver's output). Risk scores come from
silver's scorer and are not re-derived here (tests/test_gold_pipeline.py checks their aggregation).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from chispa import assert_approx_df_equality
from confluent_kafka import Producer
from pyspark.sql import SparkSession

from jobs import bronze, silver
from jobs import gold as gold_job
from riskstream import kafka_broker
from riskstream.config import Settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog
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
    _write_reference,
)
from transformations.gold import PORTFOLIO_RISK_1M_DDL

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def _event_json(row: dict) -> str:
    return json.dumps(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"riskstream-gold-test/{row['event_id']}")),
            "event_type": row["event_type"],
            "trade_id": row["trade_id"],
            "trade_version": row["trade_version"],
            "portfolio_id": row["portfolio_id"],
            "instrument_id": row["instrument_id"],
            "side": row["side"],
            "quantity": float(row["quantity"]),
            "price": float(row["price"]),
            "currency": row["currency"],
            "trade_ts": row["trade_ts"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "source_system": "gold-test",
        }
    )


def test_produced_events_reach_gold_with_exact_values(
    spark: SparkSession, kafka: BrokerInfo, topic: str, make_settings: Callable[..., Settings]
) -> None:
    alerts_topic = f"risk-alerts-{uuid.uuid4().hex[:10]}"
    kafka_broker.create_topics(kafka.bootstrap_servers, {alerts_topic: 2})
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic, "alerts_topic": alerts_topic})
    catalog = Catalog(settings)
    _write_reference(spark, catalog)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    for row in STEP_1:  # keyed by portfolio: a portfolio's events stay in order on one partition
        producer.produce(topic, key=row["portfolio_id"], value=_event_json(row), headers=[("schema_version", b"1")])
    assert producer.flush(30) == 0

    for job in (bronze, silver, gold_job):
        assert job.run(spark, settings) is None

    quarantined = catalog.table("silver", "quarantine").read(spark).select("trade_id", "reason_codes").collect()
    assert quarantined == []
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
