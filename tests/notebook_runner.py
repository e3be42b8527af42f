"""Run Databricks source-format notebooks outside Databricks, for tests and local use.

A source-format notebook is a ``.py`` file that starts with ``# Databricks notebook source`` and
whose cells are separated by ``# COMMAND ----------``. Cells whose lines all start with
``# MAGIC`` are magic cells: ``%md`` cells are documentation and skipped, ``%sql`` cells are run
with ``spark.sql``; any other magic (``%pip``, ``%run``, ``%sh``...) is refused, because the
notebooks here must stay thin (widgets -> package functions).

Python cells run in one shared namespace holding ``spark``, a :class:`WidgetsShim` behind
``dbutils.widgets`` (values passed by the caller, defaults from the notebook's own widget
declarations) and a ``display`` that records what was displayed (DataFrames as pandas), so a test
can assert exactly what an analyst would see. On Databricks the runtime's own ``dbutils`` and
``display`` are used instead and this module is not involved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from riskstream.errors import RiskstreamError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

NOTEBOOK_HEADER = "# Databricks notebook source"
CELL_SEPARATOR = "# COMMAND ----------"
_MAGIC_PREFIX = re.compile(r"^# MAGIC ?")

CellKind = Literal["python", "md", "sql"]


class NotebookError(RiskstreamError):
    """A notebook could not be parsed or one of its cells failed; the message names the cell."""

    exit_code = 6


@dataclass(frozen=True)
class Cell:
    """One notebook cell. ``number`` counts from 1 in file order, as Databricks shows them."""

    number: int
    kind: CellKind
    source: str


def _magic_body(lines: list[str]) -> list[str]:
    return [_MAGIC_PREFIX.sub("", line, count=1) for line in lines]


def _classify(number: int, text: str) -> Cell | None:
    lines = text.strip("\n").splitlines()
    if not any(line.strip() for line in lines):
        return None
    content = [line for line in lines if line.strip()]
    if not all(line.startswith("# MAGIC") for line in content):
        return Cell(number, "python", "\n".join(lines) + "\n")
    body = _magic_body(lines)
    first = body[0].strip()
    command = first.split(maxsplit=1)[0] if first else ""
    if command == "%md":
        return Cell(number, "md", "\n".join(body))
    if command == "%sql":
        sql = "\n".join([first[len("%sql") :], *body[1:]]).strip()
        return Cell(number, "sql", sql)
    raise NotebookError(
        f"cell {number}: magic {command or '(empty)'!r} is not supported; notebooks here only use %md and %sql"
    )


def parse_notebook(text: str, name: str = "<notebook>") -> list[Cell]:
    """Split a source-format notebook into cells (empty cells dropped).

    Raises:
        NotebookError: the header is missing or a cell uses an unsupported magic.
    """
    stripped = text.lstrip("\ufeff")
    if not stripped.startswith(NOTEBOOK_HEADER):
        raise NotebookError(f"{name} is not a Databricks source notebook: the first line must be {NOTEBOOK_HEADER!r}")
    body = stripped[len(NOTEBOOK_HEADER) :]
    chunks = re.split(rf"^{re.escape(CELL_SEPARATOR)}[ \t]*$", body, flags=re.MULTILINE)
    cells = []
    for number, chunk in enumerate(chunks, start=1):
        cell = _classify(number, chunk)
        if cell is not None:
            cells.append(cell)
    return cells


class WidgetsShim:
    """The subset of ``dbutils.widgets`` the notebooks use (camelCase as in Databricks), fed by the caller's values.

    A widget declared by the notebook takes the caller's value when one was given, else its
    declared default. ``get`` on an undeclared widget that the caller did not pass fails the way
    Databricks does (``InputWidgetNotDefined``), so a notebook cannot silently read nothing.
    """

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._given = dict(values or {})
        self._declared: dict[str, str] = {}
        self._choices: dict[str, list[str]] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._declared[name] = self._given.get(name, defaultValue)

    def dropdown(
        self,
        name: str,
        defaultValue: str,
        choices: Iterable[str],
        label: str | None = None,
    ) -> None:
        allowed = list(choices)
        if defaultValue not in allowed:
            raise NotebookError(f"widget {name!r}: default {defaultValue!r} is not one of its choices {allowed}")
        value = self._given.get(name, defaultValue)
        if value not in allowed:
            raise NotebookError(f"widget {name!r}: {value!r} is not one of its choices {allowed}")
        self._declared[name] = value
        self._choices[name] = allowed

    def get(self, name: str) -> str:
        if name in self._declared:
            return self._declared[name]
        if name in self._given:
            return self._given[name]
        raise NotebookError(f"InputWidgetNotDefined: no widget named {name!r}")

    def getAll(self) -> dict[str, str]:
        return {**self._given, **self._declared}

    def removeAll(self) -> None:
        self._declared.clear()
        self._choices.clear()


@dataclass
class DbutilsShim:
    """``dbutils`` with only ``widgets``; anything else is deliberately absent."""

    widgets: WidgetsShim


@dataclass
class Displayed:
    """One ``display(...)`` call: the cell it came from and the value (DataFrames as pandas)."""

    cell: int
    value: Any


@dataclass
class NotebookRun:
    """What a notebook run produced: every displayed value in order, and the final namespace."""

    name: str
    displayed: list[Displayed] = field(default_factory=list)
    namespace: dict[str, Any] = field(default_factory=dict)

    def frames(self) -> list[pd.DataFrame]:
        """The displayed tables, as pandas DataFrames, in display order."""
        import pandas as pd

        return [item.value for item in self.displayed if isinstance(item.value, pd.DataFrame)]

    def figures(self) -> list[Any]:
        """The displayed matplotlib figures, in display order."""
        from matplotlib.figure import Figure

        return [item.value for item in self.displayed if isinstance(item.value, Figure)]


def _to_displayable(value: Any) -> Any:
    from pyspark.sql import DataFrame

    if isinstance(value, DataFrame):
        return value.toPandas()
    return value


def run_notebook(
    path: Path | str,
    spark: SparkSession,
    widgets: Mapping[str, str] | None = None,
    extra_globals: Mapping[str, Any] | None = None,
) -> NotebookRun:
    """Execute every code cell of the notebook at ``path`` in one namespace, like a Databricks run.

    Args:
        path: the ``.py`` source-format notebook.
        spark: the session the notebook sees as ``spark`` (also used for ``%sql`` cells).
        widgets: widget values, as a job's ``base_parameters`` would pass them.
        extra_globals: more names for the namespace (rarely needed; the notebooks import what they use).

    Returns:
        The run, with everything that was displayed; the result of a ``%sql`` cell counts as displayed.

    Raises:
        NotebookError: naming the notebook and cell number when a cell raises.
    """
    notebook = Path(path)
    cells = parse_notebook(notebook.read_text(encoding="utf-8"), notebook.name)
    run = NotebookRun(name=notebook.name)
    current_cell = 0

    def display(value: Any, *args: Any, **kwargs: Any) -> None:
        run.displayed.append(Displayed(current_cell, _to_displayable(value)))

    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__file__": str(notebook),
        "spark": spark,
        "dbutils": DbutilsShim(WidgetsShim(widgets)),
        "display": display,
        **(extra_globals or {}),
    }
    run.namespace = namespace
    for cell in cells:
        current_cell = cell.number
        if cell.kind == "md":
            continue
        try:
            if cell.kind == "sql":
                display(spark.sql(cell.source))
            else:
                exec(compile(cell.source, f"{notebook.name} [cell {cell.number}]", "exec"), namespace)
        except RiskstreamError as error:
            raise NotebookError(f"{notebook.name}, cell {cell.number}: {error}") from error
        except Exception as error:
            raise NotebookError(f"{notebook.name}, cell {cell.number}: {type(error).__name__}: {error}") from error
    return run
