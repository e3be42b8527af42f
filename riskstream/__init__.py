"""riskstream: real-time trade risk on Spark Structured Streaming, Delta Lake and Snowflake."""

from __future__ import annotations

__version__ = "0.1.0"
