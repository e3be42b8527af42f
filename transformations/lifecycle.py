"""Silver's one stateful operator: dedupe and the trade lifecycle, keyed by ``trade_id``.

This module is the specification; a small Java class runs it on the stream. The rules below are
executable here (:func:`process_row`, :func:`expire_state`, :func:`state_expiry`, on
:class:`TradeState`), and :func:`track_lifecycle` applies the same rules at JVM speed through
``io.riskstream.lifecycle.TradeLifecycle`` (``jvm/lifecycle``: ``groupByKey(trade_id)`` +
``flatMapGroupsWithState`` with ``EventTimeTimeout``), whose methods carry the same names in the same
order. ``tests/test_lifecycle_model.py`` feeds both the same generated micro-batches (hypothesis) and
asserts identical rows. No per-row or per-key Python runs on the stream.

Why one operator. Spark silently drops rows older than the watermark in aggregations,
``dropDuplicates*``, stream-stream joins and ``flatMapGroupsWithState`` with ``EventTimeTimeout``.
Silver must not lose anything (every bronze row lands in exactly one of ``silver.trades`` or
``silver.quarantine``), so this operator emits every input row exactly once: accepted (empty
``reason_codes``) or with one more reason code.

How it keeps late rows and still gets a TTL. The watermark is declared on the accepted rows'
``trade_ts``; right after ``withWatermark`` that column is replaced by a null column carrying the
same watermark metadata. Spark's late-row filter (``event_time <= watermark``) is null for every
row, so it drops nothing, while the query's watermark still advances and ``EventTimeTimeout``
works. Each trade's state gets a timeout at the moment it expires; when the watermark passes it,
Spark calls the function with no rows and the state is removed, whether or not the trade ever gets
another event. ``EventTimeTimeout`` runs an extra no-data micro-batch only when the watermark
moved, so ``availableNow`` and ``processAllAvailable`` still finish, and a run ends with its state
expired at its own watermark (without that batch, expiry would wait for the next batch with data,
which in a scheduled ``availableNow`` run is the next run).

Lateness flags, it never rejects. Whether an event arrived late is a property of the record, not of
where micro-batch boundaries fell: :func:`flag_lateness` sets ``lateness_seconds`` (Kafka record
timestamp - ``trade_ts``) and ``arrived_late`` (``lateness_seconds`` above ``silver.watermark``).
A late event is applied to its trade like any other, so the same records give the same books
whatever the batching. The watermark only bounds state: it decides when a trade is forgotten.

The rules, applied to a trade's rows in arrival order (source topic, partition, offset; a trade's
events share a portfolio, the Kafka key, so they arrive in order on one partition):

1. Rows that arrive with reason codes (parse, validation or enrichment failures) pass through
   untouched and never enter state.
2. ``beyond_state_ttl``: ``trade_ts + state_ttl`` is before the query's event-time watermark (the
   max accepted ``trade_ts`` of earlier micro-batches minus ``watermark_delay``, as Spark defines
   it). State that could tell whether the event is a resend, or where it stands in its trade's
   lifecycle, may already be gone, so it is quarantined rather than guessed at. This is the only
   rule that depends on the watermark, and so on micro-batch boundaries; with the default 7-day TTL
   it concerns events more than a week old.
3. ``duplicate``: the same ``event_id`` was already seen for this trade. Seen ids are kept as long
   as the event could still pass rule 2 (``trade_ts + state_ttl`` at or after the watermark), so no
   resend that passes rule 2 is missed.
4. Lifecycle, against the trade's state (status, current version, open amounts):

   * unknown trade: ``NEW`` opens it; ``AMEND`` / ``CANCEL`` -> ``unknown_trade`` (not held:
     quarantine is replayable from bronze, a hold would hide the row from both tables);
   * cancelled trade: anything -> ``already_cancelled``;
   * open trade at version ``c``: ``NEW`` -> ``duplicate_version`` (a trade opens once);
     ``AMEND v`` with ``v > c`` replaces the open version (gaps allowed: ``v3`` before ``v2``
     makes ``v3`` current and ``v2`` then arrives as ``stale_version``), ``v == c`` ->
     ``duplicate_version``, ``v < c`` -> ``stale_version``; ``CANCEL v`` with ``v >= c`` reverses
     what is open, ``v < c`` -> ``stale_version``.

   The ``event_id`` of every row that reaches step 4 is remembered, so a resend is ``duplicate``.

Deltas follow :mod:`transformations.schemas`: a NEW adds the trade, an AMEND adds (new - previous
open version), a CANCEL subtracts what was open, whatever quantity the CANCEL itself carries. The
input's ``signed_quantity`` and ``signed_notional_base`` (from
:func:`transformations.enrichment.derive_amounts`) are the version's own position; the cost basis is
``signed_quantity x price x multiplier x fx_rate_to_base``.

State TTL, in event time: a trade whose last accepted ``trade_ts`` is more than ``state_ttl`` before
the watermark is forgotten (an AMEND or CANCEL for it is then ``unknown_trade``), and so are seen
event ids; a trade's state is removed, by the event-time timeout set to the latest of those
expiries, once its open version and all its seen ids have expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, DoubleType, IntegerType, StringType, StructField

from riskstream.jvm import jvm_class
from transformations import Transform

if TYPE_CHECKING:
    from collections.abc import Iterable

LIFECYCLE_FIELDS = (
    StructField("previous_trade_version", IntegerType()),
    StructField("delta_quantity", DecimalType(28, 8)),
    StructField("delta_notional_base", DoubleType()),
    StructField("delta_cost_base", DoubleType()),
)
"""Columns the operator adds; each is null on a row that is quarantined."""

REQUIRED_COLUMNS = (
    "event_id",
    "event_type",
    "trade_id",
    "trade_version",
    "side",
    "signed_quantity",
    "price",
    "trade_ts",
    "multiplier",
    "fx_rate_to_base",
    "signed_notional_base",
    "reason_codes",
    "source_topic",
    "source_partition",
    "source_offset",
)

LIFECYCLE_REASONS = (
    "beyond_state_ttl",
    "duplicate",
    "unknown_trade",
    "already_cancelled",
    "duplicate_version",
    "stale_version",
)

_EVENT_TS_MS = "_lifecycle_event_ts_ms"
"""``trade_ts`` in ms since epoch, as the rules read it (kept out of the operator's output)."""
_EVENT_TS = "_lifecycle_event_ts"
_OPERATOR_CLASS = "io.riskstream.lifecycle.TradeLifecycle"
_ZERO = Decimal(0)


def _duration_ms(duration: str) -> int:
    """Milliseconds in a Spark duration such as ``'7 days'`` (the config validates the format)."""
    amount, unit = duration.split()
    per_unit = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
    return int(amount) * per_unit[unit.rstrip("s")]


@dataclass
class TradeState:
    """One trade's state: what the JVM operator keeps per ``trade_id`` (its ``TradeState`` bean)."""

    status: str | None = None
    current_version: int = 0
    open_signed_quantity: Decimal = _ZERO
    open_notional_base: float = 0.0
    open_cost_base: float = 0.0
    seen_event_ids: dict[str, int] = field(default_factory=dict)
    last_event_ts_ms: int = 0


def lifecycle_reason(state: TradeState, event_type: str, version: int) -> str | None:
    """The quarantine reason for an event that is neither a duplicate nor late, or None to accept it."""
    if state.status is None:
        return None if event_type == "NEW" else "unknown_trade"
    if state.status == "cancelled":
        return "already_cancelled"
    current = state.current_version
    if event_type == "NEW":
        return "duplicate_version"
    if event_type == "AMEND":
        if version > current:
            return None
        return "duplicate_version" if version == current else "stale_version"
    return None if version >= current else "stale_version"


def _reject(row: dict[str, Any], code: str, detail: str) -> None:
    row["reason_codes"].append(code)
    if "reason_details" in row:
        row["reason_details"].append(f"{code}: {detail}")


def process_row(row: dict[str, Any], state: TradeState, watermark_ms: int, ttl_ms: int) -> None:
    """Decide one row's fate, update ``state`` and fill the row's lifecycle columns in place.

    ``row`` holds :data:`REQUIRED_COLUMNS` (``reason_details`` too, when the stream has it) and
    ``_lifecycle_event_ts_ms``; ``watermark_ms`` is the query's event-time watermark for the batch.
    """
    for added in LIFECYCLE_FIELDS:
        row[added.name] = None
    reasons = list(row["reason_codes"]) if row["reason_codes"] is not None else []
    row["reason_codes"] = reasons
    if "reason_details" in row:
        row["reason_details"] = list(row["reason_details"]) if row["reason_details"] is not None else []
    if reasons:
        return
    seen = state.seen_event_ids
    event_ts_ms = int(row[_EVENT_TS_MS])
    event_type, version = row["event_type"], int(row["trade_version"])
    if event_ts_ms + ttl_ms < watermark_ms:
        _reject(
            row,
            "beyond_state_ttl",
            f"trade_ts is more than the lifecycle state TTL before the event-time watermark ({watermark_ms} ms "
            "since epoch): too old to check for a resend or to place in its trade's lifecycle",
        )
        return
    if row["event_id"] in seen:
        _reject(row, "duplicate", f"event_id {row['event_id']} was already processed for trade {row['trade_id']}")
        return
    seen[row["event_id"]] = event_ts_ms
    reason = lifecycle_reason(state, event_type, version)
    if reason is not None:
        current = "none" if state.status is None else f"{state.status} at version {state.current_version}"
        _reject(row, reason, f"{event_type} version {version} for trade {row['trade_id']} ({current})")
        return
    signed_quantity = Decimal(row["signed_quantity"])
    state.last_event_ts_ms = max(state.last_event_ts_ms, event_ts_ms)
    notional_base = float(row["signed_notional_base"])
    cost_base = float(signed_quantity) * float(row["price"]) * float(row["multiplier"]) * float(row["fx_rate_to_base"])
    row["previous_trade_version"] = state.current_version if state.status is not None else None
    if event_type == "CANCEL":
        row["delta_quantity"] = -state.open_signed_quantity
        row["delta_notional_base"] = -state.open_notional_base
        row["delta_cost_base"] = -state.open_cost_base
        state.status, state.current_version = "cancelled", max(version, state.current_version)
        state.open_signed_quantity, state.open_notional_base, state.open_cost_base = _ZERO, 0.0, 0.0
        return
    row["delta_quantity"] = signed_quantity - state.open_signed_quantity
    row["delta_notional_base"] = notional_base - state.open_notional_base
    row["delta_cost_base"] = cost_base - state.open_cost_base
    state.status, state.current_version = "open", version
    state.open_signed_quantity, state.open_notional_base, state.open_cost_base = (
        signed_quantity,
        notional_base,
        cost_base,
    )


def _keep_late_rows(watermarked: DataFrame) -> DataFrame:
    """Replace the watermark column by nulls that keep its watermark metadata (see the module doc).

    The query's watermark comes from the values ``withWatermark`` saw; the operator below only needs
    a column marked as the event time. Spark's late-row filter compares that column with the
    watermark, and a null comparison is never true, so no row is dropped before the operator.
    """
    metadata = watermarked.schema[_EVENT_TS].metadata
    return watermarked.withColumn(_EVENT_TS, F.lit(None).cast("timestamp")).withMetadata(_EVENT_TS, metadata)


def expire_state(state: TradeState, watermark_ms: int, ttl_ms: int) -> TradeState:
    """``state`` without what the TTL has expired at ``watermark_ms``: a trade whose last accepted
    ``trade_ts + ttl`` is before the watermark is forgotten, and so is each seen id with such a ``trade_ts``."""
    if state.status is not None and state.last_event_ts_ms + ttl_ms < watermark_ms:
        state = TradeState(seen_event_ids=state.seen_event_ids)
    state.seen_event_ids = {eid: ts for eid, ts in state.seen_event_ids.items() if ts + ttl_ms >= watermark_ms}
    return state


def state_expiry(state: TradeState, ttl_ms: int) -> int | None:
    """When the whole state may go (the latest of its expiries, ms since epoch); None when nothing is left."""
    expiries = [ts + ttl_ms for ts in state.seen_event_ids.values()]
    if state.status == "open":
        expiries.append(state.last_event_ts_ms + ttl_ms)
    return max(expiries) if expiries else None


def flag_lateness(late_after: str) -> Transform:
    """Add ``lateness_seconds`` (Kafka record timestamp ``kafka_ts`` - ``trade_ts``, in seconds) and
    ``arrived_late`` (``lateness_seconds`` above ``late_after``, ``settings.silver.watermark``).

    Both come from the record alone, so they do not depend on micro-batch boundaries; both are null
    when either timestamp is. A negative lateness means the producer's clock ran ahead of Kafka's.
    """
    late_after_ms = _duration_ms(late_after)

    def transform(events: DataFrame) -> DataFrame:
        lateness_ms = F.unix_millis("kafka_ts") - F.unix_millis("trade_ts")
        return events.withColumns(
            {"lateness_seconds": lateness_ms / F.lit(1000.0), "arrived_late": lateness_ms > F.lit(late_after_ms)}
        )

    return transform


def apply_rules(rows: Iterable[dict[str, Any]], state: TradeState, watermark_ms: int, ttl_ms: int) -> TradeState:
    """One trade's rows of one micro-batch, in arrival order: the Python model of one operator call.

    Expires ``state`` at the batch's watermark, then decides each row in place (:func:`process_row`);
    returns the state to keep. The JVM operator sorts a trade's rows by (topic, partition, offset)
    before doing the same.
    """
    trade = expire_state(state, watermark_ms, ttl_ms)
    for row in rows:
        process_row(row, trade, watermark_ms, ttl_ms)
    return trade


def track_lifecycle(watermark_delay: str, state_ttl: str) -> Transform:
    """Dedupe and lifecycle for a stream of parsed, enriched events (see the module doc).

    Args:
        watermark_delay: how far the event-time watermark trails the newest accepted ``trade_ts``
            (``settings.silver.watermark``); the watermark only decides when state expires.
        state_ttl: how far (event time) behind the watermark a trade's last accepted event, or an
            event, may be before its state is dropped, or it is ``beyond_state_ttl``
            (``settings.silver.lifecycle_state_ttl``).

    Returns:
        A transform for a streaming DataFrame holding :data:`REQUIRED_COLUMNS` (more are carried
        through). The output has the input's columns, then :data:`LIFECYCLE_FIELDS`; a row is
        accepted when its ``reason_codes`` is empty. Only rows without reason codes move the
        watermark, so a rejected far-future ``trade_ts`` cannot expire good state early.
    """
    ttl_ms = _duration_ms(state_ttl)

    def transform(events: DataFrame) -> DataFrame:
        missing = [name for name in REQUIRED_COLUMNS if name not in events.columns]
        if missing:
            raise ValueError(f"track_lifecycle needs columns {missing}")
        spark = events.sparkSession
        operator = jvm_class(spark, _OPERATOR_CLASS, "silver's lifecycle operator")
        # The operator only carries the other columns through; as bytes, its Row encoders copy them
        # instead of decoding UTF-8 into Java strings and encoding them back (a fifth of its time).
        carried_as_bytes = [
            field.name
            for field in events.schema.fields
            if isinstance(field.dataType, StringType) and field.name not in REQUIRED_COLUMNS
        ]
        watermarked = (
            events.withColumns({name: F.col(name).cast("binary") for name in carried_as_bytes})
            .withColumn(_EVENT_TS, F.when(F.size("reason_codes") == 0, F.col("trade_ts")))
            .withColumn(_EVENT_TS_MS, F.unix_millis(F.col("trade_ts")))
            .withWatermark(_EVENT_TS, watermark_delay)
            .transform(_keep_late_rows)
        )
        applied = operator.apply(watermarked._jdf, _EVENT_TS, _EVENT_TS_MS, ttl_ms)
        return (
            DataFrame(applied, spark)
            .drop(_EVENT_TS_MS)
            .withColumns({name: F.col(name).cast("string") for name in carried_as_bytes})
        )

    return transform
