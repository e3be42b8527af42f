"""Delta (Spark) -> Snowflake column types, and the additive-only schema evolution rule.

| Delta / Spark            | Snowflake         | note                                                     |
|--------------------------|-------------------|----------------------------------------------------------|
| string                   | VARCHAR           | reported as TEXT by information_schema                   |
| tinyint/smallint/int/long| NUMBER(3/5/10/19,0)| exact integers                                          |
| decimal(p,s)             | NUMBER(p,s)       |                                                          |
| float, double            | FLOAT             | 64-bit IEEE                                              |
| boolean                  | BOOLEAN           |                                                          |
| timestamp, timestamp_ntz | TIMESTAMP_NTZ     | UTC wall-clock (the Spark session time zone is UTC)      |
| date                     | DATE              |                                                          |
| array, map, struct       | VARCHAR           | the value as JSON text (``to_json``); ``PARSE_JSON`` it  |
| binary, interval, other  | refused           | SyncError naming table and column                        |

Nested types land as JSON text rather than VARIANT because the change set is staged and merged
with plain column references (fakesnow's MERGE cannot carry ``PARSE_JSON`` expressions, and a
single code path for the emulator and a real account is worth more than the native type).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from riskstream.errors import SyncError


@dataclass(frozen=True)
class SnowflakeType:
    """A Snowflake column type, comparable with what ``information_schema.columns`` reports."""

    name: str
    precision: int | None = None
    scale: int | None = None

    @property
    def ddl(self) -> str:
        if self.name == "NUMBER":
            return f"NUMBER({self.precision},{self.scale})"
        return "VARCHAR" if self.name == "TEXT" else self.name

    @classmethod
    def from_information_schema(cls, data_type: str, precision: int | None, scale: int | None) -> SnowflakeType:
        name = data_type.upper()
        if name == "NUMBER":
            return cls("NUMBER", int(precision) if precision is not None else 38, int(scale or 0))
        return cls({"VARCHAR": "TEXT", "DOUBLE": "FLOAT", "REAL": "FLOAT"}.get(name, name))


_INTEGER_PRECISION = {T.ByteType: 3, T.ShortType: 5, T.IntegerType: 10, T.LongType: 19}


def is_nested(data_type: T.DataType) -> bool:
    """Arrays, maps and structs: staged and stored as JSON text."""
    return isinstance(data_type, (T.ArrayType, T.MapType, T.StructType))


def snowflake_type(table: str, column: str, data_type: T.DataType) -> SnowflakeType:
    """The Snowflake type for one Delta column.

    Raises:
        SyncError: the Delta type has no mapping; the message names table, column and type.
    """
    for spark_type, precision in _INTEGER_PRECISION.items():
        if isinstance(data_type, spark_type):
            return SnowflakeType("NUMBER", precision, 0)
    if isinstance(data_type, T.DecimalType):
        return SnowflakeType("NUMBER", data_type.precision, data_type.scale)
    if isinstance(data_type, (T.DoubleType, T.FloatType)):
        return SnowflakeType("FLOAT")
    if isinstance(data_type, (T.StringType, T.VarcharType, T.CharType)) or is_nested(data_type):
        return SnowflakeType("TEXT")
    if isinstance(data_type, T.BooleanType):
        return SnowflakeType("BOOLEAN")
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return SnowflakeType("TIMESTAMP_NTZ")
    if isinstance(data_type, T.DateType):
        return SnowflakeType("DATE")
    raise SyncError(
        f"table {table}, column {column}: Delta type {data_type.simpleString()} has no Snowflake mapping; "
        "cast it in the gold job or extend riskstream/snowflake/types.py"
    )


def target_columns(table: str, schema: T.StructType) -> dict[str, SnowflakeType]:
    """Upper-cased column name -> Snowflake type, in Delta column order."""
    return {field.name.upper(): snowflake_type(table, field.name, field.dataType) for field in schema.fields}


def columns_to_add(
    table: str, wanted: dict[str, SnowflakeType], existing: dict[str, SnowflakeType]
) -> dict[str, SnowflakeType]:
    """The columns to ``ALTER TABLE ... ADD``; refuses anything that is not purely additive.

    Raises:
        SyncError: a column changed type, or exists in Snowflake but no longer in Delta. The message
            names the table and the column and says both types.
    """
    for column, existing_type in existing.items():
        if column not in wanted:
            raise SyncError(
                f"table {table}, column {column}: present in Snowflake but dropped from the Delta table; "
                "only additive schema changes are synced (drop or rename it in Snowflake deliberately)"
            )
        if wanted[column] != existing_type:
            raise SyncError(
                f"table {table}, column {column}: type changed from {existing_type.ddl} in Snowflake to "
                f"{wanted[column].ddl} in Delta; only additive schema changes are synced"
            )
    return {column: kind for column, kind in wanted.items() if column not in existing}
