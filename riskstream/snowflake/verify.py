"""``riskstream sync --verify``: Delta gold vs Snowflake, by row count and per-key checksum.

Each row is rendered to a canonical string (values in Delta column order, NULL as ``\\N``, numbers
normalised, floats by ``repr``, timestamps ISO-8601 naive UTC, nested values as the same JSON text
the sync stages) and hashed with MD5; keys are compared as sets and checksums key by key. The
Delta side is read at the version the control table says was synced, so a Delta commit that
arrived after the sync is not reported as a difference.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from riskstream.config import Settings
from riskstream.snowflake import delta_source
from riskstream.snowflake.changes import to_snowflake_columns
from riskstream.snowflake.connection import snowflake_client
from riskstream.snowflake.sync import NEVER_SYNCED, synced_version
from riskstream.snowflake.tables import qualified, snowflake_name
from riskstream.tables import Catalog

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_SEPARATOR = "\x1f"


def canonical_value(value: Any) -> str:
    """One value as text that is the same whether it came from Spark or from the Snowflake connector."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        number = decimal.Decimal(value)
        return "0" if number == 0 else format(number.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def row_checksums(rows: Iterable[Sequence[Any]], key_positions: Sequence[int]) -> dict[tuple[str, ...], str]:
    """Canonical key -> MD5 of the canonical row."""
    checksums = {}
    for row in rows:
        values = [canonical_value(value) for value in row]
        key = tuple(values[position] for position in key_positions)
        checksums[key] = hashlib.md5(_SEPARATOR.join(values).encode(), usedforsecurity=False).hexdigest()
    return checksums


@dataclass
class TableVerification:
    """The comparison of one table. ``ok`` only when counts and every checksum agree."""

    table: str
    version: int | None
    delta_rows: int = 0
    snowflake_rows: int = 0
    missing_in_snowflake: list[tuple[str, ...]] = field(default_factory=list)
    extra_in_snowflake: list[tuple[str, ...]] = field(default_factory=list)
    different: list[tuple[str, ...]] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and not (self.missing_in_snowflake or self.extra_in_snowflake or self.different)

    def describe(self, limit: int = 5) -> str:
        if self.problem:
            return f"{self.table}: {self.problem}"
        head = (
            f"{self.table}: Delta version {self.version}: {self.delta_rows} rows in Delta, "
            f"{self.snowflake_rows} in Snowflake"
        )
        if self.ok:
            return f"{head}, all checksums match"
        lines = [head]
        for label, keys in (
            ("missing in Snowflake", self.missing_in_snowflake),
            ("only in Snowflake", self.extra_in_snowflake),
            ("different values", self.different),
        ):
            if keys:
                shown = "; ".join("(" + ", ".join(key) + ")" for key in keys[:limit])
                more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
                lines.append(f"  {len(keys)} {label}: {shown}{more}")
        return "\n".join(lines)


def compare(
    table: str, version: int, delta: Mapping[tuple[str, ...], str], snowflake: Mapping[tuple[str, ...], str]
) -> TableVerification:
    """The differences between two key -> checksum maps."""
    return TableVerification(
        table,
        version,
        delta_rows=len(delta),
        snowflake_rows=len(snowflake),
        missing_in_snowflake=sorted(set(delta) - set(snowflake)),
        extra_in_snowflake=sorted(set(snowflake) - set(delta)),
        different=sorted(key for key in set(delta) & set(snowflake) if delta[key] != snowflake[key]),
    )


def verify_tables(
    spark: SparkSession, settings: Settings, tables: Mapping[str, Sequence[str]]
) -> list[TableVerification]:
    """Compare every table in ``tables`` that has a Delta table; one result per table."""
    config = settings.snowflake
    catalog = Catalog(settings)
    control = qualified(config.database, config.schema_name, config.control_table)
    results = []
    with snowflake_client(config) as client:
        connection = client.connect()
        try:
            cursor = connection.cursor()
            for table, keys in tables.items():
                ref = catalog.table("gold", table)
                if not ref.exists(spark):
                    continue
                try:
                    version = synced_version(cursor, control, table)
                except Exception as error:  # the control table itself may not exist yet
                    if "does not exist" not in str(error):
                        raise
                    version = None
                if version is None or version == NEVER_SYNCED:
                    results.append(TableVerification(table, None, problem="never synced to Snowflake"))
                    continue
                frame = delta_source.snapshot(spark, ref, version)
                frame = frame.transform(to_snowflake_columns(frame.schema))
                columns = frame.columns
                key_positions = [columns.index(key.upper()) for key in keys]
                # Arrow keeps timestamps UTC-aware; collect() would render them in the driver's local zone
                delta_rows = [tuple(row.values()) for row in frame.toArrow().to_pylist()]
                target = qualified(config.database, config.schema_name, table)
                cursor.execute(f"SELECT {', '.join(snowflake_name(column) for column in columns)} FROM {target}")
                snowflake_rows = cursor.fetchall()
                delta_checksums = row_checksums(delta_rows, key_positions)
                snowflake_checksums = row_checksums(snowflake_rows, key_positions)
                result = compare(table, version, delta_checksums, snowflake_checksums)
                result.delta_rows, result.snowflake_rows = len(delta_rows), len(snowflake_rows)
                results.append(result)
        finally:
            connection.close()
    return results
