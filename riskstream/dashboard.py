"""The risk dashboard picture: exposure and VaR over time per portfolio, limits and breaches.

Two files, both self-contained: ``dashboard.png`` (matplotlib, Agg backend, no display needed) and
``dashboard.html`` (the same picture inlined as base64 plus the latest limit use and the risk
alerts as HTML tables; no external scripts, styles or images).

Input is pandas, not Spark, so the renderer is tested on fixture frames:

* ``history``: one row per portfolio and point in time, as :func:`riskstream.analytics.risk_history`
  returns it (``as_of, portfolio_id, gross_exposure_base, var_99_1d, gross_limit, var_limit,
  gross_limit_utilisation, var_limit_utilisation``). Amounts are in the portfolio's base
  currency, so each portfolio gets its own axes.
* ``alerts``: ``gold.risk_alerts`` rows (``portfolio_id, rule, window_start, measured_value,
  limit_value, utilisation``).

A breach is a point where a utilisation exceeds 1 (the amount is above its limit).
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

    from riskstream.config import Settings

MAX_PORTFOLIOS = 8
"""Portfolios drawn in the picture (largest gross exposure first); the tables list all of them."""

HISTORY_COLUMNS = (
    "as_of",
    "portfolio_id",
    "gross_exposure_base",
    "var_99_1d",
    "gross_limit",
    "var_limit",
    "gross_limit_utilisation",
    "var_limit_utilisation",
)
ALERT_COLUMNS = ("portfolio_id", "rule", "window_start", "measured_value", "limit_value", "utilisation")


@dataclass(frozen=True)
class DashboardFiles:
    png: Path
    html: Path


def _amount(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):,.2f}"


def _share(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.1%}"


def latest_limit_use(history: pd.DataFrame) -> pd.DataFrame:
    """The newest row of each portfolio, ordered by portfolio: what the limit-use table shows."""
    newest = history.sort_values(["portfolio_id", "as_of"]).groupby("portfolio_id", as_index=False).tail(1)
    return newest.sort_values("portfolio_id").reset_index(drop=True)


def compact_amount(value: float, currency: str = "") -> str:
    """``12.5M USD``-style tick and title text: k, M, bn with at most three significant digits."""
    size = abs(value)
    for factor, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if size >= factor:
            text = f"{value / factor:.3g}{suffix}"
            break
    else:
        text = f"{value:.3g}"
    return f"{text} {currency}".strip()


def panel_title(portfolio_id: str, label: str, desk: str | None, currency: str | None, use: float | None) -> str:
    """``P-001 · equities · USD: gross exposure, 96 % of limit`` (desk and currency when known)."""
    where = " · ".join(part for part in (portfolio_id, desk, currency) if part)
    used = "" if use is None or math.isnan(use) else f", {use:.0%} of limit".replace("%", " %")
    return f"{where}: {label}{used}"


def render_png(history: pd.DataFrame, path: Path, title: str) -> Path:
    """Draw one row per portfolio: gross exposure (left) and 99 % 1-day VaR (right) over time.

    Amounts are compact (``12.5M``) in the portfolio's base currency, named with its desk in each
    panel's title together with the latest use of the limit; a panel whose latest point is above
    its limit has a red title, and every point above the limit is a red cross.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    latest = latest_limit_use(history).sort_values("gross_exposure_base", ascending=False)
    portfolios = list(latest["portfolio_id"])[:MAX_PORTFOLIOS]
    rows = max(len(portfolios), 1)
    figure, axes = plt.subplots(rows, 2, figsize=(12, 2.6 * rows + 0.8), squeeze=False)
    figure.suptitle(title, fontsize=13)
    panels = (
        ("gross_exposure_base", "gross_limit", "gross_limit_utilisation", "gross exposure"),
        ("var_99_1d", "var_limit", "var_limit_utilisation", "99 % 1-day VaR"),
    )
    for row, portfolio_id in enumerate(portfolios):
        points = history[history["portfolio_id"] == portfolio_id].sort_values("as_of")
        newest = points.iloc[-1]
        desk = str(newest["desk"]) if "desk" in points and isinstance(newest["desk"], str) else None
        currency = (
            str(newest["base_currency"])
            if "base_currency" in points and isinstance(newest["base_currency"], str)
            else None
        )
        for column, (value, limit, utilisation, label) in enumerate(panels):
            ax = axes[row][column]
            ax.plot(points["as_of"], points[value], marker="o", markersize=3, color="tab:blue", label=label)
            limit_value = points[limit].dropna()
            if not limit_value.empty:
                ax.axhline(float(limit_value.iloc[-1]), color="tab:orange", linestyle="--", label="limit")
            breaches = points[points[utilisation].fillna(0.0) > 1.0]
            if not breaches.empty:
                ax.scatter(
                    breaches["as_of"], breaches[value], color="tab:red", marker="X", s=60, zorder=3, label="above limit"
                )
            use = newest[utilisation]
            use_value = None if use is None else float(use)
            breached = use_value is not None and not math.isnan(use_value) and use_value > 1.0
            ax.set_title(
                panel_title(portfolio_id, label, desk, currency, use_value),
                fontsize=10,
                color="tab:red" if breached else "black",
                weight="bold" if breached else "normal",
            )
            ax.yaxis.set_major_formatter(FuncFormatter(lambda amount, _: compact_amount(amount)))
            ax.set_ylim(bottom=0)
            ax.set_ylabel(currency or "base currency", fontsize=8)
            ax.tick_params(axis="x", labelsize=7, rotation=20)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
    if not portfolios:
        axes[0][0].text(0.5, 0.5, "no portfolio risk yet", ha="center", va="center")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
    return path


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def limit_use_rows(history: pd.DataFrame) -> list[list[str]]:
    """The limit-use table's cells (formatted), one row per portfolio."""
    return [
        [
            str(row.portfolio_id),
            _amount(row.gross_exposure_base),
            _amount(row.gross_limit),
            _share(row.gross_limit_utilisation),
            _amount(row.var_99_1d),
            _amount(row.var_limit),
            _share(row.var_limit_utilisation),
        ]
        for row in latest_limit_use(history).itertuples(index=False)
    ]


def alert_rows(alerts: pd.DataFrame) -> list[list[str]]:
    """The alerts table's cells (formatted), newest window first."""
    ordered = alerts.sort_values(["window_start", "portfolio_id", "rule"], ascending=[False, True, True])
    return [
        [
            str(row.portfolio_id),
            str(row.rule),
            str(row.window_start),
            _amount(row.measured_value),
            _amount(row.limit_value),
            _share(row.utilisation),
        ]
        for row in ordered.itertuples(index=False)
    ]


def render_html(
    history: pd.DataFrame, alerts: pd.DataFrame, png: Path, path: Path, title: str, generated_at: datetime
) -> Path:
    """A single HTML file: the PNG inlined as base64, then the limit-use and alert tables."""
    picture = base64.b64encode(png.read_bytes()).decode("ascii")
    limit_table = _table(
        ["portfolio", "gross exposure", "gross limit", "gross use", "VaR 99% 1d", "VaR limit", "VaR use"],
        limit_use_rows(history),
    )
    alert_table = _table(["portfolio", "rule", "window start", "measured", "limit", "use"], alert_rows(alerts))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }}
th {{ background: #eee; }}
td:first-child, td:nth-child(2) {{ text-align: left; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Generated {html.escape(generated_at.isoformat(timespec="seconds"))}. Amounts in each portfolio's base currency.</p>
<img alt="exposure and VaR over time per portfolio" src="data:image/png;base64,{picture}">
<h2>Limit use (latest)</h2>
{limit_table}
<h2>Risk alerts ({len(alerts)})</h2>
{alert_table}
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def render_dashboard(
    history: pd.DataFrame, alerts: pd.DataFrame, out_dir: Path, *, title: str, generated_at: datetime
) -> DashboardFiles:
    """Write ``out_dir/dashboard.png`` and ``out_dir/dashboard.html`` from pandas frames."""
    png = render_png(history, out_dir / "dashboard.png", title)
    page = render_html(history, alerts, png, out_dir / "dashboard.html", title, generated_at)
    return DashboardFiles(png=png, html=page)


def write_dashboard(
    spark: SparkSession, settings: Settings, out_dir: Path, *, generated_at: datetime
) -> DashboardFiles:
    """Read the gold tables of ``settings`` and render the dashboard into ``out_dir``."""
    from riskstream.analytics import risk_history
    from riskstream.tables import Catalog

    catalog = Catalog(settings)
    history = risk_history(spark, settings).select(*HISTORY_COLUMNS)
    portfolios = catalog.table("reference", "portfolios")
    if portfolios.exists(spark):
        desks = portfolios.read(spark).select("portfolio_id", "desk", "base_currency")
        history = history.join(desks, "portfolio_id", "left")
    frame = history.toPandas()
    alerts_table = catalog.table("gold", "risk_alerts")
    if alerts_table.exists(spark):
        alerts = alerts_table.read(spark).select(*ALERT_COLUMNS).toPandas()
    else:
        import pandas as pd

        alerts = pd.DataFrame(columns=list(ALERT_COLUMNS))
    return render_dashboard(
        frame, alerts, out_dir, title=f"riskstream: portfolio risk ({settings.target})", generated_at=generated_at
    )
