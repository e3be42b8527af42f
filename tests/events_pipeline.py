"""One run of the real pipeline on produced events, shared by the tests that read its tables.

The STEP_1 trade events of tests/fixtures/gold (see tests/test_gold_pipeline.py), keyed by
portfolio, plus :data:`FAULTY` records, are produced to the session's Kafka broker and run through
the real bronze, silver and gold jobs with availableNow, with every micro-batch's progress recorded
in ``ops.stream_progress``. Building it takes minutes, so the ``events_pipeline`` fixture
(tests/conftest.py) builds it once per session; its tests only read it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskstream import kafka_broker
from riskstream.config import Settings, parse_settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog
from tests.conftest import settings_dict


def event_json(row: dict[str, Any]) -> str:
    """The trade event of a fixture row, as a producer sends it."""
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


def faulty_records(first: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Records the quarantine must show: malformed JSON, an unknown portfolio (its event id differs
    from ``first``'s only through the portfolio, so it is not a duplicate) and one resend of
    ``first``, an accepted event."""
    unknown = {**json.loads(event_json(first)), "portfolio_id": "P-999"}
    return [
        ("P-001", b"{not json"),
        ("P-999", json.dumps(unknown).encode()),
        (first["portfolio_id"], event_json(first).encode()),
    ]


@dataclass(frozen=True)
class EventsPipeline:
    settings: Settings
    catalog: Catalog
    alerts_topic: str


def build(spark: Any, kafka: BrokerInfo, base: Path) -> EventsPipeline:
    from confluent_kafka import Producer

    from jobs import bronze, silver
    from jobs import gold as gold_job
    from riskstream.monitoring import ProgressCollector, record_progress
    from tests.test_gold_pipeline import STEP_1, _write_reference

    topic, alerts_topic = (f"{name}-{uuid.uuid4().hex[:10]}" for name in ("trades", "risk-alerts"))
    kafka_broker.create_topics(kafka.bootstrap_servers, {topic: 2, alerts_topic: 2})
    settings = parse_settings(
        settings_dict(base, kafka.bootstrap_servers, kafka={"topic": topic, "alerts_topic": alerts_topic})
    )
    kafka_broker.create_topics(kafka.bootstrap_servers, {settings.kafka.prices_topic: 2})  # bronze reads it too
    catalog = Catalog(settings)
    _write_reference(spark, catalog)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    for row in STEP_1:  # keyed by portfolio: a portfolio's events stay in order on one partition
        producer.produce(topic, key=row["portfolio_id"], value=event_json(row), headers=[("schema_version", b"1")])
    for key, value in faulty_records(STEP_1[0]):
        producer.produce(topic, key=key, value=value, headers=[("schema_version", b"1")])
    assert producer.flush(30) == 0
    collector = ProgressCollector().attach(spark)
    try:
        for job in (bronze, silver, gold_job):
            assert job.run(spark, settings) is None
        record_progress(spark, catalog.table("ops", "stream_progress"), collector.drain(spark))
    finally:
        collector.detach(spark)
    return EventsPipeline(settings, catalog, alerts_topic)
