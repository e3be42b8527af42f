"""The Databricks source-notebook runner: parsing, widgets, display capture, %sql cells, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.notebook_runner import Cell, NotebookError, WidgetsShim, parse_notebook, run_notebook

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def test_parse_splits_cells_and_classifies_magics() -> None:
    cells = parse_notebook((FIXTURES / "runner_sample.py").read_text(encoding="utf-8"))
    assert [(cell.number, cell.kind) for cell in cells] == [
        (1, "md"),
        (2, "python"),
        (3, "python"),
        (4, "sql"),
        (5, "python"),
    ]
    assert cells[3] == Cell(
        4,
        "sql",
        "SELECT portfolio_id, SUM(quantity) AS total_quantity\nFROM runner_sample_trades\n"
        "GROUP BY portfolio_id\nORDER BY portfolio_id",
    )
    assert cells[1].source == (
        'dbutils.widgets.text("portfolio_id", "P-001", "Portfolio")\n'
        'dbutils.widgets.dropdown("side", "BUY", ["BUY", "SELL"], "Side")\n'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("print('no header')\n", "is not a Databricks source notebook"),
        ((FIXTURES / "runner_pip_magic.py").read_text(encoding="utf-8"), "magic '%pip' is not supported"),
    ],
)
def test_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(NotebookError, match=message):
        parse_notebook(text, "bad.py")


@pytest.mark.spark
@pytest.mark.parametrize(
    ("widgets", "expected_rows", "expected_widgets"),
    [
        ({}, [("P-001", "BUY", 100)], {"portfolio_id": "P-001", "side": "BUY"}),
        ({"side": "SELL"}, [("P-001", "SELL", 40)], {"portfolio_id": "P-001", "side": "SELL"}),
        ({"portfolio_id": "P-002"}, [("P-002", "BUY", 7)], {"portfolio_id": "P-002", "side": "BUY"}),
    ],
)
def test_run_displays_exact_frames(spark, widgets, expected_rows, expected_widgets) -> None:
    run = run_notebook(FIXTURES / "runner_sample.py", spark, widgets)

    assert [item.cell for item in run.displayed] == [3, 4, 5]
    filtered, totals = run.frames()
    pd.testing.assert_frame_equal(
        filtered,
        pd.DataFrame(expected_rows, columns=["portfolio_id", "side", "quantity"]).astype({"quantity": "int32"}),
    )
    pd.testing.assert_frame_equal(
        totals, pd.DataFrame({"portfolio_id": ["P-001", "P-002"], "total_quantity": [140, 7]})
    )
    assert run.displayed[2].value == expected_widgets


@pytest.mark.spark
def test_failing_cell_is_named(spark) -> None:
    with pytest.raises(NotebookError, match=r"runner_failing.py, cell 2: ZeroDivisionError: division by zero"):
        run_notebook(FIXTURES / "runner_failing.py", spark)


def test_dropdown_refuses_a_value_outside_its_choices() -> None:
    widgets = WidgetsShim({"side": "HOLD"})
    with pytest.raises(NotebookError, match=r"widget 'side': 'HOLD' is not one of its choices \['BUY', 'SELL'\]"):
        widgets.dropdown("side", "BUY", ["BUY", "SELL"])


def test_undeclared_widget_fails_like_databricks() -> None:
    widgets = WidgetsShim({"given": "1"})
    assert widgets.get("given") == "1"
    with pytest.raises(NotebookError, match="InputWidgetNotDefined: no widget named 'missing'"):
        widgets.get("missing")
    widgets.text("declared", "x")
    widgets.removeAll()
    assert widgets.getAll() == {"given": "1"}
