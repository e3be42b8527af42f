"""Late resolution of secret references.

A :class:`Secret` wraps the resolved value so that ``repr``, ``str``, f-strings and logging print
``'***'``; the value is read only where it is handed to a client (``reveal()``).
"""

from __future__ import annotations

import os
from typing import Any

from riskstream.config import SecretRef
from riskstream.errors import SecretError


class Secret:
    """A resolved secret that never prints itself."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        return self._value

    @property
    def source(self) -> str:
        return self._source

    def __repr__(self) -> str:
        return f"Secret({self._source}, '***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled or written anywhere")


def _databricks_secret(scope: str, key: str) -> str:
    """Read a secret scope on Databricks through the SDK's dbutils (the runtime's own on a cluster)."""
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient().dbutils.secrets.get(scope=scope, key=key)


def resolve_secret(ref: SecretRef) -> Secret:
    """Resolve ``ref``. Errors name the reference and what to do, never a value."""
    if ref.env:
        value = os.environ.get(ref.env)
        if not value:
            raise SecretError(f"environment variable {ref.env} is not set (needed for {ref.describe()})")
        return Secret(value, ref.describe())
    assert ref.scope and ref.key
    try:
        value = _databricks_secret(ref.scope, ref.key)
    except Exception as error:  # the SDK raises many types; none of them carries the value
        raise SecretError(
            f"could not read {ref.describe()}: {type(error).__name__}. "
            "Check the scope exists and the job's identity has READ on it."
        ) from None
    return Secret(value, ref.describe())


def identifier(value: str | SecretRef) -> str:
    """A non-secret identifier (an OAuth tenant or client id) given inline or as a secret reference."""
    return value if isinstance(value, str) else resolve_secret(value).reveal()
