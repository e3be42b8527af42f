"""The dashboard renderer on fixture frames: a real PNG and a self-contained HTML page with exact tables."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from riskstream.dashboard import (
    alert_rows,
    backtest_rows,
    limit_use_rows,
    pnl_by_portfolio,
    pnl_heading,
    pnl_portfolio_rows,
    pnl_position_rows,
    quarantine_rows,
    render_dashboard,
    stress_rows,
)

FIXTURES = Path(__file__).parent / "fixtures" / "dashboard"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    history = pd.read_csv(FIXTURES / "risk_history.csv", parse_dates=["as_of", "event_time"])
    alerts = pd.read_csv(FIXTURES / "risk_alerts.csv", parse_dates=["window_start"])
    return history, alerts


def test_limit_use_is_the_latest_point_per_portfolio() -> None:
    history, _ = _frames()
    assert limit_use_rows(history) == [
        ["P-001", "48,000,000.00", "50,000,000.00", "96.0%", "1,400,000.00", "1,500,000.00", "93.3%"],
        ["P-002", "11,000,000.00", "80,000,000.00", "13.8%", "240,000.00", "2,500,000.00", "9.6%"],
    ]


def test_alerts_newest_window_first() -> None:
    _, alerts = _frames()
    assert alert_rows(alerts) == [
        ["P-001", "gross_limit", "2026-11-24 09:32:00", "52,500,000.00", "50,000,000.00", "105.0%"],
        ["P-001", "var_limit", "2026-11-24 09:32:00", "1,650,000.00", "1,500,000.00", "110.0%"],
        ["P-002", "concentration", "2026-11-24 09:30:00", "0.40", "0.25", "160.0%"],
    ]


def _pnl() -> pd.DataFrame:
    """One trading day of gold.pnl: P-001 (USD) has three positions, P-002 (EUR) one."""
    return pd.read_csv(FIXTURES / "pnl.csv", parse_dates=["trading_date"]).assign(
        trading_date=lambda frame: frame["trading_date"].dt.date
    )


def test_pnl_is_summed_per_portfolio_never_across_portfolios() -> None:
    totals = pnl_by_portfolio(_pnl())
    assert totals.to_dict("records") == [
        {
            "trading_date": date(2026, 11, 25),
            "portfolio_id": "P-001",
            "base_currency": "USD",
            "positions": 3,
            "realized_pnl_base": -850.5,
            "unrealized_pnl_base": 2553.78125,
            "total_pnl_base": 1703.28125,
        },
        {
            "trading_date": date(2026, 11, 25),
            "portfolio_id": "P-002",
            "base_currency": "EUR",
            "positions": 1,
            "realized_pnl_base": 0.0,
            "unrealized_pnl_base": 13824.88,
            "total_pnl_base": 13824.88,
        },
    ]
    assert pnl_portfolio_rows(_pnl()) == [
        ["P-001", "USD", "3", "-850.50", "2,553.78", "1,703.28"],
        ["P-002", "EUR", "1", "0.00", "13,824.88", "13,824.88"],
    ]


def test_pnl_positions_largest_absolute_total_first_per_portfolio() -> None:
    assert pnl_position_rows(_pnl()) == [
        ["P-001", "US0378331005", "1,000", "189.5", "189,500.00", "400.00", "2,250.00", "2,650.00"],
        ["P-001", "GB0007980591", "0.5", "4.75", "2.97", "-1,250.50", "0.03", "-1,250.47"],
        ["P-001", "DE0007164600", "-200", "181", "-39,277.05", "0.00", "303.75", "303.75"],
        ["P-002", "EURUSD", "6,000,000", "1.0875", "6,013,824.88", "0.00", "13,824.88", "13,824.88"],
    ]
    assert pnl_heading(_pnl()) == "Intraday P&L, trading date 2026-11-25"
    assert pnl_heading(_pnl().iloc[0:0]) == "Intraday P&L: no trading day in gold.pnl yet"


QUARANTINE = pd.DataFrame({"reason": ["late_event", "malformed_json", "duplicate_event_id"], "records": [4, 40, 60]})
LATENCIES = [2.0, 4.0, 6.0, 8.0, 10.0]


def test_quarantine_most_frequent_reason_first() -> None:
    assert quarantine_rows(QUARANTINE) == [["duplicate_event_id", "60"], ["malformed_json", "40"], ["late_event", "4"]]


def test_render_writes_png_and_self_contained_html(tmp_path: Path) -> None:
    history, alerts = _frames()
    files = render_dashboard(
        history,
        alerts,
        tmp_path / "out",
        title="Risk <test>",
        generated_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        quarantine=QUARANTINE,
        latencies=LATENCIES,
        pnl=_pnl(),
    )

    png = files.png.read_bytes()
    assert files.png == tmp_path / "out" / "dashboard.png"
    assert png.startswith(PNG_MAGIC)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 860)

    page = files.html.read_text(encoding="utf-8")
    assert "<title>Risk &lt;test&gt;</title>" in page
    assert "Generated 2026-11-24T10:00:00+00:00." in page
    assert re.findall(r"https?://", page) == []
    inlined = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert inlined is not None
    import base64

    assert base64.b64decode(inlined.group(1)) == png
    assert (
        "<tr><td>P-001</td><td>48,000,000.00</td><td>50,000,000.00</td><td>96.0%</td>"
        "<td>1,400,000.00</td><td>1,500,000.00</td><td>93.3%</td></tr>"
    ) in page
    assert (
        "<tr><td>P-002</td><td>concentration</td><td>2026-11-24 09:30:00</td><td>0.40</td><td>0.25</td>"
        "<td>160.0%</td></tr>"
    ) in page
    assert "<h2>Risk alerts (3)</h2>" in page
    assert "<h2>Quarantined by reason</h2>" in page
    assert "<tr><td>duplicate_event_id</td><td>60</td></tr>" in page
    assert "<h2>Intraday P&amp;L, trading date 2026-11-25</h2>" in page
    assert (
        "<thead><tr><th>portfolio</th><th>base currency</th><th>positions</th><th>realized</th><th>unrealized</th>"
        "<th>total</th></tr></thead>\n<tbody>\n"
        "<tr><td>P-001</td><td>USD</td><td>3</td><td>-850.50</td><td>2,553.78</td><td>1,703.28</td></tr>\n"
        "<tr><td>P-002</td><td>EUR</td><td>1</td><td>0.00</td><td>13,824.88</td><td>13,824.88</td></tr>\n"
        "</tbody>"
    ) in page
    assert (
        "<h3>Per position, largest first</h3>\n<table>\n<thead><tr><th>portfolio</th><th>instrument</th>"
        "<th>quantity</th><th>last price</th><th>market value</th><th>realized</th><th>unrealized</th>"
        "<th>total</th></tr></thead>\n<tbody>\n"
        "<tr><td>P-001</td><td>US0378331005</td><td>1,000</td><td>189.5</td><td>189,500.00</td><td>400.00</td>"
        "<td>2,250.00</td><td>2,650.00</td></tr>\n"
    ) in page
    assert (
        page.index("<h2>Limit use (latest)</h2>")
        < page.index("<h2>Intraday P&amp;L")
        < page.index("<h2>Risk alerts (3)</h2>")
    )


def test_render_without_any_risk_yet(tmp_path: Path) -> None:
    empty_history = pd.DataFrame(
        columns=[
            "as_of",
            "portfolio_id",
            "gross_exposure_base",
            "var_99_1d",
            "gross_limit",
            "var_limit",
            "gross_limit_utilisation",
            "var_limit_utilisation",
        ]
    )
    empty_alerts = pd.DataFrame(
        columns=["portfolio_id", "rule", "window_start", "measured_value", "limit_value", "utilisation"]
    )
    files = render_dashboard(empty_history, empty_alerts, tmp_path, title="empty", generated_at=datetime(2026, 1, 1))
    assert files.png.read_bytes().startswith(PNG_MAGIC)
    page = files.html.read_text(encoding="utf-8")
    assert "<h2>Risk alerts (0)</h2>" in page
    assert "<h2>Intraday P&amp;L: no trading day in gold.pnl yet</h2>" in page


def test_amounts_are_compact_and_titles_name_desk_currency_and_use() -> None:
    from riskstream.dashboard import compact_amount, panel_title

    assert [compact_amount(value) for value in (0.0, 950.0, 12_500.0, 48_000_000.0, 2_340_000_000.0)] == [
        "0",
        "950",
        "12.5k",
        "48M",
        "2.34bn",
    ]
    assert compact_amount(1_500_000.0, "EUR") == "1.5M EUR"
    assert panel_title("P-001", "gross exposure", "equities", "USD", 0.96) == (
        "P-001 · equities · USD: gross exposure, 96 % of limit"
    )
    assert panel_title("P-002", "99 % 1-day VaR", None, None, float("nan")) == "P-002: 99 % 1-day VaR"


def test_the_picture_marks_a_breached_limit_in_red(tmp_path: Path, monkeypatch) -> None:
    """The panels as drawn: the summary row, then per portfolio its amounts over event time.

    P-001's gross exposure is at 105 % of its limit in the newest point: a red title, and the two
    points above the limit (09:31:40 and 09:32:40 event time) are red crosses.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    from riskstream import dashboard

    history, alerts = _frames()
    newest = history["as_of"] == history["as_of"].max()
    history.loc[newest & (history["portfolio_id"] == "P-001"), "gross_limit_utilisation"] = 1.05
    history["desk"] = history["portfolio_id"].map({"P-001": "equities", "P-002": "macro"})
    history["base_currency"] = history["portfolio_id"].map({"P-001": "USD", "P-002": "EUR"})
    drawn: list[tuple[str, str, str, list[str], list[str]]] = []
    legends: list[list[str]] = []
    close = plt.close

    def keep_axes(figure) -> None:
        for ax in figure.axes:
            x = [str(pd.Timestamp(value).time()) for value in ax.lines[0].get_xdata()] if ax.lines[:1] else []
            crosses = [
                str(pd.Timestamp(plt.matplotlib.dates.num2date(point[0]).replace(tzinfo=None)).time())
                for collection in ax.collections
                if isinstance(collection, PathCollection)
                for point in collection.get_offsets()
            ]
            drawn.append(
                (ax.get_title(loc="left") or ax.get_title(), ax.title.get_color(), ax.get_xlabel(), x, crosses)
            )
        legends.append([text.get_text() for text in figure.axes[2].get_legend().get_texts()])
        close(figure)

    monkeypatch.setattr(plt, "close", keep_axes)
    dashboard.render_png(history, tmp_path / "dashboard.png", "risk", alerts, QUARANTINE, LATENCIES)
    times = ["09:29:40", "09:30:40", "09:31:40", "09:32:40"]
    assert [(title, xlabel) for title, _, xlabel, _, _ in drawn[:3]] == [
        ("Risk alerts: 3", ""),
        ("Quarantined by reason: 104", "records"),
        ("Event -> gold latency", "seconds, over 5 accepted events"),
    ]
    assert legends == [["p50 6.0 s", "p95 9.6 s"]]
    assert drawn[3:] == [
        ("P-001 · equities · USD: gross exposure, 105 % of limit", "tab:red", "event time (UTC)", times, times[2:]),
        ("P-001 · equities · USD: 99 % 1-day VaR, 93 % of limit", "black", "event time (UTC)", times, times[2:3]),
        ("P-002 · macro · EUR: gross exposure, 14 % of limit", "black", "event time (UTC)", times, []),
        ("P-002 · macro · EUR: 99 % 1-day VaR, 10 % of limit", "black", "event time (UTC)", times, []),
    ]


def test_the_alert_panel_counts_alerts_by_portfolio_and_rule(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    from riskstream import dashboard

    history, alerts = _frames()
    cells: list[dict[tuple[int, int], str]] = []
    close = plt.close

    def keep_table(figure) -> None:
        table = figure.axes[0].tables[0]
        cells.append({key: cell.get_text().get_text() for key, cell in table.get_celld().items()})
        close(figure)

    monkeypatch.setattr(plt, "close", keep_table)
    dashboard.render_png(history, tmp_path / "dashboard.png", "risk", alerts, QUARANTINE, LATENCIES)
    grid = cells[0]
    rows = sorted({row for row, _ in grid})
    columns = sorted({column for _, column in grid})
    assert [[grid.get((row, column), "") for column in columns] for row in rows] == [
        ["", "concentration", "gross limit", "var limit"],
        ["P-001", "0", "1", "1"],
        ["P-002", "1", "0", "0"],
        ["all", "1", "1", "1"],
    ]


def test_points_without_event_time_fall_back_to_commit_time(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    from riskstream import dashboard

    history, _ = _frames()
    history["event_time"] = pd.NaT
    labels: list[str] = []
    close = plt.close

    def keep_labels(figure) -> None:
        labels.extend(ax.get_xlabel() for ax in figure.axes[3:])
        close(figure)

    monkeypatch.setattr(plt, "close", keep_labels)
    dashboard.render_png(history, tmp_path / "dashboard.png", "risk")
    assert labels == ["commit time (UTC)"] * 4


STRESS = pd.DataFrame(
    [
        ("P-001", "equity_crash", 29_533.84, 100_000.0),
        ("P-002", "usd_rally", 120_000.0, 100_000.0),
        ("P-003", "rates_shock", 50_000.0, None),
        ("P-004", None, None, None),  # a row of an earlier release: no stress figures yet
    ],
    columns=["portfolio_id", "worst_stress_scenario", "worst_stress_loss_base", "stress_loss_limit"],
)
BACKTESTS = pd.DataFrame(
    [
        ("P-001", 250, 3, 0.758, 0.786, "green"),
        ("P-002", 250, 12, 0.0000123, 0.25, "red"),
        ("P-003", 250, 6, 0.059, 0.59, "yellow"),
        ("P-004", 250, 1, 0.278, 0.928, "green"),
    ],
    columns=["portfolio_id", "days", "exceptions", "kupiec_p_value", "christoffersen_p_value", "traffic_light"],
)


def test_stress_rows_largest_limit_use_first_then_portfolios_without_a_limit() -> None:
    assert stress_rows(STRESS) == [
        ["P-002", "usd_rally", "120,000.00", "100,000.00", "120.0%"],
        ["P-001", "equity_crash", "29,533.84", "100,000.00", "29.5%"],
        ["P-003", "rates_shock", "50,000.00", "-", "-"],
        ["P-004", "-", "-", "-", "-"],
    ]


def test_backtest_rows_red_first_then_yellow_then_green() -> None:
    assert backtest_rows(BACKTESTS) == [
        ["P-002", "red", "12 / 250", "0.000", "0.250"],
        ["P-003", "yellow", "6 / 250", "0.059", "0.590"],
        ["P-001", "green", "3 / 250", "0.758", "0.786"],
        ["P-004", "green", "1 / 250", "0.278", "0.928"],
    ]


def test_the_page_shows_stress_and_backtest_between_pnl_and_alerts(tmp_path: Path) -> None:
    history, alerts = _frames()
    files = render_dashboard(
        history,
        alerts,
        tmp_path,
        title="Risk",
        generated_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        stress=STRESS,
        backtests=BACKTESTS,
    )
    page = files.html.read_text(encoding="utf-8")
    assert "<tr><td>P-002</td><td>usd_rally</td><td>120,000.00</td><td>100,000.00</td><td>120.0%</td></tr>" in page
    assert "<tr><td>P-002</td><td>red</td><td>12 / 250</td><td>0.000</td><td>0.250</td></tr>" in page
    assert (
        page.index("<h2>Intraday P&amp;L")
        < page.index("<h2>Stress: the worst scenario per portfolio</h2>")
        < page.index("<h2>VaR backtest: 99 % one-day VaR over 250 days")
        < page.index("<h2>Risk alerts")
    )
