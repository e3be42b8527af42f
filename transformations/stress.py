"""Stress tests: what-if shocks by asset class, sector, instrument and currency, revalued exactly.

Pure Python / pandas. A scenario (``risk.stress_scenarios`` in conf, defaults in
:data:`riskstream.config.DEFAULT_STRESS_SCENARIOS`) moves instrument prices by a relative shock and
currencies by a relative change in value:

* **Instrument shock**: the most specific shock that names the instrument wins: ``instrument``, else
  its ``sector``, else its ``asset_class``, else 0. ``-0.20`` is a 20 % fall in price.
* **Currency shock** ``s_x``: currency ``x`` gains ``s_x`` in value against a common numeraire, so its
  USD rate moves by ``(1 + s_x) / (1 + s_USD)``; ``{"USD": 0.05}`` is a 5 % USD rally against every
  other currency. A position in currency ``c`` held in a book of base currency ``b`` then changes its
  ``c -> b`` rate by ``(1 + s_c) / (1 + s_b)``.
* **Scenario P&L** of a position of base-currency value ``w`` (full revaluation, not a linear
  approximation): ``w x ((1 + shock_instrument) x (1 + s_c) / (1 + s_b) - 1)``; a portfolio's is the
  sum over its positions, its **loss** ``max(-P&L, 0)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class StressScenario:
    """One scenario: relative shocks by asset class, sector, instrument and currency."""

    name: str
    description: str
    asset_class: Mapping[str, float] = field(default_factory=dict)
    sector: Mapping[str, float] = field(default_factory=dict)
    instrument: Mapping[str, float] = field(default_factory=dict)
    fx: Mapping[str, float] = field(default_factory=dict)

    def instrument_shock(self, instrument_id: str, sector: str | None, asset_class: str | None) -> float:
        """The most specific shock naming the instrument (module docstring)."""
        if instrument_id in self.instrument:
            return float(self.instrument[instrument_id])
        if sector is not None and sector in self.sector:
            return float(self.sector[sector])
        if asset_class is not None and asset_class in self.asset_class:
            return float(self.asset_class[asset_class])
        return 0.0

    def rate_change(self, currency: str, base_currency: str) -> float:
        """The factor the ``currency -> base_currency`` rate is multiplied by."""
        return (1.0 + self.fx.get(currency, 0.0)) / (1.0 + self.fx.get(base_currency, 0.0))


def position_pnl(
    scenario: StressScenario,
    value_base: float,
    instrument_id: str,
    sector: str | None,
    asset_class: str | None,
    currency: str,
    base_currency: str,
) -> float:
    """A position's P&L in base currency under ``scenario`` (full revaluation)."""
    shock = scenario.instrument_shock(instrument_id, sector, asset_class)
    return value_base * ((1.0 + shock) * scenario.rate_change(currency, base_currency) - 1.0)


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def portfolio_stress(held: pd.DataFrame, scenarios: Sequence[StressScenario]) -> dict[str, float]:
    """Scenario name -> the portfolio's P&L in base currency.

    Args:
        held: the portfolio's positions: ``instrument_id, sector, asset_class, instrument_currency,
            base_currency, market_value_base``.
    """
    totals = dict.fromkeys((scenario.name for scenario in scenarios), 0.0)
    for row in held.itertuples(index=False):
        value = float(row.market_value_base)
        if value == 0.0 or pd.isna(value):
            continue
        for scenario in scenarios:
            totals[scenario.name] += position_pnl(
                scenario,
                value,
                row.instrument_id,
                _text(row.sector),
                _text(row.asset_class),
                str(row.instrument_currency),
                str(row.base_currency),
            )
    return {name: total + 0.0 for name, total in totals.items()}


def worst_loss(stress_pnl: Mapping[str, float]) -> tuple[str | None, float]:
    """The scenario with the largest loss and that loss (``max(-P&L, 0)``); (None, 0.0) without scenarios.
    Ties go to the scenario listed first."""
    worst_name, worst = None, 0.0
    for name, pnl in stress_pnl.items():
        if worst_name is None or -pnl > worst:
            worst_name, worst = name, -pnl
    return worst_name, max(worst, 0.0)


STRESS_RESULTS_DDL = (
    "portfolio_id string, scenario string, description string, base_currency string, position_count int, "
    "pnl_base double, loss_base double, pnl_by_asset_class map<string,double>, stress_loss_limit double, "
    "limit_utilisation double, breach boolean, computed_at timestamp"
)
"""gold.stress_results (key portfolio_id, scenario): each portfolio's P&L under each scenario, replaced as
a whole by ``riskstream risk stress``. ``loss_base`` is ``max(-pnl_base, 0)``; ``breach`` is a loss above
the portfolio's ``stress_loss_limit`` (null without a limit)."""


STRESS_RESULTS_COLUMNS = (
    "portfolio_id",
    "scenario",
    "description",
    "base_currency",
    "position_count",
    "pnl_base",
    "loss_base",
    "pnl_by_asset_class",
    "stress_loss_limit",
    "limit_utilisation",
    "breach",
    "computed_at",
)


def stress_results(
    positions: pd.DataFrame,
    limits: Mapping[str, float | None],
    scenarios: Sequence[StressScenario],
    computed_at: object,
) -> pd.DataFrame:
    """``gold.stress_results`` rows: one per portfolio in ``positions`` and scenario.

    Args:
        positions: gold.positions rows (``portfolio_id`` and the columns :func:`portfolio_stress` reads).
        limits: ``stress_loss_limit`` by portfolio (reference portfolios; missing or None: no limit).
    """
    rows = []
    for portfolio_id, held in positions.groupby("portfolio_id", sort=True):
        held = held[held["market_value_base"].fillna(0.0) != 0.0]
        base = str(held["base_currency"].iloc[0]) if len(held) else None
        limit = limits.get(str(portfolio_id))
        limit = None if limit is None or pd.isna(limit) else float(limit)
        for scenario in scenarios:
            by_class: dict[str, float] = {}
            for asset_class, group in held.groupby("asset_class", dropna=False):
                by_class[str(asset_class)] = portfolio_stress(group, [scenario])[scenario.name]
            pnl = sum(by_class.values()) + 0.0
            loss = max(-pnl, 0.0)
            rows.append(
                {
                    "portfolio_id": str(portfolio_id),
                    "scenario": scenario.name,
                    "description": scenario.description,
                    "base_currency": base,
                    "position_count": len(held),
                    "pnl_base": pnl,
                    "loss_base": loss,
                    "pnl_by_asset_class": dict(sorted(by_class.items())),
                    "stress_loss_limit": limit,
                    "limit_utilisation": None if not limit else loss / limit,
                    "breach": None if limit is None else loss > limit,
                    "computed_at": computed_at,
                }
            )
    return pd.DataFrame(rows, columns=list(STRESS_RESULTS_COLUMNS))
