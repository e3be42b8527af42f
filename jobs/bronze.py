"""Bronze job: the trades topic -> ``bronze.trade_events`` and the prices topic -> ``bronze.price_ticks``.

Two named queries (Kafka source, Delta append-only sink), one checkpoint each, the same columns: a
record as it arrived plus when it was ingested (:func:`transformations.bronze.to_bronze`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskstream.config import Settings, TriggerConfig
from riskstream.kafka_options import spark_source_options
from riskstream.runtime import bootstrap_servers
from riskstream.sinks import write_delta
from riskstream.tables import Catalog
from transformations.bronze import BRONZE_DDL, to_bronze

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

QUERY_NAME = "bronze_trade_events"
PRICES_QUERY_NAME = "bronze_price_ticks"
TABLES = {QUERY_NAME: "trade_events", PRICES_QUERY_NAME: "price_ticks"}
"""Query name -> its bronze table."""


def create_bronze_table(spark: SparkSession, catalog: Catalog) -> None:
    """Create the bronze tables if missing, so downstream streams can start before data arrives."""
    for name in TABLES.values():
        catalog.table("bronze", name).create_if_missing(spark, BRONZE_DDL, partitioned_by=("ingest_date",))


def run(spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None) -> list[StreamingQuery] | None:
    """Start (or, for availableNow, run to completion one after the other) the two bronze ingest queries."""
    streams = settings.streams
    catalog = Catalog(settings)
    create_bronze_table(spark, catalog)
    started: list[StreamingQuery] = []
    for query_name, topic, stream in (
        (QUERY_NAME, settings.kafka.topic, streams.bronze),
        (PRICES_QUERY_NAME, settings.kafka.prices_topic, streams.prices or streams.bronze),
    ):
        options = spark_source_options(
            settings.kafka,
            bootstrap_servers(settings),
            max_offsets_per_trigger=stream.max_offsets_per_trigger,
            topic=topic,
        )
        kafka_rows = spark.readStream.format("kafka").options(**options).load()
        query = write_delta(
            kafka_rows.transform(to_bronze()),
            catalog.table("bronze", TABLES[query_name]),
            query_name=query_name,
            checkpoint=catalog.checkpoint(query_name),
            trigger=trigger or stream.trigger,
            partition_by=("ingest_date",),
        )
        if query is not None:
            started.append(query)
    return started or None
