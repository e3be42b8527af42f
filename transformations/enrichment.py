"""Silver, enrichment: reference data (portfolio, instrument, FX) and the derived amounts.

:func:`enrich` is a stream-static join: the event stream on the left, the small reference tables
(batch reads of the reference Delta tables) broadcast on the right. Nothing here keeps state, so the
silver job can re-read the reference tables in every micro-batch and a ``riskstream reference load``
takes effect without restarting the stream. Left joins only: an event with no reference match is
kept and gets a reason code (``unknown_portfolio``, ``unknown_instrument``, ``missing_fx_rate``)
so that it goes to quarantine, never silently away.

Units and signs follow :mod:`transformations.schemas`; in particular
``amount_base = amount x usd_rate[currency] / usd_rate[base_currency]``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations import Transform
from transformations.parsing import add_reason

ENRICHMENT_COLUMNS = (
    "desk",
    "base_currency",
    "asset_class",
    "sector",
    "instrument_currency",
    "multiplier",
    "daily_vol",
    "reference_price",
    "fx_rate_to_base",
)
WORKING_COLUMNS = ("single_trade_limit",)
"""Added for scoring but not part of ``silver.trades``: the job's final projection drops them."""

AMOUNT_COLUMNS = ("signed_quantity", "notional", "notional_base", "signed_notional_base")


def _latest_usd_rates(fx_rates: DataFrame) -> DataFrame:
    """One USD rate per currency: the latest ``as_of`` (the loader already refuses duplicate currencies)."""
    return fx_rates.groupBy("currency").agg(F.max_by("usd_rate", "as_of").alias("usd_rate"))


def enrich(portfolios: DataFrame, instruments: DataFrame, fx_rates: DataFrame) -> Transform:
    """Add portfolio, instrument and FX reference fields to valid events.

    Args:
        portfolios: ``reference.portfolios`` (one row per ``portfolio_id``).
        instruments: ``reference.instruments`` (one row per ``instrument_id``).
        fx_rates: ``reference.fx_rates`` (USD per one unit of ``currency``).

    Returns:
        A transform adding :data:`ENRICHMENT_COLUMNS` and :data:`WORKING_COLUMNS`, with
        ``fx_rate_to_base`` = ``usd_rate[currency] / usd_rate[base_currency]`` (the trade currency into
        the portfolio's base currency), and appending ``unknown_portfolio``, ``unknown_instrument``
        and ``missing_fx_rate`` (the latter only when the portfolio, hence the base currency, is
        known) to ``reason_codes``. Row count and order of input columns are unchanged.
    """
    portfolio_fields = F.broadcast(
        portfolios.select(
            F.col("portfolio_id").alias("_ref_portfolio_id"),
            "desk",
            "base_currency",
            "single_trade_limit",
        )
    )
    instrument_fields = F.broadcast(
        instruments.select(
            F.col("instrument_id").alias("_ref_instrument_id"),
            "asset_class",
            "sector",
            F.col("currency").alias("instrument_currency"),
            "multiplier",
            "daily_vol",
            "reference_price",
        )
    )
    rates = _latest_usd_rates(fx_rates)
    trade_rates = F.broadcast(
        rates.select(F.col("currency").alias("_trade_ccy"), F.col("usd_rate").alias("_trade_usd_rate"))
    )
    base_rates = F.broadcast(
        rates.select(F.col("currency").alias("_base_ccy"), F.col("usd_rate").alias("_base_usd_rate"))
    )

    def transform(events: DataFrame) -> DataFrame:
        joined = (
            events.join(portfolio_fields, F.col("portfolio_id") == F.col("_ref_portfolio_id"), "left")
            .join(instrument_fields, F.col("instrument_id") == F.col("_ref_instrument_id"), "left")
            .join(trade_rates, F.col("currency") == F.col("_trade_ccy"), "left")
            .join(base_rates, F.col("base_currency") == F.col("_base_ccy"), "left")
            .withColumn("fx_rate_to_base", F.col("_trade_usd_rate") / F.col("_base_usd_rate"))
        )
        missing_rate_of = F.when(F.col("_trade_usd_rate").isNull(), F.col("currency")).otherwise(F.col("base_currency"))
        return (
            joined.transform(
                add_reason(
                    "unknown_portfolio",
                    F.col("_ref_portfolio_id").isNull(),
                    F.concat(F.col("portfolio_id"), F.lit(" is not in reference.portfolios")),
                )
            )
            .transform(
                add_reason(
                    "unknown_instrument",
                    F.col("_ref_instrument_id").isNull(),
                    F.concat(F.col("instrument_id"), F.lit(" is not in reference.instruments")),
                )
            )
            .transform(
                add_reason(
                    "missing_fx_rate",
                    F.col("_ref_portfolio_id").isNotNull() & F.col("fx_rate_to_base").isNull(),
                    F.concat(F.lit("no USD rate for "), missing_rate_of, F.lit(" in reference.fx_rates")),
                )
            )
            .select(*events.columns, *ENRICHMENT_COLUMNS, *WORKING_COLUMNS)
        )

    return transform


def derive_amounts() -> Transform:
    """Add ``signed_quantity``, ``notional``, ``notional_base`` and ``signed_notional_base``.

    ``signed_quantity`` is an exact ``decimal(28,8)`` (+quantity for BUY, -quantity for SELL);
    the amounts are doubles, as in ``silver.trades``: ``notional = quantity x price x multiplier``
    in the trade currency (>= 0), ``notional_base = notional x fx_rate_to_base``, and
    ``signed_notional_base`` carries the side's sign. They are null when an input is null (an
    unknown instrument or missing FX rate, rows that are rejected anyway). The multiplication is done
    in doubles: the decimal product of two ``decimal(28,8)`` could overflow and fail the batch under
    ANSI mode.
    """

    def transform(events: DataFrame) -> DataFrame:
        sell = F.col("side") == "SELL"
        sign = F.when(sell, F.lit(-1)).otherwise(F.lit(1))
        notional = F.col("quantity").cast("double") * F.col("price").cast("double") * F.col("multiplier")
        notional_base = F.col("notional") * F.col("fx_rate_to_base")
        # Negation keeps decimal(28,8); multiplying by the sign widened to decimal(38,8) and cast back.
        signed_quantity = F.when(sell, -F.col("quantity")).otherwise(F.col("quantity"))
        return (
            events.withColumn("signed_quantity", signed_quantity)
            .withColumn("notional", notional)
            .withColumn("notional_base", notional_base)
            .withColumn("signed_notional_base", F.col("notional_base") * sign)
        )

    return transform
