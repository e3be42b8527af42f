"""Silver, step 1: parse bronze records by ``schema_version`` and validate them against the contract.

Every bronze row comes out as exactly one row, valid or not, so nothing is dropped silently:
:func:`parse_events` adds the lineage, every contract field (typed) and ``reason_codes``;
:func:`accepted` / :func:`rejected` split on ``reason_codes``; :func:`to_quarantine` shapes rejected
rows into ``silver.quarantine``.

How a record is read (the rules come from the JSON Schemas in ``conf/schemas``, so a new
constraint there is enforced here without a code change):

* Bytes first: the record value, the Kafka key and the ``schema_version`` header must be valid
  UTF-8, checked on the bytes before anything turns them into text. A record that fails is
  ``invalid_utf8`` (detail: which part) and gets no other code; its text columns are null (the key
  is kept with U+FFFD for each bad byte), its value bytes stay in ``raw_value`` and every original
  byte in bronze at its topic, partition and offset. Nothing downstream (Python, Arrow, Delta,
  Snowflake) ever sees a string that is not valid UTF-8.
* A ``\\u`` escape of a lone UTF-16 surrogate (``"\\ud800"`` without its pair) is ``malformed_json``:
  it encodes no character (RFC 8259, section 8.2), and Spark's parser would silently read it as ``?``.
* The record value is parsed once into a VARIANT (``try_parse_json``). Anything that is not a
  single JSON object (bad syntax, trailing text, a second object, an array, a bare string, an empty
  or null value) is ``malformed_json`` and gets no other code. Spark's JSON readers (``from_json``
  and ``parse_json`` alike) stop after the first complete value and ignore what follows, so the
  text is parsed wrapped as ``[<text>]`` and must come out as an array of exactly one object:
  trailing text then breaks the array's syntax and a second value makes it two elements. (A value
  crafted to close that wrapper itself, ``{..}], [{..}``, is not detected.) ``from_json`` is not
  used for the fields either, as it cannot tell ``"123"`` from ``123``.
* A field is *present* when its key exists with a non-null value; JSON ``null`` counts as absent.
* Each present field must have its contract's JSON type: strings are JSON strings, integers JSON
  integers (``1.5`` or ``"1"`` are invalid, never truncated), timestamps JSON strings matching the
  contract's pattern. Decimal fields (``quantity``, ``price``) accept any JSON number (``100.25``,
  and exponent notation such as ``1.0025e2``, which some serialisers write for floats) or a numeric
  JSON string (``"100.25"``), read into ``decimal(28,8)``; more than 8 decimal places or more than
  20 integer digits is invalid rather than rounded. Accepting numeric strings is wider than the
  JSON Schema's ``"type": "number"``: producers that keep decimals exact by sending them as strings
  are not quarantined.
* Then the schema's ``enum``, ``pattern``, ``minLength``/``maxLength`` and
  ``minimum``/``exclusiveMinimum`` apply. One ``invalid_<field>`` code per field, whichever rule
  fails first; its human-readable reason goes to ``reason_details``.
* ``schema_version`` decides how the payload is read. The payload field wins over the Kafka header:
  the header is optional routing metadata, but a header that is present and disagrees with the
  payload means the producer is confused, so the record is rejected as ``unknown_schema_version``.
  A missing, non-integer or unknown version is ``unknown_schema_version`` as well; the other fields
  are still checked (against the fields every version requires) so the quarantine row says
  everything that is wrong at once.
* Fields the event's version does not define are ignored (tolerant reader), never rejected: they
  are null in the output (a v1 event's ``counterparty_id`` is null even when the payload has one).

Reason codes come in a fixed order: ``invalid_utf8`` alone, ``malformed_json`` alone; otherwise
``unknown_schema_version``, then ``missing_<field>`` / ``invalid_<field>`` in contract field order,
then ``future_trade_ts``. Later stages (enrichment, lifecycle) append their own codes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from riskstream.contract import SCHEMA_VERSIONS, field_names, json_schema, required_fields, spark_type_name
from riskstream.jvm import jvm_class, python_column
from transformations import Transform
from transformations.schemas import QUARANTINE_DDL

TRADE_TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX"
"""``trade_ts`` as the contract writes it: ISO-8601 UTC with milliseconds, e.g. ``2026-11-24T09:30:00.000Z``."""

LINEAGE_COLUMNS = (
    "source_topic",
    "source_partition",
    "source_offset",
    "kafka_key",
    "raw_value",
    "raw_text",
    "schema_version_header",
    "kafka_ts",
    "ingest_ts",
)
REASON_COLUMNS = ("reason_codes", "reason_details")

EVENT_COLUMN = "_event"
_PARSED = "_parsed"
_PARSER_CLASS = "io.riskstream.parsing.EventParser"
STRINGS_COLUMN = "_event_strings"
_SINGLE = "_first_value"
_WRAPPED = "_wrapped_event"
_WRAPPED_TEXT = "_wrapped_text"
ENCODING_COLUMN = "_encoding_problem"
_INTEGER_JSON_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_DECIMAL_CHECK = (38, 18)
_DECIMAL_CHECK_TYPE = f"decimal{_DECIMAL_CHECK}".replace(" ", "")
"""Decimals are read at this wider type too and kept only when both agree, so nothing is rounded."""
_VERSION_FIELD = "schema_version"
_VERSION_CODE = "unknown_schema_version"
VERSION_MESSAGES = {
    "absent": "schema_version is absent or null",
    "not_integer": " is not an integer",
    "unknown": f" is not one of {', '.join(str(version) for version in SCHEMA_VERSIONS)}",
    "payload_says": "payload says ",
    "header_says": " but the header says ",
}
MALFORMED = "malformed_json"
MALFORMED_DETAILS = {
    "empty": "empty record value",
    "lone_surrogate": "a \\u escape encodes a lone UTF-16 surrogate, which is not a character",
    "not_object": "not a single JSON object",
}
MISSING_DETAIL = "required field is absent or null"


@dataclass(frozen=True)
class Reason:
    """One possible reason: its code, when it applies, and a human-readable detail (without the code)."""

    code: str
    applies: Column
    detail: Column


def _header_bytes(name: str) -> Column:
    """The value bytes of the first Kafka header called ``name``, null when absent.

    Not :func:`transformations.bronze.header_value`: its ``element_at`` raises under ANSI mode (the
    Spark 4 default) for a record without that header, which would fail the whole micro-batch.
    """
    matching = F.filter(F.col("headers"), lambda header: header["key"] == F.lit(name))
    return F.try_element_at(matching, F.lit(1))["value"]


def _encoding_problem(value: Column, key: Column, header: Column) -> Column:
    """Which parts of the record are not valid UTF-8, as a sentence; null when all are."""

    def invalid(raw: Column) -> Column:
        return raw.isNotNull() & ~F.is_valid_utf8(raw.cast("string"))

    parts = [
        F.when(invalid(value), F.lit("the record value")),
        F.when(invalid(key), F.lit("the Kafka key")),
        F.when(invalid(header), F.lit("the schema_version header")),
    ]
    named = F.concat_ws(" and ", *parts)
    return F.when(named != "", F.concat(named, F.lit(" is not valid UTF-8 (original bytes in bronze)")))


def _defined_in() -> dict[str, list[int]]:
    """Each contract field with the schema versions that define it."""
    return {name: [v for v in SCHEMA_VERSIONS if name in json_schema(v)["properties"]] for name in field_names()}


def _field_property(name: str) -> dict[str, Any]:
    """The JSON Schema of one field, from the newest version that defines it."""
    for version in sorted(SCHEMA_VERSIONS, reverse=True):
        properties = json_schema(version)["properties"]
        if name in properties:
            return dict(properties[name])
    raise KeyError(name)


_LONE_SURROGATE_ESCAPE = (
    r"(?i)(?<!\\)(?:\\\\)*"
    r"(?:\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2})"
)
"""A ``\\uXXXX`` escape (after an even run of backslashes) of a high surrogate not followed by a low
one, or of a low surrogate not preceded by a high one."""


def has_lone_surrogate(text: Column) -> Column:
    """Whether ``text`` holds a :data:`_LONE_SURROGATE_ESCAPE`; the regular expression (look-behinds, slow)
    runs only on the rare text that contains a ``\\uD`` escape at all."""
    maybe = text.contains("\\ud") | text.contains("\\uD")
    return F.when(maybe, text.rlike(_LONE_SURROGATE_ESCAPE)).otherwise(F.lit(False))


def _utf8_text(raw: Column) -> Column:
    """``raw`` bytes as a string when they are valid UTF-8, else null (never a string with bad bytes)."""
    text = raw.cast("string")
    return F.when(F.is_valid_utf8(text), text)


def field_variant(name: str) -> Column:
    """The field's own VARIANT (null when the key is absent; a VARIANT null for JSON ``null``)."""
    return F.col(EVENT_COLUMN)[name]


def _event_fields(field_type: str) -> str:
    """A struct type with one ``field_type`` field per contract field."""
    return "struct<" + ", ".join(f"`{name}`: {field_type}" for name in field_names()) + ">"


def json_type_column(name: str) -> str:
    return f"_json_type_{name}"


def field_json_type_of(name: str) -> Column:
    """The JSON type of the field as Spark names it (``STRING``, ``BIGINT``, ``DECIMAL(4,2)``, ``VOID``...)."""
    return F.schema_of_variant(field_variant(name))


def field_json_type(name: str) -> Column:
    """:func:`field_json_type_of`, computed once per row in its own column and referenced from there."""
    return F.col(json_type_column(name))


def field_json_text(name: str) -> Column:
    """The field's value as JSON text, for messages: ``"HOLD"``, ``-5``, ``{"a":1}``."""
    return F.to_json(field_variant(name))


def field_is_present(name: str) -> Column:
    json_type = field_json_type(name)
    return json_type.isNotNull() & (json_type != F.lit("VOID"))


def _string_value(name: str) -> Column:
    """The field's text as ``from_json`` reads it into a string: exact for a JSON string (escapes
    decoded); not used for other JSON types, whose text ``from_json`` may reformat (a float through a double)."""
    return F.col(STRINGS_COLUMN)[name]


def _number_text(name: str) -> Column:
    """The exact text of a JSON number field (the VARIANT keeps decimals exact), or of a JSON string."""
    return F.when(field_json_type(name) == "STRING", _string_value(name)).otherwise(field_json_text(name))


def _timestamp_pattern(prop: dict[str, Any]) -> str:
    """The pattern a timestamp field's text must match before it is parsed (any text when it has none)."""
    return str(prop.get("pattern", ".*"))


def _typed_value(name: str, spark_type: str) -> Column:
    """The field converted to its Spark type, or null when absent or not of the contract's JSON type.

    Values are read from text with ``try_cast`` rather than with ``try_variant_get``: Spark 4.0's
    variant-to-atomic conversion builds and evaluates a new ``Cast`` expression for every value,
    which cost about ten times the whole rest of the parse.
    """
    json_type = field_json_type(name)
    if spark_type == "string":
        return F.when(json_type == "STRING", _string_value(name))
    if spark_type in ("int", "bigint"):
        return F.when(json_type.isin(*_INTEGER_JSON_TYPES), field_json_text(name).try_cast(spark_type))
    if spark_type.startswith("decimal"):
        text = _number_text(name)
        exact, value = text.try_cast(_DECIMAL_CHECK_TYPE), text.try_cast(spark_type)
        numeric = json_type.isin(*_INTEGER_JSON_TYPES, "DOUBLE", "STRING") | json_type.startswith("DECIMAL")
        return F.when(numeric & (exact == value), value)
    if spark_type == "double":
        numeric = json_type.isin(*_INTEGER_JSON_TYPES) | json_type.startswith("DECIMAL") | (json_type == "DOUBLE")
        return F.when(numeric, field_json_text(name).try_cast("double"))
    if spark_type == "boolean":
        return F.when(json_type == "BOOLEAN", field_json_text(name) == F.lit("true"))
    if spark_type == "timestamp":
        text = _string_value(name)
        well_formed = (json_type == "STRING") & text.rlike(_timestamp_pattern(_field_property(name)))
        return F.when(well_formed, F.try_to_timestamp(text, F.lit(TRADE_TS_FORMAT)))
    raise NotImplementedError(f"contract field {name!r} has Spark type {spark_type!r}, which the parser does not read")


def wrong_type_message(spark_type: str) -> str:
    """What follows the value's JSON text when it does not convert to ``spark_type``."""
    if spark_type.startswith("decimal"):
        return " is not a decimal number (at most 8 decimal places)"
    if spark_type == "timestamp":
        return " is not an ISO-8601 UTC timestamp with milliseconds"
    described = {"string": "a string", "int": "an integer", "bigint": "an integer", "double": "a number"}
    return f" is not {described.get(spark_type, spark_type)}"


def _required_in(name: str) -> list[int]:
    """The schema versions that require the field."""
    return [version for version in SCHEMA_VERSIONS if name in required_fields(version)]


@dataclass(frozen=True)
class ValueRule:
    """One value rule of a JSON Schema property, as data both parsers run.

    ``kind`` is ``enum``, ``pattern``, ``min_length``, ``max_length``, ``minimum`` or
    ``exclusive_minimum``; ``message`` follows the value's JSON text in the reason detail.
    """

    kind: str
    argument: Any
    message: str


def value_rules(prop: dict[str, Any]) -> list[ValueRule]:
    """The value rules of one JSON Schema property, in the order they are checked (the first failing one is
    the detail). Length rules apply to strings, bounds to numbers. A timestamp's ``pattern`` is part of its
    type check (:func:`_typed_value`), so it is not repeated here."""
    spark_type = spark_type_name(prop)
    is_string = spark_type == "string"
    is_number = spark_type in ("int", "bigint", "double") or spark_type.startswith("decimal")
    rules: list[ValueRule] = []
    if "enum" in prop:
        rules.append(ValueRule("enum", prop["enum"], f" is not one of {', '.join(str(item) for item in prop['enum'])}"))
    if "pattern" in prop and is_string:
        rules.append(ValueRule("pattern", prop["pattern"], f" does not match {prop['pattern']}"))
    if "minLength" in prop and is_string:
        rules.append(ValueRule("min_length", prop["minLength"], f" is shorter than {prop['minLength']}"))
    if "maxLength" in prop and is_string:
        rules.append(ValueRule("max_length", prop["maxLength"], f" is longer than {prop['maxLength']}"))
    if "minimum" in prop and is_number:
        rules.append(ValueRule("minimum", prop["minimum"], f" is not >= {prop['minimum']}"))
    if "exclusiveMinimum" in prop and is_number:
        rules.append(ValueRule("exclusive_minimum", prop["exclusiveMinimum"], f" is not > {prop['exclusiveMinimum']}"))
    return rules


def rule_fails(rule: ValueRule, value: Column) -> Column:
    """Whether a converted value breaks ``rule``, as a Spark SQL condition."""
    if rule.kind == "enum":
        return ~value.isin(*rule.argument)
    if rule.kind == "pattern":
        return ~value.rlike(rule.argument)
    if rule.kind == "min_length":
        return F.length(value) < rule.argument
    if rule.kind == "max_length":
        return F.length(value) > rule.argument
    if rule.kind == "minimum":
        return value < rule.argument
    if rule.kind == "exclusive_minimum":
        return value <= rule.argument
    raise NotImplementedError(f"value rule {rule.kind!r}")


def _field_reasons(name: str) -> list[Reason]:
    """missing_<name> / invalid_<name> for one contract field."""
    prop = _field_property(name)
    spark_type = spark_type_name(prop)
    value = F.col(name)
    present = field_is_present(name)
    required_in = _required_in(name)
    if len(required_in) == len(SCHEMA_VERSIONS):
        required = F.lit(True)
    else:
        required = F.col("schema_version").isin(*required_in) if required_in else F.lit(False)
    missing = Reason(f"missing_{name}", required & ~present, F.lit(MISSING_DETAIL))

    wrong_type = present & value.isNull()
    detail = F.when(wrong_type, F.concat(field_json_text(name), F.lit(wrong_type_message(spark_type))))
    fails = wrong_type
    for rule in value_rules(prop):
        applies = present & value.isNotNull() & rule_fails(rule, value)
        detail = detail.when(applies, F.concat(field_json_text(name), F.lit(rule.message)))
        fails = fails | applies
    invalid = Reason(f"invalid_{name}", fails, detail)
    return [missing, invalid]


def _schema_version_reason() -> Reason:
    version = F.col(_VERSION_FIELD)
    header = F.col("schema_version_header")
    messages = VERSION_MESSAGES
    absent = ~field_is_present(_VERSION_FIELD)
    not_integer = ~absent & version.isNull()
    unknown = version.isNotNull() & ~version.isin(*SCHEMA_VERSIONS)
    disagrees = version.isNotNull() & header.isNotNull() & (header != version.cast("string"))
    detail = (
        F.when(absent, F.lit(messages["absent"]))
        .when(not_integer, F.concat(field_json_text(_VERSION_FIELD), F.lit(messages["not_integer"])))
        .when(unknown, F.concat(version.cast("string"), F.lit(messages["unknown"])))
        .when(
            disagrees,
            F.concat(F.lit(messages["payload_says"]), version.cast("string"), F.lit(messages["header_says"]), header),
        )
    )
    return Reason(_VERSION_CODE, absent | not_integer | unknown | disagrees, detail)


def _future_reason(now: Column, future_skew: str) -> Reason:
    trade_ts = F.col("trade_ts")
    latest_allowed = now + F.expr(f"INTERVAL {future_skew}")
    detail = F.concat(
        F.date_format(trade_ts, TRADE_TS_FORMAT),
        F.lit(f" is more than {future_skew} after "),
        F.date_format(now, TRADE_TS_FORMAT),
    )
    return Reason("future_trade_ts", trade_ts.isNotNull() & (trade_ts > latest_allowed), detail)


def codes_and_details(reasons: list[Reason]) -> tuple[Column, Column]:
    """The codes and details of the reasons that apply, in order.

    Built with ``concat`` of one- or zero-element arrays rather than ``filter`` over an array of
    nullable codes: ``filter`` (a higher-order function) has no generated code, so Spark would
    evaluate every reason's condition row by row in the interpreter.
    """
    none = F.array().cast("array<string>")
    codes = F.concat(*[F.when(reason.applies, F.array(F.lit(reason.code))).otherwise(none) for reason in reasons])
    details = F.concat(
        *[
            F.when(reason.applies, F.array(F.concat(F.lit(f"{reason.code}: "), reason.detail))).otherwise(none)
            for reason in reasons
        ]
    )
    return codes, details


def lineage_columns(bronze: DataFrame) -> DataFrame:
    """:data:`LINEAGE_COLUMNS` of each bronze row, plus ``_encoding_problem`` (null when every part is UTF-8)."""
    header_bytes = _header_bytes("schema_version")
    return bronze.select(
        F.col("topic").alias("source_topic"),
        F.col("partition").cast("int").alias("source_partition"),
        F.col("offset").cast("long").alias("source_offset"),
        F.make_valid_utf8(F.col("key").cast("string")).alias("kafka_key"),
        F.col("value").alias("raw_value"),
        _utf8_text(F.col("value")).alias("raw_text"),
        _utf8_text(header_bytes).alias("schema_version_header"),
        F.col("kafka_timestamp").alias("kafka_ts"),
        F.col("ingest_ts"),
        _encoding_problem(F.col("value"), F.col("key"), header_bytes).alias(ENCODING_COLUMN),
    )


def jvm_parse_rules() -> str:
    """The rules :func:`parse_events` hands to the JVM parser, as JSON: everything it checks and every
    message it writes comes from here (the JSON Schemas and this module's wording), none from Java."""
    fields = []
    defined_in = _defined_in()
    for name in field_names():
        prop = _field_property(name)
        spark_type = spark_type_name(prop)
        fields.append(
            {
                "name": name,
                "type": spark_type,
                "defined_in": defined_in[name],
                "required_in": _required_in(name),
                "missing_code": f"missing_{name}",
                "missing_detail": MISSING_DETAIL,
                "invalid_code": f"invalid_{name}",
                "wrong_type": wrong_type_message(spark_type),
                "rules": [asdict(rule) for rule in value_rules(prop)],
                "timestamp_pattern": _timestamp_pattern(prop) if spark_type == "timestamp" else None,
            }
        )
    return json.dumps(
        {
            "versions": list(SCHEMA_VERSIONS),
            "lone_surrogate_escape": _LONE_SURROGATE_ESCAPE,
            "malformed": {"code": MALFORMED, **MALFORMED_DETAILS},
            "schema_version": {"field": _VERSION_FIELD, "code": _VERSION_CODE, **VERSION_MESSAGES},
            "exact_decimal": list(_DECIMAL_CHECK),
            "timestamp_format": TRADE_TS_FORMAT,
            "fields": fields,
        }
    )


def parse_events(future_skew: str, now: Column | None = None) -> Transform:
    """Parse and validate bronze rows: one output row per bronze row, valid or not.

    The rules of :func:`parse_events_reference` (the module doc), run by one JVM function per record
    (``io.riskstream.parsing.EventParser``, driven by :func:`jvm_parse_rules`): the record's UTF-8
    check and ``future_trade_ts`` stay in Spark SQL around it. The same rules as Spark SQL expressions
    made a plan of thousands of expressions that took seconds to plan and compile in every micro-batch
    and about 0.15 ms a record to run. ``tests/test_parsing.py`` runs every case through both and a
    hypothesis property compares them on generated records.

    Args:
        future_skew: how far ``trade_ts`` may lie ahead of ``now`` (a Spark interval such as
            ``'5 minutes'``; ``settings.silver.future_skew``) before the event is ``future_trade_ts``.
        now: the reference time; ``current_timestamp()`` (the micro-batch time) by default. Tests pass a
            literal to get exact rows.

    Returns:
        A transform from ``bronze.trade_events`` rows to rows with the lineage columns
        (:data:`LINEAGE_COLUMNS`), every contract field with its Spark type (null when absent or not
        convertible; a convertible value that breaks a rule, such as ``quantity = -5``, is kept so the
        quarantine shows it), ``reason_codes array<string>`` (empty when valid) and
        ``reason_details array<string>`` (``"<code>: <why>"``, one per code, for
        :func:`to_quarantine`).
    """
    reference_time = now if now is not None else F.current_timestamp()
    names = field_names()
    rules = jvm_parse_rules()

    def transform(bronze: DataFrame) -> DataFrame:
        parser = jvm_class(bronze.sparkSession, _PARSER_CLASS, "silver's record parser")
        # A record with any part that is not UTF-8 is invalid_utf8 and nothing else: no fields are read.
        text = F.when(F.col(ENCODING_COLUMN).isNull(), F.col("raw_text"))
        header = F.col("schema_version_header")
        parsed = lineage_columns(bronze).withColumn(_PARSED, python_column(parser.column(rules, text._jc, header._jc)))
        typed = parsed.select(
            *LINEAGE_COLUMNS, ENCODING_COLUMN, _PARSED, *[F.col(_PARSED)[name].alias(name) for name in names]
        )
        future_code, future_detail = codes_and_details([_future_reason(reference_time, future_skew)])
        bad_encoding = F.col(ENCODING_COLUMN).isNotNull()
        return typed.select(
            *LINEAGE_COLUMNS,
            *names,
            F.when(bad_encoding, F.array(F.lit("invalid_utf8")))
            .otherwise(F.concat(F.col(_PARSED)["reason_codes"], future_code))
            .alias("reason_codes"),
            F.when(bad_encoding, F.array(F.concat(F.lit("invalid_utf8: "), F.col(ENCODING_COLUMN))))
            .otherwise(F.concat(F.col(_PARSED)["reason_details"], future_detail))
            .alias("reason_details"),
        )

    return transform


def parse_events_reference(future_skew: str, now: Column | None = None) -> Transform:
    """:func:`parse_events` as Spark SQL expressions: the executable specification of the module doc.

    Same arguments and output as :func:`parse_events`, row for row. Silver runs the JVM parser; this
    one is what tests hold it to.
    """
    reference_time = now if now is not None else F.current_timestamp()
    names = field_names()
    steps: list[Transform] = []

    def build_steps() -> list[Transform]:
        """The steps after the lineage, their expressions built once (about 11,000 JVM calls) and reused
        for every frame the transform is applied to."""
        raw_text = F.col("raw_text")
        wrapped_text = F.when(~has_lone_surrogate(raw_text), F.concat(F.lit("["), raw_text, F.lit("]")))
        wrapped = F.col(_WRAPPED)
        # Null unless the first value is an object: a number, string, array or JSON null does not cast.
        # Its own column, so the cast runs once per record (in a CASE condition and its branch it ran twice).
        single = F.try_variant_get(wrapped, "$[0]", _event_fields("variant"))
        single_value = F.col(_SINGLE)
        is_single_object = (
            F.col(ENCODING_COLUMN).isNull()
            & single_value.isNotNull()
            & F.variant_get(wrapped, "$[1]", "variant").isNull()
        )
        json_types = [json_type_column(name) for name in names]
        with_types = [
            *LINEAGE_COLUMNS,
            ENCODING_COLUMN,
            _WRAPPED_TEXT,
            EVENT_COLUMN,
            F.when(F.col(EVENT_COLUMN).isNotNull(), F.from_json(F.col("raw_text"), _event_fields("string"))).alias(
                STRINGS_COLUMN
            ),
            *[field_json_type_of(name).alias(json_type_column(name)) for name in names],
        ]
        version = _typed_value(_VERSION_FIELD, spark_type_name(_field_property(_VERSION_FIELD)))
        hidden_by_version = {
            json_type_column(name): F.when(
                version.isNull() | ~version.isin(*SCHEMA_VERSIONS) | version.isin(*defined_in),
                field_json_type(name),
            )
            for name, defined_in in _defined_in().items()
            if len(defined_in) < len(SCHEMA_VERSIONS)
        }
        typed = [
            *LINEAGE_COLUMNS,
            ENCODING_COLUMN,
            _WRAPPED_TEXT,
            EVENT_COLUMN,
            STRINGS_COLUMN,
            *json_types,
            *[_typed_value(name, spark_type_name(_field_property(name))).alias(name) for name in names],
        ]
        reasons = [_schema_version_reason()]
        for name in names:
            if name != _VERSION_FIELD:
                reasons.extend(_field_reasons(name))
        reasons.append(_future_reason(reference_time, future_skew))
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
        # Details (text built from the values) only for rows that have a code: most rows are valid.
        output = [
            *LINEAGE_COLUMNS,
            *names,
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
            lambda df: df.withColumns({_WRAPPED_TEXT: wrapped_text}).withColumn(
                _WRAPPED, F.try_parse_json(_WRAPPED_TEXT)
            ),
            lambda df: df.withColumn(_SINGLE, single),
            lambda df: df.withColumn(EVENT_COLUMN, F.when(is_single_object, single_value)).select(*with_types),
            lambda df: df.withColumns(hidden_by_version),
            lambda df: df.select(*typed),
            lambda df: df.select(*output),
        ]

    def transform(bronze: DataFrame) -> DataFrame:
        if not steps:
            steps.extend(build_steps())
        parsed = lineage_columns(bronze)
        for step in steps:
            parsed = step(parsed)
        return parsed

    return transform


def accepted() -> Transform:
    """Rows without any reason code: they go on to dedupe, lifecycle and enrichment."""

    def transform(parsed: DataFrame) -> DataFrame:
        return parsed.where(F.size("reason_codes") == 0)

    return transform


def rejected() -> Transform:
    """Rows with at least one reason code: they go to ``silver.quarantine`` via :func:`to_quarantine`."""

    def transform(parsed: DataFrame) -> DataFrame:
        return parsed.where(F.size("reason_codes") > 0)

    return transform


def split_valid(parsed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(accepted rows, rejected rows)`` of a parsed frame: the two transforms applied to the same input.

    Inside ``foreachBatch`` persist ``parsed`` first if both halves are written, so the batch is
    parsed once.
    """
    return parsed.transform(accepted()), parsed.transform(rejected())


def add_reason(code: str, applies: Column, detail: Column) -> Transform:
    """Append ``code`` (and ``"<code>: <detail>"``) to rows where ``applies`` is true.

    For later stages (enrichment, lifecycle) that reject rows, so that :func:`to_quarantine` can say
    why. When the frame has no ``reason_details`` column only ``reason_codes`` is extended.
    """

    def transform(df: DataFrame) -> DataFrame:
        flag = F.coalesce(applies, F.lit(False))
        updated = {
            "reason_codes": F.when(flag, F.array_append("reason_codes", F.lit(code))).otherwise(F.col("reason_codes"))
        }
        if "reason_details" in df.columns:
            message = F.concat(F.lit(f"{code}: "), F.coalesce(detail, F.lit("")))
            updated["reason_details"] = F.when(flag, F.array_append("reason_details", message)).otherwise(
                F.col("reason_details")
            )
        return df.withColumns(updated)

    return transform


def _reason_detail(df: DataFrame) -> Column:
    """``"; "``-joined details; a code with no recorded detail appears on its own."""
    codes = F.col("reason_codes")
    if "reason_details" not in df.columns:
        return F.array_join(codes, "; ")
    details = F.col("reason_details")
    described = F.transform(
        codes,
        lambda code: F.coalesce(
            F.element_at(F.filter(details, lambda detail: detail.startswith(F.concat(code, F.lit(":")))), 1),
            code,
        ),
    )
    return F.array_join(described, "; ")


def quarantine_columns() -> list[str]:
    """The columns of ``silver.quarantine``, in order (from ``QUARANTINE_DDL``)."""
    return [part.strip().split(" ", 1)[0] for part in QUARANTINE_DDL.split(",")]


def to_quarantine(quarantined_ts: Column | None = None) -> Transform:
    """Shape rejected rows into exactly the columns of ``silver.quarantine``.

    Args:
        quarantined_ts: when the row was quarantined; ``current_timestamp()`` by default, a literal in tests.

    Returns:
        A transform keeping the raw payload and lineage, ``event_id``/``trade_id`` as parsed (null when
        unreadable), ``reason_codes``, and ``reason_detail``: the reasons as one readable string,
        e.g. ``"invalid_quantity: -5 is not > 0; missing_currency: required field is absent or null"``.
    """
    quarantined = quarantined_ts if quarantined_ts is not None else F.current_timestamp()

    def transform(rejected_rows: DataFrame) -> DataFrame:
        columns = {
            "reason_detail": _reason_detail(rejected_rows),
            "quarantined_ts": quarantined,
        }
        return rejected_rows.select(*[columns.get(name, F.col(name)).alias(name) for name in quarantine_columns()])

    return transform
