"""The trade event and price tick contracts: JSON Schema files in ``conf/schemas`` are the single source of truth.

* :func:`validate_event` / :func:`event_errors` are the producer-side check (jsonschema, draft 2020-12).
* :func:`validate_tick` / :func:`tick_errors` are the same check for market data ticks
  (``price_tick.v*.json``), plus the one rule JSON Schema cannot state: a tick's ask is at least its bid.
* :func:`spark_schema` derives the Spark ``StructType`` used by the silver parser: the union of
  every version's fields (all nullable, so a v1 event simply has null v2 fields); required-ness is
  enforced by validation rules, not by the parser. ``x-spark-type`` overrides the JSON type where
  Spark needs more precision (decimals, timestamps).
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any, TypeGuard

from jsonschema import Draft202012Validator, FormatChecker

from riskstream.errors import ConfigError
from riskstream.paths import conf_dir

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

SCHEMA_VERSIONS = (1, 2)
TICK_SCHEMA_VERSIONS = (1,)
_JSON_TO_SPARK = {"string": "string", "integer": "int", "number": "double", "boolean": "boolean"}


@cache
def json_schema(version: int) -> dict[str, Any]:
    """The JSON Schema of ``schema_version`` ``version``."""
    if version not in SCHEMA_VERSIONS:
        raise ConfigError(f"unknown schema_version {version}; known: {SCHEMA_VERSIONS}")
    path = conf_dir() / "schemas" / f"trade_event.v{version}.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def _validator(version: int) -> Draft202012Validator:
    return Draft202012Validator(json_schema(version), format_checker=FormatChecker())


def event_errors(event: Any) -> list[str]:
    """Every contract violation of ``event`` as ``"<path>: <message>"``; empty when valid."""
    if not isinstance(event, dict):
        return ["(event): not a JSON object"]
    version = event.get("schema_version")
    if version not in SCHEMA_VERSIONS or isinstance(version, bool):
        return [f"schema_version: {version!r} is not one of {list(SCHEMA_VERSIONS)}"]
    errors = sorted(_validator(version).iter_errors(event), key=lambda error: list(error.absolute_path))
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(event)'}: {error.message}" for error in errors]


def validate_event(event: Any) -> None:
    """Raise ``ValueError`` listing every violation when ``event`` breaks the contract."""
    errors = event_errors(event)
    if errors:
        raise ValueError("invalid trade event: " + "; ".join(errors))


@cache
def tick_json_schema(version: int) -> dict[str, Any]:
    """The JSON Schema of price tick ``schema_version`` ``version``."""
    if version not in TICK_SCHEMA_VERSIONS:
        raise ConfigError(f"unknown price tick schema_version {version}; known: {TICK_SCHEMA_VERSIONS}")
    path = conf_dir() / "schemas" / f"price_tick.v{version}.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def _tick_validator(version: int) -> Draft202012Validator:
    return Draft202012Validator(tick_json_schema(version), format_checker=FormatChecker())


def tick_errors(tick: Any) -> list[str]:
    """Every contract violation of ``tick`` as ``"<path>: <message>"``; empty when valid."""
    if not isinstance(tick, dict):
        return ["(tick): not a JSON object"]
    version = tick.get("schema_version")
    if version not in TICK_SCHEMA_VERSIONS or isinstance(version, bool):
        return [f"schema_version: {version!r} is not one of {list(TICK_SCHEMA_VERSIONS)}"]
    errors = sorted(_tick_validator(version).iter_errors(tick), key=lambda error: list(error.absolute_path))
    messages = [f"{'.'.join(str(p) for p in error.absolute_path) or '(tick)'}: {error.message}" for error in errors]
    bid, ask = tick.get("bid"), tick.get("ask")
    if _is_number(bid) and _is_number(ask) and ask < bid:
        messages.append(f"ask: {ask!r} is less than the bid {bid!r}")
    return messages


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_tick(tick: Any) -> None:
    """Raise ``ValueError`` listing every violation when ``tick`` breaks the price tick contract."""
    errors = tick_errors(tick)
    if errors:
        raise ValueError("invalid price tick: " + "; ".join(errors))


def field_names() -> list[str]:
    """All fields of all versions, in first-seen order (v1's, then v2's additions)."""
    names: list[str] = []
    for version in SCHEMA_VERSIONS:
        for name in json_schema(version)["properties"]:
            if name not in names:
                names.append(name)
    return names


def spark_type_name(prop: dict[str, Any]) -> str:
    """The Spark SQL type of one JSON Schema property."""
    if "x-spark-type" in prop:
        return str(prop["x-spark-type"])
    return _JSON_TO_SPARK[prop["type"]]


def spark_ddl() -> str:
    """The parse schema as a Spark DDL string (union of all versions, all nullable)."""
    latest = json_schema(max(SCHEMA_VERSIONS))["properties"]
    parts = []
    for name in field_names():
        prop = latest.get(name) or next(json_schema(v)["properties"][name] for v in SCHEMA_VERSIONS)
        parts.append(f"`{name}` {spark_type_name(prop)}")
    return ", ".join(parts)


def spark_schema() -> StructType:
    """The parse schema as a ``StructType``."""
    from pyspark.sql.types import StructType

    parsed = StructType.fromDDL(spark_ddl())
    assert isinstance(parsed, StructType)
    return parsed


def required_fields(version: int) -> list[str]:
    return list(json_schema(version)["required"])


def enum_values(field: str) -> list[str]:
    """Allowed values of an enum field (identical across versions)."""
    return list(json_schema(max(SCHEMA_VERSIONS))["properties"][field]["enum"])
