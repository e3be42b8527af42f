"""``riskstream risk``: the scheduled risk jobs (EWMA risk factors, stress tests, VaR backtesting)."""

from __future__ import annotations

import time

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for

app = typer.Typer(help="Scheduled risk jobs: EWMA risk factors, stress tests, VaR backtest.", no_args_is_help=True)


@app.command()
def factors(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Estimate EWMA volatilities, correlations and historical scenarios from the daily closes
    (reference.price_history + silver.prices) and replace gold.risk_factors (one Delta commit)."""
    from jobs import risk_factors
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    settings = settings_for(target, conf, overrides)
    risk = settings.risk
    console.print(
        f"risk factors: EWMA lambda {risk.ewma_decay}, at least {risk.min_history_days} returns per factor, "
        f"{risk.scenario_days} scenarios"
    )
    started = time.monotonic()
    count = risk_factors.run(get_spark(settings), settings)
    table = Catalog(settings).table("gold", "risk_factors")
    console.print(f"risk factors: {table} <- {count} factors in {time.monotonic() - started:.1f}s")


@app.command()
def stress(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Revalue every portfolio's positions under each stress scenario of the conf (risk.stress_scenarios)
    and replace gold.stress_results (one Delta commit)."""
    from jobs import stress as stress_job
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    settings = settings_for(target, conf, overrides)
    names = ", ".join(scenario.name for scenario in settings.risk.stress_scenarios)
    console.print(f"risk stress: scenarios {names}")
    started = time.monotonic()
    count = stress_job.run(get_spark(settings), settings)
    table = Catalog(settings).table("gold", "stress_results")
    console.print(f"risk stress: {table} <- {count} rows in {time.monotonic() - started:.1f}s")


@app.command()
def backtest(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Backtest every portfolio's current book over the last 250 days (99 % one-day EWMA VaR from the days
    before each day against its hypothetical P&L: exceptions, Kupiec, Christoffersen, Basel traffic light)
    and replace gold.var_backtest (one Delta commit)."""
    from jobs import backtest as backtest_job
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    settings = settings_for(target, conf, overrides)
    console.print(f"risk backtest: 250 days, 99 % one-day VaR, EWMA lambda {settings.risk.ewma_decay}")
    started = time.monotonic()
    count = backtest_job.run(get_spark(settings), settings)
    table = Catalog(settings).table("gold", "var_backtest")
    console.print(f"risk backtest: {table} <- {count} portfolios in {time.monotonic() - started:.1f}s")
