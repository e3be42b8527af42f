"""Exactly-once under crashes and transient errors: fakesnow (DuckDB transactions) through the real
snowflake-connector-python API, real Delta tables. A real Snowflake account is not reachable here."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from riskstream.config import Settings
from riskstream.errors import SyncError
from riskstream.snowflake.sync import InjectedFault, SyncPoint, TableSyncResult, fail_at
from tests.test_sync import (
    ROWS_AFTER_V1,
    ROWS_AFTER_V5,
    apply_changes,
    control_rows,
    create_positions,
    insert_initial,
    snowflake_rows,
    sync,
)

FAST_RETRIES = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.02}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(snowflake=FAST_RETRIES)


@pytest.mark.parametrize("point", ["before_merge", "after_merge", "before_control_update", "before_commit"])
def test_crash_before_commit_then_rerun_equals_one_clean_run(
    spark: Any, settings: Settings, make_settings: Callable[..., Settings], tmp_path: Path, point: SyncPoint
) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    sync(spark, settings)
    apply_changes(spark, path)

    with pytest.raises(SyncError, match=r"table positions \(Delta versions 1 -> 5\) failed and was not advanced"):
        sync(spark, settings, hook=fail_at(point))
    assert snowflake_rows(settings) == ROWS_AFTER_V1
    assert control_rows(settings) == [("positions", Decimal("1"), "snapshot", Decimal("3"))]

    rerun = sync(spark, settings)
    assert rerun == [TableSyncResult("positions", 1, 5, "incremental", staged=3, inserted=1, updated=1, deleted=1)]

    clean = make_settings(snowflake={**FAST_RETRIES, "emulator_path": str(tmp_path / "clean-snowflake")})
    sync(spark, clean)
    assert snowflake_rows(settings) == snowflake_rows(clean) == ROWS_AFTER_V5
    assert control_rows(settings) == [("positions", Decimal("5"), "incremental", Decimal("3"))]


def test_crash_after_commit_leaves_a_finished_sync_that_the_rerun_does_not_repeat(
    spark: Any, settings: Settings
) -> None:
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    sync(spark, settings)
    apply_changes(spark, path)

    with pytest.raises(SyncError):
        sync(spark, settings, hook=fail_at("after_commit"))
    assert snowflake_rows(settings) == ROWS_AFTER_V5
    assert sync(spark, settings) == [TableSyncResult("positions", 5, 5, "up to date")]
    assert snowflake_rows(settings) == ROWS_AFTER_V5


def test_merge_is_invisible_until_commit_and_discarded_by_the_crash(spark: Any, settings: Settings) -> None:
    """Inside the open transaction (MERGE done, control not yet updated) another connection still
    sees the old target; after the crash the merge is gone."""
    path = create_positions(spark, settings)
    insert_initial(spark, path)
    sync(spark, settings)
    apply_changes(spark, path)
    seen_meanwhile: list[tuple[Any, ...]] = []

    def observe_then_crash(table: str, point: SyncPoint) -> None:
        if point != "before_control_update":
            return
        import snowflake.connector  # patched by fakesnow for the duration of the sync

        other = snowflake.connector.connect(database="RISKSTREAM", schema="GOLD")
        seen_meanwhile.extend(
            tuple(row) for row in other.cursor().execute('SELECT * FROM "POSITIONS" ORDER BY 1, 2').fetchall()
        )
        other.close()
        raise InjectedFault("crash between MERGE and control update")

    with pytest.raises(SyncError, match="InjectedFault: crash between MERGE and control update"):
        sync(spark, settings, hook=observe_then_crash)
    assert seen_meanwhile == ROWS_AFTER_V1
    assert snowflake_rows(settings) == ROWS_AFTER_V1
    assert control_rows(settings) == [("positions", Decimal("1"), "snapshot", Decimal("3"))]


def test_transient_error_is_retried_and_a_permanent_one_stops_the_run(spark: Any, settings: Settings) -> None:
    from snowflake.connector.errors import OperationalError, ProgrammingError

    path = create_positions(spark, settings)
    insert_initial(spark, path)
    calls: list[str] = []

    def flaky(table: str, point: SyncPoint) -> None:
        if point == "before_merge":
            calls.append(point)
            if len(calls) == 1:
                raise OperationalError(msg="connection reset", errno=250001)

    assert sync(spark, settings, hook=flaky) == [TableSyncResult("positions", None, 1, "snapshot", 3, 3)]
    assert calls == ["before_merge", "before_merge"]
    assert snowflake_rows(settings) == ROWS_AFTER_V1

    apply_changes(spark, path)
    permanent_calls: list[str] = []

    def broken(table: str, point: SyncPoint) -> None:
        if point == "after_merge":
            permanent_calls.append(point)
            raise ProgrammingError(msg="insufficient privileges", errno=3001)

    with pytest.raises(SyncError, match=r"table positions \(Delta versions 1 -> 5\) failed and was not advanced"):
        sync(spark, settings, hook=broken)
    assert permanent_calls == ["after_merge"]
    assert snowflake_rows(settings) == ROWS_AFTER_V1
