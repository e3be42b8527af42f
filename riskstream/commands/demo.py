"""``riskstream demo``: the whole local flow on the embedded defaults, end to end."""

from __future__ import annotations

import json
import shutil
import time
from typing import Annotated

import typer

from riskstream import kafka_broker
from riskstream.commands.common import TargetOption, console, settings_for
from riskstream.errors import ConfigError
from riskstream.paths import state_dir


def _sample_events(count: int) -> list[tuple[str, bytes]]:
    """Until the market simulator lands: a few fixed v1 trades, keyed by portfolio."""
    events = []
    for number in range(count):
        portfolio = f"P-{number % 3 + 1:03d}"
        event = {
            "schema_version": 1,
            "event_id": f"00000000-0000-4000-8000-{number:012d}",
            "event_type": "NEW",
            "trade_id": f"T-{number:06d}",
            "trade_version": 1,
            "portfolio_id": portfolio,
            "instrument_id": "US0378331005",
            "side": "BUY" if number % 2 == 0 else "SELL",
            "quantity": "100",
            "price": "187.25",
            "currency": "USD",
            "trade_ts": "2026-11-24T09:30:00.000Z",
            "source_system": "demo",
        }
        events.append((portfolio, json.dumps(event).encode()))
    return events


def demo(
    target: TargetOption = "local",
    events: Annotated[int, typer.Option(help="How many events to produce.")] = 20,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete local state first.")] = False,
) -> None:
    """Start the local broker, produce events, run the pipeline, print a summary, clean up."""
    from confluent_kafka import Producer

    from jobs import bronze
    from riskstream.spark import get_spark
    from riskstream.tables import Catalog

    settings = settings_for(target)
    if not settings.is_local:
        raise ConfigError("the demo runs on the local target only")
    if fresh:
        kafka_broker.stop()
        shutil.rmtree(state_dir(), ignore_errors=True)
    started_here = kafka_broker.running_broker() is None
    console.print("demo: starting the local Kafka broker ...")
    broker = kafka_broker.start(
        topics={settings.kafka.topic: settings.kafka.partitions}, partitions=settings.kafka.partitions
    )
    try:
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "acks": "all"})
        for key, value in _sample_events(events):
            producer.produce(settings.kafka.topic, key=key, value=value, headers=[("schema_version", b"1")])
        undelivered = producer.flush(30)
        del producer  # close its connections before the broker goes away
        if undelivered:
            raise typer.Exit(1)
        console.print(f"demo: produced {events} events to {settings.kafka.topic} on {broker.bootstrap_servers}")
        spark = get_spark(settings)
        began = time.monotonic()
        bronze.run(spark, settings)
        rows = Catalog(settings).table("bronze", "trade_events").read(spark).count()
        console.print(f"demo: bronze.trade_events holds {rows} rows ({time.monotonic() - began:.1f}s)")
    finally:
        if started_here:
            kafka_broker.stop()
            console.print("demo: stopped the Kafka broker it started")
