"""Connector arguments for a real Snowflake account, built without network (an account is not
reachable here): key-pair (JWT) from an encrypted PEM in an env var, OAuth, password refused."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from riskstream.config import Settings, load_settings
from riskstream.errors import ConfigError, SecretError
from riskstream.snowflake.connection import connection_parameters

PASSPHRASE = "correct horse battery staple"
ACCOUNT = {
    "mode": "account",
    "account": "myorg-riskstream_dev",
    "user": "RISKSTREAM_SYNC_DEV",
    "role": "RISKSTREAM_SYNC",
    "warehouse": "RISKSTREAM_WH",
    "database": "RISKSTREAM_DEV",
    "schema": "GOLD",
}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_keypair_auth_hands_the_connector_a_der_key_and_prints_no_secret(
    make_settings: Callable[..., Settings],
    rsa_key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ).decode()
    monkeypatch.setenv("TEST_SF_KEY", pem)
    monkeypatch.setenv("TEST_SF_PASSPHRASE", PASSPHRASE)
    config = make_settings(
        snowflake={
            **ACCOUNT,
            "auth": "keypair",
            "private_key": {"env": "TEST_SF_KEY"},
            "private_key_passphrase": {"env": "TEST_SF_PASSPHRASE"},
        }
    ).snowflake
    caplog.set_level(logging.DEBUG)

    parameters = connection_parameters(config)

    expected_der = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert parameters.kwargs == {
        "account": "myorg-riskstream_dev",
        "user": "RISKSTREAM_SYNC_DEV",
        "role": "RISKSTREAM_SYNC",
        "warehouse": "RISKSTREAM_WH",
        "database": "RISKSTREAM_DEV",
        "schema": "GOLD",
        "application": "riskstream",
        "session_parameters": {"QUERY_TAG": "riskstream-sync", "TIMEZONE": "UTC"},
        "login_timeout": 60,
        "network_timeout": 300,
        "authenticator": "SNOWFLAKE_JWT",
        "private_key": expected_der,
    }
    shown = f"{parameters!r} {parameters}"
    assert "'private_key': '***'" in shown
    for secret in (PASSPHRASE, pem.splitlines()[1], expected_der.hex()[:40]):
        assert secret not in shown
        assert secret not in caplog.text


def test_wrong_passphrase_names_the_reference_not_the_value(
    make_settings: Callable[..., Settings], rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ).decode()
    monkeypatch.setenv("TEST_SF_KEY", pem)
    monkeypatch.setenv("TEST_SF_PASSPHRASE", "not-the-passphrase")
    config = make_settings(
        snowflake={
            **ACCOUNT,
            "auth": "keypair",
            "private_key": {"env": "TEST_SF_KEY"},
            "private_key_passphrase": {"env": "TEST_SF_PASSPHRASE"},
        }
    ).snowflake
    with pytest.raises(SecretError) as raised:
        connection_parameters(config)
    assert str(raised.value) == (
        "the Snowflake private key from env:TEST_SF_KEY could not be loaded (ValueError): "
        "check it is a PEM PKCS#8 key and that the passphrase reference is right"
    )


def test_oauth_auth_passes_the_token(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SF_TOKEN", "oauth-token-value")
    config = make_settings(snowflake={**ACCOUNT, "auth": "oauth", "oauth_token": {"env": "TEST_SF_TOKEN"}}).snowflake
    parameters = connection_parameters(config)
    assert (parameters.kwargs["authenticator"], parameters.kwargs["token"]) == ("oauth", "oauth-token-value")
    assert "oauth-token-value" not in repr(parameters)


def test_missing_secret_is_a_clear_error(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SF_TOKEN", raising=False)
    config = make_settings(snowflake={**ACCOUNT, "auth": "oauth", "oauth_token": {"env": "TEST_SF_TOKEN"}}).snowflake
    with pytest.raises(
        SecretError, match=r"^environment variable TEST_SF_TOKEN is not set \(needed for env:TEST_SF_TOKEN\)$"
    ):
        connection_parameters(config)


def test_password_auth_is_refused_unless_explicitly_allowed(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="password auth is refused; use keypair"):
        make_settings(snowflake={**ACCOUNT, "auth": "password", "password": {"env": "TEST_SF_PASSWORD"}})


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_deployable_targets_use_keypair_from_a_secret_scope(target: str) -> None:
    deployment = [
        "storage.catalog=c",
        f"secret_scope=riskstream-{target}",
        "kafka.bootstrap_servers=ns.servicebus.windows.net:9093",
    ]
    config = load_settings(target, overrides=[*deployment, "snowflake.account=a", "snowflake.user=u"]).snowflake
    assert (config.mode, config.auth, config.allow_password_auth) == ("account", "keypair", False)
    assert config.private_key is not None and config.private_key.scope == f"riskstream-{target}"


def test_emulator_config_has_no_connection_parameters(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"only built for snowflake\.mode 'account'"):
        connection_parameters(make_settings().snowflake)
