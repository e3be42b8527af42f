"""Stress job (``riskstream risk stress``, scheduled hourly): ``gold.positions`` -> ``gold.stress_results``.

Revalues every portfolio's current positions under each scenario of ``risk.stress_scenarios``
(:func:`transformations.stress.stress_results`) and replaces ``gold.stress_results`` with one
overwrite, so a reader sees one complete run. The streaming ``gold_positions`` query computes the
same P&L per batch for the portfolios it touches (``gold.portfolio_risk.stress_pnl``) and raises the
``stress_loss`` alert; this table is the full picture per scenario, with the P&L by asset class.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from riskstream.config import Settings
from riskstream.errors import PipelineError
from riskstream.tables import Catalog
from transformations.stress import STRESS_RESULTS_DDL, stress_results

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

POSITION_COLUMNS = (
    "portfolio_id",
    "instrument_id",
    "sector",
    "asset_class",
    "instrument_currency",
    "base_currency",
    "market_value_base",
)


def run(spark: SparkSession, settings: Settings, computed_at: datetime | None = None) -> int:
    """Replace ``gold.stress_results``; returns how many rows (portfolios x scenarios) were written."""
    from jobs.risk_tables import replace_risk_table

    catalog = Catalog(settings)
    positions_table = catalog.table("gold", "positions")
    if not positions_table.exists(spark):
        raise PipelineError(f"risk stress: {positions_table} does not exist yet; run `riskstream run gold` first")
    positions: pd.DataFrame = positions_table.read(spark).select(*POSITION_COLUMNS).toPandas()
    limits = {
        row.portfolio_id: row.stress_loss_limit
        for row in catalog.table("reference", "portfolios")
        .read(spark)
        .select("portfolio_id", "stress_loss_limit")
        .collect()
    }
    rows = stress_results(positions, limits, settings.risk.scenarios(), computed_at or datetime.now(UTC))
    records = [tuple(_python(value) for value in row) for row in rows.itertuples(index=False)]
    replace_risk_table(spark, catalog, "stress_results", spark.createDataFrame(records, STRESS_RESULTS_DDL))
    return len(records)


def _python(value: object) -> object:
    """A pandas cell as the Python value Spark's row conversion accepts (NaN -> None)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, float) and pd.isna(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()  # numpy scalars
    return value
