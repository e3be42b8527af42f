"""The demo end to end on small numbers, in a temporary state folder.

Real pieces throughout: the project's own Kafka broker (started and stopped by the demo), the
simulator and producer library, bronze/silver/gold with availableNow on local Delta, the
Snowflake sync against the fakesnow emulator through snowflake-connector-python. Every figure of
the summary is checked against the simulator's exact fault allocation, and the test checks that
the broker the demo started is gone afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from riskstream import kafka_broker
from riskstream.commands.demo import DemoOptions, fault_rates, run_demo
from riskstream.config import parse_settings
from riskstream.tables import Catalog
from tests.conftest import settings_dict

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

EVENTS = 120
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_end_to_end(spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(state))
    settings = parse_settings(settings_dict(state, kafka={"partitions": 2}))
    messages: list[str] = []

    summary = run_demo(
        settings,
        DemoOptions(events=EVENTS, seed=11, portfolios=3, instruments=10, rounds=2, out_dir=tmp_path / "out"),
        messages.append,
    )

    expected = {kind: count for kind, count in fault_rates().allocate(EVENTS).items() if count}
    # Lateness flags, it never rejects: late events are accepted (and marked arrived_late) in every round.
    assert summary.produced == EVENTS
    assert summary.produced_by_kind == dict(sorted(expected.items()))
    assert summary.events_in == EVENTS
    assert summary.accepted == expected["valid"] + expected["out_of_order"] + expected["late"]
    # Silver drops nothing: a resent event is quarantined with reason `duplicate`.
    assert summary.unaccounted == 0
    assert summary.quarantined == (
        expected["malformed_json"]
        + expected["schema_invalid"]
        + expected["duplicate"]
        + expected["unknown_portfolio"]
        + expected["unknown_instrument"]
    )
    for reason in ("malformed_json", "duplicate", "unknown_portfolio", "unknown_instrument"):
        assert summary.quarantined_by_reason[reason] == expected[reason], reason
    assert "late" not in summary.quarantined_by_reason
    late_accepted = Catalog(settings).table("silver", "trades").read(spark).where("arrived_late").count()
    assert late_accepted == expected["late"]

    positions = Catalog(settings).table("gold", "positions").read(spark).toPandas()
    gross = positions.assign(absolute=positions["market_value_base"].abs()).groupby("portfolio_id")["absolute"].sum()
    assert {row["portfolio_id"]: round(row["gross_exposure_base"], 6) for row in summary.portfolios} == {
        portfolio: round(value, 6) for portfolio, value in gross.items() if value != 0
    } | {row["portfolio_id"]: 0.0 for row in summary.portfolios if row["gross_exposure_base"] == 0}

    alerts = Catalog(settings).table("gold", "risk_alerts").read(spark).toPandas()
    assert summary.alerts_by_rule == {rule: len(rows) for rule, rows in sorted(alerts.groupby("rule"))}
    assert summary.alert_portfolios == {
        rule: sorted(set(rows["portfolio_id"])) for rule, rows in sorted(alerts.groupby("rule"))
    }

    assert summary.verified and set(summary.verified.values()) == {"ok"}
    assert summary.latency is not None and summary.latency.events == summary.accepted
    assert summary.latency.p50_s is not None and 0 < summary.latency.p50_s <= summary.latency.max_s  # type: ignore[operator]

    assert summary.dashboard_png is not None and summary.dashboard_png.read_bytes().startswith(PNG_MAGIC)
    assert summary.dashboard_html is not None and "<h2>Limit use (latest)</h2>" in summary.dashboard_html.read_text()

    assert summary.broker_stopped
    assert kafka_broker.running_broker(state) is None
    assert not Path(f"/proc/{summary.broker_pid}").exists()


def test_demo_follow_stops_everything_on_ctrl_c(spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--follow, then a real SIGINT (Ctrl-C) while micro-batches run: the queries are stopped, none
    fails (pyspark's own SIGINT handler would cancel all jobs and fail the one in flight), every
    record produced is accounted for in the tables it reached, and no query, producer thread or
    broker is left."""
    import os
    import signal
    import threading

    state = tmp_path / "state"
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(state))
    settings = parse_settings(settings_dict(state, kafka={"partitions": 2}))
    ctrl_c = threading.Timer(30.0, os.kill, (os.getpid(), signal.SIGINT))
    messages: list[str] = []

    def echo(message: str) -> None:
        messages.append(message)
        if message.startswith("follow: producing"):
            ctrl_c.start()

    try:
        summary = run_demo(
            settings,
            DemoOptions(
                seed=5,
                portfolios=2,
                instruments=5,
                follow=True,
                follow_rate=20.0,
                follow_interval="2 seconds",
                follow_seconds=300.0,  # only a guard: the SIGINT ends the run
                sync=False,
                out_dir=tmp_path / "out",
            ),
            echo,
        )
    finally:
        ctrl_c.cancel()

    assert "follow: stopping ..." in messages

    assert summary.events_in <= summary.produced
    assert summary.accepted + summary.quarantined + summary.unaccounted == summary.events_in
    assert spark.streams.active == []
    assert [thread.name for thread in threading.enumerate() if thread.name == "demo-producer"] == []
    assert kafka_broker.running_broker(state) is None
    assert not Path(f"/proc/{summary.broker_pid}").exists()


def test_the_summary_names_the_portfolios_of_each_alert_rule() -> None:
    from rich.console import Console

    from riskstream.commands.demo import DemoSummary, print_summary

    summary = DemoSummary(
        alerts_by_rule={"concentration": 2, "gross_limit": 3},
        alert_portfolios={"concentration": ["P-002"], "gross_limit": ["P-001", "P-004"]},
    )
    console = Console(width=100, record=True)
    print_summary(summary, console)
    lines = console.export_text().splitlines()
    assert "alerts: concentration 2 (P-002), gross_limit 3 (P-001, P-004)" in lines

    quiet = Console(width=100, record=True)
    print_summary(DemoSummary(), quiet)
    assert "alerts: none" in quiet.export_text().splitlines()
