"""Silver, market data: price and FX ticks from bronze into ``silver.prices`` or ``silver.quarantine``.

The contract is ``conf/schemas/price_tick.v1.json`` (:func:`riskstream.contract.tick_json_schema`).
Every bronze row of the prices topic comes out of :func:`parse_ticks` as exactly one row, valid or
not; :func:`check_reference` and :func:`flag_duplicates` may add reasons; :func:`to_silver_prices`
keeps the rows without a reason and :func:`to_tick_quarantine` the others, so every bronze row lands
in exactly one of the two tables. :func:`latest_prices` is the analysts' latest-price view.

A record is read by the rules of :mod:`transformations.parsing` (the same helpers, so a tick and a
trade event are read alike):

* Bytes first: a record value, Kafka key or ``schema_version`` header that is not valid UTF-8 is
  ``invalid_utf8`` and gets no other code (its text columns are null; the bytes stay in ``raw_value``
  and in bronze).
* Anything but a single JSON object (bad syntax, trailing text, two values, an array, an empty value,
  a ``\\u`` escape of a lone surrogate) is ``malformed_json`` and gets no other code.
* A field is present when its key exists with a non-null value. Each present field must have its
  contract JSON type, read into its ``silver.prices`` type (``SILVER_PRICES_DDL``): strings are JSON
  strings, ``schema_version`` and ``sequence`` JSON integers (``1.5`` or ``"1"`` are invalid, never
  truncated), ``price``, ``bid`` and ``ask`` JSON numbers (a numeric string is invalid), ``tick_ts`` a
  JSON string matching the contract's pattern (``2026-11-24T09:30:00.000Z``). Then the schema's
  ``enum``, ``pattern``, ``minLength``/``maxLength`` and ``minimum``/``exclusiveMinimum`` apply
  (so ``price``, ``bid`` and ``ask`` must be > 0, ``sequence`` >= 0). Fields the contract does not
  define are ignored (tolerant reader).

Reason codes, in this fixed order (each with a readable ``"<code>: <why>"`` in ``reason_details``):

1. ``unknown_schema_version``: ``schema_version`` absent, not an integer, not 1, or disagreeing with a
   ``schema_version`` Kafka header. The other fields are still checked.
2. ``missing_<field>`` / ``invalid_<field>`` in contract field order (``tick_id``, ``tick_type``,
   ``instrument_id``, ``price``, ``bid``, ``ask``, ``currency``, ``tick_ts``, ``source``, ``sequence``),
   at most one per field. ``price``, ``bid`` and ``ask`` are optional each, but a tick needs a price or
   both a bid and an ask: with neither it is ``missing_price``. An FX tick quotes USD per unit of its
   ``instrument_id`` currency, so one whose ``currency`` is not USD is ``invalid_currency``.
3. ``crossed_quote``: ``bid`` above ``ask``.
4. ``stale_tick``: ``tick_ts`` more than ``max_age`` (``silver.tick_max_age``) before the record's
   Kafka timestamp; ``future_tick_ts``: more than ``future_skew`` (``silver.future_skew``) after it.
   Ages are measured against the Kafka timestamp, never the wall clock, so the same records always
   give the same rows.
5. :func:`check_reference`, only for ticks without a code so far: ``unknown_instrument`` (a PRICE tick
   whose instrument is not in reference.instruments), ``currency_mismatch`` (a PRICE tick quoted in
   another currency than its instrument's), ``unknown_currency`` (an FX tick for a currency not in
   reference.fx_rates).
6. :func:`flag_duplicates`, within one micro-batch: ``duplicate_tick`` on every record of a
   ``tick_id`` but its first by ``(source_partition, source_offset)``. A resend in a later micro-batch
   is not detected here (no state is kept); :func:`latest_prices` is indifferent to it.

An accepted tick's ``price`` is its ``price`` when it has one, else the mid ``(bid + ask) / 2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from riskstream.contract import TICK_SCHEMA_VERSIONS, spark_type_name, tick_json_schema
from transformations import Transform
from transformations.parsing import (
    ENCODING_COLUMN,
    EVENT_COLUMN,
    LINEAGE_COLUMNS,
    MALFORMED,
    MALFORMED_DETAILS,
    MISSING_DETAIL,
    STRINGS_COLUMN,
    TRADE_TS_FORMAT,
    VERSION_MESSAGES,
    Reason,
    accepted,
    add_reason,
    codes_and_details,
    field_is_present,
    field_json_text,
    field_json_type,
    field_variant,
    has_lone_surrogate,
    json_type_column,
    lineage_columns,
    rejected,
    rule_fails,
    to_quarantine,
    value_rules,
    wrong_type_message,
)
from transformations.schemas import SILVER_PRICES_DDL, schema

PRICE_TICK = "PRICE"
FX_TICK = "FX"
FX_QUOTE_CURRENCY = "USD"
"""Every FX tick quotes USD per one unit of its ``instrument_id`` currency, as reference fx_rates do."""

_FIRST_VALUE = "_first_value"
_WRAPPED = "_wrapped_tick"
_WRAPPED_TEXT = "_wrapped_text"
_INTEGER_JSON_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_VERSION_FIELD = "schema_version"
_NO_QUOTE_DETAIL = "neither price nor both bid and ask is present"


@dataclass(frozen=True)
class _TickField:
    """One contract field: its JSON Schema property (with ``x-spark-type`` set to its ``silver.prices``
    type, so :func:`~transformations.parsing.value_rules` sees the type it is read into) and whether the
    contract requires it."""

    name: str
    prop: dict[str, Any]
    required: bool

    @property
    def spark_type(self) -> str:
        return spark_type_name(self.prop)


def _silver_prices_columns() -> list[str]:
    """The columns of ``silver.prices``, in order (from ``SILVER_PRICES_DDL``; no type there has a comma)."""
    return [part.strip().split(" ", 1)[0] for part in SILVER_PRICES_DDL.split(",")]


def _contract() -> dict[str, Any]:
    """The tick contract's JSON Schema. Version 1 is the only one: a second would need its fields read
    by version, as :mod:`transformations.parsing` does for trade events."""
    (version,) = TICK_SCHEMA_VERSIONS
    return tick_json_schema(version)


def _tick_fields() -> list[_TickField]:
    """The contract's fields in contract order (needs an active SparkSession: Spark parses the DDL)."""
    contract = _contract()
    silver_types = {field.name: field.dataType.simpleString() for field in schema(SILVER_PRICES_DDL).fields}
    return [
        _TickField(name, {**prop, "x-spark-type": silver_types[name]}, name in contract["required"])
        for name, prop in contract["properties"].items()
    ]


def _typed_value(field: _TickField) -> Column:
    """The field read into its Spark type; null when absent or not of the contract's JSON type.

    Strings come from ``from_json`` of the whole record (exact, escapes decoded), numbers from the
    VARIANT's JSON text, as in :mod:`transformations.parsing`.
    """
    json_type = field_json_type(field.name)
    spark_type = field.spark_type
    if spark_type == "string":
        return F.when(json_type == "STRING", F.col(STRINGS_COLUMN)[field.name])
    if spark_type in ("int", "bigint"):
        return F.when(json_type.isin(*_INTEGER_JSON_TYPES), field_json_text(field.name).try_cast(spark_type))
    if spark_type == "double":
        numeric = json_type.isin(*_INTEGER_JSON_TYPES, "DOUBLE") | json_type.startswith("DECIMAL")
        return F.when(numeric, field_json_text(field.name).try_cast("double"))
    if spark_type == "timestamp":
        text = F.col(STRINGS_COLUMN)[field.name]
        well_formed = (json_type == "STRING") & text.rlike(str(field.prop.get("pattern", ".*")))
        return F.when(well_formed, F.try_to_timestamp(text, F.lit(TRADE_TS_FORMAT)))
    raise NotImplementedError(
        f"tick field {field.name!r} has Spark type {spark_type!r}, which the parser does not read"
    )


def _schema_version_reason(versions: tuple[int, ...]) -> Reason:
    version = F.col(_VERSION_FIELD)
    header = F.col("schema_version_header")
    absent = ~field_is_present(_VERSION_FIELD)
    not_integer = ~absent & version.isNull()
    unknown = version.isNotNull() & ~version.isin(*versions)
    disagrees = version.isNotNull() & header.isNotNull() & (header != version.cast("string"))
    detail = (
        F.when(absent, F.lit(VERSION_MESSAGES["absent"]))
        .when(not_integer, F.concat(field_json_text(_VERSION_FIELD), F.lit(VERSION_MESSAGES["not_integer"])))
        .when(
            unknown,
            F.concat(version.cast("string"), F.lit(f" is not one of {', '.join(str(v) for v in versions)}")),
        )
        .when(
            disagrees,
            F.concat(
                F.lit(VERSION_MESSAGES["payload_says"]),
                version.cast("string"),
                F.lit(VERSION_MESSAGES["header_says"]),
                header,
            ),
        )
    )
    return Reason("unknown_schema_version", absent | not_integer | unknown | disagrees, detail)


def _extra_rules(name: str) -> list[tuple[Column, str]]:
    """Rules the JSON Schema states only in prose: ``(fails, message)``, checked after the schema's own."""
    if name == "currency":
        return [
            (
                (F.col("tick_type") == FX_TICK) & (F.col("currency") != FX_QUOTE_CURRENCY),
                f" is not {FX_QUOTE_CURRENCY}, the currency of every FX tick",
            )
        ]
    return []


def _field_reasons(field: _TickField) -> list[Reason]:
    """``missing_<name>`` (``missing_price`` for a tick without a price or a bid and an ask) and
    ``invalid_<name>`` (the first rule that fails is the detail)."""
    name = field.name
    value = F.col(name)
    present = field_is_present(name)
    reasons = []
    if field.required:
        reasons.append(Reason(f"missing_{name}", ~present, F.lit(MISSING_DETAIL)))
    elif name == "price":
        has_quote = field_is_present("price") | (field_is_present("bid") & field_is_present("ask"))
        reasons.append(Reason("missing_price", ~has_quote, F.lit(_NO_QUOTE_DETAIL)))

    wrong_type = present & value.isNull()
    detail = F.when(wrong_type, F.concat(field_json_text(name), F.lit(wrong_type_message(field.spark_type))))
    fails = wrong_type
    rules = [(rule_fails(rule, value), rule.message) for rule in value_rules(field.prop)] + _extra_rules(name)
    for failing, message in rules:
        applies = present & value.isNotNull() & failing
        detail = detail.when(applies, F.concat(field_json_text(name), F.lit(message)))
        fails = fails | applies
    reasons.append(Reason(f"invalid_{name}", fails, detail))
    return reasons


def _quote_reasons(max_age: str, future_skew: str) -> list[Reason]:
    """``crossed_quote``, ``stale_tick`` and ``future_tick_ts``."""
    bid, ask = F.col("bid"), F.col("ask")
    tick_ts, kafka_ts = F.col("tick_ts"), F.col("kafka_ts")

    def stamp(ts: Column) -> Column:
        return F.date_format(ts, TRADE_TS_FORMAT)

    return [
        Reason(
            "crossed_quote",
            bid > ask,
            F.concat(F.lit("bid "), bid.cast("string"), F.lit(" is above ask "), ask.cast("string")),
        ),
        Reason(
            "stale_tick",
            tick_ts < kafka_ts - F.expr(f"INTERVAL {max_age}"),
            F.concat(stamp(tick_ts), F.lit(f" is more than {max_age} before the Kafka timestamp "), stamp(kafka_ts)),
        ),
        Reason(
            "future_tick_ts",
            tick_ts > kafka_ts + F.expr(f"INTERVAL {future_skew}"),
            F.concat(stamp(tick_ts), F.lit(f" is more than {future_skew} after the Kafka timestamp "), stamp(kafka_ts)),
        ),
    ]


def _parse_steps(max_age: str, future_skew: str) -> list[Transform]:
    """The steps after the lineage. Each expensive expression gets a column of its own so it runs once
    per record (the JSON parse, the cast to the field struct, each field's JSON type)."""
    fields = _tick_fields()
    names = [field.name for field in fields]
    raw_text = F.col("raw_text")
    wrapped_text = F.when(~has_lone_surrogate(raw_text), F.concat(F.lit("["), raw_text, F.lit("]")))
    wrapped = F.col(_WRAPPED)
    # Parsed wrapped as [<text>]: trailing text then breaks the syntax and a second value is a second element.
    first_value = F.try_variant_get(wrapped, "$[0]", "struct<" + ", ".join(f"`{n}`: variant" for n in names) + ">")
    is_single_object = (
        F.col(ENCODING_COLUMN).isNull()
        & F.col(_FIRST_VALUE).isNotNull()
        & F.variant_get(wrapped, "$[1]", "variant").isNull()
    )
    strings = F.from_json(raw_text, "struct<" + ", ".join(f"`{n}`: string" for n in names) + ">")
    json_types = [json_type_column(name) for name in names]
    kept = [*LINEAGE_COLUMNS, ENCODING_COLUMN, _WRAPPED_TEXT, EVENT_COLUMN]

    reasons = [_schema_version_reason(TICK_SCHEMA_VERSIONS)]
    for field in fields:
        if field.name != _VERSION_FIELD:
            reasons.extend(_field_reasons(field))
    reasons.extend(_quote_reasons(max_age, future_skew))
    codes, details = codes_and_details(reasons)

    bad_encoding = F.col(ENCODING_COLUMN).isNotNull()
    malformed = F.col(EVENT_COLUMN).isNull()
    malformed_detail = (
        F.when(
            F.col("raw_value").isNull() | (F.length("raw_value") == 0),
            F.lit(f"{MALFORMED}: {MALFORMED_DETAILS['empty']}"),
        )
        .when(F.col(_WRAPPED_TEXT).isNull(), F.lit(f"{MALFORMED}: {MALFORMED_DETAILS['lone_surrogate']}"))
        .otherwise(F.lit(f"{MALFORMED}: {MALFORMED_DETAILS['not_object']}"))
    )
    mid = (F.col("bid") + F.col("ask")) / 2
    tick_columns = [
        F.when(field_is_present("price"), F.col("price")).otherwise(mid).alias(name) if name == "price" else F.col(name)
        for name in names
    ]
    output = [
        *LINEAGE_COLUMNS,
        *tick_columns,
        F.when(bad_encoding, F.array(F.lit("invalid_utf8")))
        .when(malformed, F.array(F.lit(MALFORMED)))
        .otherwise(codes)
        .alias("reason_codes"),
        F.when(bad_encoding, F.array(F.concat(F.lit("invalid_utf8: "), F.col(ENCODING_COLUMN))))
        .when(malformed, F.array(malformed_detail))
        .when(F.size(codes) > 0, details)
        .otherwise(F.array().cast("array<string>"))
        .alias("reason_details"),
    ]
    return [
        lambda df: df.withColumn(_WRAPPED_TEXT, wrapped_text).withColumn(_WRAPPED, F.try_parse_json(_WRAPPED_TEXT)),
        lambda df: df.withColumn(_FIRST_VALUE, first_value),
        lambda df: df.withColumn(EVENT_COLUMN, F.when(is_single_object, F.col(_FIRST_VALUE))).select(
            *kept,
            F.when(F.col(EVENT_COLUMN).isNotNull(), strings).alias(STRINGS_COLUMN),
            *[F.schema_of_variant(field_variant(name)).alias(json_type_column(name)) for name in names],
        ),
        lambda df: df.select(
            *kept, STRINGS_COLUMN, *json_types, *[_typed_value(field).alias(field.name) for field in fields]
        ),
        lambda df: df.select(*output),
    ]


def parse_ticks(max_age: str, future_skew: str) -> Transform:
    """Parse and validate bronze rows of the prices topic: one output row per bronze row, valid or not.

    Args:
        max_age: how far ``tick_ts`` may lie before the record's Kafka timestamp (a Spark interval such
            as ``'5 minutes'``; ``settings.silver.tick_max_age``) before the tick is ``stale_tick``.
        future_skew: how far ``tick_ts`` may lie after it (``settings.silver.future_skew``) before the
            tick is ``future_tick_ts``.

    Returns:
        A transform from bronze rows (``transformations.bronze.BRONZE_COLUMNS``) to rows with the lineage
        columns (:data:`~transformations.parsing.LINEAGE_COLUMNS`), every contract field in contract
        order with its ``silver.prices`` type (null when absent or not convertible; a convertible value
        that breaks a rule, such as ``price = 0``, is kept), ``price`` resolved to the mid when the tick
        quotes only a bid and an ask, ``reason_codes array<string>`` (empty when valid) and
        ``reason_details array<string>`` (``"<code>: <why>"``, one per code).
    """
    steps: list[Transform] = []

    def transform(bronze: DataFrame) -> DataFrame:
        if not steps:
            steps.extend(_parse_steps(max_age, future_skew))
        parsed = lineage_columns(bronze)
        for step in steps:
            parsed = step(parsed)
        return parsed

    return transform


def check_reference(instruments: DataFrame, fx_rates: DataFrame) -> Transform:
    """Check parsed ticks against reference data; ticks with a parse code are left as they are.

    A stream-static left join (the ticks may be a stream, the reference frames are batch reads,
    broadcast), so nothing is held in state and every row is kept.

    Args:
        instruments: ``reference.instruments`` (one row per ``instrument_id``; ``INSTRUMENTS_DDL``).
        fx_rates: ``reference.fx_rates`` (``FX_RATES_DDL``).

    Returns:
        A transform appending ``unknown_instrument``, ``currency_mismatch`` and ``unknown_currency``
        (module doc, rule 5) to ``reason_codes`` / ``reason_details``; columns and row count unchanged.
    """
    instrument_currencies = F.broadcast(
        instruments.select(
            F.col("instrument_id").alias("_ref_instrument_id"),
            F.col("currency").alias("_instrument_currency"),
        )
    )
    fx_currencies = F.broadcast(fx_rates.select(F.col("currency").alias("_ref_fx_currency")).distinct())
    checked = "_checked"

    def transform(ticks: DataFrame) -> DataFrame:
        is_price = F.col("tick_type") == PRICE_TICK
        is_fx = F.col("tick_type") == FX_TICK
        joined = (
            ticks.withColumn(checked, F.size("reason_codes") == 0)
            .join(
                instrument_currencies,
                F.col(checked) & is_price & (F.col("instrument_id") == F.col("_ref_instrument_id")),
                "left",
            )
            .join(fx_currencies, F.col(checked) & is_fx & (F.col("instrument_id") == F.col("_ref_fx_currency")), "left")
        )
        known_instrument = F.col("_ref_instrument_id").isNotNull()
        return (
            joined.transform(
                add_reason(
                    "unknown_instrument",
                    F.col(checked) & is_price & ~known_instrument,
                    F.concat(F.col("instrument_id"), F.lit(" is not in reference.instruments")),
                )
            )
            .transform(
                add_reason(
                    "currency_mismatch",
                    F.col(checked) & known_instrument & (F.col("currency") != F.col("_instrument_currency")),
                    F.concat(
                        F.lit("quoted in "),
                        F.col("currency"),
                        F.lit(" but "),
                        F.col("instrument_id"),
                        F.lit(" is in "),
                        F.col("_instrument_currency"),
                    ),
                )
            )
            .transform(
                add_reason(
                    "unknown_currency",
                    F.col(checked) & is_fx & F.col("_ref_fx_currency").isNull(),
                    F.concat(F.col("instrument_id"), F.lit(" is not in reference.fx_rates")),
                )
            )
            .select(*ticks.columns)
        )

    return transform


def flag_duplicates() -> Transform:
    """Append ``duplicate_tick`` to every record of a ``tick_id`` but its first in the micro-batch.

    For a batch DataFrame (inside ``foreachBatch``): a window over the whole batch, no state. The first
    record by ``(source_partition, source_offset)`` keeps its codes; records without a ``tick_id``
    (unreadable ones) are never duplicates.
    """

    def transform(ticks: DataFrame) -> DataFrame:
        by_tick = Window.partitionBy("tick_id").orderBy("source_partition", "source_offset")
        ranked = ticks.withColumns(
            {
                "_position": F.row_number().over(by_tick),
                "_first_partition": F.first("source_partition").over(by_tick),
                "_first_offset": F.first("source_offset").over(by_tick),
            }
        )
        return ranked.transform(
            add_reason(
                "duplicate_tick",
                F.col("tick_id").isNotNull() & (F.col("_position") > 1),
                F.concat(
                    F.lit("tick_id already at partition "),
                    F.col("_first_partition").cast("string"),
                    F.lit(" offset "),
                    F.col("_first_offset").cast("string"),
                    F.lit(" of this micro-batch"),
                ),
            )
        ).select(*ticks.columns)

    return transform


def to_silver_prices(processed_ts: Column | None = None) -> Transform:
    """The accepted ticks (no reason code) as exactly the columns of ``silver.prices``, in order.

    Args:
        processed_ts: when silver processed the row; ``current_timestamp()`` by default, a literal in tests.

    Returns:
        A transform that drops rejected rows (so the whole checked frame may be passed) and selects
        ``SILVER_PRICES_DDL``'s columns.
    """
    processed = processed_ts if processed_ts is not None else F.current_timestamp()

    def transform(checked: DataFrame) -> DataFrame:
        columns: dict[str, Column] = {"processed_ts": processed}
        return checked.transform(accepted()).select(
            *[columns.get(name, F.col(name)).alias(name) for name in _silver_prices_columns()]
        )

    return transform


def to_tick_quarantine(quarantined_ts: Column | None = None) -> Transform:
    """The rejected ticks (at least one reason code) as exactly the columns of ``silver.quarantine``.

    Args:
        quarantined_ts: when the row was quarantined; ``current_timestamp()`` by default, a literal in tests.

    Returns:
        A transform that drops accepted rows (so the whole checked frame may be passed) and shapes the
        rest as :func:`transformations.parsing.to_quarantine` does, with ``event_id`` = ``tick_id``
        (null when unreadable), ``trade_id`` null and ``reason_detail`` the ``"; "``-joined details.
    """
    shape = to_quarantine(quarantined_ts)

    def transform(checked: DataFrame) -> DataFrame:
        return (
            checked.transform(rejected())
            .withColumns({"event_id": F.col("tick_id"), "trade_id": F.lit(None).cast("string")})
            .transform(shape)
        )

    return transform


def latest_prices(prices: DataFrame) -> DataFrame:
    """The latest price per ``(tick_type, instrument_id)``: the analysts' latest-price view.

    Latest by ``(tick_ts, sequence, tick_id)``, so an out-of-order tick (an older ``tick_ts`` that
    arrives later) never moves a price backwards; the same tick stored twice (a resend in another
    micro-batch) resolves to its later Kafka record.

    Args:
        prices: ``silver.prices`` rows (a batch read, or a stream aggregated in complete or update mode).

    Returns:
        One row per ``(tick_type, instrument_id)`` with ``price``, ``tick_ts``, ``sequence`` and ``source``.
    """
    order = F.struct("tick_ts", "sequence", "tick_id", "source_topic", "source_partition", "source_offset")
    latest = F.max_by(F.struct("price", "tick_ts", "sequence", "source"), order)
    return (
        prices.groupBy("tick_type", "instrument_id")
        .agg(latest.alias("_latest"))
        .select("tick_type", "instrument_id", "_latest.price", "_latest.tick_ts", "_latest.sequence", "_latest.source")
    )
