"""Send simulated (or any) trade records to Kafka or Event Hubs and account for every one of them.

Two transports share one protocol (:class:`Transport`: send a batch, get back how many were
delivered, failed and resent):

* :class:`KafkaTransport` (confluent-kafka): the local broker or the Event Hubs Kafka endpoint.
  ``acks=all`` and an idempotent producer; librdkafka retries within ``delivery_timeout_ms``, and a
  record whose delivery report still carries a retriable error is re-produced up to
  ``resend_attempts`` times with exponential backoff (the same bytes, so the same ``event_id``:
  silver's dedupe makes that at-least-once delivery exact).
* :class:`EventHubsTransport` (azure-eventhub, AMQP): ``EventHubProducerClient`` batches built with
  ``create_batch(partition_key=portfolio_id)``, the SDK's own retry policy (``retry_total``), a
  connection string or an Entra ID credential. Headers become AMQP application properties as
  *binary* values, which Event Hubs hands to Kafka readers unchanged as record headers.

:func:`produce` paces records at ``rate`` per second, keeps a :class:`ProduceReport` (sent,
delivered, failed, retried, not sent) and stops at the first batch that still fails after the
bounded retries, so a dead endpoint costs one timeout, not one per batch. Nothing is dropped
silently: every record is delivered, failed or not sent, and :meth:`ProduceReport.raise_for_failures`
raises a :class:`DeliveryError` naming the endpoint (bootstrap ``host:port`` or namespace), never a
credential.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from riskstream.errors import DeliveryError
from riskstream.simulator import SimulatedRecord

if TYPE_CHECKING:
    from riskstream.config import KafkaConfig

_LIBRDKAFKA_LOG = logging.getLogger("riskstream.producer.librdkafka")
_LIBRDKAFKA_LOG.addHandler(logging.NullHandler())  # librdkafka logs each refused connect; keep them off stderr
_LOG = logging.getLogger("riskstream.producer")

# librdkafka errors after which resending the same record can succeed (broker gone, leader moved,
# queue timed out). Anything else (message too large, authorization, unknown topic) is final.
_RETRIABLE_KAFKA_ERRORS = frozenset(
    {
        "_MSG_TIMED_OUT",
        "_TIMED_OUT",
        "_TRANSPORT",
        "_ALL_BROKERS_DOWN",
        "_QUEUE_FULL",
        "REQUEST_TIMED_OUT",
        "NOT_LEADER_FOR_PARTITION",
        "NOT_LEADER_OR_FOLLOWER",
        "LEADER_NOT_AVAILABLE",
        "NOT_ENOUGH_REPLICAS",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        "NETWORK_EXCEPTION",
    }
)


@dataclass
class BatchResult:
    """What happened to one batch: every record is counted once as delivered or failed.

    ``retried`` counts resends (one record resent twice counts 2); ``errors`` counts the final
    error of each failed record by name (``_MSG_TIMED_OUT``, ``EventHubError`` ...)."""

    delivered: int = 0
    failed: int = 0
    retried: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class Transport(Protocol):
    """Something that delivers records somewhere and reports per record."""

    @property
    def endpoint(self) -> str:
        """Where records go, for messages: ``host:port`` or the Event Hubs namespace. Never a secret."""
        ...

    def check(self) -> None:
        """Fail fast with :class:`DeliveryError` when the endpoint cannot be reached at all."""
        ...

    def send(self, records: Sequence[SimulatedRecord]) -> BatchResult:
        """Send ``records`` and wait until each one is acknowledged or has finally failed."""
        ...

    def close(self) -> None: ...


@dataclass
class ProduceReport:
    """The outcome of a run. ``planned = delivered + failed + not_sent`` always holds.

    ``sent`` counts records handed to the transport; ``retried`` counts resends by this library
    after a failed delivery report (one record resent twice counts 2). Retries inside the clients
    (librdkafka's protocol retries within the delivery timeout, the Event Hubs SDK's
    ``retry_total``) are not visible to it and not counted.
    """

    endpoint: str
    destination: str
    planned: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    not_sent: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    stopped_early: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.not_sent == 0

    def summary(self) -> str:
        """One line for the console."""
        line = (
            f"sent {self.sent}, delivered {self.delivered}, failed {self.failed}, retried {self.retried}, "
            f"not sent {self.not_sent} -> {self.destination} on {self.endpoint} in {self.elapsed_s:.1f}s"
        )
        if self.errors:
            line += " (errors: " + ", ".join(f"{name} x{count}" for name, count in sorted(self.errors.items())) + ")"
        return line

    def raise_for_failures(self) -> None:
        """Raise :class:`DeliveryError` when any record was not delivered."""
        if self.ok:
            return
        reasons = ", ".join(f"{name} x{count}" for name, count in sorted(self.errors.items())) or "no error reported"
        raise DeliveryError(
            f"{self.failed + self.not_sent} of {self.planned} records were not delivered to {self.destination} on "
            f"{self.endpoint} ({self.failed} failed after retries, {self.not_sent} not sent because the run stopped; "
            f"errors: {reasons}). Check that the endpoint is reachable and the topic / event hub exists."
        )


def produce(
    records: Iterable[SimulatedRecord],
    transport: Transport,
    *,
    destination: str,
    planned: int,
    rate: float | None = None,
    batch_size: int = 500,
    on_progress: Callable[[ProduceReport], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProduceReport:
    """Send ``records`` through ``transport`` in batches, paced at ``rate`` records/s.

    Args:
        records: what to send, in order.
        transport: where to send it; :meth:`Transport.check` runs first, and ``close`` always runs.
        destination: the topic or event hub name, for the report.
        planned: how many records ``records`` holds (for ``not_sent`` when the run stops early).
        rate: records per second; None or 0 sends as fast as the endpoint acknowledges.
        batch_size: most records per batch; with a rate, a batch holds at most a fifth of a second
            of records so pacing stays smooth.
        on_progress: called with the running report after each batch (the CLI's progress bar).

    Returns:
        The report; the run stops after the first batch with failures left after retries.

    Raises:
        DeliveryError: from ``transport.check()`` when the endpoint is unreachable at start.
    """
    report = ProduceReport(endpoint=transport.endpoint, destination=destination, planned=planned)
    if rate:
        batch_size = max(1, min(batch_size, int(rate / 5) or 1))
    started = clock()
    try:
        transport.check()
        for batch in _batches(records, batch_size):
            if rate:
                wait = started + report.sent / rate - clock()
                if wait > 0:
                    sleep(wait)
            result = transport.send(batch)
            report.sent += len(batch)
            report.delivered += result.delivered
            report.failed += result.failed
            report.retried += result.retried
            report.errors.update(result.errors)
            report.by_kind.update(record.kind for record in batch)
            report.elapsed_s = clock() - started
            if on_progress is not None:
                on_progress(report)
            if result.failed:
                report.stopped_early = True
                break
    finally:
        transport.close()
    report.not_sent = planned - report.sent
    report.elapsed_s = clock() - started
    return report


def _batches(records: Iterable[SimulatedRecord], size: int) -> Iterator[list[SimulatedRecord]]:
    batch: list[SimulatedRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (client errors are not trusted to omit them)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------- Kafka (confluent-kafka)


class KafkaTransport:
    """confluent-kafka producer for the local broker or the Event Hubs Kafka endpoint.

    Args:
        client_config: librdkafka settings, e.g. from
            :func:`riskstream.kafka_options.librdkafka_producer_config`.
        topic: where records go.
        resend_attempts: how many times a record with a retriable delivery error is produced again.
        resend_backoff_s: wait before the first resend; doubles each attempt, capped at 10 s.
        connect_attempts, connect_timeout_s: the start-up metadata check (with the same backoff).
    """

    def __init__(
        self,
        client_config: dict[str, str],
        topic: str,
        *,
        resend_attempts: int = 2,
        resend_backoff_s: float = 1.0,
        connect_attempts: int = 3,
        connect_timeout_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from confluent_kafka import Producer

        self._endpoint = client_config["bootstrap.servers"]
        self._topic = topic
        self._secrets = [value for key, value in client_config.items() if "password" in key or "secret" in key]
        self._resend_attempts = resend_attempts
        self._resend_backoff_s = resend_backoff_s
        self._connect_attempts = connect_attempts
        self._connect_timeout_s = connect_timeout_s
        self._sleep = sleep
        self._producer = Producer({**client_config, "logger": _LIBRDKAFKA_LOG})

    @classmethod
    def from_config(
        cls, config: KafkaConfig, bootstrap_servers: str, topic: str | None = None, **options: Any
    ) -> KafkaTransport:
        """Build from the target's Kafka section; ``options`` go to the client config builder or to
        the transport (``resend_attempts`` ...)."""
        from riskstream.kafka_options import librdkafka_producer_config

        builder_keys = {"client_id", "delivery_timeout_ms", "retry_backoff_ms", "retry_backoff_max_ms", "linger_ms"}
        client_options = {key: options.pop(key) for key in list(options) if key in builder_keys}
        client_config = librdkafka_producer_config(config, bootstrap_servers, **client_options)
        return cls(client_config, topic or config.topic, **options)

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def check(self) -> None:
        """Ask for the topic's metadata, retrying with backoff; fail naming the endpoint."""
        from confluent_kafka import KafkaException

        last_error = "no answer"
        for attempt in range(1, self._connect_attempts + 1):
            try:
                metadata = self._producer.list_topics(self._topic, timeout=self._connect_timeout_s)
            except KafkaException as error:
                last_error = _scrub(str(error.args[0] if error.args else error), self._secrets)
            else:
                topic = metadata.topics.get(self._topic)
                if topic is not None and topic.error is None and metadata.brokers:
                    return
                if topic is not None and topic.error is not None and topic.error.name() == "UNKNOWN_TOPIC_OR_PART":
                    raise DeliveryError(f"topic {self._topic!r} does not exist on {self._endpoint}; create it first")
                last_error = str(topic.error) if topic is not None and topic.error is not None else "no brokers"
            if attempt < self._connect_attempts:
                self._sleep(min(10.0, self._resend_backoff_s * 2 ** (attempt - 1)))
        raise DeliveryError(
            f"cannot reach Kafka at {self._endpoint} (topic {self._topic!r}) after {self._connect_attempts} "
            f"attempts: {last_error}"
        )

    def send(self, records: Sequence[SimulatedRecord]) -> BatchResult:
        result = BatchResult()
        pending = list(records)
        last_errors: Counter[str] = Counter()
        for attempt in range(self._resend_attempts + 1):
            if attempt:
                self._sleep(min(10.0, self._resend_backoff_s * 2 ** (attempt - 1)))
                result.retried += len(pending)
            failures = self._send_once(pending)
            result.delivered += len(pending) - len(failures)
            retriable = [(record, name) for record, name in failures if name in _RETRIABLE_KAFKA_ERRORS]
            for _, name in failures:
                if name not in _RETRIABLE_KAFKA_ERRORS:
                    result.failed += 1
                    result.errors[name] += 1
            pending = [record for record, _ in retriable]
            if not pending:
                return result
            last_errors = Counter(name for _, name in retriable)
        result.failed += len(pending)
        result.errors.update(last_errors)
        return result

    def _send_once(self, records: Sequence[SimulatedRecord]) -> list[tuple[SimulatedRecord, str]]:
        """Produce ``records`` and wait for every delivery report; returns the failed ones with the error name."""
        from confluent_kafka import KafkaError, KafkaException

        failures: list[tuple[SimulatedRecord, str]] = []
        reports = 0

        def on_delivery(record: SimulatedRecord) -> Callable[[KafkaError | None, Any], None]:
            def report(error: KafkaError | None, _message: Any) -> None:
                nonlocal reports
                reports += 1
                if error is not None:
                    failures.append((record, error.name()))

            return report

        for record in records:
            while True:
                try:
                    self._producer.produce(
                        self._topic,
                        key=record.key.encode("utf-8"),
                        value=record.value,
                        headers=list(record.headers),
                        on_delivery=on_delivery(record),
                    )
                    break
                except BufferError:  # the local queue is full: serve delivery reports, then try again
                    self._producer.poll(0.1)
                except KafkaException as error:
                    reports += 1
                    failures.append((record, error.args[0].name() if error.args else "KafkaException"))
                    break
            self._producer.poll(0)
        while reports < len(records):
            # flush() returns once every queued record has a delivery report (delivered, or failed when
            # message.timeout.ms passes), so this loop ends within the delivery timeout.
            self._producer.flush(1.0)
        return failures

    def close(self) -> None:
        # Records still queued get their (failed) delivery reports here; send() already waited for them.
        self._producer.flush(0)


# --------------------------------------------------------------------------- Event Hubs (AMQP)


class EventHubsTransport:
    """azure-eventhub producer: one ``EventDataBatch`` per partition key, sent with ``send_batch``.

    Args:
        client: an ``EventHubProducerClient`` (or anything with its ``create_batch``, ``send_batch``,
            ``get_eventhub_properties`` and ``close``).
        endpoint: the namespace host, for messages.
        secrets: values to scrub from SDK error messages.
    """

    def __init__(self, client: Any, endpoint: str, *, secrets: Sequence[str] = ()) -> None:
        self._client = client
        self._endpoint = endpoint
        self._secrets = list(secrets)

    @classmethod
    def from_config(
        cls,
        config: KafkaConfig,
        *,
        use_default_credential: bool = False,
        retry_total: int = 3,
        retry_backoff_factor: float = 0.8,
        retry_backoff_max: float = 30.0,
    ) -> EventHubsTransport:
        """Build the SDK client for the target's Event Hubs namespace; the event hub is the topic.

        ``connection_string`` auth uses the same secret as the Kafka endpoint; ``oauth`` a
        ``ClientSecretCredential`` for the configured service principal; ``use_default_credential``
        ``DefaultAzureCredential`` (managed identity, az login, environment). Constructing the
        client does not connect.
        """
        from azure.eventhub import EventHubProducerClient

        from riskstream.errors import ConfigError
        from riskstream.secrets import identifier, resolve_secret

        if config.mode != "eventhubs":
            raise ConfigError("the AMQP transport needs an Event Hubs target (kafka.mode: eventhubs)")
        namespace = config.eventhubs_namespace_host
        retry: dict[str, Any] = {
            "retry_total": retry_total,
            "retry_backoff_factor": retry_backoff_factor,
            "retry_backoff_max": retry_backoff_max,
            "retry_mode": "exponential",
        }
        if use_default_credential:
            from azure.identity import DefaultAzureCredential

            client = EventHubProducerClient(
                fully_qualified_namespace=namespace,
                eventhub_name=config.topic,
                credential=DefaultAzureCredential(),
                **retry,
            )
            return cls(client, namespace)
        if config.auth == "connection_string":
            assert config.connection_string is not None
            secret = resolve_secret(config.connection_string)
            client = EventHubProducerClient.from_connection_string(secret.reveal(), eventhub_name=config.topic, **retry)
            return cls(client, namespace, secrets=[secret.reveal()])
        from azure.identity import ClientSecretCredential

        assert config.oauth is not None
        client_secret = resolve_secret(config.oauth.client_secret)
        credential = ClientSecretCredential(
            identifier(config.oauth.tenant_id), identifier(config.oauth.client_id), client_secret.reveal()
        )
        client = EventHubProducerClient(
            fully_qualified_namespace=namespace, eventhub_name=config.topic, credential=credential, **retry
        )
        return cls(client, namespace, secrets=[client_secret.reveal()])

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def check(self) -> None:
        """Read the event hub's properties (the SDK retries); fail naming the namespace."""
        try:
            self._client.get_eventhub_properties()
        except Exception as error:  # azure.eventhub raises EventHubError subclasses and azure-core errors
            raise DeliveryError(
                f"cannot reach Event Hubs namespace {self._endpoint}: {type(error).__name__}: "
                f"{_scrub(str(error), self._secrets)}"
            ) from None

    def send(self, records: Sequence[SimulatedRecord]) -> BatchResult:
        """Group by partition key (order kept within a key), fill batches, send each one."""
        from azure.eventhub import EventData

        result = BatchResult()
        by_key: dict[str, list[SimulatedRecord]] = {}
        for record in records:
            by_key.setdefault(record.key, []).append(record)
        for key, keyed in by_key.items():
            batch = self._client.create_batch(partition_key=key)
            in_batch = 0
            for record in keyed:
                event = EventData(record.value)
                event.properties = {name: value for name, value in record.headers}
                try:
                    batch.add(event)
                except ValueError:  # the batch is full: send it and start the next one
                    self._send_batch(batch, in_batch, result)
                    batch = self._client.create_batch(partition_key=key)
                    batch.add(event)
                    in_batch = 0
                in_batch += 1
            self._send_batch(batch, in_batch, result)
        return result

    def _send_batch(self, batch: Any, size: int, result: BatchResult) -> None:
        try:
            self._client.send_batch(batch)
        except Exception as error:  # the SDK has already retried retry_total times
            result.failed += size
            result.errors[type(error).__name__] += size
            _LOG.warning("send_batch to %s failed: %s", self._endpoint, _scrub(str(error), self._secrets))
        else:
            result.delivered += size

    def close(self) -> None:
        self._client.close()
