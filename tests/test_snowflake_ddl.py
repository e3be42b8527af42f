"""`riskstream snowflake ddl`: every statement parses with sqlglot's Snowflake dialect, and `--apply`
runs on the fakesnow emulator the statements it supports. Roles, grants, row access policies,
dynamic tables and resource monitors exist only in a real account, which is not reachable here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import pytest
import sqlglot
from sqlglot import exp

from riskstream.config import Settings
from riskstream.errors import ConfigError
from riskstream.snowflake.connection import snowflake_client
from riskstream.snowflake.ddl import apply, render
from riskstream.snowflake.tables import snowflake_name

# (template, how sqlglot parses it). "Command" means sqlglot (the installed version) has no grammar
# for the statement and keeps it as an opaque command after checking only its leading keywords.
EXPECTED_PARSES = [
    ("00_database.sql", "Create DATABASE"),
    ("00_database.sql", "Create SCHEMA"),
    ("00_database.sql", "Create TABLE"),
    ("10_roles_and_grants.sql", "Command CREATE"),
    ("10_roles_and_grants.sql", "Command CREATE"),
    ("10_roles_and_grants.sql", "Grant WAREHOUSE"),
    ("10_roles_and_grants.sql", "Grant WAREHOUSE"),
    ("10_roles_and_grants.sql", "Grant DATABASE"),
    ("10_roles_and_grants.sql", "Grant DATABASE"),
    ("10_roles_and_grants.sql", "Grant SCHEMA"),
    ("10_roles_and_grants.sql", "Grant SCHEMA"),
    ("10_roles_and_grants.sql", "Grant SCHEMA"),
    ("10_roles_and_grants.sql", "Command GRANT"),
    ("10_roles_and_grants.sql", "Command GRANT"),
    # sqlglot 30.22 has no grammar for CREATE ROW ACCESS POLICY and fails on it (valid Snowflake
    # syntax); its policy body is checked separately below.
    ("20_row_access_policy.sql", "ParseError Expected ON after ROW ACCESS POLICY name"),
    ("30_dashboard.sql", "Create TABLE"),
    ("30_dashboard.sql", "Command GRANT"),
    ("30_dashboard.sql", "Create TABLE"),
    ("30_dashboard.sql", "Command GRANT"),
    ("40_resource_monitor.sql", "Command CREATE"),
    ("40_resource_monitor.sql", "Command ALTER"),
]


def _parsed_as(sql: str) -> str:
    try:
        expression = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.ParseError as error:
        return f"ParseError {error.errors[0]['description']}"
    if isinstance(expression, exp.Command):
        return f"Command {expression.this}"
    return f"{type(expression).__name__} {expression.args.get('kind')}"


def test_every_statement_parses_with_the_snowflake_dialect(make_settings: Callable[..., Settings]) -> None:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    statements = render(make_settings(snowflake={"warehouse": "BI_WH"}).snowflake)
    assert [(statement.source, _parsed_as(statement.sql)) for statement in statements] == EXPECTED_PARSES


def test_dynamic_table_is_fully_parsed_with_its_row_access_policy(make_settings: Callable[..., Settings]) -> None:
    statements = render(make_settings(snowflake={"warehouse": "BI_WH"}).snowflake)
    [dashboard] = [s for s in statements if "DYNAMIC TABLE IF NOT EXISTS" in s.sql and "DESK_EXPOSURE" in s.sql]
    expression = sqlglot.parse_one(dashboard.sql, read="snowflake")
    assert isinstance(expression, exp.Create)
    assert expression.find(exp.Table).sql(dialect="snowflake") == '"RISKSTREAM"."GOLD"."DASHBOARD_DESK_EXPOSURE"'
    select = expression.expression
    assert [column.alias_or_name for column in select.expressions] == [
        "DESK",
        "ASSET_CLASS",
        "WINDOW_START",
        "WINDOW_END",
        "GROSS_NOTIONAL_BASE",
    ]
    assert select.args["qualify"].sql(dialect="snowflake") == (
        'QUALIFY ROW_NUMBER() OVER (PARTITION BY "DESK", "ASSET_CLASS" ORDER BY "WINDOW_START" DESC) = 1'
    )
    assert 'ROW ACCESS POLICY "RISKSTREAM"."GOLD"."DESK_ROW_POLICY" ON ("DESK")' in dashboard.sql


PNL_DASHBOARD = 'CREATE DYNAMIC TABLE IF NOT EXISTS "RISKSTREAM"."GOLD"."DASHBOARD_PORTFOLIO_PNL" '


def test_the_pnl_dynamic_table_is_fully_parsed_with_its_row_access_policy(
    make_settings: Callable[..., Settings],
) -> None:
    statements = render(make_settings(snowflake={"warehouse": "BI_WH"}).snowflake)
    [dashboard] = [s for s in statements if s.sql.startswith(PNL_DASHBOARD)]
    expression = sqlglot.parse_one(dashboard.sql, read="snowflake")
    assert isinstance(expression, exp.Create)
    select = expression.expression
    assert [column.alias_or_name for column in select.expressions] == [
        "DESK",
        "PORTFOLIO_ID",
        "TRADING_DATE",
        "BASE_CURRENCY",
        "POSITIONS",
        "REALIZED_PNL_BASE",
        "UNREALIZED_PNL_BASE",
        "TOTAL_PNL_BASE",
    ]
    assert [table.sql(dialect="snowflake") for table in select.find_all(exp.Table)] == [
        '"RISKSTREAM"."GOLD"."PNL" AS "P"',
        '"RISKSTREAM"."GOLD"."POSITIONS" AS "POS"',
    ]
    assert select.args["qualify"].sql(dialect="snowflake") == (
        'QUALIFY "P"."TRADING_DATE" = MAX("P"."TRADING_DATE") OVER ()'
    )
    assert dashboard.sql.startswith(PNL_DASHBOARD + "TARGET_LAG = '1 minute' WAREHOUSE = \"BI_WH\" ")
    assert 'ROW ACCESS POLICY "RISKSTREAM"."GOLD"."DESK_ROW_POLICY" ON ("DESK")' in dashboard.sql
    assert (
        'GRANT SELECT ON DYNAMIC TABLE "RISKSTREAM"."GOLD"."DASHBOARD_PORTFOLIO_PNL" TO ROLE "RISKSTREAM_READER"'
        in [s.sql for s in statements]
    )


def test_the_pnl_dynamic_tables_query_on_synced_tables_in_the_emulator(make_settings: Callable[..., Settings]) -> None:
    """The dynamic table's SELECT, run by the emulator on PNL and POSITIONS as the sync lands them
    (only the columns it reads): the newest trading day only, per desk and portfolio."""
    config = make_settings().snowflake
    statements = render(config)
    apply(config, statements)
    [dashboard] = [s for s in statements if s.sql.startswith(PNL_DASHBOARD)]
    query = "SELECT " + dashboard.sql.split(" AS SELECT ", 1)[1]
    with snowflake_client(config) as client:
        connection = client.connect()
        cursor = connection.cursor()
        cursor.execute('CREATE TABLE "POSITIONS" ("PORTFOLIO_ID" VARCHAR, "INSTRUMENT_ID" VARCHAR, "DESK" VARCHAR)')
        cursor.execute(
            "INSERT INTO \"POSITIONS\" VALUES ('P-001', 'US0378331005', 'equities'), "
            "('P-001', 'DE0007164600', 'equities'), ('P-002', 'EURUSD', 'macro')"
        )
        cursor.execute(
            'CREATE TABLE "PNL" ("PORTFOLIO_ID" VARCHAR, "INSTRUMENT_ID" VARCHAR, "TRADING_DATE" DATE, '
            '"BASE_CURRENCY" VARCHAR, "REALIZED_PNL_BASE" FLOAT, "UNREALIZED_PNL_BASE" FLOAT, "TOTAL_PNL_BASE" FLOAT)'
        )
        cursor.execute(
            'INSERT INTO "PNL" VALUES '
            "('P-001', 'US0378331005', '2026-11-24', 'USD', 0.0, 0.0, 0.0), "
            "('P-001', 'DE0007164600', '2026-11-24', 'USD', 0.0, -125.5, -125.5), "
            "('P-001', 'US0378331005', '2026-11-25', 'USD', 400.0, 2250.0, 2650.0), "
            "('P-001', 'DE0007164600', '2026-11-25', 'USD', 0.0, 303.5, 303.5), "
            "('P-002', 'EURUSD', '2026-11-25', 'EUR', -100.25, 1000.0, 899.75)"
        )
        rows = cursor.execute(query + ' ORDER BY "PORTFOLIO_ID"').fetchall()
        connection.close()
    assert [tuple(row) for row in rows] == [
        ("equities", "P-001", date(2026, 11, 25), "USD", 2, 400.0, 2553.5, 2953.5),
        ("macro", "P-002", date(2026, 11, 25), "EUR", 1, -100.25, 1000.0, 899.75),
    ]


def test_row_access_policy_signature_and_body_parse(make_settings: Callable[..., Settings]) -> None:
    statements = render(make_settings(snowflake={"warehouse": "BI_WH"}).snowflake)
    [policy] = [s.sql for s in statements if s.sql.startswith("CREATE ROW ACCESS POLICY")]
    head, body = policy.split(" -> ", 1)
    assert head == (
        'CREATE ROW ACCESS POLICY IF NOT EXISTS "RISKSTREAM"."GOLD"."DESK_ROW_POLICY" '
        'AS ("DESK_VALUE" VARCHAR) RETURNS BOOLEAN'
    )
    condition = sqlglot.parse_one(f"SELECT {body}", read="snowflake").expressions[0]
    assert isinstance(condition, exp.Or)
    assert condition.this.sql(dialect="snowflake") == "IS_ROLE_IN_SESSION('RISKSTREAM_SYNC')"
    assert isinstance(condition.expression, exp.Exists)
    assert condition.expression.find(exp.Table).sql(dialect="snowflake") == '"RISKSTREAM"."GOLD"."DESK_ACCESS" AS "M"'


def test_apply_on_the_emulator_runs_the_supported_statements(make_settings: Callable[..., Settings]) -> None:
    config = make_settings().snowflake
    statements = render(config)
    applied, skipped = apply(config, statements)
    assert [s.sql[:40] for s in applied] == [
        'CREATE DATABASE IF NOT EXISTS "RISKSTREA',
        'CREATE SCHEMA IF NOT EXISTS "RISKSTREAM"',
        'CREATE TABLE IF NOT EXISTS "RISKSTREAM".',
    ]
    assert len(skipped) == len(statements) - 3
    with snowflake_client(config) as client:
        connection = client.connect()
        columns = (
            connection.cursor()
            .execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'GOLD' AND table_name = 'DESK_ACCESS' ORDER BY ordinal_position"
            )
            .fetchall()
        )
        connection.close()
    assert columns == [("ROLE_NAME", "TEXT", "NO"), ("DESK", "TEXT", "NO")]
    # applying twice is harmless: every supported statement is IF NOT EXISTS
    assert len(apply(config, statements)[0]) == 3


@pytest.mark.parametrize("bad", ['GOLD"; DROP DATABASE X; --', "gold-schema", "1GOLD"])
def test_identifiers_from_config_are_validated(make_settings: Callable[..., Settings], bad: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid Snowflake identifier"):
        make_settings(snowflake={"schema": bad})
    with pytest.raises(ConfigError, match="is not a valid Snowflake identifier"):
        snowflake_name(bad)
