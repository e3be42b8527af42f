"""``riskstream reference load``: load or refresh the reference Delta tables from CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for
from riskstream.paths import state_dir

app = typer.Typer(help="Reference data (portfolios, instruments, FX rates, correlations).", no_args_is_help=True)


@app.command()
def load(
    target: TargetOption = "local",
    conf: ConfOption = None,
    overrides: SetOption = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="Folder with portfolios.csv, instruments.csv, fx_rates.csv, correlations.csv, price_history.csv "
            "(default: <state>/reference, where `riskstream demo` writes them; "
            "`riskstream simulate reference --out <folder>` writes a set anywhere).",
        ),
    ] = None,
) -> None:
    """Check the CSV files and replace each reference table with their content (one Delta commit per table).

    Nothing is written when any file is bad; the error names the file, line and column.

    A running silver stream picks the new tables up in its next micro-batch.
    """
    from riskstream.reference import read_reference, write_reference
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    settings = settings_for(target, conf, overrides)
    folder = source if source is not None else state_dir() / "reference"
    catalog = Catalog(settings)
    console.print(f"reference load: reading {folder}")
    rows = read_reference(folder)  # every file checked before Spark starts or anything is written
    spark = get_spark(settings)

    def report(name: str, rows: int) -> None:
        console.print(f"reference load: {catalog.table('reference', name)} <- {rows} rows")

    counts = write_reference(spark, rows, lambda name: catalog.table("reference", name), report)
    console.print(f"reference load: done, {sum(counts.values())} rows in {len(counts)} tables")
