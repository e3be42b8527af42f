"""The producer: real round trips through the local Apache Kafka broker, a broker that is down at
start or stopped mid-run, the confluent-kafka settings per target, and the Event Hubs AMQP transport.

Event Hubs is not reachable here. The AMQP transport is tested at the SDK boundary: a fake object
with the methods of ``EventHubProducerClient`` (``create_batch``, ``send_batch``,
``get_eventhub_properties``, ``close``) records what the transport hands to the SDK, and the real
client is constructed (which does not connect) to check the namespace, hub, credential and retry
policy it was given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskstream import kafka_broker
from riskstream.config import KafkaConfig, OAuthConfig, SecretRef
from riskstream.contract import event_errors
from riskstream.errors import DeliveryError
from riskstream.kafka_options import LIBRDKAFKA_EVENTHUBS_SETTINGS, librdkafka_producer_config, redact
from riskstream.producer import EventHubsTransport, KafkaTransport, ProduceReport, produce
from riskstream.simulator import FaultRates, MarketSimulator, SimulatedRecord
from tests.conftest import settings_dict

START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
CONNECTION_STRING = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc123="
FAULTS = FaultRates(malformed_json=0.05, schema_invalid=0.05, duplicate=0.1, late=0.05, out_of_order=0.1)


def _consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[Any]:
    """Read ``expected`` records from the start of ``topic`` (fails if fewer arrive in time)."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": "false",
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(message)
        extra = consumer.poll(1.0)  # nothing beyond what was sent
        assert extra is None or extra.error() is not None, "more records than expected"
    finally:
        consumer.close()
    return messages


def _wire(records: list[SimulatedRecord]) -> Counter[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]:
    return Counter((r.key.encode(), r.value, tuple(r.headers)) for r in records)


def _received(messages: list[Any]) -> Counter[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]:
    return Counter((m.key(), m.value(), tuple(m.headers() or ())) for m in messages)


@pytest.mark.kafka
def test_round_trip_through_the_local_broker(kafka: kafka_broker.BrokerInfo, topic: str) -> None:
    """Every record arrives once with its key, header and payload; a key's records keep their order."""
    records = list(MarketSimulator(seed=31, start=START).events(120, faults=FAULTS))
    transport = KafkaTransport.from_config(KafkaConfig(mode="local"), kafka.bootstrap_servers, topic)
    report = produce(records, transport, destination=topic, planned=len(records), batch_size=50)

    assert (report.sent, report.delivered, report.failed, report.retried, report.not_sent) == (120, 120, 0, 0, 0)
    assert report.ok and not report.errors
    assert report.by_kind == Counter(FAULTS.allocate(120)) - Counter()
    messages = _consume(kafka.bootstrap_servers, topic, 120)
    assert _received(messages) == _wire(records)
    for message in messages:
        key = message.key().decode()
        if dict(message.headers())["schema_version"] in (b"1", b"2"):
            try:
                event = json.loads(message.value())
            except json.JSONDecodeError:
                continue
            assert event.get("portfolio_id") == key
    by_partition_key: dict[tuple[int, str], list[bytes]] = {}
    for message in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        by_partition_key.setdefault((message.partition(), message.key().decode()), []).append(message.value())
    for (_, key), values in by_partition_key.items():
        assert values == [r.value for r in records if r.key == key]
    valid = [m for m, r in zip(sorted(messages, key=_order(records)), records, strict=True) if r.kind == "valid"]
    assert all(event_errors(json.loads(m.value())) == [] for m in valid)


def _order(records: list[SimulatedRecord]) -> Any:
    """Sort consumed messages into send order (value, then how many times it was seen) for pairing."""
    positions: dict[bytes, list[int]] = {}
    for position, record in enumerate(records):
        positions.setdefault(record.value, []).append(position)
    seen: Counter[bytes] = Counter()

    def key(message: Any) -> int:
        value = message.value()
        position = positions[value][seen[value]]
        seen[value] += 1
        return position

    return key


@pytest.mark.kafka
def test_cli_produce_to_the_local_broker(kafka: kafka_broker.BrokerInfo, topic: str, tmp_path: Path) -> None:
    """``riskstream produce`` as a user runs it: exit 0, the report line, and the simulator's exact records."""
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(tmp_path, kafka.bootstrap_servers)), encoding="utf-8")
    env = {**os.environ, "RISKSTREAM_CONF": str(conf), "RISKSTREAM_STATE_DIR": str(tmp_path / "state")}
    command = [
        sys.executable, "-m", "riskstream.cli", "produce", "--count", "40", "--rate", "0", "--seed", "5",
        "--start", "2026-11-24T09:30:00Z", "--topic", topic, "--duplicate", "0.1", "--late", "0.05",
        "--reference-out", str(tmp_path / "reference"),
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[1] == f"produce: 40 records to {topic} on {kafka.bootstrap_servers} (kafka, unthrottled, seed 5)"
    assert lines[2].startswith(
        f"produce: sent 40, delivered 40, failed 0, retried 0, not sent 0 -> {topic} on {kafka.bootstrap_servers} in "
    )
    assert lines[3] == "produce: sent by kind: duplicate 4, late 2, valid 34"
    expected = list(
        MarketSimulator(seed=5, start=START).events(40, rate=1000, faults=FaultRates(duplicate=0.1, late=0.05))
    )
    assert _received(_consume(kafka.bootstrap_servers, topic, 40)) == _wire(expected)
    assert sorted(path.name for path in (tmp_path / "reference").iterdir()) == [
        "correlations.csv",
        "fx_rates.csv",
        "instruments.csv",
        "portfolios.csv",
        "price_history.csv",
    ]


def test_broker_down_at_start_names_the_endpoint() -> None:
    port = kafka_broker.free_port()
    transport = KafkaTransport.from_config(
        KafkaConfig(mode="local"), f"127.0.0.1:{port}", "trades", connect_attempts=2, connect_timeout_s=0.5,
        resend_backoff_s=0.1,
    )  # fmt: skip
    records = MarketSimulator(seed=1, start=START).events(10)
    with pytest.raises(DeliveryError, match=rf"^cannot reach Kafka at 127\.0\.0\.1:{port} \(topic 'trades'\) after 2 "):
        produce(records, transport, destination="trades", planned=10)


def test_cli_with_the_broker_down_exits_5_naming_the_endpoint(tmp_path: Path) -> None:
    """``riskstream produce`` against a port nobody listens on: exit code 5, the endpoint in the error, no trace."""
    port = kafka_broker.free_port()
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(tmp_path, f"127.0.0.1:{port}")), encoding="utf-8")
    env = {**os.environ, "RISKSTREAM_CONF": str(conf), "RISKSTREAM_STATE_DIR": str(tmp_path / "state")}
    command = [sys.executable, "-m", "riskstream.cli", "produce", "--count", "10", "--rate", "0", "--seed", "3"]
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert finished.returncode == 5
    assert (
        finished.stdout.splitlines()[-1]
        == f"produce: 10 records to trades on 127.0.0.1:{port} (kafka, unthrottled, seed 3)"
    )
    assert finished.stderr.splitlines()[-1].startswith(
        f"error: cannot reach Kafka at 127.0.0.1:{port} (topic 'trades') after 3 attempts: "
    )
    assert "Traceback" not in finished.stderr


@pytest.mark.kafka
def test_unknown_topic_is_a_clear_error(kafka: kafka_broker.BrokerInfo) -> None:
    transport = KafkaTransport.from_config(KafkaConfig(mode="local"), kafka.bootstrap_servers, "no-such-topic")
    with pytest.raises(DeliveryError, match=f"topic 'no-such-topic' does not exist on {kafka.bootstrap_servers}"):
        produce([], transport, destination="no-such-topic", planned=0)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Path, kafka_broker.BrokerInfo]]:
    """A broker of this test alone (it gets stopped mid-run); always stopped by pid afterwards."""
    state = tmp_path / "broker"
    info = kafka_broker.start(state, topics={"trades": 2}, partitions=2)
    try:
        yield state, info
    finally:
        kafka_broker.stop(state)


def test_broker_stopped_mid_run(own_broker: tuple[Path, kafka_broker.BrokerInfo]) -> None:
    """The first batch is delivered, then the broker stops: the next batch fails after its retries, the
    run stops, the report and the error say exactly what was and was not delivered, and the topic
    holds exactly the delivered records once the broker is back."""
    state, info = own_broker
    records = list(MarketSimulator(seed=41, start=START).events(200))
    transport = KafkaTransport.from_config(
        KafkaConfig(mode="local"), info.bootstrap_servers, "trades", delivery_timeout_ms=2000, resend_attempts=1,
        resend_backoff_s=0.2,
    )  # fmt: skip

    def stop_after_first_batch(report: ProduceReport) -> None:
        if report.sent == 50:
            kafka_broker.stop(state)

    report = produce(
        records, transport, destination="trades", planned=200, batch_size=50, on_progress=stop_after_first_batch
    )
    assert (report.sent, report.delivered, report.failed, report.retried, report.not_sent) == (100, 50, 50, 50, 100)
    assert report.stopped_early
    assert report.errors == Counter({"_MSG_TIMED_OUT": 50})
    with pytest.raises(DeliveryError) as raised:
        report.raise_for_failures()
    assert str(raised.value) == (
        f"150 of 200 records were not delivered to trades on {info.bootstrap_servers} (50 failed after retries, "
        "100 not sent because the run stopped; errors: _MSG_TIMED_OUT x50). Check that the endpoint is reachable "
        "and the topic / event hub exists."
    )
    restarted = kafka_broker.start(state, topics={"trades": 2}, partitions=2)
    assert restarted.bootstrap_servers == info.bootstrap_servers
    assert _received(_consume(restarted.bootstrap_servers, "trades", 50)) == _wire(records[:50])


# --------------------------------------------------------------------------- client settings


def test_librdkafka_settings_for_the_local_broker() -> None:
    assert librdkafka_producer_config(KafkaConfig(mode="local"), "127.0.0.1:9092", delivery_timeout_ms=5000) == {
        "bootstrap.servers": "127.0.0.1:9092",
        "client.id": "riskstream-producer",
        "acks": "all",
        "enable.idempotence": "true",
        "message.timeout.ms": "5000",
        "retry.backoff.ms": "100",
        "retry.backoff.max.ms": "1000",
        "linger.ms": "5",
        "security.protocol": "PLAINTEXT",
    }


def test_producer_idempotence_can_be_turned_off_for_an_endpoint_that_refuses_it() -> None:
    config = KafkaConfig(mode="local", producer_idempotence=False)
    assert librdkafka_producer_config(config, "127.0.0.1:9092")["enable.idempotence"] == "false"
    assert librdkafka_producer_config(KafkaConfig(mode="local"), "127.0.0.1:9092")["enable.idempotence"] == "true"


def test_librdkafka_settings_for_event_hubs_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """Event Hubs is not reachable: the exact settings handed to confluent-kafka are the boundary."""
    from confluent_kafka import Producer

    monkeypatch.setenv("EH_CONN", CONNECTION_STRING)
    config = KafkaConfig(
        mode="eventhubs",
        bootstrap_servers="ns.servicebus.windows.net:9093",
        auth="connection_string",
        connection_string=SecretRef(env="EH_CONN"),
    )
    settings = librdkafka_producer_config(config, "ns.servicebus.windows.net:9093")
    assert settings == {
        "bootstrap.servers": "ns.servicebus.windows.net:9093",
        "client.id": "riskstream-producer",
        "acks": "all",
        "enable.idempotence": "true",
        "message.timeout.ms": "120000",
        "retry.backoff.ms": "100",
        "retry.backoff.max.ms": "1000",
        "linger.ms": "5",
        **LIBRDKAFKA_EVENTHUBS_SETTINGS,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "$ConnectionString",
        "sasl.password": CONNECTION_STRING,
    }
    assert CONNECTION_STRING not in str(redact(settings))
    Producer(settings)  # librdkafka accepts every key and value


def test_librdkafka_settings_for_event_hubs_oauth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EH_SECRET", "s3cr3t-value")
    config = KafkaConfig(
        mode="eventhubs",
        bootstrap_servers="ns.servicebus.windows.net:9093",
        auth="oauth",
        oauth=OAuthConfig(tenant_id="tenant-1", client_id="client-1", client_secret=SecretRef(env="EH_SECRET")),
    )
    settings = librdkafka_producer_config(config, "ns.servicebus.windows.net:9093")
    oauth = {key: value for key, value in settings.items() if key.startswith("sasl.")}
    assert oauth == {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.client.id": "client-1",
        "sasl.oauthbearer.client.secret": "s3cr3t-value",
        "sasl.oauthbearer.token.endpoint.url": "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token",
        "sasl.oauthbearer.scope": "https://ns.servicebus.windows.net/.default",
    }
    assert settings["security.protocol"] == "SASL_SSL"
    assert "s3cr3t-value" not in str(redact(settings))


# --------------------------------------------------------------------------- Event Hubs (AMQP) at the SDK boundary


class FakeBatch:
    """Stands in for ``EventDataBatch``: ``add`` raises ValueError when full, like the SDK."""

    def __init__(self, partition_key: str, capacity: int) -> None:
        self.partition_key = partition_key
        self.capacity = capacity
        self.events: list[Any] = []

    def add(self, event: Any) -> None:
        if len(self.events) >= self.capacity:
            raise ValueError("EventDataBatch has reached its size limit")
        self.events.append(event)


class FakeProducerClient:
    """The methods of ``EventHubProducerClient`` the transport uses; records every call."""

    def __init__(self, capacity: int = 100, fail_for_key: str | None = None, error: Exception | None = None) -> None:
        self.capacity = capacity
        self.fail_for_key = fail_for_key
        self.error = error
        self.sent: list[FakeBatch] = []
        self.closed = False

    def get_eventhub_properties(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {"eventhub_name": "trades", "partition_ids": ["0", "1"]}

    def create_batch(self, *, partition_key: str) -> FakeBatch:
        return FakeBatch(partition_key, self.capacity)

    def send_batch(self, batch: FakeBatch) -> None:
        if batch.partition_key == self.fail_for_key:
            from azure.eventhub.exceptions import EventHubError

            raise EventHubError("send failed after retries")
        self.sent.append(batch)

    def close(self) -> None:
        self.closed = True


def _sent_payloads(client: FakeProducerClient) -> list[tuple[str, list[bytes], list[dict[str, bytes]]]]:
    return [
        (batch.partition_key, [b"".join(e.body) for e in batch.events], [e.properties for e in batch.events])
        for batch in client.sent
    ]


def test_amqp_batches_per_partition_key_with_binary_properties() -> None:
    """Boundary test (no Event Hubs here): batches per portfolio, order kept, headers as binary properties."""
    records = list(MarketSimulator(seed=51, n_portfolios=3, start=START).events(12))
    client = FakeProducerClient()
    report = produce(records, EventHubsTransport(client, "ns.servicebus.windows.net"), destination="trades", planned=12)

    assert (report.sent, report.delivered, report.failed, report.not_sent) == (12, 12, 0, 0)
    keys = list(dict.fromkeys(r.key for r in records))
    assert _sent_payloads(client) == [
        (key, [r.value for r in records if r.key == key], [dict(r.headers) for r in records if r.key == key])
        for key in keys
    ]
    assert client.closed


def test_amqp_full_batch_is_sent_and_a_new_one_started() -> None:
    """Boundary test: a batch that is full goes out and the rest of the key's events start a new one."""
    records = list(MarketSimulator(seed=52, n_portfolios=1, start=START).events(5))
    client = FakeProducerClient(capacity=2)
    report = produce(records, EventHubsTransport(client, "ns.servicebus.windows.net"), destination="trades", planned=5)
    assert report.delivered == 5
    assert [(batch.partition_key, len(batch.events)) for batch in client.sent] == [
        ("P-001", 2),
        ("P-001", 2),
        ("P-001", 1),
    ]
    assert [b"".join(e.body) for batch in client.sent for e in batch.events] == [r.value for r in records]


def test_amqp_failed_batch_is_counted_and_stops_the_run() -> None:
    """Boundary test: the SDK raised after its retries; those events count as failed, the rest not sent."""
    records = list(MarketSimulator(seed=53, n_portfolios=2, start=START).events(8))
    client = FakeProducerClient(fail_for_key="P-002")
    report = produce(records, EventHubsTransport(client, "ns.servicebus.windows.net"), destination="trades", planned=20)
    failing = sum(r.key == "P-002" for r in records)
    assert (report.delivered, report.failed, report.not_sent) == (8 - failing, failing, 12)
    assert report.errors == Counter({"EventHubError": failing})
    with pytest.raises(DeliveryError, match=r"not delivered to trades on ns\.servicebus\.windows\.net"):
        report.raise_for_failures()


def test_amqp_unreachable_namespace_error_has_no_secret() -> None:
    """Boundary test: the SDK's error text is scrubbed of the credential before it is shown."""
    client = FakeProducerClient(error=ConnectionError(f"could not connect using {CONNECTION_STRING}"))
    transport = EventHubsTransport(client, "ns.servicebus.windows.net", secrets=[CONNECTION_STRING])
    with pytest.raises(DeliveryError) as raised:
        produce([], transport, destination="trades", planned=0)
    assert str(raised.value) == (
        "cannot reach Event Hubs namespace ns.servicebus.windows.net: ConnectionError: could not connect using ***"
    )
    assert client.closed


def test_amqp_client_from_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real SDK client is built (constructing it does not connect) with the hub, namespace and retry policy."""
    monkeypatch.setenv("EH_CONN", CONNECTION_STRING)
    config = KafkaConfig(
        mode="eventhubs",
        bootstrap_servers="ns.servicebus.windows.net:9093",
        topic="trades",
        auth="connection_string",
        connection_string=SecretRef(env="EH_CONN"),
    )
    transport = EventHubsTransport.from_config(config, retry_total=4, retry_backoff_factor=0.5, retry_backoff_max=20)
    client = transport._client
    assert type(client).__name__ == "EventHubProducerClient"
    assert (client.eventhub_name, client._address.hostname) == ("trades", "ns.servicebus.windows.net")
    retry = client._config
    assert (retry.retry_total, retry.backoff_factor, retry.backoff_max, retry.retry_mode) == (4, 0.5, 20, "exponential")
    assert type(client._credential).__name__ == "EventHubSharedKeyCredential"
    assert transport.endpoint == "ns.servicebus.windows.net"
    transport.close()


@pytest.mark.parametrize(
    ("default_credential", "credential_type"),
    [(False, "ClientSecretCredential"), (True, "DefaultAzureCredential")],
)
def test_amqp_client_with_entra_id(
    monkeypatch: pytest.MonkeyPatch, default_credential: bool, credential_type: str
) -> None:
    """Entra ID: the configured service principal, or DefaultAzureCredential; no token is fetched at construction."""
    monkeypatch.setenv("EH_SECRET", "s3cr3t-value")
    config = KafkaConfig(
        mode="eventhubs",
        bootstrap_servers="ns.servicebus.windows.net:9093",
        auth="oauth",
        oauth=OAuthConfig(tenant_id="tenant-1", client_id="client-1", client_secret=SecretRef(env="EH_SECRET")),
    )
    transport = EventHubsTransport.from_config(config, use_default_credential=default_credential)
    client = transport._client
    assert (client.eventhub_name, client._address.hostname) == ("trades", "ns.servicebus.windows.net")
    assert type(client._credential).__name__ == credential_type
    transport.close()
