"""Draw docs/images/flow.svg, the picture of riskstream's flow in the README.

Run ``make docs-images`` (or ``python docs/images/flow.py``) after changing the flow; the SVG is
written without a date or random ids, so the same source gives the same file.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).with_name("flow.svg")

# (key, x, y, width, title, detail): x and y are the box's lower-left corner, in an 18.2 x 7.6 canvas.
BOXES = [
    ("capture", 0.2, 5.2, 2.6, "trade capture", "JSON trade events\nkey = portfolio_id"),
    ("topic", 3.3, 5.2, 2.6, "Event Hubs `trades`", "Kafka endpoint\n(locally Apache Kafka)"),
    ("bronze", 6.4, 5.2, 2.6, "bronze.trade_events", "raw bytes + Kafka lineage\nappend-only Delta"),
    ("silver", 9.5, 5.2, 2.9, "silver.trades", "parse, validate, dedupe,\nNEW/AMEND/CANCEL (JVM),\nenrich, score"),
    ("gold", 13.9, 5.2, 2.9, "gold", "positions, portfolio risk\n(VaR, limit use), windows,\nrisk alerts"),
    ("reference", 6.4, 2.7, 2.6, "reference tables", "portfolios, instruments,\nFX, correlations"),
    ("quarantine", 9.5, 2.7, 2.9, "silver.quarantine", "every rejected record\nwith its reason codes"),
    ("alerts", 12.7, 2.7, 2.5, "topic `risk-alerts`", "one record per alert"),
    ("snowflake", 15.6, 2.7, 2.5, "Snowflake", "change data feed ->\nMERGE, version recorded"),
    ("readers", 13.35, 0.2, 4.0, "dashboard, SQL alert, notebooks", "risk managers and analysts\non Databricks"),
]
ARROWS = [
    ("capture", "topic"),
    ("topic", "bronze"),
    ("bronze", "silver"),
    ("silver", "quarantine"),
    ("reference", "silver"),
    ("silver", "gold"),
    ("gold", "alerts"),
    ("gold", "snowflake"),
    ("gold", "readers"),
]
COLOURS = {"bronze": "#d9a066", "silver": "#c0c7cf", "quarantine": "#f2c7c7", "gold": "#f1d36b"}


def _anchor(box: tuple[str, float, float, float, str, str], towards: tuple[float, float]) -> tuple[float, float]:
    """The middle of the side of ``box`` that faces ``towards``."""
    _, x, y, width, _, _ = box
    height = 1.9
    centre = (x + width / 2, y + height / 2)
    dx, dy = towards[0] - centre[0], towards[1] - centre[1]
    if abs(dx) * height > abs(dy) * width:
        return (x + width, centre[1]) if dx > 0 else (x, centre[1])
    return (centre[0], y + height) if dy > 0 else (centre[0], y)


def draw(out: Path = OUT) -> Path:
    plt.rcParams["svg.hashsalt"] = "riskstream-flow"
    plt.rcParams["svg.fonttype"] = "none"
    figure, axes = plt.subplots(figsize=(18.2, 7.6))
    axes.set_xlim(0, 18.2)
    axes.set_ylim(0, 7.6)
    axes.axis("off")
    by_key = {box[0]: box for box in BOXES}
    for key, x, y, width, title, detail in BOXES:
        patch = FancyBboxPatch(
            (x, y),
            width,
            1.9,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=COLOURS.get(key, "#e8eef6"),
            edgecolor="#4a5568",
        )
        axes.add_patch(patch)
        axes.text(x + width / 2, y + 1.5, title, ha="center", va="center", fontsize=11, weight="bold")
        axes.text(x + width / 2, y + 0.75, detail, ha="center", va="center", fontsize=9, linespacing=1.3)
    for start, end in ARROWS:
        a, b = by_key[start], by_key[end]
        centre_b = (b[1] + b[3] / 2, b[2] + 0.95)
        centre_a = (a[1] + a[3] / 2, a[2] + 0.95)
        arrow = FancyArrowPatch(
            _anchor(a, centre_b), _anchor(b, centre_a), arrowstyle="-|>", mutation_scale=14, color="#2d3748"
        )
        axes.add_patch(arrow)
    axes.text(
        0.2,
        7.3,
        "riskstream: Spark Structured Streaming on Databricks, exactly once from Event Hubs to risk",
        fontsize=13,
        weight="bold",
    )
    figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    return out


if __name__ == "__main__":
    print(draw())
