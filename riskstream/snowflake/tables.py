"""Which gold tables are synced to Snowflake, their keys, and how their names are written in SQL.

The registry holds only names and keys: each table's columns are read from its Delta schema at run
time, so the gold job can add columns without touching the sync.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from riskstream.errors import ConfigError

GOLD_TABLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "portfolio_risk_1m": ("portfolio_id", "window_start"),
    "exposure_by_asset_class_5m": ("desk", "asset_class", "window_start"),
    "marks": ("mark_type", "id"),
    "positions": ("portfolio_id", "instrument_id"),
    "pnl": ("portfolio_id", "instrument_id", "trading_date"),
    "portfolio_risk": ("portfolio_id",),
    "risk_alerts": ("portfolio_id", "rule", "window_start"),
    # written by the scheduled risk jobs (jobs/risk_tables.py), skipped until their first run
    "risk_factors": ("factor_type", "factor_id"),
    "stress_results": ("portfolio_id", "scenario"),
    "var_backtest": ("portfolio_id",),
}
"""Gold table name -> the columns that identify one row (DESIGN.md, "Tables")."""

_SNOWFLAKE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def snowflake_name(name: str, what: str = "identifier") -> str:
    """The upper-cased, double-quoted Snowflake identifier for ``name``.

    Names are upper-cased so that BI tools can query them unquoted (Snowflake resolves unquoted
    identifiers to upper case); anything but letters, digits and underscores is refused, so a name
    can never close the quotes and inject SQL.

    Raises:
        ConfigError: ``name`` is not a plain identifier.
    """
    if not _SNOWFLAKE_IDENTIFIER.match(name):
        raise ConfigError(f"{what} {name!r} is not a valid Snowflake identifier (letters, digits, underscore)")
    return '"' + name.upper() + '"'


def qualified(database: str, schema: str, name: str) -> str:
    """``"DATABASE"."SCHEMA"."NAME"``, each part validated and quoted."""
    return ".".join(snowflake_name(part) for part in (database, schema, name))


def stage_table_name(table: str) -> str:
    """The per-table staging table the change set is loaded into before the MERGE."""
    return f"{table.upper()}__STAGE"
