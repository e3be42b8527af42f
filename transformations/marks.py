"""Gold, market data: marks from price ticks and trades, positions re-marked, intraday P&L.

All functions are pure; ``gold_positions`` (jobs/gold.py) applies them to each micro-batch, which
holds new silver.trades rows and new silver.prices rows side by side (:func:`batch_inputs`).

**Marks** (gold.marks, :data:`transformations.gold.MARKS_DDL`). An instrument's mark is the latest
price gold has read for it: its latest PRICE tick or its latest NEW / AMEND trade, whichever is later
by ``(mark_ts, sequence)`` (a trade's sequence is -1, so a tick at the same instant wins; two trades
at the same instant are ordered by event id). A currency's mark is its latest FX tick (USD per
unit). Marks only move forward: an out-of-order tick, older than the mark, changes nothing. Every
tick and trade of a micro-batch is at or before the batch's event time (its latest ``trade_ts`` or
``tick_ts``), so a batch never marks with a price from beyond the data it has read.

**Re-marking** (:func:`remark_positions`). A position's ``last_price`` is its instrument's mark when
the mark is later than the position's own ``last_price_ts``; its ``fx_rate_to_base`` is
``usd(instrument_currency) / usd(base_currency)``, where ``usd`` is the currency's FX mark or, with
none, the reference fx_rates ``usd_rate`` (a position neither of whose currencies has an FX mark
keeps the rate of its latest trade, which silver took from the same reference rates). Then
``market_value_base = net_quantity x last_price x multiplier x fx_rate_to_base``. So a portfolio that
does not trade an instrument still moves with its ticks.

**P&L** (gold.pnl, :func:`pnl_rows`), per position and trading day, in base currency. The trading day
of a micro-batch is the UTC date of its event time; every event gold processes counts in the day it
is processed (a correction of an earlier day's trade is a flow of today, at its own terms). Per day:

* ``sod_net_quantity`` / ``sod_market_value_base``: the position at the start of the day, i.e. its
  last values of the previous day it had a row (0 for a position opened today);
* ``day_buy_quantity`` / ``day_buy_cost_base``: the sum of ``delta_quantity`` / ``delta_cost_base``
  of the day's BUY events (an AMEND or CANCEL contributes its change, so it may reduce them);
  ``day_sell_quantity`` / ``day_sell_proceeds_base``: the same for SELL events, sign flipped (>= 0 for
  sales). These are the lifecycle's cost-basis changes, so ``cost_basis`` moves by ``buy cost -
  sell proceeds`` over the day;
* ``total_pnl_base = market_value_base - sod_market_value_base - (day_buy_cost_base -
  day_sell_proceeds_base)``: the mark-to-market change of the position net of what the day's trades cost;
* ``realized_pnl_base``, by average cost over the day: the opening position (valued at the start
  of day) and the day's trades that add to it form the entry lot, the day's trades on the other side
  close it. For a position long or flat at the start of the day, ``closed = min(sell quantity, sod
  quantity + buy quantity)`` and ``realized = closed x (sell proceeds / sell quantity - (sod value +
  buy cost) / (sod quantity + buy quantity))``; for a short one the mirror image (buys close, sales
  and the opening short are the entry). Nothing closed, nothing realized;
* ``unrealized_pnl_base = total_pnl_base - realized_pnl_base``: the P&L still open.

A position first seen by this table after it was opened (a table created on a running deployment)
starts its day at its current mark: ``sod_market_value_base`` is the quantity before the batch at
the batch's unit value.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations import Transform
from transformations.gold import MARKS_DDL, PNL_DDL
from transformations.schemas import schema

TRADE = "trade"
TICK = "tick"
INSTRUMENT_MARK = "instrument"
FX_MARK = "fx"
TRADE_SEQUENCE = -1
"""The sequence a trade's mark carries: below any tick's, so a tick at the same instant wins."""


def batch_inputs(trades: DataFrame, ticks: DataFrame) -> DataFrame:
    """silver.trades and silver.prices (streams) -> one stream of ``(input, trade, tick)`` rows.

    One query reads both, so a micro-batch's trades and ticks are committed together in one
    checkpoint: exactly once for both, and a tick reaches risk by the same path as a trade.
    """
    trade_type = trades.select(F.struct(*trades.columns).alias("s")).schema["s"].dataType
    tick_type = ticks.select(F.struct(*ticks.columns).alias("s")).schema["s"].dataType
    return trades.select(
        F.lit(TRADE).alias("input"),
        F.struct(*trades.columns).alias("trade"),
        F.lit(None).cast(tick_type).alias("tick"),
    ).unionByName(
        ticks.select(
            F.lit(TICK).alias("input"),
            F.lit(None).cast(trade_type).alias("trade"),
            F.struct(*ticks.columns).alias("tick"),
        )
    )


def split_inputs(batch: DataFrame) -> tuple[DataFrame, DataFrame]:
    """A micro-batch of :func:`batch_inputs` -> ``(trades, ticks)`` with their silver columns."""
    return (
        batch.where(F.col("input") == TRADE).select("trade.*"),
        batch.where(F.col("input") == TICK).select("tick.*"),
    )


def utc_date(timestamp: Column) -> Column:
    """The UTC calendar date of ``timestamp``, whatever the session time zone."""
    return F.date_from_unix_date(F.floor(F.unix_seconds(timestamp) / 86400).cast("int"))


def batch_event_time(trades: DataFrame, ticks: DataFrame) -> DataFrame:
    """One row, ``event_ts``: the latest trade_ts or tick_ts of the batch (null for an empty batch)."""
    times = trades.select(F.col("trade_ts").alias("event_ts")).unionByName(
        ticks.select(F.col("tick_ts").alias("event_ts"))
    )
    return times.agg(F.max("event_ts").alias("event_ts"))


def _mark_order() -> Column:
    return F.struct("mark_ts", "sequence", "tiebreak", "price", "source")


def batch_marks(trades: DataFrame, ticks: DataFrame) -> DataFrame:
    """The batch's latest mark per instrument and per currency (MARKS_DDL columns but applied_batch_id).

    Instrument marks come from PRICE ticks and NEW / AMEND trades (a CANCEL repeats an old price),
    currency marks from FX ticks; the latest by ``(mark_ts, sequence, id of the tick or event)``.
    """
    from_trades = trades.where(F.col("event_type") != "CANCEL").select(
        F.lit(INSTRUMENT_MARK).alias("mark_type"),
        F.col("instrument_id").alias("id"),
        F.coalesce(F.col("price").cast("double"), F.col("reference_price")).alias("price"),
        F.col("trade_ts").alias("mark_ts"),
        F.lit(TRADE_SEQUENCE).cast("long").alias("sequence"),
        F.col("event_id").alias("tiebreak"),
        F.lit(TRADE).alias("source"),
    )
    from_ticks = ticks.select(
        F.when(F.col("tick_type") == "FX", F.lit(FX_MARK)).otherwise(F.lit(INSTRUMENT_MARK)).alias("mark_type"),
        F.col("instrument_id").alias("id"),
        F.col("price").cast("double").alias("price"),
        F.col("tick_ts").alias("mark_ts"),
        F.col("sequence").cast("long").alias("sequence"),
        F.col("tick_id").alias("tiebreak"),
        F.lit(TICK).alias("source"),
    )
    latest = F.max(_mark_order()).alias("latest")
    return (
        from_trades.unionByName(from_ticks)
        .groupBy("mark_type", "id")
        .agg(latest)
        .select(
            "mark_type",
            "id",
            F.col("latest.price").alias("price"),
            F.col("latest.mark_ts").alias("mark_ts"),
            F.col("latest.sequence").alias("sequence"),
            F.col("latest.source").alias("source"),
        )
    )


MARK_IS_LATER = "(s.mark_ts > t.mark_ts OR (s.mark_ts = t.mark_ts AND s.sequence > t.sequence))"
"""The MERGE condition under which a batch's mark replaces gold.marks' (marks only move forward)."""


def remark_positions(marks: DataFrame, fx_rates: DataFrame) -> Transform:
    """Positions (gold.positions rows) -> the same keys with ``last_price, last_price_ts, fx_rate_to_base,
    market_value_base`` re-marked from gold.marks and the reference FX rates (rules in the module doc)."""

    def transform(positions: DataFrame) -> DataFrame:
        instrument_marks = marks.where(F.col("mark_type") == INSTRUMENT_MARK).select(
            F.col("id").alias("instrument_id"), F.col("price").alias("_mark_price"), F.col("mark_ts").alias("_mark_ts")
        )
        fx = marks.where(F.col("mark_type") == FX_MARK).select(F.col("id").alias("_currency"), F.col("price"))
        reference = fx_rates.select(F.col("currency").alias("_currency"), F.col("usd_rate"))
        rates = reference.join(fx, "_currency", "full").select(
            "_currency", F.col("price").alias("_fx_mark"), F.coalesce("price", "usd_rate").alias("_usd")
        )
        instrument_rates = rates.select(
            F.col("_currency").alias("instrument_currency"),
            F.col("_fx_mark").alias("_instrument_fx_mark"),
            F.col("_usd").alias("_instrument_usd"),
        )
        base_rates = rates.select(
            F.col("_currency").alias("base_currency"),
            F.col("_fx_mark").alias("_base_fx_mark"),
            F.col("_usd").alias("_base_usd"),
        )
        marked = (
            positions.join(instrument_marks, "instrument_id", "left")
            .join(instrument_rates, "instrument_currency", "left")
            .join(base_rates, "base_currency", "left")
        )
        newer = F.col("_mark_ts").isNotNull() & (
            F.col("last_price_ts").isNull() | (F.col("_mark_ts") > F.col("last_price_ts"))
        )
        has_fx_mark = F.col("_instrument_fx_mark").isNotNull() | F.col("_base_fx_mark").isNotNull()
        last_price = F.when(newer, F.col("_mark_price")).otherwise(F.col("last_price"))
        fx_rate = F.when(has_fx_mark, F.col("_instrument_usd") / F.col("_base_usd")).otherwise(F.col("fx_rate_to_base"))
        return marked.select(
            "portfolio_id",
            "instrument_id",
            last_price.alias("last_price"),
            F.when(newer, F.col("_mark_ts")).otherwise(F.col("last_price_ts")).alias("last_price_ts"),
            fx_rate.alias("fx_rate_to_base"),
            (F.col("net_quantity").cast("double") * last_price * F.col("multiplier") * fx_rate).alias(
                "market_value_base"
            ),
        )

    return transform


def affected_positions(trades: DataFrame, marks: DataFrame, positions: DataFrame) -> DataFrame:
    """(portfolio_id, instrument_id) of the positions a batch may change: traded ones, those in an
    instrument with a new mark and those with a currency (instrument or base) with a new FX mark."""
    instruments = marks.where(F.col("mark_type") == INSTRUMENT_MARK).select(F.col("id").alias("instrument_id"))
    currencies = marks.where(F.col("mark_type") == FX_MARK).select(F.col("id").alias("_currency"))
    by_instrument = positions.join(instruments, "instrument_id", "left_semi")
    by_currency = positions.join(
        currencies,
        (positions["instrument_currency"] == currencies["_currency"])
        | (positions["base_currency"] == currencies["_currency"]),
        "left_semi",
    )
    keys = ["portfolio_id", "instrument_id"]
    return (
        trades.select(*keys).unionByName(by_instrument.select(*keys)).unionByName(by_currency.select(*keys)).distinct()
    )


def pnl_flows(trades: DataFrame) -> DataFrame:
    """A batch's events -> per (portfolio_id, instrument_id) its buy and sell quantities and amounts."""
    buy = F.col("side") == "BUY"
    sell = F.col("side") == "SELL"

    def total(condition: Column, column: str, sign: int, cast: str) -> Column:
        return F.coalesce(F.sum(F.when(condition, F.col(column) * F.lit(sign))), F.lit(0)).cast(cast)

    return trades.groupBy("portfolio_id", "instrument_id").agg(
        total(buy, "delta_quantity", 1, "decimal(38,8)").alias("batch_buy_quantity"),
        total(buy, "delta_cost_base", 1, "double").alias("batch_buy_cost_base"),
        total(sell, "delta_quantity", -1, "decimal(38,8)").alias("batch_sell_quantity"),
        total(sell, "delta_cost_base", -1, "double").alias("batch_sell_proceeds_base"),
    )


def _realized(
    sod_quantity: Column, sod_value: Column, buy_qty: Column, buy_cost: Column, sell_qty: Column, sell_proceeds: Column
) -> Column:
    """Average-cost realized P&L of the day (module doc), all arguments double columns."""
    long_entry = sod_quantity + buy_qty
    long_closed = F.least(sell_qty, long_entry)
    long_realized = long_closed * (sell_proceeds / sell_qty - (sod_value + buy_cost) / long_entry)
    short_entry = -sod_quantity + sell_qty
    short_closed = F.least(buy_qty, short_entry)
    short_realized = short_closed * ((sell_proceeds - sod_value) / short_entry - buy_cost / buy_qty)
    return (
        F.when(sod_quantity >= 0, F.when(long_closed > 0, long_realized))
        .otherwise(F.when(short_closed > 0, short_realized))
        .cast("double")
    )


def pnl_rows(
    previous: DataFrame, flows: DataFrame, positions: DataFrame, event_time: DataFrame, batch_id: int
) -> DataFrame:
    """The gold.pnl rows a batch writes, one per affected position (PNL_DDL columns).

    Args:
        previous: each affected position's latest gold.pnl row (any earlier or the same trading day).
        flows: :func:`pnl_flows` of the batch.
        positions: the affected positions after re-marking (gold.positions columns).
        event_time: :func:`batch_event_time` (one row); its UTC date is the trading day.
        batch_id: stamped as ``applied_batch_id``; the MERGE skips rows already at this batch.
    """
    keys = ["portfolio_id", "instrument_id"]
    day = event_time.select(utc_date(F.col("event_ts")).alias("_day"))
    prior = previous.select(
        *keys, *[F.col(name).alias(f"_prev_{name}") for name in previous.columns if name not in keys]
    )
    rows = (
        positions.select(*keys, "base_currency", "net_quantity", "last_price", "fx_rate_to_base", "market_value_base")
        .join(flows, keys, "left")
        .join(prior, keys, "left")
        .crossJoin(day)
    )
    same_day = F.col("_prev_trading_date") == F.col("_day")
    zero_quantity = F.lit(0).cast("decimal(38,8)")

    def flow(name: str, zero: Column) -> Column:
        return F.coalesce(F.col(f"batch_{name}"), zero)

    def carried(name: str, zero: Column) -> Column:
        return F.when(same_day, F.col(f"_prev_day_{name}")).otherwise(zero)

    batch_quantity = flow("buy_quantity", zero_quantity) - flow("sell_quantity", zero_quantity)
    quantity_before = F.col("net_quantity") - batch_quantity
    unit_value = F.when(
        F.col("net_quantity") != 0, F.col("market_value_base") / F.col("net_quantity").cast("double")
    ).otherwise(F.lit(0.0))
    first_seen_value = quantity_before.cast("double") * unit_value
    sod_quantity = (
        F.when(same_day, F.col("_prev_sod_net_quantity"))
        .when(F.col("_prev_trading_date").isNotNull(), F.col("_prev_net_quantity"))
        .otherwise(quantity_before)
        .cast("decimal(38,8)")
    )
    sod_value = (
        F.when(same_day, F.col("_prev_sod_market_value_base"))
        .when(F.col("_prev_trading_date").isNotNull(), F.col("_prev_market_value_base"))
        .otherwise(first_seen_value)
        .cast("double")
    )
    with_day = rows.select(
        *keys,
        F.col("_day").alias("trading_date"),
        "base_currency",
        "net_quantity",
        "last_price",
        "fx_rate_to_base",
        "market_value_base",
        sod_quantity.alias("sod_net_quantity"),
        sod_value.alias("sod_market_value_base"),
        (carried("buy_quantity", zero_quantity) + flow("buy_quantity", zero_quantity))
        .cast("decimal(38,8)")
        .alias("day_buy_quantity"),
        (carried("buy_cost_base", F.lit(0.0)) + flow("buy_cost_base", F.lit(0.0))).alias("day_buy_cost_base"),
        (carried("sell_quantity", zero_quantity) + flow("sell_quantity", zero_quantity))
        .cast("decimal(38,8)")
        .alias("day_sell_quantity"),
        (carried("sell_proceeds_base", F.lit(0.0)) + flow("sell_proceeds_base", F.lit(0.0))).alias(
            "day_sell_proceeds_base"
        ),
    )
    total = (
        F.col("market_value_base")
        - F.col("sod_market_value_base")
        - (F.col("day_buy_cost_base") - F.col("day_sell_proceeds_base"))
    )
    realized = F.coalesce(
        _realized(
            F.col("sod_net_quantity").cast("double"),
            F.col("sod_market_value_base"),
            F.col("day_buy_quantity").cast("double"),
            F.col("day_buy_cost_base"),
            F.col("day_sell_quantity").cast("double"),
            F.col("day_sell_proceeds_base"),
        ),
        F.lit(0.0),
    )
    return (
        with_day.withColumn("total_pnl_base", total)
        .withColumn("realized_pnl_base", realized)
        .withColumn("unrealized_pnl_base", F.col("total_pnl_base") - F.col("realized_pnl_base"))
        .withColumn("applied_batch_id", F.lit(batch_id).cast("long"))
        .select(*schema(PNL_DDL).fieldNames())
    )


def latest_pnl(pnl: DataFrame, keys: DataFrame) -> DataFrame:
    """Each of ``keys``' (portfolio_id, instrument_id) latest gold.pnl row (by trading_date)."""
    latest = F.max_by(F.struct(*pnl.columns), F.col("trading_date")).alias("row")
    return (
        pnl.join(keys, ["portfolio_id", "instrument_id"], "left_semi")
        .groupBy("portfolio_id", "instrument_id")
        .agg(latest)
        .select("row.*")
    )


def marks_to_store(marks: DataFrame, batch_id: int) -> DataFrame:
    """:func:`batch_marks` rows in MARKS_DDL order, stamped with the batch."""
    return marks.withColumn("applied_batch_id", F.lit(batch_id).cast("long")).select(*schema(MARKS_DDL).fieldNames())


def event_times(trades: DataFrame, ticks: DataFrame) -> DataFrame:
    """``(portfolio_id, trade_ts)`` of the batch's trades plus each tick's time with a null portfolio:
    the alert rules' trigger times, so a batch of ticks alone still dates its alerts."""
    return trades.select("portfolio_id", "trade_ts").unionByName(
        ticks.select(F.lit(None).cast("string").alias("portfolio_id"), F.col("tick_ts").alias("trade_ts"))
    )
