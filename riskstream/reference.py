"""Reference data: read the CSV files, check them, and replace the reference Delta tables.

The files are small (portfolios, instruments, currencies, correlation pairs, a few years of daily
closes), so they are read with Python's ``csv`` module rather than Spark's CSV reader: that way a bad
value is reported with its file, line and column, and nothing is written until all files are known
to be good.

``price_history.csv`` is optional: without it ``reference.price_history`` is written empty and the
risk measures that need history fall back to the reference volatilities (and say so). When present,
every factor it names must be an instrument (``instrument``) or a currency with a USD rate (``fx``).

Each table is replaced with one overwrite (one Delta commit), so a reader (the running silver
stream re-reads the tables every micro-batch) sees either the old or the new version of a table,
never a half-written one. The tables are committed one after another, not in one transaction.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskstream.errors import ConfigError, PipelineError
from riskstream.tables import TableRef
from transformations.schemas import (
    ASSET_CLASSES,
    CORRELATIONS_DDL,
    FACTOR_TYPES,
    FX_RATES_DDL,
    INSTRUMENTS_DDL,
    PORTFOLIOS_DDL,
    PRICE_HISTORY_DDL,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")


class ReferenceDataError(ConfigError):
    """A reference CSV file is missing or has a bad header, value or duplicate key. Nothing was written."""


Check = Callable[[Any], str | None]
"""Returns why a converted value is not acceptable, or None when it is."""


def _positive(value: float) -> str | None:
    return None if value > 0 else f"{value} is not > 0"


def _currency(value: str) -> str | None:
    return None if _CURRENCY.match(value) else f"{value!r} is not a 3-letter ISO 4217 code"


def _asset_class(value: str) -> str | None:
    return None if value in ASSET_CLASSES else f"{value!r} is not one of {', '.join(ASSET_CLASSES)}"


def _correlation(value: float) -> str | None:
    return None if -1 <= value <= 1 else f"{value} is not between -1 and 1"


def _level(value: str) -> str | None:
    return None if value in ("instrument", "sector") else f"{value!r} is not 'instrument' or 'sector'"


def _factor_type(value: str) -> str | None:
    return None if value in FACTOR_TYPES else f"{value!r} is not one of {', '.join(FACTOR_TYPES)}"


def _pair_stored_once(row: dict[str, Any]) -> str | None:
    if row["left_id"] < row["right_id"]:
        return None
    return f"pair ({row['left_id']}, {row['right_id']}) must be stored once with left_id < right_id"


@dataclass(frozen=True)
class ReferenceTable:
    """One reference table: its CSV file, Delta schema, key and value checks."""

    name: str
    ddl: str
    key: tuple[str, ...]
    checks: tuple[tuple[str, Check], ...] = ()
    optional: tuple[str, ...] = ()
    row_check: Callable[[dict[str, Any]], str | None] | None = None
    required_file: bool = True
    """False: a missing file loads as an empty table."""
    added: tuple[str, ...] = ()
    """Trailing columns of later releases: a file whose header stops before them loads them as null."""

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> list[tuple[str, str]]:
        """(name, Spark type) pairs, in DDL order."""
        pairs = []
        for part in self.ddl.split(","):
            name, spark_type = part.strip().split(" ", 1)
            pairs.append((name, spark_type.strip()))
        return pairs


REFERENCE_TABLES = (
    ReferenceTable(
        "portfolios",
        PORTFOLIOS_DDL,
        key=("portfolio_id",),
        checks=(
            ("base_currency", _currency),
            ("gross_limit", _positive),
            ("var_limit", _positive),
            ("single_trade_limit", _positive),
            ("stress_loss_limit", _positive),
        ),
        optional=("name", "stress_loss_limit"),
        added=("stress_loss_limit",),
    ),
    ReferenceTable(
        "instruments",
        INSTRUMENTS_DDL,
        key=("instrument_id",),
        checks=(
            ("asset_class", _asset_class),
            ("currency", _currency),
            ("multiplier", _positive),
            ("daily_vol", _positive),
            ("reference_price", _positive),
        ),
        optional=("name", "sector", "country"),
    ),
    ReferenceTable(
        "fx_rates",
        FX_RATES_DDL,
        key=("currency",),
        checks=(("currency", _currency), ("usd_rate", _positive)),
    ),
    ReferenceTable(
        "correlations",
        CORRELATIONS_DDL,
        key=("level", "left_id", "right_id"),
        checks=(("level", _level), ("correlation", _correlation)),
        row_check=_pair_stored_once,
    ),
    ReferenceTable(
        "price_history",
        PRICE_HISTORY_DDL,
        key=("factor_type", "factor_id", "as_of_date"),
        checks=(("factor_type", _factor_type), ("close", _positive)),
        required_file=False,
    ),
)
"""The tables ``riskstream reference load`` writes, in load order."""


def _convert(text: str, spark_type: str) -> Any:
    """Convert one CSV cell; raises ValueError with a reason on failure."""
    if spark_type == "string":
        return text
    if spark_type == "double":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return value
    if spark_type == "timestamp":
        for pattern in _TIMESTAMP_FORMATS:
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=UTC)
            except ValueError:
                continue
        raise ValueError(f"{text!r} is not an ISO-8601 UTC timestamp such as 2026-11-24T00:00:00.000Z")
    if spark_type == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO-8601 date such as 2026-11-24") from None
    raise ValueError(f"unsupported column type {spark_type}")


def read_reference_csv(table: ReferenceTable, path: Path) -> list[tuple[Any, ...]]:
    """Read and check one reference CSV file into rows in DDL column order.

    Raises:
        ReferenceDataError: naming the file, the line and the column of the first problem: a missing
            file, a header that is not exactly the table's columns, an empty required value, a value
            that does not convert or fails its check, or a key that appears twice.
    """
    if not path.is_file() and not table.required_file:
        return []
    if not path.is_file():
        raise ReferenceDataError(
            f"{path}: reference file not found (write a set with `riskstream simulate reference --out "
            f"{path.parent}` and load it with `riskstream reference load --source {path.parent}`)"
        )
    columns = table.columns
    expected_header = [name for name, _ in columns]
    rows: list[tuple[Any, ...]] = []
    seen_keys: dict[tuple[Any, ...], int] = {}
    checks = dict(table.checks)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ReferenceDataError(f"{path}: empty file, expected the header {','.join(expected_header)}")
        given = [cell.strip() for cell in header]
        missing = len(expected_header) - len(given)
        if given != expected_header and not (
            0 < missing <= len(table.added)
            and given == expected_header[:-missing]
            and expected_header[-missing:] == list(table.added[-missing:])
        ):
            raise ReferenceDataError(
                f"{path}, line 1: header is {','.join(header)!r}, expected {','.join(expected_header)!r}"
            )
        absent = max(missing, 0) if given != expected_header else 0
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns) - absent:
                raise ReferenceDataError(f"{path}, line {line}: {len(cells)} values, expected {len(columns) - absent}")
            cells = cells + [""] * absent
            values: list[Any] = []
            for (name, spark_type), raw in zip(columns, cells, strict=True):
                text = raw.strip()
                if not text:
                    if name in table.optional:
                        values.append(None)
                        continue
                    raise ReferenceDataError(f"{path}, line {line}, column {name}: value is required")
                try:
                    value = _convert(text, spark_type)
                except ValueError:
                    raise ReferenceDataError(
                        f"{path}, line {line}, column {name}: {text!r} is not a valid {spark_type}"
                    ) from None
                problem = checks[name](value) if name in checks else None
                if problem:
                    raise ReferenceDataError(f"{path}, line {line}, column {name}: {problem}")
                values.append(value)
            row = tuple(values)
            if table.row_check is not None:
                problem = table.row_check(dict(zip(expected_header, row, strict=True)))
                if problem:
                    raise ReferenceDataError(f"{path}, line {line}: {problem}")
            key = tuple(row[expected_header.index(name)] for name in table.key)
            if key in seen_keys:
                raise ReferenceDataError(
                    f"{path}, line {line}: duplicate key {', '.join(table.key)} = {', '.join(map(str, key))} "
                    f"(first on line {seen_keys[key]})"
                )
            seen_keys[key] = line
            rows.append(row)
    return rows


def _check_consistency(source: Path, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Cross-file rule: every currency used by a portfolio or an instrument has a USD rate.

    Without it every trade of such a portfolio or instrument would be quarantined as ``missing_fx_rate``.
    """
    rated = {row[0] for row in rows["fx_rates"]}
    for name, column in (("portfolios", "base_currency"), ("instruments", "currency")):
        table = next(t for t in REFERENCE_TABLES if t.name == name)
        index = [c for c, _ in table.columns].index(column)
        missing = sorted({row[index] for row in rows[name]} - rated)
        if missing:
            raise ReferenceDataError(
                f"{source / table.file_name}: column {column} uses {', '.join(missing)}, "
                f"which {source / 'fx_rates.csv'} has no usd_rate for"
            )


def _check_history_factors(source: Path, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Cross-file rule: every factor in the price history is an instrument or a currency with a USD rate."""
    known = {
        "instrument": {row[0] for row in rows["instruments"]},
        "fx": {row[0] for row in rows["fx_rates"]},
    }
    unknown = sorted({(row[0], row[1]) for row in rows["price_history"] if row[1] not in known[row[0]]})
    if unknown:
        named = ", ".join(f"{factor_type} {factor_id}" for factor_type, factor_id in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ReferenceDataError(
            f"{source / 'price_history.csv'}: {named}{more} is not in instruments.csv or fx_rates.csv"
        )


def read_reference(source: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Read and check all reference CSV files in ``source``; raises before anything is written."""
    rows = {table.name: read_reference_csv(table, source / table.file_name) for table in REFERENCE_TABLES}
    _check_consistency(source, rows)
    _check_history_factors(source, rows)
    return rows


def reference_frames(spark: SparkSession, source: Path) -> dict[str, DataFrame]:
    """The checked reference files as DataFrames with the exact schemas of :mod:`transformations.schemas`."""
    rows = read_reference(source)
    return {table.name: spark.createDataFrame(rows[table.name], table.ddl) for table in REFERENCE_TABLES}


def overwrite_table(df: DataFrame, table: TableRef) -> None:
    """Replace the table's content with ``df`` in one Delta commit (creating it when absent)."""
    table.save(df.write.format("delta").mode("overwrite").option("overwriteSchema", "true"))


def write_reference(
    spark: SparkSession,
    rows: dict[str, list[tuple[Any, ...]]],
    tables: Callable[[str], TableRef],
    report: Callable[[str, int], None],
) -> dict[str, int]:
    """Replace each reference table with its checked rows (from :func:`read_reference`).

    Args:
        spark: the session to write with.
        rows: the rows of each table, by table name.
        tables: the destination of each table by name (``Catalog(settings).table("reference", name)``).
        report: called with (table name, rows) after each table is written, for progress output.

    Returns:
        The row count written per table.
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    counts: dict[str, int] = {}
    for table in REFERENCE_TABLES:
        destination = tables(table.name)
        try:
            overwrite_table(spark.createDataFrame(rows[table.name], table.ddl), destination)
        except (PySparkException, Py4JJavaError) as error:
            raise PipelineError(f"writing reference table {destination} failed: {error}") from error
        counts[table.name] = len(rows[table.name])
        report(table.name, counts[table.name])
    return counts


def load_reference(
    spark: SparkSession, source: Path, tables: Callable[[str], TableRef], report: Callable[[str, int], None]
) -> dict[str, int]:
    """Read and check all reference CSV files in ``source``, then write them (see :func:`write_reference`)."""
    return write_reference(spark, read_reference(source), tables, report)
