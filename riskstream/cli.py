"""The ``riskstream`` console script. Every command prints what it did and exits non-zero on failure."""

from __future__ import annotations

import sys

import typer

from riskstream.commands import demo, kafka, reference_generate, run
from riskstream.commands import maintain as maintain_command
from riskstream.commands import ops as ops_command
from riskstream.commands import produce as produce_command
from riskstream.commands import rebuild as rebuild_command
from riskstream.commands import reference as reference_command
from riskstream.commands import snowflake as snowflake_command
from riskstream.commands import sync as sync_command
from riskstream.commands.common import err_console
from riskstream.errors import RiskstreamError

app = typer.Typer(
    name="riskstream",
    help="Real-time trade risk: Kafka/Event Hubs -> Spark -> Delta -> Snowflake.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kafka.app, name="kafka")
app.command("run")(run.run)
app.command("demo")(demo.demo)
app.command("maintain")(maintain_command.maintain)
app.command("rebuild")(rebuild_command.rebuild)
app.add_typer(ops_command.app, name="ops")
app.command("produce")(produce_command.produce)
app.add_typer(reference_generate.app, name="simulate")
app.add_typer(reference_command.app, name="reference")
app.command("sync")(sync_command.sync)
app.add_typer(snowflake_command.app, name="snowflake")


def main() -> None:
    """Entry point: runs the CLI and turns domain errors into a clear message and an exit code."""
    try:
        app()
    except RiskstreamError as error:
        err_console.print(f"error: {error}", markup=False)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
