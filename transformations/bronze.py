"""Bronze: Kafka records as they arrived, plus when we ingested them. Nothing is parsed here."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations import Transform

BRONZE_DDL = (
    "key binary, value binary, topic string, `partition` int, `offset` long, kafka_timestamp timestamp, "
    "kafka_timestamp_type int, headers array<struct<key: string, value: binary>>, ingest_ts timestamp, "
    "ingest_date date"
)
"""bronze.trade_events, as created before the first write (partitioned by ingest_date)."""

BRONZE_COLUMNS = (
    "key",
    "value",
    "topic",
    "partition",
    "offset",
    "kafka_timestamp",
    "kafka_timestamp_type",
    "headers",
    "ingest_ts",
    "ingest_date",
)


def to_bronze(ingest_ts: Column | None = None) -> Transform:
    """Shape Spark Kafka-source rows into ``bronze.trade_events`` rows.

    Args:
        ingest_ts: the ingest time column; ``current_timestamp()`` (the micro-batch time) by default.
            Tests pass a literal to get exact rows.

    Returns:
        A ``DataFrame -> DataFrame`` function for ``df.transform``. The raw ``value`` bytes are kept
        untouched so that a malformed event can always be replayed from bronze.
    """
    ingest = ingest_ts if ingest_ts is not None else F.current_timestamp()

    def transform(kafka_rows: DataFrame) -> DataFrame:
        return kafka_rows.select(
            F.col("key"),
            F.col("value"),
            F.col("topic"),
            F.col("partition").cast("int").alias("partition"),
            F.col("offset").cast("long").alias("offset"),
            F.col("timestamp").alias("kafka_timestamp"),
            F.col("timestampType").cast("int").alias("kafka_timestamp_type"),
            F.col("headers"),
            ingest.alias("ingest_ts"),
            F.to_date(ingest).alias("ingest_date"),
        )

    return transform


def header_value(name: str) -> Column:
    """The first Kafka header called ``name`` as a UTF-8 string (null when absent)."""
    matching = F.filter(F.col("headers"), lambda header: header["key"] == F.lit(name))
    # try_element_at: null (not an ANSI-mode error that fails the batch) when the header is absent.
    return F.try_element_at(matching, F.lit(1))["value"].cast("string")
