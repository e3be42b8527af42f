"""`riskstream sync` and `--verify` against real Delta tables (local Spark) and the fakesnow emulator.

The Snowflake side is fakesnow 0.12.1 (DuckDB) reached through the real snowflake-connector-python
API (``connect``, cursors, ``write_pandas``); a real account is not reachable from here.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality

from riskstream.config import Settings
from riskstream.errors import SyncError
from riskstream.snowflake.changes import latest_change_per_key
from riskstream.snowflake.connection import snowflake_client
from riskstream.snowflake.sync import TableSyncResult, selected_tables, sync_tables
from riskstream.snowflake.verify import verify_tables
from riskstream.tables import Catalog

POSITIONS = {"positions": ("portfolio_id", "instrument_id")}
POSITIONS_DDL = (
    "portfolio_id string, instrument_id string, quantity decimal(28,8), market_value_base double, "
    "open_trades int, as_of timestamp, tags array<string>"
)
T0 = "TIMESTAMP'2026-11-24 09:30:00.123'"


def delta_path(settings: Settings, table: str = "positions") -> str:
    return str(Catalog(settings).table("gold", table).path)


def create_positions(spark: Any, settings: Settings) -> str:
    """An empty gold.positions Delta table with the change data feed on (version 0)."""
    path = delta_path(settings)
    spark.sql(
        f"CREATE TABLE delta.`{path}` ({POSITIONS_DDL}) USING delta TBLPROPERTIES (delta.enableChangeDataFeed = true)"
    )
    return path


def insert_initial(spark: Any, path: str) -> None:
    """Version 1: three positions."""
    spark.sql(
        f"INSERT INTO delta.`{path}` VALUES "
        f"('P-001', 'AAPL', 100.5, 18725.5, 2, {T0}, array('core')), "
        f"('P-001', 'MSFT', 50, 20000.25, 1, {T0}, array()), "
        f"('P-002', 'AAPL', -10, -1872.5, 1, {T0}, NULL)"
    )


def apply_changes(spark: Any, path: str) -> None:
    """Versions 2-5: update, delete, insert, and a second update of the same key (latest must win)."""
    spark.sql(
        f"UPDATE delta.`{path}` SET quantity = 120, market_value_base = 22470.0 WHERE instrument_id = 'AAPL' "
        "AND portfolio_id = 'P-001'"
    )
    spark.sql(f"DELETE FROM delta.`{path}` WHERE portfolio_id = 'P-002'")
    spark.sql(f"INSERT INTO delta.`{path}` VALUES ('P-003', 'TSLA', 7, 1750.0, 1, {T0}, array('new', 'x'))")
    spark.sql(
        f"UPDATE delta.`{path}` SET quantity = 130, open_trades = 3 WHERE instrument_id = 'AAPL' "
        "AND portfolio_id = 'P-001'"
    )


AS_OF = dt.datetime(2026, 11, 24, 9, 30, 0, 123000)
ROWS_AFTER_V1 = [
    ("P-001", "AAPL", Decimal("100.50000000"), 18725.5, Decimal("2"), AS_OF, '["core"]'),
    ("P-001", "MSFT", Decimal("50.00000000"), 20000.25, Decimal("1"), AS_OF, "[]"),
    ("P-002", "AAPL", Decimal("-10.00000000"), -1872.5, Decimal("1"), AS_OF, None),
]
ROWS_AFTER_V5 = [
    ("P-001", "AAPL", Decimal("130.00000000"), 22470.0, Decimal("3"), AS_OF, '["core"]'),
    ("P-001", "MSFT", Decimal("50.00000000"), 20000.25, Decimal("1"), AS_OF, "[]"),
    ("P-003", "TSLA", Decimal("7.00000000"), 1750.0, Decimal("1"), AS_OF, '["new","x"]'),
]


def snowflake_rows(settings: Settings, table: str = "POSITIONS", order_by: str = "1, 2") -> list[tuple[Any, ...]]:
    with snowflake_client(settings.snowflake) as client:
        connection = client.connect()
        rows = connection.cursor().execute(f'SELECT * FROM "{table}" ORDER BY {order_by}').fetchall()
        connection.close()
    return [tuple(row) for row in rows]


def snowflake_columns(settings: Settings, table: str) -> list[tuple[Any, ...]]:
    """(name, type, precision, scale) of a synced table's columns, as Snowflake reports them."""
    with snowflake_client(settings.snowflake) as client:
        connection = client.connect()
        rows = (
            connection.cursor()
            .execute(
                "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
                "WHERE table_schema = 'GOLD' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            .fetchall()
        )
        connection.close()
    return [tuple(row) for row in rows]


def control_rows(settings: Settings) -> list[tuple[Any, ...]]:
    with snowflake_client(settings.snowflake) as client:
        connection = client.connect()
        rows = (
            connection.cursor()
            .execute('SELECT "TABLE_NAME", "SYNCED_VERSION", "SYNC_MODE", "ROWS_STAGED" FROM "RISKSTREAM_SYNC_STATE"')
            .fetchall()
        )
        connection.close()
    return [tuple(row) for row in rows]


def sync(spark: Any, settings: Settings, **kwargs: Any) -> list[TableSyncResult]:
    return sync_tables(spark, settings, POSITIONS, **kwargs)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(snowflake={"retry_initial_seconds": 0.01, "retry_max_seconds": 0.02})


def test_latest_change_per_key_keeps_the_last_change_and_drops_preimages(spark: Any) -> None:
    schema = "k string, v int, _change_type string, _commit_version long, _commit_timestamp timestamp"
    ts = dt.datetime(2026, 1, 1)
    changes = spark.createDataFrame(
        [
            ("a", 1, "insert", 1, ts),
            ("a", 1, "update_preimage", 2, ts),
            ("a", 2, "update_postimage", 2, ts),
            ("b", 5, "insert", 1, ts),
            ("b", 5, "delete", 3, ts),
            ("c", 7, "delete", 4, ts),  # an overwrite: deleted and re-inserted in one commit
            ("c", 8, "insert", 4, ts),
        ],
        schema,
    )
    expected = spark.createDataFrame(
        [("a", 2, "U", 2), ("b", 5, "D", 3), ("c", 8, "U", 4)],
        "k string, v int, __op string, __commit_version long",
    )
    result = changes.transform(latest_change_per_key(["k"]))
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_bootstrap_then_incremental_then_nothing_new(spark: Any, settings: Settings) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)

    first = sync(spark, settings)
    assert first == [TableSyncResult("positions", None, 1, "snapshot", staged=3, inserted=3)]
    assert snowflake_rows(settings) == ROWS_AFTER_V1

    assert sync(spark, settings) == [TableSyncResult("positions", 1, 1, "up to date")]
    assert snowflake_rows(settings) == ROWS_AFTER_V1

    apply_changes(spark, path)
    incremental = sync(spark, settings)
    # only the three changed keys move: P-001/AAPL (two updates -> one), P-002 deleted, P-003 new
    assert incremental == [
        TableSyncResult("positions", 1, 5, "incremental", staged=3, inserted=1, updated=1, deleted=1)
    ]
    assert snowflake_rows(settings) == ROWS_AFTER_V5
    assert control_rows(settings) == [("positions", Decimal("5"), "incremental", Decimal("3"))]

    assert sync(spark, settings) == [TableSyncResult("positions", 5, 5, "up to date")]
    assert snowflake_rows(settings) == ROWS_AFTER_V5


def test_verify_passes_after_sync_and_fails_after_tampering(spark: Any, settings: Settings) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    apply_changes(spark, path)
    sync(spark, settings)

    [clean] = verify_tables(spark, settings, POSITIONS)
    assert (clean.ok, clean.version, clean.delta_rows, clean.snowflake_rows) == (True, 5, 3, 3)

    with snowflake_client(settings.snowflake) as client:
        connection = client.connect()
        connection.cursor().execute(
            'UPDATE "POSITIONS" SET "QUANTITY" = 131 WHERE "PORTFOLIO_ID" = \'P-001\' AND "INSTRUMENT_ID" = \'AAPL\''
        )
        connection.cursor().execute('DELETE FROM "POSITIONS" WHERE "PORTFOLIO_ID" = \'P-003\'')
        connection.close()
    [tampered] = verify_tables(spark, settings, POSITIONS)
    assert tampered.ok is False
    assert tampered.different == [("P-001", "AAPL")]
    assert tampered.missing_in_snowflake == [("P-003", "TSLA")]
    assert tampered.extra_in_snowflake == []
    assert (tampered.delta_rows, tampered.snowflake_rows) == (3, 2)


def test_new_delta_column_is_added_in_snowflake(spark: Any, settings: Settings) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    sync(spark, settings)
    spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS (sector string)")
    spark.sql(f"UPDATE delta.`{path}` SET sector = 'tech' WHERE instrument_id = 'MSFT'")

    assert sync(spark, settings) == [TableSyncResult("positions", 1, 3, "incremental", staged=1, updated=1)]
    assert snowflake_rows(settings) == [
        (*ROWS_AFTER_V1[0], None),
        (*ROWS_AFTER_V1[1], "tech"),
        (*ROWS_AFTER_V1[2], None),
    ]


@pytest.mark.parametrize(
    ("snowflake_change", "message"),
    [
        (
            'ALTER TABLE "POSITIONS" DROP COLUMN "OPEN_TRADES"; '
            'ALTER TABLE "POSITIONS" ADD COLUMN "OPEN_TRADES" VARCHAR',
            "table positions, column OPEN_TRADES: type changed from VARCHAR in Snowflake to NUMBER(10,0) in Delta",
        ),
        (
            'ALTER TABLE "POSITIONS" ADD COLUMN "LEGACY_FLAG" BOOLEAN',
            "table positions, column LEGACY_FLAG: present in Snowflake but dropped from the Delta table",
        ),
    ],
)
def test_incompatible_schema_change_is_refused_naming_table_and_column(
    spark: Any, settings: Settings, snowflake_change: str, message: str
) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    sync(spark, settings)
    with snowflake_client(settings.snowflake) as client:
        connection = client.connect()
        for statement in snowflake_change.split("; "):
            connection.cursor().execute(statement)
        connection.close()
    spark.sql(f"DELETE FROM delta.`{path}` WHERE portfolio_id = 'P-002'")

    with pytest.raises(SyncError, match=r"table positions \(Delta versions 1 -> 2\)") as raised:
        sync(spark, settings)
    assert message in str(raised.value)
    assert control_rows(settings) == [("positions", Decimal("1"), "snapshot", Decimal("3"))]


def test_vacuumed_change_feed_falls_back_to_snapshot_and_reconcile(spark: Any, settings: Settings) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    sync(spark, settings)
    apply_changes(spark, path)
    shutil.rmtree(Path(path) / "_change_data")  # what VACUUM does to change files past the retention

    [result] = sync(spark, settings)
    assert result == TableSyncResult(
        "positions", 1, 5, "snapshot (change feed unavailable)", staged=3, inserted=1, updated=2, deleted=1
    )
    assert snowflake_rows(settings) == ROWS_AFTER_V5
    [verified] = verify_tables(spark, settings, POSITIONS)
    assert verified.ok


def test_table_without_change_feed_is_refused(spark: Any, settings: Settings) -> None:
    path = delta_path(settings)
    spark.sql(f"CREATE TABLE delta.`{path}` ({POSITIONS_DDL}) USING delta")
    insert_initial(spark, path)
    with pytest.raises(SyncError, match=r"does not have the Delta change data feed enabled; run ALTER TABLE"):
        sync(spark, settings)


MARK_DAY_1 = dt.datetime(2026, 11, 24, 9, 30, 0, 123000)
MARK_DAY_2 = dt.datetime(2026, 11, 25, 9, 45, 0, 250000)
DAY_1, DAY_2 = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
MARKS_V1 = [
    ("instrument", "US0378331005", 187.25, MARK_DAY_1, -1, "trade", 0),
    ("fx", "EUR", 1.085, dt.datetime(2026, 11, 24, 9, 29, 59, 500000), 17, "tick", 0),
]
MARKS_V2 = [  # one MERGE: a later tick replaces the trade's mark, a first mark for another instrument
    ("instrument", "US0378331005", 189.5, MARK_DAY_2, 42, "tick", 1),
    ("instrument", "DE0007164600", 181.0, dt.datetime(2026, 11, 25, 9, 40), 41, "tick", 1),
]
# portfolio, instrument, trading_date, base currency, net quantity, last price, fx, market value, start-of-day
# quantity and value, day buys (quantity, cost), day sells (quantity, proceeds), realized, unrealized, total, batch
PNL_V1 = [
    ("P-001", "US0378331005", DAY_1, "USD", Decimal("1000"), 187.25, 1.0, 187250.0, Decimal("0"), 0.0,
     Decimal("1000"), 187250.0, Decimal("0"), 0.0, 0.0, 0.0, 0.0, 0),
    ("P-002", "GB0002634946", DAY_1, "EUR", Decimal("-12.34567891"), 8.0, 1.25, -123.4567891, Decimal("0"), 0.0,
     Decimal("0"), 0.0, Decimal("12.34567891"), 123.4567891, 0.0, 0.0, 0.0, 0),
]  # fmt: skip
PNL_DAY_2 = (  # the next trading day: a round trip (+400 realized) and the mark up from 187.25
    "P-001", "US0378331005", DAY_2, "USD", Decimal("1000"), 189.5, 1.0, 189500.0, Decimal("1000"), 187250.0,
    Decimal("200"), 37600.0, Decimal("200"), 38000.0, 400.0, 2250.0, 2650.0, 1,
)  # fmt: skip
PNL_DAY_2_LATER = (  # the same key later that day: a new mark, only the unrealized part moves
    *PNL_DAY_2[:5], 190.0, 1.0, 190000.0, *PNL_DAY_2[8:14], 400.0, 2750.0, 3150.0, 2,
)  # fmt: skip


def _create_gold_table(spark: Any, settings: Settings, table: str, ddl: str, rows: list[tuple[Any, ...]]) -> str:
    """A gold table with the gold job's schema and the change data feed on (version 0), then ``rows`` (version 1)."""
    path = delta_path(settings, table)
    spark.sql(f"CREATE TABLE delta.`{path}` ({ddl}) USING delta TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    spark.createDataFrame(rows, ddl).write.format("delta").mode("append").save(path)
    return path


def _merge(spark: Any, path: str, ddl: str, rows: list[tuple[Any, ...]], keys: tuple[str, ...]) -> None:
    """One Delta MERGE on ``keys``, as the gold job upserts: replace matched rows, insert the others."""
    from delta.tables import DeltaTable

    condition = " AND ".join(f"t.`{key}` = s.`{key}`" for key in keys)
    source = spark.createDataFrame(rows, ddl)
    target = DeltaTable.forPath(spark, path).alias("t")
    target.merge(source.alias("s"), condition).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()


def test_marks_and_pnl_sync_with_their_keys_decimals_and_dates(spark: Any, settings: Settings) -> None:
    """gold.marks and gold.pnl with the gold job's schemas (transformations/gold.py): the decimal
    quantities land as NUMBER(38,8), the trading date as DATE, mark times as TIMESTAMP_NTZ; a replaced
    mark updates its row, and a new trading day is a new pnl row (trading_date is part of the key)."""
    from transformations.gold import MARKS_DDL, PNL_DDL

    tables = selected_tables(["marks", "pnl"])
    assert tables == {"marks": ("mark_type", "id"), "pnl": ("portfolio_id", "instrument_id", "trading_date")}
    marks = _create_gold_table(spark, settings, "marks", MARKS_DDL, MARKS_V1)
    pnl = _create_gold_table(spark, settings, "pnl", PNL_DDL, PNL_V1)

    assert sync_tables(spark, settings, tables) == [
        TableSyncResult("marks", None, 1, "snapshot", staged=2, inserted=2),
        TableSyncResult("pnl", None, 1, "snapshot", staged=2, inserted=2),
    ]
    assert snowflake_columns(settings, "PNL") == [
        ("PORTFOLIO_ID", "TEXT", None, None),
        ("INSTRUMENT_ID", "TEXT", None, None),
        ("TRADING_DATE", "DATE", None, None),
        ("BASE_CURRENCY", "TEXT", None, None),
        ("NET_QUANTITY", "NUMBER", 38, 8),
        ("LAST_PRICE", "FLOAT", None, None),
        ("FX_RATE_TO_BASE", "FLOAT", None, None),
        ("MARKET_VALUE_BASE", "FLOAT", None, None),
        ("SOD_NET_QUANTITY", "NUMBER", 38, 8),
        ("SOD_MARKET_VALUE_BASE", "FLOAT", None, None),
        ("DAY_BUY_QUANTITY", "NUMBER", 38, 8),
        ("DAY_BUY_COST_BASE", "FLOAT", None, None),
        ("DAY_SELL_QUANTITY", "NUMBER", 38, 8),
        ("DAY_SELL_PROCEEDS_BASE", "FLOAT", None, None),
        ("REALIZED_PNL_BASE", "FLOAT", None, None),
        ("UNREALIZED_PNL_BASE", "FLOAT", None, None),
        ("TOTAL_PNL_BASE", "FLOAT", None, None),
        ("APPLIED_BATCH_ID", "NUMBER", 19, 0),
    ]
    assert snowflake_columns(settings, "MARKS") == [
        ("MARK_TYPE", "TEXT", None, None),
        ("ID", "TEXT", None, None),
        ("PRICE", "FLOAT", None, None),
        ("MARK_TS", "TIMESTAMP_NTZ", None, None),
        ("SEQUENCE", "NUMBER", 19, 0),
        ("SOURCE", "TEXT", None, None),
        ("APPLIED_BATCH_ID", "NUMBER", 19, 0),
    ]
    assert snowflake_rows(settings, "MARKS") == [
        ("fx", "EUR", 1.085, dt.datetime(2026, 11, 24, 9, 29, 59, 500000), Decimal("17"), "tick", Decimal("0")),
        ("instrument", "US0378331005", 187.25, MARK_DAY_1, Decimal("-1"), "trade", Decimal("0")),
    ]
    assert snowflake_rows(settings, "PNL", order_by="1, 2, 3") == [
        ("P-001", "US0378331005", DAY_1, "USD", Decimal("1000.00000000"), 187.25, 1.0, 187250.0,
         Decimal("0E-8"), 0.0, Decimal("1000.00000000"), 187250.0, Decimal("0E-8"), 0.0, 0.0, 0.0, 0.0, Decimal("0")),
        ("P-002", "GB0002634946", DAY_1, "EUR", Decimal("-12.34567891"), 8.0, 1.25, -123.4567891,
         Decimal("0E-8"), 0.0, Decimal("0E-8"), 0.0, Decimal("12.34567891"), 123.4567891, 0.0, 0.0, 0.0, Decimal("0")),
    ]  # fmt: skip

    _merge(spark, marks, MARKS_DDL, MARKS_V2, tables["marks"])
    _merge(spark, pnl, PNL_DDL, [PNL_DAY_2], tables["pnl"])
    _merge(spark, pnl, PNL_DDL, [PNL_DAY_2_LATER], tables["pnl"])
    assert sync_tables(spark, settings, tables) == [
        TableSyncResult("marks", 1, 2, "incremental", staged=2, inserted=1, updated=1),
        TableSyncResult("pnl", 1, 3, "incremental", staged=1, inserted=1),
    ]
    assert snowflake_rows(settings, "MARKS") == [
        ("fx", "EUR", 1.085, dt.datetime(2026, 11, 24, 9, 29, 59, 500000), Decimal("17"), "tick", Decimal("0")),
        ("instrument", "DE0007164600", 181.0, dt.datetime(2026, 11, 25, 9, 40), Decimal("41"), "tick", Decimal("1")),
        ("instrument", "US0378331005", 189.5, MARK_DAY_2, Decimal("42"), "tick", Decimal("1")),
    ]
    assert snowflake_rows(settings, "PNL", order_by="1, 2, 3") == [
        ("P-001", "US0378331005", DAY_1, "USD", Decimal("1000.00000000"), 187.25, 1.0, 187250.0,
         Decimal("0E-8"), 0.0, Decimal("1000.00000000"), 187250.0, Decimal("0E-8"), 0.0, 0.0, 0.0, 0.0, Decimal("0")),
        ("P-001", "US0378331005", DAY_2, "USD", Decimal("1000.00000000"), 190.0, 1.0, 190000.0,
         Decimal("1000.00000000"), 187250.0, Decimal("200.00000000"), 37600.0, Decimal("200.00000000"), 38000.0,
         400.0, 2750.0, 3150.0, Decimal("2")),
        ("P-002", "GB0002634946", DAY_1, "EUR", Decimal("-12.34567891"), 8.0, 1.25, -123.4567891,
         Decimal("0E-8"), 0.0, Decimal("0E-8"), 0.0, Decimal("12.34567891"), 123.4567891, 0.0, 0.0, 0.0, Decimal("0")),
    ]  # fmt: skip
    assert [(check.table, check.ok, check.version, check.delta_rows, check.snowflake_rows)
            for check in verify_tables(spark, settings, tables)] == [
        ("marks", True, 2, 3, 3),
        ("pnl", True, 3, 3, 3),
    ]  # fmt: skip


def test_cli_sync_then_verify_then_tampered_verify_fails(
    spark: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml
    from typer.testing import CliRunner

    from riskstream.cli import app
    from riskstream.errors import VerificationError
    from tests.conftest import settings_dict

    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(tmp_path)), encoding="utf-8")
    monkeypatch.setenv("RISKSTREAM_CONF", str(conf))
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    runner = CliRunner()

    synced = runner.invoke(app, ["sync", "--table", "positions"])
    assert synced.exit_code == 0, synced.output
    assert synced.output.splitlines()[:2] == [
        "sync positions: starting",
        "sync positions: Delta versions none -> 1 (snapshot): 3 changes staged, 3 inserted, 0 updated, 0 deleted",
    ]
    verified = runner.invoke(app, ["sync", "--verify", "--table", "positions"])
    assert verified.exit_code == 0, verified.output
    assert verified.output.splitlines()[0] == (
        "verify positions: Delta version 1: 3 rows in Delta, 3 in Snowflake, all checksums match"
    )

    with snowflake_client(settings.snowflake) as client:
        connection = client.connect()
        connection.cursor().execute('UPDATE "POSITIONS" SET "MARKET_VALUE_BASE" = 0 WHERE "INSTRUMENT_ID" = \'MSFT\'')
        connection.close()
    tampered = runner.invoke(app, ["sync", "--verify"])
    assert isinstance(tampered.exception, VerificationError)
    assert tampered.exception.exit_code == 8
    assert tampered.output.splitlines() == [
        "verify positions: Delta version 1: 3 rows in Delta, 3 in Snowflake",
        "  1 different values: (P-001, MSFT)",
    ]


def test_the_gold_jobs_tables_sync_and_verify(spark: Any, settings: Settings) -> None:
    """The real gold table definitions (jobs/gold.py): same keys as the sync registry, every column
    type mapped, a map and an array column landing as JSON text."""
    from jobs.gold import GOLD_TABLES, create_gold_tables
    from jobs.risk_tables import RISK_TABLES
    from riskstream.snowflake.tables import GOLD_TABLE_KEYS

    written = {**GOLD_TABLES, **RISK_TABLES}
    assert {name: keys for name, (_, keys) in written.items()} == dict(GOLD_TABLE_KEYS)
    catalog = Catalog(settings)
    create_gold_tables(spark, catalog)
    spark.sql(
        f"INSERT INTO {catalog.table('gold', 'portfolio_risk').sql_name} VALUES ('P-001', 2, 1500.0, 500.0, "
        "map('equity', 1000.0D, 'fx', -500.0D), 0.6667, 0.5556, 12.5, 20.56, 29.08, 65.02, 91.96, 1.0E7, 1.0E5, "
        "1.5E-4, 2.908E-4, 15.0, 18.0, 27.0, 56.92, 85.38, 60.0, 90.0, 25.0, 500, array('fx:EUR'), false, 0.25, "
        "map('equity_crash', -200.0D), 'equity_crash', 200.0, 400.0, 0.5)"
    )

    results = sync_tables(spark, settings, GOLD_TABLE_KEYS)
    assert [(r.table, r.from_version, r.to_version, r.mode, r.inserted) for r in results] == [
        ("portfolio_risk_1m", None, 0, "snapshot", 0),
        ("exposure_by_asset_class_5m", None, 0, "snapshot", 0),
        ("marks", None, 0, "snapshot", 0),
        ("positions", None, 0, "snapshot", 0),
        ("pnl", None, 0, "snapshot", 0),
        ("portfolio_risk", None, 1, "snapshot", 1),
        ("risk_alerts", None, 0, "snapshot", 0),
    ]
    assert snowflake_rows(settings, "PORTFOLIO_RISK") == [
        (
            "P-001",
            Decimal("2"),
            1500.0,
            500.0,
            '{"equity":1000.0,"fx":-500.0}',
            0.6667,
            0.5556,
            12.5,
            20.56,
            29.08,
            65.02,
            91.96,
            1.0e7,
            1.0e5,
            1.5e-4,
            2.908e-4,
            15.0,
            18.0,
            27.0,
            56.92,
            85.38,
            60.0,
            90.0,
            25.0,
            Decimal("500"),
            '["fx:EUR"]',
            False,
            0.25,
            '{"equity_crash":-200.0}',
            "equity_crash",
            200.0,
            400.0,
            0.5,
        )
    ]
    assert all(result.ok for result in verify_tables(spark, settings, GOLD_TABLE_KEYS))
