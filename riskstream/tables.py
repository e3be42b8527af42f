"""Table and checkpoint locations for a target.

Locally every table is a path-based Delta table under ``storage.base_path/<layer>/<name>``;
on Databricks it is the Unity Catalog table ``catalog.<layer schema>.<name>``. Jobs only ever see
:class:`TableRef`, so the same code runs in both places.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from riskstream.config import Settings

if TYPE_CHECKING:
    from delta.tables import DeltaTable
    from pyspark.sql import DataFrame, DataFrameReader, DataFrameWriter, SparkSession
    from pyspark.sql.streaming import DataStreamReader

Layer = Literal["bronze", "silver", "gold", "ops", "reference"]


def quote_identifier(name: str) -> str:
    """Back-quote one identifier part for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class TableRef:
    """One Delta table: either a Unity Catalog name or a filesystem path."""

    layer: str
    name: str
    identifier: str | None = None
    path: str | None = None

    @property
    def sql_name(self) -> str:
        """The name to use in SQL: ``catalog.schema.table`` back-quoted, or ``delta.`<path>```."""
        if self.identifier:
            return ".".join(quote_identifier(part) for part in self.identifier.split("."))
        return f"delta.{quote_identifier(str(self.path))}"

    def __str__(self) -> str:
        return self.identifier or str(self.path)

    def _reader(self, spark: SparkSession) -> DataFrameReader:
        return spark.read.format("delta")

    def read(self, spark: SparkSession) -> DataFrame:
        """A batch read of the current version."""
        if self.identifier:
            return spark.read.table(self.identifier)
        return self._reader(spark).load(self.path)

    def read_stream(self, spark: SparkSession, options: dict[str, str] | None = None) -> DataFrame:
        """A streaming read of the table (Delta source)."""
        reader: DataStreamReader = spark.readStream.format("delta").options(**(options or {}))
        return reader.table(self.identifier) if self.identifier else reader.load(self.path)

    def save(self, writer: DataFrameWriter) -> None:
        """Run a configured batch ``writer`` (format, mode, options) against this table."""
        if self.identifier:
            writer.saveAsTable(self.identifier)
        else:
            writer.save(self.path)

    def delta_table(self, spark: SparkSession) -> DeltaTable:
        """The ``DeltaTable`` handle, for MERGE, history and detail."""
        from delta.tables import DeltaTable

        if self.identifier:
            return DeltaTable.forName(spark, self.identifier)
        return DeltaTable.forPath(spark, str(self.path))

    def create_if_missing(
        self,
        spark: SparkSession,
        ddl: str,
        *,
        partitioned_by: tuple[str, ...] = (),
        properties: dict[str, str] | None = None,
    ) -> None:
        """``CREATE TABLE IF NOT EXISTS`` with ``ddl`` columns, so readers can start before the first write.

        ``properties`` are table properties; a table that exists without them (made by an earlier
        release) gets them with one ``ALTER TABLE``, and a table that has them is left as it is.
        """
        statement = f"CREATE TABLE IF NOT EXISTS {self.sql_name} ({ddl}) USING DELTA"
        if partitioned_by:
            statement += f" PARTITIONED BY ({', '.join(quote_identifier(column) for column in partitioned_by)})"
        if properties:
            statement += f" TBLPROPERTIES ({_property_list(properties)})"
        spark.sql(statement)
        if properties:
            current = spark.sql(f"DESCRIBE DETAIL {self.sql_name}").first()
            held = dict(current["properties"] or {}) if current is not None else {}
            missing = {key: value for key, value in properties.items() if held.get(key) != value}
            if missing:
                spark.sql(f"ALTER TABLE {self.sql_name} SET TBLPROPERTIES ({_property_list(missing)})")

    def add_missing_columns(self, spark: SparkSession, ddl: str) -> list[str]:
        """Add the columns of ``ddl`` the table lacks (made by an earlier release), with one ``ALTER TABLE
        ADD COLUMNS``; returns their names. Existing columns are never changed or dropped."""
        from transformations.schemas import schema

        held = {name.lower() for name in self.read(spark).schema.fieldNames()}
        missing = [column for column in schema(ddl).fields if column.name.lower() not in held]
        if missing:
            columns = ", ".join(
                f"{quote_identifier(column.name)} {column.dataType.simpleString()}" for column in missing
            )
            spark.sql(f"ALTER TABLE {self.sql_name} ADD COLUMNS ({columns})")
        return [column.name for column in missing]

    def exists(self, spark: SparkSession) -> bool:
        from delta.tables import DeltaTable

        if self.identifier:
            return bool(spark.catalog.tableExists(self.identifier))
        return bool(DeltaTable.isDeltaTable(spark, str(self.path)))


def _property_list(properties: dict[str, str]) -> str:
    """``'key' = 'value', ...`` for TBLPROPERTIES."""

    def quoted(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return ", ".join(f"{quoted(key)} = {quoted(value)}" for key, value in properties.items())


class Catalog:
    """Resolves table and checkpoint locations from a target's storage settings."""

    def __init__(self, settings: Settings) -> None:
        self._storage = settings.storage

    def schema_for(self, layer: Layer) -> str:
        """The Unity Catalog schema of ``layer`` (with the deployment's schema prefix)."""
        return self._storage.schema_of(layer)

    def table(self, layer: Layer, name: str) -> TableRef:
        if self._storage.catalog:
            return TableRef(layer, name, identifier=f"{self._storage.catalog}.{self.schema_for(layer)}.{name}")
        return TableRef(layer, name, path=f"{self._storage.base_path}/{layer}/{name}")

    def checkpoint(self, query_name: str) -> str:
        """One checkpoint folder per streaming query."""
        return f"{self._storage.checkpoint_root}/{query_name}"
