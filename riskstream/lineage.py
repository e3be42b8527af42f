"""When each event became readable in each layer, found by lineage: the latency figures' one definition.

For every accepted event (a ``silver.trades`` row) the times are taken from the data, never from a
clock in the pipeline:

* **sent**: its Kafka record timestamp (``kafka_ts``, set by the producer when it sent the record);
* **bronze**, **silver**: the commit time of the Delta version of ``bronze.trade_events`` /
  ``silver.trades`` whose ``add`` action wrote the data file holding the row (read from the table's
  ``_delta_log``; the first version that holds the row as long as no ``OPTIMIZE`` rewrote the file);
* **positions**, **risk**: the commits of the ``gold_positions`` micro-batch that read the event.
  That batch is found from the query's checkpoint, not by time: ``offsets/<N>`` holds the silver
  version its input ends at, so an event in silver version *v* belongs to the first committed batch
  whose end offset covers *v*. Batch *N*'s ``gold.portfolio_risk`` commit is the first one after batch
  *N - 1* finished (``commits/<N - 1>`` was written) and its ``gold.positions`` commit the last one
  before that risk commit. Crediting an event to the first risk commit after silver processed it
  instead (the demo's earlier figure) is optimistic: that commit may come from a batch that started
  before silver committed the event;
* **alert**: for an event of a portfolio that the same batch alerted on, the timestamp of the alert's
  record on the alerts topic (the batch of an alert record is the last one whose risk commit came
  before the record).

The Spark-side readers gather plain tables; :func:`event_times` joins them and is pure (pandas), so
tests check it on hand-written tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskstream.tables import Catalog, TableRef

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskstream.config import Settings

_LOG_SCHEMA = "add struct<path: string>, commitInfo struct<timestamp: long, operation: string, userMetadata: string>"
STAGES = ("bronze", "silver", "positions", "risk", "alert")
"""The stages an event's times are given for, in flow order (each after ``sent``)."""


def covered_version(source_offset: dict[str, Any]) -> int:
    """The newest source version a Delta source offset has read in full.

    ``reservoirVersion`` *R* with ``index`` -1 means "every version before *R*"; any other index is
    a position inside version *R* (the batch read up to that file), counted as covering *R*: silver
    commits whole versions and gold reads them without a file limit.
    """
    version = int(source_offset["reservoirVersion"])
    return version - 1 if int(source_offset["index"]) == -1 else version


@dataclass(frozen=True)
class GoldBatch:
    batch_id: int
    covered_version: int
    """The newest silver version the batch had read (see :func:`covered_version`)."""
    finished_s: float
    """When the batch was committed in the checkpoint (the ``commits/<N>`` file's modification time)."""


def batches_for_versions(batches: list[GoldBatch], versions: np.ndarray) -> np.ndarray:
    """For each silver version, the index in ``batches`` (sorted by batch id) of the first batch that
    covers it; ``len(batches)`` where none does yet."""
    covered = np.maximum.accumulate(np.array([batch.covered_version for batch in batches], dtype=np.int64))
    return np.searchsorted(covered, versions, side="left") if len(batches) else np.zeros(len(versions), dtype=int)


def batch_commit_times(
    batches: list[GoldBatch], risk_commits_s: np.ndarray, position_commits_s: np.ndarray
) -> pd.DataFrame:
    """Per gold batch (sorted by id): its ``gold.portfolio_risk`` and ``gold.positions`` commit times.

    Risk: the first risk commit after the previous batch finished (NaN if the batch wrote none before
    it finished). Positions: the last positions commit at or before that risk commit.
    """
    risk = np.sort(risk_commits_s)
    positions = np.sort(position_commits_s)
    rows = []
    previous_finished = -np.inf
    for batch in batches:
        at = np.searchsorted(risk, previous_finished, side="right")
        risk_s = risk[at] if at < risk.size and risk[at] <= batch.finished_s else np.nan
        before = np.searchsorted(positions, risk_s, side="right") - 1 if not np.isnan(risk_s) else -1
        positions_s = positions[before] if before >= 0 and positions[before] > previous_finished else np.nan
        rows.append((batch.batch_id, batch.covered_version, risk_s, positions_s))
        previous_finished = batch.finished_s
    return pd.DataFrame(rows, columns=["gold_batch", "covered_version", "risk_s", "positions_s"])


def event_times(
    events: pd.DataFrame,
    batches: list[GoldBatch],
    risk_commits_s: np.ndarray,
    position_commits_s: np.ndarray,
    alerts: pd.DataFrame,
) -> pd.DataFrame:
    """Seconds from sending to each stage, per event.

    Args:
        events: one row per accepted event: ``event_id``, ``portfolio_id``, ``sent_s``, ``bronze_s``,
            ``silver_s`` (epoch seconds) and ``silver_version``.
        batches: the ``gold_positions`` batches, any order.
        risk_commits_s, position_commits_s: commit times of every data-changing version of the two tables.
        alerts: one row per alert record: ``portfolio_id``, ``published_s``.

    Returns:
        ``events``' ``event_id``, ``portfolio_id`` and ``sent_s`` with ``gold_batch`` and one column of seconds per
        stage in :data:`STAGES` (NaN where the event has not reached the stage, or raised no alert).
    """
    ordered = sorted(batches, key=lambda batch: batch.batch_id)
    per_batch = batch_commit_times(ordered, risk_commits_s, position_commits_s)
    at = batches_for_versions(ordered, events["silver_version"].to_numpy(dtype=np.int64))
    reached = at < len(ordered)
    picked = per_batch.reindex(np.where(reached, at, -1)).reset_index(drop=True)
    out = pd.DataFrame(
        {
            "event_id": events["event_id"].to_numpy(),
            "portfolio_id": events["portfolio_id"].to_numpy(),
            "sent_s": events["sent_s"].to_numpy(dtype=float),
            "gold_batch": picked["gold_batch"].to_numpy(),
        }
    )
    sent = events["sent_s"].to_numpy(dtype=float)
    out["bronze"] = events["bronze_s"].to_numpy(dtype=float) - sent
    out["silver"] = events["silver_s"].to_numpy(dtype=float) - sent
    out["positions"] = picked["positions_s"].to_numpy(dtype=float) - sent
    out["risk"] = picked["risk_s"].to_numpy(dtype=float) - sent
    out["alert"] = _alert_latencies(out, sent, per_batch, alerts)
    return out


def _alert_latencies(out: pd.DataFrame, sent: np.ndarray, per_batch: pd.DataFrame, alerts: pd.DataFrame) -> np.ndarray:
    """Per event: first alert record of its portfolio published by its own gold batch, minus ``sent``."""
    result = np.full(len(out), np.nan)
    with_risk = per_batch.dropna(subset=["risk_s"]).sort_values("risk_s")
    if alerts.empty or with_risk.empty:
        return result
    risk_s = with_risk["risk_s"].to_numpy(dtype=float)
    published = alerts["published_s"].to_numpy(dtype=float)
    at = np.searchsorted(risk_s, published, side="right") - 1
    known = at >= 0
    first_alert = (
        pd.DataFrame(
            {
                "portfolio_id": alerts["portfolio_id"].to_numpy()[known],
                "gold_batch": with_risk["gold_batch"].to_numpy(dtype=float)[at[known]],
                "alert_s": published[known],
            }
        )
        .groupby(["portfolio_id", "gold_batch"], as_index=False)["alert_s"]
        .min()
    )
    joined = (
        out[["portfolio_id", "gold_batch"]]
        .astype({"gold_batch": float})
        .merge(first_alert, on=["portfolio_id", "gold_batch"], how="left")
    )
    return joined["alert_s"].to_numpy(dtype=float) - sent


def percentiles(seconds: np.ndarray) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and max of the finite values (None when there are none)."""
    finite = seconds[np.isfinite(seconds)]
    if finite.size == 0:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(finite, [50, 95, 99])
    return {
        "count": int(finite.size),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(finite.max()),
    }


# ------------------------------------------------------------------------------------- Spark side


def table_location(spark: SparkSession, table: TableRef) -> str:
    return str(spark.sql(f"DESCRIBE DETAIL {table.sql_name}").first()["location"])  # type: ignore[index]


def commit_log(spark: SparkSession, table: TableRef) -> tuple[pd.DataFrame, DataFrame]:
    """A table's commits (``version``, ``commit_s``, ``operation``) and a Spark frame of the data
    files each version added (``file_name``, ``version``, ``commit_s``), from its ``_delta_log``."""
    from pyspark.sql import functions as F

    log = (
        spark.read.schema(_LOG_SCHEMA)
        .json(f"{table_location(spark, table)}/_delta_log/*.json")
        .withColumn("version", F.regexp_extract(F.col("_metadata.file_name"), r"^(\d+)\.json$", 1).cast("long"))
    )
    commits: pd.DataFrame = (
        log.where(F.col("commitInfo").isNotNull())
        .select(
            "version",
            (F.col("commitInfo.timestamp") / 1000.0).alias("commit_s"),
            F.col("commitInfo.operation").alias("operation"),
        )
        .toPandas()
    )
    commits = commits.sort_values("version", ignore_index=True)
    added = (
        log.where(F.col("add").isNotNull())
        .select(F.element_at(F.split("add.path", "/"), -1).alias("file_name"), "version")
        .join(spark.createDataFrame(commits[["version", "commit_s"]]), "version")
    )
    return commits, added


def data_commit_times(commits: pd.DataFrame) -> np.ndarray:
    """Commit times of the versions that changed data (every operation but CREATE and property changes)."""
    changing = ~commits["operation"].isin(["CREATE TABLE", "CREATE OR REPLACE TABLE", "SET TBLPROPERTIES"])
    return commits.loc[changing, "commit_s"].to_numpy(dtype=float)


def gold_batches(spark: SparkSession, checkpoint: str) -> list[GoldBatch]:
    """The committed micro-batches of a query reading ``silver.trades``, from its checkpoint."""
    from pyspark.sql import functions as F

    def files(folder: str) -> DataFrame:
        return spark.read.text(f"{checkpoint}/{folder}", wholetext=True).select(
            F.col("_metadata.file_name").alias("name"),
            F.col("_metadata.file_modification_time").cast("double").alias("modified_s"),
            "value",
        )

    try:
        finished = {int(row.name): float(row.modified_s) for row in files("commits").collect() if row.name.isdigit()}
        offsets = {int(row.name): row.value for row in files("offsets").collect() if row.name.isdigit()}
    except Exception as error:  # AnalysisException: the query never committed a batch
        if "PATH_NOT_FOUND" in str(error) or "Path does not exist" in str(error):
            return []
        raise
    batches = []
    for batch_id, finished_s in sorted(finished.items()):
        lines = offsets[batch_id].splitlines()  # "v1", the batch metadata, then one line per source
        batches.append(GoldBatch(batch_id, covered_version(json.loads(lines[2])), finished_s))
    return batches


def accepted_events(spark: SparkSession, catalog: Catalog) -> pd.DataFrame:
    """Every ``silver.trades`` row with its send time and the commits that wrote it to bronze and silver."""
    from pyspark.sql import functions as F

    def with_commits(table: TableRef, alias: str) -> DataFrame:
        _, added = commit_log(spark, table)
        rows = table.read(spark).withColumn("file_name", F.col("_metadata.file_name"))
        return rows.join(added, "file_name").drop("file_name").alias(alias)

    trades = with_commits(catalog.table("silver", "trades"), "t")
    bronze = with_commits(catalog.table("bronze", "trade_events"), "b")
    return (
        trades.join(
            bronze,
            (F.col("t.source_topic") == F.col("b.topic"))
            & (F.col("t.source_partition") == F.col("b.partition"))
            & (F.col("t.source_offset") == F.col("b.offset")),
        )
        .select(
            F.col("t.event_id").alias("event_id"),
            F.col("t.portfolio_id").alias("portfolio_id"),
            F.col("t.kafka_ts").cast("double").alias("sent_s"),
            F.col("b.commit_s").alias("bronze_s"),
            F.col("t.commit_s").alias("silver_s"),
            F.col("t.version").alias("silver_version"),
        )
        .toPandas()
    )


def alert_records(spark: SparkSession, settings: Settings) -> pd.DataFrame:
    """Every record on the alerts topic: ``portfolio_id`` (the record key) and ``published_s``."""
    from pyspark.sql import functions as F

    from riskstream.kafka_options import client_properties
    from riskstream.runtime import bootstrap_servers

    properties = client_properties(settings.kafka, bootstrap_servers(settings))
    options = {f"kafka.{key}": value for key, value in properties.items()}
    records = (
        spark.read.format("kafka")
        .options(**options)
        .option("subscribe", settings.kafka.alerts_topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    return records.select(
        F.col("key").cast("string").alias("portfolio_id"), F.col("timestamp").cast("double").alias("published_s")
    ).toPandas()


def measure(spark: SparkSession, settings: Settings, *, alerts: bool = True) -> pd.DataFrame:
    """:func:`event_times` of every accepted event, from the tables, the ``gold_positions`` checkpoint
    and (with ``alerts``) the alerts topic."""
    from jobs.gold import QUERY_POSITIONS

    catalog = Catalog(settings)
    risk_commits, _ = commit_log(spark, catalog.table("gold", "portfolio_risk"))
    position_commits, _ = commit_log(spark, catalog.table("gold", "positions"))
    published = alert_records(spark, settings) if alerts else pd.DataFrame(columns=["portfolio_id", "published_s"])
    return event_times(
        accepted_events(spark, catalog),
        gold_batches(spark, catalog.checkpoint(QUERY_POSITIONS)),
        data_commit_times(risk_commits),
        data_commit_times(position_commits),
        published,
    )
