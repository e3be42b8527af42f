"""The JVM parser against its specification: generated bronze records, parsed both ways, row for row.

``parse_events`` (``io.riskstream.parsing.EventParser``, what silver runs) and
``parse_events_reference`` (Spark SQL expressions, the specification) must give identical rows for
every record: typed fields, reason codes and reason details. Records are built as JSON text from a
valid v1 or v2 event, then bent: fields dropped, nulled or replaced by other JSON (numbers as
exponents, huge, negative, numeric strings, objects, arrays, near-miss timestamps, escapes, long
and non-ASCII strings), unknown, case-variant and duplicate keys, broken or extra text around the
object, bytes that are not UTF-8, missing or disagreeing ``schema_version`` headers.

Each example is a small batch of records parsed in one DataFrame by both implementations. A
divergence hypothesis finds is shrunk and belongs in tests/fixtures/silver/parse_cases.jsonl (which
test_parsing.py runs through both) once fixed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from chispa import assert_df_equality
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transformations import Transform
from transformations.parsing import parse_events, parse_events_reference

pytestmark = pytest.mark.spark

EXAMPLES = 25
NOW = datetime(2026, 11, 24, 10, 0, 0)
INGEST_TS = datetime(2026, 11, 24, 10, 0, 1)
BRONZE_DDL = (
    "key binary, value binary, topic string, partition int, offset long, kafka_timestamp timestamp, "
    "kafka_timestamp_type int, headers array<struct<key:string,value:binary>>, ingest_ts timestamp, ingest_date date"
)

VALID_V1 = {
    "schema_version": "1",
    "event_id": '"3f1c1d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"',
    "event_type": '"NEW"',
    "trade_id": '"T-000001"',
    "trade_version": "1",
    "portfolio_id": '"P-001"',
    "instrument_id": '"US0378331005"',
    "side": '"BUY"',
    "quantity": "100",
    "price": "187.25",
    "currency": '"USD"',
    "trade_ts": '"2026-11-24T09:30:00.000Z"',
    "venue": '"XNAS"',
    "trader_id": '"TR-7"',
    "source_system": '"oms"',
}
VALID_V2 = {**VALID_V1, "schema_version": "2", "counterparty_id": '"CP-42"', "strategy": '"momentum"'}

# JSON texts chosen for the edges of each rule: integer ranges, decimal scale and precision, the
# VARIANT's number kinds, numeric strings Spark's cast accepts or refuses, enum and pattern near-misses,
# code-point lengths, escapes and lone surrogates.
INTERESTING = [
    "0",
    "1",
    "2",
    "3",
    "-1",
    "-0",
    "-0.0",
    "1.0",
    "1.5",
    "2.0",
    "1e2",
    "1E400",
    "-1E400",
    "1e-9",
    "1.0025e2",
    "100.25",
    "100.250",
    "1.12345678",
    "1.123456789",
    "1.100000000",
    "0.00000001",
    "0.000000005",
    "99999999999999999999.99999999",
    "100000000000000000000",
    "123456789012345678901234567890.5",
    "12345678901234567890123456789012345678901",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '[1,"a",null]',
    '{"b":1,"a":[null,1.50]}',
    '"1"',
    '"2"',
    '" 1.5 "',
    '"+1.5"',
    '"1e3"',
    '"1E+20"',
    '".5"',
    '"5."',
    '"0x1"',
    '"NaN"',
    '"1_0"',
    '"\\u0661\\u0662"',
    '"1.123456789"',
    '"-5"',
    '"0"',
    '""',
    '" "',
    '"abc"',
    '"BUY"',
    '"buy"',
    '"SELL"',
    '"NEW"',
    '"AMEND"',
    '"CANCEL"',
    '"cancel"',
    '"USD"',
    '"usd"',
    '"USD\\n"',
    '"US"',
    '"XNAS"',
    '"XNA"',
    '"xnas"',
    '"2026-11-24T09:30:00.000Z"',
    '"2026-11-24T09:30:00.000+01:00"',
    '"2026-11-24T09:30:00Z"',
    '"2026-11-24 09:30:00.000Z"',
    '"2026-11-24T09:30:00.000z"',
    '"2026-11-24T09:30:00.000Z\\n"',
    '"\\u00e9t\\u00e9"',
    '"\\ud83d\\ude00"',
    '"a\\"b\\\\c"',
    '"tab\\there"',
    '"\\u0000"',
    '"' + "x" * 64 + '"',
    '"' + "x" * 65 + '"',
    '"' + "\\u00e9" * 64 + '"',
    '"' + "é" * 65 + '"',
    '"' + "\\ud83d\\ude00" * 32 + '"',
    '"' + "😀" * 33 + '"',
    '"3F1C1D2E-8A4B-4C6D-9E0F-1A2B3C4D5E6F"',
    '"3f1c1d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6"',
    '"T-000002"',
]


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """A trade_ts in the contract's shape with each part at or just past its range."""
    year = draw(st.sampled_from([0, 1, 1582, 1900, 1970, 2024, 2026, 9999]))
    month, day = draw(st.integers(0, 13)), draw(st.sampled_from([0, 1, 28, 29, 30, 31, 32]))
    hour, minute, second = draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61))
    millis = draw(st.integers(0, 999))
    return json.dumps(f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z")


def decimals() -> st.SearchStrategy[Any]:
    """Decimals with 0 to 12 places, around the contract's 8."""
    return st.integers(0, 12).flatmap(lambda places: st.decimals(allow_nan=False, allow_infinity=False, places=places))


def json_values() -> st.SearchStrategy[str]:
    """The JSON text of one value."""
    return st.one_of(
        st.sampled_from(INTERESTING),
        st.integers(-(10**40), 10**40).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
        decimals().map(str),
        decimals().map(lambda d: json.dumps(str(d))),
        st.tuples(st.text(max_size=70), st.booleans()).map(lambda t: json.dumps(t[0], ensure_ascii=t[1])),
        timestamps(),
    )


@st.composite
def event_texts(draw: st.DrawFn) -> str:
    """One record value: a valid event's fields, bent, written as JSON text, sometimes broken around it."""
    base = dict(draw(st.sampled_from([VALID_V1, VALID_V2])))
    pairs: list[tuple[str, str]] = []
    for name, value in base.items():
        fate = draw(st.sampled_from(["keep"] * 6 + ["drop", "null", "replace", "replace"]))
        if fate == "keep":
            pairs.append((name, value))
        elif fate == "null":
            pairs.append((name, "null"))
        elif fate == "replace":
            pairs.append((name, draw(json_values())))
    for extra in draw(st.lists(st.sampled_from(["extra", "Trade_ID", "counterparty_id", "strategy", ""]), max_size=2)):
        pairs.append((extra, draw(json_values())))
    if pairs and draw(st.integers(0, 9)) == 0:
        pairs.append(draw(st.sampled_from(pairs)))  # a duplicate key
    pairs = draw(st.permutations(pairs))
    text = "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in pairs) + "}"
    around = draw(st.sampled_from(["none"] * 10 + ["trailing", "leading", "array", "truncate", "replace"]))
    if around == "trailing":
        text += draw(st.sampled_from([" ", "\n", " x", "}", "]", ", {}", "{}", "], [{}", "null"]))
    elif around == "leading":
        text = draw(st.sampled_from([" ", "\n\t", "\ufeff", "x"])) + text
    elif around == "array":
        text = f"[{text}]"
    elif around == "truncate":
        text = text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    elif around == "replace":
        text = draw(st.sampled_from(["", " ", "null", '"s"', "1", "[]", '{"a":1}{"b":2}', '{"a":"\\ud800"}']))
    return text


@st.composite
def bronze_records(draw: st.DrawFn) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(Kafka key, value, schema_version header) bytes of one bronze record."""
    value: bytes | None = draw(event_texts()).encode()
    corruption = draw(st.sampled_from([None] * 12 + [b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82"]))
    if corruption is not None and value is not None:
        cut = draw(st.integers(0, len(value)))
        value = value[:cut] + corruption + value[cut:]
    if draw(st.integers(0, 30)) == 0:
        value = None
    key = draw(st.sampled_from([b"P-001", b"P-001", b"", None, b"\xff\xfe"]))
    header = draw(st.sampled_from([b"1", b"2", b"1", b"2", None, b"01", b"x", b"\xff"]))
    return key, value, header


def bronze_frame(spark: SparkSession, records: list[tuple[bytes | None, bytes | None, bytes | None]]) -> DataFrame:
    rows = []
    for offset, (key, value, header) in enumerate(records):
        headers = [("schema_version", bytearray(header))] if header is not None else []
        rows.append(
            (
                bytearray(key) if key is not None else None,
                bytearray(value) if value is not None else None,
                *("trades", 0, offset, INGEST_TS, 0, headers, INGEST_TS, INGEST_TS.date()),
            )
        )
    return spark.createDataFrame(rows, BRONZE_DDL)


@pytest.fixture(scope="module")
def parsers(spark: SparkSession) -> tuple[Transform, Transform]:
    """Both transforms, built once: the specification's expressions take about 11,000 JVM calls to build."""
    now = F.lit(NOW).cast("timestamp")
    return parse_events("5 minutes", now=now), parse_events_reference("5 minutes", now=now)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(bronze_records(), min_size=1, max_size=30))
def test_jvm_parser_equals_the_specification(
    spark: SparkSession, parsers: tuple[Transform, Transform], records: list[Any]
) -> None:
    bronze = bronze_frame(spark, records)
    jvm, reference = (bronze.transform(parser).orderBy("source_offset") for parser in parsers)
    assert_df_equality(jvm, reference, ignore_nullable=True)
