"""Market data ticks: the simulator's tick stream, the tick contract and ``riskstream produce --stream prices``.

The tick stream is checked for exact determinism and fault counts, against the contract
(conf/schemas/price_tick.v1.json), against the trade stream it must agree with (a trade executes
within 0.05 % of the tick mid at its instant), for the FX quoting convention and for the placement of
out-of-order ticks. The CLI runs as a user runs it, against the real local Kafka broker.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka.admin import AdminClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream import kafka_broker
from riskstream.contract import tick_errors, validate_tick
from riskstream.errors import ConfigError
from riskstream.simulator import (
    TICK_FAULT_KINDS,
    MarketSimulator,
    SimulatedRecord,
    TickFaultRates,
    TickKind,
    format_ts,
)
from tests.conftest import settings_dict
from tests.test_producer import _consume, _received, _wire

START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ALL_TICK_FAULTS = TickFaultRates(
    malformed_json=0.02, non_positive_price=0.03, stale=0.04, out_of_order=0.05, unknown_instrument=0.01
)
VALID_TICK = {
    "schema_version": 1,
    "tick_id": "8e8b9b43-3e76-4799-9665-61f268381bb2",
    "tick_type": "PRICE",
    "instrument_id": "FUTSWA007",
    "price": 112.7157,
    "currency": "EUR",
    "tick_ts": "2026-11-24T09:30:00.020Z",
    "source": "mdfeed-sim",
    "sequence": 0,
}


def _ticks(
    seed: int = 11, count: int = 1000, faults: TickFaultRates = ALL_TICK_FAULTS, **kwargs: Any
) -> list[SimulatedRecord[TickKind]]:
    return list(MarketSimulator(seed=seed, start=START).ticks(count, faults=faults, **kwargs))


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _mid(tick: dict[str, Any]) -> float:
    return float(tick["price"]) if "price" in tick else (tick["bid"] + tick["ask"]) / 2


# --------------------------------------------------------------------------- determinism and fault counts


def test_same_seed_same_ticks_byte_for_byte() -> None:
    first, second = _ticks(seed=5), _ticks(seed=5)
    assert [(r.key, r.value, r.headers) for r in first] == [(r.key, r.value, r.headers) for r in second]
    assert first == second


def test_another_seed_another_stream() -> None:
    assert [r.value for r in _ticks(seed=1, count=50)] != [r.value for r in _ticks(seed=2, count=50)]


def test_duration_means_rate_times_seconds_and_the_clock_is_start_plus_position_over_rate() -> None:
    records = list(MarketSimulator(seed=3, start=START).ticks(duration_s=2.5, rate=40))
    assert [r.event["tick_ts"] for r in records] == [format_ts(START + timedelta(seconds=j / 40)) for j in range(100)]


@pytest.mark.parametrize(
    ("count", "faults", "expected"),
    [
        (1000, ALL_TICK_FAULTS, {"valid": 850, "malformed_json": 20, "non_positive_price": 30, "stale": 40,
                                 "out_of_order": 50, "unknown_instrument": 10}),
        (7, TickFaultRates(stale=0.5), {"valid": 4, "stale": 3}),
        (10, TickFaultRates(non_positive_price=0.25, out_of_order=0.25),
         {"valid": 5, "non_positive_price": 3, "out_of_order": 2}),
        (3, TickFaultRates(), {"valid": 3}),
    ],
)  # fmt: skip
def test_fault_counts_are_exact(count: int, faults: TickFaultRates, expected: dict[str, int]) -> None:
    assert {kind: number for kind, number in faults.allocate(count).items() if number} == expected
    assert dict(Counter(record.kind for record in _ticks(count=count, faults=faults))) == expected


# --------------------------------------------------------------------------- the contract


def test_every_valid_tick_passes_the_contract_and_every_broken_one_fails() -> None:
    records = _ticks(seed=21, count=2000)
    assert Counter(record.kind for record in records) == Counter(ALL_TICK_FAULTS.allocate(2000))
    for record in records:
        assert record.key == record.event["instrument_id"]
        assert record.headers == [("schema_version", b"1")]
        if record.kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(record.value)
            assert record.value == json.dumps(record.event, separators=(",", ":")).encode()[: len(record.value)]
            continue
        tick = json.loads(record.value)
        assert tick == record.event
        if record.kind == "non_positive_price":
            message = f"price: {tick['price']!r} is less than or equal to the minimum of 0"
            assert tick_errors(tick) == [message]
            with pytest.raises(ValueError, match=r"^invalid price tick: price: "):
                validate_tick(tick)
            assert set(tick) & {"bid", "ask"} == set()
            assert record.detail == ("zero_price" if tick["price"] == 0 else "negative_price")
        else:
            assert tick_errors(tick) == [], record
            validate_tick(tick)
            assert record.detail == ""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    count=st.integers(min_value=1, max_value=120),
    shares=st.lists(
        st.floats(min_value=0.0, max_value=0.12), min_size=len(TICK_FAULT_KINDS), max_size=len(TICK_FAULT_KINDS)
    ),
    fx_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_property_valid_ticks_validate_and_broken_ones_do_not(
    seed: int, count: int, shares: list[float], fx_share: float
) -> None:
    faults = TickFaultRates(**dict(zip(TICK_FAULT_KINDS, shares, strict=True)))
    simulator = MarketSimulator(seed=seed, n_portfolios=4, n_instruments=8, start=START)
    records = list(simulator.ticks(count, rate=20, faults=faults, fx_share=fx_share))
    assert Counter(record.kind for record in records) == +Counter(faults.allocate(count))
    for record in records:
        if record.kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(record.value)
            continue
        errors = tick_errors(json.loads(record.value))
        assert (errors != []) == (record.kind == "non_positive_price"), (record, errors)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"schema_version": 2}, ["schema_version: 2 is not one of [1]"]),
        ({"tick_type": "TRADE"}, ["tick_type: 'TRADE' is not one of ['PRICE', 'FX']"]),
        ({"currency": "eur"}, ["currency: 'eur' does not match '^[A-Z]{3}$'"]),
        ({"sequence": -1}, ["sequence: -1 is less than the minimum of 0"]),
        ({"price": 0}, ["price: 0 is less than or equal to the minimum of 0"]),
        ({"price": None, "bid": 112.72, "ask": 112.71}, ["ask: 112.71 is less than the bid 112.72"]),
        ({"extra": 1}, ["(tick): Additional properties are not allowed ('extra' was unexpected)"]),
    ],
)
def test_tick_errors_name_each_violation(change: dict[str, Any], expected: list[str]) -> None:
    tick = {key: value for key, value in {**VALID_TICK, **change}.items() if value is not None}
    assert tick_errors(tick) == expected
    with pytest.raises(ValueError, match=r"^invalid price tick: "):
        validate_tick(tick)


def test_a_tick_needs_a_price_or_a_bid_and_an_ask() -> None:
    assert tick_errors({**VALID_TICK}) == []
    quoted = {key: value for key, value in VALID_TICK.items() if key != "price"} | {"bid": 112.7, "ask": 112.72}
    assert tick_errors(quoted) == []
    for unpriced in (
        {key: value for key, value in VALID_TICK.items() if key != "price"},
        {key: value for key, value in VALID_TICK.items() if key != "price"} | {"bid": 112.7},
    ):
        assert tick_errors(unpriced) == [f"(tick): {unpriced!r} is not valid under any of the given schemas"]
    assert tick_errors([VALID_TICK]) == ["(tick): not a JSON object"]


# --------------------------------------------------------------------------- the price path the trades see


def test_trades_execute_within_the_band_around_the_tick_mid_of_their_instant() -> None:
    """Trades at 10/s and ticks at 1000/s from the same seed: a hundred ticks between two trades, over
    five instruments, so every trade has ticks of its instrument at its instant (the interval until the
    next trade, over which the path does not move). A trade is priced at the mid +-0.05 %; trade price
    and tick are each rounded to the last decimal (4 from 10 up, else 6), which the bound allows for.
    ``market_speedup`` makes one trade step a move of 0.1 % to 1.6 % (one sd), so a tick quoting the
    mid of a neighbouring step would fall outside the band. CANCELs repeat an earlier price and are skipped."""
    simulator = MarketSimulator(seed=4, n_portfolios=5, n_instruments=5, start=START, market_speedup=50_000)
    trades = [r.event for r in simulator.events(200, rate=10) if r.event["event_type"] != "CANCEL"]
    mids: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for record in simulator.ticks(20_000, rate=1000, trade_rate=10, fx_share=0.0):
        stamp = _time(record.event["tick_ts"])
        instant = stamp.replace(microsecond=stamp.microsecond // 100_000 * 100_000)
        mids[instant, record.key].append(_mid(record.event))

    without_tick, outside = [], []
    for trade in trades:
        at_instant = mids[_time(trade["trade_ts"]), trade["instrument_id"]]
        if not at_instant:
            without_tick.append(trade["trade_id"])
        for mid in at_instant:
            unit = 1e-4 if max(trade["price"], mid) >= 10 else 1e-6
            if abs(trade["price"] - mid) > 0.0005 * mid + unit:
                outside.append((trade["trade_id"], trade["price"], mid))
    assert (without_tick, outside) == ([], [])


def test_the_tick_path_steps_once_per_trade() -> None:
    """Every PRICE-quoting tick of an instrument between two trade instants quotes the same price, and
    the price changes from one trade step to the next: the ticks replay the trade stream's path step
    for step, not an approximation of it."""
    simulator = MarketSimulator(seed=6, n_portfolios=5, n_instruments=5, start=START, market_speedup=50_000)
    prices: dict[str, dict[int, set[float]]] = defaultdict(lambda: defaultdict(set))
    for record in simulator.ticks(5000, rate=500, trade_rate=20, fx_share=0.0):
        if "price" in record.event:
            step = round((_time(record.event["tick_ts"]) - START).total_seconds() * 1000) // 50
            prices[record.key][step].add(record.event["price"])
    assert len(prices) == 5
    for by_step in prices.values():
        assert {step: len(quoted) for step, quoted in by_step.items()} == dict.fromkeys(by_step, 1)
        path = [next(iter(by_step[step])) for step in sorted(by_step)]
        assert [a for a, b in itertools.pairwise(path) if a == b] == []


# --------------------------------------------------------------------------- what each tick quotes


def test_fx_ticks_quote_usd_per_unit_of_a_reference_currency() -> None:
    simulator = MarketSimulator(seed=8, start=START)
    usd_rate = {row.currency: row.usd_rate for row in simulator.reference_data().fx_rates}
    faults = TickFaultRates(stale=0.05, out_of_order=0.05, unknown_instrument=0.02)
    records = list(simulator.ticks(2000, faults=faults))
    fx = [r for r in records if r.event["tick_type"] == "FX"]
    # FX may be: valid and stale ticks (2000 - 100 out_of_order - 40 unknown_instrument); 15 % of them, rounded.
    assert sum(1 for r in fx if r.kind != "out_of_order") == 279
    assert {r.key for r in fx} == set(usd_rate) - {"USD"}
    for record in fx:
        tick = record.event
        assert (tick["currency"], sorted(set(tick) & {"price", "bid", "ask"})) == ("USD", ["price"])
        # 40 s of stream time at 0.6 % daily vol: within 0.1 % of the reference usd_rate (USD per unit).
        assert abs(tick["price"] / usd_rate[record.key] - 1) < 0.001, tick


def test_price_ticks_quote_a_reference_instrument_in_its_currency() -> None:
    simulator = MarketSimulator(seed=9, start=START)
    instruments = {inst.instrument_id: inst for inst in simulator.reference_data().instruments}
    records = list(simulator.ticks(2000, faults=TickFaultRates(unknown_instrument=0.02)))
    shapes: Counter[tuple[str, ...]] = Counter()
    for record in records:
        tick = record.event
        if tick["tick_type"] == "FX":
            continue
        shapes[tuple(sorted(set(tick) & {"price", "bid", "ask"}))] += 1
        if record.kind == "unknown_instrument":
            assert tick["instrument_id"].startswith("UNKNOWN") and len(tick["instrument_id"]) == 13
            assert tick["instrument_id"][7:].isdigit() and tick["instrument_id"] not in instruments
            continue
        instrument = instruments[tick["instrument_id"]]
        assert tick["currency"] == instrument.currency
        if "bid" in tick:
            assert tick["bid"] <= tick["ask"] <= tick["bid"] * (1 + 2 * 0.0003) + 1e-4
        # 40 s of stream time at real speed: a mid within 1 % of the reference price.
        assert abs(_mid(tick) / instrument.reference_price - 1) < 0.01, tick
    assert set(shapes) == {("price",), ("ask", "bid")}
    assert sum(r.kind == "unknown_instrument" for r in records) == 40


def test_stale_ticks_are_staleness_behind_the_stream_clock() -> None:
    records = _ticks(seed=12, count=300, faults=TickFaultRates(stale=0.1), staleness=timedelta(minutes=45))
    for position, record in enumerate(records):
        clock = START + timedelta(seconds=position / 50)
        expected = clock - timedelta(minutes=45) if record.kind == "stale" else clock
        assert record.event["tick_ts"] == format_ts(expected)
    assert sum(record.kind == "stale" for record in records) == 30


def test_sequences_count_each_instruments_ticks_in_event_time_order() -> None:
    records = _ticks(seed=14, count=2000, faults=TickFaultRates(out_of_order=0.05, malformed_json=0.02))
    by_instrument: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_instrument[record.key].append(record.event)
    for ticks in by_instrument.values():
        in_time = sorted(ticks, key=lambda tick: tick["tick_ts"])
        assert [tick["sequence"] for tick in in_time] == list(range(len(ticks)))


def test_out_of_order_ticks_arrive_right_after_a_newer_tick_of_their_instrument() -> None:
    """Each one follows (other out-of-order ones aside) a valid tick of its instrument with a later
    tick_ts and sequence, a few seconds at most; so the latest tick by (tick_ts, sequence) of every
    instrument is the last valid tick sent for it: an out-of-order tick never moves the mark."""
    records = _ticks(seed=13, count=1000, faults=TickFaultRates(out_of_order=0.05, stale=0.02))
    assert sum(record.kind == "out_of_order" for record in records) == 50
    for position, record in enumerate(records):
        if record.kind != "out_of_order":
            continue
        assert tick_errors(record.event) == []
        newer = next((r for r in reversed(records[:position]) if r.kind != "out_of_order"), None)
        assert newer is not None and (newer.kind, newer.key) == ("valid", record.key)
        assert newer.event["sequence"] > record.event["sequence"]
        lag = _time(newer.event["tick_ts"]) - _time(record.event["tick_ts"])
        assert timedelta(0) < lag <= timedelta(seconds=2)
    accepted = [r for r in records if r.kind in ("valid", "out_of_order")]
    latest: dict[str, SimulatedRecord[TickKind]] = {}
    for record in accepted:
        if record.key not in latest or (record.event["tick_ts"], record.event["sequence"]) > (
            latest[record.key].event["tick_ts"],
            latest[record.key].event["sequence"],
        ):
            latest[record.key] = record
    last_valid = {r.key: r for r in records if r.kind == "valid"}
    assert latest == last_valid


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of count or duration"),
        ({"count": 5, "duration_s": 1.0}, "give exactly one of count or duration"),
        ({"count": 5, "rate": 0.0}, "rate and trade_rate must be positive"),
        ({"count": 5, "trade_rate": -1.0}, "rate and trade_rate must be positive"),
        ({"count": 5, "fx_share": 1.5}, "fx_share=1.5 must be between 0 and 1"),
        ({"count": 5, "staleness": timedelta(0)}, "staleness must be positive"),
        (
            {"count": 5, "faults": TickFaultRates(out_of_order=0.6, stale=0.4)},
            "out-of-order ticks are sent after a newer valid tick: leave some share valid",
        ),
    ],
)
def test_tick_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}$"):
        list(MarketSimulator(start=START).ticks(**kwargs))


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"stale": -0.1}, r"fault rate stale=-0\.1 must be between 0 and 1"),
        ({"stale": 0.6, "out_of_order": 0.6}, r"fault rates sum to 1\.200; they must sum to at most 1"),
    ],
)
def test_tick_fault_rates_are_checked(rates: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TickFaultRates(**rates)


# --------------------------------------------------------------------------- the CLI and the real broker


def _cli_env(tmp_path: Path, bootstrap: str, **kafka: Any) -> dict[str, str]:
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(settings_dict(tmp_path, bootstrap, kafka=kafka)), encoding="utf-8")
    return {**os.environ, "RISKSTREAM_CONF": str(conf), "RISKSTREAM_STATE_DIR": str(tmp_path / "state")}


@pytest.mark.kafka
def test_cli_produce_prices_to_the_prices_topic(kafka: kafka_broker.BrokerInfo, tmp_path: Path) -> None:
    """``riskstream produce --stream prices``: exactly the simulated ticks on ``kafka.prices_topic``, and
    each instrument's ticks in send order on its partition (an out-of-order tick after its newer one)."""
    prices_topic = f"prices-{uuid.uuid4().hex[:10]}"
    kafka_broker.create_topics(kafka.bootstrap_servers, {prices_topic: 2})
    env = _cli_env(tmp_path, kafka.bootstrap_servers, prices_topic=prices_topic)
    command = [
        sys.executable, "-m", "riskstream.cli", "produce", "--stream", "prices", "--count", "60", "--rate", "0",
        "--seed", "5", "--start", "2026-11-24T09:30:00Z", "--stale", "0.05", "--out-of-order", "0.05",
        "--non-positive-price", "0.05", "--malformed-json", "0.05",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0] == (
        f"produce: 60 price ticks to {prices_topic} on {kafka.bootstrap_servers} (kafka, unthrottled, seed 5)"
    )
    assert lines[1].startswith(
        f"produce: sent 60, delivered 60, failed 0, retried 0, not sent 0 -> {prices_topic} on "
        f"{kafka.bootstrap_servers} in "
    )
    assert (
        lines[2] == "produce: sent by kind: malformed_json 3, non_positive_price 3, out_of_order 3, stale 3, valid 48"
    )

    faults = TickFaultRates(stale=0.05, out_of_order=0.05, non_positive_price=0.05, malformed_json=0.05)
    expected = list(MarketSimulator(seed=5, start=START).ticks(60, rate=1000, trade_rate=100, faults=faults))
    messages = _consume(kafka.bootstrap_servers, prices_topic, 60)
    assert _received(messages) == _wire(expected)
    on_partition: dict[bytes, list[bytes]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        on_partition[message.key()].append(message.value())
    assert on_partition == {
        key.encode(): [r.value for r in expected if r.key == key] for key in dict.fromkeys(r.key for r in expected)
    }


def test_cli_refuses_trade_faults_for_the_prices_stream(tmp_path: Path) -> None:
    env = _cli_env(tmp_path, f"127.0.0.1:{kafka_broker.free_port()}")
    command = [
        sys.executable, "-m", "riskstream.cli", "produce", "--stream", "prices", "--count", "10",
        "--duplicate", "0.1", "--late", "0.05",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [
        "error: --duplicate, --late: faults of --stream trades, not of --stream prices"
    ]
    assert finished.stdout == ""


@pytest.mark.kafka
def test_kafka_start_creates_the_prices_topic(kafka: kafka_broker.BrokerInfo, tmp_path: Path) -> None:
    """``riskstream kafka start`` with the test session's broker running: it reuses it and creates the
    target's trades and prices topics with kafka.partitions partitions, and its alerts topic."""
    names = {name: f"{name}-{uuid.uuid4().hex[:10]}" for name in ("trades", "prices", "alerts")}
    env = _cli_env(
        tmp_path,
        kafka.bootstrap_servers,
        topic=names["trades"],
        prices_topic=names["prices"],
        alerts_topic=names["alerts"],
        partitions=3,
    )
    env["RISKSTREAM_STATE_DIR"] = str(Path(kafka.home).parent)
    command = [sys.executable, "-m", "riskstream.cli", "kafka", "start"]
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[0] == (
        f"kafka: reusing the broker already running (pid {kafka.pid}); making sure the topics exist"
    )
    topics = AdminClient({"bootstrap.servers": kafka.bootstrap_servers}).list_topics(timeout=10).topics
    assert {name: len(topics[name].partitions) for name in names.values()} == {
        names["trades"]: 3,
        names["prices"]: 3,
        names["alerts"]: 1,
    }
