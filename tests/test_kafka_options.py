"""Kafka client options per target. Event Hubs is not reachable here: these tests check the exact
options handed to Spark's Kafka source, which is the boundary we can run."""

from __future__ import annotations

import pytest

from riskstream.config import KafkaConfig, OAuthConfig, SecretRef
from riskstream.kafka_options import EVENTHUBS_CLIENT_SETTINGS, redact, spark_sink_options, spark_source_options

CONNECTION_STRING = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc123="


def test_local_plaintext_source_options() -> None:
    config = KafkaConfig(mode="local")
    assert spark_source_options(config, "127.0.0.1:9092", max_offsets_per_trigger=1000) == {
        "kafka.bootstrap.servers": "127.0.0.1:9092",
        "kafka.security.protocol": "PLAINTEXT",
        "subscribe": "trades",
        "startingOffsets": "earliest",
        "failOnDataLoss": "true",
        "includeHeaders": "true",
        "maxOffsetsPerTrigger": "1000",
    }


@pytest.mark.parametrize(
    ("shaded", "module"),
    [
        (True, "kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule"),
        (False, "org.apache.kafka.common.security.plain.PlainLoginModule"),
    ],
)
def test_eventhubs_connection_string(monkeypatch: pytest.MonkeyPatch, shaded: bool, module: str) -> None:
    monkeypatch.setenv("EH_CONN", CONNECTION_STRING)
    config = KafkaConfig(
        mode="eventhubs",
        bootstrap_servers="ns.servicebus.windows.net:9093",
        auth="connection_string",
        connection_string=SecretRef(env="EH_CONN"),
    )
    options = spark_source_options(config, "ns.servicebus.windows.net:9093", shaded=shaded)
    expected = {f"kafka.{key}": value for key, value in EVENTHUBS_CLIENT_SETTINGS.items()}
    expected.update(
        {
            "kafka.bootstrap.servers": "ns.servicebus.windows.net:9093",
            "kafka.security.protocol": "SASL_SSL",
            "kafka.sasl.mechanism": "PLAIN",
            "kafka.sasl.jaas.config": f'{module} required username="$ConnectionString" password="{CONNECTION_STRING}";',
            "subscribe": "trades",
            "startingOffsets": "earliest",
            "failOnDataLoss": "true",
            "includeHeaders": "true",
        }
    )
    assert options == expected
    assert CONNECTION_STRING not in str(redact(options))


def test_eventhubs_oauth_on_databricks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EH_SECRET", "s3cr3t")
    config = KafkaConfig(
        mode="eventhubs",
        bootstrap_servers="ns.servicebus.windows.net:9093",
        auth="oauth",
        oauth=OAuthConfig(tenant_id="tenant-1", client_id="client-1", client_secret=SecretRef(env="EH_SECRET")),
    )
    options = spark_sink_options(config, "ns.servicebus.windows.net:9093", "risk-alerts", shaded=True)
    assert options["topic"] == "risk-alerts"
    assert options["kafka.sasl.mechanism"] == "OAUTHBEARER"
    assert options["kafka.sasl.jaas.config"] == (
        "kafkashaded.org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        'clientId="client-1" clientSecret="s3cr3t" scope="https://ns.servicebus.windows.net/.default";'
    )
    assert options["kafka.sasl.login.callback.handler.class"] == (
        "kafkashaded.org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
    )
    assert options["kafka.sasl.oauthbearer.token.endpoint.url"] == (
        "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
    )
    assert options["kafka.request.timeout.ms"] == "60000"
    assert "s3cr3t" not in str(redact(options))


def test_eventhubs_requires_port_9093() -> None:
    with pytest.raises(ValueError, match=r"servicebus\.windows\.net:9093"):
        KafkaConfig(mode="eventhubs", bootstrap_servers="ns.servicebus.windows.net:9092", auth="oauth")
