"""The ``riskstream`` console script. Every command prints what it did and exits non-zero on failure."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from riskstream import logs
from riskstream.commands import demo, kafka, reference_generate, run
from riskstream.commands import maintain as maintain_command
from riskstream.commands import ops as ops_command
from riskstream.commands import produce as produce_command
from riskstream.commands import rebuild as rebuild_command
from riskstream.commands import reference as reference_command
from riskstream.commands import risk as risk_command
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


def _version(requested: bool) -> None:
    if requested:
        from importlib.metadata import version

        typer.echo(f"riskstream {version('riskstream')}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="More output: debug messages, JVM warnings, tracebacks."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Real-time trade risk: Kafka/Event Hubs -> Spark -> Delta -> Snowflake."""
    logs.configure(verbose)


app.add_typer(kafka.app, name="kafka")
app.command("run")(run.run)
app.command("demo")(demo.demo)
app.command("maintain")(maintain_command.maintain)
app.command("rebuild")(rebuild_command.rebuild)
app.add_typer(ops_command.app, name="ops")
app.command("produce")(produce_command.produce)
app.add_typer(reference_generate.app, name="simulate")
app.add_typer(reference_command.app, name="reference")
app.add_typer(risk_command.app, name="risk")
app.command("sync")(sync_command.sync)
app.add_typer(snowflake_command.app, name="snowflake")


def describe_failure(error: BaseException) -> str:
    """One line for an error from Spark, the JVM, the Databricks SDK or anything else unexpected."""
    kind = type(error).__name__
    java = getattr(error, "java_exception", None)
    if java is not None:  # py4j: the JVM's exception class and its message
        try:
            kind = str(java.getClass().getName()).rsplit(".", 1)[-1]
            message = str(java.getMessage() or "")
        except Exception:
            message = str(error)
    else:
        message = str(error)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return f"{kind}: {lines[0]}" if lines else kind


def command_tree() -> Any:
    """:data:`app` as the click command that runs it, with every switch shown without a value type.

    Typer lists a flag, its own ``--help`` included, as ``--fresh <bool>``; a switch takes no
    value, so each flag of each command gets an empty metavar.
    """
    root = typer.main.get_command(app)
    pending = [root]
    while pending:
        command = pending.pop()
        for option in [*command.params, command.get_help_option(command.context_class(command))]:
            if option is not None and getattr(option, "is_flag", False):
                option.metavar = ""
        pending.extend(getattr(command, "commands", {}).values())
    return root


def main() -> None:
    """Entry point: runs the CLI and turns every error into one line and an exit code.

    Domain errors (:class:`RiskstreamError`) say what failed and what to do. Anything else (Spark,
    py4j, the Databricks SDK) is a failure riskstream did not foresee: one line naming it, exit 1,
    and the traceback with ``riskstream -v``.
    """
    try:
        command_tree()()
    except RiskstreamError as error:
        err_console.print(f"error: {error}", markup=False)
        sys.exit(error.exit_code)
    except Exception as error:
        if logs.verbose():
            raise
        err_console.print(
            f"error: {describe_failure(error)} (unexpected; `riskstream -v ...` shows the traceback)", markup=False
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
