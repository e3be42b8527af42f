"""Pure transformations from a Delta change data feed (or a snapshot) to a Snowflake change set.

A change set has the table's columns plus ``__op`` (``'U'`` upsert or ``'D'`` delete) and
``__commit_version``, and holds at most one row per key: the key's last change in the range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from riskstream.snowflake.types import is_nested

OP_COLUMN = "__op"
VERSION_COLUMN = "__commit_version"
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")

# Within one commit a key can be deleted and re-inserted (an overwrite); the later kind wins.
_CHANGE_TYPE_RANK = {"delete": 0, "insert": 1, "update_postimage": 2}


def latest_change_per_key(keys: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """Reduce a change data feed read to one change per key: the latest.

    Preimages are dropped; per key the row with the highest ``_commit_version`` wins, ties broken
    by change type (delete < insert < update_postimage), so the result is deterministic. A delete
    becomes ``__op = 'D'``, anything else ``'U'``.
    """

    def transform(changes: DataFrame) -> DataFrame:
        rank = F.create_map(
            *[item for kind, order in _CHANGE_TYPE_RANK.items() for item in (F.lit(kind), F.lit(order))]
        )
        latest_first = Window.partitionBy(*keys).orderBy(
            F.col("_commit_version").desc(), rank[F.col("_change_type")].desc()
        )
        data_columns = [name for name in changes.columns if name not in CDF_COLUMNS]
        return (
            changes.where(F.col("_change_type") != "update_preimage")
            .withColumn("__rank", F.row_number().over(latest_first))
            .where(F.col("__rank") == 1)
            .select(
                *data_columns,
                F.when(F.col("_change_type") == "delete", F.lit("D")).otherwise(F.lit("U")).alias(OP_COLUMN),
                F.col("_commit_version").cast("long").alias(VERSION_COLUMN),
            )
        )

    return transform


def snapshot_as_changes(version: int) -> Callable[[DataFrame], DataFrame]:
    """Every row of a snapshot read at ``version`` as an upsert."""

    def transform(snapshot: DataFrame) -> DataFrame:
        return snapshot.withColumn(OP_COLUMN, F.lit("U")).withColumn(VERSION_COLUMN, F.lit(version).cast("long"))

    return transform


def _staged(field: T.StructField) -> Column:
    column = F.col(field.name)
    return (F.to_json(column) if is_nested(field.dataType) else column).alias(field.name.upper())


def to_snowflake_columns(schema: T.StructType) -> Callable[[DataFrame], DataFrame]:
    """Upper-case the table's columns (in ``schema`` order) and render nested values as JSON text.

    Columns beyond ``schema`` (``__op``, ``__commit_version``) are kept, upper-cased.
    """

    def transform(frame: DataFrame) -> DataFrame:
        extra = [F.col(name).alias(name.upper()) for name in frame.columns if name not in schema.fieldNames()]
        return frame.select(*[_staged(field) for field in schema.fields], *extra)

    return transform
