"""Enrichment (stream-static joins with the reference tables) and derived amounts: exact rows.

The reference tables are the fixture CSVs of tests/fixtures/reference, read by the same reader
as `riskstream reference load`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from riskstream.reference import reference_frames
from transformations.enrichment import derive_amounts, enrich

pytestmark = pytest.mark.spark

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
EVENTS_DDL = (
    "event_id string, event_type string, portfolio_id string, instrument_id string, side string, "
    "quantity decimal(28,8), price decimal(28,8), currency string, "
    "reason_codes array<string>, reason_details array<string>"
)
ENRICHED_DDL = (
    EVENTS_DDL + ", desk string, base_currency string, asset_class string, sector string, instrument_currency string, "
    "multiplier double, daily_vol double, reference_price double, fx_rate_to_base double, single_trade_limit double, "
    "signed_quantity decimal(28,8), notional double, notional_base double, signed_notional_base double"
)
EUR = 1.085
GBP = 1.27


@pytest.fixture(scope="module")
def reference(spark: SparkSession) -> dict[str, DataFrame]:
    return reference_frames(spark, FIXTURES)


def _event(
    event_id: str, portfolio: str, instrument: str, side: str, quantity: str, price: str, currency: str
) -> tuple[Any, ...]:
    return (event_id, "NEW", portfolio, instrument, side, Decimal(quantity), Decimal(price), currency, [], [])


def test_enrich_and_derive_amounts(spark: SparkSession, reference: dict[str, DataFrame]) -> None:
    e1 = _event("e1", "P-001", "US0378331005", "BUY", "100", "187.25", "USD")
    e2 = _event("e2", "P-002", "US0378331005", "SELL", "10", "187.25", "USD")
    e3 = _event("e3", "P-003", "GB0007980591", "BUY", "1000", "4.85", "GBP")
    e4 = _event("e4", "P-001", "CLZ6", "SELL", "2", "72.4", "USD")
    e5 = _event("e5", "P-002", "US91282CJL54", "BUY", "1000000", "98.75", "EUR")
    e6 = _event("e6", "P-999", "US0378331005", "BUY", "1", "187.25", "USD")
    e7 = _event("e7", "P-001", "XX0000000000", "BUY", "1", "10", "USD")
    e8 = _event("e8", "P-002", "US0378331005", "BUY", "1", "187.25", "CHF")
    events = spark.createDataFrame([e1, e2, e3, e4, e5, e6, e7, e8], EVENTS_DDL)

    actual = events.transform(
        enrich(reference["portfolios"], reference["instruments"], reference["fx_rates"])
    ).transform(derive_amounts())

    # enrichment: desk, base_currency, asset_class, sector, instrument_currency, multiplier, daily_vol,
    # reference_price, fx_rate_to_base, single_trade_limit; amounts: signed_quantity, notional,
    # notional_base, signed_notional_base (q x p x m, then x fx, in that order as in the code's formula)
    apple = ("equity", "technology", "USD", 1.0, 0.018, 187.25)
    no_instrument = (None, None, None, None, None, None)
    rows = [
        (e1, ("equities", "USD", *apple, 1.0, 5e6), (Decimal("100"), 18725.0, 18725.0, 18725.0)),
        (
            e2,
            ("macro", "EUR", *apple, 1 / EUR, 8e6),
            (Decimal("-10"), 1872.5, 1872.5 * (1 / EUR), -(1872.5 * (1 / EUR))),
        ),
        (
            e3,
            ("equities", "EUR", "equity", "energy", "GBP", 1.0, 0.017, 4.85, GBP / EUR, 3e6),
            (Decimal("1000"), 4850.0, 4850.0 * (GBP / EUR), 4850.0 * (GBP / EUR)),
        ),
        (
            e4,
            ("equities", "USD", "commodity", "energy", "USD", 1000.0, 0.025, 72.4, 1.0, 5e6),
            (Decimal("-2"), 2 * 72.4 * 1000, 2 * 72.4 * 1000, -(2 * 72.4 * 1000)),
        ),
        (
            e5,
            ("macro", "EUR", "rates", "government", "USD", 0.01, 0.004, 98.75, 1.0, 8e6),
            (Decimal("1000000"), 1e6 * 98.75 * 0.01, 1e6 * 98.75 * 0.01, 1e6 * 98.75 * 0.01),
        ),
        (
            (*e6[:8], ["unknown_portfolio"], ["unknown_portfolio: P-999 is not in reference.portfolios"]),
            (None, None, *apple, None, None),
            (Decimal("1"), 187.25, None, None),
        ),
        (
            (*e7[:8], ["unknown_instrument"], ["unknown_instrument: XX0000000000 is not in reference.instruments"]),
            ("equities", "USD", *no_instrument, 1.0, 5e6),
            (Decimal("1"), None, None, None),
        ),
        (
            (*e8[:8], ["missing_fx_rate"], ["missing_fx_rate: no USD rate for CHF in reference.fx_rates"]),
            ("macro", "EUR", *apple, None, 8e6),
            (Decimal("1"), 187.25, None, None),
        ),
    ]
    expected = spark.createDataFrame([(*event, *enriched, *amounts) for event, enriched, amounts in rows], ENRICHED_DDL)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_enrich_keeps_prior_reasons_and_uses_latest_fx_rate(
    spark: SparkSession, reference: dict[str, DataFrame]
) -> None:
    """A row already carrying a reason keeps it (codes append); two rates for one currency use the latest as_of."""
    events = spark.createDataFrame(
        [("e1", "NEW", "P-404", "US0378331005", "BUY", Decimal("1"), Decimal("1"), "GBP", ["late"], [])],
        EVENTS_DDL,
    )
    fx_rates = reference["fx_rates"].unionByName(
        spark.createDataFrame([("GBP", 1.3, None)], "currency string, usd_rate double, as_of timestamp").selectExpr(
            "currency", "usd_rate", "timestamp'2026-11-25 00:00:00' as as_of"
        )
    )
    portfolios = (
        reference["portfolios"]
        .selectExpr(
            "'P-404' as portfolio_id", "name", "desk", "base_currency", "gross_limit", "var_limit", "single_trade_limit"
        )
        .limit(1)
    )
    actual = events.transform(enrich(portfolios, reference["instruments"], fx_rates))
    row = actual.collect()[0]
    assert (row.reason_codes, row.reason_details, row.fx_rate_to_base) == (["late"], [], 1.3 / 1.0)


def test_stateless_chain_runs_on_a_stream(spark: SparkSession, reference: dict[str, DataFrame], tmp_path: Path) -> None:
    """parse -> accepted -> enrich -> derive -> score, and rejected -> quarantine, as streaming queries
    (Delta source, availableNow, memory sinks): every bronze row ends in exactly one of the two."""
    from pyspark.sql import functions as F

    from tests.test_parsing import CASES, NOW, bronze_frame
    from transformations.parsing import accepted, parse_events, rejected, to_quarantine
    from transformations.scoring import RuleScorer

    bronze_frame(spark, [(case["value"], case["schema_version_header"]) for case in CASES]).write.format("delta").save(
        str(tmp_path / "bronze")
    )
    parsed = (
        spark.readStream.format("delta")
        .load(str(tmp_path / "bronze"))
        .transform(parse_events("5 minutes", now=F.lit(NOW).cast("timestamp")))
    )
    trades = (
        parsed.transform(accepted())
        .transform(enrich(reference["portfolios"], reference["instruments"], reference["fx_rates"]))
        .transform(derive_amounts())
        .transform(RuleScorer())
    )
    quarantine = parsed.transform(rejected()).transform(to_quarantine())
    for name, frame in (("c1_stream_trades", trades), ("c1_stream_quarantine", quarantine)):
        query = (
            frame.writeStream.format("memory")
            .queryName(name)
            .option("checkpointLocation", str(tmp_path / name))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()

    accepted_rows = spark.table("c1_stream_trades").orderBy("source_offset").collect()
    quarantined = spark.table("c1_stream_quarantine").orderBy("source_offset").collect()
    valid = [offset for offset, case in enumerate(CASES) if not case["reason_codes"]]
    assert [(row.source_offset, row.desk, row.risk_score) for row in accepted_rows] == [
        (offset, "equities", 10.0) for offset in valid
    ]
    assert [(row.source_offset, row.reason_codes) for row in quarantined] == [
        (offset, case["reason_codes"]) for offset, case in enumerate(CASES) if case["reason_codes"]
    ]
