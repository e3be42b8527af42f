"""What risk is computed from besides positions: the risk model and its reference versions.

Shared by the hot query (jobs/hot.py) and the Spark gold writer (jobs/gold.py). The versions of the
instruments, portfolios, fx_rates and correlations tables and of ``gold.risk_factors`` are read at most once per
``gold.reference_check_interval``; the model is rebuilt only when one of them changed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pandas as pd

from riskstream.config import Settings
from riskstream.tables import Catalog
from transformations.risk import CorrelationTable, FactorEstimates, RiskModel

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class RiskInputs:
    """The reference versions risk was computed with, and the risk model built from them."""

    def __init__(self, settings: Settings) -> None:
        catalog = Catalog(settings)
        self.reference = {name: catalog.table("reference", name) for name in ("instruments", "portfolios", "fx_rates")}
        self._correlations = catalog.table("reference", "correlations")
        self._risk_factors = catalog.table("gold", "risk_factors")
        self._risk_settings = settings.risk
        self._model: tuple[tuple[int, ...], RiskModel] | None = None
        self._versions: tuple[int, ...] | None = None
        self._checked_at = 0.0
        self._check_interval_s = pd.Timedelta(settings.gold.reference_check_interval).total_seconds()

    def versions(self, spark: SparkSession, last_used: tuple[int, ...] | None) -> tuple[int, ...]:
        """The reference tables' current versions, read at most once per check interval (in between,
        ``last_used``: the versions risk was last computed with)."""
        now = time.monotonic()
        if last_used is not None and now - self._checked_at < self._check_interval_s:
            return last_used
        self._checked_at = now
        reference = self.reference
        tables = (reference["instruments"], reference["portfolios"], reference["fx_rates"], self._correlations)
        versions = [int(table.delta_table(spark).history(1).collect()[0]["version"]) for table in tables]
        # gold.risk_factors is written by the scheduled `riskstream risk factors` job: -1 until its first run
        factors = self._risk_factors
        versions.append(
            int(factors.delta_table(spark).history(1).collect()[0]["version"]) if factors.exists(spark) else -1
        )
        return tuple(versions)

    def model(self, spark: SparkSession, versions: tuple[int, ...]) -> RiskModel:
        """The risk model for ``versions``, rebuilt only when one of them has changed."""
        if self._model is not None and self._model[0] == versions:
            return self._model[1]
        correlation_rows = self._correlations.read(spark).select("level", "left_id", "right_id", "correlation")
        risk = self._risk_settings
        correlations = CorrelationTable.from_rows(
            [tuple(row) for row in correlation_rows.collect()], risk.intra_sector_correlation
        )
        rows = [row.asDict() for row in self._risk_factors.read(spark).collect()] if versions[-1] >= 0 else []
        model = RiskModel(correlations, FactorEstimates.from_rows(rows), risk.fx_daily_vol, risk.scenarios())
        self._model = (versions, model)
        return model
