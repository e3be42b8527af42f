"""`riskstream reference load`: CSV files -> checked rows -> reference Delta tables (one overwrite each).

Real Delta tables in a temporary folder; the CLI test runs the real typer app with the local
target moved under tmp_path via RISKSTREAM_STATE_DIR.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.config import Settings
from riskstream.reference import REFERENCE_TABLES, ReferenceDataError, load_reference, read_reference
from riskstream.simulator import MarketSimulator
from riskstream.tables import Catalog
from tests.conftest import settings_dict
from transformations.schemas import (
    CORRELATIONS_DDL,
    FX_RATES_DDL,
    INSTRUMENTS_DDL,
    PORTFOLIOS_DDL,
    PRICE_HISTORY_DDL,
)

pytestmark = pytest.mark.spark

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
AS_OF = datetime(2026, 11, 24, tzinfo=UTC)

EXPECTED = {
    "portfolios": (
        PORTFOLIOS_DDL,
        [
            # the fixture file has no stress_loss_limit column (an earlier release's file): null
            ("P-001", "US Equity Growth", "equities", "USD", 50_000_000.0, 1_500_000.0, 5_000_000.0, None),
            ("P-002", "Euro Macro", "macro", "EUR", 80_000_000.0, 2_500_000.0, 8_000_000.0, None),
            ("P-003", "Global Equity Income", "equities", "EUR", 30_000_000.0, 900_000.0, 3_000_000.0, None),
        ],
    ),
    "instruments": (
        INSTRUMENTS_DDL,
        [
            ("US0378331005", "Apple Inc", "equity", "technology", "US", "USD", 1.0, 0.018, 187.25),
            ("DE0007164600", "SAP SE", "equity", "technology", "DE", "EUR", 1.0, 0.016, 182.4),
            ("GB0007980591", "BP plc", "equity", "energy", "GB", "GBP", 1.0, 0.017, 4.85),
            ("EURUSD", "Euro / US Dollar spot", "fx", "currency", "EU", "USD", 1.0, 0.005, 1.085),
            ("US91282CJL54", "US Treasury 4.5% 2033", "rates", "government", "US", "USD", 0.01, 0.004, 98.75),
            ("XS2338643740", "Volkswagen 0.875% 2028", "credit", "automotive", "DE", "EUR", 0.01, 0.006, 91.3),
            ("CLZ6", "WTI Crude Oil Dec 2026", "commodity", "energy", "US", "USD", 1000.0, 0.025, 72.4),
        ],
    ),
    "fx_rates": (
        FX_RATES_DDL,
        [("USD", 1.0, AS_OF), ("EUR", 1.085, AS_OF), ("GBP", 1.27, AS_OF), ("JPY", 0.0067, AS_OF)],
    ),
    "correlations": (
        CORRELATIONS_DDL,
        [
            ("instrument", "DE0007164600", "US0378331005", 0.62),
            ("instrument", "CLZ6", "GB0007980591", 0.55),
            ("sector", "energy", "technology", 0.35),
            ("sector", "automotive", "government", -0.1),
        ],
    ),
    "price_history": (
        PRICE_HISTORY_DDL,
        [
            ("instrument", "US0378331005", date(2026, 11, 20), 185.1),
            ("instrument", "US0378331005", date(2026, 11, 23), 187.25),
            ("instrument", "DE0007164600", date(2026, 11, 20), 183.0),
            ("instrument", "DE0007164600", date(2026, 11, 23), 182.4),
            ("fx", "EUR", date(2026, 11, 20), 1.081),
            ("fx", "EUR", date(2026, 11, 23), 1.085),
        ],
    ),
}


def _copy_fixtures(tmp_path: Path) -> Path:
    source = tmp_path / "csv"
    shutil.copytree(FIXTURES, source)
    return source


def test_load_writes_exact_tables_and_refresh_replaces_them(
    spark: SparkSession, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    catalog = Catalog(make_settings())
    reported: list[tuple[str, int]] = []
    source = _copy_fixtures(tmp_path)

    counts = load_reference(
        spark, source, lambda name: catalog.table("reference", name), lambda n, r: reported.append((n, r))
    )

    assert counts == {"portfolios": 3, "instruments": 7, "fx_rates": 4, "correlations": 4, "price_history": 6}
    assert reported == list(counts.items())
    for name, (ddl, rows) in EXPECTED.items():
        actual = catalog.table("reference", name).read(spark)
        assert_df_equality(actual, spark.createDataFrame(rows, ddl), ignore_row_order=True, ignore_nullable=True)

    # A refresh replaces the content in one commit per table (no append, no delete-then-insert).
    fx_csv = source / "fx_rates.csv"
    fx_csv.write_text(fx_csv.read_text().replace("EUR,1.085,", "EUR,1.1,"), encoding="utf-8")
    load_reference(spark, source, lambda name: catalog.table("reference", name), lambda n, r: None)
    fx_table = catalog.table("reference", "fx_rates")
    refreshed = [(c, 1.1 if c == "EUR" else r, t) for c, r, t in EXPECTED["fx_rates"][1]]
    assert_df_equality(
        fx_table.read(spark),
        spark.createDataFrame(refreshed, FX_RATES_DDL),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    history = spark.sql(f"DESCRIBE HISTORY {fx_table.sql_name}").orderBy("version").collect()
    assert [(row.version, row.operation) for row in history] == [(0, "WRITE"), (1, "WRITE")]
    assert history[1].operationParameters["mode"] == "Overwrite"


@pytest.mark.parametrize(
    ("file_name", "old", "new", "message"),
    [
        (
            "portfolios.csv",
            "P-002,Euro Macro,macro,EUR,80000000",
            "P-002,Euro Macro,macro,EUR,eighty",
            "portfolios.csv, line 3, column gross_limit: 'eighty' is not a valid double",
        ),
        (
            "portfolios.csv",
            "P-003,Global Equity Income,equities,EUR",
            "P-001,Global Equity Income,equities,EUR",
            "portfolios.csv, line 4: duplicate key portfolio_id = P-001 (first on line 2)",
        ),
        (
            "portfolios.csv",
            "P-002,Euro Macro,macro,EUR",
            "P-002,Euro Macro,,EUR",
            "portfolios.csv, line 3, column desk: value is required",
        ),
        (
            "portfolios.csv",
            "single_trade_limit",
            "trade_limit",
            "portfolios.csv, line 1: header is 'portfolio_id,name,desk,base_currency,gross_limit,var_limit,"
            "trade_limit', expected 'portfolio_id,name,desk,base_currency,gross_limit,var_limit,single_trade_limit,"
            "stress_loss_limit'",
        ),
        (
            "instruments.csv",
            "CLZ6,WTI Crude Oil Dec 2026,commodity",
            "CLZ6,WTI Crude Oil Dec 2026,commodities",
            "instruments.csv, line 8, column asset_class: 'commodities' is not one of equity, fx, rates, credit, "
            "commodity",
        ),
        (
            "instruments.csv",
            "SAP SE,equity,technology,DE,EUR,1,0.016",
            "SAP SE,equity,technology,DE,EUR,1,-0.016",
            "instruments.csv, line 3, column daily_vol: -0.016 is not > 0",
        ),
        (
            "instruments.csv",
            "BP plc,equity,energy,GB,GBP,1,0.017,4.85",
            "BP plc,equity,energy,GB,GBP,1,0.017",
            "instruments.csv, line 4: 8 values, expected 9",
        ),
        (
            "fx_rates.csv",
            "GBP,1.27,2026-11-24T00:00:00.000Z",
            "GBP,1.27,24/11/2026",
            "fx_rates.csv, line 4, column as_of: '24/11/2026' is not a valid timestamp",
        ),
        (
            "fx_rates.csv",
            "JPY,0.0067",
            "yen,0.0067",
            "fx_rates.csv, line 5, column currency: 'yen' is not a 3-letter ISO 4217 code",
        ),
        (
            "fx_rates.csv",
            "GBP,1.27,2026-11-24T00:00:00.000Z\n",
            "",
            "instruments.csv: column currency uses GBP, which",
        ),
        (
            "correlations.csv",
            "sector,energy,technology,0.35",
            "sector,technology,energy,0.35",
            "correlations.csv, line 4: pair (technology, energy) must be stored once with left_id < right_id",
        ),
        (
            "correlations.csv",
            "sector,energy,technology,0.35",
            "sector,energy,technology,1.35",
            "correlations.csv, line 4, column correlation: 1.35 is not between -1 and 1",
        ),
        (
            "price_history.csv",
            "fx,EUR,2026-11-20,1.081",
            "fx,EUR,20/11/2026,1.081",
            "price_history.csv, line 6, column as_of_date: '20/11/2026' is not a valid date",
        ),
        (
            "price_history.csv",
            "fx,EUR,2026-11-20,1.081",
            "currency,EUR,2026-11-20,1.081",
            "price_history.csv, line 6, column factor_type: 'currency' is not one of instrument, fx",
        ),
        (
            "price_history.csv",
            "instrument,DE0007164600,2026-11-23,182.4",
            "instrument,DE0007164600,2026-11-23,0",
            "price_history.csv, line 5, column close: 0.0 is not > 0",
        ),
        (
            "price_history.csv",
            "instrument,DE0007164600,2026-11-23,182.4",
            "instrument,DE0007164600,2026-11-20,182.4",
            "price_history.csv, line 5: duplicate key factor_type, factor_id, as_of_date = instrument, "
            "DE0007164600, 2026-11-20 (first on line 4)",
        ),
        (
            "price_history.csv",
            "fx,EUR,2026-11-23,1.085",
            "fx,CHF,2026-11-23,1.13",
            "price_history.csv: fx CHF is not in instruments.csv or fx_rates.csv",
        ),
        (
            "price_history.csv",
            "instrument,US0378331005,2026-11-20,185.1",
            "instrument,US0000000000,2026-11-20,185.1",
            "price_history.csv: instrument US0000000000 is not in instruments.csv or fx_rates.csv",
        ),
    ],
)
def test_bad_input_names_file_line_and_column_and_writes_nothing(
    spark: SparkSession,  # load_reference needs a session, though it must not reach it
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    file_name: str,
    old: str,
    new: str,
    message: str,
) -> None:
    source = _copy_fixtures(tmp_path)
    path = source / file_name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    catalog = Catalog(make_settings())

    with pytest.raises(ReferenceDataError) as raised:
        load_reference(spark, source, lambda name: catalog.table("reference", name), lambda n, r: None)

    assert str(raised.value).startswith(f"{source}/{message}")
    assert [Path(str(catalog.table("reference", t.name).path)).exists() for t in REFERENCE_TABLES] == [False] * 5


def test_missing_file_is_named(tmp_path: Path) -> None:
    source = _copy_fixtures(tmp_path)
    (source / "instruments.csv").unlink()
    with pytest.raises(ReferenceDataError) as raised:
        read_reference(source)
    assert str(raised.value) == (
        f"{source}/instruments.csv: reference file not found (write a set with `riskstream simulate reference "
        f"--out {source}` and load it with `riskstream reference load --source {source}`)"
    )


def test_a_portfolios_file_with_the_stress_loss_limit_column_loads_it(tmp_path: Path) -> None:
    source = _copy_fixtures(tmp_path)
    path = source / "portfolios.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    limits = ["stress_loss_limit", "4000000", "", "2750000"]
    path.write_text("\n".join(f"{line},{limit}" for line, limit in zip(lines, limits, strict=True)) + "\n")
    rows = read_reference(source)["portfolios"]
    assert [row[-1] for row in rows] == [4_000_000.0, None, 2_750_000.0]
    path.write_text(path.read_text().replace(",2750000", ",-1"), encoding="utf-8")
    with pytest.raises(
        ReferenceDataError, match=r"portfolios\.csv, line 4, column stress_loss_limit: -1\.0 is not > 0"
    ):
        read_reference(source)


def test_price_history_is_optional_and_loads_empty_without_its_file(
    spark: SparkSession, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    source = _copy_fixtures(tmp_path)
    (source / "price_history.csv").unlink()
    catalog = Catalog(make_settings())

    counts = load_reference(spark, source, lambda name: catalog.table("reference", name), lambda n, r: None)

    assert counts["price_history"] == 0
    assert_df_equality(
        catalog.table("reference", "price_history").read(spark),
        spark.createDataFrame([], PRICE_HISTORY_DDL),
        ignore_nullable=True,
    )


def test_simulator_reference_files_load(tmp_path: Path) -> None:
    """The simulator's CSV files (`riskstream simulate reference`) pass every check of the loader."""
    MarketSimulator(seed=7, n_portfolios=4, n_instruments=10).write_reference_csv(tmp_path)
    rows = read_reference(tmp_path)
    assert (len(rows["portfolios"]), len(rows["instruments"])) == (4, 10)


def test_cli_reference_load(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(state))
    # The test session's own Spark settings, so that the command's getOrCreate() changes nothing in it.
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(state)), encoding="utf-8")
    monkeypatch.setenv("RISKSTREAM_CONF", str(conf))
    shutil.copytree(FIXTURES, state / "reference")

    result = CliRunner().invoke(app, ["reference", "load"])

    assert result.exit_code == 0, result.output
    delta = state / "delta" / "reference"
    assert result.output.splitlines() == [
        f"reference load: reading {state / 'reference'}",
        f"reference load: {delta / 'portfolios'} <- 3 rows",
        f"reference load: {delta / 'instruments'} <- 7 rows",
        f"reference load: {delta / 'fx_rates'} <- 4 rows",
        f"reference load: {delta / 'correlations'} <- 4 rows",
        f"reference load: {delta / 'price_history'} <- 6 rows",
        "reference load: done, 24 rows in 5 tables",
    ]
    portfolios = spark.read.format("delta").load(str(delta / "portfolios"))
    assert sorted(row.portfolio_id for row in portfolios.collect()) == ["P-001", "P-002", "P-003"]


def test_cli_bad_input_fails_before_spark_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files are checked first: a bad file fails the command with the domain error (exit code 2 via main)."""
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(tmp_path / "state"))
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(tmp_path / "state")), encoding="utf-8")
    monkeypatch.setenv("RISKSTREAM_CONF", str(conf))
    source = _copy_fixtures(tmp_path)
    (source / "fx_rates.csv").write_text("currency,usd_rate\nUSD,1\n", encoding="utf-8")

    result = CliRunner().invoke(app, ["reference", "load", "--source", str(source)])

    assert isinstance(result.exception, ReferenceDataError)
    assert ReferenceDataError.exit_code == 2
    assert str(result.exception) == (
        f"{source}/fx_rates.csv, line 1: header is 'currency,usd_rate', expected 'currency,usd_rate,as_of'"
    )
    assert not (tmp_path / "state" / "delta").exists()
