"""Table schemas shared between the layers: reference data, silver.trades and silver.quarantine.

These are the contract between silver (which writes them) and gold / sync / notebooks (which read
them). Units and sign conventions:

* quantities are in instrument units; ``signed_quantity`` is +quantity for BUY, -quantity for SELL;
* ``notional`` = quantity x price x multiplier, in the trade currency, always >= 0;
* ``*_base`` amounts are in the portfolio's base currency, converted with ``fx_rates``:
  ``amount_base = amount x usd_rate[currency] / usd_rate[base_currency]`` where ``usd_rate`` is
  USD per one unit of the currency;
* ``delta_*`` columns are the change this event makes to the portfolio's position: a NEW adds the
  trade, an AMEND adds (new - previous version), a CANCEL subtracts what was open. Summing
  ``delta_quantity`` over all events of a trade gives its open signed quantity (0 once cancelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

PORTFOLIOS_DDL = (
    "portfolio_id string, name string, desk string, base_currency string, "
    "gross_limit double, var_limit double, single_trade_limit double, stress_loss_limit double"
)
"""``stress_loss_limit`` (base currency, the largest stress-scenario loss allowed) came with the stress
tests: a ``portfolios.csv`` of an earlier release without the column loads it as null (no stress alert)."""
INSTRUMENTS_DDL = (
    "instrument_id string, name string, asset_class string, sector string, country string, currency string, "
    "multiplier double, daily_vol double, reference_price double"
)
FX_RATES_DDL = "currency string, usd_rate double, as_of timestamp"
CORRELATIONS_DDL = "level string, left_id string, right_id string, correlation double"
"""``level`` is ``instrument`` or ``sector``; pairs are stored once, ``left_id < right_id``."""
PRICE_HISTORY_DDL = "factor_type string, factor_id string, as_of_date date, close double"
"""Daily closes of the risk factors (key: factor_type, factor_id, as_of_date): ``instrument`` closes in the
instrument's currency, ``fx`` closes as USD per unit of the currency ``factor_id``."""
FACTOR_TYPES = ("instrument", "fx")

ASSET_CLASSES = ("equity", "fx", "rates", "credit", "commodity")

SILVER_TRADES_DDL = (
    # the event, as parsed (v2 fields null for v1 events)
    "event_id string, event_type string, trade_id string, trade_version int, schema_version int, "
    "portfolio_id string, instrument_id string, side string, quantity decimal(28,8), price decimal(28,8), "
    "currency string, trade_ts timestamp, venue string, trader_id string, source_system string, "
    "counterparty_id string, strategy string, "
    # lifecycle
    "previous_trade_version int, signed_quantity decimal(28,8), delta_quantity decimal(28,8), "
    "lateness_seconds double, arrived_late boolean, "
    # enrichment
    "desk string, base_currency string, asset_class string, sector string, instrument_currency string, "
    "multiplier double, daily_vol double, reference_price double, fx_rate_to_base double, "
    # derived amounts
    "notional double, notional_base double, signed_notional_base double, "
    "delta_notional_base double, delta_cost_base double, "
    # scoring
    "risk_score double, risk_reasons array<string>, "
    # lineage
    "source_topic string, source_partition int, source_offset long, kafka_ts timestamp, ingest_ts timestamp, "
    "processed_ts timestamp"
)
"""silver.trades: one row per accepted event carrying its lifecycle delta (key: event_id).

``lateness_seconds`` is how long after ``trade_ts`` the event reached Kafka (``kafka_ts``, the record
timestamp); ``arrived_late`` is true when that is more than ``silver.watermark``. A late event is
applied like any other (see :mod:`transformations.lifecycle`). ``delta_cost_base`` is the change in
cost basis in base currency (signed quantity x price x multiplier x fx), used by gold.positions for
average cost. ``risk_reasons`` lists the rule codes
that contributed to ``risk_score`` (0-100)."""

QUARANTINE_DDL = (
    "source_topic string, source_partition int, source_offset long, kafka_key string, raw_value binary, "
    "raw_text string, schema_version_header string, event_id string, trade_id string, "
    "reason_codes array<string>, reason_detail string, ingest_ts timestamp, quarantined_ts timestamp"
)
"""silver.quarantine: every rejected bronze record with its reasons (key: topic, partition, offset).

Reason codes: ``invalid_utf8`` (value, Kafka key or ``schema_version`` header is not UTF-8), ``malformed_json``,
``unknown_schema_version``, ``missing_<field>``, ``invalid_<field>``,
``future_trade_ts``, ``unknown_portfolio``, ``unknown_instrument``, ``missing_fx_rate``, ``beyond_state_ttl``,
``stale_version``, ``unknown_trade``, ``already_cancelled``, ``duplicate_version``, ``duplicate`` (the same
``event_id`` resent: quarantined rather than dropped, so every bronze row lands in exactly one of
silver.trades or silver.quarantine). The lifecycle rules behind the last six are in
:mod:`transformations.lifecycle`."""


SILVER_PRICES_DDL = (
    # the tick, as parsed (price is the mid when the tick quotes a bid and an ask only)
    "tick_id string, tick_type string, instrument_id string, price double, bid double, ask double, "
    "currency string, tick_ts timestamp, source string, sequence long, schema_version int, "
    # lineage
    "source_topic string, source_partition int, source_offset long, kafka_ts timestamp, ingest_ts timestamp, "
    "processed_ts timestamp"
)
"""silver.prices: one row per accepted price or FX tick (key: source_topic, source_partition, source_offset).

``tick_type`` is ``PRICE`` (``instrument_id`` an instrument, ``price`` in its currency) or ``FX``
(``instrument_id`` a currency, ``price`` its USD rate, as in reference fx_rates). Out-of-order ticks
are kept here (the history); the latest-price view orders by ``(tick_ts, sequence)``, so they never
move a price backwards. Rejected ticks go to silver.quarantine with ``source_topic`` = the prices
topic and the tick's ``tick_id`` as ``event_id``."""


def schema(ddl: str) -> StructType:
    """Parse a DDL string (needs an active SparkSession, as Spark parses DDL on the JVM)."""
    from pyspark.sql.types import StructType

    parsed = StructType.fromDDL(ddl)
    assert isinstance(parsed, StructType)
    return parsed
