"""Test builders for trade events: fixture files of records, a contract-valid event factory, publishing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Producer


@dataclass(frozen=True)
class Record:
    """One Kafka record: key, value bytes and the ``schema_version`` header (None: no header).

    Key and header are text, or bytes for records that a well-behaved producer would not send.
    """

    key: str | bytes
    value: bytes
    schema_version_header: str | bytes | None


def load_records(path: Path) -> dict[int, list[Record]]:
    """A ``.jsonl`` fixture of ``{"part", "key", "event" | "raw", ["schema_version_header"]}`` lines, by part."""
    parts: dict[int, list[Record]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if "event" in item:
            value = json.dumps(item["event"]).encode()
            header = str(item["event"].get("schema_version"))
        else:
            value = item["raw"].encode()
            header = item.get("schema_version_header")
        parts.setdefault(item["part"], []).append(Record(item["key"], value, header))
    return parts


def trade_event(number: int, trade_ts: str = "2026-11-23T10:00:00.000Z", **fields: Any) -> dict[str, Any]:
    """A valid v1 NEW event for trade ``T<number>`` in P-001 (reference fixtures), overridable per field."""
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"00000000-0000-4000-8000-{number:012d}",
        "event_type": "NEW",
        "trade_id": f"T{number}",
        "trade_version": 1,
        "portfolio_id": "P-001",
        "instrument_id": "US0378331005",
        "side": "BUY",
        "quantity": 10,
        "price": 187,
        "currency": "USD",
        "trade_ts": trade_ts,
        "source_system": "oms",
    }
    event.update(fields)
    return event


def publish(bootstrap: str, topic: str, records: list[Record]) -> None:
    """Produce ``records`` in order with acks=all; fail the test if any is not delivered."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for record in records:
        header = record.schema_version_header
        headers = [("schema_version", header.encode() if isinstance(header, str) else header)] if header else []
        producer.produce(topic, key=record.key, value=record.value, headers=headers)
    assert producer.flush(30) == 0
