"""Reads of one gold Delta table for the sync: latest version, snapshot at a version, change feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskstream.errors import SyncError
from riskstream.tables import TableRef

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Error markers Delta uses when the files or log entries of a change-feed range are gone (VACUUM,
# log retention). Any of them sends the sync to the snapshot + reconcile path.
CHANGE_FEED_UNAVAILABLE_MARKERS = (
    "DELTA_CHANGE_DATA_FILE_NOT_FOUND",
    "DELTA_FILE_NOT_FOUND",
    "FileNotFoundException",
    "VersionNotFoundException",
    "DELTA_VERSIONS_NOT_CONTIGUOUS",
    "DELTA_CANNOT_TIME_TRAVEL",
    "DELTA_TIMESTAMP_GREATER_THAN_COMMIT",
)


def change_feed_unavailable(error: Exception) -> bool:
    """Whether ``error`` means the requested change-feed range no longer exists."""
    text = str(error)
    return any(marker in text for marker in CHANGE_FEED_UNAVAILABLE_MARKERS)


def latest_version(spark: SparkSession, ref: TableRef) -> int:
    """The table's newest commit version, from the log only (no data files read)."""
    row = ref.delta_table(spark).history(1).select("version").head()
    assert row is not None
    return int(row[0])


def require_change_feed(spark: SparkSession, ref: TableRef, table: str) -> None:
    """Refuse a table without ``delta.enableChangeDataFeed``: it could never be synced incrementally."""
    row = ref.delta_table(spark).detail().select("properties").head()
    properties = dict(row[0] or {}) if row is not None else {}
    if properties.get("delta.enableChangeDataFeed", "false").lower() != "true":
        raise SyncError(
            f"table {table} ({ref}) does not have the Delta change data feed enabled; run "
            f"ALTER TABLE {ref.sql_name} SET TBLPROPERTIES (delta.enableChangeDataFeed = true) and sync again"
        )


def _read(spark: SparkSession, ref: TableRef, options: dict[str, str]) -> DataFrame:
    reader = spark.read.format("delta").options(**options)
    return reader.table(ref.identifier) if ref.identifier else reader.load(str(ref.path))


def snapshot(spark: SparkSession, ref: TableRef, version: int) -> DataFrame:
    """The table as of ``version`` (time travel), so the recorded version matches the rows exactly."""
    return _read(spark, ref, {"versionAsOf": str(version)})


def change_feed(spark: SparkSession, ref: TableRef, first_version: int, last_version: int) -> DataFrame:
    """The change data feed for versions ``first_version..last_version`` inclusive."""
    return _read(
        spark,
        ref,
        {"readChangeFeed": "true", "startingVersion": str(first_version), "endingVersion": str(last_version)},
    )
