"""Silver parsing and validation: every bad event gets its exact reason codes; valid v1 and v2 parse exactly.

Cases live in tests/fixtures/silver/parse_cases.jsonl (one bronze record each: value text, header,
expected reason codes). All cases are parsed in one DataFrame once per module and implementation,
then each case is asserted on its own. Every test that parses runs twice: with ``parse_events`` (the
JVM parser silver runs) and with ``parse_events_reference`` (the Spark SQL specification).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from transformations import Transform
from transformations.parsing import (
    LINEAGE_COLUMNS,
    parse_events,
    parse_events_reference,
    rejected,
    split_valid,
    to_quarantine,
)
from transformations.schemas import QUARANTINE_DDL, schema

pytestmark = pytest.mark.spark

CASES_FILE = Path(__file__).parent / "fixtures" / "silver" / "parse_cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
NOW = datetime(2026, 11, 24, 10, 0, 0)
INGEST_TS = datetime(2026, 11, 24, 10, 0, 1)
QUARANTINED_TS = datetime(2026, 11, 24, 10, 0, 2)
BRONZE_DDL = (
    "key binary, value binary, topic string, partition int, offset long, kafka_timestamp timestamp, "
    "kafka_timestamp_type int, headers array<struct<key:string,value:binary>>, ingest_ts timestamp, ingest_date date"
)


def bronze_frame(spark: SparkSession, records: list[tuple[str | None, str | None]]) -> DataFrame:
    """Bronze rows for (value text, schema_version header) pairs, at offsets 0.. of partition 0 of topic trades."""
    rows = []
    for offset, (value, header) in enumerate(records):
        headers = [("schema_version", bytearray(header.encode()))] if header is not None else []
        rows.append(
            (
                bytearray(b"P-001"),
                bytearray(value.encode()) if value is not None else None,
                "trades",
                0,
                offset,
                INGEST_TS,
                0,
                headers,
                INGEST_TS,
                INGEST_TS.date(),
            )
        )
    return spark.createDataFrame(rows, BRONZE_DDL)


Parse = Callable[[DataFrame], DataFrame]


@pytest.fixture(scope="module", params=[parse_events, parse_events_reference], ids=["jvm", "reference"])
def parse(request: pytest.FixtureRequest) -> Parse:
    parser: Callable[..., Transform] = request.param
    return lambda df: df.transform(parser("5 minutes", now=F.lit(NOW).cast("timestamp")))


@pytest.fixture(scope="module")
def parsed_cases(spark: SparkSession, parse: Parse) -> dict[str, Row]:
    bronze = bronze_frame(spark, [(case["value"], case["schema_version_header"]) for case in CASES])
    rows = parse(bronze).collect()
    return {CASES[row.source_offset]["case"]: row for row in rows}


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
def test_reason_codes(parsed_cases: dict[str, Row], case: dict[str, Any]) -> None:
    row = parsed_cases[case["case"]]
    assert row.reason_codes == case["reason_codes"]
    assert len(row.reason_details) == len(case["reason_codes"])


def test_one_row_per_bronze_row(parsed_cases: dict[str, Row]) -> None:
    assert sorted(row.source_offset for row in parsed_cases.values()) == list(range(len(CASES)))


PARSED_DDL = (
    "source_topic string, source_partition int, source_offset long, kafka_key string, raw_value binary, "
    "raw_text string, schema_version_header string, kafka_ts timestamp, ingest_ts timestamp, "
    "schema_version int, event_id string, event_type string, trade_id string, trade_version int, "
    "portfolio_id string, instrument_id string, side string, quantity decimal(28,8), price decimal(28,8), "
    "currency string, trade_ts timestamp, venue string, trader_id string, source_system string, "
    "counterparty_id string, strategy string, reason_codes array<string>, reason_details array<string>"
)


def test_valid_v1_and_v2_parse_exactly(spark: SparkSession, parse: Parse) -> None:
    v1 = CASES[0]["value"]
    v2 = CASES[1]["value"]
    actual = parse(bronze_frame(spark, [(v1, "1"), (v2, "2"), ('{"schema_version": 1', "1")]))
    common = (
        "3f1c1d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f",
        "NEW",
        "T-000001",
        1,
        "P-001",
        "US0378331005",
        "BUY",
        Decimal("100.00000000"),
        Decimal("187.25000000"),
        "USD",
        datetime(2026, 11, 24, 9, 30),
        "XNAS",
        "TR-7",
        "oms",
    )
    lineage = ("trades", 0)
    expected = spark.createDataFrame(
        [
            (
                *lineage,
                0,
                "P-001",
                bytearray(v1.encode()),
                v1,
                "1",
                INGEST_TS,
                INGEST_TS,
                1,
                *common,
                None,
                None,
                [],
                [],
            ),
            (
                *lineage,
                1,
                "P-001",
                bytearray(v2.encode()),
                v2,
                "2",
                INGEST_TS,
                INGEST_TS,
                2,
                *common,
                "CP-42",
                "momentum",
                [],
                [],
            ),
            (
                *lineage,
                2,
                "P-001",
                bytearray(b'{"schema_version": 1'),
                '{"schema_version": 1',
                "1",
                INGEST_TS,
                INGEST_TS,
                *([None] * 17),
                ["malformed_json"],
                ["malformed_json: not a single JSON object"],
            ),
        ],
        PARSED_DDL,
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_split_and_quarantine_rows(spark: SparkSession, parse: Parse) -> None:
    records = [
        (CASES[0]["value"], "1"),
        ('{"schema_version":1,"event_id":"abc","quantity":-5,"trade_id":"T-9"}', "1"),
        (None, None),
    ]
    parsed = parse(bronze_frame(spark, records))
    good, bad = split_valid(parsed)
    assert [row.source_offset for row in good.collect()] == [0]
    assert sorted(row.source_offset for row in parsed.transform(rejected()).collect()) == [1, 2]

    quarantine = bad.transform(to_quarantine(F.lit(QUARANTINED_TS).cast("timestamp")))
    codes = [
        "invalid_event_id",
        "missing_event_type",
        "missing_trade_version",
        "missing_portfolio_id",
        "missing_instrument_id",
        "missing_side",
        "invalid_quantity",
        "missing_price",
        "missing_currency",
        "missing_trade_ts",
        "missing_source_system",
    ]
    detail = (
        'invalid_event_id: "abc" does not match ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}'
        "-[0-9a-fA-F]{12}$; "
        "missing_event_type: required field is absent or null; "
        "missing_trade_version: required field is absent or null; "
        "missing_portfolio_id: required field is absent or null; "
        "missing_instrument_id: required field is absent or null; "
        "missing_side: required field is absent or null; "
        "invalid_quantity: -5 is not > 0; "
        "missing_price: required field is absent or null; "
        "missing_currency: required field is absent or null; "
        "missing_trade_ts: required field is absent or null; "
        "missing_source_system: required field is absent or null"
    )
    bad_text = records[1][0]
    assert bad_text is not None
    expected = spark.createDataFrame(
        [
            (
                *("trades", 0, 1, "P-001", bytearray(bad_text.encode()), bad_text, "1", "abc", "T-9"),
                *(codes, detail, INGEST_TS, QUARANTINED_TS),
            ),
            (
                *("trades", 0, 2, "P-001", None, None, None, None, None, ["malformed_json"]),
                *("malformed_json: empty record value", INGEST_TS, QUARANTINED_TS),
            ),
        ],
        schema(QUARANTINE_DDL),
    )
    assert_df_equality(quarantine, expected, ignore_nullable=True)


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("schema_version_disagrees_with_header", "unknown_schema_version: payload says 1 but the header says 2"),
        ("schema_version_3", "unknown_schema_version: 3 is not one of 1, 2"),
        ("schema_version_as_string", 'unknown_schema_version: "1" is not an integer'),
        ("side_lower_case", 'invalid_side: "buy" is not one of BUY, SELL'),
        ("trade_version_fraction", "invalid_trade_version: 1.5 is not an integer"),
        (
            "quantity_more_than_8_decimals",
            "invalid_quantity: 1.123456789 is not a decimal number (at most 8 decimal places)",
        ),
        (
            "trade_ts_with_offset",
            'invalid_trade_ts: "2026-11-24T09:30:00.000+01:00" is not an ISO-8601 UTC timestamp with milliseconds',
        ),
        (
            "trade_ts_in_future",
            "future_trade_ts: 2026-11-24T10:05:00.001Z is more than 5 minutes after 2026-11-24T10:00:00.000Z",
        ),
        ("trade_id_empty", 'invalid_trade_id: "" is shorter than 1'),
    ],
)
def test_reason_details(parsed_cases: dict[str, Row], case: str, detail: str) -> None:
    assert parsed_cases[case].reason_details == [detail]


# Where the silver parser and the producer-side JSON Schema validator (riskstream.contract.event_errors)
# deliberately disagree; every other case must get the same verdict from both.
ACCEPTED_BY_PARSER_ONLY = {
    "valid_quantity_and_price_as_numeric_strings": "decimals as numeric strings are read exactly",
    "valid_v1_ignores_v2_field": "tolerant reader: fields the version does not define are ignored",
    "valid_optional_fields_null": "JSON null counts as absent",
}
REJECTED_BY_PARSER_ONLY = {
    "schema_version_disagrees_with_header": "the header is not part of the payload the schema sees",
    "quantity_more_than_8_decimals": "decimal(28,8) would round it",
    "quantity_overflowing_double": "1e400 is infinite",
    "trade_ts_month_13": "jsonschema checks date-time only with an optional package; Spark parses it",
    "trade_ts_in_future": "depends on the time of processing",
}


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
def test_verdict_matches_the_producer_side_validator(case: dict[str, Any]) -> None:
    from riskstream.contract import event_errors

    try:
        schema_errors = event_errors(json.loads(case["value"])) if case["value"] is not None else ["null value"]
    except json.JSONDecodeError as error:
        schema_errors = [str(error)]
    parser_accepts = not case["reason_codes"]
    schema_accepts = not schema_errors
    if case["case"] in ACCEPTED_BY_PARSER_ONLY:
        assert (parser_accepts, schema_accepts) == (True, False)
    elif case["case"] in REJECTED_BY_PARSER_ONLY:
        assert (parser_accepts, schema_accepts) == (False, True)
    else:
        assert parser_accepts == schema_accepts, schema_errors


def test_a_key_that_is_not_utf8_leaves_every_field_unread(spark: SparkSession, parse: Parse) -> None:
    """Found by tests/test_parsing_model.py: the record is invalid_utf8 and nothing else, even with a valid value."""
    value = CASES[0]["value"]
    bronze = bronze_frame(spark, [(value, "1")]).withColumn("key", F.lit(bytearray(b"\xff\xfe")))
    row = parse(bronze).collect()[0]
    fields = [name for name in row.asDict() if name not in (*LINEAGE_COLUMNS, "reason_codes", "reason_details")]
    assert [row[name] for name in fields] == [None] * 17
    assert (row.raw_text, row.kafka_key) == (value, "\ufffd\ufffd")
    assert row.reason_codes == ["invalid_utf8"]
    assert row.reason_details == ["invalid_utf8: the Kafka key is not valid UTF-8 (original bytes in bronze)"]
