"""Which lifecycle operator wrote silver's checkpoint, and rebuilding silver (and gold) from bronze.

A streaming checkpoint holds the state of the operator that wrote it. The JVM lifecycle operator
keeps a ``TradeState`` bean; the Python operator of earlier releases kept a pandas state tuple,
which the JVM operator cannot read. So silver writes a marker file into its checkpoint before its
first micro-batch (:data:`MARKER`, naming the operator and its state version), and refuses to resume
a checkpoint that has batches but no marker, or another state version, with a message that says
what to do: ``riskstream rebuild silver``.

Rebuilding moves silver's tables and checkpoint aside (nothing is deleted: each gets the suffix
``_before_rebuild_<UTC time>``), and gold's too, since gold's tables are sums over silver and its
checkpoints point at the old silver table. The next ``riskstream run silver`` / ``gold`` then build
fresh tables from bronze, which holds every Kafka record: nothing is mixed and nothing is lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from riskstream import hadoop_files
from riskstream.errors import PipelineError
from riskstream.tables import Catalog, TableRef

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from riskstream.config import Settings

MARKER = "riskstream-lifecycle.json"
OPERATOR = {"lifecycle_operator": "io.riskstream.lifecycle.TradeLifecycle", "state_version": 1}
"""What the marker says; ``state_version`` follows ``TradeState.STATE_VERSION`` in jvm/lifecycle."""
REBUILD_HINT = (
    "rebuild silver from bronze with `riskstream rebuild silver` (it moves the silver and gold tables and "
    "checkpoints aside, deleting nothing), then run silver and gold again"
)


def _exists(spark: SparkSession, path: str) -> bool:
    return hadoop_files.exists(spark, path)


def check_silver_checkpoint(spark: SparkSession, checkpoint: str) -> None:
    """Refuse a checkpoint another lifecycle operator wrote; mark a new one as the JVM operator's."""
    marker = f"{checkpoint}/{MARKER}"
    if _exists(spark, marker):
        written = json.loads("\n".join(row[0] for row in spark.read.text(marker).collect()))
        if written != OPERATOR:
            raise PipelineError(
                f"silver's checkpoint {checkpoint} was written by {written}, not {OPERATOR}: {REBUILD_HINT}"
            )
        return
    if _exists(spark, f"{checkpoint}/offsets"):
        raise PipelineError(
            f"silver's checkpoint {checkpoint} was written by the Python lifecycle operator of an earlier "
            f"riskstream, whose state the JVM operator cannot read: {REBUILD_HINT}"
        )
    write_marker(spark, checkpoint, OPERATOR)


def check_positions_checkpoint(spark: SparkSession, checkpoint: str, sources: int) -> None:
    """Refuse a ``gold_positions`` checkpoint whose latest batch read another number of sources.

    Since the price stream, the query reads silver.trades and silver.prices (two sources); Spark
    would refuse a checkpoint of one with an internal message. This says what to do instead.
    """
    filesystem, offsets = hadoop_files.filesystem(spark, f"{checkpoint}/offsets")
    if not filesystem.exists(offsets):
        return
    batches = [status.getPath().getName() for status in filesystem.listStatus(offsets)]
    numbered = sorted(int(name) for name in batches if name.isdigit())
    if not numbered:
        return
    from riskstream.lineage import source_offsets

    lines = [row[0] for row in spark.read.text(f"{checkpoint}/offsets/{numbered[-1]}").collect()]
    found = len(source_offsets("\n".join(lines)))
    if found != sources:
        raise PipelineError(
            f"gold_positions' checkpoint {checkpoint} read {found} source(s), this release reads {sources} "
            f"(silver.trades and silver.prices): {REBUILD_HINT}"
        )


def write_marker(spark: SparkSession, checkpoint: str, operator: dict[str, Any]) -> None:
    """Write the operator marker into ``checkpoint`` (through Hadoop, like the checkpoint's own files)."""
    filesystem, hadoop_path = hadoop_files.filesystem(spark, f"{checkpoint}/{MARKER}")
    stream = filesystem.create(hadoop_path, True)
    try:
        stream.write(bytearray(json.dumps(operator).encode()))
    finally:
        stream.close()


def _move_table(spark: SparkSession, table: TableRef, suffix: str) -> str | None:
    if not table.exists(spark):
        return None
    if table.identifier:
        moved = f"{table.identifier}{suffix}"
        spark.sql(f"ALTER TABLE {table.sql_name} RENAME TO {TableRef(table.layer, table.name, moved).sql_name}")
        return moved
    return _move_path(spark, str(table.path), suffix)


def _move_path(spark: SparkSession, path: str, suffix: str) -> str | None:
    filesystem, source = hadoop_files.filesystem(spark, path)
    if not filesystem.exists(source):
        return None
    target = f"{path.rstrip('/')}{suffix}"
    if not filesystem.rename(source, hadoop_files.hadoop_path(spark, target)):
        raise PipelineError(f"could not move {path} to {target}; nothing else was moved after it")
    return target


def rebuild_targets(settings: Settings) -> tuple[list[TableRef], list[tuple[str, str]]]:
    """What a silver rebuild moves aside: silver's and gold's tables (and ops.data_quality, which
    silver writes), and the (query name, checkpoint) of silver's and gold's streaming queries."""
    from jobs import gold as gold_job
    from jobs import hot as hot_job
    from jobs import silver as silver_job

    catalog = Catalog(settings)
    tables = [catalog.table("silver", name) for name in ("trades", "quarantine", "prices")]
    tables += [catalog.table("ops", "data_quality")]
    tables += [catalog.table("gold", name) for name in gold_job.GOLD_TABLES]
    queries = [silver_job.QUERY_NAME, silver_job.PRICES_QUERY_NAME]
    queries += [gold_job.QUERY_PORTFOLIO_RISK_1M, gold_job.QUERY_EXPOSURE_5M]
    queries += [gold_job.QUERY_POSITIONS, hot_job.QUERY_NAME]
    return tables, [(query, catalog.checkpoint(query)) for query in queries]


def rebuild_silver(spark: SparkSession, settings: Settings, now: datetime | None = None) -> list[tuple[str, str]]:
    """Move silver's and gold's tables and checkpoints aside; returns (what, where it went) pairs.

    Run it with the streaming jobs stopped. Bronze, the reference tables and ops.stream_progress stay.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"_before_rebuild_{stamp}"
    tables, checkpoints = rebuild_targets(settings)
    moved = []
    for table in tables:
        target = _move_table(spark, table, suffix)
        if target is not None:
            moved.append((f"{table.layer}.{table.name}", target))
    for query, checkpoint in checkpoints:
        target = _move_path(spark, checkpoint, suffix)
        if target is not None:
            moved.append((f"checkpoint {query}", target))
    return moved
