"""Silver for market data: every tick case gets its exact reason codes, and the bronze rows split exactly
into silver.prices and silver.quarantine.

One micro-batch of bronze rows (the cases below, at offsets 0.. of partition 0 of the prices topic) goes
through parse_ticks -> check_reference -> flag_duplicates once per module; each case is then asserted on
its own, and the two tables and the latest-price view row for row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from transformations.prices import (
    check_reference,
    flag_duplicates,
    latest_prices,
    parse_ticks,
    to_silver_prices,
    to_tick_quarantine,
)
from transformations.schemas import FX_RATES_DDL, INSTRUMENTS_DDL, QUARANTINE_DDL, SILVER_PRICES_DDL, schema

pytestmark = pytest.mark.spark

TOPIC = "prices"
KAFKA_TS = datetime(2026, 11, 24, 10, 0, 0)
INGEST_TS = datetime(2026, 11, 24, 10, 0, 1)
PROCESSED_TS = datetime(2026, 11, 24, 10, 0, 2)
TICK_TS = datetime(2026, 11, 24, 9, 59, 59, 500000)
MAX_AGE = "5 minutes"
FUTURE_SKEW = "5 minutes"
APPLE = "US0378331005"
SAP = "DE0007164600"
UNKNOWN_INSTRUMENT = "XS0000000000"
BRONZE_DDL = (
    "key binary, value binary, topic string, partition int, offset long, kafka_timestamp timestamp, "
    "kafka_timestamp_type int, headers array<struct<key:string,value:binary>>, ingest_ts timestamp, ingest_date date"
)
DROP = object()
"""A field value that removes the field from the tick."""


def tick_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def tick(number: int, **fields: Any) -> bytes:
    """A valid PRICE tick of Apple in USD (tick id and sequence ``number``), with ``fields`` replaced."""
    payload: dict[str, Any] = {
        "schema_version": 1,
        "tick_id": tick_id(number),
        "tick_type": "PRICE",
        "instrument_id": APPLE,
        "price": 187.25,
        "currency": "USD",
        "tick_ts": "2026-11-24T09:59:59.500Z",
        "source": "feed-a",
        "sequence": number,
    }
    for name, value in fields.items():
        if value is DROP:
            del payload[name]
        else:
            payload[name] = value
    return json.dumps(payload).encode()


@dataclass(frozen=True)
class Case:
    """One bronze record and what silver must make of it (no codes: accepted)."""

    name: str
    value: bytes
    event_id: str | None
    codes: tuple[str, ...] = ()
    detail: str = ""
    header: str = "1"
    kafka_ts: datetime = KAFKA_TS


def case(name: str, number: int, codes: tuple[str, ...] = (), detail: str = "", **fields: Any) -> Case:
    """A case whose record is :func:`tick` ``(number, **fields)``; ``header`` and ``kafka_ts`` pass through."""
    header = fields.pop("header", "1")
    kafka_ts = fields.pop("kafka_ts", KAFKA_TS)
    return Case(name, tick(number, **fields), tick_id(number), codes, detail, header, kafka_ts)


FX_EUR = {"tick_type": "FX", "instrument_id": "EUR", "currency": "USD"}
QUOTE_ONLY = {"price": DROP}

CASES = [
    case("valid_price", 0),
    case("bid_ask_mid", 1, instrument_id=SAP, currency="EUR", source="feed-b", bid=182.25, ask=182.75, **QUOTE_ONLY),
    case("valid_fx", 2, price=1.0855, sequence=8, **FX_EUR),
    case("fx_same_ts_lower_sequence", 3, price=1.085, sequence=7, **FX_EUR),
    Case(
        "malformed_json",
        b'{"schema_version": 1, "tick_id": ',
        None,
        ("malformed_json",),
        "malformed_json: not a single JSON object",
    ),
    Case(
        "invalid_utf8",
        b'{"schema_version": 1, "source": "\xff"}',
        None,
        ("invalid_utf8",),
        "invalid_utf8: the record value is not valid UTF-8 (original bytes in bronze)",
    ),
    case(
        "unknown_schema_version",
        6,
        ("unknown_schema_version",),
        "unknown_schema_version: 2 is not one of 1",
        schema_version=2,
        header="2",
    ),
    case(
        "schema_version_header_disagrees",
        7,
        ("unknown_schema_version",),
        "unknown_schema_version: payload says 1 but the header says 2",
        header="2",
    ),
    case(
        "missing_price",
        8,
        ("missing_price",),
        "missing_price: neither price nor both bid and ask is present",
        **QUOTE_ONLY,
    ),
    case(
        "bid_without_ask",
        9,
        ("missing_price",),
        "missing_price: neither price nor both bid and ask is present",
        bid=187.0,
        **QUOTE_ONLY,
    ),
    case("price_zero", 10, ("invalid_price",), "invalid_price: 0 is not > 0", price=0),
    case("price_as_string", 11, ("invalid_price",), 'invalid_price: "187.25" is not a number', price="187.25"),
    case("negative_bid", 12, ("invalid_bid",), "invalid_bid: -1.5 is not > 0", bid=-1.5, ask=187.5, **QUOTE_ONLY),
    case(
        "crossed_quote",
        13,
        ("crossed_quote",),
        "crossed_quote: bid 187.5 is above ask 187.25",
        bid=187.5,
        ask=187.25,
        **QUOTE_ONLY,
    ),
    case(
        "fx_quoted_in_eur",
        14,
        ("invalid_currency",),
        'invalid_currency: "EUR" is not USD, the currency of every FX tick',
        tick_type="FX",
        instrument_id="GBP",
        price=1.17,
        currency="EUR",
    ),
    case("sequence_fraction", 15, ("invalid_sequence",), "invalid_sequence: 1.5 is not an integer", sequence=1.5),
    case(
        "stale",
        16,
        ("stale_tick",),
        "stale_tick: 2026-11-24T09:54:59.999Z is more than 5 minutes before the Kafka timestamp "
        "2026-11-24T10:00:00.000Z",
        tick_ts="2026-11-24T09:54:59.999Z",
    ),
    case(
        "exactly_max_age",
        17,
        instrument_id=SAP,
        currency="EUR",
        price=182.0,
        tick_ts="2026-11-24T09:55:00.000Z",
    ),
    case(
        "future",
        18,
        ("future_tick_ts",),
        "future_tick_ts: 2026-11-24T10:05:00.001Z is more than 5 minutes after the Kafka timestamp "
        "2026-11-24T10:00:00.000Z",
        tick_ts="2026-11-24T10:05:00.001Z",
    ),
    case(
        "unknown_instrument",
        19,
        ("unknown_instrument",),
        f"unknown_instrument: {UNKNOWN_INSTRUMENT} is not in reference.instruments",
        instrument_id=UNKNOWN_INSTRUMENT,
    ),
    case(
        "currency_mismatch",
        20,
        ("currency_mismatch",),
        f"currency_mismatch: quoted in EUR but {APPLE} is in USD",
        currency="EUR",
    ),
    case(
        "unknown_fx_currency",
        21,
        ("unknown_currency",),
        "unknown_currency: CHF is not in reference.fx_rates",
        price=1.13,
        **{**FX_EUR, "instrument_id": "CHF"},
    ),
    case(
        "parse_rejected_skips_reference",
        22,
        ("invalid_price",),
        "invalid_price: -1 is not > 0",
        instrument_id=UNKNOWN_INSTRUMENT,
        price=-1,
    ),
    Case(
        "duplicate",
        tick(0),
        tick_id(0),
        ("duplicate_tick",),
        "duplicate_tick: tick_id already at partition 0 offset 0 of this micro-batch",
    ),
    case("out_of_order", 24, price=186.5, sequence=30, tick_ts="2026-11-24T09:59:58.000Z"),
]
OFFSETS = {case.name: offset for offset, case in enumerate(CASES)}


def bronze_frame(spark: SparkSession, cases: list[Case]) -> DataFrame:
    """Bronze rows for ``cases``, at offsets 0.. of partition 0 of the prices topic, keyed by Apple."""
    rows = [
        (
            bytearray(APPLE.encode()),
            bytearray(case.value),
            TOPIC,
            0,
            offset,
            case.kafka_ts,
            0,
            [("schema_version", bytearray(case.header.encode()))],
            INGEST_TS,
            INGEST_TS.date(),
        )
        for offset, case in enumerate(cases)
    ]
    return spark.createDataFrame(rows, BRONZE_DDL)


def reference_frames(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """reference.instruments (Apple in USD, SAP in EUR) and reference.fx_rates (USD, EUR, GBP)."""
    instruments = spark.createDataFrame(
        [
            (APPLE, "Apple Inc", "equity", "technology", "US", "USD", 1.0, 0.018, 187.25),
            (SAP, "SAP SE", "equity", "technology", "DE", "EUR", 1.0, 0.016, 182.4),
        ],
        INSTRUMENTS_DDL,
    )
    as_of = datetime(2026, 11, 24)
    fx_rates = spark.createDataFrame(
        [("USD", 1.0, as_of), ("EUR", 1.085, as_of), ("GBP", 1.27, as_of)],
        FX_RATES_DDL,
    )
    return instruments, fx_rates


@pytest.fixture(scope="module")
def checked(spark: SparkSession) -> DataFrame:
    """The cases through parse_ticks -> check_reference -> flag_duplicates, computed once."""
    instruments, fx_rates = reference_frames(spark)
    frame = (
        bronze_frame(spark, CASES)
        .transform(parse_ticks(MAX_AGE, FUTURE_SKEW))
        .transform(check_reference(instruments, fx_rates))
        .transform(flag_duplicates())
    )
    return frame.cache()


@pytest.fixture(scope="module")
def checked_rows(checked: DataFrame) -> dict[str, Row]:
    return {CASES[row.source_offset].name: row for row in checked.collect()}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reason_codes_and_details(checked_rows: dict[str, Row], case: Case) -> None:
    row = checked_rows[case.name]
    assert row.reason_codes == list(case.codes)
    assert "; ".join(row.reason_details) == case.detail


def test_one_row_per_bronze_row(checked: DataFrame) -> None:
    assert sorted(row.source_offset for row in checked.select("source_offset").collect()) == list(range(len(CASES)))


def test_codes_come_in_contract_order(spark: SparkSession) -> None:
    value = tick(
        99, schema_version="1", tick_type="BID", price=DROP, bid=0, ask=-2, currency="usd", tick_ts="09:59", sequence=-1
    )
    (row,) = (
        bronze_frame(spark, [Case("many", value, tick_id(99))]).transform(parse_ticks(MAX_AGE, FUTURE_SKEW)).collect()
    )
    assert row.reason_codes == [
        "unknown_schema_version",
        "invalid_tick_type",
        "invalid_bid",
        "invalid_ask",
        "invalid_currency",
        "invalid_tick_ts",
        "invalid_sequence",
        "crossed_quote",
    ]


def silver_row(name: str, price: float, **fields: Any) -> tuple[Any, ...]:
    """The silver.prices row of case ``name``: the defaults of :func:`tick` with ``fields`` replaced."""
    offset = OFFSETS[name]
    tick_fields = {
        "tick_type": "PRICE",
        "instrument_id": APPLE,
        "bid": None,
        "ask": None,
        "currency": "USD",
        "tick_ts": TICK_TS,
        "source": "feed-a",
        "sequence": offset,
        **fields,
    }
    return (
        tick_id(offset),
        tick_fields["tick_type"],
        tick_fields["instrument_id"],
        price,
        tick_fields["bid"],
        tick_fields["ask"],
        tick_fields["currency"],
        tick_fields["tick_ts"],
        tick_fields["source"],
        tick_fields["sequence"],
        1,
        TOPIC,
        0,
        offset,
        KAFKA_TS,
        INGEST_TS,
        PROCESSED_TS,
    )


def test_silver_prices_rows(spark: SparkSession, checked: DataFrame) -> None:
    fx = {"tick_type": "FX", "instrument_id": "EUR"}
    expected = spark.createDataFrame(
        [
            silver_row("valid_price", 187.25),
            silver_row(
                "bid_ask_mid", 182.5, instrument_id=SAP, bid=182.25, ask=182.75, currency="EUR", source="feed-b"
            ),
            silver_row("valid_fx", 1.0855, sequence=8, **fx),
            silver_row("fx_same_ts_lower_sequence", 1.085, sequence=7, **fx),
            silver_row(
                "exactly_max_age", 182.0, instrument_id=SAP, currency="EUR", tick_ts=datetime(2026, 11, 24, 9, 55)
            ),
            silver_row("out_of_order", 186.5, sequence=30, tick_ts=datetime(2026, 11, 24, 9, 59, 58)),
        ],
        SILVER_PRICES_DDL,
    )
    actual = checked.transform(to_silver_prices(F.lit(PROCESSED_TS).cast("timestamp")))
    assert_df_equality(actual.orderBy("source_offset"), expected, ignore_nullable=True)


def test_quarantine_rows(spark: SparkSession, checked: DataFrame) -> None:
    quarantined_ts = datetime(2026, 11, 24, 10, 0, 3)
    expected = spark.createDataFrame(
        [
            (
                *(TOPIC, 0, offset, APPLE, bytearray(case.value)),
                None if case.name == "invalid_utf8" else case.value.decode(),
                case.header,
                case.event_id,
                None,
                list(case.codes),
                case.detail,
                INGEST_TS,
                quarantined_ts,
            )
            for offset, case in enumerate(CASES)
            if case.codes
        ],
        schema(QUARANTINE_DDL),
    )
    actual = checked.transform(to_tick_quarantine(F.lit(quarantined_ts).cast("timestamp")))
    assert_df_equality(actual.orderBy("source_offset"), expected, ignore_nullable=True)


def test_every_bronze_row_lands_in_exactly_one_table(checked: DataFrame) -> None:
    def positions(frame: DataFrame) -> list[tuple[str, int, int]]:
        rows = frame.select("source_topic", "source_partition", "source_offset").collect()
        return [(row.source_topic, row.source_partition, row.source_offset) for row in rows]

    silver = positions(checked.transform(to_silver_prices()))
    quarantine = positions(checked.transform(to_tick_quarantine()))
    assert sorted(silver + quarantine) == [(TOPIC, 0, offset) for offset in range(len(CASES))]


def test_latest_prices_never_move_backwards(spark: SparkSession, checked: DataFrame) -> None:
    """The out-of-order Apple tick (older tick_ts, later offset) and the EUR tick with a lower sequence at
    the same tick_ts (later offset) are in silver.prices but not the latest."""
    prices = checked.transform(to_silver_prices(F.lit(PROCESSED_TS).cast("timestamp")))
    expected = spark.createDataFrame(
        [
            ("FX", "EUR", 1.0855, TICK_TS, 8, "feed-a"),
            ("PRICE", SAP, 182.5, TICK_TS, 1, "feed-b"),
            ("PRICE", APPLE, 187.25, TICK_TS, 0, "feed-a"),
        ],
        "tick_type string, instrument_id string, price double, tick_ts timestamp, sequence long, source string",
    )
    actual = latest_prices(prices).orderBy("tick_type", "instrument_id")
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_parse_and_reference_check_run_on_a_stream(spark: SparkSession, tmp_path: Path) -> None:
    """parse_ticks -> check_reference on a Delta stream joined with static Delta reference reads (memory
    sink, availableNow): the same codes as the batch, but for duplicate_tick, which is a micro-batch rule."""
    instruments, fx_rates = reference_frames(spark)
    for name, frame in (("bronze", bronze_frame(spark, CASES)), ("instruments", instruments), ("fx", fx_rates)):
        frame.write.format("delta").save(str(tmp_path / name))
    checked_stream = (
        spark.readStream.format("delta")
        .load(str(tmp_path / "bronze"))
        .transform(parse_ticks(MAX_AGE, FUTURE_SKEW))
        .transform(
            check_reference(
                spark.read.format("delta").load(str(tmp_path / "instruments")),
                spark.read.format("delta").load(str(tmp_path / "fx")),
            )
        )
    )
    query = (
        checked_stream.writeStream.format("memory")
        .queryName("prices_checked_stream")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()

    rows = spark.table("prices_checked_stream").orderBy("source_offset").collect()
    assert [(row.source_offset, row.reason_codes) for row in rows] == [
        (offset, [code for code in case.codes if code != "duplicate_tick"]) for offset, case in enumerate(CASES)
    ]
