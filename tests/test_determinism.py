"""The same records give the same books whatever the micro-batch boundaries (property-based).

Hypothesis generates one event sequence for a few trades of portfolio P-001: NEW / AMEND / CANCEL
with version gaps, events out of order, late events (hours behind their Kafka timestamp, within the
7-day state TTL), resends of an earlier ``event_id`` and AMEND / CANCEL for a trade not yet opened,
and price ticks of the same instruments. ``trade_ts`` and ``tick_ts`` come from a few minutes only, so
trades of different trades, and trades and ticks, share instants: "the latest mark" needs its
tie-break. The records are written as bronze rows twice: once as one Delta commit per table, once
split into several commits at generated boundaries. The hot query reads bronze (a rebuild's source)
one commit per table per micro-batch (``max_files_per_trigger: 1``), so the watermark and the book
move between the chunks of the split run, as between micro-batches of a live stream.
``silver.trades`` (without ``processed_ts``), ``silver.quarantine`` (without ``quarantined_ts``),
``silver.prices`` and ``gold.positions``, ``gold.marks`` and ``gold.pnl`` (without ``applied_batch_id``)
must be identical.

Prices, quantities and multipliers are integers and every trade is in USD for a USD book, so sums
of doubles are exact whatever their order. Both runs use the real hot query on local Spark and Delta;
the alerts go to the real local broker.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession

from jobs import hot
from riskstream import kafka_broker
from riskstream.config import Settings, parse_settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.tables import Catalog
from tests.conftest import load_fixture_reference, settings_dict
from transformations.bronze import BRONZE_DDL

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

EXAMPLES = 3
"""Each example runs the hot query twice on local Spark."""
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ARRIVAL = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
"""Every record's Kafka timestamp: events more than 10 minutes older are ``arrived_late``."""
INSTRUMENTS = ("US0378331005", "EURUSD", "CLZ6")


@st.composite
def event_sequences(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Lifecycle events in arrival order, with resends, reordering and late events."""
    events: list[dict[str, Any]] = []
    for number in range(1, draw(st.integers(2, 4)) + 1):
        instrument = draw(st.sampled_from(INSTRUMENTS))
        side = draw(st.sampled_from(("BUY", "SELL")))
        versions = sorted(draw(st.sets(st.integers(2, 5), max_size=3)))
        lifecycle = [("NEW", 1), *[("AMEND", v) for v in versions]]
        if draw(st.booleans()):
            lifecycle.append(("CANCEL", max(v for _, v in lifecycle)))
        for event_type, version in lifecycle:
            events.append(
                {
                    "schema_version": 1,
                    "event_id": str(uuid.UUID(int=len(events) + 1)),
                    "event_type": event_type,
                    "trade_id": f"T{number}",
                    "trade_version": version,
                    "portfolio_id": "P-001",
                    "instrument_id": instrument,
                    "side": side,
                    "quantity": draw(st.integers(1, 500)),
                    "price": draw(st.integers(1, 300)),
                    "currency": "USD",
                    "source_system": "oms",
                }
            )
    order = draw(st.permutations(range(len(events))))
    arrived = [events[i] for i in order]
    resends = draw(st.lists(st.integers(0, len(arrived) - 1), max_size=3))
    for index in resends:
        arrived.insert(draw(st.integers(index + 1, len(arrived))), arrived[index])
    # a few instants only, so that trades share them (all hours before their Kafka timestamp: late)
    minutes = draw(st.lists(st.integers(0, 3), min_size=len(events), max_size=len(events)))
    trade_ts = {event["event_id"]: START + timedelta(minutes=m) for event, m in zip(events, minutes, strict=True)}
    return [{**event, "trade_ts": trade_ts[event["event_id"]].strftime("%Y-%m-%dT%H:%M:%S.000Z")} for event in arrived]


@st.composite
def tick_sequences(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Price ticks of the events' instruments at the same few instants, sequences that may tie."""
    return [
        {
            "schema_version": 1,
            "tick_id": str(uuid.UUID(int=1000 + number)),
            "tick_type": "PRICE",
            "instrument_id": draw(st.sampled_from(INSTRUMENTS)),
            "price": draw(st.integers(1, 300)),
            "currency": "USD",
            "tick_ts": (START + timedelta(minutes=draw(st.integers(0, 3)))).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "source": "feed",
            "sequence": draw(st.integers(1, 2)),
        }
        for number in range(draw(st.integers(1, 5)))
    ]


def _bronze_rows(events: list[dict[str, Any]], topic: str = "trades", key: bytes = b"P-001") -> list[tuple[Any, ...]]:
    arrival = ARRIVAL.replace(tzinfo=None)
    return [
        (
            bytearray(key),
            bytearray(json.dumps(event).encode()),
            topic,
            0,
            offset,
            arrival,
            0,
            [("schema_version", bytearray(b"1"))],
            arrival,
            arrival.date(),
        )
        for offset, event in enumerate(events)
    ]


def _run(
    spark: SparkSession,
    base: Path,
    bootstrap: str,
    rows: dict[str, list[tuple[Any, ...]]],
    cuts: dict[str, list[int]],
) -> Settings:
    """Each bronze table written as one commit per chunk (cut at ``cuts``), then the hot query from bronze."""
    conf = parse_settings(
        settings_dict(
            base,
            bootstrap,
            streams={"hot": {"max_files_per_trigger": 1}},
            kafka={"alerts_topic": "alerts"},
            silver={"tick_max_age": "1 day"},
        )
    )
    catalog = Catalog(conf)
    load_fixture_reference(spark, catalog)
    for name, table_rows in rows.items():
        bronze = catalog.table("bronze", name)
        bounds = [0, *cuts[name], len(table_rows)]
        for start, end in pairwise(bounds):
            chunk = spark.createDataFrame(table_rows[start:end], BRONZE_DDL).coalesce(1)
            chunk.write.format("delta").mode("append").save(bronze.path)
    assert hot.start(spark, conf, source="bronze") is None
    return conf


def _books(spark: SparkSession, conf: Settings) -> dict[str, DataFrame]:
    catalog = Catalog(conf)
    trades = catalog.table("silver", "trades").read(spark).drop("processed_ts", "ingest_ts")
    quarantine = catalog.table("silver", "quarantine").read(spark).drop("quarantined_ts", "ingest_ts")
    prices = catalog.table("silver", "prices").read(spark).drop("processed_ts", "ingest_ts")
    gold = {
        name: catalog.table("gold", name).read(spark).drop("applied_batch_id") for name in ("positions", "marks", "pnl")
    }
    return {
        "silver.trades": trades.orderBy("source_partition", "source_offset"),
        "silver.quarantine": quarantine.orderBy("source_topic", "source_partition", "source_offset"),
        "silver.prices": prices.orderBy("source_partition", "source_offset"),
        "gold.positions": gold["positions"].orderBy("portfolio_id", "instrument_id"),
        "gold.marks": gold["marks"].orderBy("mark_type", "id"),
        "gold.pnl": gold["pnl"].orderBy("portfolio_id", "instrument_id", "trading_date"),
    }


@pytest.fixture(scope="module")
def alerts_broker(kafka: BrokerInfo) -> str:
    kafka_broker.create_topics(kafka.bootstrap_servers, {"alerts": 1})
    return kafka.bootstrap_servers


@pytest.mark.timeout(1500)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    # No shrinking: each example costs two silver and gold runs; the failing example is printed as drawn.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_micro_batch_boundaries_do_not_change_the_books(
    spark: SparkSession, alerts_broker: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    events = data.draw(event_sequences(), label="events")
    ticks = data.draw(tick_sequences(), label="ticks")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), min_size=1, max_size=3), label="cuts"))
    tick_cuts = sorted(data.draw(st.sets(st.integers(1, max(len(ticks) - 1, 1)), max_size=2), label="tick cuts"))
    rows = {"trade_events": _bronze_rows(events), "price_ticks": _bronze_rows(ticks, "prices", b"US0378331005")}
    tick_cuts = [cut for cut in tick_cuts if cut < len(ticks)]
    base = tmp_path_factory.mktemp("determinism")
    whole_conf = _run(spark, base / "whole", alerts_broker, rows, {"trade_events": [], "price_ticks": []})
    split_conf = _run(spark, base / "split", alerts_broker, rows, {"trade_events": cuts, "price_ticks": tick_cuts})
    # the hot query really ran one micro-batch per chunk (ops.data_quality has a row per batch with trades)
    batches = Catalog(split_conf).table("ops", "data_quality").read(spark).count()
    assert (Catalog(whole_conf).table("ops", "data_quality").read(spark).count(), batches) == (1, len(cuts) + 1)
    whole, split = _books(spark, whole_conf), _books(spark, split_conf)
    for table, expected in whole.items():
        assert_df_equality(split[table], expected, ignore_nullable=True)
    # the sequence exercised what it should: every record is in exactly one silver table
    landed = sum(whole[name].count() for name in ("silver.trades", "silver.quarantine", "silver.prices"))
    assert landed == len(rows["trade_events"]) + len(rows["price_ticks"])
