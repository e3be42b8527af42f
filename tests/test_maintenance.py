"""`riskstream maintain`: the maintenance: config section, the SQL it plans, OPTIMIZE + VACUUM on real Delta tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from riskstream.config import MaintenanceConfig, Settings
from riskstream.errors import ConfigError, PipelineError
from riskstream.maintenance import maintenance_statements, run_maintenance
from riskstream.tables import Catalog, TableRef
from tests.conftest import settings_dict


@pytest.mark.parametrize(
    ("maintenance", "message"),
    [
        (
            {"vacuum_retention_hours": 24},
            "maintenance.vacuum_retention_hours: Input should be greater than or equal to 168",
        ),
        ({"zorder_by": {"platinum.trades": ["a"]}}, "maintenance.zorder_by: Value error, 'platinum.trades': expected"),
        (
            {"zorder_by": {"silver.trades": []}},
            "maintenance.zorder_by: Value error, 'silver.trades': list at least one",
        ),
        (
            {"zorder_by": {"silver.trades": ["a;b"]}},
            "maintenance.zorder_by: Value error, 'silver.trades': 'a;b' is not",
        ),
        ({"retention": 168}, "maintenance.retention: Extra inputs are not permitted"),
    ],
)
def test_bad_maintenance_settings_name_the_key(tmp_path: Any, maintenance: dict[str, Any], message: str) -> None:
    from riskstream.config import parse_settings

    with pytest.raises(ConfigError) as raised:
        parse_settings(settings_dict(tmp_path, maintenance=maintenance))
    assert message in str(raised.value)


def test_statements_optimize_with_zorder_then_vacuum_with_the_retention() -> None:
    tables = [
        TableRef("bronze", "trade_events", identifier="riskstream_prod.bronze.trade_events"),
        TableRef("silver", "trades", path="/data/delta/silver/trades"),
    ]
    config = MaintenanceConfig(vacuum_retention_hours=720, zorder_by={"silver.trades": ("portfolio_id", "trade_ts")})
    assert [(s.table, s.operation, s.sql) for s in maintenance_statements(tables, config)] == [
        ("bronze.trade_events", "optimize", "OPTIMIZE `riskstream_prod`.`bronze`.`trade_events`"),
        ("bronze.trade_events", "vacuum", "VACUUM `riskstream_prod`.`bronze`.`trade_events` RETAIN 720 HOURS"),
        (
            "silver.trades",
            "optimize",
            "OPTIMIZE delta.`/data/delta/silver/trades` ZORDER BY (`portfolio_id`, `trade_ts`)",
        ),
        ("silver.trades", "vacuum", "VACUUM delta.`/data/delta/silver/trades` RETAIN 720 HOURS"),
    ]


def _write(spark: Any, table: TableRef, rows: list[tuple[str, int]], batches: int) -> None:
    for _ in range(batches):
        spark.createDataFrame(rows, "portfolio_id string, quantity int").write.format("delta").mode("append").save(
            table.path
        )


def _history(spark: Any, table: TableRef) -> list[tuple[str, Any]]:
    rows = spark.sql(f"DESCRIBE HISTORY {table.sql_name}").orderBy("version").collect()
    return [(row["operation"], row["operationParameters"].get("zOrderBy")) for row in rows]


@pytest.mark.spark
def test_maintain_optimizes_and_vacuums_every_layer_table(spark: Any, make_settings: Callable[..., Settings]) -> None:
    """Two small-file tables (bronze and gold) and a folder that is not a Delta table (ignored)."""
    settings = make_settings(
        maintenance={"vacuum_retention_hours": 168, "zorder_by": {"gold.positions": ["portfolio_id"]}}
    )
    catalog = Catalog(settings)
    bronze, gold = catalog.table("bronze", "trade_events"), catalog.table("gold", "positions")
    _write(spark, bronze, [("P1", 1), ("P2", 2)], batches=3)
    _write(spark, gold, [("P1", 5)], batches=2)
    (Path(str(settings.storage.base_path)) / "silver" / "not_a_table").mkdir(parents=True)
    messages: list[str] = []

    statements = run_maintenance(spark, settings, report=messages.append)

    assert [(s.table, s.operation) for s in statements] == [
        ("bronze.trade_events", "optimize"),
        ("bronze.trade_events", "vacuum"),
        ("gold.positions", "optimize"),
        ("gold.positions", "vacuum"),
    ]
    assert messages == [f"maintain: {s.operation} {s.table}" for s in statements]
    assert _history(spark, bronze) == [
        ("WRITE", None),
        ("WRITE", None),
        ("WRITE", None),
        ("OPTIMIZE", "[]"),
        ("VACUUM START", None),
        ("VACUUM END", None),
    ]
    assert _history(spark, gold) == [
        ("WRITE", None),
        ("WRITE", None),
        ("OPTIMIZE", '["portfolio_id"]'),
        ("VACUUM START", None),
        ("VACUUM END", None),
    ]
    assert sorted(bronze.read(spark).collect()) == sorted([("P1", 1), ("P2", 2)] * 3)
    assert len(spark.read.format("delta").load(bronze.path).inputFiles()) == 1


@pytest.mark.spark
def test_a_zorder_column_the_table_lacks_fails_naming_the_table(
    spark: Any, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(maintenance={"zorder_by": {"bronze.trade_events": ["desk"]}})
    bronze = Catalog(settings).table("bronze", "trade_events")
    _write(spark, bronze, [("P1", 1)], batches=1)
    with pytest.raises(PipelineError) as raised:
        run_maintenance(spark, settings)
    assert str(raised.value).startswith("optimize of bronze.trade_events failed: ")
    assert "desk" in str(raised.value)
