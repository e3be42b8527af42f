"""``riskstream kafka start|stop|status``: the project's local Apache Kafka broker."""

from __future__ import annotations

import typer

from riskstream import kafka_broker
from riskstream.commands.common import console, settings_for

app = typer.Typer(
    help="Run the local Apache Kafka broker (KRaft, 127.0.0.1) of the local target; deployed targets use Event Hubs.",
    no_args_is_help=True,
)


@app.command()
def start() -> None:
    """Start the broker (if not running) and create the local target's trades, prices and alerts topics."""
    settings = settings_for("local")
    running = kafka_broker.running_broker()
    if running is None:
        console.print("kafka: starting the local broker ...")
    else:
        console.print(f"kafka: reusing the broker already running (pid {running.pid}); making sure the topics exist")
    info = kafka_broker.start(
        topics={
            settings.kafka.topic: settings.kafka.partitions,
            settings.kafka.prices_topic: settings.kafka.partitions,
            settings.kafka.alerts_topic: 1,
        },
        partitions=settings.kafka.partitions,
    )
    console.print(f"kafka running: pid {info.pid}, bootstrap {info.bootstrap_servers}, data {info.home}")


@app.command()
def stop() -> None:
    """Stop the broker this project started (by its recorded pid)."""
    info = kafka_broker.stop()
    if info is None:
        console.print("kafka: no broker was running")
    else:
        console.print(f"kafka stopped (pid {info.pid})")


@app.command()
def status() -> None:
    """Say whether the broker runs, where, and which topics it has. Exits 1 when it is not running."""
    info = kafka_broker.running_broker()
    if info is None:
        console.print("kafka: not running")
        raise typer.Exit(1)
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": info.bootstrap_servers}).list_topics(timeout=10).topics
    names = ", ".join(
        f"{name}({len(meta.partitions)})" for name, meta in sorted(topics.items()) if not name.startswith("__")
    )
    console.print(f"kafka running: pid {info.pid}, bootstrap {info.bootstrap_servers}, topics: {names or 'none'}")
