"""The Snowflake side of riskstream: connection, type mapping, incremental sync, verification and DDL."""
