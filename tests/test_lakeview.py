"""The Databricks dashboard's and the limit-breach alert's SQL, run on tables the pipeline built.

No workspace or SQL warehouse is reachable here, so the dashboard was never rendered and the alert
never scheduled. What is checked is everything up to that boundary: every dataset query of
``resources/riskstream_risk.lvdash.json`` and the alert's ``query_text`` (rendered from the bundle)
run with local Spark SQL, in the namespace Databricks gives them, on tables built by the real
bronze -> silver -> gold jobs from trade events produced to the local Kafka broker (with three
faulty records for the quarantine; the session's ``events_pipeline``, tests/events_pipeline.py) and
on the ``ops.stream_progress`` rows of those runs; each
result is compared with the expected rows, computed from the fixture events by the independent
helpers of tests/test_gold_pipeline.py where they exist and from the source tables with pandas
otherwise. The intraday P&L page reads ``gold.pnl`` and ``gold.marks``, published from the fixture
rows of tests/fixtures/lakeview (with the gold job's schemas, two trading days) rather than from the
pipeline, so that every P&L figure the page shows is known exactly; the rules that produce those
tables are the gold job's and are tested with it.

The namespace: Databricks resolves the dashboard's unqualified names in ``dataset_catalog`` and
``dataset_schema`` (the deployment's gold schema). Here a local schema ``lv_gold`` in
``spark_catalog`` holds views with the gold tables' names over the pipeline's path tables, and
``lv_silver`` / ``lv_ops`` hold the quarantine and progress; the dashboard's own views
(:mod:`riskstream.dashboard_views`, the same statements ``riskstream run gold`` runs on Unity
Catalog) are then created in ``lv_gold`` and the queries run after ``USE spark_catalog.lv_gold``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from riskstream.config import parse_settings
from riskstream.dashboard_views import DASHBOARD_VIEWS, view_statements
from riskstream.tables import Catalog
from tests.conftest import settings_dict
from tests.events_pipeline import EventsPipeline
from tests.test_bundle import REPO, load_bundle, render
from tests.test_gold_pipeline import (
    PORTFOLIOS,
    STEP_1,
    _expected_5m,
    _expected_alerts,
    _expected_positions,
    _expected_risk,
    _with_watermarks,
)
from transformations.backtest import VAR_BACKTEST_DDL
from transformations.gold import MARKS_DDL, PNL_DDL
from transformations.stress import STRESS_RESULTS_DDL

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

DASHBOARD = REPO / "resources" / "riskstream_risk.lvdash.json"
PREFIX = "lv_"
GOLD_TABLES = ("positions", "portfolio_risk", "exposure_by_asset_class_5m", "risk_alerts")
PNL_FIXTURES = Path(__file__).parent / "fixtures" / "lakeview"


AT = datetime(2026, 11, 24, 18, 0)
DAY = date(2026, 11, 24)
RISK_MODEL_ROWS = {
    "var_backtest": (
        VAR_BACKTEST_DDL,
        [
            (pid, DAY, 0.99, 250, hits, 2.5, 0.0, p_value, 0.0, 1.0, zone, 1.0, 0.94, [], [], [], [], AT)
            for pid, hits, p_value, zone in (
                ("P-EQ-1", 3, 0.758, "green"),
                ("P-FX-2", 11, 0.0001, "red"),
                ("P-3", 5, 0.162, "yellow"),
                ("P-4", 4, 0.406, "green"),
            )
        ],
    ),
    "stress_results": (
        STRESS_RESULTS_DDL,
        [
            ("P-EQ-1", "equity_crash", "Equities -20 %", "USD", 2, -480_000.0, 480_000.0, {}, 400_000.0, 1.2, True, AT),
            ("P-EQ-1", "usd_rally", "USD +5 %", "USD", 2, 0.0, 0.0, {}, 400_000.0, 0.0, False, AT),
            ("P-FX-2", "usd_rally", "USD +5 %", "EUR", 1, -250_000.0, 250_000.0, {}, None, None, None, AT),
        ],
    ),
}


def dataset_queries() -> dict[str, str]:
    """Every dataset of the dashboard: name -> SQL text (its ``queryLines`` joined)."""
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return {dataset["name"]: "".join(dataset["queryLines"]) for dataset in document["datasets"]}


@pytest.fixture(scope="module")
def built(
    spark: SparkSession, events_pipeline: EventsPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalog]:
    """The session's pipeline tables (tests/events_pipeline.py), published in the dashboard's namespace."""
    catalog = events_pipeline.catalog
    base = tmp_path_factory.mktemp("lakeview")
    published = {"gold": list(GOLD_TABLES), "silver": ["quarantine"], "ops": ["stream_progress"]}
    for layer, names in published.items():
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS spark_catalog.{PREFIX}{layer}")
        for name in names:
            path = catalog.table(layer, name).path  # type: ignore[arg-type]
            spark.sql(f"CREATE OR REPLACE VIEW spark_catalog.{PREFIX}{layer}.{name} AS SELECT * FROM delta.`{path}`")
    unity = Catalog(
        parse_settings({**settings_dict(base), "storage": {"catalog": "spark_catalog", "schema_prefix": PREFIX}})
    )
    for statement in view_statements(unity):
        spark.sql(statement)
    for name, ddl in (("pnl", PNL_DDL), ("marks", MARKS_DDL)):
        path = base / name
        spark.read.schema(ddl).json(str(PNL_FIXTURES / f"{name}.jsonl")).write.format("delta").save(str(path))
        spark.sql(f"CREATE OR REPLACE VIEW spark_catalog.{PREFIX}gold.{name} AS SELECT * FROM delta.`{path}`")
    for name, (ddl, rows) in RISK_MODEL_ROWS.items():
        path = base / name
        spark.createDataFrame(rows, ddl).write.format("delta").save(str(path))
        spark.sql(f"CREATE OR REPLACE VIEW spark_catalog.{PREFIX}gold.{name} AS SELECT * FROM delta.`{path}`")
    spark.sql(f"USE spark_catalog.{PREFIX}gold")
    try:
        yield catalog
    finally:
        spark.sql("USE spark_catalog.default")
        for layer in published:
            spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{PREFIX}{layer} CASCADE")


def _run(spark: SparkSession, sql: str) -> list[dict[str, Any]]:
    return [row.asDict() for row in spark.sql(sql).collect()]


def _table(spark: SparkSession, catalog: Catalog, layer: str, name: str) -> pd.DataFrame:
    return catalog.table(layer, name).read(spark).toPandas()  # type: ignore[arg-type]


def test_the_dashboard_reads_what_the_gold_schema_holds() -> None:
    """Every dataset is a query over the gold schema's tables and the two views, nothing else."""
    config, _ = load_bundle(REPO)
    dashboard = render(config, "dev")["resources"]["dashboards"]["riskstream_risk"]
    assert (dashboard["dataset_catalog"], dashboard["dataset_schema"]) == ("riskstream_dev", "alice_gold")
    assert (REPO / "resources" / dashboard["file_path"]).resolve() == DASHBOARD
    assert sorted(dataset_queries()) == [
        "alerts",
        "exposure_over_time",
        "pnl_by_instrument",
        "pnl_by_portfolio",
        "portfolio_limits",
        "quarantine_by_reason",
        "stream_lag",
        "stress_results",
        "var_backtest",
    ]
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = {query["query"]["datasetName"] for page in document["pages"] for item in page["layout"]
            for query in item["widget"]["queries"]}  # fmt: skip
    assert used == set(dataset_queries())
    assert [(page["name"], page["displayName"]) for page in document["pages"]] == [
        ("risk", "Risk"),
        ("pnl", "Intraday P&L"),
        ("risk_model", "VaR backtest and stress"),
    ]
    assert sorted(DASHBOARD_VIEWS) == ["ops_stream_progress", "silver_quarantine"]


def test_portfolio_limits(spark: SparkSession, built: Catalog) -> None:
    positions = _expected_positions(STEP_1)
    expected = [
        {**_expected_risk(positions, portfolio_id), "base_currency": PORTFOLIOS[portfolio_id]["base_currency"]}
        for portfolio_id in PORTFOLIOS
    ]
    expected.sort(
        key=lambda row: (-max(row["gross_limit_utilisation"], row["var_limit_utilisation"]), row["portfolio_id"])
    )
    rows = _run(spark, dataset_queries()["portfolio_limits"])
    assert [row["portfolio_id"] for row in rows] == [row["portfolio_id"] for row in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row["base_currency"] == want["base_currency"]
        for column in ("gross_exposure_base", "gross_limit", "gross_limit_utilisation", "var_99_1d", "var_limit"):
            assert row[column] == pytest.approx(want[column], rel=1e-12), (row["portfolio_id"], column)
        assert row["over_limit"] is (max(want["gross_limit_utilisation"], want["var_limit_utilisation"]) > 1)


def test_exposure_over_event_time(spark: SparkSession, built: Catalog) -> None:
    expected = sorted(
        _expected_5m(_with_watermarks(STEP_1)), key=lambda r: (r["window_start"], r["desk"], r["asset_class"])
    )
    rows = _run(spark, dataset_queries()["exposure_over_time"])
    assert [(r["window_start"], r["desk"], r["asset_class"], r["trade_count"]) for r in rows] == [
        (r["window_start"], r["desk"], r["asset_class"], r["trade_count"]) for r in expected
    ]
    for row, want in zip(rows, expected, strict=True):
        for column in ("gross_notional_base", "net_notional_base"):
            assert row[column] == pytest.approx(want[column], rel=1e-12)


def test_alert_list_newest_window_first(spark: SparkSession, built: Catalog) -> None:
    expected = _expected_alerts(STEP_1, [])
    rows = _run(spark, dataset_queries()["alerts"])
    keys = sorted(expected, key=lambda key: (-key[2].timestamp(), key[0], key[1]))
    assert [(r["portfolio_id"], r["rule"], r["window_start"]) for r in rows] == keys
    for row in rows:
        want = expected[(row["portfolio_id"], row["rule"], row["window_start"])]
        assert (row["trade_id"], row["last_trade_ts"]) == (want["trade_id"], want["last_trade_ts"])
        for column in ("measured_value", "limit_value"):
            assert row[column] == pytest.approx(want[column], rel=1e-12)
        assert row["utilisation"] == pytest.approx(want["measured_value"] / want["limit_value"], rel=1e-12)


def test_quarantine_by_reason(spark: SparkSession, built: Catalog) -> None:
    rows = _run(spark, dataset_queries()["quarantine_by_reason"])
    assert [(r["reason"], r["records"]) for r in rows] == [
        ("duplicate", 1),
        ("malformed_json", 1),
        ("unknown_portfolio", 1),
    ]
    quarantine = _table(spark, built, "silver", "quarantine").explode("reason_codes")
    for row in rows:
        seen = quarantine[quarantine["reason_codes"] == row["reason"]]["ingest_ts"]
        assert (row["first_seen"], row["last_seen"]) == (seen.min().to_pydatetime(), seen.max().to_pydatetime())


def test_stream_lag_is_the_latest_batch_of_each_query(spark: SparkSession, built: Catalog) -> None:
    progress = _table(spark, built, "ops", "stream_progress")
    latest = progress.sort_values(["progress_ts", "batch_id"], ascending=False).groupby("query_name").head(1)
    rows = _run(spark, dataset_queries()["stream_lag"])
    assert [row["query_name"] for row in rows] == sorted(latest["query_name"])
    assert [row["query_name"] for row in rows] == sorted(
        [
            "bronze_trade_events",
            "bronze_price_ticks",
            "silver_trades",
            "silver_prices",
            "gold_positions",
            "gold_portfolio_risk_1m",
            "gold_exposure_by_asset_class_5m",
        ]
    )
    for row in rows:
        want = latest[latest["query_name"] == row["query_name"]].iloc[0]
        assert (row["batch_id"], row["num_input_rows"]) == (want["batch_id"], want["num_input_rows"])
        assert row["progress_ts"] == want["progress_ts"].to_pydatetime()
        if want["watermark"] is None:
            assert row["event_time_lag_s"] is None
        else:
            watermark = datetime.fromisoformat(str(want["watermark"]).replace("Z", "+00:00")).replace(tzinfo=None)
            lag = (want["progress_ts"].to_pydatetime() - watermark).total_seconds()
            assert math.isclose(row["event_time_lag_s"], lag, abs_tol=1e-9), row["query_name"]


def _widgets(page: str) -> dict[str, dict[str, Any]]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    [layout] = [item["layout"] for item in document["pages"] if item["name"] == page]
    return {item["widget"]["name"]: item["widget"] for item in layout}


def test_the_pnl_page_filters_both_tables_by_portfolio_and_shows_their_columns() -> None:
    widgets = _widgets("pnl")
    assert list(widgets) == ["pnl_portfolio_filter", "pnl_by_portfolio_table", "pnl_by_instrument_table"]
    portfolio_filter = widgets["pnl_portfolio_filter"]
    portfolio_field = [{"name": "portfolio_id", "expression": "`portfolio_id`"}]
    assert [(query["name"], query["query"]["datasetName"], query["query"]["fields"])
            for query in portfolio_filter["queries"]] == [
        ("pnl_by_portfolio_portfolios", "pnl_by_portfolio", portfolio_field),
        ("pnl_by_instrument_portfolios", "pnl_by_instrument", portfolio_field),
    ]  # fmt: skip
    assert [(field["fieldName"], field["queryName"]) for field in portfolio_filter["spec"]["encodings"]["fields"]] == [
        ("portfolio_id", "pnl_by_portfolio_portfolios"),
        ("portfolio_id", "pnl_by_instrument_portfolios"),
    ]
    shown = {
        name: [column["fieldName"] for column in widgets[name]["spec"]["encodings"]["columns"]]
        for name in ("pnl_by_portfolio_table", "pnl_by_instrument_table")
    }
    assert shown == {
        "pnl_by_portfolio_table": [
            "trading_date",
            "desk",
            "portfolio_id",
            "base_currency",
            "positions",
            "realized_pnl_base",
            "unrealized_pnl_base",
            "total_pnl_base",
        ],
        "pnl_by_instrument_table": [
            "portfolio_id",
            "instrument_id",
            "base_currency",
            "sod_net_quantity",
            "net_quantity",
            "day_buy_quantity",
            "day_sell_quantity",
            "last_price",
            "mark_ts",
            "mark_source",
            "fx_rate_to_base",
            "sod_market_value_base",
            "market_value_base",
            "realized_pnl_base",
            "unrealized_pnl_base",
            "total_pnl_base",
        ],
    }
    for name, columns in shown.items():
        [query] = widgets[name]["queries"]
        assert [field["name"] for field in query["query"]["fields"]] == columns


LATEST = date(2026, 3, 3)


def test_pnl_by_portfolio_is_the_latest_trading_day(spark: SparkSession, built: Catalog) -> None:
    """Sums over the 2026-03-03 rows only (the 2026-03-02 rows of the fixture are left out); the
    desk comes from the pipeline's gold.positions."""
    assert _run(spark, dataset_queries()["pnl_by_portfolio"]) == [
        {
            "trading_date": LATEST,
            "desk": "Equities",
            "portfolio_id": "P-EQ-1",
            "base_currency": "USD",
            "positions": 3,
            "realized_pnl_base": 1250.0,
            "unrealized_pnl_base": 5500.0,
            "total_pnl_base": 6750.0,
        },
        {
            "trading_date": LATEST,
            "desk": "Macro",
            "portfolio_id": "P-FX-2",
            "base_currency": "EUR",
            "positions": 1,
            "realized_pnl_base": 0.0,
            "unrealized_pnl_base": 23.0,
            "total_pnl_base": 23.0,
        },
    ]


PNL_BY_INSTRUMENT_COLUMNS = [
    "trading_date",
    "portfolio_id",
    "instrument_id",
    "base_currency",
    "sod_net_quantity",
    "net_quantity",
    "day_buy_quantity",
    "day_sell_quantity",
    "last_price",
    "mark_ts",
    "mark_source",
    "fx_rate_to_base",
    "sod_market_value_base",
    "market_value_base",
    "realized_pnl_base",
    "unrealized_pnl_base",
    "total_pnl_base",
]


def test_pnl_by_instrument_largest_first_with_the_instruments_latest_mark(spark: SparkSession, built: Catalog) -> None:
    rows = _run(spark, dataset_queries()["pnl_by_instrument"])
    expected = [
        (LATEST, "P-EQ-1", "AAPL", "USD", Decimal(6000), Decimal(5000), Decimal(500), Decimal(1500), 193.0,
         datetime(2026, 3, 3, 15, 59), "tick", 1.0, 1140000.0, 965000.0, 3000.0, 14500.0, 17500.0),
        (LATEST, "P-EQ-1", "MSFT", "USD", Decimal(2000), Decimal(2000), Decimal(0), Decimal(0), 405.5,
         datetime(2026, 3, 3, 15, 58, 30), "tick", 1.0, 820000.0, 811000.0, 0.0, -9000.0, -9000.0),
        (LATEST, "P-EQ-1", "JPM", "USD", Decimal(1000), Decimal(0), Decimal(0), Decimal(1000), 198.25,
         datetime(2026, 3, 3, 11, 20), "trade", 1.0, 200000.0, 0.0, -1750.0, 0.0, -1750.0),
        (LATEST, "P-FX-2", "EURUSD", "EUR", Decimal(0), Decimal(10), Decimal(10), Decimal(0), 1.0825,
         datetime(2026, 3, 3, 15, 59, 30, 500000), "tick", 0.92, 0.0, 9959.0, 0.0, 23.0, 23.0),
    ]  # fmt: skip
    assert rows == [dict(zip(PNL_BY_INSTRUMENT_COLUMNS, row, strict=True)) for row in expected]
    for row in rows:  # the identity gold.pnl documents, on what the page shows
        assert row["realized_pnl_base"] + row["unrealized_pnl_base"] == row["total_pnl_base"]


def test_the_limit_breach_alert_counts_portfolios_over_a_limit(spark: SparkSession, built: Catalog) -> None:
    config, _ = load_bundle(REPO)
    local = {"catalog": "spark_catalog", "schema_prefix": PREFIX}
    alert = render(config, "dev", variables=local)["resources"]["alerts"]["riskstream_limit_breach"]
    assert alert["query_text"] == (
        "SELECT count(*) AS portfolios_over_limit FROM spark_catalog.lv_gold.portfolio_risk "
        "WHERE gross_limit_utilisation > 1 OR var_limit_utilisation > 1"
    )
    assert alert["evaluation"]["source"]["name"] == "portfolios_over_limit"
    positions = _expected_positions(STEP_1)
    over = [
        portfolio_id
        for portfolio_id in PORTFOLIOS
        if max(
            _expected_risk(positions, portfolio_id)["gross_limit_utilisation"],
            _expected_risk(positions, portfolio_id)["var_limit_utilisation"],
        )
        > 1
    ]
    assert _run(spark, alert["query_text"]) == [{"portfolios_over_limit": len(over)}]


def test_dashboard_views_on_unity_catalog_names(tmp_path: Path) -> None:
    """The statements `riskstream run gold` runs for alice's dev deployment."""
    raw = settings_dict(tmp_path)
    unity = Catalog(parse_settings({**raw, "storage": {"catalog": "riskstream_dev", "schema_prefix": "alice_"}}))
    assert view_statements(unity) == [
        "CREATE OR REPLACE VIEW `riskstream_dev`.`alice_gold`.`silver_quarantine` AS "
        "SELECT * FROM `riskstream_dev`.`alice_silver`.`quarantine`",
        "CREATE OR REPLACE VIEW `riskstream_dev`.`alice_gold`.`ops_stream_progress` AS "
        "SELECT * FROM `riskstream_dev`.`alice_ops`.`stream_progress`",
    ]
    with pytest.raises(ValueError, match="dashboard views are for Unity Catalog targets"):
        view_statements(Catalog(parse_settings(raw)))


def test_var_backtest_red_first_then_yellow_then_green(spark: SparkSession, built: Catalog) -> None:
    rows = _run(spark, dataset_queries()["var_backtest"])
    assert [(row["portfolio_id"], row["traffic_light"], row["exceptions"]) for row in rows] == [
        ("P-FX-2", "red", 11),
        ("P-3", "yellow", 5),
        ("P-4", "green", 4),
        ("P-EQ-1", "green", 3),
    ]
    assert list(rows[0]) == [
        "portfolio_id",
        "as_of_date",
        "traffic_light",
        "exceptions",
        "days",
        "kupiec_p_value",
        "christoffersen_p_value",
    ]


def test_stress_results_largest_loss_first(spark: SparkSession, built: Catalog) -> None:
    rows = _run(spark, dataset_queries()["stress_results"])
    assert [(row["portfolio_id"], row["scenario"], row["loss_base"], row["breach"]) for row in rows] == [
        ("P-EQ-1", "equity_crash", 480_000.0, True),
        ("P-FX-2", "usd_rally", 250_000.0, None),
        ("P-EQ-1", "usd_rally", 0.0, False),
    ]
