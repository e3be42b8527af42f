"""The market simulator: determinism, reference data consistency, lifecycle and exact fault injection.

Property tests (hypothesis) check, for any seed and fault mix, that every record meant to be valid
passes the JSON Schema and every injected invalid one does not.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.contract import event_errors
from riskstream.errors import ConfigError
from riskstream.simulator import (
    FAULT_KINDS,
    FX_DAILY_VOL,
    HISTORY_DAYS,
    SCHEMA_BREAKS,
    FaultRates,
    MarketSimulator,
    SimulatedRecord,
    _factor_correlation,
    _factor_shocks,
    business_days_before,
    format_ts,
)
from transformations.schemas import (
    CORRELATIONS_DDL,
    FX_RATES_DDL,
    INSTRUMENTS_DDL,
    PORTFOLIOS_DDL,
    PRICE_HISTORY_DDL,
)

START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ALL_FAULTS = FaultRates(
    malformed_json=0.02,
    schema_invalid=0.04,
    duplicate=0.05,
    late=0.03,
    out_of_order=0.05,
    unknown_portfolio=0.01,
    unknown_instrument=0.01,
)
SCHEMA_VALID_KINDS = ("valid", "duplicate", "late", "out_of_order", "unknown_portfolio", "unknown_instrument")


def _ddl_columns(ddl: str) -> list[str]:
    return [part.strip().split(" ")[0] for part in ddl.split(",")]


def _records(
    seed: int = 11, count: int = 1000, faults: FaultRates = ALL_FAULTS, **kwargs: Any
) -> list[SimulatedRecord]:
    return list(MarketSimulator(seed=seed, start=START, **kwargs).events(count, rate=50, faults=faults))


def test_same_seed_same_records_and_reference() -> None:
    first, second = MarketSimulator(seed=5, start=START), MarketSimulator(seed=5, start=START)
    assert first.reference_data() == second.reference_data()
    assert list(first.events(300, faults=ALL_FAULTS)) == list(second.events(300, faults=ALL_FAULTS))
    assert list(first.events(300, faults=ALL_FAULTS)) == list(first.events(300, faults=ALL_FAULTS))


def test_another_seed_another_stream() -> None:
    assert [r.value for r in _records(seed=1, count=50)] != [r.value for r in _records(seed=2, count=50)]


def test_fixed_reference_seed_keeps_the_book_while_events_change() -> None:
    first = MarketSimulator(seed=1, start=START, reference_seed=2026)
    second = MarketSimulator(seed=2, start=START, reference_seed=2026)
    assert first.reference_data() == second.reference_data()
    assert first.reference_data() != MarketSimulator(seed=1, start=START).reference_data()
    first_ids = {json.loads(r.value)["event_id"] for r in first.events(100) if r.kind == "valid"}
    second_ids = {json.loads(r.value)["event_id"] for r in second.events(100) if r.kind == "valid"}
    assert len(first_ids) == len(second_ids) == 100
    assert first_ids.isdisjoint(second_ids)


def test_duration_means_rate_times_seconds() -> None:
    records = list(MarketSimulator(seed=3, start=START).events(duration_s=2.5, rate=40))
    assert len(records) == 100
    assert records[-1].event["trade_ts"] == "2026-11-24T09:30:02.475Z"


@pytest.mark.parametrize(
    ("count", "faults", "expected"),
    [
        (1000, ALL_FAULTS, {"valid": 790, "malformed_json": 20, "schema_invalid": 40, "duplicate": 50, "late": 30,
                            "out_of_order": 50, "unknown_portfolio": 10, "unknown_instrument": 10}),
        (7, FaultRates(duplicate=0.5), {"valid": 4, "duplicate": 3}),
        (10, FaultRates(late=0.25, malformed_json=0.25), {"valid": 5, "malformed_json": 3, "late": 2}),
        (3, FaultRates(), {"valid": 3}),
    ],
)  # fmt: skip
def test_fault_counts_are_exact(count: int, faults: FaultRates, expected: dict[str, int]) -> None:
    allocation = {kind: number for kind, number in faults.allocate(count).items() if number}
    assert allocation == expected
    assert dict(Counter(record.kind for record in _records(count=count, faults=faults))) == expected


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"late": -0.1}, "fault rate late=-0.1 must be between 0 and 1"),
        ({"duplicate": 1.5}, "fault rate duplicate=1.5 must be between 0 and 1"),
        ({"late": 0.6, "duplicate": 0.6}, "fault rates sum to 1.200; they must sum to at most 1"),
    ],
)
def test_fault_rates_are_checked(rates: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        FaultRates(**rates)


def test_reference_csv_has_the_reference_table_columns(tmp_path: Path) -> None:
    written = MarketSimulator(seed=2, n_portfolios=6, n_instruments=12, start=START).write_reference_csv(tmp_path)
    expected = {
        "portfolios": PORTFOLIOS_DDL,
        "instruments": INSTRUMENTS_DDL,
        "fx_rates": FX_RATES_DDL,
        "correlations": CORRELATIONS_DDL,
        "price_history": PRICE_HISTORY_DDL,
    }
    assert sorted(written) == sorted(expected)
    row_counts = {}
    for name, ddl in expected.items():
        with written[name].open(encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == _ddl_columns(ddl)
        row_counts[name] = len(rows) - 1
    # 12 instruments -> 66 pairs; sectors: equity 3 (technology, financials, energy), fx 1, rates 2,
    # credit 2, commodity 2 = 10 sectors -> 45 pairs.
    # price history: 12 instruments and 6 non-USD currencies, HISTORY_DAYS + 1 closes each
    assert row_counts == {
        "portfolios": 6,
        "instruments": 12,
        "fx_rates": 7,
        "correlations": 66 + 45,
        "price_history": 18 * (HISTORY_DAYS + 1),
    }


def test_business_days_before_skip_weekends() -> None:
    # 2026-11-24 is a Tuesday: Monday 23rd, then Friday 20th and Thursday 19th
    assert business_days_before(START.date(), 3) == [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)]


def test_price_history_ends_at_the_reference_levels_on_common_business_days() -> None:
    data = MarketSimulator(seed=3, n_portfolios=5, n_instruments=15, start=START).reference_data()
    history = pd.DataFrame(data.price_history)
    days = [day.isoformat() for day in business_days_before(START.date(), HISTORY_DAYS + 1)]
    assert days[0] == "2024-11-25" and days[-1] == "2026-11-23"
    levels = {("instrument", inst.instrument_id): inst.reference_price for inst in data.instruments} | {
        ("fx", row.currency): row.usd_rate for row in data.fx_rates if row.currency != "USD"
    }
    for (factor_type, factor_id), closes in history.groupby(["factor_type", "factor_id"]):
        assert list(closes["as_of_date"]) == days
        assert closes["close"].iloc[-1] == pytest.approx(levels[(factor_type, factor_id)], rel=1e-9)
    assert set(history.groupby(["factor_type", "factor_id"]).groups) == set(levels)
    assert MarketSimulator(seed=3, n_portfolios=5, n_instruments=15, start=START).reference_data() == data


def test_price_history_moves_with_the_factor_model_and_clusters_volatility() -> None:
    data = MarketSimulator(seed=7, n_portfolios=6, n_instruments=30, start=START).reference_data()
    history = pd.DataFrame(data.price_history)
    closes = history.pivot(index="as_of_date", columns=["factor_type", "factor_id"], values="close")
    returns = np.log(closes).diff().dropna()
    instruments = [inst.instrument_id for inst in data.instruments]
    stock = returns["instrument"][instruments]
    vol_ratio = stock.std().to_numpy() / np.array([inst.daily_vol for inst in data.instruments])
    # 520 days of a GARCH path: each instrument's realised volatility within 15 % of its reference
    assert vol_ratio.min() > 0.85 and vol_ratio.max() < 1.15, vol_ratio
    assert returns["fx"].std().between(0.85 * FX_DAILY_VOL, 1.15 * FX_DAILY_VOL).all()
    correlations = {
        (row.left_id, row.right_id): row.correlation for row in data.correlations if row.level == "instrument"
    }
    realised = stock.corr()
    gaps = [abs(realised.loc[left, right] - value) for (left, right), value in correlations.items()]
    assert float(np.mean(gaps)) < 0.05
    # clustering: the day's mean squared standardised move is autocorrelated (about 0 at constant volatility)
    standardised = stock / np.array([inst.daily_vol for inst in data.instruments])
    squared = (standardised**2).mean(axis=1).to_numpy()
    assert np.corrcoef(squared[:-1], squared[1:])[0, 1] > 0.3


def test_reference_data_is_consistent() -> None:
    data = MarketSimulator(seed=4, n_portfolios=10, n_instruments=40, start=START).reference_data()
    currencies = {row.currency for row in data.fx_rates}
    assert {row.currency for row in data.instruments} <= currencies
    assert {row.base_currency for row in data.portfolios} <= currencies
    assert [row.usd_rate for row in data.fx_rates if row.currency == "USD"] == [1.0]
    assert {row.as_of for row in data.fx_rates} == {"2026-11-24T00:00:00.000Z"}
    assert {row.asset_class for row in data.instruments} == {"equity", "fx", "rates", "credit", "commodity"}
    assert {row.desk for row in data.portfolios} == {"equities", "fx", "rates", "credit", "commodities"}
    assert len({row.instrument_id for row in data.instruments}) == 40
    assert all(len(row.instrument_id) <= 32 for row in data.instruments)
    for row in data.portfolios:
        assert row.single_trade_limit < row.gross_limit and row.var_limit < row.gross_limit
    for row in data.correlations:
        assert row.level in ("instrument", "sector") and row.left_id < row.right_id and -1 <= row.correlation <= 1


def test_correlations_are_the_factor_model_and_positive_definite() -> None:
    simulator = MarketSimulator(seed=9, n_instruments=15, start=START)
    instruments = simulator.reference_data().instruments
    matrix = _factor_correlation(instruments, simulator._loadings)
    assert np.linalg.eigvalsh(matrix).min() > 0
    by_pair = {(row.left_id, row.right_id): row.correlation for row in simulator.reference_data().correlations}
    ids = [inst.instrument_id for inst in instruments]
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            assert by_pair[tuple(sorted((ids[i], ids[j])))] == matrix[i, j]  # type: ignore[index]


def test_price_shocks_have_the_published_correlation() -> None:
    """20,000 draws of the GBM shocks: their sample correlation is the published matrix within 0.03."""
    simulator = MarketSimulator(seed=9, n_instruments=10, start=START)
    instruments = simulator.reference_data().instruments
    rng = np.random.default_rng(0)
    draws = np.array([_factor_shocks(instruments, simulator._loadings, rng) for _ in range(20_000)])
    sample = np.corrcoef(draws, rowvar=False)
    assert np.abs(sample - _factor_correlation(instruments, simulator._loadings)).max() < 0.03


def test_lifecycle_is_consistent_for_valid_records() -> None:
    """NEW opens at version 1; AMEND and CANCEL follow an open trade at version + 1; nothing follows a CANCEL."""
    records = _records(seed=21, count=2000, faults=FaultRates(out_of_order=0.05, duplicate=0.05))
    open_versions: dict[str, int] = {}
    closed: set[str] = set()
    types = Counter()
    for record in records:
        if record.kind == "duplicate":
            continue
        event = record.event
        trade, version = event["trade_id"], event["trade_version"]
        types[event["event_type"]] += 1
        assert trade not in closed
        if event["event_type"] == "NEW":
            assert version == 1 and trade not in open_versions
            open_versions[trade] = 1
        else:
            assert open_versions[trade] == version - 1
            open_versions[trade] = version
            if event["event_type"] == "CANCEL":
                closed.add(trade)
                del open_versions[trade]
    assert types["AMEND"] > 0 and types["CANCEL"] > 0 and types["NEW"] > types["AMEND"] + types["CANCEL"]


def test_duplicates_repeat_an_earlier_valid_record_byte_for_byte() -> None:
    records = _records(seed=8, count=500, faults=FaultRates(duplicate=0.1))
    seen: list[SimulatedRecord] = []
    for record in records:
        if record.kind == "duplicate":
            assert any((r.key, r.value, r.headers) == (record.key, record.value, record.headers) for r in seen)
        else:
            seen.append(record)
    assert sum(record.kind == "duplicate" for record in records) == 50


def test_late_events_are_lateness_behind_the_stream_clock() -> None:
    records = _records(seed=12, count=200, faults=FaultRates(late=0.1), lateness=timedelta(minutes=45))
    for position, record in enumerate(records):
        clock = START + timedelta(seconds=position / 50)
        expected = clock - timedelta(minutes=45) if record.kind == "late" else clock
        assert record.event["trade_ts"] == format_ts(expected)


def test_out_of_order_events_arrive_within_the_window() -> None:
    """In-order records keep stream order; each out-of-order NEW comes after 1..window later-stamped records."""
    records = _records(seed=13, count=400, faults=FaultRates(out_of_order=0.05), reorder_window=4)
    in_order = [record.event["trade_ts"] for record in records if record.kind != "out_of_order"]
    assert in_order == sorted(in_order)
    for position, record in enumerate(records):
        if record.kind == "out_of_order":
            overtaken_by = [
                earlier
                for earlier in records[:position]
                if earlier.kind != "out_of_order" and earlier.event["trade_ts"] > record.event["trade_ts"]
            ]
            assert record.event["event_type"] == "NEW"
            assert 1 <= len(overtaken_by) <= 4
    assert sum(record.kind == "out_of_order" for record in records) == 20


def test_unknown_ids_are_not_in_reference_data() -> None:
    simulator = MarketSimulator(seed=14, start=START)
    data = simulator.reference_data()
    faults = FaultRates(unknown_portfolio=0.1, unknown_instrument=0.1)
    records = list(simulator.events(200, faults=faults))
    portfolios = {row.portfolio_id for row in data.portfolios}
    instruments = {row.instrument_id for row in data.instruments}
    for record in records:
        assert (record.event["portfolio_id"] in portfolios) == (record.kind != "unknown_portfolio")
        assert (record.event["instrument_id"] in instruments) == (record.kind != "unknown_instrument")


def test_events_mix_v1_and_v2_and_follow_the_wire_format() -> None:
    records = _records(seed=15, count=400, faults=FaultRates())
    versions = Counter(record.schema_version for record in records)
    assert set(versions) == {1, 2}
    for record in records:
        event = json.loads(record.value)
        assert record.key == event["portfolio_id"]
        assert record.headers == [("schema_version", str(event["schema_version"]).encode())]
        assert ("counterparty_id" in event) == (event["schema_version"] == 2)
        assert event["quantity"] > 0 and event["price"] > 0
        assert event["trade_ts"].endswith("Z") and len(event["trade_ts"]) == len("2026-11-24T09:30:00.000Z")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    count=st.integers(min_value=1, max_value=120),
    shares=st.lists(st.floats(min_value=0.0, max_value=0.12), min_size=len(FAULT_KINDS), max_size=len(FAULT_KINDS)),
    v2_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_property_valid_records_validate_and_invalid_ones_do_not(
    seed: int, count: int, shares: list[float], v2_share: float
) -> None:
    faults = FaultRates(**dict(zip(FAULT_KINDS, shares, strict=True)))
    simulator = MarketSimulator(seed=seed, n_portfolios=4, n_instruments=8, start=START, v2_share=v2_share)
    records = list(simulator.events(count, rate=20, faults=faults))
    assert Counter(record.kind for record in records) == +Counter(faults.allocate(count))
    for record in records:
        if record.kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(record.value)
            continue
        event = json.loads(record.value)
        errors = event_errors(event)
        if record.kind == "schema_invalid":
            assert errors, f"{record.detail} should break the contract: {event}"
            assert record.detail in SCHEMA_BREAKS
        else:
            assert record.kind in SCHEMA_VALID_KINDS
            assert errors == [], record


@pytest.mark.parametrize("how", SCHEMA_BREAKS)
def test_each_schema_break_is_rejected_by_the_contract(how: str) -> None:
    from riskstream.simulator import _break_schema

    valid = _records(seed=16, count=1, faults=FaultRates())[0].event
    assert event_errors(valid) == []
    assert event_errors(_break_schema(valid, how)) != []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_instruments": 4}, "n_instruments must be at least 5"),
        ({"n_portfolios": 0}, "n_portfolios must be at least 1"),
        ({"start": datetime(2026, 1, 1)}, "start must be timezone-aware"),
        ({"amend_share": 0.8, "cancel_share": 0.3}, "amend_share \\+ cancel_share must be at most 1"),
    ],
)
def test_simulator_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MarketSimulator(**kwargs)


def test_events_needs_count_or_duration() -> None:
    with pytest.raises(ConfigError, match="exactly one of count or duration"):
        MarketSimulator(start=START).events()


@pytest.mark.spark
def test_silver_parser_agrees_with_each_record_kind(spark: Any) -> None:
    """Cross-check with silver's contract-driven parser (transformations.parsing): schema-valid kinds
    parse without a reason, ``malformed_json`` gets exactly that code, every ``schema_invalid`` record
    gets at least one reason. (Late, duplicate and unknown-reference fates are decided by later silver
    stages and are not checked here.)"""
    from pyspark.sql import functions as F

    from transformations.parsing import parse_events

    records = _records(seed=17, count=300, faults=ALL_FAULTS)
    bronze_ddl = (
        "key binary, value binary, topic string, partition int, offset long, kafka_timestamp timestamp, "
        "kafka_timestamp_type int, headers array<struct<key:string,value:binary>>, ingest_ts timestamp, "
        "ingest_date date"
    )
    ingest = datetime(2026, 11, 24, 9, 45)
    rows = [
        (bytearray(r.key.encode()), bytearray(r.value), "trades", 0, offset, ingest, 0,
         [(name, bytearray(value)) for name, value in r.headers], ingest, ingest.date())
        for offset, r in enumerate(records)
    ]  # fmt: skip
    now = F.lit(datetime(2026, 11, 24, 9, 45)).cast("timestamp")
    parsed = spark.createDataFrame(rows, bronze_ddl).transform(parse_events("5 minutes", now=now))
    codes = {row["source_offset"]: list(row["reason_codes"]) for row in parsed.collect()}
    assert len(codes) == len(records)
    for offset, record in enumerate(records):
        if record.kind == "malformed_json":
            assert codes[offset] == ["malformed_json"]
        elif record.kind == "schema_invalid":
            assert codes[offset], f"{record.detail} was accepted by silver's parser"
        else:
            assert codes[offset] == [], (record.kind, codes[offset])


def _book_use(simulator: MarketSimulator, records: list[SimulatedRecord]) -> dict[str, dict[str, float]]:
    """Each portfolio's gross use, VaR use and largest position share after ``records``, recomputed
    from the events alone: the latest version of every accepted trade, CANCELs dropped, at trade price."""
    reference = simulator.reference_data()
    instruments = {inst.instrument_id: inst for inst in reference.instruments}
    usd = {row.currency: row.usd_rate for row in reference.fx_rates}
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.kind in ("valid", "late", "out_of_order"):
            event = record.event
            if event["trade_id"] not in latest or event["trade_version"] > latest[event["trade_id"]]["trade_version"]:
                latest[event["trade_id"]] = event
    holdings: Counter[tuple[str, str]] = Counter()
    for event in latest.values():
        if event["event_type"] != "CANCEL":
            inst = instruments[event["instrument_id"]]
            sign = 1.0 if event["side"] == "BUY" else -1.0
            notional = event["quantity"] * event["price"] * inst.multiplier * usd[inst.currency]
            holdings[event["portfolio_id"], event["instrument_id"]] += sign * notional
    pairs = {
        (row.left_id, row.right_id): row.correlation for row in reference.correlations if row.level == "instrument"
    }
    use = {}
    for portfolio in reference.portfolios:
        ids = sorted(i for p, i in holdings if p == portfolio.portfolio_id)
        amounts = np.array([holdings[portfolio.portfolio_id, i] for i in ids]) / usd[portfolio.base_currency]
        exposure = amounts * np.array([instruments[i].daily_vol for i in ids])
        matrix = np.array([[1.0 if a == b else pairs.get((a, b), pairs.get((b, a))) for b in ids] for a in ids])
        var = 2.3263478740408408 * float(np.sqrt(exposure @ matrix @ exposure))
        gross = float(np.abs(amounts).sum())
        use[portfolio.portfolio_id] = {
            "gross_limit": gross / portfolio.gross_limit,
            "var_limit": var / portfolio.var_limit,
            "concentration": float(np.abs(amounts).max()) / gross / 0.25,
        }
    return use


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_demo_book_fits_its_limits_so_a_few_portfolios_breach(seed: int) -> None:
    """The demo's book (6 portfolios, 30 instruments, 2000 events): P-002 is concentrated, P-004 is
    oversized, and every other portfolio stays below 100 % of each limit (and the 25 % default
    concentration limit)."""
    from riskstream.commands.demo import DEMO_FAULTS, DEMO_REFERENCE_SEED

    simulator = MarketSimulator(seed, 6, 30, start=START, market_speedup=390.0, reference_seed=DEMO_REFERENCE_SEED)
    use = _book_use(simulator, list(simulator.events(2000, rate=50, faults=FaultRates(**DEMO_FAULTS))))

    breaches = sorted((p, rule) for p, rules in use.items() for rule, value in rules.items() if value > 1.0)
    assert breaches == [("P-002", "concentration"), ("P-004", "gross_limit"), ("P-004", "var_limit")]
    within = [value for p, rules in use.items() for rule, value in rules.items() if (p, rule) not in breaches]
    assert max(within) < 0.95
