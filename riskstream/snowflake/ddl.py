"""``riskstream snowflake ddl``: the Snowflake-side SQL, rendered from ``sql/*.sql`` templates.

Every identifier comes from validated config and is upper-cased and double-quoted before it is
substituted (:func:`riskstream.snowflake.tables.snowflake_name`), so config cannot inject SQL.
Templates hold one statement per line, ending in ``;``; lines starting with ``--`` are comments.

``--apply`` on the emulator runs only :data:`EMULATOR_SUPPORTED`: fakesnow (DuckDB) has databases,
schemas and tables, but no roles, grants, row access policies, dynamic tables, streams, tasks or
resource monitors. On a real account every statement is applied, in file order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from riskstream.config import SnowflakeConfig
from riskstream.errors import ConfigError
from riskstream.snowflake.connection import snowflake_client
from riskstream.snowflake.tables import snowflake_name

EMULATOR_SUPPORTED = (
    re.compile(r"^CREATE DATABASE IF NOT EXISTS "),
    re.compile(r"^CREATE SCHEMA IF NOT EXISTS "),
    re.compile(r"^CREATE TABLE IF NOT EXISTS "),
)
"""Statement prefixes the emulator can apply; the rest are printed and reported as skipped."""

EMULATOR_WAREHOUSE = "RISKSTREAM_WH"
"""The emulator has no warehouses; this name only fills the printed statements."""


@dataclass(frozen=True)
class Statement:
    """One rendered statement and the template file it came from."""

    source: str
    sql: str

    @property
    def emulator_supported(self) -> bool:
        return any(pattern.match(self.sql) for pattern in EMULATOR_SUPPORTED)


def template_values(config: SnowflakeConfig) -> dict[str, str]:
    """The substitutions: quoted identifiers, plus the plain sync role name for a string literal."""
    if not config.warehouse and config.mode == "account":
        raise ConfigError("snowflake.warehouse is required to render the DDL (grants, dynamic table, monitor)")
    warehouse = config.warehouse or EMULATOR_WAREHOUSE
    return {
        "database": snowflake_name(config.database, "snowflake.database"),
        "schema": snowflake_name(config.schema_name, "snowflake.schema"),
        "warehouse": snowflake_name(warehouse, "snowflake.warehouse"),
        "sync_role": snowflake_name(config.sync_role, "snowflake.sync_role"),
        "sync_role_name": config.sync_role.upper(),  # validated identifier: safe inside '...'
        "reader_role": snowflake_name(config.reader_role, "snowflake.reader_role"),
        "measure": snowflake_name(config.dashboard_measure_column, "snowflake.dashboard_measure_column"),
        "target_lag": config.dashboard_target_lag,  # validated by the config pattern
        "credit_quota": str(config.monthly_credit_quota),
    }


def render(config: SnowflakeConfig) -> list[Statement]:
    """All statements, in template file order."""
    values = template_values(config)
    statements = []
    templates = sorted(
        (item for item in resources.files("riskstream.snowflake.sql").iterdir() if item.name.endswith(".sql")),
        key=lambda item: item.name,
    )
    for template in templates:
        text = Template(template.read_text(encoding="utf-8")).substitute(values)
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("--"):
                statements.append(Statement(template.name, line.rstrip(";")))
    return statements


def apply(config: SnowflakeConfig, statements: list[Statement]) -> tuple[list[Statement], list[Statement]]:
    """Run the statements the target supports. Returns (applied, skipped)."""
    applied: list[Statement] = []
    skipped: list[Statement] = []
    with snowflake_client(config) as client:
        connection: Any = client.connect()
        try:
            cursor = connection.cursor()
            for statement in statements:
                if client.emulated and not statement.emulator_supported:
                    skipped.append(statement)
                    continue
                cursor.execute(statement.sql)
                applied.append(statement)
        finally:
            connection.close()
    return applied, skipped
