"""Snowflake connections: the real connector for an account, fakesnow for the local emulator.

Both are used through the same ``snowflake.connector`` API (``connect``, cursors, ``write_pandas``),
so the sync and verification code cannot tell them apart. Credentials are resolved late from secret
references and live only inside :class:`ConnectionParameters`, whose ``repr`` masks them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskstream.config import SecretRef, SnowflakeConfig
from riskstream.errors import ConfigError, SecretError
from riskstream.secrets import Secret, resolve_secret

APPLICATION = "riskstream"
_SECRET_KWARGS = ("private_key", "token", "password")


@dataclass(frozen=True)
class ConnectionParameters:
    """Keyword arguments for ``snowflake.connector.connect``; prints without its secrets."""

    kwargs: dict[str, Any] = field(repr=False)

    def __repr__(self) -> str:
        shown = {key: ("***" if key in _SECRET_KWARGS else value) for key, value in self.kwargs.items()}
        return f"ConnectionParameters({shown})"

    __str__ = __repr__


def _private_key_der(pem: Secret, passphrase: Secret | None) -> bytes:
    """The PKCS#8 DER bytes the connector's JWT authenticator expects, from an (encrypted) PEM key."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(
            pem.reveal().encode(), password=passphrase.reveal().encode() if passphrase else None
        )
    except (ValueError, TypeError) as error:
        # the messages of cryptography never include key material, but keep only the type to be sure
        raise SecretError(
            f"the Snowflake private key from {pem.source} could not be loaded ({type(error).__name__}): "
            "check it is a PEM PKCS#8 key and that the passphrase reference is right"
        ) from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def connection_parameters(
    config: SnowflakeConfig, resolve: Callable[[SecretRef], Secret] = resolve_secret
) -> ConnectionParameters:
    """The connector arguments for a real account, with secrets resolved through ``resolve``.

    Key-pair auth uses ``authenticator='SNOWFLAKE_JWT'`` with the DER private key; OAuth uses
    ``authenticator='oauth'`` with the token. Password auth is only reachable when the config
    explicitly allows it (never in prod; the config model refuses it otherwise).
    """
    if config.mode != "account":
        raise ConfigError("connection parameters are only built for snowflake.mode 'account'")
    kwargs: dict[str, Any] = {
        "account": config.account,
        "user": config.user,
        "database": config.database,
        "schema": config.schema_name,
        "application": APPLICATION,
        "session_parameters": {"QUERY_TAG": "riskstream-sync", "TIMEZONE": "UTC"},
        "login_timeout": 60,
        "network_timeout": 300,
    }
    if config.role:
        kwargs["role"] = config.role
    if config.warehouse:
        kwargs["warehouse"] = config.warehouse
    if config.auth == "keypair":
        assert config.private_key is not None
        passphrase = resolve(config.private_key_passphrase) if config.private_key_passphrase else None
        kwargs["authenticator"] = "SNOWFLAKE_JWT"
        kwargs["private_key"] = _private_key_der(resolve(config.private_key), passphrase)
    elif config.auth == "oauth":
        assert config.oauth_token is not None
        kwargs["authenticator"] = "oauth"
        kwargs["token"] = resolve(config.oauth_token).reveal()
    elif config.auth == "password" and config.allow_password_auth:
        assert config.password is not None
        kwargs["password"] = resolve(config.password).reveal()
    else:
        raise ConfigError(f"snowflake.auth={config.auth!r} is not usable for a real account")
    return ConnectionParameters(kwargs)


class SnowflakeClient:
    """Opens connections and loads DataFrames through the ``snowflake.connector`` API."""

    def __init__(self, connect: Callable[[], Any], write_pandas: Callable[..., Any], emulated: bool) -> None:
        self._connect = connect
        self.write_pandas = write_pandas
        self.emulated = emulated

    def connect(self) -> Any:
        """A new connection (autocommit on), with the configured database and schema current."""
        return self._connect()


@contextlib.contextmanager
def snowflake_client(config: SnowflakeConfig) -> Iterator[SnowflakeClient]:
    """A client for ``config``: fakesnow persisted under ``emulator_path``, or the real account.

    fakesnow patches ``snowflake.connector.connect`` and ``write_pandas`` for the duration of the
    block; ``write_pandas`` is imported inside it so that the patched one is used.
    """
    if config.mode == "emulator":
        import fakesnow

        if not config.emulator_path:
            raise ConfigError("snowflake.emulator_path is required when snowflake.mode is 'emulator'")
        Path(config.emulator_path).mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings(), fakesnow.patch(db_path=config.emulator_path):
            # fakesnow (on DuckDB 2) warns on every result set; it says nothing about our data
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
            import snowflake.connector
            from snowflake.connector.pandas_tools import write_pandas

            def connect_emulator() -> Any:
                return snowflake.connector.connect(database=config.database, schema=config.schema_name)

            yield SnowflakeClient(connect_emulator, write_pandas, emulated=True)
        return
    import snowflake.connector
    from snowflake.connector.pandas_tools import write_pandas as real_write_pandas

    parameters = connection_parameters(config)

    def connect_account() -> Any:
        return snowflake.connector.connect(**parameters.kwargs)

    yield SnowflakeClient(connect_account, real_write_pandas, emulated=False)
