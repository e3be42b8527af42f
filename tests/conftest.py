"""Shared fixtures: one local Spark session and one real Kafka broker per test session.

The broker is Apache Kafka's own (KRaft) from the cached Maven Central jars, on 127.0.0.1 with a
free port, under a temporary state folder; it is stopped by pid when the session ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from riskstream import kafka_broker
from riskstream.config import Settings, parse_settings
from riskstream.reference import load_reference
from riskstream.tables import Catalog

TEST_SHUFFLE_PARTITIONS = 2
REFERENCE_FIXTURES = Path(__file__).parent / "fixtures" / "reference"


def load_fixture_reference(spark: Any, catalog: Catalog) -> None:
    """Load the reference CSVs of tests/fixtures/reference into ``catalog``'s reference tables, quietly."""
    load_reference(spark, REFERENCE_FIXTURES, lambda name: catalog.table("reference", name), lambda *_: None)


EMPTY_PRICES_TOPIC = "prices-empty"
"""The prices topic of test settings: created by the ``kafka`` fixture, written by no test (those that
produce ticks use a topic of their own), so bronze's price query finds it and reads nothing."""


def settings_dict(base: Path, bootstrap: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A local target whose tables and checkpoints live under ``base``."""
    raw: dict[str, Any] = {
        "target": "local",
        "kafka": {
            "mode": "local",
            "topic": "trades",
            "alerts_topic": "risk-alerts",
            "prices_topic": EMPTY_PRICES_TOPIC,
            "partitions": 2,
        },
        "spark": {"master": "local[2]", "shuffle_partitions": TEST_SHUFFLE_PARTITIONS, "ui_enabled": False},
        "storage": {"base_path": str(base / "delta"), "checkpoint_root": str(base / "checkpoints")},
        "snowflake": {"mode": "emulator", "emulator_path": str(base / "snowflake")},
    }
    if bootstrap:
        raw["kafka"]["bootstrap_servers"] = bootstrap
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A session-scoped local Spark: local[2], 2 shuffle partitions, UI off, Delta + Kafka source."""
    from riskstream.spark import get_spark

    base = tmp_path_factory.mktemp("spark")
    session = get_spark(parse_settings(settings_dict(base)))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka_broker.BrokerInfo]:
    """A real Apache Kafka broker for the whole test session, stopped by pid at the end."""
    state = tmp_path_factory.mktemp("kafka-state")
    info = kafka_broker.start(state, partitions=2)
    kafka_broker.create_topics(info.bootstrap_servers, {EMPTY_PRICES_TOPIC: 2})
    try:
        yield info
    finally:
        kafka_broker.stop(state)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build test settings under this test's tmp folder, optionally pointing at a broker."""

    def build(bootstrap: str | None = None, **overrides: Any) -> Settings:
        return parse_settings(settings_dict(tmp_path, bootstrap, **overrides))

    return build


@pytest.fixture
def topic(kafka: kafka_broker.BrokerInfo) -> str:
    """A fresh topic per test, so tests never see each other's records."""
    name = f"trades-{uuid.uuid4().hex[:10]}"
    kafka_broker.create_topics(kafka.bootstrap_servers, {name: 2})
    return name


@pytest.fixture(scope="session")
def events_pipeline(spark: Any, kafka: kafka_broker.BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real pipeline run once on produced events (tests/events_pipeline.py); read it, never write."""
    from tests.events_pipeline import build

    return build(spark, kafka, tmp_path_factory.mktemp("events-pipeline"))
