from __future__ import annotations

from pathlib import Path

import pytest

from riskstream.config import SecretRef, load_settings, parse_settings
from riskstream.errors import ConfigError, SecretError
from riskstream.secrets import resolve_secret
from riskstream.tables import Catalog
from tests.conftest import settings_dict

DEPLOYMENT = [
    "storage.catalog=riskstream_dev",
    "storage.schema_prefix=alice_",
    "secret_scope=riskstream-dev-alice",
    "kafka.bootstrap_servers=riskstream-dev.servicebus.windows.net:9093",
    "snowflake.account=myorg-riskstream_dev",
    "snowflake.user=RISKSTREAM_SYNC_DEV",
    "snowflake.database=RISKSTREAM_DEV",
]
"""What a bundle task passes for alice's dev deployment (tests/test_bundle.py checks the bundle does)."""


def test_the_local_target_loads_on_its_own() -> None:
    settings = load_settings("local")
    assert (settings.target, settings.profile, settings.storage.catalog) == ("local", "local", None)


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_a_deployment_profile_takes_its_values_from_the_command_line(profile: str) -> None:
    settings = load_settings(profile, overrides=DEPLOYMENT)
    assert (settings.target, settings.profile, settings.secret_scope) == (profile, profile, "riskstream-dev-alice")
    assert (settings.storage.catalog, settings.storage.schema_prefix, settings.storage.checkpoint_root) == (
        "riskstream_dev",
        "alice_",
        "/Volumes/riskstream_dev/alice_ops/checkpoints",
    )
    assert Catalog(settings).table("silver", "trades").identifier == "riskstream_dev.alice_silver.trades"
    assert settings.kafka.bootstrap_servers == "riskstream-dev.servicebus.windows.net:9093"
    assert settings.snowflake.private_key == SecretRef(scope="riskstream-dev-alice", key="snowflake-private-key")
    assert (settings.snowflake.account, settings.snowflake.user, settings.snowflake.database) == (
        "myorg-riskstream_dev",
        "RISKSTREAM_SYNC_DEV",
        "RISKSTREAM_DEV",
    )


def test_the_profiles_differ_in_shape_not_in_deployment_values() -> None:
    dev, prod = (load_settings(profile, overrides=DEPLOYMENT) for profile in ("dev", "prod"))
    assert (dev.kafka.auth, prod.kafka.auth) == ("connection_string", "oauth")
    assert dev.kafka.connection_string == SecretRef(scope="riskstream-dev-alice", key="eventhubs-connection-string")
    assert prod.kafka.oauth is not None
    assert (prod.kafka.oauth.tenant_id, prod.kafka.oauth.client_id, prod.kafka.oauth.client_secret) == (
        SecretRef(scope="riskstream-dev-alice", key="eventhubs-tenant-id"),
        SecretRef(scope="riskstream-dev-alice", key="eventhubs-client-id"),
        SecretRef(scope="riskstream-dev-alice", key="eventhubs-client-secret"),
    )
    assert (dev.streams.silver.trigger.interval, prod.streams.silver.trigger.interval) == ("10 seconds", "5 seconds")
    windows = [settings.streams.gold_windows for settings in (dev, prod)]
    assert [stream.trigger.interval if stream else None for stream in windows] == ["1 minute", "30 seconds"]
    assert (dev.maintenance.vacuum_retention_hours, prod.maintenance.vacuum_retention_hours) == (168, 720)


def test_any_target_name_runs_with_a_named_profile() -> None:
    settings = load_settings("staging", conf="prod", overrides=DEPLOYMENT)
    assert (settings.target, settings.profile, settings.kafka.auth) == ("staging", "prod", "oauth")


@pytest.mark.parametrize(
    ("target", "conf", "overrides", "message"),
    [
        (
            "staging",
            None,
            DEPLOYMENT,
            "no conf profile 'staging' for target 'staging': pass --conf with one of dev, local, prod",
        ),
        (
            "local",
            "prod",
            DEPLOYMENT,
            "target 'local' cannot use the prod profile: the local profile is for --target local only, the others are "
            "for deployed targets",
        ),
        (
            "dev",
            None,
            [],
            "secret reference {key: eventhubs-connection-string} has no scope: pass --set secret_scope=SCOPE (a bundle "
            "task passes the target's secret_scope variable)",
        ),
        (
            "dev",
            None,
            ["storage.catalog"],
            "--set 'storage.catalog': expected KEY=VALUE with a dotted key such as storage.catalog=main",
        ),
        ("Dev!", "dev", DEPLOYMENT, "invalid configuration in"),
    ],
)
def test_a_wrong_target_profile_or_override_is_refused(
    target: str, conf: str | None, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(target, conf=conf, overrides=overrides)
    assert str(error.value).startswith(message)


def test_an_override_key_that_does_not_exist_is_named() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings("dev", overrides=[*DEPLOYMENT, "storage.catalgo=x"])
    assert str(error.value).endswith("  storage.catalgo: Extra inputs are not permitted")


def test_overrides_are_text_that_validation_converts() -> None:
    settings = load_settings("dev", overrides=[*DEPLOYMENT, "spark.shuffle_partitions=16", "spark.ui_enabled=false"])
    assert (settings.spark.shuffle_partitions, settings.spark.ui_enabled) == (16, False)
    with pytest.raises(ConfigError, match=r"spark.shuffle_partitions: Input should be a valid integer"):
        load_settings("dev", overrides=[*DEPLOYMENT, "spark.shuffle_partitions=many"])


def test_local_defaults_resolve_under_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(tmp_path))
    settings = load_settings("local")
    assert settings.storage.base_path == str(tmp_path / "delta")
    assert settings.storage.checkpoint_root == str(tmp_path / "checkpoints")
    assert settings.kafka.mode == "local"
    assert settings.kafka.bootstrap_servers is None


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
