"""``riskstream risk``: the scheduled risk jobs (EWMA risk factors, stress tests, VaR backtesting)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for

if TYPE_CHECKING:
    from riskstream.config import Settings

app = typer.Typer(help="Scheduled risk jobs: EWMA risk factors, stress tests, VaR backtest.", no_args_is_help=True)


def _run_job(
    settings: Settings, label: str, intro: str, run: Callable[[Any, Settings], int], table: str, noun: str
) -> None:
    """Print ``intro``, run the job on a Spark session and print the table it replaced, with the count."""
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    console.print(f"{label}: {intro}")
    started = time.monotonic()
    count = run(get_spark(settings), settings)
    written = Catalog(settings).table("gold", table)
    console.print(f"{label}: {written} <- {count} {noun} in {time.monotonic() - started:.1f}s")


@app.command()
def factors(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Estimate EWMA volatilities, correlations and historical scenarios from the daily closes
    (reference.price_history + silver.prices) and replace gold.risk_factors (one Delta commit)."""
    from jobs import risk_factors

    settings = settings_for(target, conf, overrides)
    risk = settings.risk
    intro = (
        f"EWMA lambda {risk.ewma_decay}, at least {risk.min_history_days} returns per factor, "
        f"{risk.scenario_days} scenarios"
    )
    _run_job(settings, "risk factors", intro, risk_factors.run, "risk_factors", "factors")


@app.command()
def stress(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Revalue every portfolio's positions under each stress scenario of the conf (risk.stress_scenarios)
    and replace gold.stress_results (one Delta commit)."""
    from jobs import stress as stress_job

    settings = settings_for(target, conf, overrides)
    names = ", ".join(scenario.name for scenario in settings.risk.stress_scenarios)
    _run_job(settings, "risk stress", f"scenarios {names}", stress_job.run, "stress_results", "rows")


@app.command()
def backtest(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Backtest every portfolio's current book over the last 250 days (99 % one-day EWMA VaR from the days
    before each day against its hypothetical P&L: exceptions, Kupiec, Christoffersen, Basel traffic light)
    and replace gold.var_backtest (one Delta commit)."""
    from jobs import backtest as backtest_job

    settings = settings_for(target, conf, overrides)
    intro = f"250 days, 99 % one-day VaR, EWMA lambda {settings.risk.ewma_decay}"
    _run_job(settings, "risk backtest", intro, backtest_job.run, "var_backtest", "portfolios")
