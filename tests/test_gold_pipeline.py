"""Gold end to end: silver.trades-shaped events -> the gold job (availableNow) -> the five gold tables
and the risk-alerts topic on the real local Kafka broker; every expected value is recomputed in this
file from the fixture events, independently of transformations/gold.py and transformations/risk.py.

Silver is written by another part of the pipeline; until it lands, the silver rows are derived here
from tests/fixtures/gold/events.csv with the lifecycle rules of transformations/schemas.py (NEW adds
the trade, AMEND adds new - previous, CANCEL removes what was open) and the fixture reference data.

Two steps: step 1 books, amends and cancels trades; step 2 brings a newer trade, a late trade for an
earlier window (within the 10-minute watermark: its window row is replaced, not duplicated), a trade
older than the watermark (dropped by the windows, still counted in positions) and an AMEND that
brings a portfolio back under its VaR limit. A third run and a replayed micro-batch change nothing.
"""

from __future__ import annotations

import csv
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import gold as gold_job
from riskstream import kafka_broker
from riskstream.config import RiskConfig, Settings
from riskstream.kafka_broker import BrokerInfo
from riskstream.kafka_options import spark_sink_options
from riskstream.monitoring import ProgressCollector, progress_row
from riskstream.tables import Catalog
from tests.independent_risk import Held, factor_sigma
from transformations.gold import (
    EXPOSURE_BY_ASSET_CLASS_5M_DDL,
    PORTFOLIO_RISK_1M_DDL,
    PORTFOLIO_RISK_DDL,
    POSITIONS_DDL,
)
from transformations.marks import batch_inputs
from transformations.schemas import (
    CORRELATIONS_DDL,
    FX_RATES_DDL,
    INSTRUMENTS_DDL,
    PORTFOLIOS_DDL,
    SILVER_PRICES_DDL,
    SILVER_TRADES_DDL,
    schema,
)

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

FIXTURES = Path(__file__).parent / "fixtures" / "gold"
WATERMARK = timedelta(minutes=10)
CONCENTRATION_LIMIT = 0.25
SINGLE_TRADE_LIMIT_SHARE = 0.10
Z95, Z99 = 1.6448536269514722, 2.3263478740408408
PRECISION = 1e-6


def _csv(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _num(text: str) -> float | None:
    return float(text) if text else None


PORTFOLIOS = {row["portfolio_id"]: row for row in _csv("portfolios.csv")}
INSTRUMENTS = {row["instrument_id"]: row for row in _csv("instruments.csv")}
USD_RATES = {row["currency"]: float(row["usd_rate"]) for row in _csv("fx_rates.csv")}
CORRELATION_ROWS = _csv("correlations.csv")
INTRA_SECTOR_CORRELATION = RiskConfig().intra_sector_correlation


def _silver_rows() -> list[tuple[int, dict[str, Any]]]:
    """(step, silver.trades row) per fixture event, with lifecycle deltas computed trade by trade."""
    open_trades: dict[str, tuple[Decimal, float]] = {}
    rows = []
    for event in _csv("events.csv"):
        instrument, portfolio = INSTRUMENTS[event["instrument_id"]], PORTFOLIOS[event["portfolio_id"]]
        multiplier = float(instrument["multiplier"])
        fx_to_base = USD_RATES[instrument["currency"]] / USD_RATES[portfolio["base_currency"]]
        quantity, price = Decimal(event["quantity"]), Decimal(event["price"])
        sign = 1 if event["side"] == "BUY" else -1
        signed_quantity = sign * quantity
        notional = float(quantity * price) * multiplier
        signed_cost_base = float(signed_quantity * price) * multiplier * fx_to_base
        previous_quantity, previous_cost = open_trades.get(event["trade_id"], (Decimal(0), 0.0))
        if event["event_type"] == "CANCEL":
            delta_quantity, delta_cost = -previous_quantity, -previous_cost
            open_trades[event["trade_id"]] = (Decimal(0), 0.0)
        else:
            delta_quantity, delta_cost = signed_quantity - previous_quantity, signed_cost_base - previous_cost
            open_trades[event["trade_id"]] = (signed_quantity, signed_cost_base)
        row = {
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "trade_id": event["trade_id"],
            "trade_version": int(event["trade_version"]),
            "schema_version": 1,
            "portfolio_id": event["portfolio_id"],
            "instrument_id": event["instrument_id"],
            "side": event["side"],
            "quantity": quantity,
            "price": price,
            "currency": instrument["currency"],
            "trade_ts": _ts(event["trade_ts"]),
            "source_system": "fixture",
            "previous_trade_version": int(event["trade_version"]) - 1 or None,
            "signed_quantity": signed_quantity,
            "delta_quantity": delta_quantity,
            "desk": portfolio["desk"],
            "base_currency": portfolio["base_currency"],
            "asset_class": instrument["asset_class"],
            "sector": instrument["sector"],
            "instrument_currency": instrument["currency"],
            "multiplier": multiplier,
            "daily_vol": float(instrument["daily_vol"]),
            "reference_price": float(instrument["reference_price"]),
            "fx_rate_to_base": fx_to_base,
            "notional": notional,
            "notional_base": notional * fx_to_base,
            "signed_notional_base": sign * notional * fx_to_base,
            "delta_notional_base": delta_cost,
            "delta_cost_base": delta_cost,
            "risk_score": float(event["risk_score"]),
            "risk_reasons": [],
            "source_topic": "trades",
            "source_partition": 0,
            "source_offset": len(rows),
        }
        rows.append((int(event["step"]), row))
    return rows


SILVER = _silver_rows()
STEP_1 = [row for step, row in SILVER if step == 1]
STEP_2 = [row for step, row in SILVER if step == 2]


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def _activity(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The documented window semantics: activity over NEW events, net delta over all events."""
    new = [e for e in events if e["event_type"] == "NEW"]
    return {
        "trade_count": len(new),
        "amend_count": sum(e["event_type"] == "AMEND" for e in events),
        "cancel_count": sum(e["event_type"] == "CANCEL" for e in events),
        "gross_notional_base": sum((e["notional_base"] for e in new), 0.0),
        "net_notional_base": sum((e["signed_notional_base"] for e in new), 0.0),
        "buy_notional_base": sum((e["notional_base"] for e in new if e["side"] == "BUY"), 0.0),
        "sell_notional_base": sum((e["notional_base"] for e in new if e["side"] == "SELL"), 0.0),
        "net_delta_notional_base": sum((e["delta_notional_base"] for e in events), 0.0),
        "largest_trade_notional_base": max((e["notional_base"] for e in new), default=None),
        "mean_risk_score": sum(e["risk_score"] for e in new) / len(new) if new else None,
        "max_risk_score": max((e["risk_score"] for e in new), default=None),
        "instruments_traded": len({e["instrument_id"] for e in new}),
    }


def _with_watermarks(*steps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], datetime]]:
    """Each event with the watermark its run applies: the latest trade_ts of earlier runs minus 10 minutes."""
    tagged, seen = [], []
    for step in steps:
        watermark = max((e["trade_ts"] for e in seen), default=datetime.min + WATERMARK) - WATERMARK
        tagged += [(event, watermark) for event in step]
        seen += step
    return tagged


def _windowed(
    events: list[tuple[dict[str, Any], datetime]], length: timedelta, key: Callable[[dict[str, Any]], tuple]
) -> dict[tuple, list[dict[str, Any]]]:
    """Events by (key, window_start) for windows of ``length`` sliding every minute.

    Spark's rule for late data in a window aggregation: an event still counts in those of its
    windows that end after the watermark, and is dropped from the others.
    """
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for event, watermark in events:
        for back in range(length // timedelta(minutes=1)):
            start = _minute(event["trade_ts"]) - timedelta(minutes=back)
            if start + length > watermark:
                groups[(*key(event), start)].append(event)
    return groups


def _expected_1m(events: list[tuple[dict[str, Any], datetime]]) -> list[dict[str, Any]]:
    groups = _windowed(events, timedelta(minutes=1), lambda e: (e["portfolio_id"],))
    return [
        {"portfolio_id": p, "window_start": start, "window_end": start + timedelta(minutes=1), **_activity(events)}
        for (p, start), events in groups.items()
    ]


def _expected_5m(events: list[tuple[dict[str, Any], datetime]]) -> list[dict[str, Any]]:
    groups = _windowed(events, timedelta(minutes=5), lambda e: (e["desk"], e["asset_class"]))
    rows = []
    for (desk, asset_class, start), events in groups.items():
        activity = _activity(events)
        rows.append(
            {
                "desk": desk,
                "asset_class": asset_class,
                "window_start": start,
                "window_end": start + timedelta(minutes=5),
                **{key: activity[key] for key in ("trade_count", "gross_notional_base", "net_notional_base")},
                **{key: activity[key] for key in ("buy_notional_base", "sell_notional_base")},
                "net_delta_notional_base": activity["net_delta_notional_base"],
            }
        )
    return rows


def _expected_positions(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    marks: dict[str, tuple[datetime, float]] = {}
    for event in events:
        if event["event_type"] != "CANCEL":
            mark = (event["trade_ts"], float(event["price"]))
            marks[event["instrument_id"]] = max(marks.get(event["instrument_id"], mark), mark)
    positions: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        key = (event["portfolio_id"], event["instrument_id"])
        position = positions.setdefault(
            key,
            {
                "net_quantity": Decimal(0),
                "cost_basis_base": 0.0,
                **{k: event[k] for k in ("desk", "asset_class", "sector", "base_currency", "instrument_currency")},
                **{k: event[k] for k in ("multiplier", "fx_rate_to_base")},
            },
        )
        position["net_quantity"] += event["delta_quantity"]
        position["cost_basis_base"] += event["delta_cost_base"]
    for (portfolio_id, instrument_id), position in positions.items():
        quantity = float(position["net_quantity"])
        last_price_ts, last_price = marks[instrument_id]
        position.update(
            portfolio_id=portfolio_id,
            instrument_id=instrument_id,
            average_cost_base=position["cost_basis_base"] / quantity if quantity else None,
            last_price=last_price,
            last_price_ts=last_price_ts,
            market_value_base=quantity * last_price * position["multiplier"] * position["fx_rate_to_base"],
        )
    return positions


def _correlation(a: str, b: str) -> float:
    if a == b:
        return 1.0
    by_level = {
        (row["level"], frozenset((row["left_id"], row["right_id"]))): float(row["correlation"])
        for row in CORRELATION_ROWS
    }
    if ("instrument", frozenset((a, b))) in by_level:
        return by_level[("instrument", frozenset((a, b)))]
    sectors = frozenset((INSTRUMENTS[a]["sector"], INSTRUMENTS[b]["sector"]))
    if len(sectors) == 1:
        return INTRA_SECTOR_CORRELATION
    return by_level.get(("sector", sectors), 0.0)


def _expected_risk(positions: dict[tuple[str, str], dict[str, Any]], portfolio_id: str) -> dict[str, Any]:
    """Variance-covariance VaR over instrument and currency factors (tests/independent_risk.py)."""
    held = {i: p["market_value_base"] for (pid, i), p in positions.items() if pid == portfolio_id}
    held = {i: w for i, w in held.items() if w != 0.0}
    base = PORTFOLIOS[portfolio_id]["base_currency"]
    sigma = factor_sigma(
        [Held(i, INSTRUMENTS[i]["currency"], base, w, float(INSTRUMENTS[i]["daily_vol"])) for i, w in held.items()],
        _correlation,
    )
    gross = sum(abs(w) for w in held.values())
    shares = [abs(w) / gross for w in held.values()]
    by_class: dict[str, float] = defaultdict(float)
    for instrument_id, exposure in held.items():
        by_class[INSTRUMENTS[instrument_id]["asset_class"]] += exposure
    limits = PORTFOLIOS[portfolio_id]
    gross_limit, var_limit = float(limits["gross_limit"]), float(limits["var_limit"])
    return {
        "portfolio_id": portfolio_id,
        "position_count": len(held),
        "gross_exposure_base": gross,
        "net_exposure_base": sum(held.values()),
        "exposure_by_asset_class": dict(by_class),
        "largest_position_share": max(shares),
        "herfindahl_index": sum(s * s for s in shares),
        "sigma_1d_base": sigma,
        "var_95_1d": Z95 * sigma,
        "var_99_1d": Z99 * sigma,
        "var_95_10d": Z95 * sigma * math.sqrt(10),
        "var_99_10d": Z99 * sigma * math.sqrt(10),
        "gross_limit": gross_limit,
        "var_limit": var_limit,
        "gross_limit_utilisation": gross / gross_limit,
        "var_limit_utilisation": Z99 * sigma / var_limit,
    }


def _expected_alerts(step: list[dict[str, Any]], before: list[dict[str, Any]]) -> dict[tuple[str, str, datetime], dict]:
    """The alerts one micro-batch (one step) raises, by (portfolio_id, rule, window_start)."""
    positions = _expected_positions(before + step)
    traded = {e["instrument_id"] for e in step}
    touched = {e["portfolio_id"] for e in step} | {p for (p, i), pos in positions.items() if i in traded}
    alerts = {}
    for portfolio_id in sorted(touched):
        risk = _expected_risk(positions, portfolio_id)
        own = [e["trade_ts"] for e in step if e["portfolio_id"] == portfolio_id]
        last_trade_ts = max(own or [e["trade_ts"] for e in step])
        checks = [
            ("gross_limit", risk["gross_exposure_base"], risk["gross_limit"]),
            ("var_limit", risk["var_99_1d"], risk["var_limit"]),
            ("concentration", risk["largest_position_share"], CONCENTRATION_LIMIT),
        ]
        for rule, measured, limit in checks:
            if measured > limit:
                alerts[(portfolio_id, rule, _minute(last_trade_ts))] = {
                    "measured_value": measured,
                    "limit_value": limit,
                    "trade_id": None,
                    "last_trade_ts": last_trade_ts,
                }
    for event in sorted(step, key=lambda e: (e["notional_base"], e["trade_id"])):
        limits = PORTFOLIOS[event["portfolio_id"]]
        limit = _num(limits["single_trade_limit"]) or SINGLE_TRADE_LIMIT_SHARE * float(limits["gross_limit"])
        if event["event_type"] != "CANCEL" and event["notional_base"] > limit:
            key = (event["portfolio_id"], "single_trade", _minute(event["trade_ts"]))
            earlier_breach = alerts.get(key)  # the window's alert names its largest breach, dated by its latest
            alerts[key] = {
                "measured_value": event["notional_base"],
                "limit_value": limit,
                "trade_id": event["trade_id"],
                "last_trade_ts": max(event["trade_ts"], earlier_breach["last_trade_ts"])
                if earlier_breach
                else event["trade_ts"],
            }
    return alerts


# --- Spark helpers ---------------------------------------------------------------------------------------------


def _write_reference(spark: SparkSession, catalog: Catalog) -> None:
    typed: dict[str, tuple[str, Callable[[dict[str, str]], tuple]]] = {
        "portfolios": (
            PORTFOLIOS_DDL,
            lambda r: (
                *(r[k] for k in ("portfolio_id", "name", "desk", "base_currency")),
                *map(_num, list(r.values())[4:]),
                _num(r.get("stress_loss_limit", "")),  # not in the fixture file: no stress limit
            ),
        ),
        "instruments": (
            INSTRUMENTS_DDL,
            lambda r: (*list(r.values())[:6], *map(_num, list(r.values())[6:])),
        ),
        "fx_rates": (FX_RATES_DDL, lambda r: (r["currency"], float(r["usd_rate"]), _ts(r["as_of"]))),
        "correlations": (
            CORRELATIONS_DDL,
            lambda r: (r["level"], r["left_id"], r["right_id"], float(r["correlation"])),
        ),
    }
    for name, (ddl, convert) in typed.items():
        rows = [convert(row) for row in _csv(f"{name}.csv")]
        spark.createDataFrame(rows, ddl).write.format("delta").save(str(catalog.table("reference", name).path))


def _append_silver(spark: SparkSession, catalog: Catalog, rows: list[dict[str, Any]]) -> None:
    spark.createDataFrame(rows, SILVER_TRADES_DDL).write.format("delta").mode("append").save(
        str(catalog.table("silver", "trades").path)
    )


def _gold_batch(spark: SparkSession, trades: list[dict[str, Any]]) -> DataFrame:
    """A gold_positions micro-batch of these silver.trades rows and no ticks."""
    return batch_inputs(spark.createDataFrame(trades, SILVER_TRADES_DDL), spark.createDataFrame([], SILVER_PRICES_DDL))


def _frame(spark: SparkSession, rows: Iterable[dict[str, Any]], ddl: str) -> DataFrame:
    columns = [field.split(" ")[0] for field in ddl.split(", ")]
    return spark.createDataFrame([tuple(row.get(c) for c in columns) for row in rows], ddl)


def _table(spark: SparkSession, catalog: Catalog, name: str) -> DataFrame:
    return catalog.table("gold", name).read(spark)


def _history_lengths(spark: SparkSession, catalog: Catalog) -> dict[str, int]:
    return {
        name: spark.sql(f"DESCRIBE HISTORY {catalog.table('gold', name).sql_name}").count()
        for name in gold_job.GOLD_TABLES
    }


def _snapshot(spark: SparkSession, catalog: Catalog) -> dict[str, list]:
    return {name: sorted(map(str, _table(spark, catalog, name).collect())) for name in gold_job.GOLD_TABLES}


def _published(spark: SparkSession, bootstrap: str, topic: str) -> list[dict[str, Any]]:
    records = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value")
        .collect()
    )
    return [{"key": r.key, **json.loads(r.value)} for r in records]


def _assert_windows(spark: SparkSession, catalog: Catalog, accepted: list[tuple[dict[str, Any], datetime]]) -> None:
    assert_approx_df_equality(
        _table(spark, catalog, "portfolio_risk_1m"),
        _frame(spark, _expected_1m(accepted), PORTFOLIO_RISK_1M_DDL),
        PRECISION,
        ignore_nullable=True,
        ignore_row_order=True,
    )
    assert_approx_df_equality(
        _table(spark, catalog, "exposure_by_asset_class_5m"),
        _frame(spark, _expected_5m(accepted), EXPOSURE_BY_ASSET_CLASS_5M_DDL),
        PRECISION,
        ignore_nullable=True,
        ignore_row_order=True,
    )


def _assert_positions(spark: SparkSession, catalog: Catalog, events: list[dict[str, Any]]) -> None:
    expected = _frame(spark, _expected_positions(events).values(), POSITIONS_DDL).drop("applied_batch_id")
    assert_approx_df_equality(
        _table(spark, catalog, "positions").drop("applied_batch_id"),
        expected,
        PRECISION,
        ignore_nullable=True,
        ignore_row_order=True,
    )


def _assert_risk(spark: SparkSession, catalog: Catalog, events: list[dict[str, Any]]) -> None:
    positions = _expected_positions(events)
    actual = {row.portfolio_id: row.asDict() for row in _table(spark, catalog, "portfolio_risk").collect()}
    assert sorted(actual) == sorted(PORTFOLIOS)
    for portfolio_id, row in actual.items():
        expected = _expected_risk(positions, portfolio_id)
        assert row["exposure_by_asset_class"] == pytest.approx(expected.pop("exposure_by_asset_class"), rel=1e-12)
        assert (row["portfolio_id"], row["position_count"]) == (
            expected.pop("portfolio_id"),
            expected.pop("position_count"),
        )
        assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-12), portfolio_id


def _assert_alerts(spark: SparkSession, catalog: Catalog, expected: dict[tuple[str, str, datetime], dict]) -> None:
    actual = {
        (r.portfolio_id, r.rule, r.window_start): r.asDict() for r in _table(spark, catalog, "risk_alerts").collect()
    }
    assert sorted(actual) == sorted(expected)
    for key, values in expected.items():
        row = actual[key]
        assert row["window_end"] == key[2] + timedelta(minutes=1)
        assert (row["trade_id"], row["last_trade_ts"]) == (values["trade_id"], values["last_trade_ts"]), key
        assert row["measured_value"] == pytest.approx(values["measured_value"], rel=1e-12), key
        assert row["limit_value"] == pytest.approx(values["limit_value"], rel=1e-12), key
        assert row["utilisation"] == pytest.approx(values["measured_value"] / values["limit_value"], rel=1e-12), key


def test_gold_end_to_end_with_late_events_and_replays(
    spark: SparkSession, kafka: BrokerInfo, make_settings: Callable[..., Settings]
) -> None:
    alerts_topic = f"risk-alerts-{uuid.uuid4().hex[:10]}"
    kafka_broker.create_topics(kafka.bootstrap_servers, {alerts_topic: 2})
    settings = make_settings(kafka.bootstrap_servers, kafka={"alerts_topic": alerts_topic})
    assert (settings.gold.watermark, settings.gold.concentration_limit) == ("10 minutes", CONCENTRATION_LIMIT)
    assert settings.gold.single_trade_limit_share == SINGLE_TRADE_LIMIT_SHARE
    catalog = Catalog(settings)
    _write_reference(spark, catalog)

    # Step 1: bookings, an AMEND and a CANCEL.
    _append_silver(spark, catalog, STEP_1)
    assert gold_job.run(spark, settings) is None
    _assert_windows(spark, catalog, _with_watermarks(STEP_1))
    _assert_positions(spark, catalog, STEP_1)
    _assert_risk(spark, catalog, STEP_1)
    alerts_1 = _expected_alerts(STEP_1, [])
    _assert_alerts(spark, catalog, alerts_1)
    assert {rule for (_, rule, _) in alerts_1} == {"var_limit", "concentration", "single_trade"}

    # Step 2: newer, late (within the watermark), too-late (beyond it) and amending events.
    _append_silver(spark, catalog, STEP_2)
    collector = ProgressCollector().attach(spark)
    try:
        assert gold_job.run(spark, settings) is None
        progress = [progress_row(report) for report in collector.drain(spark)]
    finally:
        collector.detach(spark)
    # What the windows leave out is counted: e11 drops out of its 1-minute window and four of its
    # five sliding windows, recorded per query in ops.stream_progress.rows_dropped_by_watermark.
    dropped = defaultdict(int)
    for row in progress:
        dropped[row["query_name"]] += row["rows_dropped_by_watermark"]
    assert dict(dropped) == {
        gold_job.QUERY_PORTFOLIO_RISK_1M: 1,
        gold_job.QUERY_EXPOSURE_5M: 4,
        gold_job.QUERY_POSITIONS: 0,
    }
    # e11 (09:50:00) is older than the watermark left by step 1 (10:04:20 - 10 min): it is dropped from
    # its 1-minute window and from four of its five sliding windows; only 09:50-09:55 still accepts it.
    tagged = _with_watermarks(STEP_1, STEP_2)

    def windows_holding(event_id: str, minutes: int) -> list[datetime]:
        groups = _windowed(tagged, timedelta(minutes=minutes), lambda e: ())
        return sorted(key[-1] for key, events in groups.items() if any(e["event_id"] == event_id for e in events))

    assert windows_holding("e11", 1) == [] and windows_holding("e11", 5) == [datetime(2026, 3, 2, 9, 50)]
    assert windows_holding("e10", 1) == [datetime(2026, 3, 2, 10, 1)]  # late, within the watermark
    _assert_windows(spark, catalog, _with_watermarks(STEP_1, STEP_2))
    _assert_positions(spark, catalog, STEP_1 + STEP_2)
    _assert_risk(spark, catalog, STEP_1 + STEP_2)
    alerts_2 = _expected_alerts(STEP_2, STEP_1)
    assert {rule for (_, rule, _) in alerts_2} == {"gross_limit", "var_limit", "concentration", "single_trade"}
    _assert_alerts(spark, catalog, {**alerts_1, **alerts_2})

    # Every alert of each batch was published once, keyed by portfolio, carrying its dedupe key.
    published = _published(spark, kafka.bootstrap_servers, alerts_topic)
    batch_keys = sorted([*alerts_1, *alerts_2])
    assert sorted((r["portfolio_id"], r["rule"], _ts(r["window_start"])) for r in published) == batch_keys
    assert all(r["key"] == r["portfolio_id"] for r in published)
    alert_ids = {r.alert_id for r in _table(spark, catalog, "risk_alerts").collect()}
    assert {r["alert_id"] for r in published} == alert_ids

    # A third run finds nothing new: no gold table gets a new version.
    history = _history_lengths(spark, catalog)
    assert gold_job.run(spark, settings) is None
    assert _history_lengths(spark, catalog) == history

    # A replayed micro-batch (as after a crash before the checkpoint commit) leaves the tables as they
    # are; the topic receives the batch's alerts again with the same alert_id (at-least-once).
    before = _snapshot(spark, catalog)
    last_batch = _table(spark, catalog, "positions").agg({"applied_batch_id": "max"}).first()[0]
    writer = gold_job.PositionsRiskAlertsWriter(
        settings, spark_sink_options(settings.kafka, kafka.bootstrap_servers, alerts_topic)
    )
    writer(_gold_batch(spark, STEP_2), last_batch)
    assert _snapshot(spark, catalog) == before
    replayed = _published(spark, kafka.bootstrap_servers, alerts_topic)
    assert len(replayed) == len(published) + len(alerts_2)
    assert {r["alert_id"] for r in replayed} == alert_ids


@pytest.mark.parametrize(("check_interval", "factor"), [("0 seconds", 2), ("1 hour", 1)])
def test_a_reference_reload_reaches_the_risk_of_portfolios_without_trades(
    spark: SparkSession, kafka: BrokerInfo, make_settings: Callable[..., Settings], check_interval: str, factor: int
) -> None:
    """Doubling every daily volatility doubles every portfolio's sigma and VaR with the first batch after
    the reference check interval, including P-FX-2, which that batch does not trade (it trades MSFT,
    which only P-EQ-1 holds). Within the interval a batch does not look, and P-FX-2 keeps its figures.
    Currency factors are given no volatility here (``risk.fx_daily_vol`` 0), so every variance comes
    from instrument volatilities and doubling them doubles sigma exactly."""
    alerts_topic = f"risk-alerts-{uuid.uuid4().hex[:10]}"
    kafka_broker.create_topics(kafka.bootstrap_servers, {alerts_topic: 1})
    settings = make_settings(
        kafka.bootstrap_servers,
        kafka={"alerts_topic": alerts_topic},
        gold={"reference_check_interval": check_interval},
        risk={"fx_daily_vol": 0.0},
    )
    catalog = Catalog(settings)
    _write_reference(spark, catalog)
    _append_silver(spark, catalog, STEP_1)
    assert gold_job.run(spark, settings) is None
    writer = gold_job.PositionsRiskAlertsWriter(
        settings, spark_sink_options(settings.kafka, kafka.bootstrap_servers, alerts_topic)
    )
    msft_sell = next(row for row in STEP_2 if row["event_id"] == "e10")
    last_batch = _table(spark, catalog, "positions").agg({"applied_batch_id": "max"}).first()[0]
    writer(_gold_batch(spark, [msft_sell]), last_batch + 1)
    before = {row.portfolio_id: row for row in _table(spark, catalog, "portfolio_risk").collect()}

    instruments = catalog.table("reference", "instruments")
    doubled = instruments.read(spark).withColumn("daily_vol", F.col("daily_vol") * 2).collect()
    spark.createDataFrame(doubled, INSTRUMENTS_DDL).write.format("delta").mode("overwrite").save(str(instruments.path))
    another_msft_sell = {**msft_sell, "event_id": "e13", "trade_id": "T10"}
    writer(_gold_batch(spark, [another_msft_sell]), last_batch + 2)

    after = {row.portfolio_id: row for row in _table(spark, catalog, "portfolio_risk").collect()}
    untouched = before["P-FX-2"]
    for column in ("sigma_1d_base", "var_95_1d", "var_99_1d", "var_95_10d", "var_99_10d", "var_limit_utilisation"):
        assert after["P-FX-2"][column] == pytest.approx(factor * untouched[column], rel=1e-12), column
    assert after["P-FX-2"]["gross_exposure_base"] == untouched["gross_exposure_base"]


def test_gold_tables_have_change_data_feed(spark: SparkSession, make_settings: Callable[..., Settings]) -> None:
    catalog = Catalog(make_settings())
    gold_job.create_gold_tables(spark, catalog)
    for name in gold_job.GOLD_TABLES:
        properties = {
            row.key: row.value
            for row in spark.sql(f"SHOW TBLPROPERTIES {catalog.table('gold', name).sql_name}").collect()
        }
        assert properties["delta.enableChangeDataFeed"] == "true", name


def test_a_portfolio_risk_table_of_an_earlier_release_gets_the_new_columns(
    spark: SparkSession, make_settings: Callable[..., Settings]
) -> None:
    catalog = Catalog(make_settings())
    table = catalog.table("gold", "portfolio_risk")
    earlier = PORTFOLIO_RISK_DDL.split(", es_975_1d_param")[0]
    table.create_if_missing(spark, earlier)
    old_row = ("P-1", 1, 10.0, 10.0, {"equity": 10.0}, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 50.0, 0.1, 0.06)
    spark.createDataFrame([old_row], earlier).write.format("delta").mode("append").save(str(table.path))

    gold_job.create_gold_tables(spark, catalog)

    assert table.read(spark).schema.simpleString() == schema(PORTFOLIO_RISK_DDL).simpleString()
    kept = table.read(spark).first()
    assert kept is not None
    assert tuple(kept)[: len(old_row)] == old_row
    assert tuple(kept)[len(old_row) :] == (None,) * 17
    assert table.add_missing_columns(spark, PORTFOLIO_RISK_DDL) == []  # a second start changes nothing


def test_gold_checks_its_inputs_through_spark_and_creates_nothing(
    spark: SparkSession, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The job's own check (the one Unity Catalog targets rely on): silver.trades missing, nothing created."""
    from riskstream.errors import PipelineError

    settings = make_settings()
    catalog = Catalog(settings)
    with pytest.raises(PipelineError) as raised:
        gold_job.start(spark, settings)
    assert str(raised.value) == (
        f"run gold: silver.trades does not exist yet ({catalog.table('silver', 'trades').path}); run "
        "`riskstream run silver` first. Nothing was created"
    )
    assert [name for name in gold_job.GOLD_TABLES if catalog.table("gold", name).exists(spark)] == []
