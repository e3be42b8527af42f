"""Bronze job: the trades topic (Kafka source) -> ``bronze.trade_events`` (Delta, append-only)."""

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


def create_bronze_table(spark: SparkSession, catalog: Catalog) -> None:
    """Create ``bronze.trade_events`` if missing, so downstream streams can start before data arrives."""
    catalog.table("bronze", "trade_events").create_if_missing(spark, BRONZE_DDL, partitioned_by=("ingest_date",))


def run(spark: SparkSession, settings: Settings, trigger: TriggerConfig | None = None) -> StreamingQuery | None:
    """Start (or, for availableNow, run to completion) the bronze ingest query."""
    stream = settings.streams.bronze
    options = spark_source_options(
        settings.kafka, bootstrap_servers(settings), max_offsets_per_trigger=stream.max_offsets_per_trigger
    )
    kafka_rows = spark.readStream.format("kafka").options(**options).load()
    catalog = Catalog(settings)
    create_bronze_table(spark, catalog)
    return write_delta(
        kafka_rows.transform(to_bronze()),
        catalog.table("bronze", "trade_events"),
        query_name=QUERY_NAME,
        checkpoint=catalog.checkpoint(QUERY_NAME),
        trigger=trigger or stream.trigger,
        partition_by=("ingest_date",),
    )
