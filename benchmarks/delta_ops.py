"""Delta write microbenchmark: what one append, overwrite, replaceWhere or MERGE of a few thousand rows costs.

``python -m benchmarks.delta_ops [--repetitions 20] [--warmup 2]``

The writes a micro-batch of riskstream does, each on its own, warm, in one local Spark session
(``local[2]``, 2 shuffle partitions, the project's session builder) under a temporary folder that is
deleted at the end. Rows have a narrow schema like ``gold.positions``. Every repetition writes into a
table created for it (untimed), so every timed write meets a table of the stated size at its first
version; the Spark DataFrames are built once per case from pandas (Arrow), so the write figures leave
out that conversion, which ``create_dataframe_200_collect`` measures. Per case the first ``--warmup``
repetitions are discarded and the rest summarised as p50 / p95 / mean milliseconds (numpy's linear
percentiles). The figures also go to ``out/bench/delta_ops.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.harness import default_output, wide_console, write_figures
from riskstream.config import Settings, load_settings, parse_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

POSITIONS_DDL = (
    "portfolio_id string, instrument_id string, trading_date date, net_quantity decimal(38,8), "
    "cost_basis_base double, average_cost_base double, last_price double, fx_rate_to_base double, "
    "market_value_base double, applied_batch_id long"
)
"""Like ``gold.positions`` (transformations/gold.py), with a date to replace one day of rows by."""
LAST_DATE = date(2026, 12, 7)
ROWS_PER_DATE = 200
THREADS = 3
MERGE_ON = "t.portfolio_id = s.portfolio_id AND t.instrument_id = s.instrument_id"


def positions(first: int, rows: int) -> pd.DataFrame:
    """Rows ``first`` .. ``first + rows - 1``: row i has key (P{i % 20}, I{i}) and date LAST_DATE - i // 200 days."""
    ids = np.arange(first, first + rows)
    rng = np.random.default_rng(first)
    quantity = rng.integers(-10_000, 10_000, rows)
    price = rng.uniform(5.0, 500.0, rows)
    fx_rate = rng.uniform(0.5, 1.5, rows)
    return pd.DataFrame(
        {
            "portfolio_id": [f"P{i % 20:03d}" for i in ids],
            "instrument_id": [f"I{i:06d}" for i in ids],
            "trading_date": [LAST_DATE - timedelta(days=int(i) // ROWS_PER_DATE) for i in ids],
            "net_quantity": [Decimal(int(q)) for q in quantity],
            "cost_basis_base": quantity * price * 0.98,
            "average_cost_base": price * 0.98,
            "last_price": price,
            "fx_rate_to_base": fx_rate,
            "market_value_base": quantity * price * fx_rate,
            "applied_batch_id": np.full(rows, 41, dtype=np.int64),
        }
    )


@dataclass
class Bench:
    """The session, a scratch folder and a fresh table path for every write."""

    spark: SparkSession
    folder: Path
    _tables: itertools.count[int] = field(default_factory=itertools.count)

    def frame(self, first: int, rows: int) -> DataFrame:
        return self.spark.createDataFrame(positions(first, rows), schema=POSITIONS_DDL)

    def table(self, first: int, rows: int) -> str:
        """A new Delta table holding ``positions(first, rows)``; its path."""
        path = str(self.folder / f"table-{next(self._tables)}")
        self.frame(first, rows).write.format("delta").save(path)
        return path


Repetition = Callable[[int], float]
"""One repetition of a case: builds its table (untimed), runs the write and returns its milliseconds."""
Prepare = Callable[[Bench], Repetition]
"""A case's untimed set-up (the source DataFrame); returns its repetition."""


def timed(action: Callable[[], object]) -> float:
    """Milliseconds ``action`` takes."""
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000


def append(rows: int, **options: str) -> Prepare:
    """Append ``rows`` new rows to a 5,000-row table with writer ``options`` (``{repetition}`` filled in)."""

    def prepare(bench: Bench) -> Repetition:
        batch = bench.frame(5_000, rows)

        def run(repetition: int) -> float:
            path = bench.table(0, 5_000)
            writer = batch.write.format("delta").mode("append")
            for key, value in options.items():
                writer = writer.option(key, value.format(repetition=repetition))
            return timed(lambda: writer.save(path))

        return run

    return prepare


def overwrite(rows: int, replace_where: str | None = None) -> Prepare:
    """Overwrite a table of ``rows`` rows with ``rows`` rows, or with ``replace_where`` the rows it selects in a
    5,000-row table."""

    def prepare(bench: Bench) -> Repetition:
        replacement = bench.frame(0, rows).coalesce(1)
        writer = replacement.write.format("delta").mode("overwrite")
        if replace_where:
            writer = writer.option("replaceWhere", replace_where)

        def run(_: int) -> float:
            path = bench.table(0, 5_000 if replace_where else rows)
            return timed(lambda: writer.save(path))

        return run

    return prepare


def merge(rows: int, into: int) -> Prepare:
    """MERGE ``rows`` rows, the first half matching, into a table of ``into`` rows."""

    def prepare(bench: Bench) -> Repetition:
        from delta.tables import DeltaTable

        source = bench.frame(into - rows // 2, rows).alias("s")

        def run(_: int) -> float:
            target = DeltaTable.forPath(bench.spark, bench.table(0, into)).alias("t")
            return timed(
                lambda: target.merge(source, MERGE_ON).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
            )

        return run

    return prepare


def create_dataframe_collect(bench: Bench) -> Repetition:
    pandas_frame = positions(0, 200)
    return lambda _: timed(lambda: bench.spark.createDataFrame(pandas_frame, schema=POSITIONS_DDL).collect())


def to_pandas_cached(bench: Bench) -> Repetition:
    cached = bench.frame(0, 2_000).cache()
    cached.count()
    return lambda _: timed(cached.toPandas)


def small_overwrites(threads: bool) -> Prepare:
    """Three overwrites of a 200-row table with 200 rows (three tables), one after the other or from threads."""

    def prepare(bench: Bench) -> Repetition:
        replacement = bench.frame(0, 200).coalesce(1)

        def overwrite_at(path: str) -> None:
            replacement.write.format("delta").mode("overwrite").save(path)

        def run(_: int) -> float:
            paths = [bench.table(0, 200) for _ in range(THREADS)]
            if not threads:
                return timed(lambda: list(map(overwrite_at, paths)))
            with ThreadPoolExecutor(max_workers=THREADS) as pool:
                return timed(lambda: list(pool.map(overwrite_at, paths)))

        return run

    return prepare


@dataclass(frozen=True)
class Case:
    description: str
    prepare: Prepare


CASES = {
    "append_2000": Case("append 2,000 rows to 5,000", append(2_000)),
    "append_2000_txn": Case(
        "append 2,000 rows to 5,000, txnAppId / txnVersion",
        append(2_000, txnAppId="bench", txnVersion="{repetition}"),
    ),
    "append_2000_user_metadata": Case(
        "append 2,000 rows to 5,000, userMetadata", append(2_000, userMetadata="bench:batch={repetition}")
    ),
    "overwrite_5000": Case("overwrite 5,000 rows with 5,000, coalesce(1)", overwrite(5_000)),
    "overwrite_200": Case("overwrite 200 rows with 200, coalesce(1)", overwrite(200)),
    "replace_where_200": Case(
        f"replaceWhere trading_date = {LAST_DATE}: 200 of 5,000 rows",
        overwrite(ROWS_PER_DATE, replace_where=f"trading_date = DATE'{LAST_DATE}'"),
    ),
    "merge_2000_into_5000": Case("MERGE 2,000 rows (1,000 matching) into 5,000", merge(2_000, into=5_000)),
    "merge_200_into_200": Case("MERGE 200 rows (100 matching) into 200", merge(200, into=200)),
    "create_dataframe_200_collect": Case("createDataFrame(pandas, 200 rows) + collect()", create_dataframe_collect),
    "to_pandas_cached_2000": Case("toPandas() of a cached 2,000-row DataFrame", to_pandas_cached),
    "overwrite_200_x3_serial": Case("3 x overwrite 200 rows, one after the other", small_overwrites(threads=False)),
    "overwrite_200_x3_threads": Case("3 x overwrite 200 rows, from 3 threads", small_overwrites(threads=True)),
}


def bench_settings() -> Settings:
    """The shipped local settings on ``local[2]`` with 2 shuffle partitions and no UI."""
    raw = load_settings("local").model_dump(by_alias=True)
    raw["spark"].update(master="local[2]", shuffle_partitions=2, ui_enabled=False)
    return parse_settings(raw, "benchmark settings")


def summary(samples_ms: Sequence[float]) -> dict[str, Any]:
    p50, p95 = np.percentile(samples_ms, [50, 95])
    return {
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "mean_ms": round(float(np.mean(samples_ms)), 1),
        "samples_ms": [round(sample, 1) for sample in samples_ms],
    }


def run_delta_ops_benchmark(repetitions: int, warmup: int, out: Console) -> dict[str, Any]:
    from riskstream.spark import get_spark

    settings = bench_settings()
    load_before = os.getloadavg()
    cases = {}
    with tempfile.TemporaryDirectory(prefix="riskstream-bench-") as name:
        spark = get_spark(settings)
        try:
            bench = Bench(spark, Path(name))
            for case_name, case in CASES.items():
                run = case.prepare(bench)
                samples = [run(repetition) for repetition in range(warmup + repetitions)][warmup:]
                cases[case_name] = {"description": case.description, **summary(samples)}
                out.print(f"{case_name}: p50 {cases[case_name]['p50_ms']:,.0f} ms", style="dim")
        finally:
            spark.stop()
    return {
        "benchmark": "delta_ops",
        "warmup": warmup,
        "repetitions": repetitions,
        "spark_master": settings.spark.master,
        "shuffle_partitions": settings.spark.shuffle_partitions,
        "load_average_before": [round(load, 2) for load in load_before],
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "cases": cases,
    }


def print_figures(figures: dict[str, Any], out: Console) -> None:
    table = Table(
        title=(
            f"Delta writes, {figures['spark_master']}, warm: {figures['repetitions']} repetitions "
            f"after {figures['warmup']} discarded"
        )
    )
    table.add_column("case")
    table.add_column("what")
    for column in ("p50 ms", "p95 ms", "mean ms"):
        table.add_column(column, justify="right")
    for name, case in figures["cases"].items():
        table.add_row(name, case["description"], *(f"{case[key]:,.0f}" for key in ("p50_ms", "p95_ms", "mean_ms")))
    out.print(table)
    before, after = (
        " / ".join(f"{load:.2f}" for load in figures[key]) for key in ("load_average_before", "load_average_after")
    )
    out.print(f"load averages (1, 5, 15 min): {before} before, {after} after")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.delta_ops", description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=20, help="measured repetitions per case")
    parser.add_argument("--warmup", type=int, default=2, help="repetitions per case run first and discarded")
    parser.add_argument("--out", type=Path, default=default_output("delta_ops"), help="where to write the JSON figures")
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.warmup < 0:
        parser.error("--repetitions must be at least 1 and --warmup at least 0")
    console = wide_console()
    figures = run_delta_ops_benchmark(args.repetitions, args.warmup, console)
    print_figures(figures, console)
    write_figures(args.out, figures)
    console.print(f"bench delta_ops: figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
