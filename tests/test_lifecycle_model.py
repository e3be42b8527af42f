"""The JVM lifecycle operator against its Python specification, row by row (property-based).

Hypothesis generates micro-batches of events for a handful of trades: NEW, AMEND and CANCEL with
version gaps, stale and duplicate versions, resends of an ``event_id``, events after a CANCEL,
AMEND / CANCEL of unknown trades, rows that arrive already rejected, events hours behind the newest
``trade_ts`` (late) and idle stretches long enough for the 1-hour state TTL to expire trades as the
watermark moves. The batches go through :func:`transformations.lifecycle.track_lifecycle` (the
operator on a real stream, one micro-batch per batch) and through the Python model
(:func:`transformations.lifecycle.apply_rules` with Spark's watermark rule: after each batch, the
newest ``trade_ts`` of its rows without reason codes minus the delay, never moving back). Reason
codes, their details, previous versions and deltas must be equal for every row.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from transformations.lifecycle import _EVENT_TS_MS, TradeState, _duration_ms, apply_rules, track_lifecycle

pytestmark = [pytest.mark.spark]

WATERMARK, TTL = "10 minutes", "1 hour"
EXAMPLES = 30
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
INPUT_DDL = (
    "event_id string, event_type string, trade_id string, trade_version int, side string, "
    "signed_quantity decimal(28,8), price decimal(28,8), trade_ts timestamp, multiplier double, "
    "fx_rate_to_base double, signed_notional_base double, reason_codes array<string>, "
    "reason_details array<string>, source_topic string, source_partition int, source_offset long"
)
OUTPUT_COLUMNS = (
    "reason_codes",
    "reason_details",
    "previous_trade_version",
    "delta_quantity",
    "delta_notional_base",
    "delta_cost_base",
)

_ids = itertools.count()


@st.composite
def batches(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Micro-batches of events in arrival order.

    Most events follow each trade's lifecycle (NEW v1, AMENDs with rising versions, sometimes with a
    gap, a CANCEL at the current version); the others are a random type and version, a resend of an
    earlier event, or a row that arrives already rejected. Event time mostly rises with arrival;
    some events are minutes to hours late, and an idle stretch between batches lets the 1-hour TTL
    expire trades.
    """
    clock = START
    versions: dict[str, int] = {}
    sent: list[dict[str, Any]] = []
    offset = itertools.count()
    drawn: list[list[dict[str, Any]]] = []
    for _ in range(draw(st.integers(2, 5))):
        if draw(st.integers(0, 3)) == 0:
            clock += timedelta(minutes=draw(st.integers(30, 150)))  # idle: the watermark moves past some TTLs
        batch = []
        for _ in range(draw(st.integers(1, 10))):
            kind = draw(st.sampled_from(("lifecycle",) * 6 + ("random", "random", "resend", "rejected")))
            if kind == "resend" and sent:
                batch.append({**draw(st.sampled_from(sent)), "source_offset": next(offset)})
                continue
            trade_id = draw(st.sampled_from(("T1", "T2", "T3", "T4")))
            current = versions.get(trade_id)
            step = draw(st.integers(0, 5))
            if kind == "random" or (current is None and draw(st.booleans())):
                event_type = draw(st.sampled_from(("NEW", "AMEND", "CANCEL")))
                version = draw(st.integers(1, 6))
            elif current is None:
                event_type, version = "NEW", 1
            elif step == 0:
                event_type, version = "CANCEL", current
            elif step == 1:
                event_type, version = "AMEND", max(1, current - 1)  # stale (or a duplicate version of v1)
            else:
                event_type, version = "AMEND", current + draw(st.sampled_from((1, 1, 1, 2)))
            if event_type != "CANCEL":
                versions[trade_id] = max(version, versions.get(trade_id, 0))
            clock += timedelta(seconds=draw(st.integers(0, 300)))
            lateness = draw(st.sampled_from((0, 0, 0, 0, 15, 45, 90)))  # minutes behind the clock
            quantity = Decimal(draw(st.integers(-50_000, 50_000))) / 100
            price = Decimal(draw(st.integers(1, 40_000))) / 100
            multiplier = draw(st.sampled_from((1.0, 0.01, 1000.0)))
            fx = draw(st.sampled_from((1.0, 1.085, 0.79)))
            rejected = kind == "rejected"
            event = {
                "event_id": f"e-{next(_ids)}",
                "event_type": event_type,
                "trade_id": trade_id,
                "trade_version": version,
                "side": "BUY" if quantity >= 0 else "SELL",
                "signed_quantity": quantity,
                "price": price,
                "trade_ts": clock - timedelta(minutes=lateness, milliseconds=draw(st.integers(0, 999))),
                "multiplier": multiplier,
                "fx_rate_to_base": fx,
                "signed_notional_base": float(quantity) * float(price) * multiplier * fx,
                "reason_codes": ["unknown_instrument"] if rejected else [],
                "reason_details": ["unknown_instrument: X is not in reference.instruments"] if rejected else [],
                "source_topic": "trades",
                "source_partition": 0,
                "source_offset": next(offset),
            }
            sent.append(event)
            batch.append(event)
        drawn.append(batch)
    return drawn


def model(all_batches: list[list[dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """The Python specification over the batches, with Spark's watermark rule; output rows by offset."""
    delay_ms, ttl_ms = _duration_ms(WATERMARK), _duration_ms(TTL)
    states: dict[str, TradeState] = defaultdict(TradeState)
    watermark_ms, output = 0, {}
    for batch in all_batches:
        rows = [{**event, _EVENT_TS_MS: int(event["trade_ts"].timestamp() * 1000)} for event in batch]
        by_trade: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_trade[row["trade_id"]].append(row)
        for trade_id, trade_rows in by_trade.items():
            states[trade_id] = apply_rules(trade_rows, states[trade_id], watermark_ms, ttl_ms)
        output.update({row["source_offset"]: row for row in rows})
        # only rows that arrived without reason codes carry the watermark's event time
        newest = [row[_EVENT_TS_MS] for row, event in zip(rows, batch, strict=True) if not event["reason_codes"]]
        if newest:
            watermark_ms = max(watermark_ms, max(newest) - delay_ms)
    return output


def run_operator(spark: SparkSession, all_batches: list[list[dict[str, Any]]], base: Path) -> dict[int, Any]:
    """The operator on a real stream: each batch dropped as parquet, then processed as one micro-batch."""
    inbox = base / "inbox"
    inbox.mkdir()
    columns = [part.split()[0] for part in INPUT_DDL.split(", ")]
    frames = [spark.createDataFrame([tuple(e[c] for c in columns) for e in batch], INPUT_DDL) for batch in all_batches]
    reader = spark.readStream.schema(frames[0].schema).option("maxFilesPerTrigger", 1)
    stream = reader.option("recursiveFileLookup", True).parquet(str(inbox))
    name = f"lifecycle_model_{base.name}".replace("-", "_")
    query = (
        stream.transform(track_lifecycle(WATERMARK, TTL))
        .writeStream.queryName(name)
        .format("memory")
        .outputMode("append")
        .option("checkpointLocation", str(base / "checkpoint"))
        .start()
    )
    try:
        for number, frame in enumerate(frames):
            frame.coalesce(1).write.parquet(str(inbox / f"batch-{number:03d}.parquet"))
            query.processAllAvailable()
    finally:
        query.stop()
    return {row.source_offset: row for row in spark.table(name).collect()}


def _expected(row: dict[str, Any]) -> tuple[Any, ...]:
    quantity = row["delta_quantity"]
    return (
        row["reason_codes"],
        row["reason_details"],
        row["previous_trade_version"],
        None if quantity is None else Decimal(quantity).quantize(Decimal("0.00000001")),
        row["delta_notional_base"],
        row["delta_cost_base"],
    )


def _actual(row: Any) -> tuple[Any, ...]:
    return tuple(row[name] for name in OUTPUT_COLUMNS)


def _event(offset_minutes: int, event_id: str, event_type: str, version: int, quantity: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "trade_id": "T1",
        "trade_version": version,
        "side": "BUY",
        "signed_quantity": Decimal(quantity),
        "price": Decimal("10"),
        "trade_ts": START + timedelta(minutes=offset_minutes),
        "multiplier": 1.0,
        "fx_rate_to_base": 1.0,
        "signed_notional_base": float(quantity) * 10.0,
        "reason_codes": [],
        "reason_details": [],
    }


def _positioned(*batches_of_events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    offset = itertools.count()
    return [
        [{**event, "source_topic": "trades", "source_partition": 0, "source_offset": next(offset)} for event in batch]
        for batch in batches_of_events
    ]


# An idle trade expires when the watermark passes its last trade_ts + TTL: the AMEND is unknown_trade,
# and an event more than the TTL behind the watermark is beyond_state_ttl.
EXPIRY = _positioned(
    [_event(0, "a", "NEW", 1, "5")],
    [_event(200, "b", "NEW", 1, "7") | {"trade_id": "T2"}],
    [_event(190, "c", "AMEND", 2, "6"), _event(10, "d", "NEW", 1, "1") | {"trade_id": "T3"}],
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(all_batches=EXPIRY)
@given(all_batches=batches())
def test_the_jvm_operator_matches_the_python_rules(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, all_batches: list[list[dict[str, Any]]]
) -> None:
    actual = run_operator(spark, all_batches, tmp_path_factory.mktemp("model"))
    expected = model(all_batches)
    assert sorted(actual) == sorted(expected)
    for offset, row in expected.items():
        assert _actual(actual[offset]) == _expected(row), (offset, row)


def test_the_expiry_example_exercises_the_ttl() -> None:
    """The explicit example above does what it says, in the model (the property then holds the JVM to it)."""
    rows = model(EXPIRY)
    assert [rows[offset]["reason_codes"] for offset in range(4)] == [[], [], ["unknown_trade"], ["beyond_state_ttl"]]
