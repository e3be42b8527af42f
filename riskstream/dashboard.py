"""The risk dashboard picture: a risk report of exposure and VaR against limits, alerts,
quarantine and latency.

Two files, both self-contained: ``dashboard.png`` (matplotlib, Agg backend, no display needed) and
``dashboard.html`` (the same picture inlined as base64 plus the latest limit use, the intraday P&L
per portfolio and per position, the risk alerts and the quarantine reasons as HTML tables; no
external scripts, styles or images).

The picture has a summary row (alert counts by portfolio and rule, quarantined records by reason,
event -> gold latency) and then one row per portfolio: gross exposure and 99 % 1-day VaR against
their limits over event time.

Input is pandas, not Spark, so the renderer is tested on fixture frames:

* ``history``: one row per portfolio and point in time, as :func:`riskstream.analytics.risk_history`
  returns it (``as_of, event_time, portfolio_id, gross_exposure_base, var_99_1d, gross_limit,
  var_limit, gross_limit_utilisation, var_limit_utilisation``; ``desk`` and ``base_currency`` when
  known). Points are drawn at ``event_time`` (commit time ``as_of`` when it is missing). Amounts
  are in the portfolio's base currency, so each portfolio gets its own axes.
* ``alerts``: ``gold.risk_alerts`` rows (``portfolio_id, rule, window_start, measured_value,
  limit_value, utilisation``).
* ``quarantine``: ``reason, records`` (a record with several reasons counts under each).
* ``latencies``: event -> gold latency of each accepted event in seconds
  (:func:`riskstream.analytics.event_to_gold_latencies`).
* ``pnl``: ``gold.pnl`` rows of one trading day, as :func:`riskstream.analytics.intraday_pnl`
  returns them (at least :data:`PNL_COLUMNS`): each position's P&L since the start of that day, in
  the portfolio's base currency. Per portfolio the page sums realized, unrealized and total P&L;
  amounts of different portfolios are never added (their base currencies differ).

A breach is a point where a utilisation exceeds 1 (the amount is above its limit).
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from pyspark.sql import SparkSession

    from riskstream.config import Settings

MAX_PORTFOLIOS = 8
"""Portfolios drawn in the picture (largest gross exposure first); the tables list all of them."""

HISTORY_COLUMNS = (
    "as_of",
    "event_time",
    "portfolio_id",
    "gross_exposure_base",
    "var_99_1d",
    "gross_limit",
    "var_limit",
    "gross_limit_utilisation",
    "var_limit_utilisation",
)
ALERT_COLUMNS = ("portfolio_id", "rule", "window_start", "measured_value", "limit_value", "utilisation")
QUARANTINE_COLUMNS = ("reason", "records")
PNL_COLUMNS = (
    "trading_date",
    "portfolio_id",
    "instrument_id",
    "base_currency",
    "net_quantity",
    "last_price",
    "market_value_base",
    "realized_pnl_base",
    "unrealized_pnl_base",
    "total_pnl_base",
)
PNL_MEASURES = ("realized_pnl_base", "unrealized_pnl_base", "total_pnl_base")


@dataclass(frozen=True)
class DashboardFiles:
    png: Path
    html: Path


def _amount(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):,.2f}"


def _share(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.1%}"


def _quantity(value: Any) -> str:
    """Instrument units as exact as they are stored (up to 8 decimals), without trailing zeros."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = Decimal(str(value))
    return "0" if number == 0 else format(number.normalize(), ",f")


def _price(value: Any) -> str:
    """A price in the instrument's currency, with the digits it has (``189.5``, ``1.0875``)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):,.10g}"


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


def _time_axis(points: pd.DataFrame) -> tuple[Any, str]:
    """The x values of a portfolio's points: event time when every point has one, else commit time."""
    if "event_time" in points and points["event_time"].notna().all():
        return points["event_time"], "event time (UTC)"
    return points["as_of"], "commit time (UTC)"


def _alert_counts(ax: Axes, alerts: pd.DataFrame) -> None:
    """A table of alert counts: one row per portfolio with alerts, one column per rule, and totals."""
    ax.axis("off")
    ax.set_title(f"Risk alerts: {len(alerts)}", fontsize=10, loc="left")
    if alerts.empty:
        ax.text(0.5, 0.5, "no alerts", ha="center", va="center", fontsize=10)
        return
    counts = alerts.groupby(["portfolio_id", "rule"]).size().unstack(fill_value=0).sort_index()
    counts.loc["all"] = counts.sum()
    rules = list(counts.columns)
    table = ax.table(
        cellText=[[str(int(value)) for value in row] for row in counts.to_numpy()],
        rowLabels=list(counts.index),
        colLabels=[rule.replace("_", " ") for rule in rules],
        loc="upper center",
        cellLoc="right",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width(list(range(-1, len(rules))))
    table.scale(1.0, 1.3)
    for (row, column), cell in table.get_celld().items():
        if row > 0 and column >= 0 and cell.get_text().get_text() != "0":
            cell.get_text().set_color("tab:red")


def _quarantine_bars(ax: Axes, quarantine: pd.DataFrame) -> None:
    total = int(quarantine["records"].sum()) if not quarantine.empty else 0
    ax.set_title(f"Quarantined by reason: {total}", fontsize=10, loc="left")
    if quarantine.empty:
        ax.axis("off")
        ax.text(0.5, 0.5, "nothing quarantined", ha="center", va="center", fontsize=10)
        return
    ordered = quarantine.sort_values(["records", "reason"], ascending=[True, False])
    bars = ax.barh(list(ordered["reason"]), list(ordered["records"]), color="tab:gray")
    ax.bar_label(bars, fontsize=7, padding=2)
    ax.tick_params(axis="y", labelsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("records", fontsize=8)


def _latency_histogram(ax: Axes, latencies: Any) -> None:
    import numpy as np

    values = np.asarray(latencies, dtype=float)
    if values.size == 0:
        ax.set_title("Event -> gold latency", fontsize=10, loc="left")
        ax.axis("off")
        ax.text(0.5, 0.5, "no latency measured", ha="center", va="center", fontsize=10)
        return
    p50, p95 = np.percentile(values, [50, 95])
    ax.set_title("Event -> gold latency", fontsize=10, loc="left")
    ax.hist(values, bins=30, color="tab:blue", alpha=0.7)
    for value, name, color in ((p50, "p50", "tab:orange"), (p95, "p95", "tab:red")):
        ax.axvline(value, color=color, linestyle="--", label=f"{name} {value:.1f} s")
    ax.set_xlabel(f"seconds, over {values.size:,} accepted events", fontsize=8)
    ax.set_ylabel("events", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def _portfolio_panel(
    ax: Axes, points: pd.DataFrame, columns: tuple[str, str, str, str], who: tuple[str, str | None, str | None]
) -> None:
    """One amount of one portfolio over time against its limit; points above the limit are red crosses."""
    from matplotlib.ticker import FuncFormatter

    value, limit, utilisation, label = columns
    portfolio_id, desk, currency = who
    x, x_label = _time_axis(points)
    ax.plot(x, points[value], marker="o", markersize=3, color="tab:blue", label=label)
    limit_value = points[limit].dropna()
    if not limit_value.empty:
        ax.axhline(float(limit_value.iloc[-1]), color="tab:orange", linestyle="--", label="limit")
    above = points[utilisation].fillna(0.0) > 1.0
    if above.any():
        ax.scatter(x[above], points[value][above], color="tab:red", marker="X", s=60, zorder=3, label="above limit")
    use = points.iloc[-1][utilisation]
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
    ax.set_xlabel(x_label, fontsize=7)
    ax.tick_params(axis="x", labelsize=7, rotation=20)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _text_or_none(points: pd.DataFrame, column: str) -> str | None:
    value = points.iloc[-1][column] if column in points else None
    return value if isinstance(value, str) else None


def render_png(
    history: pd.DataFrame,
    path: Path,
    title: str,
    alerts: pd.DataFrame | None = None,
    quarantine: pd.DataFrame | None = None,
    latencies: Any = (),
) -> Path:
    """Draw the summary row, then one row per portfolio: gross exposure (left) and 99 % 1-day VaR
    (right) over event time.

    Amounts are compact (``12.5M``) in the portfolio's base currency, named with its desk in each
    panel's title together with the latest use of the limit; a panel whose latest point is above
    its limit has a red title, and every point above the limit is a red cross.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import pandas as pd

    alerts = pd.DataFrame(columns=list(ALERT_COLUMNS)) if alerts is None else alerts
    quarantine = pd.DataFrame(columns=list(QUARANTINE_COLUMNS)) if quarantine is None else quarantine
    latest = latest_limit_use(history).sort_values("gross_exposure_base", ascending=False)
    portfolios = list(latest["portfolio_id"])[:MAX_PORTFOLIOS]
    rows = max(len(portfolios), 1)
    figure = plt.figure(figsize=(12, 2.6 * rows + 3.4))
    grid = figure.add_gridspec(rows + 1, 6, height_ratios=[1.25] + [1.0] * rows)
    figure.suptitle(title, fontsize=13)
    _alert_counts(figure.add_subplot(grid[0, 0:2]), alerts)
    _quarantine_bars(figure.add_subplot(grid[0, 2:4]), quarantine)
    _latency_histogram(figure.add_subplot(grid[0, 4:6]), latencies)
    panels = (
        ("gross_exposure_base", "gross_limit", "gross_limit_utilisation", "gross exposure"),
        ("var_99_1d", "var_limit", "var_limit_utilisation", "99 % 1-day VaR"),
    )
    for row, portfolio_id in enumerate(portfolios, start=1):
        points = history[history["portfolio_id"] == portfolio_id].sort_values("as_of").reset_index(drop=True)
        who = (portfolio_id, _text_or_none(points, "desk"), _text_or_none(points, "base_currency"))
        for column, columns in enumerate(panels):
            _portfolio_panel(figure.add_subplot(grid[row, 3 * column : 3 * column + 3]), points, columns, who)
    if not portfolios:
        empty = figure.add_subplot(grid[1, :])
        empty.axis("off")
        empty.text(0.5, 0.5, "no portfolio risk yet", ha="center", va="center")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.5 / figure.get_figheight()))  # room for the suptitle
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


def pnl_by_portfolio(pnl: pd.DataFrame) -> pd.DataFrame:
    """Per portfolio (ordered by id): ``trading_date, portfolio_id, base_currency, positions`` and the
    sums of :data:`PNL_MEASURES` over its positions."""
    grouped = pnl.groupby(["trading_date", "portfolio_id", "base_currency"], as_index=False)
    totals = grouped.agg(
        positions=("instrument_id", "count"), **{measure: (measure, "sum") for measure in PNL_MEASURES}
    )
    return totals.sort_values("portfolio_id").reset_index(drop=True)


def pnl_portfolio_rows(pnl: pd.DataFrame) -> list[list[str]]:
    """The P&L-per-portfolio table's cells: portfolio, base currency, positions, realized, unrealized, total."""
    return [
        [
            str(row.portfolio_id),
            str(row.base_currency),
            str(int(row.positions)),
            *(_amount(getattr(row, measure)) for measure in PNL_MEASURES),
        ]
        for row in pnl_by_portfolio(pnl).itertuples(index=False)
    ]


def pnl_position_rows(pnl: pd.DataFrame) -> list[list[str]]:
    """The P&L-per-position table's cells, per portfolio the largest absolute total first: portfolio,
    instrument, quantity, last price, market value, realized, unrealized, total."""
    ordered = pnl.assign(size=pnl["total_pnl_base"].abs()).sort_values(
        ["portfolio_id", "size", "instrument_id"], ascending=[True, False, True]
    )
    return [
        [
            str(row.portfolio_id),
            str(row.instrument_id),
            _quantity(row.net_quantity),
            _price(row.last_price),
            _amount(row.market_value_base),
            *(_amount(getattr(row, measure)) for measure in PNL_MEASURES),
        ]
        for row in ordered.itertuples(index=False)
    ]


def pnl_heading(pnl: pd.DataFrame) -> str:
    """``Intraday P&L, trading date 2026-11-25`` (the newest date in ``pnl``), or that there is none yet."""
    if pnl.empty:
        return "Intraday P&L: no trading day in gold.pnl yet"
    return f"Intraday P&L, trading date {max(pnl['trading_date'])}"


STRESS_COLUMNS = ("portfolio_id", "worst_stress_scenario", "worst_stress_loss_base", "stress_loss_limit")
BACKTEST_COLUMNS = ("portfolio_id", "days", "exceptions", "kupiec_p_value", "christoffersen_p_value", "traffic_light")


def stress_rows(stress: pd.DataFrame) -> list[list[str]]:
    """Worst stress scenario per portfolio (``gold.portfolio_risk``), the largest use of the limit first;
    portfolios without a limit last, by loss."""
    import pandas as pd

    loss = pd.to_numeric(stress["worst_stress_loss_base"], errors="coerce")
    limit = pd.to_numeric(stress["stress_loss_limit"], errors="coerce")
    ordered = stress.assign(worst_stress_loss_base=loss, stress_loss_limit=limit, use=loss / limit).sort_values(
        ["use", "worst_stress_loss_base", "portfolio_id"], ascending=[False, False, True], na_position="last"
    )
    return [
        [
            str(row.portfolio_id),
            "-" if row.worst_stress_scenario is None else str(row.worst_stress_scenario),
            _amount(row.worst_stress_loss_base) or "-",
            _amount(row.stress_loss_limit) or "-",
            _share(row.use) or "-",
        ]
        for row in ordered.itertuples(index=False)
    ]


def backtest_rows(backtests: pd.DataFrame) -> list[list[str]]:
    """``gold.var_backtest`` per portfolio: red first, then yellow, then green; by exceptions within a zone."""
    rank = backtests["traffic_light"].map({"red": 0, "yellow": 1, "green": 2})
    ordered = backtests.assign(rank=rank).sort_values(
        ["rank", "exceptions", "portfolio_id"], ascending=[True, False, True]
    )
    return [
        [
            str(row.portfolio_id),
            str(row.traffic_light),
            f"{row.exceptions} / {row.days}",
            f"{row.kupiec_p_value:.3f}",
            f"{row.christoffersen_p_value:.3f}",
        ]
        for row in ordered.itertuples(index=False)
    ]


def quarantine_rows(quarantine: pd.DataFrame) -> list[list[str]]:
    """The quarantine table's cells: most frequent reason first."""
    ordered = quarantine.sort_values(["records", "reason"], ascending=[False, True])
    return [[str(row.reason), f"{int(row.records):,}"] for row in ordered.itertuples(index=False)]


def render_html(
    history: pd.DataFrame,
    alerts: pd.DataFrame,
    png: Path,
    path: Path,
    title: str,
    generated_at: datetime,
    quarantine: pd.DataFrame | None = None,
    pnl: pd.DataFrame | None = None,
    stress: pd.DataFrame | None = None,
    backtests: pd.DataFrame | None = None,
) -> Path:
    """A single HTML file: the PNG inlined as base64, then the limit-use, intraday P&L, stress, VaR
    backtest, alert and quarantine tables."""
    import pandas as pd

    quarantine = pd.DataFrame(columns=list(QUARANTINE_COLUMNS)) if quarantine is None else quarantine
    pnl = pd.DataFrame(columns=list(PNL_COLUMNS)) if pnl is None else pnl
    stress = pd.DataFrame(columns=list(STRESS_COLUMNS)) if stress is None else stress
    backtests = pd.DataFrame(columns=list(BACKTEST_COLUMNS)) if backtests is None else backtests
    stress_table = _table(["portfolio", "worst scenario", "loss", "stress limit", "use"], stress_rows(stress))
    backtest_table = _table(
        ["portfolio", "zone", "exceptions", "Kupiec p-value", "Christoffersen p-value"], backtest_rows(backtests)
    )
    picture = base64.b64encode(png.read_bytes()).decode("ascii")
    limit_table = _table(
        ["portfolio", "gross exposure", "gross limit", "gross use", "VaR 99% 1d", "VaR limit", "VaR use"],
        limit_use_rows(history),
    )
    pnl_portfolio_table = _table(
        ["portfolio", "base currency", "positions", "realized", "unrealized", "total"], pnl_portfolio_rows(pnl)
    )
    pnl_position_table = _table(
        ["portfolio", "instrument", "quantity", "last price", "market value", "realized", "unrealized", "total"],
        pnl_position_rows(pnl),
    )
    alert_table = _table(["portfolio", "rule", "window start", "measured", "limit", "use"], alert_rows(alerts))
    quarantine_table = _table(["reason", "records"], quarantine_rows(quarantine))
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
<h2>{html.escape(pnl_heading(pnl))}</h2>
<p>Since the start of the trading day, in each portfolio's base currency; prices in the instrument's currency.</p>
{pnl_portfolio_table}
<h3>Per position, largest first</h3>
{pnl_position_table}
<h2>Stress: the worst scenario per portfolio</h2>
{stress_table}
<h2>VaR backtest: 99 % one-day VaR over 250 days (green 0-4, yellow 5-9, red 10+ exceptions)</h2>
{backtest_table}
<h2>Risk alerts ({len(alerts)})</h2>
{alert_table}
<h2>Quarantined by reason</h2>
{quarantine_table}
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def render_dashboard(
    history: pd.DataFrame,
    alerts: pd.DataFrame,
    out_dir: Path,
    *,
    title: str,
    generated_at: datetime,
    quarantine: pd.DataFrame | None = None,
    latencies: Any = (),
    pnl: pd.DataFrame | None = None,
    stress: pd.DataFrame | None = None,
    backtests: pd.DataFrame | None = None,
) -> DashboardFiles:
    """Write ``out_dir/dashboard.png`` and ``out_dir/dashboard.html`` from pandas frames."""
    png = render_png(history, out_dir / "dashboard.png", title, alerts, quarantine, latencies)
    page = render_html(
        history, alerts, png, out_dir / "dashboard.html", title, generated_at, quarantine, pnl, stress, backtests
    )
    return DashboardFiles(png=png, html=page)


def write_dashboard(
    spark: SparkSession, settings: Settings, out_dir: Path, *, generated_at: datetime
) -> DashboardFiles:
    """Read the gold tables (and silver's quarantine) of ``settings`` and render the dashboard into ``out_dir``.

    The P&L tables show the newest trading day of ``gold.pnl`` (empty while the table does not exist).
    """
    import pandas as pd
    from pyspark.sql import functions as F

    from riskstream.analytics import event_to_gold_latencies, intraday_pnl, risk_history
    from riskstream.tables import Catalog

    catalog = Catalog(settings)
    history = risk_history(spark, settings).select(*HISTORY_COLUMNS)
    portfolios = catalog.table("reference", "portfolios")
    if portfolios.exists(spark):
        desks = portfolios.read(spark).select("portfolio_id", "desk", "base_currency")
        history = history.join(desks, "portfolio_id", "left")
    alerts_table = catalog.table("gold", "risk_alerts")
    alerts = (
        alerts_table.read(spark).select(*ALERT_COLUMNS).toPandas()
        if alerts_table.exists(spark)
        else pd.DataFrame(columns=list(ALERT_COLUMNS))
    )
    quarantine_table = catalog.table("silver", "quarantine")
    quarantine = (
        quarantine_table.read(spark)
        .select(F.explode("reason_codes").alias("reason"))
        .groupBy("reason")
        .agg(F.count(F.lit(1)).alias("records"))
        .toPandas()
        if quarantine_table.exists(spark)
        else pd.DataFrame(columns=list(QUARANTINE_COLUMNS))
    )
    pnl_table = catalog.table("gold", "pnl")
    pnl = (
        pnl_table.read(spark).transform(intraday_pnl()).select(*PNL_COLUMNS).toPandas()
        if pnl_table.exists(spark)
        else pd.DataFrame(columns=list(PNL_COLUMNS))
    )
    risk_table = catalog.table("gold", "portfolio_risk")
    stress = (
        risk_table.read(spark).select(*STRESS_COLUMNS).toPandas()
        if risk_table.exists(spark)
        else pd.DataFrame(columns=list(STRESS_COLUMNS))
    )
    backtest_table = catalog.table("gold", "var_backtest")
    backtests = (
        backtest_table.read(spark).select(*BACKTEST_COLUMNS).toPandas()
        if backtest_table.exists(spark)
        else pd.DataFrame(columns=list(BACKTEST_COLUMNS))
    )
    return render_dashboard(
        history.toPandas(),
        alerts,
        out_dir,
        title=f"riskstream: portfolio risk ({settings.target})",
        generated_at=generated_at,
        quarantine=quarantine,
        latencies=event_to_gold_latencies(spark, settings),
        pnl=pnl,
        stress=stress,
        backtests=backtests,
    )
