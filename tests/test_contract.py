"""The event contract stays BACKWARD compatible: a consumer built for an older schema version can read
events of the newer one (DESIGN.md: "v2 is a BACKWARD-compatible superset of v1").

The check compares two JSON Schema documents: the newer one may add optional fields only. It
reports every break (a new required field, a removed field, a changed type), and the second group
of tests proves it catches each kind of break on a mutated copy of the real schema.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from riskstream.contract import SCHEMA_VERSIONS, json_schema

# The keywords that define how a field is read: its JSON type, its format and the Spark type the
# parser derives from it. ``schema_version``'s enum differs by design (1 vs 2) and is not a type.
_TYPE_KEYWORDS = ("type", "format", "x-spark-type")


def backward_incompatibilities(older: dict[str, Any], newer: dict[str, Any]) -> list[str]:
    """Every reason why ``newer`` is not a BACKWARD-compatible successor of ``older``, sorted.

    Rules: no field of ``older`` may disappear, no field may become required that was not required
    before (a new field included), and no field may change its type keywords.
    """
    problems: list[str] = []
    old_props: dict[str, Any] = older["properties"]
    new_props: dict[str, Any] = newer["properties"]
    for name in old_props.keys() - new_props.keys():
        problems.append(f"removed field: {name}")
    for name in set(newer.get("required", [])) - set(older.get("required", [])):
        problems.append(f"new required field: {name}")
    for name in old_props.keys() & new_props.keys():
        for keyword in _TYPE_KEYWORDS:
            before, after = old_props[name].get(keyword), new_props[name].get(keyword)
            if before != after:
                problems.append(f"changed type: {name}.{keyword} {before!r} -> {after!r}")
    return sorted(problems)


@pytest.mark.parametrize(("older", "newer"), list(itertools.pairwise(SCHEMA_VERSIONS)), ids=lambda v: f"v{v}")
def test_each_version_is_backward_compatible_with_the_previous(older: int, newer: int) -> None:
    assert backward_incompatibilities(json_schema(older), json_schema(newer)) == []


def test_v2_adds_exactly_the_documented_optional_fields() -> None:
    added = json_schema(2)["properties"].keys() - json_schema(1)["properties"].keys()
    assert sorted(added) == ["counterparty_id", "strategy"]
    assert json_schema(2)["required"] == json_schema(1)["required"]


def _mutated(change: str) -> dict[str, Any]:
    schema = copy.deepcopy(json_schema(2))
    props = schema["properties"]
    if change == "new_required_field":
        props["book_id"] = {"type": "string"}
        schema["required"].append("book_id")
    elif change == "optional_made_required":
        schema["required"].append("venue")
    elif change == "removed_optional_field":
        del props["trader_id"]
    elif change == "removed_required_field":
        del props["source_system"]
        schema["required"].remove("source_system")
    elif change == "json_type_changed":
        props["quantity"]["type"] = "string"
    elif change == "spark_type_changed":
        props["price"]["x-spark-type"] = "double"
    elif change == "format_dropped":
        del props["trade_ts"]["format"]
    return schema


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("new_required_field", ["new required field: book_id"]),
        ("optional_made_required", ["new required field: venue"]),
        ("removed_optional_field", ["removed field: trader_id"]),
        ("removed_required_field", ["removed field: source_system"]),
        ("json_type_changed", ["changed type: quantity.type 'number' -> 'string'"]),
        ("spark_type_changed", ["changed type: price.x-spark-type 'decimal(28,8)' -> 'double'"]),
        ("format_dropped", ["changed type: trade_ts.format 'date-time' -> None"]),
    ],
)
def test_the_check_catches_each_kind_of_break(change: str, expected: list[str]) -> None:
    assert backward_incompatibilities(json_schema(1), _mutated(change)) == expected


def test_adding_an_optional_field_is_allowed() -> None:
    schema = copy.deepcopy(json_schema(2))
    schema["properties"]["book_id"] = {"type": "string", "maxLength": 64}
    assert backward_incompatibilities(json_schema(1), schema) == []
