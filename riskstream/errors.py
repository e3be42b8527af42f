"""Domain errors. Each says what went wrong and what to do about it, and never carries a secret."""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first non-empty line of ``error``'s message, or its type's name when it has none.

    Spark, the JVM and the SDKs put a stack or their settings after the first line; one line is what
    a domain error quotes.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


class RiskstreamError(Exception):
    """Base class: the CLI prints the message and exits non-zero instead of showing a traceback."""

    exit_code = 1


class ConfigError(RiskstreamError):
    """A configuration file or value is missing, unknown or invalid."""

    exit_code = 2


class SecretError(RiskstreamError):
    """A secret reference could not be resolved. The message names the reference, never the value."""

    exit_code = 2


class SetupError(RiskstreamError):
    """Something the local stack needs (Java, cached jars, a free port) is missing."""

    exit_code = 3


class KafkaBrokerError(RiskstreamError):
    """The local Kafka broker could not be started, reached or stopped."""

    exit_code = 4


class DeliveryError(RiskstreamError):
    """Events could not be delivered to the broker or Event Hub."""

    exit_code = 5


class PipelineError(RiskstreamError):
    """A streaming or batch job failed; its checkpoint and tables are left consistent for a re-run."""

    exit_code = 6


class SyncError(RiskstreamError):
    """The Snowflake sync failed; the control table was not advanced past what was merged."""

    exit_code = 7


class VerificationError(RiskstreamError):
    """A reconciliation found differences between two systems that should agree."""

    exit_code = 8


class OpsError(RiskstreamError):
    """A Databricks operation could not be done: the job is missing, already running, or did not stop."""

    exit_code = 9
