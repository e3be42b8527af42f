"""The demo end to end on small numbers, in a temporary state folder.

Real pieces throughout: the project's own Kafka broker (started and stopped by the demo), the
simulator and producer library, bronze/silver/gold with availableNow on local Delta, the
Snowflake sync against the fakesnow emulator through snowflake-connector-python. Every figure of
the summary is checked against the simulator's exact fault allocation (trades and ticks) or the gold
tables, and the test checks that the broker the demo started is gone afterwards.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from riskstream import kafka_broker, lineage
from riskstream.commands.demo import (
    DEMO_TICK_MAX_AGE,
    DEMO_TICK_STALENESS,
    DemoOptions,
    DemoSummary,
    PortfolioPnl,
    fault_rates,
    print_summary,
    round_sizes,
    run_demo,
    tick_count,
    tick_fault_rates,
    with_demo_tick_max_age,
)
from riskstream.config import parse_settings
from riskstream.tables import Catalog
from tests.conftest import settings_dict

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

EVENTS = 120
DEMO_KAFKA = {"partitions": 2, "prices_topic": "demo-prices"}
"""The demo sends ticks: to a prices topic of its own, not the test settings' empty one."""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_end_to_end(spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", str(state))
    settings = parse_settings(settings_dict(state, kafka=DEMO_KAFKA))
    messages: list[str] = []
    options = DemoOptions(events=EVENTS, seed=11, portfolios=3, instruments=10, rounds=2, out_dir=tmp_path / "out")

    summary = run_demo(settings, options, messages.append)

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

    # Ticks over the trades' stream time (50 ticks/s against 50 trades/s: as many as trades), their faults exact.
    ticks = tick_count(options)
    assert ticks == EVENTS
    expected_ticks = {kind: count for kind, count in tick_fault_rates().allocate(ticks).items() if count}
    assert summary.ticks_produced == ticks
    assert summary.ticks_produced_by_kind == dict(sorted(expected_ticks.items()))
    assert summary.ticks_in == ticks
    # An out-of-order tick is kept (it never moves a mark); the others with a fault are quarantined.
    assert summary.ticks_accepted == expected_ticks["valid"] + expected_ticks["out_of_order"]
    assert summary.ticks_unaccounted == 0
    assert summary.ticks_quarantined_by_reason == {
        "invalid_price": expected_ticks["non_positive_price"],
        "malformed_json": expected_ticks["malformed_json"],
        "stale_tick": expected_ticks["stale"],
        "unknown_instrument": expected_ticks["unknown_instrument"],
    }
    assert summary.ticks_quarantined == sum(summary.ticks_quarantined_by_reason.values())
    printed = Console(width=120, record=True)
    print_summary(summary, printed)
    accepted_ticks, quarantined_ticks = summary.ticks_accepted, summary.ticks_quarantined
    assert f"│ {ticks:>8} │ {ticks:>17} │ {accepted_ticks:>17} │ {quarantined_ticks:>11} │ {0:>11} │" in (
        printed.export_text().splitlines()
    )
    assert f"silver: ticks older than {DEMO_TICK_MAX_AGE} are stale (the demo's clock is compressed)" in messages
    for number, size in enumerate(round_sizes(ticks, options.rounds), start=1):
        message = f"round {number}/{options.rounds}: produce ticks: sent {size}, delivered {size}, failed 0"
        assert any(line.startswith(message) for line in messages), message

    # The risk factors are estimated from the loaded price history before the streams start.
    catalog = Catalog(settings)
    history_factors = catalog.table("reference", "price_history").read(spark).select("factor_type", "factor_id")
    factors = history_factors.distinct().count()
    assert f"gold.risk_factors: {factors} factors (EWMA volatilities, correlations, historical scenarios)" in messages
    assert catalog.table("gold", "risk_factors").read(spark).count() == factors
    risk_rows = catalog.table("gold", "portfolio_risk").read(spark).collect()
    assert {(row.scenario_count, tuple(row.unmodelled_factors)) for row in risk_rows} == {(500, ())}
    # ES at 97.5 % is the mean beyond the 13th worst of 500 losses, so at least the 25th worst (95 % VaR)
    assert all(row.es_975_1d_hist >= row.hist_var_95_1d > 0 for row in risk_rows)

    # Today's P&L per portfolio: gold.pnl's rows of its newest trading date, summed per portfolio.
    pnl = Catalog(settings).table("gold", "pnl").read(spark).toPandas()
    today = pnl[pnl["trading_date"] == pnl["trading_date"].max()]
    sums = today.groupby(["portfolio_id", "base_currency"])[
        ["realized_pnl_base", "unrealized_pnl_base", "total_pnl_base"]
    ].sum()
    assert isinstance(summary.pnl_date, date) and summary.pnl_date == pnl["trading_date"].max()
    assert len(sums) > 0
    assert [(day.portfolio_id, day.base_currency) for day in summary.pnl] == list(sums.index)
    assert [(day.realized, day.unrealized, day.total) for day in summary.pnl] == [
        pytest.approx(tuple(values), rel=1e-9, abs=1e-6) for values in sums.itertuples(index=False)
    ]

    # Lineage through the hot query's commit markers: every accepted tick is credited to the hot batch that
    # wrote its silver.prices row, whose gold.portfolio_risk commit came first and gold.positions commit after.
    catalog = Catalog(settings)
    tick_times = lineage.measure_hot_ticks(spark, settings)
    assert sorted(tick_times["tick_id"]) == sorted(
        row.tick_id for row in catalog.table("silver", "prices").read(spark).select("tick_id").collect()
    )
    assert tick_times["hot_batch"].notna().all()
    assert np.isfinite(tick_times["risk"].to_numpy(dtype=float)).all()
    assert (tick_times["risk"] <= tick_times["silver"]).all()
    assert (tick_times["risk"] <= tick_times["positions"]).all()

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
    settings = parse_settings(settings_dict(state, kafka=DEMO_KAFKA))
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
    assert summary.ticks_in <= summary.ticks_produced
    assert summary.ticks_accepted + summary.ticks_quarantined + summary.ticks_unaccounted == summary.ticks_in
    assert spark.streams.active == []
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("demo-producer")] == []
    assert kafka_broker.running_broker(state) is None
    assert not Path(f"/proc/{summary.broker_pid}").exists()


@pytest.mark.parametrize(
    ("configured", "expected"), [("5 minutes", "1 hour"), ("1 hour", "1 hour"), ("2 days", "2 days")]
)
def test_the_demo_runs_silver_with_a_tick_max_age_its_compressed_clock_allows(
    tmp_path: Path, configured: str, expected: str
) -> None:
    settings = parse_settings(settings_dict(tmp_path, silver={"tick_max_age": configured}))
    adjusted = with_demo_tick_max_age(settings)
    assert adjusted.silver.tick_max_age == expected
    assert adjusted.model_copy(update={"silver": settings.silver}) == settings  # nothing else changes
    # the demo's stale ticks stay stale
    assert DEMO_TICK_STALENESS > pd.Timedelta(DEMO_TICK_MAX_AGE)


def test_the_summary_names_the_portfolios_of_each_alert_rule() -> None:
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


def test_the_summary_shows_the_tick_counts_and_the_pnl_per_portfolio() -> None:
    summary = DemoSummary(
        ticks_produced=2000,
        ticks_in=2000,
        ticks_accepted=1880,
        ticks_quarantined=120,
        ticks_quarantined_by_reason={
            "invalid_price": 40,
            "malformed_json": 20,
            "stale_tick": 40,
            "unknown_instrument": 20,
        },
        pnl_date=date(2026, 12, 1),
        pnl=[
            PortfolioPnl("P-001", "USD", 1250.0, -48_300.0, -47_050.0),
            PortfolioPnl("P-002", "EUR", 0.0, 2_340_000.0, 2_340_000.0),
            PortfolioPnl("P-003", None, None, None, None),
        ],
    )
    console = Console(width=120, record=True)
    print_summary(summary, console)
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    ticks_at = lines.index("                               Price and FX ticks")
    assert lines[ticks_at : ticks_at + 7] == [
        "                               Price and FX ticks",
        "┏━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━┓",
        "┃ produced ┃ ticks in (bronze) ┃ accepted (silver) ┃ quarantined ┃ unaccounted ┃",
        "┡━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━┩",
        "│     2000 │              2000 │              1880 │         120 │           0 │",
        "└──────────┴───────────────────┴───────────────────┴─────────────┴─────────────┘",
        "ticks quarantined by reason: invalid_price 40, malformed_json 20, stale_tick 40, unknown_instrument 20",
    ]
    pnl_at = lines.index("         P&L on 2026-12-01 (base currency)")
    assert lines[pnl_at : pnl_at + 8] == [
        "         P&L on 2026-12-01 (base currency)",
        "┏━━━━━━━━━━━┳━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓",
        "┃ portfolio ┃ ccy ┃ realized ┃ unrealized ┃ total ┃",
        "┡━━━━━━━━━━━╇━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩",
        "│ P-001     │ USD │    1.25k │     -48.3k │  -47k │",
        "│ P-002     │ EUR │        0 │      2.34M │ 2.34M │",
        "│ P-003     │ -   │        - │          - │     - │",
        "└───────────┴─────┴──────────┴────────────┴───────┘",
    ]
    assert lines[pnl_at - 1].startswith("└") and lines[pnl_at + 8] == "alerts: none"  # after the risk table

    quiet = Console(width=120, record=True)
    print_summary(DemoSummary(), quiet)
    assert "ticks quarantined by reason: none" in quiet.export_text().splitlines()
    assert "P&L on" not in quiet.export_text()  # no gold.pnl rows yet: no P&L table
