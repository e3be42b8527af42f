"""Where a job finds its Kafka endpoint at run time."""

from __future__ import annotations

from riskstream.config import Settings
from riskstream.errors import KafkaBrokerError


def bootstrap_servers(settings: Settings) -> str:
    """The Kafka bootstrap address: the configured Event Hubs endpoint, or the running local broker."""
    if settings.kafka.mode == "eventhubs":
        assert settings.kafka.bootstrap_servers is not None
        return settings.kafka.bootstrap_servers
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    from riskstream.kafka_broker import running_broker

    broker = running_broker()
    if broker is None:
        raise KafkaBrokerError("no local Kafka broker is running: start it with `riskstream kafka start`")
    return broker.bootstrap_servers
