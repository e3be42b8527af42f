"""The gold tables the scheduled risk jobs replace: their schemas and keys, and the one way they are written.

Each run replaces its table with one overwrite commit (a reader sees one whole run). The tables are
created first with the change data feed on, like the streaming gold tables, so the Snowflake sync
carries them too (an overwrite reaches it as deletes and inserts of the same commit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskstream.tables import Catalog
from transformations.backtest import VAR_BACKTEST_DDL
from transformations.risk_factors import RISK_FACTORS_DDL
from transformations.stress import STRESS_RESULTS_DDL

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RISK_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "risk_factors": (RISK_FACTORS_DDL, ("factor_type", "factor_id")),
    "stress_results": (STRESS_RESULTS_DDL, ("portfolio_id", "scenario")),
    "var_backtest": (VAR_BACKTEST_DDL, ("portfolio_id",)),
}
"""Table name -> (schema, key columns)."""


def replace_risk_table(spark: SparkSession, catalog: Catalog, name: str, frame: DataFrame) -> None:
    """Replace gold table ``name`` (one of :data:`RISK_TABLES`) with ``frame``, in one commit."""
    from riskstream.reference import overwrite_table

    table = catalog.table("gold", name)
    table.create_if_missing(spark, RISK_TABLES[name][0], properties={"delta.enableChangeDataFeed": "true"})
    overwrite_table(frame, table)
