"""Incremental, exactly-once sync of gold Delta tables into Snowflake.

Per table and run:

1. Read the last synced Delta version ``v`` from the control table and the table's latest version
   ``w`` from the Delta log. ``v == w``: nothing to do (no data is read).
2. Create or additively evolve the Snowflake target from the Delta schema at ``w``.
3. Build the change set: the change data feed ``v+1..w`` reduced to the latest change per key; on
   the first run, or when that range was vacuumed away, a snapshot at ``w`` (then target rows whose
   key is not in the snapshot are deleted: "reconcile").
4. Load it into ``<TABLE>__STAGE`` (``write_pandas``), then in ONE transaction MERGE stage -> target
   and move the control row from ``v`` to ``w`` (only if it still says ``v``), then COMMIT.

A crash anywhere before the COMMIT leaves target and control as they were, so the re-run repeats
the same range; a crash after it leaves both advanced. Either way Snowflake ends up as after one
clean run. The MERGE itself is idempotent too (it writes final row states), a second line of defence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from riskstream.config import Settings, SnowflakeConfig
from riskstream.errors import RiskstreamError, SyncError
from riskstream.snowflake import delta_source
from riskstream.snowflake.changes import (
    OP_COLUMN,
    VERSION_COLUMN,
    latest_change_per_key,
    snapshot_as_changes,
    to_snowflake_columns,
)
from riskstream.snowflake.connection import SnowflakeClient, snowflake_client
from riskstream.snowflake.tables import GOLD_TABLE_KEYS, qualified, snowflake_name, stage_table_name
from riskstream.snowflake.types import SnowflakeType, columns_to_add, target_columns
from riskstream.tables import Catalog, TableRef

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

SyncPoint = Literal["before_merge", "after_merge", "before_control_update", "before_commit", "after_commit"]
FaultHook = Callable[[str, SyncPoint], None]
"""Called with (table, point) at each step of the commit protocol; raising there simulates a crash."""

NEVER_SYNCED = -1
TRANSIENT_ERRNOS = frozenset({250001, 250003, 250005, 251005, 251006, 251011, 251012, 390114})
"""Connector error numbers for lost connections, timeouts and expired sessions (worth retrying)."""


class InjectedFault(RuntimeError):
    """A crash injected by a test or a drill through a :data:`FaultHook`."""


def fail_at(point: SyncPoint, table: str | None = None, times: int = 1) -> FaultHook:
    """A hook that raises :class:`InjectedFault` the first ``times`` times ``point`` is reached."""
    remaining = [times]

    def hook(current_table: str, current_point: SyncPoint) -> None:
        if current_point == point and table in (None, current_table) and remaining[0] > 0:
            remaining[0] -= 1
            raise InjectedFault(f"injected crash at {point} while syncing {current_table}")

    return hook


@dataclass(frozen=True)
class TableSyncResult:
    """What one table's sync did. Versions are Delta commit versions; ``None`` means never synced."""

    table: str
    from_version: int | None
    to_version: int
    mode: str
    staged: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def describe(self) -> str:
        start = "none" if self.from_version is None else str(self.from_version)
        if self.mode == "up to date":
            return f"{self.table}: up to date at Delta version {self.to_version}"
        return (
            f"{self.table}: Delta versions {start} -> {self.to_version} ({self.mode}): {self.staged} changes staged, "
            f"{self.inserted} inserted, {self.updated} updated, {self.deleted} deleted"
        )


@dataclass
class _Progress:
    from_version: int | None = None
    to_version: int | None = None

    def versions(self) -> str:
        start = "none" if self.from_version in (None, NEVER_SYNCED) else str(self.from_version)
        return f"Delta versions {start} -> {'?' if self.to_version is None else self.to_version}"


def is_transient(error: BaseException) -> bool:
    """Connector errors worth retrying: lost connections, timeouts, expired sessions."""
    from snowflake.connector.errors import DatabaseError, OperationalError

    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DatabaseError) and getattr(error, "errno", None) in TRANSIENT_ERRNOS


def control_table_ddl(name: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {name} ("
        '"TABLE_NAME" VARCHAR NOT NULL, "SYNCED_VERSION" NUMBER(19,0) NOT NULL, '
        '"SYNCED_AT" TIMESTAMP_NTZ, "SYNC_MODE" VARCHAR, "ROWS_STAGED" NUMBER(19,0))'
    )


def merge_sql(target: str, stage: str, columns: Sequence[str], keys: Sequence[str]) -> str:
    """MERGE the staged change set into the target; ``columns`` and ``keys`` are upper-case names."""
    key_set = {key.upper() for key in keys}
    on = " AND ".join(f'"T_".{snowflake_name(key)} = "S_".{snowflake_name(key)}' for key in keys)
    values = [f'"S_".{snowflake_name(column)}' for column in columns]
    updates = ", ".join(
        f'{snowflake_name(column)} = "S_".{snowflake_name(column)}' for column in columns if column not in key_set
    )
    update_clause = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
    op = snowflake_name(OP_COLUMN)
    return (
        f'MERGE INTO {target} AS "T_" USING {stage} AS "S_" ON {on}'
        f" WHEN MATCHED AND \"S_\".{op} = 'D' THEN DELETE"
        f"{update_clause}"
        f" WHEN NOT MATCHED AND \"S_\".{op} <> 'D' THEN INSERT ({', '.join(snowflake_name(c) for c in columns)})"
        f" VALUES ({', '.join(values)})"
    )


def reconcile_sql(target: str, stage: str, keys: Sequence[str]) -> str:
    """Delete target rows whose key is absent from a staged full snapshot."""
    match = " AND ".join(f'"S_".{snowflake_name(key)} = "T_".{snowflake_name(key)}' for key in keys)
    return f'DELETE FROM {target} AS "T_" WHERE NOT EXISTS (SELECT 1 FROM {stage} AS "S_" WHERE {match})'


def _to_pandas(frame: DataFrame) -> pd.DataFrame:
    """Arrow-based conversion keeping integers exact (object ints with None, not float NaN) and
    timestamps as naive UTC (TIMESTAMP_NTZ)."""
    import pandas as pd

    result = frame.toArrow().to_pandas(integer_object_nulls=True, date_as_object=True)
    for name in result.columns:
        if isinstance(result[name].dtype, pd.DatetimeTZDtype):
            result[name] = result[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return result


def _existing_columns(cursor: Any, config: SnowflakeConfig, table: str) -> dict[str, SnowflakeType]:
    cursor.execute(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_catalog = %s AND table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (config.database.upper(), config.schema_name.upper(), table.upper()),
    )
    return {
        str(name).upper(): SnowflakeType.from_information_schema(str(kind), precision, scale)
        for name, kind, precision, scale in cursor.fetchall()
    }


def ensure_target(cursor: Any, config: SnowflakeConfig, table: str, wanted: dict[str, SnowflakeType]) -> list[str]:
    """Create the target table, or add the Delta columns it lacks. Returns the added column names."""
    target = qualified(config.database, config.schema_name, table)
    existing = _existing_columns(cursor, config, table)
    if not existing:
        columns = ", ".join(f"{snowflake_name(name)} {kind.ddl}" for name, kind in wanted.items())
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns})")
        return []
    added = columns_to_add(table, wanted, existing)
    for name, kind in added.items():
        cursor.execute(f"ALTER TABLE {target} ADD COLUMN {snowflake_name(name)} {kind.ddl}")
    return list(added)


def synced_version(cursor: Any, control: str, table: str) -> int | None:
    """The control table's version for ``table``; None when there is no row yet."""
    cursor.execute(f'SELECT "SYNCED_VERSION" FROM {control} WHERE "TABLE_NAME" = %s', (table,))
    rows = cursor.fetchall()
    if len(rows) > 1:
        raise SyncError(f"control table {control} holds {len(rows)} rows for {table}; it must hold one")
    return int(rows[0][0]) if rows else None


class TableSync:
    """Syncs one gold table; one instance per table and run."""

    def __init__(
        self,
        spark: SparkSession,
        client: SnowflakeClient,
        settings: Settings,
        table: str,
        keys: Sequence[str],
        hook: FaultHook | None = None,
    ) -> None:
        self.spark = spark
        self.client = client
        self.config = settings.snowflake
        self.table = table
        self.keys = tuple(keys)
        self.ref: TableRef = Catalog(settings).table("gold", table)
        self.hook = hook or (lambda table, point: None)
        self.target = qualified(self.config.database, self.config.schema_name, table)
        self.stage = qualified(self.config.database, self.config.schema_name, stage_table_name(table))
        self.control = qualified(self.config.database, self.config.schema_name, self.config.control_table)

    def run(self) -> TableSyncResult:
        """Sync with bounded exponential backoff on transient errors; anything else stops the run.

        Raises:
            SyncError: a permanent failure, or transient ones beyond the retry budget, naming the
                table and the Delta versions being synced.
        """
        progress = _Progress()
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.config.retry_attempts),
            wait=wait_exponential(multiplier=self.config.retry_initial_seconds, max=self.config.retry_max_seconds),
            reraise=True,
        )
        try:
            return retrying(self._attempt, progress)
        except SyncError as error:
            raise SyncError(f"table {self.table} ({progress.versions()}): {error}") from error
        except RiskstreamError:
            raise
        except Exception as error:  # connector, Spark and injected failures all stop the run here
            raise SyncError(
                f"table {self.table} ({progress.versions()}) failed and was not advanced: "
                f"{type(error).__name__}: {error}"
            ) from error

    def _attempt(self, progress: _Progress) -> TableSyncResult:
        latest = delta_source.latest_version(self.spark, self.ref)
        progress.to_version = latest
        connection = self.client.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(control_table_ddl(self.control))
            recorded = synced_version(cursor, self.control, self.table)
            if recorded is None:
                cursor.execute(
                    f'INSERT INTO {self.control} ("TABLE_NAME", "SYNCED_VERSION") VALUES (%s, %s)',
                    (self.table, NEVER_SYNCED),
                )
                recorded = NEVER_SYNCED
            progress.from_version = recorded
            shown_from = None if recorded == NEVER_SYNCED else recorded
            if recorded == latest:
                return TableSyncResult(self.table, shown_from, latest, "up to date")
            if recorded > latest:
                raise SyncError(
                    f"the control table says version {recorded} was synced but the Delta table's latest is "
                    f"{latest}: the Delta table was re-created. Delete its row from {self.control} to re-bootstrap"
                )
            delta_source.require_change_feed(self.spark, self.ref, self.table)
            schema = delta_source.snapshot(self.spark, self.ref, latest).schema
            wanted = target_columns(self.table, schema)
            ensure_target(cursor, self.config, self.table, wanted)
            changes, mode = self._change_set(recorded, latest)
            try:
                staged = _to_pandas(changes.transform(to_snowflake_columns(schema)))
            finally:
                changes.unpersist()
            self._check_keys(staged)
            counts = self._stage_and_merge(connection, cursor, staged, wanted, recorded, latest, mode)
            return TableSyncResult(self.table, shown_from, latest, mode, len(staged), *counts)
        finally:
            connection.close()

    def _change_set(self, recorded: int, latest: int) -> tuple[DataFrame, str]:
        if recorded == NEVER_SYNCED:
            return delta_source.snapshot(self.spark, self.ref, latest).transform(
                snapshot_as_changes(latest)
            ), "snapshot"
        changes = delta_source.change_feed(self.spark, self.ref, recorded + 1, latest).transform(
            latest_change_per_key(self.keys)
        )
        try:
            changes = changes.cache()
            changes.count()  # materialise here, so a vacuumed range is detected before anything is staged
        except Exception as error:  # Py4J/Spark errors; only a missing range is handled, the rest re-raised
            if not delta_source.change_feed_unavailable(error):
                raise
            snapshot = delta_source.snapshot(self.spark, self.ref, latest).transform(snapshot_as_changes(latest))
            return snapshot, "snapshot (change feed unavailable)"
        return changes, "incremental"

    def _check_keys(self, staged: pd.DataFrame) -> None:
        for key in self.keys:
            if staged[key.upper()].isna().any():
                raise SyncError(f"key column {key} is null in {int(staged[key.upper()].isna().sum())} changed rows")

    def _stage_and_merge(
        self,
        connection: Any,
        cursor: Any,
        staged: pd.DataFrame,
        wanted: dict[str, SnowflakeType],
        recorded: int,
        latest: int,
        mode: str,
    ) -> tuple[int, int, int]:
        """Stage, then MERGE + control update + COMMIT as one transaction. Returns (inserted, updated, deleted)."""
        reconcile = mode.startswith("snapshot")
        columns = list(wanted)
        stage_columns = ", ".join(
            f"{snowflake_name(name)} {kind.ddl}" for name, kind in {**wanted, **self._op_types()}.items()
        )
        transient = "" if self.client.emulated else "TRANSIENT "  # fakesnow warns on TRANSIENT
        cursor.execute(f"CREATE OR REPLACE {transient}TABLE {self.stage} ({stage_columns})")
        if len(staged):
            self.client.write_pandas(
                connection,
                staged,
                stage_table_name(self.table),
                database=self.config.database.upper(),
                schema=self.config.schema_name.upper(),
                quote_identifiers=True,
                use_logical_type=True,
            )
        self.hook(self.table, "before_merge")
        inserted = updated = deleted = 0
        connection.autocommit(False)
        try:
            if len(staged) or reconcile:
                cursor.execute(merge_sql(self.target, self.stage, columns, self.keys))
                row = cursor.fetchone()
                names = [str(item[0]).lower() for item in cursor.description]
                counts = dict(zip(names, row or (), strict=False))
                inserted = int(counts.get("number of rows inserted", 0))
                updated = int(counts.get("number of rows updated", 0))
                deleted = int(counts.get("number of rows deleted", 0))
                self.hook(self.table, "after_merge")
                if reconcile:
                    cursor.execute(reconcile_sql(self.target, self.stage, self.keys))
                    deleted += int(cursor.rowcount or 0)
            self.hook(self.table, "before_control_update")
            cursor.execute(
                f'UPDATE {self.control} SET "SYNCED_VERSION" = %s, "SYNCED_AT" = %s, "SYNC_MODE" = %s, '
                '"ROWS_STAGED" = %s WHERE "TABLE_NAME" = %s AND "SYNCED_VERSION" = %s',
                (latest, dt.datetime.now(dt.UTC).replace(tzinfo=None), mode, len(staged), self.table, recorded),
            )
            if cursor.rowcount != 1:
                raise SyncError(
                    f"the control row moved from version {recorded} while this run merged (a concurrent sync?); "
                    "rolled back"
                )
            self.hook(self.table, "before_commit")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        self.hook(self.table, "after_commit")
        cursor.execute(f"DROP TABLE IF EXISTS {self.stage}")
        return inserted, updated, deleted

    @staticmethod
    def _op_types() -> dict[str, SnowflakeType]:
        return {OP_COLUMN.upper(): SnowflakeType("TEXT"), VERSION_COLUMN.upper(): SnowflakeType("NUMBER", 19, 0)}


def selected_tables(tables: Sequence[str] | None) -> dict[str, tuple[str, ...]]:
    """The registry entries for ``tables`` (all gold tables when None); unknown names are refused."""
    if not tables:
        return dict(GOLD_TABLE_KEYS)
    unknown = [name for name in tables if name not in GOLD_TABLE_KEYS]
    if unknown:
        raise SyncError(f"unknown gold table(s) {', '.join(unknown)}; known: {', '.join(GOLD_TABLE_KEYS)}")
    return {name: GOLD_TABLE_KEYS[name] for name in tables}


def sync_tables(
    spark: SparkSession,
    settings: Settings,
    tables: Mapping[str, Sequence[str]],
    hook: FaultHook | None = None,
    echo: Callable[[str], None] = lambda message: None,
    skip_missing: bool = True,
) -> list[TableSyncResult]:
    """Sync each of ``tables`` (name -> key columns) in turn; stops at the first failing table.

    Tables whose Delta table does not exist yet are skipped (reported through ``echo``) when
    ``skip_missing``; otherwise that is a SyncError.
    """
    results = []
    catalog = Catalog(settings)
    with snowflake_client(settings.snowflake) as client:
        for table, keys in tables.items():
            ref = catalog.table("gold", table)
            if not ref.exists(spark):
                if not skip_missing:
                    raise SyncError(f"table {table}: no Delta table at {ref}; run the gold job first")
                echo(f"sync {table}: skipped, no Delta table at {ref} yet")
                continue
            echo(f"sync {table}: starting")
            result = TableSync(spark, client, settings, table, keys, hook).run()
            echo(f"sync {result.describe()}")
            results.append(result)
    return results
