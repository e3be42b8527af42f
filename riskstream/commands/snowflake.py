"""``riskstream snowflake ddl [--apply]``: the Snowflake-side SQL (database, roles, grants, policy,
dashboard dynamic table, resource monitor)."""

from __future__ import annotations

from typing import Annotated

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for

app = typer.Typer(help="The Snowflake side: DDL, roles, grants and policies.", no_args_is_help=True)


@app.command()
def ddl(
    target: TargetOption = "local",
    conf: ConfOption = None,
    overrides: SetOption = None,
    apply_sql: Annotated[
        bool, typer.Option("--apply", help="Run the statements (on the emulator: only those it supports).")
    ] = False,
) -> None:
    """Print the Snowflake DDL for the target; with --apply, run it."""
    from riskstream.snowflake.ddl import apply, render

    config = settings_for(target, conf, overrides).snowflake
    statements = render(config)
    for statement in statements:
        console.print(f"{statement.sql};", markup=False)
    if not apply_sql:
        return
    applied, skipped = apply(config, statements)
    console.print(f"snowflake ddl: applied {len(applied)} statement(s) on {config.mode} {config.database}")
    if skipped:
        console.print(
            f"snowflake ddl: skipped {len(skipped)} statement(s) the emulator does not support "
            "(roles, grants, row access policy, dynamic table, resource monitor)"
        )
