"""Every analyst notebook in notebooks/ runs against tables of a test pipeline, with exact output.

The test pipeline: bronze is written by a real streaming query (availableNow, through the
project's sink helper) from fixture Kafka records; silver and gold are Delta tables built from the
fixture files in tests/fixtures/notebooks/tables with the documented table schemas
(transformations.schemas, transformations.gold). The quarantine replay publishes to the real
local Kafka broker and the test reads the records back. Databricks itself (its dbutils, display
and Unity Catalog) is not reachable here: the notebooks run through tests/notebook_runner.py
with a local session, on the path-based local target selected by RISKSTREAM_CONF.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from riskstream.config import Settings, TriggerConfig
from riskstream.sinks import write_delta
from riskstream.tables import Catalog
from tests.conftest import settings_dict
from tests.notebook_runner import NotebookError, run_notebook

pytestmark = [pytest.mark.spark]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TABLES = Path(__file__).parent / "fixtures" / "notebooks" / "tables"

BRONZE_FIXTURE_DDL = (
    "key string, value string, topic string, partition int, offset long, kafka_timestamp timestamp, "
    "kafka_timestamp_type int, ingest_ts timestamp"
)


def _load(spark: Any, name: str, ddl: str) -> Any:
    return spark.read.schema(ddl).json(str(TABLES / f"{name}.jsonl"))


@pytest.fixture(scope="module")
def pipeline(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build the test pipeline's tables once; returns the settings and the conf file path."""
    from pyspark.sql import functions as F

    from transformations.gold import MARKS_DDL, PNL_DDL, PORTFOLIO_RISK_DDL, POSITIONS_DDL, RISK_ALERTS_DDL
    from transformations.quality import DATA_QUALITY_DDL
    from transformations.schemas import QUARANTINE_DDL, SILVER_TRADES_DDL

    base = tmp_path_factory.mktemp("notebook-pipeline")
    raw = settings_dict(base, "127.0.0.1:9")
    conf_path = base / "local.yml"
    conf_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    from riskstream.config import parse_settings

    settings: Settings = parse_settings(raw)
    catalog = Catalog(settings)

    staged = base / "staged_kafka_records"
    records = _load(spark, "bronze_trade_events", BRONZE_FIXTURE_DDL).select(
        F.col("key").cast("binary").alias("key"),
        F.col("value").cast("binary").alias("value"),
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        "kafka_timestamp_type",
        F.array(F.struct(F.lit("schema_version").alias("key"), F.lit(b"1").alias("value"))).alias("headers"),
        "ingest_ts",
        F.to_date("ingest_ts").alias("ingest_date"),
    )
    records.write.format("delta").save(str(staged))
    write_delta(
        spark.readStream.format("delta").load(str(staged)),
        catalog.table("bronze", "trade_events"),
        query_name="notebook_test_bronze",
        checkpoint=catalog.checkpoint("notebook_test_bronze"),
        trigger=TriggerConfig(kind="available_now"),
    )
    for layer, name, ddl in (
        ("silver", "trades", SILVER_TRADES_DDL),
        ("silver", "quarantine", QUARANTINE_DDL),
        ("gold", "positions", POSITIONS_DDL),
        ("gold", "portfolio_risk", PORTFOLIO_RISK_DDL),
        ("gold", "risk_alerts", RISK_ALERTS_DDL),
        ("gold", "marks", MARKS_DDL),
        ("gold", "pnl", PNL_DDL),
        ("ops", "data_quality", DATA_QUALITY_DDL),
    ):
        write_delta(_load(spark, f"{layer}_{name}", ddl), catalog.table(layer, name))  # type: ignore[arg-type]
    _write_risk_tables(spark, catalog)
    return {"settings": settings, "conf": conf_path}


BACKTEST_VAR = [100.0, 110.0, 120.0, 100.0]
BACKTEST_PNL = [-50.0, -130.0, 20.0, -100.0]  # day 2 is an exception (130 > 110); day 4 equals its VaR: none


def _write_risk_tables(spark: Any, catalog: Catalog) -> None:
    """reference.instruments, gold.risk_factors, gold.stress_results and gold.var_backtest for P-001."""
    from transformations.backtest import VAR_BACKTEST_DDL
    from transformations.risk_factors import RISK_FACTORS_DDL
    from transformations.schemas import INSTRUMENTS_DDL
    from transformations.stress import STRESS_RESULTS_DDL

    at = datetime(2026, 11, 24, 18, 0)
    day = date(2026, 11, 24)
    tables = {
        ("reference", "instruments"): (
            INSTRUMENTS_DDL,
            [
                ("US0378331005", "Apple", "equity", "technology", "US", "USD", 1.0, 0.018, 187.25),
                ("DE0007164600", "SAP", "equity", "technology", "DE", "EUR", 1.0, 0.016, 182.4),
            ],
        ),
        ("gold", "risk_factors"): (
            RISK_FACTORS_DDL,
            [
                ("instrument", "US0378331005", 0.0213, 510, day, 0.94, {"fx:EUR": 0.1}, [day], [0.01], [0.03], at),
                ("fx", "EUR", 0.0071, 510, day, 0.94, {"instrument:US0378331005": 0.1}, [day], [-0.002], [0.004], at),
            ],
        ),
        ("gold", "stress_results"): (
            STRESS_RESULTS_DDL,
            [
                ("P-001", "usd_rally", "USD +5 %", "USD", 2, 1979.04, 0.0, {"equity": 1979.04}, 1e5, 0.0, False, at),
                ("P-001", "equity_crash", "Equities -20 %", "USD", 2, -29533.84, 29533.84, {"equity": -29533.84},
                 1e5, 0.2953384, False, at),
                ("P-002", "equity_crash", "Equities -20 %", "EUR", 1, 0.0, 0.0, {"fx": 0.0}, None, None, None, at),
            ],
        ),
        ("gold", "var_backtest"): (
            VAR_BACKTEST_DDL,
            [
                ("P-001", day, 0.99, 4, 1, 0.04, 3.2, 0.07, 0.0, 1.0, "green", 1.0, 0.94, ["instrument:DE0007164600"],
                 [date(2026, 11, d) for d in (19, 20, 23, 24)], BACKTEST_VAR, BACKTEST_PNL, at),
            ],
        ),
    }  # fmt: skip
    for (layer, name), (ddl, rows) in tables.items():
        spark.createDataFrame(rows, ddl).write.format("delta").save(str(catalog.table(layer, name).path))


@pytest.fixture
def conf(pipeline: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RISKSTREAM_CONF", str(pipeline["conf"]))
    return pipeline["settings"]


def _frame(columns: list[str], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def _assert_frame(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(actual.reset_index(drop=True), expected, check_dtype=False)


def test_every_notebook_is_covered() -> None:
    assert sorted(path.name for path in NOTEBOOKS.glob("*.py")) == [
        "data_quality.py",
        "quarantine_review.py",
        "risk_explorer.py",
        "risk_measures.py",
        "stream_health.py",
    ]


QUALITY_COLUMNS = ["day", "events_in", "accepted", "quarantined", "duplicates", "late", "unaccounted", "accept_rate"]
SUMMARY_COLUMNS = ["day", "reason", "records"]
BATCH_COLUMNS = [
    "batch_id",
    "processed_ts",
    "rows_in",
    "accepted",
    "quarantined",
    "quarantined_by_reason",
    "accepted_late",
    "min_trade_ts",
    "max_trade_ts",
]
DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)
BATCH_0 = (
    0,
    pd.Timestamp("2026-11-24 10:00:05"),
    5,
    3,
    2,
    '{"invalid_quantity":1,"missing_price":1,"unknown_portfolio":1}',
    0,
    pd.Timestamp("2026-11-24 09:58:00"),
    pd.Timestamp("2026-11-24 09:59:30"),
)
BATCH_2 = (
    2,
    pd.Timestamp("2026-11-25 08:00:05"),
    2,
    1,
    1,
    '{"duplicate":1}',
    1,
    pd.Timestamp("2026-11-25 07:59:00"),
    pd.Timestamp("2026-11-25 07:59:00"),
)


@pytest.mark.parametrize(
    ("widgets", "quality", "summary", "batches"),
    [
        (
            {},
            [(DAY1, 6, 3, 2, 0, 0, 1, 0.5), (DAY2, 2, 1, 1, 1, 1, 0, 0.5)],
            [
                (DAY1, "invalid_quantity", 1),
                (DAY1, "missing_price", 1),
                (DAY1, "unknown_portfolio", 1),
                (DAY2, "duplicate", 1),
            ],
            [BATCH_2, BATCH_0],
        ),
        ({"start_date": "2026-11-25"}, [(DAY2, 2, 1, 1, 1, 1, 0, 0.5)], [(DAY2, "duplicate", 1)], [BATCH_2]),
        (
            {"end_date": "2026-11-24"},
            [(DAY1, 6, 3, 2, 0, 0, 1, 0.5)],
            [(DAY1, "invalid_quantity", 1), (DAY1, "missing_price", 1), (DAY1, "unknown_portfolio", 1)],
            [BATCH_0],
        ),
    ],
)
def test_data_quality_notebook(spark, conf, widgets, quality, summary, batches) -> None:
    run = run_notebook(NOTEBOOKS / "data_quality.py", spark, widgets)
    quality_frame, summary_frame, batch_frame = run.frames()
    _assert_frame(quality_frame, _frame(QUALITY_COLUMNS, quality))
    (chart,) = run.figures()
    assert _bars(chart) == {
        "accepted": [float(row[2]) for row in quality],
        "quarantined": [float(row[3]) for row in quality],
        "not yet in silver": [float(row[6]) for row in quality],
    }
    assert [label.get_text() for label in chart.axes[0].get_xticklabels()] == [str(row[0]) for row in quality]
    _assert_frame(summary_frame, _frame(SUMMARY_COLUMNS, summary))
    _assert_frame(batch_frame, _frame(BATCH_COLUMNS, batches))


def test_data_quality_notebook_refuses_a_bad_date(spark, conf) -> None:
    with pytest.raises(NotebookError, match=r"cell 3: widget 'start_date': '24/11/2026' is not a date"):
        run_notebook(NOTEBOOKS / "data_quality.py", spark, {"start_date": "24/11/2026"})


def _bars(figure: Any) -> dict[str, list[float]]:
    """A bar chart's bar heights per legend label (what the analyst reads off the chart)."""
    (axes,) = figure.axes
    return {container.get_label(): [bar.get_height() for bar in container] for container in axes.containers}


PNL_COLUMNS = [
    "trading_date",
    "portfolio_id",
    "instrument_id",
    "base_currency",
    "sod_net_quantity",
    "net_quantity",
    "day_buy_quantity",
    "day_buy_cost_base",
    "day_sell_quantity",
    "day_sell_proceeds_base",
    "last_price",
    "fx_rate_to_base",
    "sod_market_value_base",
    "market_value_base",
    "realized_pnl_base",
    "unrealized_pnl_base",
    "total_pnl_base",
]
MARK_COLUMNS = ["mark_type", "id", "price", "mark_ts", "sequence", "source"]
D = Decimal
# The fixture's latest trading day (2026-11-25): P-001's Apple round trip (+400 realized) and both its
# stocks re-marked by ticks; P-002 bought EURUSD in the morning. The day before only opened positions.
PNL_APPLE = (DAY2, "P-001", "US0378331005", "USD", D(1000), D(1000), D(200), 37600.0, D(200), 38000.0, 189.5, 1.0,
             187250.0, 189500.0, 400.0, 2250.0, 2650.0)  # fmt: skip
PNL_SAP = (DAY2, "P-001", "DE0007164600", "USD", D(-200), D(-200), D(0), 0.0, D(0), 0.0, 181.0, 1.085,
           -39580.8, -39277.0, 0.0, 303.8, 303.8)  # fmt: skip
PNL_EURUSD = (DAY2, "P-002", "EURUSD", "EUR", D(0), D(6000000), D(6000000), 6000000.0, D(0), 0.0, 1.0875,
              0.9216589861751152, 0.0, 6013824.88, 0.0, 13824.88, 13824.88)  # fmt: skip
MARK_SAP = ("instrument", "DE0007164600", 181.0, pd.Timestamp("2026-11-25 09:40:00"), 41, "tick")
MARK_EURUSD = ("instrument", "EURUSD", 1.0875, pd.Timestamp("2026-11-25 09:00:00"), 40, "tick")
MARK_APPLE = ("instrument", "US0378331005", 189.5, pd.Timestamp("2026-11-25 09:45:00"), 42, "tick")
MARK_EUR = ("fx", "EUR", 1.085, pd.Timestamp("2026-11-25 08:30:00"), 39, "tick")


def test_risk_explorer_notebook_one_portfolio(spark, conf) -> None:
    run = run_notebook(NOTEBOOKS / "risk_explorer.py", spark, {"portfolio_id": "P-001"})
    overview, positions, alerts, pnl, marks = run.frames()
    (chart,) = run.figures()
    assert [type(item.value).__name__ for item in run.displayed] == [
        "DataFrame",
        "Figure",
        "DataFrame",
        "DataFrame",
        "DataFrame",
        "DataFrame",
    ]
    assert _bars(chart) == {
        "gross exposure / gross limit": [pytest.approx(0.45)],  # 100 x the table's 0.0045
        "99 % 1-day VaR / VaR limit": [pytest.approx(0.47)],
    }
    assert [label.get_text() for label in chart.axes[0].get_xticklabels()] == ["P-001"]
    assert chart.axes[0].get_title() == "Limit use per portfolio (each in its base currency)"
    _assert_frame(
        overview,
        _frame(
            [
                "portfolio_id",
                "position_count",
                "gross_exposure_base",
                "net_exposure_base",
                "var_99_1d",
                "var_99_10d",
                "gross_limit",
                "var_limit",
                "gross_limit_utilisation",
                "var_limit_utilisation",
            ],
            [("P-001", 2, 226830.8, 147669.2, 6979.04, 22069.77, 50000000.0, 1500000.0, 0.0045, 0.0047)],
        ),
    )
    assert list(positions.columns)[:2] == ["portfolio_id", "instrument_id"]
    assert [
        (row.portfolio_id, row.instrument_id, float(row.net_quantity), row.market_value_base)
        for row in positions.itertuples()
    ] == [("P-001", "US0378331005", 1000.0, 187250.0), ("P-001", "DE0007164600", -200.0, -39580.8)]
    assert [(row.alert_id, row.rule, str(row.window_start), row.utilisation) for row in alerts.itertuples()] == [
        ("a2", "concentration", "2026-11-24 09:31:00", 3.302),
        ("a1", "concentration", "2026-11-24 09:30:00", 4.0),
    ]
    # the latest trading day, largest absolute total first; the marks of both stocks and of EUR (SAP's
    # currency; USD, P-001's base and Apple's currency, has no FX mark), not P-002's or unused ones
    _assert_frame(pnl, _frame(PNL_COLUMNS, [PNL_APPLE, PNL_SAP]))
    _assert_frame(marks, _frame(MARK_COLUMNS, [MARK_SAP, MARK_APPLE, MARK_EUR]))
    for row in pnl.itertuples():
        assert row.realized_pnl_base + row.unrealized_pnl_base == row.total_pnl_base


def test_risk_explorer_notebook_pnl_of_an_earlier_trading_day(spark, conf) -> None:
    run = run_notebook(NOTEBOOKS / "risk_explorer.py", spark, {"portfolio_id": "P-001", "trading_date": "2026-11-24"})
    pnl, marks = run.frames()[3:]
    opened = [  # both positions opened that day at their marks: no P&L, ties by instrument
        (DAY1, "P-001", "DE0007164600", "USD", D(0), D(-200), D(0), 0.0, D(200), 39580.8, 182.4, 1.085,
         0.0, -39580.8, 0.0, 0.0, 0.0),
        (DAY1, "P-001", "US0378331005", "USD", D(0), D(1000), D(1000), 187250.0, D(0), 0.0, 187.25, 1.0,
         0.0, 187250.0, 0.0, 0.0, 0.0),
    ]  # fmt: skip
    _assert_frame(pnl, _frame(PNL_COLUMNS, opened))
    _assert_frame(marks, _frame(MARK_COLUMNS, [MARK_SAP, MARK_APPLE, MARK_EUR]))


def test_risk_explorer_notebook_refuses_a_bad_trading_date(spark, conf) -> None:
    with pytest.raises(NotebookError, match=r"cell 3: widget 'trading_date': '25/11/2026' is not a date"):
        run_notebook(NOTEBOOKS / "risk_explorer.py", spark, {"trading_date": "25/11/2026"})


def test_risk_explorer_notebook_all_portfolios(spark, conf) -> None:
    run = run_notebook(NOTEBOOKS / "risk_explorer.py", spark)
    overview, positions, alerts, pnl, marks = run.frames()
    assert list(overview[["portfolio_id", "gross_exposure_base", "var_99_1d"]].itertuples(index=False)) == [
        ("P-001", 226830.8, 6979.04),
        ("P-002", 6000000.0, 69790.44),
    ]
    assert list(positions["instrument_id"]) == ["US0378331005", "DE0007164600", "EURUSD"]
    assert list(alerts["alert_id"]) == ["a2", "a1", "a3"]
    _assert_frame(pnl, _frame(PNL_COLUMNS, [PNL_APPLE, PNL_SAP, PNL_EURUSD]))
    _assert_frame(marks, _frame(MARK_COLUMNS, [MARK_SAP, MARK_EURUSD, MARK_APPLE, MARK_EUR]))
    (chart,) = run.figures()
    assert _bars(chart) == {
        "gross exposure / gross limit": [
            pytest.approx(100 * row.gross_limit_utilisation) for row in overview.itertuples()
        ],
        "99 % 1-day VaR / VaR limit": [pytest.approx(100 * row.var_limit_utilisation) for row in overview.itertuples()],
    }


def test_stream_health_notebook(spark, conf: Settings) -> None:
    run = run_notebook(NOTEBOOKS / "stream_health.py", spark)
    (health,) = run.frames()
    assert list(health.columns) == [
        "table",
        "version",
        "last_commit_ts",
        "last_operation",
        "last_batch_id",
        "commits",
        "streaming_commits",
        "rows_written",
    ]
    catalog = Catalog(conf)
    last_commits = []
    for layer, name in (("bronze", "trade_events"), ("silver", "trades"), ("silver", "quarantine")):
        history = spark.sql(f"DESCRIBE HISTORY {catalog.table(layer, name).sql_name}").collect()
        last_commits.append(max(history, key=lambda row: row.version).timestamp)
    rows = [
        (
            r.table,
            r.version,
            r.last_operation,
            None if pd.isna(r.last_batch_id) else r.last_batch_id,
            r.commits,
            r.streaming_commits,
            r.rows_written,
        )
        for r in health.itertuples(index=False)
    ]
    assert rows == [
        ("bronze.trade_events", 0, "STREAMING UPDATE", 0, 1, 1, 8),
        ("silver.trades", 0, "WRITE", None, 1, 0, 4),
        ("silver.quarantine", 0, "WRITE", None, 1, 0, 3),
        ("gold.marks", 0, "WRITE", None, 1, 0, 6),
        ("gold.positions", 0, "WRITE", None, 1, 0, 3),
        ("gold.pnl", 0, "WRITE", None, 1, 0, 5),
        ("gold.portfolio_risk", 0, "WRITE", None, 1, 0, 2),
        ("gold.risk_alerts", 0, "WRITE", None, 1, 0, 3),
    ]
    assert [ts.to_pydatetime() for ts in health["last_commit_ts"][:3]] == last_commits


CORRECTED = {
    "schema_version": 1,
    "event_id": "q1",
    "event_type": "NEW",
    "trade_id": "T-5",
    "trade_version": 1,
    "portfolio_id": "P-001",
    "instrument_id": "US0378331005",
    "side": "BUY",
    "quantity": 5,
    "price": 187.25,
    "currency": "USD",
    "trade_ts": "2026-11-24T09:33:00.000Z",
    "source_system": "oms",
}


def test_quarantine_review_notebook_lists_records(spark, conf) -> None:
    run = run_notebook(NOTEBOOKS / "quarantine_review.py", spark, {"reason": "duplicate"})
    summary, records = run.frames()
    assert len(run.displayed) == 2
    _assert_frame(
        summary,
        _frame(
            SUMMARY_COLUMNS,
            [
                (DAY1, "invalid_quantity", 1),
                (DAY1, "missing_price", 1),
                (DAY1, "unknown_portfolio", 1),
                (DAY2, "duplicate", 1),
            ],
        ),
    )
    assert [
        (r.source_partition, r.source_offset, r.kafka_key, r.event_id, list(r.reason_codes), r.raw_text)
        for r in records.itertuples()
    ] == [(1, 1, "P-002", "q3", ["duplicate"], '{"event_id": "q3"}')]


def test_quarantine_review_notebook_holds_an_invalid_batch(spark, conf) -> None:
    broken = {**CORRECTED, "event_id": "q2", "quantity": -5}
    widgets = {"corrected_events": json.dumps([CORRECTED, broken]), "publish": "yes"}
    run = run_notebook(NOTEBOOKS / "quarantine_review.py", spark, widgets)
    outcomes = run.frames()[2]
    assert list(outcomes[["index", "original_event_id", "status"]].itertuples(index=False)) == [
        (0, "q1", "held"),
        (1, "q2", "rejected"),
    ]
    assert outcomes["detail"][0] == "not published: other events in the batch were rejected"
    assert outcomes["detail"][1] == "quantity: -5 is less than or equal to the minimum of 0"
    assert outcomes["event_id"][1] is None


@pytest.mark.kafka
def test_quarantine_review_notebook_republishes(spark, kafka, topic, pipeline, tmp_path, monkeypatch) -> None:
    raw = settings_dict(Path(pipeline["conf"]).parent, kafka.bootstrap_servers, kafka={"topic": topic})
    conf_path = tmp_path / "local.yml"
    conf_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("RISKSTREAM_CONF", str(conf_path))

    widgets = {"corrected_events": json.dumps(CORRECTED), "publish": "yes"}
    run = run_notebook(NOTEBOOKS / "quarantine_review.py", spark, widgets)
    outcomes = run.frames()[2]
    assert list(outcomes[["index", "original_event_id", "status", "detail"]].itertuples(index=False)) == [
        (0, "q1", "published", f"to {topic}")
    ]
    new_event_id = outcomes["event_id"][0]
    assert new_event_id != "q1"

    from confluent_kafka import Consumer

    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap_servers, "group.id": f"check-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    received = []
    try:
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received.append(message)
                break
    finally:
        consumer.close()
    (record,) = received
    assert record.key() == b"P-001"
    assert json.loads(record.value()) == {**CORRECTED, "event_id": new_event_id}
    assert record.headers() == [("schema_version", b"1"), ("republish_of", b"q1")]


MEASURE_ROWS = [
    ("VaR 95 % 1-day", 4934.56, "parametric", "z x sigma over the factor exposures"),
    ("VaR 99 % 1-day", 6979.04, "parametric", "z x sigma over the factor exposures"),
    ("VaR 95 % 10-day", 15604.5, "parametric", "1-day x sqrt(10)"),
    ("VaR 99 % 10-day", 22069.77, "parametric", "1-day x sqrt(10)"),
    ("ES 97.5 % 1-day", 7013.46, "parametric", "sigma x phi(z) / (1 - alpha)"),
    ("VaR 95 % 1-day", 5120.0, "historical", "500 daily scenarios"),
    ("VaR 99 % 1-day", 7805.5, "historical", "500 daily scenarios"),
    ("VaR 95 % 10-day", 16190.86, "historical", "1-day x sqrt(10)"),
    ("VaR 99 % 10-day", 24682.85, "historical", "1-day x sqrt(10)"),
    ("VaR 95 % 10-day", 15010.0, "historical", "500 overlapping 10-day scenarios"),
    ("VaR 99 % 10-day", 26540.0, "historical", "500 overlapping 10-day scenarios"),
    ("ES 97.5 % 1-day", 8120.25, "historical", "mean of the worst 2.5 % of 500 scenarios"),
    ("worst stress loss", 29533.84, "stress", "equity_crash"),
]


def test_risk_measures_notebook(spark, conf) -> None:
    run = run_notebook(NOTEBOOKS / "risk_measures.py", spark, {"portfolio_id": "P-001"})
    measures, factors, stress, summary = run.frames()
    (chart,) = run.figures()
    _assert_frame(measures, _frame(["measure", "value_base", "method", "inputs"], MEASURE_ROWS))
    assert run.namespace["portfolio_id"] == "P-001"
    assert run.namespace["flags"] == {
        "scenario_count": 500,
        "unmodelled_factors": ["instrument:DE0007164600"],
        "correlation_repaired": False,
        "correlation_min_eigenvalue": 0.62,
        "stress_loss_limit": 100000.0,
        "stress_limit_utilisation": 0.2953384,
    }
    # Apple 187,250 (USD, in a USD book: no currency leg); SAP -39,580.8 and its EUR leg -39,580.8
    _assert_frame(
        factors,
        _frame(
            ["factor", "exposure_base", "daily_vol", "vol_source", "observations"],
            [
                ("instrument:US0378331005", 187250.0, 0.0213, "ewma", 510),
                ("instrument:DE0007164600", -39580.8, 0.016, "reference daily_vol", None),
                ("fx:EUR", -39580.8, 0.0071, "ewma", 510),
            ],
        ),
    )
    assert list(stress["scenario"]) == ["equity_crash", "usd_rally"]
    assert list(stress["loss_base"]) == [29533.84, 0.0]
    assert [tuple(row) for row in summary[["days", "exceptions", "traffic_light"]].itertuples(index=False)] == [
        (4, 1, "green")
    ]
    assert chart.axes[0].get_title() == "VaR backtest of P-001: 1 exceptions in 4 days"
    assert list(chart.axes[0].lines[0].get_ydata()) == BACKTEST_VAR


def test_risk_measures_notebook_defaults_to_the_portfolio_using_most_of_its_var_limit(spark, conf) -> None:
    run = run_notebook(NOTEBOOKS / "risk_measures.py", spark, {"portfolio_id": ""})
    assert run.namespace["portfolio_id"] == "P-002"  # 2.79 % of its VaR limit against P-001's 0.47 %
    measures, factors, stress, summary = run.frames()
    assert measures["value_base"].iloc[1] == 69790.44
    assert list(factors["factor"]) == ["instrument:EURUSD", "fx:EUR"]
    assert list(stress["scenario"]) == ["equity_crash"]
    assert summary.empty  # no backtest of P-002 yet
    assert run.figures() == []
