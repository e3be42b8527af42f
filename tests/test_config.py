from __future__ import annotations

from pathlib import Path

import pytest

from riskstream.config import SecretRef, load_settings, parse_settings
from riskstream.errors import ConfigError, SecretError
from riskstream.secrets import resolve_secret
from tests.conftest import settings_dict


@pytest.mark.parametrize("target", ["local", "dev", "prod"])
def test_shipped_targets_load(target: str) -> None:
    settings = load_settings(target)
    assert settings.target == target


def test_local_defaults_resolve_under_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(tmp_path))
    settings = load_settings("local")
    assert settings.storage.base_path == str(tmp_path / "delta")
    assert settings.storage.checkpoint_root == str(tmp_path / "checkpoints")
    assert settings.kafka.mode == "local"
    assert settings.kafka.bootstrap_servers is None


def test_deployable_targets_use_unity_catalog_and_volumes() -> None:
    dev, prod = load_settings("dev"), load_settings("prod")
    assert (dev.storage.catalog, dev.storage.checkpoint_root) == (
        "riskstream_dev",
        "/Volumes/riskstream_dev/ops/checkpoints",
    )
    assert (prod.kafka.auth, prod.snowflake.auth) == ("oauth", "keypair")
    assert prod.kafka.oauth is not None
    assert prod.kafka.oauth.client_secret == SecretRef(scope="riskstream-prod", key="eventhubs-client-secret")


def test_unknown_key_is_named(tmp_path: Path) -> None:
    raw = settings_dict(tmp_path)
    raw["kafka"]["bootstrap_server"] = "oops:9092"
    with pytest.raises(ConfigError) as error:
        parse_settings(raw, "test.yml")
    assert str(error.value) == (
        "invalid configuration in test.yml:\n  kafka.bootstrap_server: Extra inputs are not permitted"
    )


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("spark", {"shuffle_partitions": 0}, "spark.shuffle_partitions: Input should be greater than or equal to 1"),
        (
            "streams",
            {"bronze": {"trigger": {"kind": "processing_time", "interval": "soon"}}},
            "streams.bronze.trigger.interval: Value error, expected a Spark duration such as '10 seconds' or "
            "'5 minutes', got 'soon'",
        ),
        (
            "snowflake",
            {"mode": "emulator", "database": "RISK-STREAM"},
            "snowflake.database: Value error, 'RISK-STREAM' is not a valid Snowflake identifier "
            "(letters, digits, underscore)",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, section: str, values: dict, message: str) -> None:
    raw = settings_dict(tmp_path, **{section: values})
    with pytest.raises(ConfigError) as error:
        parse_settings(raw)
    assert message in str(error.value)


def test_prod_refuses_password_auth_for_snowflake() -> None:
    raw = {
        "target": "prod",
        "kafka": {
            "mode": "eventhubs",
            "bootstrap_servers": "ns.servicebus.windows.net:9093",
            "auth": "connection_string",
            "connection_string": {"env": "EH_CONN"},
        },
        "storage": {"catalog": "c", "checkpoint_root": "/Volumes/c/ops/checkpoints"},
        "snowflake": {"mode": "account", "account": "a", "user": "u", "auth": "password", "password": {"env": "SF"}},
    }
    with pytest.raises(ConfigError) as error:
        parse_settings(raw)
    assert "password auth is refused; use keypair (JWT) or oauth" in str(error.value)


def test_deployable_target_refuses_tmp_checkpoints() -> None:
    raw = {
        "target": "dev",
        "kafka": {
            "mode": "eventhubs",
            "bootstrap_servers": "ns.servicebus.windows.net:9093",
            "auth": "connection_string",
            "connection_string": {"env": "EH_CONN"},
        },
        "storage": {"catalog": "c", "checkpoint_root": "/tmp/checkpoints"},
        "snowflake": {"mode": "emulator"},
    }
    with pytest.raises(ConfigError, match=r"checkpoint_root: checkpoints under /tmp"):
        parse_settings(raw)


def test_secret_reference_has_one_form() -> None:
    with pytest.raises(ValueError, match="either"):
        SecretRef(env="X", scope="s", key="k")


def test_env_secret_never_prints_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RS_TEST_SECRET", "hunter2-value")
    secret = resolve_secret(SecretRef(env="RS_TEST_SECRET"))
    assert secret.reveal() == "hunter2-value"
    assert repr(secret) == "Secret(env:RS_TEST_SECRET, '***')"
    assert f"{secret}" == "Secret(env:RS_TEST_SECRET, '***')"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)


def test_missing_env_secret_names_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RS_MISSING", raising=False)
    with pytest.raises(SecretError) as error:
        resolve_secret(SecretRef(env="RS_MISSING"))
    assert str(error.value) == "environment variable RS_MISSING is not set (needed for env:RS_MISSING)"
