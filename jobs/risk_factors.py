"""Risk factor job (``riskstream risk factors``, scheduled daily after the reference refresh):
``reference.price_history`` + ``silver.prices`` -> ``gold.risk_factors``.

Reads the daily closes and the ticks after them, estimates the factor model
(:func:`transformations.risk_factors.factor_model`: EWMA volatilities and correlations, the aligned
historical scenarios) and replaces ``gold.risk_factors`` with one overwrite: one Delta commit, so
gold's streaming risk reads either the previous model or the new one, never a mix. A re-run on the
same inputs writes the same rows again (only ``computed_at`` moves).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from riskstream.config import Settings
from riskstream.errors import PipelineError
from riskstream.tables import Catalog
from transformations.risk_factors import RISK_FACTORS_DDL, daily_closes, factor_model, factor_rows, intraday_closes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read_closes(spark: SparkSession, catalog: Catalog) -> pd.DataFrame:
    """``reference.price_history`` extended by each later day's latest tick in ``silver.prices``."""
    from pyspark.sql import functions as F

    history_table = catalog.table("reference", "price_history")
    if not history_table.exists(spark):
        raise PipelineError(
            f"risk factors: {history_table} does not exist; load reference data with a price_history.csv "
            "(`riskstream simulate reference --out reference` then `riskstream reference load --source reference`)"
        )
    history: pd.DataFrame = history_table.read(spark).toPandas()
    if history.empty:
        raise PipelineError(
            f"risk factors: {history_table} is empty; load a price_history.csv with `riskstream reference load`"
        )
    prices = catalog.table("silver", "prices")
    if not prices.exists(spark):
        return daily_closes(history, pd.DataFrame(columns=history.columns))
    since = datetime.combine(
        min(history.groupby(["factor_type", "factor_id"])["as_of_date"].max()), datetime.min.time()
    )
    ticks = prices.read(spark).where(F.col("tick_ts") >= F.lit(since.replace(tzinfo=UTC) + timedelta(days=1)))
    return daily_closes(history, intraday_closes(ticks).toPandas())


def factors_frame(spark: SparkSession, settings: Settings, computed_at: datetime) -> DataFrame:
    """The ``gold.risk_factors`` rows for the current closes."""
    risk = settings.risk
    try:
        model = factor_model(
            read_closes(spark, Catalog(settings)),
            decay=risk.ewma_decay,
            min_history=risk.min_history_days,
            scenario_days=risk.scenario_days,
        )
    except ValueError as error:
        raise PipelineError(f"risk factors: {error}") from error
    rows = factor_rows(model, risk.ewma_decay, computed_at)
    records = [
        (
            row.factor_type,
            row.factor_id,
            float(row.daily_vol),
            int(row.observations),
            row.as_of_date,
            float(row.ewma_decay),
            {key: float(value) for key, value in row.correlations.items()},
            list(row.scenario_dates),
            [float(value) for value in row.scenario_returns_1d],
            [float(value) for value in row.scenario_returns_10d],
            computed_at,
        )
        for row in rows.itertuples(index=False)
    ]
    return spark.createDataFrame(records, RISK_FACTORS_DDL)


def run(spark: SparkSession, settings: Settings, computed_at: datetime | None = None) -> int:
    """Replace ``gold.risk_factors``; returns how many factors were modelled."""
    from jobs.risk_tables import replace_risk_table

    frame = factors_frame(spark, settings, computed_at or datetime.now(UTC)).persist()
    try:
        replace_risk_table(spark, Catalog(settings), "risk_factors", frame)
        return frame.count()
    finally:
        frame.unpersist()
