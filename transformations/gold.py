"""Gold transformations: windowed aggregates, position deltas, portfolio risk and alert rules.

All functions are pure (DataFrame -> DataFrame); jobs/gold.py reads silver.trades and reference
data, applies them and MERGEs the results. Amounts are in the portfolio's base currency
(``*_base``), signs follow transformations/schemas.py (BUY positive, SELL negative).

Windowed aggregates over lifecycle events (``portfolio_risk_1m``, ``exposure_by_asset_class_5m``)
measure *trading activity* by event time (``trade_ts``):

* ``trade_count`` counts NEW events in the window; ``amend_count`` / ``cancel_count`` count the
  AMEND / CANCEL events whose own ``trade_ts`` falls in the window.
* ``gross/net/buy/sell_notional_base``, ``largest_trade_notional_base``, ``mean/max_risk_score``
  and ``instruments_traded`` are over the NEW events only, each with its own ``notional_base``
  (>= 0) / ``signed_notional_base``: a window says what was booked in it, and a later correction
  does not rewrite an earlier window's activity.
* ``net_delta_notional_base`` is the sum of ``delta_notional_base`` over all events in the
  window, AMEND and CANCEL included: the net change the window made to the book, so a NEW and its
  CANCEL in the same window net to 0. Position effects of AMEND / CANCEL are in gold.positions.
* Empty measures are 0 (sums) or null (largest, mean, max) when a window holds no NEW event.

Windows are tumbling ``1 minute`` (per portfolio) and ``5 minutes`` sliding every ``1 minute``
(per desk and asset class), on ``trade_ts`` with a watermark; in update mode each micro-batch
emits the full current value of every window it changed, which the job upserts on the table key,
so a late event within the watermark replaces its window's row instead of adding a second one.
An event older than the watermark still counts in those of its windows that end after the watermark
(Spark's rule): with sliding windows a late event can land in its newest window only.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations import Transform
from transformations.risk import RISK_INPUT_COLUMNS, RiskModel, portfolio_risk_frame

PORTFOLIO_RISK_1M_DDL = (
    "portfolio_id string, window_start timestamp, window_end timestamp, trade_count long, amend_count long, "
    "cancel_count long, gross_notional_base double, net_notional_base double, buy_notional_base double, "
    "sell_notional_base double, net_delta_notional_base double, largest_trade_notional_base double, "
    "mean_risk_score double, max_risk_score double, instruments_traded int"
)
EXPOSURE_BY_ASSET_CLASS_5M_DDL = (
    "desk string, asset_class string, window_start timestamp, window_end timestamp, trade_count long, "
    "gross_notional_base double, net_notional_base double, buy_notional_base double, sell_notional_base double, "
    "net_delta_notional_base double"
)
POSITIONS_DDL = (
    "portfolio_id string, instrument_id string, desk string, asset_class string, sector string, "
    "base_currency string, instrument_currency string, multiplier double, fx_rate_to_base double, "
    "net_quantity decimal(38,8), cost_basis_base double, average_cost_base double, last_price double, "
    "last_price_ts timestamp, market_value_base double, applied_batch_id long"
)
"""gold.positions (key portfolio_id, instrument_id).

``net_quantity`` = sum of ``delta_quantity`` (instrument units, signed); ``cost_basis_base`` = sum of
``delta_cost_base``; ``average_cost_base`` = cost_basis_base / net_quantity, base currency per
instrument unit (multiplier included), null when net_quantity is 0; ``last_price`` is the price of
the instrument's latest trade (by trade_ts, any portfolio) or its reference price when none;
``market_value_base`` = net_quantity x last_price x multiplier x fx_rate_to_base, where
fx_rate_to_base is the rate on the position's latest trade. ``applied_batch_id`` is the streaming
batch that last changed the row; the MERGE skips rows already at that batch, which makes a
replayed batch a no-op."""

MARKS_DDL = (
    "mark_type string, id string, price double, mark_ts timestamp, sequence long, source string, applied_batch_id long"
)
"""gold.marks (key mark_type, id): the latest price gold has seen per instrument (``mark_type``
``instrument``: a PRICE tick or a trade, in the instrument's currency) and per currency (``fx``: an FX
tick, USD per unit). A mark replaces another only when it is later by ``(mark_ts, sequence)``; a
trade's sequence is -1, so a tick at the same instant wins."""

PNL_DDL = (
    "portfolio_id string, instrument_id string, trading_date date, base_currency string, "
    "net_quantity decimal(38,8), last_price double, fx_rate_to_base double, market_value_base double, "
    "sod_net_quantity decimal(38,8), sod_market_value_base double, "
    "day_buy_quantity decimal(38,8), day_buy_cost_base double, day_sell_quantity decimal(38,8), "
    "day_sell_proceeds_base double, realized_pnl_base double, unrealized_pnl_base double, total_pnl_base double, "
    "applied_batch_id long"
)
"""gold.pnl (key portfolio_id, instrument_id, trading_date): each position's P&L since the start of the
trading day, in base currency; the rules are in :func:`pnl_rows`."""

PORTFOLIO_RISK_DDL = (
    "portfolio_id string, position_count long, gross_exposure_base double, net_exposure_base double, "
    "exposure_by_asset_class map<string,double>, largest_position_share double, herfindahl_index double, "
    "sigma_1d_base double, var_95_1d double, var_99_1d double, var_95_10d double, var_99_10d double, "
    "gross_limit double, var_limit double, gross_limit_utilisation double, var_limit_utilisation double, "
    "es_975_1d_param double, hist_var_95_1d double, hist_var_99_1d double, hist_var_95_10d_sqrt double, "
    "hist_var_99_10d_sqrt double, hist_var_95_10d_overlap double, hist_var_99_10d_overlap double, "
    "es_975_1d_hist double, scenario_count int, unmodelled_factors array<string>, correlation_repaired boolean, "
    "correlation_min_eigenvalue double, stress_pnl map<string,double>, worst_stress_scenario string, "
    "worst_stress_loss_base double, stress_loss_limit double, stress_limit_utilisation double"
)
"""gold.portfolio_risk (key portfolio_id); see transformations/risk.py for units and conventions. The
columns from ``es_975_1d_param`` on came with the risk-factor model; a table made by an earlier release
gets them with ``ALTER TABLE ADD COLUMNS`` (null in its old rows until the portfolio is recomputed)."""

RISK_ALERTS_DDL = (
    "alert_id string, portfolio_id string, rule string, window_start timestamp, window_end timestamp, "
    "measured_value double, limit_value double, utilisation double, trade_id string, last_trade_ts timestamp"
)
"""gold.risk_alerts (key portfolio_id, rule, window_start). ``alert_id`` = sha256 of the key, the
dedupe key for consumers of the alerts topic."""

ALERT_RULES = ("gross_limit", "var_limit", "concentration", "stress_loss", "single_trade")


def _is_new() -> Column:
    return F.col("event_type") == "NEW"


def _when_new(column: str) -> Column:
    return F.when(_is_new(), F.col(column))


def _count_of(event_type: str) -> Column:
    return F.sum(F.when(F.col("event_type") == event_type, 1).otherwise(0)).cast("long")


def _activity_measures() -> list[Column]:
    """Aggregates shared by both windowed tables (semantics in the module docstring)."""
    signed = _when_new("signed_notional_base")
    return [
        _count_of("NEW").alias("trade_count"),
        F.coalesce(F.sum(_when_new("notional_base")), F.lit(0.0)).alias("gross_notional_base"),
        F.coalesce(F.sum(signed), F.lit(0.0)).alias("net_notional_base"),
        F.coalesce(F.sum(F.when(_is_new() & (F.col("side") == "BUY"), F.col("notional_base"))), F.lit(0.0)).alias(
            "buy_notional_base"
        ),
        F.coalesce(F.sum(F.when(_is_new() & (F.col("side") == "SELL"), F.col("notional_base"))), F.lit(0.0)).alias(
            "sell_notional_base"
        ),
        F.coalesce(F.sum("delta_notional_base"), F.lit(0.0)).alias("net_delta_notional_base"),
    ]


def portfolio_risk_1m(watermark: str) -> Transform:
    """silver.trades -> one row per (portfolio_id, 1-minute tumbling window of trade_ts)."""

    def transform(trades: DataFrame) -> DataFrame:
        activity = _activity_measures()
        return (
            trades.withWatermark("trade_ts", watermark)
            .groupBy("portfolio_id", F.window("trade_ts", "1 minute").alias("window"))
            .agg(
                *activity[:1],
                _count_of("AMEND").alias("amend_count"),
                _count_of("CANCEL").alias("cancel_count"),
                *activity[1:],
                F.max(_when_new("notional_base")).alias("largest_trade_notional_base"),
                F.avg(_when_new("risk_score")).alias("mean_risk_score"),
                F.max(_when_new("risk_score")).alias("max_risk_score"),
                F.size(F.collect_set(_when_new("instrument_id"))).alias("instruments_traded"),
            )
            .select(
                "portfolio_id",
                F.col("window.start").alias("window_start"),
                F.col("window.end").alias("window_end"),
                "trade_count",
                "amend_count",
                "cancel_count",
                "gross_notional_base",
                "net_notional_base",
                "buy_notional_base",
                "sell_notional_base",
                "net_delta_notional_base",
                "largest_trade_notional_base",
                "mean_risk_score",
                "max_risk_score",
                "instruments_traded",
            )
        )

    return transform


def exposure_by_asset_class_5m(watermark: str) -> Transform:
    """silver.trades -> one row per (desk, asset_class, 5-minute window sliding every minute)."""

    def transform(trades: DataFrame) -> DataFrame:
        return (
            trades.withWatermark("trade_ts", watermark)
            .groupBy("desk", "asset_class", F.window("trade_ts", "5 minutes", "1 minute").alias("window"))
            .agg(*_activity_measures())
            .select(
                "desk",
                "asset_class",
                F.col("window.start").alias("window_start"),
                F.col("window.end").alias("window_end"),
                "trade_count",
                "gross_notional_base",
                "net_notional_base",
                "buy_notional_base",
                "sell_notional_base",
                "net_delta_notional_base",
            )
        )

    return transform


def _mark_price() -> Column:
    return F.coalesce(F.col("price").cast("double"), F.col("reference_price"))


def _latest_mark() -> Column:
    """The (trade_ts, price) of the latest NEW / AMEND event: a CANCEL repeats an old price, it is not a mark."""
    return F.max(
        F.when(F.col("event_type") != "CANCEL", F.struct("trade_ts", "event_id", _mark_price().alias("price")))
    )


def position_deltas(batch_id: int) -> Transform:
    """A micro-batch of silver.trades -> one row per (portfolio_id, instrument_id) to MERGE into positions.

    The latest NEW / AMEND of the position in the batch (by trade_ts, then event_id for a
    deterministic tie-break) gives the price mark, the latest event its FX rate; a position first
    seen without a mark takes the instrument's reference price. ``batch_id`` is stamped so the
    MERGE can skip a replay.
    """

    def transform(trades: DataFrame) -> DataFrame:
        latest_event = F.max(F.struct("trade_ts", "event_id", "fx_rate_to_base", "reference_price"))
        return (
            trades.groupBy("portfolio_id", "instrument_id")
            .agg(
                F.first("desk").alias("desk"),
                F.first("asset_class").alias("asset_class"),
                F.first("sector").alias("sector"),
                F.first("base_currency").alias("base_currency"),
                F.first("instrument_currency").alias("instrument_currency"),
                F.first("multiplier").alias("multiplier"),
                F.sum("delta_quantity").cast("decimal(38,8)").alias("delta_quantity"),
                F.sum("delta_cost_base").alias("delta_cost_base"),
                _latest_mark().alias("mark"),
                latest_event.alias("latest"),
            )
            .select(
                "portfolio_id",
                "instrument_id",
                "desk",
                "asset_class",
                "sector",
                "base_currency",
                "instrument_currency",
                "multiplier",
                "delta_quantity",
                "delta_cost_base",
                F.col("mark.price").alias("last_price"),
                F.col("mark.trade_ts").alias("last_price_ts"),
                F.col("latest.fx_rate_to_base").alias("fx_rate_to_base"),
                F.col("latest.reference_price").alias("reference_price"),
                F.lit(batch_id).cast("long").alias("batch_id"),
            )
        )

    return transform


def market_value(net_quantity: Column, last_price: Column, multiplier: Column, fx_rate_to_base: Column) -> Column:
    """net_quantity x last_price x multiplier x fx_rate_to_base, in base currency, signed like the position."""
    return net_quantity.cast("double") * last_price * multiplier * fx_rate_to_base


def average_cost(cost_basis_base: Column, net_quantity: Column) -> Column:
    """Cost basis per instrument unit in base currency; null for a flat position."""
    return F.when(net_quantity != 0, cost_basis_base / net_quantity.cast("double"))


def positions_for_risk(instruments: DataFrame, portfolios: DataFrame) -> Transform:
    """gold.positions -> the columns :func:`portfolio_risk` needs (current daily_vol and limits)."""

    def transform(positions: DataFrame) -> DataFrame:
        return (
            positions.join(instruments.select("instrument_id", "daily_vol"), "instrument_id", "left")
            .join(
                portfolios.select("portfolio_id", "gross_limit", "var_limit", "stress_loss_limit"),
                "portfolio_id",
                "left",
            )
            .select(*RISK_INPUT_COLUMNS)
        )

    return transform


def portfolio_risk(model: RiskModel, result_schema: str = PORTFOLIO_RISK_DDL) -> Transform:
    """Positions (from :func:`positions_for_risk`) -> one gold.portfolio_risk row per portfolio.

    Runs :func:`transformations.risk.portfolio_risk_frame` per portfolio with ``applyInPandas``:
    VaR needs every position of a portfolio at once (the covariance couples them), a portfolio's
    positions fit in one executor task, and portfolios are computed in parallel instead of on the
    driver. The risk model (correlations, EWMA estimates and scenarios) is small and shipped with the
    function.
    """

    def compute(positions: pd.DataFrame) -> pd.DataFrame:
        return portfolio_risk_frame(positions, model)

    def transform(positions: DataFrame) -> DataFrame:
        return positions.groupBy("portfolio_id").applyInPandas(compute, schema=result_schema)

    return transform


def minute_window_start(timestamp: Column) -> Column:
    """Start of the 1-minute tumbling window holding ``timestamp`` (the same as ``window(ts, '1 minute')``)."""
    return F.date_trunc("minute", timestamp)


def _alert_key(rule: Column) -> Column:
    return F.sha2(F.concat_ws("|", F.col("portfolio_id"), rule, F.col("window_start").cast("string")), 256)


def single_trade_alerts(portfolios: DataFrame, single_trade_limit_share: float) -> Transform:
    """Events -> a single_trade alert per (portfolio, 1-minute window) whose largest NEW/AMEND exceeds the limit.

    The limit is the portfolio's ``single_trade_limit``, or ``single_trade_limit_share x
    gross_limit`` when it has none. CANCEL events never alert. The window's alert carries its
    largest breaching trade and, as ``last_trade_ts``, the time of its latest breaching trade.
    """

    def transform(trades: DataFrame) -> DataFrame:
        limit = F.coalesce(F.col("single_trade_limit"), F.col("gross_limit") * F.lit(single_trade_limit_share))
        breaches = (
            trades.where(F.col("event_type").isin("NEW", "AMEND"))
            .join(portfolios.select("portfolio_id", "gross_limit", "single_trade_limit"), "portfolio_id")
            .withColumn("limit_value", limit)
            .where(F.col("notional_base") > F.col("limit_value"))
            .withColumn("window_start", minute_window_start(F.col("trade_ts")))
        )
        largest = F.max(F.struct("notional_base", "trade_id", "limit_value", "trade_ts"))
        return (
            breaches.groupBy("portfolio_id", "window_start")
            .agg(largest.alias("largest"), F.max("trade_ts").alias("last_trade_ts"))
            .select(
                "portfolio_id",
                F.lit("single_trade").alias("rule"),
                "window_start",
                F.col("largest.notional_base").alias("measured_value"),
                F.col("largest.limit_value").alias("limit_value"),
                F.col("largest.trade_id").alias("trade_id"),
                "last_trade_ts",
            )
        )

    return transform


def portfolio_alerts(events: DataFrame, concentration_limit: float) -> Transform:
    """gold.portfolio_risk rows of the touched portfolios -> gross_limit / var_limit / concentration /
    stress_loss alerts (a null limit raises none).

    ``events`` are the batch's ``(portfolio_id, trade_ts)``: its trades, and its price ticks with a
    null portfolio (:func:`transformations.marks.event_times`). The alert window is the 1-minute
    window of the portfolio's latest trade in the batch (the change that triggered the
    recomputation); portfolios re-marked by another portfolio's trade or by a tick take the window of
    the batch's latest event.
    """

    def transform(risk: DataFrame) -> DataFrame:
        trigger = events.groupBy("portfolio_id").agg(F.max("trade_ts").alias("last_trade_ts"))
        latest_any = events.agg(F.max("trade_ts").alias("batch_trade_ts"))
        rules = F.array(
            F.struct(
                F.lit("gross_limit").alias("rule"),
                F.col("gross_exposure_base").alias("measured_value"),
                F.col("gross_limit").alias("limit_value"),
            ),
            F.struct(
                F.lit("var_limit").alias("rule"),
                F.col("var_99_1d").alias("measured_value"),
                F.col("var_limit").alias("limit_value"),
            ),
            F.struct(
                F.lit("concentration").alias("rule"),
                F.col("largest_position_share").alias("measured_value"),
                F.lit(concentration_limit).alias("limit_value"),
            ),
            F.struct(
                F.lit("stress_loss").alias("rule"),
                F.col("worst_stress_loss_base").alias("measured_value"),
                F.col("stress_loss_limit").alias("limit_value"),
            ),
        )
        return (
            risk.join(trigger, "portfolio_id", "left")
            .crossJoin(latest_any)
            .withColumn("last_trade_ts", F.coalesce("last_trade_ts", "batch_trade_ts"))
            .withColumn("window_start", minute_window_start(F.col("last_trade_ts")))
            .select("portfolio_id", "window_start", "last_trade_ts", F.explode(rules).alias("check"))
            .where(F.col("check.measured_value") > F.col("check.limit_value"))
            .select(
                "portfolio_id",
                F.col("check.rule").alias("rule"),
                "window_start",
                F.col("check.measured_value").alias("measured_value"),
                F.col("check.limit_value").alias("limit_value"),
                F.lit(None).cast("string").alias("trade_id"),
                "last_trade_ts",
            )
        )

    return transform


def finish_alerts(alerts: DataFrame) -> DataFrame:
    """Add the alert key, window end and utilisation; columns in RISK_ALERTS_DDL order."""
    return alerts.select(
        _alert_key(F.col("rule")).alias("alert_id"),
        "portfolio_id",
        "rule",
        "window_start",
        (F.col("window_start") + F.expr("INTERVAL 1 MINUTE")).alias("window_end"),
        "measured_value",
        "limit_value",
        (F.col("measured_value") / F.col("limit_value")).alias("utilisation"),
        "trade_id",
        "last_trade_ts",
    )


def alert_records(alerts: DataFrame) -> DataFrame:
    """Alerts -> Kafka records: key portfolio_id, value the alert as JSON (alert_id is the dedupe key)."""
    return alerts.select(
        F.col("portfolio_id").alias("key"),
        F.to_json(F.struct(*[F.col(name) for name in alerts.columns])).alias("value"),
    )
