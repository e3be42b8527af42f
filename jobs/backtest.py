"""VaR backtest job (``riskstream risk backtest``, scheduled daily after the risk factors):
``gold.positions`` + the daily closes -> ``gold.var_backtest``.

Backtests every portfolio's current book over the last 250 days
(:func:`transformations.backtest.book_backtest`: 99 % one-day EWMA VaR forecast from the days before
each day, against the book's hypothetical P&L that day) and replaces ``gold.var_backtest`` with one
overwrite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from jobs.risk_factors import read_closes
from riskstream.config import Settings
from riskstream.errors import PipelineError
from riskstream.tables import Catalog
from transformations.backtest import BACKTEST_CONFIDENCE, VAR_BACKTEST_DDL, book_backtest, factor_returns
from transformations.risk import factor_exposures

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

POSITION_COLUMNS = ("portfolio_id", "instrument_id", "instrument_currency", "base_currency", "market_value_base")


def backtest_rows(
    positions: pd.DataFrame, closes: pd.DataFrame, *, decay: float, computed_at: datetime, vol_scale: float = 1.0
) -> list[tuple[object, ...]]:
    """``gold.var_backtest`` rows (``VAR_BACKTEST_DDL`` order), one per portfolio with a non-flat book."""
    returns = factor_returns(closes)
    rows: list[tuple[object, ...]] = []
    for portfolio_id, held in positions.groupby("portfolio_id", sort=True):
        held = held[held["market_value_base"].fillna(0.0) != 0.0].sort_values("instrument_id")
        if held.empty:
            continue
        try:
            tested = book_backtest(factor_exposures(held), returns, decay=decay, vol_scale=vol_scale)
        except ValueError as error:
            raise PipelineError(f"risk backtest: {portfolio_id}: {error}") from error
        result = tested.result
        rows.append(
            (
                str(portfolio_id),
                returns.index[-1],
                BACKTEST_CONFIDENCE,
                result.days,
                result.exceptions,
                result.days * (1.0 - BACKTEST_CONFIDENCE),
                result.kupiec_lr,
                result.kupiec_p_value,
                result.christoffersen_lr,
                result.christoffersen_p_value,
                result.traffic_light,
                vol_scale,
                decay,
                tested.unmodelled,
                tested.dates,
                [float(value) for value in tested.var],
                [float(value) for value in tested.pnl],
                computed_at,
            )
        )
    return rows


def run(spark: SparkSession, settings: Settings, computed_at: datetime | None = None) -> int:
    """Replace ``gold.var_backtest``; returns how many portfolios were backtested."""
    from jobs.risk_tables import replace_risk_table

    catalog = Catalog(settings)
    positions_table = catalog.table("gold", "positions")
    if not positions_table.exists(spark):
        raise PipelineError(f"risk backtest: {positions_table} does not exist yet; run `riskstream run gold` first")
    positions: pd.DataFrame = positions_table.read(spark).select(*POSITION_COLUMNS).toPandas()
    rows = backtest_rows(
        positions,
        read_closes(spark, catalog),
        decay=settings.risk.ewma_decay,
        computed_at=computed_at or datetime.now(UTC),
    )
    replace_risk_table(spark, catalog, "var_backtest", spark.createDataFrame(rows, VAR_BACKTEST_DDL))
    return len(rows)
