"""``riskstream simulate reference``: write the simulator's reference data as CSV.

The same ``--seed``, ``--portfolios`` and ``--instruments`` as ``riskstream produce`` give the
reference data its events refer to; ``riskstream reference load`` loads the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskstream.commands.common import console

app = typer.Typer(help="The market simulator: reference data that matches `riskstream produce`.", no_args_is_help=True)

SeedOption = Annotated[int, typer.Option(help="Simulator seed; the same seed gives the same market and events.")]
PortfoliosOption = Annotated[int, typer.Option("--portfolios", min=1, help="How many portfolios.")]
InstrumentsOption = Annotated[int, typer.Option("--instruments", min=5, help="How many instruments (>= 5).")]


@app.command("reference")
def reference(
    out: Annotated[Path, typer.Option("--out", help="Folder for the reference CSV files")],
    seed: SeedOption = 7,
    portfolios: PortfoliosOption = 10,
    instruments: InstrumentsOption = 40,
) -> None:
    """Write portfolios.csv, instruments.csv, fx_rates.csv, correlations.csv and price_history.csv for a seed."""
    from riskstream.simulator import MarketSimulator

    simulator = MarketSimulator(seed=seed, n_portfolios=portfolios, n_instruments=instruments)
    data = simulator.reference_data()
    written = simulator.write_reference_csv(out)
    counts = {
        "portfolios": len(data.portfolios),
        "instruments": len(data.instruments),
        "fx_rates": len(data.fx_rates),
        "correlations": len(data.correlations),
        "price_history": len(data.price_history),
    }
    for name, path in written.items():
        console.print(f"wrote {counts[name]} rows to {path}")
