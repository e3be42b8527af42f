"""The views the Databricks dashboard and SQL alert read, next to the gold tables.

A Lakeview dashboard resolves its datasets' unqualified table names in one catalog and schema
(``dataset_catalog`` / ``dataset_schema`` in ``resources/riskstream_risk.dashboard.yml``: the
deployment's gold schema). Quarantine and stream progress live in the silver and ops schemas, whose
names carry the deployment's prefix, so ``riskstream run gold`` publishes them into the gold schema
as thin views (every column, no logic: the dashboard's own SQL does the work and is tested).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskstream.monitoring import STREAM_PROGRESS_DDL
from riskstream.tables import Catalog, Layer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DASHBOARD_VIEWS: dict[str, tuple[Layer, str]] = {
    "silver_quarantine": ("silver", "quarantine"),
    "ops_stream_progress": ("ops", "stream_progress"),
}
"""View name in the gold schema -> the table it shows."""


def view_statements(catalog: Catalog) -> list[str]:
    """``CREATE OR REPLACE VIEW`` for each of :data:`DASHBOARD_VIEWS` (Unity Catalog names only)."""
    statements = []
    for view, (layer, name) in DASHBOARD_VIEWS.items():
        target, source = catalog.table("gold", view), catalog.table(layer, name)
        if target.identifier is None or source.identifier is None:
            raise ValueError("dashboard views are for Unity Catalog targets; the local target has no dashboard")
        statements.append(f"CREATE OR REPLACE VIEW {target.sql_name} AS SELECT * FROM {source.sql_name}")
    return statements


def create_dashboard_views(spark: SparkSession, catalog: Catalog) -> None:
    """Make sure the viewed tables exist (a first deployment), then create or replace the views."""
    from jobs.silver import create_silver_tables

    create_silver_tables(spark, catalog)
    catalog.table("ops", "stream_progress").create_if_missing(spark, STREAM_PROGRESS_DDL)
    for statement in view_statements(catalog):
        spark.sql(statement)
