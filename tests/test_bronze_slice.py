"""First end-to-end slice: records published to the real local broker -> Spark Kafka source ->
bronze Delta table with availableNow; exact content, and a second run adds nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from jobs import bronze
from riskstream.config import Settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

RECORDS = [
    ("P-EQ-1", '{"event_id": "e1"}', "1"),
    ("P-EQ-1", '{"event_id": "e2"}', "2"),
    ("P-FX-2", '{"event_id": "e3"}', "1"),
    ("P-FX-2", "not json at all", "1"),
]


def _publish(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value, version in RECORDS:
        producer.produce(topic, key=key, value=value, headers=[("schema_version", version.encode())])
    assert producer.flush(30) == 0


def test_kafka_to_bronze_exactly_once(
    spark, kafka: BrokerInfo, topic: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    _publish(kafka.bootstrap_servers, topic)

    assert bronze.run(spark, settings) is None
    table = Catalog(settings).table("bronze", "trade_events")
    rows = table.read(spark).orderBy("partition", "offset").collect()

    by_key = {}
    for row in rows:
        by_key.setdefault(row.key.decode(), []).append(
            (row.value.decode(), [(h.key, h.value.decode()) for h in row.headers], row.topic)
        )
    assert by_key == {
        "P-EQ-1": [
            ('{"event_id": "e1"}', [("schema_version", "1")], topic),
            ('{"event_id": "e2"}', [("schema_version", "2")], topic),
        ],
        "P-FX-2": [
            ('{"event_id": "e3"}', [("schema_version", "1")], topic),
            ("not json at all", [("schema_version", "1")], topic),
        ],
    }
    # Offsets are 0..n-1 within each partition: nothing skipped, nothing doubled.
    per_partition: dict[int, list[int]] = {}
    for row in rows:
        per_partition.setdefault(row.partition, []).append(row.offset)
    assert sorted(per_partition.values()) == sorted(list(range(len(v))) for v in per_partition.values())
    assert sum(len(v) for v in per_partition.values()) == 4
    assert all(row.ingest_ts is not None and row.ingest_date == row.ingest_ts.date() for row in rows)

    version_after_first = spark.sql(f"DESCRIBE HISTORY {table.sql_name}").count()
    assert bronze.run(spark, settings) is None
    assert table.read(spark).count() == 4
    assert spark.sql(f"DESCRIBE HISTORY {table.sql_name}").count() == version_after_first


def test_header_value_is_null_when_the_header_is_absent(spark) -> None:
    from chispa import assert_column_equality

    from transformations.bronze import header_value

    rows = spark.createDataFrame(
        [([("schema_version", bytearray(b"2"))], "2"), ([("other", bytearray(b"x"))], None), ([], None)],
        "headers array<struct<key string, value binary>>, expected string",
    )
    assert_column_equality(rows.withColumn("actual", header_value("schema_version")), "actual", "expected")
