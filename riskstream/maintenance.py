"""Delta table maintenance: OPTIMIZE (compaction, optional Z-order) then VACUUM, per layer.

Streaming writers leave many small files behind (one set per micro-batch), which slows every
reader; OPTIMIZE compacts them. VACUUM then deletes the files no version inside the retention
window still needs. The statements are planned by a pure function (:func:`maintenance_statements`)
from the tables found and the ``maintenance:`` settings, and executed by :func:`run_maintenance`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from riskstream.config import MaintenanceConfig, Settings
from riskstream.errors import PipelineError, first_line
from riskstream.tables import Catalog, Layer, TableRef, quote_identifier

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MAINTAINED_LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class MaintenanceStatement:
    """One SQL statement and the table it maintains (``layer.table``), for progress messages."""

    table: str
    operation: str
    sql: str


def maintenance_statements(tables: Sequence[TableRef], config: MaintenanceConfig) -> list[MaintenanceStatement]:
    """OPTIMIZE then VACUUM for each table, in the order given.

    Args:
        tables: the Delta tables to maintain.
        config: retention (hours, at least 168) and optional Z-order columns per ``layer.table``.

    Returns:
        Two statements per table: ``OPTIMIZE <table> [ZORDER BY (...)]`` and
        ``VACUUM <table> RETAIN <hours> HOURS``.
    """
    statements: list[MaintenanceStatement] = []
    for table in tables:
        key = f"{table.layer}.{table.name}"
        optimize = f"OPTIMIZE {table.sql_name}"
        zorder = config.zorder_by.get(key)
        if zorder:
            optimize += " ZORDER BY (" + ", ".join(quote_identifier(column) for column in zorder) + ")"
        statements.append(MaintenanceStatement(key, "optimize", optimize))
        statements.append(
            MaintenanceStatement(key, "vacuum", f"VACUUM {table.sql_name} RETAIN {config.vacuum_retention_hours} HOURS")
        )
    return statements


def local_table_names(settings: Settings, layer: Layer) -> list[str]:
    """The Delta tables (folders with a ``_delta_log``) under ``base_path/<layer>/`` of a path-based target."""
    layer_dir = Path(str(settings.storage.base_path)) / layer
    return sorted(child.name for child in layer_dir.glob("*") if (child / "_delta_log").is_dir())


def discover_tables(spark: SparkSession, settings: Settings) -> list[TableRef]:
    """Every Delta table of the bronze, silver and gold layers, sorted by layer then name.

    On Unity Catalog: the non-view tables of each layer's schema (a missing schema has none).
    Locally: the folders under ``base_path/<layer>/`` that hold a ``_delta_log``.
    """
    catalog = Catalog(settings)
    found: list[TableRef] = []
    for layer in MAINTAINED_LAYERS:
        if settings.storage.catalog:
            schema = f"{settings.storage.catalog}.{catalog.schema_for(layer)}"
            if not spark.catalog.databaseExists(schema):
                continue
            names = sorted(
                table.name
                for table in spark.catalog.listTables(schema)
                if not table.isTemporary and (table.tableType or "").upper() != "VIEW"
            )
        else:
            names = local_table_names(settings, layer)
        found.extend(catalog.table(layer, name) for name in names)
    return found


def run_maintenance(
    spark: SparkSession, settings: Settings, report: Callable[[str], None] = lambda message: None
) -> list[MaintenanceStatement]:
    """Find the tables, run OPTIMIZE and VACUUM on each, and return the statements run.

    Raises:
        PipelineError: a statement failed (for example a Z-order column the table does not have).
            The statements before it have completed; OPTIMIZE and VACUUM are safe to re-run.
    """
    tables = discover_tables(spark, settings)
    missing = sorted(set(settings.maintenance.zorder_by) - {f"{table.layer}.{table.name}" for table in tables})
    for key in missing:
        report(f"maintain: {key} has Z-order columns in conf but no such table was found; skipped")
    statements = maintenance_statements(tables, settings.maintenance)
    for statement in statements:
        report(f"maintain: {statement.operation} {statement.table}")
        try:
            spark.sql(statement.sql).collect()
        except Exception as error:  # Spark raises AnalysisException, Py4JJavaError, SparkConnect errors
            raise PipelineError(f"{statement.operation} of {statement.table} failed: {first_line(error)}") from None
    return statements
