"""Kafka client options for every target, for Spark's Kafka source/sink.

* ``local``: plaintext to the project's broker on 127.0.0.1.
* ``eventhubs`` + ``connection_string``: SASL_SSL / PLAIN with the literal user name
  ``$ConnectionString`` and the namespace (or hub) connection string as password.
* ``eventhubs`` + ``oauth``: SASL_SSL / OAUTHBEARER with Entra ID client credentials; the token
  scope is ``https://<namespace>.servicebus.windows.net/.default``.

Databricks Runtime ships a shaded Kafka client, so its JAAS login modules and callback handlers
live under ``kafkashaded.org.apache.kafka``; open-source Spark uses the plain class names.

Event Hubs settings follow Microsoft's "Recommended configurations for Apache Kafka clients":
metadata.max.age.ms and connections.max.idle.ms 180000 (Azure closes idle TCP after 240 s),
request.timeout.ms 60000, session.timeout.ms 30000, heartbeat 3000, max.request.size 1000000
(the service closes connections above 1,046,528 bytes).
"""

from __future__ import annotations

import os

from riskstream.config import KafkaConfig
from riskstream.errors import ConfigError
from riskstream.secrets import Secret, identifier, resolve_secret

EVENTHUBS_CLIENT_SETTINGS: dict[str, str] = {
    "metadata.max.age.ms": "180000",
    "connections.max.idle.ms": "180000",
    "request.timeout.ms": "60000",
    "session.timeout.ms": "30000",
    "heartbeat.interval.ms": "3000",
    "max.request.size": "1000000",
}


def on_databricks() -> bool:
    """True inside a Databricks Runtime (the runtime sets this variable on every cluster)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def _class_prefix(shaded: bool) -> str:
    return "kafkashaded.org.apache.kafka" if shaded else "org.apache.kafka"


def _quote_jaas(value: str) -> str:
    if '"' in value or "\\" in value:
        raise ConfigError("a Kafka credential contains a quote or backslash and cannot be put in a JAAS config")
    return f'"{value}"'


def plain_jaas_config(connection_string: Secret, *, shaded: bool) -> str:
    """JAAS line for the Event Hubs ``$ConnectionString`` login."""
    module = f"{_class_prefix(shaded)}.common.security.plain.PlainLoginModule"
    return f'{module} required username="$ConnectionString" password={_quote_jaas(connection_string.reveal())};'


def oauth_options(config: KafkaConfig, client_secret: Secret, *, shaded: bool) -> dict[str, str]:
    """SASL OAUTHBEARER with Entra ID client credentials against the Event Hubs namespace."""
    assert config.oauth is not None
    prefix = _class_prefix(shaded)
    scope = f"https://{config.eventhubs_namespace_host}/.default"
    jaas = (
        f"{prefix}.common.security.oauthbearer.OAuthBearerLoginModule required "
        f"clientId={_quote_jaas(identifier(config.oauth.client_id))} "
        f"clientSecret={_quote_jaas(client_secret.reveal())} "
        f"scope={_quote_jaas(scope)};"
    )
    return {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.jaas.config": jaas,
        "sasl.login.callback.handler.class": f"{prefix}.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        "sasl.oauthbearer.token.endpoint.url": (
            f"https://login.microsoftonline.com/{identifier(config.oauth.tenant_id)}/oauth2/v2.0/token"
        ),
    }


def client_properties(config: KafkaConfig, bootstrap_servers: str, *, shaded: bool | None = None) -> dict[str, str]:
    """Java Kafka client properties (without Spark's ``kafka.`` prefix) for ``config``.

    Args:
        config: the target's Kafka section.
        bootstrap_servers: resolved ``host:port`` list (for local, the running broker's address).
        shaded: use Databricks' ``kafkashaded`` class names; defaults to "running on Databricks".
    """
    shaded = on_databricks() if shaded is None else shaded
    properties = {"bootstrap.servers": bootstrap_servers}
    if config.mode == "local":
        properties["security.protocol"] = "PLAINTEXT"
        return properties
    properties.update(EVENTHUBS_CLIENT_SETTINGS)
    properties["security.protocol"] = "SASL_SSL"
    if config.auth == "connection_string":
        assert config.connection_string is not None
        secret = resolve_secret(config.connection_string)
        properties["sasl.mechanism"] = "PLAIN"
        properties["sasl.jaas.config"] = plain_jaas_config(secret, shaded=shaded)
    else:
        assert config.oauth is not None
        properties.update(oauth_options(config, resolve_secret(config.oauth.client_secret), shaded=shaded))
    return properties


def spark_source_options(
    config: KafkaConfig,
    bootstrap_servers: str,
    *,
    max_offsets_per_trigger: int | None = None,
    shaded: bool | None = None,
    topic: str | None = None,
) -> dict[str, str]:
    """Options for ``spark.readStream.format("kafka")`` subscribed to ``topic`` (the trades topic by default)."""
    options = {
        f"kafka.{key}": value for key, value in client_properties(config, bootstrap_servers, shaded=shaded).items()
    }
    options["subscribe"] = topic or config.topic
    options["startingOffsets"] = config.starting_offsets
    options["failOnDataLoss"] = str(config.fail_on_data_loss).lower()
    options["includeHeaders"] = "true"
    if max_offsets_per_trigger is not None:
        options["maxOffsetsPerTrigger"] = str(max_offsets_per_trigger)
    return options


def spark_sink_options(
    config: KafkaConfig, bootstrap_servers: str, topic: str, *, shaded: bool | None = None
) -> dict[str, str]:
    """Options for writing a DataFrame (key, value, headers) to ``topic`` with Spark's Kafka sink."""
    options = {
        f"kafka.{key}": value for key, value in client_properties(config, bootstrap_servers, shaded=shaded).items()
    }
    options["topic"] = topic
    return options


def redact(options: dict[str, str]) -> dict[str, str]:
    """A copy safe to print or log: JAAS lines and anything that looks like a credential are masked."""
    sensitive = ("jaas", "password", "secret", "token", "connection")
    return {key: ("***" if any(word in key.lower() for word in sensitive) else value) for key, value in options.items()}


# --------------------------------------------------------------------------- librdkafka (confluent-kafka)

LIBRDKAFKA_EVENTHUBS_SETTINGS: dict[str, str] = {
    "socket.keepalive.enable": "true",
    "metadata.max.age.ms": "180000",
    "connections.max.idle.ms": "180000",
    "request.timeout.ms": "60000",
    "message.max.bytes": "1000000",
    "partitioner": "consistent_random",
}
"""Microsoft's recommended librdkafka settings for Event Hubs: keep-alive and a metadata / idle
horizon below Azure's 240 s idle cut-off, a request timeout of at least 60 s, and requests below the
service's 1,046,528-byte limit. ``consistent_random`` hashes the key (portfolio_id) to a partition."""


def librdkafka_producer_config(
    config: KafkaConfig,
    bootstrap_servers: str,
    *,
    client_id: str = "riskstream-producer",
    delivery_timeout_ms: int = 120_000,
    retry_backoff_ms: int = 100,
    retry_backoff_max_ms: int = 1_000,
    linger_ms: int = 5,
) -> dict[str, str]:
    """confluent-kafka ``Producer`` settings for ``config``: durable (``acks=all``, idempotent unless
    ``kafka.producer_idempotence`` is off, so librdkafka's own retries never duplicate or reorder a
    partition) and bounded (a record that is
    not acknowledged within ``delivery_timeout_ms`` fails with a delivery report instead of waiting
    forever).

    * ``local``: PLAINTEXT to the project's broker.
    * ``eventhubs`` + ``connection_string``: SASL_SSL / PLAIN, user ``$ConnectionString``.
    * ``eventhubs`` + ``oauth``: SASL_SSL / OAUTHBEARER with librdkafka's built-in OIDC client
      credentials flow against Entra ID, scope ``https://<namespace>/.default``.

    The result holds resolved secrets: pass it to the client and print only :func:`redact` of it.
    """
    settings = {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": "true" if config.producer_idempotence else "false",
        "message.timeout.ms": str(delivery_timeout_ms),
        "retry.backoff.ms": str(retry_backoff_ms),
        "retry.backoff.max.ms": str(max(retry_backoff_ms, retry_backoff_max_ms)),
        "linger.ms": str(linger_ms),
    }
    if config.mode == "local":
        settings["security.protocol"] = "PLAINTEXT"
        return settings
    settings.update(LIBRDKAFKA_EVENTHUBS_SETTINGS)
    settings["security.protocol"] = "SASL_SSL"
    if config.auth == "connection_string":
        assert config.connection_string is not None
        settings["sasl.mechanism"] = "PLAIN"
        settings["sasl.username"] = "$ConnectionString"
        settings["sasl.password"] = resolve_secret(config.connection_string).reveal()
        return settings
    assert config.oauth is not None
    settings.update(
        {
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.oauthbearer.method": "oidc",
            "sasl.oauthbearer.client.id": identifier(config.oauth.client_id),
            "sasl.oauthbearer.client.secret": resolve_secret(config.oauth.client_secret).reveal(),
            "sasl.oauthbearer.token.endpoint.url": (
                f"https://login.microsoftonline.com/{identifier(config.oauth.tenant_id)}/oauth2/v2.0/token"
            ),
            "sasl.oauthbearer.scope": f"https://{config.eventhubs_namespace_host}/.default",
        }
    )
    return settings
