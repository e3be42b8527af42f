"""``riskstream sync [--table T] [--verify]``: gold Delta tables -> Snowflake, exactly once."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for
from riskstream.errors import VerificationError
from riskstream.prerequisites import check_sync


def sync(
    target: TargetOption = "local",
    conf: ConfOption = None,
    overrides: SetOption = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="A gold table to sync (repeatable); default: all.")
    ] = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Compare Delta and Snowflake (row counts, per-key checksums) instead."),
    ] = False,
) -> None:
    """Merge each gold table's Delta changes since the last synced version into Snowflake.

    With --verify nothing is written: each table is compared at its synced Delta version and the
    command exits non-zero when any difference is found.
    """
    from riskstream.snowflake.sync import selected_tables, sync_tables
    from riskstream.snowflake.verify import verify_tables
    from riskstream.spark import get_spark

    settings = settings_for(target, conf, overrides)
    tables = selected_tables(table)
    check_sync(settings, list(tables), named=bool(table))  # before Spark and the Snowflake connection
    spark = get_spark(settings)
    started = time.monotonic()
    if verify:
        verifications = verify_tables(spark, settings, tables)
        for verification in verifications:
            console.print(f"verify {verification.describe()}", markup=False)
        failed = [verification.table for verification in verifications if not verification.ok]
        if failed:
            raise VerificationError(f"Delta and Snowflake differ for {', '.join(failed)}")
        console.print(f"verify: {len(verifications)} table(s) match ({time.monotonic() - started:.1f}s)")
        return
    results = sync_tables(
        spark, settings, tables, echo=lambda line: console.print(line, markup=False), skip_missing=not table
    )
    console.print(f"sync: {len(results)} table(s) done in {time.monotonic() - started:.1f}s")
