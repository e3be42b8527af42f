"""No single record can stop silver: each poison record is quarantined with its reason, and the valid
events published after it land in ``silver.trades``.

Each case publishes one poison record between two valid events to the real broker, then runs bronze
and silver (availableNow). The records are sent with a plain Kafka client, as a foreign producer would
send them, not through riskstream's validating producer.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import bronze, silver
from riskstream.config import Settings
from riskstream.errors import PipelineError
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog
from tests.conftest import load_fixture_reference
from tests.events import Record, publish, trade_event

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def _valid(number: int) -> bytes:
    return json.dumps(trade_event(number)).encode()


def _with_field(raw_field: bytes) -> bytes:
    """A valid event (trade T50) whose ``trader_id`` is ``raw_field``, spliced in as raw JSON bytes."""
    text = json.dumps(trade_event(50, trader_id="__FIELD__")).encode()
    return text.replace(b'"__FIELD__"', raw_field)


POISON = {
    "invalid_utf8_value": (
        Record("P-001", b"\xff\xfe\x81\x00garbage\xc3", "1"),
        ["invalid_utf8"],
        "invalid_utf8: the record value is not valid UTF-8 (original bytes in bronze)",
    ),
    "latin1_inside_a_json_string": (
        Record("P-001", _with_field('"José"'.encode("latin-1")), "1"),
        ["invalid_utf8"],
        "invalid_utf8: the record value is not valid UTF-8 (original bytes in bronze)",
    ),
    "invalid_utf8_key": (
        Record(b"P-\xc3\x28", _valid(50), "1"),
        ["invalid_utf8"],
        "invalid_utf8: the Kafka key is not valid UTF-8 (original bytes in bronze)",
    ),
    "invalid_utf8_header": (
        Record("P-001", _valid(50), b"\xff"),
        ["invalid_utf8"],
        "invalid_utf8: the schema_version header is not valid UTF-8 (original bytes in bronze)",
    ),
    "nul_byte": (
        Record("P-001", _with_field(b'"TR\x00-7"'), "1"),
        ["malformed_json"],
        "malformed_json: not a single JSON object",
    ),
    "lone_surrogate_escape": (
        Record("P-001", _with_field(b'"\\ud800"'), "1"),
        ["malformed_json"],
        "malformed_json: a \\u escape encodes a lone UTF-16 surrogate, which is not a character",
    ),
    "deeply_nested_json": (
        Record("P-001", _with_field(b"[" * 100_000 + b"]" * 100_000), "1"),
        ["malformed_json"],
        "malformed_json: not a single JSON object",
    ),
    "number_with_400_digits": (
        Record(
            "P-001",
            json.dumps(trade_event(50, quantity=0)).encode().replace(b'"quantity": 0', b'"quantity": ' + b"9" * 400),
            "1",
        ),
        ["invalid_quantity"],
        "invalid_quantity: Infinity is not a decimal number (at most 8 decimal places)",
    ),
}


VALID_AFTER = 2
"""Valid events published right after each poison record; all of them must reach silver.trades."""


def _valid_after(index: int) -> list[int]:
    return [100 + index * VALID_AFTER + n for n in range(VALID_AFTER)]


@pytest.fixture(scope="module")
def poisoned_run(
    spark: SparkSession, kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Catalog, dict[str, tuple[int, int]]]:
    """Every poison record, each followed by its valid events, through bronze and silver in one run.

    Returns the catalog and, per case, the (partition, offset) its poison record got in bronze.
    """
    from riskstream import kafka_broker
    from riskstream.config import parse_settings
    from tests.conftest import settings_dict

    topic = "poison"
    kafka_broker.create_topics(kafka.bootstrap_servers, {topic: 1})
    settings = parse_settings(
        settings_dict(tmp_path_factory.mktemp("poison"), kafka.bootstrap_servers, kafka={"topic": topic})
    )
    catalog = Catalog(settings)
    load_fixture_reference(spark, catalog)
    records = [Record("P-001", _valid(1), "1")]
    offsets = {}
    for index, (case, (record, _, _)) in enumerate(POISON.items()):
        offsets[case] = (0, len(records))
        records += [record, *[Record("P-001", _valid(n), "1") for n in _valid_after(index)]]
    publish(kafka.bootstrap_servers, topic, records)
    assert bronze.run(spark, settings) is None
    assert silver.run(spark, settings) is None
    return catalog, offsets


@pytest.mark.parametrize("case", list(POISON), ids=list(POISON))
def test_a_poison_record_is_quarantined_and_the_events_after_it_land(
    case: str, spark: SparkSession, poisoned_run: tuple[Catalog, dict[str, tuple[int, int]]]
) -> None:
    catalog, offsets = poisoned_run
    record, codes, detail = POISON[case]
    partition, offset = offsets[case]
    quarantined = (
        catalog.table("silver", "quarantine")
        .read(spark)
        .where((F.col("source_partition") == partition) & (F.col("source_offset") == offset))
    )
    assert_df_equality(
        quarantined.select("raw_value", "reason_codes", "reason_detail"),
        spark.createDataFrame(
            [(bytearray(record.value), codes, detail)],
            "raw_value binary, reason_codes array<string>, reason_detail string",
        ),
        ignore_nullable=True,
    )
    # the original bytes are in bronze at the offset the quarantine row names
    bronze_row = (
        catalog.table("bronze", "trade_events")
        .read(spark)
        .where((F.col("partition") == partition) & (F.col("offset") == offset))
    )
    assert [bytes(row.value) for row in bronze_row.collect()] == [record.value]
    following = [f"T{n}" for n in _valid_after(list(POISON).index(case))]
    landed = catalog.table("silver", "trades").read(spark).where(F.col("trade_id").isin(following))
    assert sorted(row.trade_id for row in landed.collect()) == following


def test_only_the_poison_records_are_quarantined(
    spark: SparkSession, poisoned_run: tuple[Catalog, dict[str, tuple[int, int]]]
) -> None:
    catalog, offsets = poisoned_run
    quarantined = catalog.table("silver", "quarantine").read(spark).select("source_partition", "source_offset")
    assert sorted(tuple(row) for row in quarantined.collect()) == sorted(offsets.values())
    assert catalog.table("silver", "trades").read(spark).count() == 1 + VALID_AFTER * len(POISON)


def test_a_failing_batch_names_the_query_the_batch_and_the_bronze_offsets(
    spark: SparkSession, kafka: BrokerInfo, topic: str, make_settings: Callable[..., Settings]
) -> None:
    """A batch that fails anyway (here a scorer that raises) says where to look, and a re-run retries it."""
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    catalog = Catalog(settings)
    load_fixture_reference(spark, catalog)
    publish(kafka.bootstrap_servers, topic, [Record("P-001", _valid(n), "1") for n in (1, 2, 3)])
    assert bronze.run(spark, settings) is None
    (partition,) = {row.partition for row in catalog.table("bronze", "trade_events").read(spark).collect()}

    def explode(price: object) -> float:
        raise RuntimeError("scorer exploded")

    def exploding_scorer(trades):  # type: ignore[no-untyped-def]
        return trades.withColumn("risk_score", F.udf(explode, "double")(F.col("price"))).withColumn(
            "risk_reasons", F.array().cast("array<string>")
        )

    with pytest.raises(PipelineError) as failure:
        silver.run(spark, settings, scorer=exploding_scorer)
    message = str(failure.value)
    assert f"silver_trades batch 0 failed on bronze rows {topic}[{partition}] offsets 0-2: " in message
    assert "scorer exploded" in message
    assert catalog.table("silver", "trades").read(spark).count() == 0

    assert silver.run(spark, settings) is None
    assert sorted(row.trade_id for row in catalog.table("silver", "trades").read(spark).collect()) == ["T1", "T2", "T3"]
