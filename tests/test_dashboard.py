"""The dashboard renderer on fixture frames: a real PNG and a self-contained HTML page with exact tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from riskstream.dashboard import alert_rows, limit_use_rows, render_dashboard

FIXTURES = Path(__file__).parent / "fixtures" / "dashboard"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    history = pd.read_csv(FIXTURES / "risk_history.csv", parse_dates=["as_of"])
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


def test_render_writes_png_and_self_contained_html(tmp_path: Path) -> None:
    history, alerts = _frames()
    files = render_dashboard(
        history, alerts, tmp_path / "out", title="Risk <test>", generated_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    )

    png = files.png.read_bytes()
    assert files.png == tmp_path / "out" / "dashboard.png"
    assert png.startswith(PNG_MAGIC)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 600)

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
    assert "<h2>Risk alerts (0)</h2>" in files.html.read_text(encoding="utf-8")


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
    """The panel titles as drawn: P-001's gross exposure is at 105 % of its limit in the newest point."""
    import matplotlib.pyplot as plt

    from riskstream import dashboard

    history, _ = _frames()
    newest = history["as_of"] == history["as_of"].max()
    history.loc[newest & (history["portfolio_id"] == "P-001"), "gross_limit_utilisation"] = 1.05
    history["desk"] = history["portfolio_id"].map({"P-001": "equities", "P-002": "macro"})
    history["base_currency"] = history["portfolio_id"].map({"P-001": "USD", "P-002": "EUR"})
    titles: list[tuple[str, str]] = []
    close = plt.close

    def keep_titles(figure) -> None:
        titles.extend((ax.get_title(), ax.title.get_color()) for ax in figure.axes)
        close(figure)

    monkeypatch.setattr(plt, "close", keep_titles)
    dashboard.render_png(history, tmp_path / "dashboard.png", "risk")
    assert titles == [
        ("P-001 · equities · USD: gross exposure, 105 % of limit", "tab:red"),
        ("P-001 · equities · USD: 99 % 1-day VaR, 93 % of limit", "black"),
        ("P-002 · macro · EUR: gross exposure, 14 % of limit", "black"),
        ("P-002 · macro · EUR: 99 % 1-day VaR, 10 % of limit", "black"),
    ]
