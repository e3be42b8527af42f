"""When each event became readable in each layer, found by lineage: the latency figures' one definition.

For every accepted event (a ``silver.trades`` row) the times are taken from the data, never from a
clock in the pipeline:

* **sent**: its Kafka record timestamp (``kafka_ts``, set by the producer when it sent the record);
* **bronze**, **silver**: the commit time of the Delta version of ``bronze.trade_events`` /
  ``silver.trades`` whose ``add`` action wrote the data file holding the row (read from the table's
  ``_delta_log``; the first version that holds the row as long as no ``OPTIMIZE`` rewrote the file);
* **positions**, **risk**, in the layered structure (``riskstream run silver`` / ``run gold``, :func:`measure`):
  the commits of the ``gold_positions`` micro-batch that read the event. That batch is found from the
  query's checkpoint, not by time: ``offsets/<N>`` holds, per source, the version its input ends at
  (the query reads ``silver.trades`` and ``silver.prices``, in that order: :data:`GOLD_SOURCES`), so an
  event in ``silver.trades`` version *v* belongs to the first committed batch whose trades end offset
  covers *v*. Batch *N*'s ``gold.portfolio_risk`` commit is the first one after batch *N - 1* finished
  (``commits/<N - 1>`` was written) and its ``gold.positions`` commit the last one before that risk
  commit. Crediting an event to the first risk commit after silver processed it instead (the demo's
  earlier figure) is optimistic: that commit may come from a batch that started before silver
  committed the event;
* **alert**: for an event of a portfolio that the same batch alerted on, the timestamp of the alert's
  record on the alerts topic (the batch of an alert record is the last one whose risk commit came
  before the record).

A price or FX tick (a ``silver.prices`` row) is credited by the same rule through the second source:
the first committed batch whose ``silver.prices`` end offset covers the tick's version
(:func:`tick_times`; its stages are :data:`TICK_STAGES`, no alert: a tick has no portfolio).

**The hot structure** (``riskstream run all``: bronze beside one hot query, ``hot_risk``, that reads Kafka
and writes silver and gold itself, :mod:`jobs.hot`). Every Delta commit of the hot query carries its
micro-batch in ``userMetadata`` (:func:`jobs.silver.batch_marker`): ``hot_risk:<query id>:<output>#batch=<N>``
on its appends (silver.trades, silver.prices, ...) and ``hot_risk:<query id>#batch=<N>`` on its
overwrites (gold.positions, gold.portfolio_risk, ...). So no checkpoint is needed: an event's batch is the
marker of the ``silver.trades`` commit that holds its row, and its **positions** and **risk** times are
the first commit of ``gold.portfolio_risk`` with the same query id and batch (written in the batch itself,
when it moves risk) and the first commit of ``gold.positions`` with the same query id and a batch at or
after its own (:func:`first_commit_from`: the next flush of the gold snapshots, :mod:`jobs.hot_flush`,
marked with the newest batch it holds). A batch re-run after a crash overwrites again with the same marker.
**sent**, **bronze** and **silver** are as above (bronze lands beside the hot query, not in front of it,
so an event's bronze time may come after its risk time; an event bronze has not landed has none).
**alert**: the first alert record of the event's portfolio published after its batch's risk commit and
before the next risk commit. :func:`hot_event_times` and :func:`hot_tick_times` (ticks: through
``silver.prices``, no alert) are the pure part; :func:`measure_hot` and :func:`measure_hot_ticks` read the
tables.

The Spark-side readers gather plain tables; :func:`event_times`, :func:`tick_times` and their hot
counterparts join them and are pure (pandas), as are :func:`gold_batch` reading one checkpoint offsets
file and :func:`hot_batch` reading one commit's marker, so tests check them on hand-written input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from riskstream.errors import PipelineError
from riskstream.tables import Catalog, TableRef

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskstream.config import Settings

_LOG_SCHEMA = "add struct<path: string>, commitInfo struct<timestamp: long, operation: string, userMetadata: string>"
STAGES = ("bronze", "silver", "positions", "risk", "alert")
"""The stages an event's times are given for, in flow order (each after ``sent``)."""
TICK_STAGES = ("bronze", "silver", "positions", "risk")
"""The stages a tick's times are given for, in flow order (each after ``sent``)."""

Source = Literal["trades", "prices"]
GOLD_SOURCES: tuple[Source, ...] = ("trades", "prices")
"""The sources of ``gold_positions`` in checkpoint order: ``silver.trades``, then ``silver.prices``
(the order :func:`transformations.marks.batch_inputs` unions them in)."""
VOID_OFFSET = "-"
"""What an offsets file holds for a source that had no offset yet when the batch was planned."""
HOT_QUERY = "hot_risk"
"""The hot query's name, the first part of the writer in its commits' markers (:data:`jobs.hot.QUERY_NAME`)."""
BATCH_MARKER = "#batch="
"""What separates the writer from the batch id in a commit's ``userMetadata`` (:func:`jobs.silver.batch_marker`)."""


def covered_version(source_offset: dict[str, Any] | None) -> int:
    """The newest source version a Delta source offset has read in full (-1: none, for no offset).

    ``reservoirVersion`` *R* with ``index`` -1 means "every version before *R*"; any other index is
    a position inside version *R* (the batch read up to that file), counted as covering *R*: silver
    commits whole versions and gold reads them without a file limit.
    """
    if source_offset is None:
        return -1
    version = int(source_offset["reservoirVersion"])
    return version - 1 if int(source_offset["index"]) == -1 else version


def source_offsets(offsets_file: str) -> list[dict[str, Any] | None]:
    """The end offset of each source, in source order, from a checkpoint's ``offsets/<N>`` file.

    The file is ``v1``, the batch metadata (JSON), then one line per source: its offset as JSON, or
    :data:`VOID_OFFSET` (None here) for a source that had nothing to read yet.
    """
    lines = offsets_file.splitlines()
    if len(lines) < 3 or not lines[0].startswith("v"):
        raise PipelineError(f"not a streaming checkpoint offsets file (expected v1, metadata, offsets): {lines[:1]}")
    return [None if line == VOID_OFFSET else json.loads(line) for line in lines[2:]]


@dataclass(frozen=True)
class GoldBatch:
    batch_id: int
    covered_version: int
    """The newest ``silver.trades`` version the batch had read (see :func:`covered_version`)."""
    finished_s: float
    """When the batch was committed in the checkpoint (the ``commits/<N>`` file's modification time)."""
    prices_covered_version: int = -1
    """The newest ``silver.prices`` version the batch had read (-1: none)."""

    def covered(self, source: Source) -> int:
        return self.covered_version if source == "trades" else self.prices_covered_version


def gold_batch(batch_id: int, offsets_file: str, finished_s: float) -> GoldBatch:
    """The :class:`GoldBatch` of ``gold_positions`` batch ``batch_id`` from its ``offsets/<N>`` file
    (sources in :data:`GOLD_SOURCES` order). A file with one source is from before the query read
    ``silver.prices``: that batch read no tick."""
    by_source = dict(zip(GOLD_SOURCES, source_offsets(offsets_file), strict=False))
    return GoldBatch(
        batch_id, covered_version(by_source["trades"]), finished_s, covered_version(by_source.get("prices"))
    )


def batches_for_versions(batches: list[GoldBatch], versions: np.ndarray, source: Source = "trades") -> np.ndarray:
    """For each version of the ``source`` table, the index in ``batches`` (sorted by batch id) of the
    first batch that covers it; ``len(batches)`` where none does yet."""
    covered = np.maximum.accumulate(np.array([batch.covered(source) for batch in batches], dtype=np.int64))
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
            ``silver_s`` (epoch seconds) and ``silver_version`` (of ``silver.trades``).
        batches: the ``gold_positions`` batches, any order.
        risk_commits_s, position_commits_s: commit times of every data-changing version of the two tables.
        alerts: one row per alert record: ``portfolio_id``, ``published_s``.

    Returns:
        ``events``' ``event_id``, ``portfolio_id`` and ``sent_s`` with ``gold_batch`` and one column of seconds per
        stage in :data:`STAGES` (NaN where the event has not reached the stage, or raised no alert).
    """
    out, per_batch = _times_through_gold(
        events, ("event_id", "portfolio_id"), "trades", batches, risk_commits_s, position_commits_s
    )
    out["alert"] = _alert_latencies(out, events["sent_s"].to_numpy(dtype=float), per_batch, alerts)
    return out


def tick_times(
    ticks: pd.DataFrame, batches: list[GoldBatch], risk_commits_s: np.ndarray, position_commits_s: np.ndarray
) -> pd.DataFrame:
    """Seconds from sending to each stage, per accepted tick: :func:`event_times` through ``silver.prices``.

    Args:
        ticks: one row per accepted tick: ``tick_id``, ``instrument_id``, ``sent_s``, ``bronze_s``, ``silver_s``
            (epoch seconds) and ``silver_version`` (of ``silver.prices``).
        batches, risk_commits_s, position_commits_s: as for :func:`event_times`.

    Returns:
        ``ticks``' ``tick_id``, ``instrument_id`` and ``sent_s`` with ``gold_batch`` and one column of seconds per
        stage in :data:`TICK_STAGES` (NaN where the tick has not reached the stage).
    """
    out, _ = _times_through_gold(
        ticks, ("tick_id", "instrument_id"), "prices", batches, risk_commits_s, position_commits_s
    )
    return out


def _times_through_gold(
    rows: pd.DataFrame,
    keys: tuple[str, ...],
    source: Source,
    batches: list[GoldBatch],
    risk_commits_s: np.ndarray,
    position_commits_s: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per row of ``source``: ``keys``, ``sent_s``, ``gold_batch`` and the seconds to bronze, silver,
    positions and risk; and :func:`batch_commit_times` of the batches."""
    ordered = sorted(batches, key=lambda batch: batch.batch_id)
    per_batch = batch_commit_times(ordered, risk_commits_s, position_commits_s)
    at = batches_for_versions(ordered, rows["silver_version"].to_numpy(dtype=np.int64), source)
    reached = at < len(ordered)
    picked = per_batch.reindex(np.where(reached, at, -1)).reset_index(drop=True)
    sent = rows["sent_s"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            **{key: rows[key].to_numpy() for key in keys},
            "sent_s": sent,
            "gold_batch": picked["gold_batch"].to_numpy(),
        }
    )
    out["bronze"] = rows["bronze_s"].to_numpy(dtype=float) - sent
    out["silver"] = rows["silver_s"].to_numpy(dtype=float) - sent
    out["positions"] = picked["positions_s"].to_numpy(dtype=float) - sent
    out["risk"] = picked["risk_s"].to_numpy(dtype=float) - sent
    return out, per_batch


def _alert_latencies(
    out: pd.DataFrame,
    sent: np.ndarray,
    per_batch: pd.DataFrame,
    alerts: pd.DataFrame,
    keys: tuple[str, ...] = ("gold_batch",),
) -> np.ndarray:
    """Per event: first alert record of its portfolio published by its own batch, minus ``sent``.

    A record belongs to the batch of the last risk commit at or before it; ``keys`` name the batch in
    ``per_batch`` (with ``risk_s``) and in ``out`` (with ``portfolio_id``).
    """
    result = np.full(len(out), np.nan)
    with_risk = per_batch.dropna(subset=["risk_s"]).sort_values("risk_s")
    if alerts.empty or with_risk.empty:
        return result
    risk_s = with_risk["risk_s"].to_numpy(dtype=float)
    published = alerts["published_s"].to_numpy(dtype=float)
    at = np.searchsorted(risk_s, published, side="right") - 1
    known = at >= 0
    first_alert = (
        with_risk[list(keys)]
        .iloc[at[known]]
        .astype({key: out[key].dtype for key in keys})
        .assign(portfolio_id=alerts["portfolio_id"].to_numpy()[known], alert_s=published[known])
        .groupby(["portfolio_id", *keys], as_index=False)["alert_s"]
        .min()
    )
    joined = out[["portfolio_id", *keys]].merge(first_alert, on=["portfolio_id", *keys], how="left")
    return joined["alert_s"].to_numpy(dtype=float) - sent


def hot_batch(user_metadata: str | None) -> tuple[str, int] | None:
    """The (query id, batch id) of a commit the hot query made, from its ``userMetadata``; None for any other.

    ``hot_risk:<query id>:<output>#batch=<N>`` (an append) or ``hot_risk:<query id>#batch=<N>`` (an overwrite).
    """
    writer, marker, batch = (user_metadata or "").rpartition(BATCH_MARKER)
    parts = writer.split(":")
    if not marker or not batch.isdigit() or parts[0] != HOT_QUERY or len(parts) not in (2, 3) or not parts[1]:
        return None
    return parts[1], int(batch)


def hot_batch_commits(commits: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per hot batch (``query_id``, ``hot_batch``), the time of its first commit among ``commits``.

    Args:
        commits: one row per commit of a table: ``commit_s`` (epoch seconds) and ``user_metadata``;
            commits without a hot marker (CREATE, another writer) are left out.
        column: the name of the result's time column.

    The first: a batch re-run after a crash overwrites again with the same marker, and its rows were
    readable from the first commit on.
    """
    batches = [hot_batch(metadata) for metadata in commits["user_metadata"]]
    marked = [batch is not None for batch in batches]
    found = pd.DataFrame(
        {
            "query_id": pd.Series([batch[0] for batch in batches if batch is not None], dtype=object),
            "hot_batch": np.array([batch[1] for batch in batches if batch is not None], dtype=float),
            column: commits["commit_s"].to_numpy(dtype=float)[marked],
        }
    )
    return found.groupby(["query_id", "hot_batch"], as_index=False)[column].min()


def hot_event_times(
    events: pd.DataFrame, risk_commits: pd.DataFrame, position_commits: pd.DataFrame, alerts: pd.DataFrame
) -> pd.DataFrame:
    """Seconds from sending to each stage, per event, in the hot structure (module doc).

    Args:
        events: one row per accepted event: ``event_id``, ``portfolio_id``, ``sent_s``, ``bronze_s`` (NaN where
            bronze has not landed it), ``silver_s`` (epoch seconds) and ``silver_metadata`` (the ``userMetadata``
            of the ``silver.trades`` commit holding the row).
        risk_commits, position_commits: every commit of ``gold.portfolio_risk`` / ``gold.positions``:
            ``commit_s`` and ``user_metadata``.
        alerts: one row per alert record: ``portfolio_id``, ``published_s``.

    Returns:
        ``events``' ``event_id``, ``portfolio_id`` and ``sent_s`` with the hot ``query_id`` and ``hot_batch``
        of its silver commit and one column of seconds per stage in :data:`STAGES` (NaN where the event has
        not reached the stage, or raised no alert).
    """
    out, per_batch = _times_through_hot(events, ("event_id", "portfolio_id"), risk_commits, position_commits)
    sent = events["sent_s"].to_numpy(dtype=float)
    out["alert"] = _alert_latencies(out, sent, per_batch, alerts, keys=("query_id", "hot_batch"))
    return out


def hot_tick_times(ticks: pd.DataFrame, risk_commits: pd.DataFrame, position_commits: pd.DataFrame) -> pd.DataFrame:
    """Seconds from sending to each stage, per accepted tick: :func:`hot_event_times` through ``silver.prices``.

    Args:
        ticks: one row per accepted tick: ``tick_id``, ``instrument_id``, ``sent_s``, ``bronze_s``, ``silver_s``
            and ``silver_metadata`` (of the ``silver.prices`` commit holding the row).
        risk_commits, position_commits: as for :func:`hot_event_times`.

    Returns:
        ``ticks``' ``tick_id``, ``instrument_id`` and ``sent_s`` with ``query_id``, ``hot_batch`` and one column
        of seconds per stage in :data:`TICK_STAGES`.
    """
    out, _ = _times_through_hot(ticks, ("tick_id", "instrument_id"), risk_commits, position_commits)
    return out


def _times_through_hot(
    rows: pd.DataFrame, keys: tuple[str, ...], risk_commits: pd.DataFrame, position_commits: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per row: ``keys``, ``sent_s``, ``query_id``, ``hot_batch`` and the seconds to bronze, silver, positions
    and risk; and per hot batch its ``risk_s`` and ``positions_s``."""
    batches = [hot_batch(metadata) for metadata in rows["silver_metadata"]]
    sent = rows["sent_s"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            **{key: rows[key].to_numpy() for key in keys},
            "sent_s": sent,
            "query_id": pd.Series([None if batch is None else batch[0] for batch in batches], dtype=object),
            "hot_batch": np.array([np.nan if batch is None else batch[1] for batch in batches], dtype=float),
        }
    )
    risk_batches = hot_batch_commits(risk_commits, "risk_s")
    position_batches = hot_batch_commits(position_commits, "positions_s")
    per_batch = risk_batches.merge(position_batches, on=["query_id", "hot_batch"], how="outer")
    out["bronze"] = rows["bronze_s"].to_numpy(dtype=float) - sent
    out["silver"] = rows["silver_s"].to_numpy(dtype=float) - sent
    picked = out[["query_id", "hot_batch"]].merge(risk_batches, on=["query_id", "hot_batch"], how="left")
    out["positions"] = first_commit_from(out, position_batches, "positions_s") - sent
    out["risk"] = picked["risk_s"].to_numpy(dtype=float) - sent
    return out, per_batch


def first_commit_from(rows: pd.DataFrame, batches: pd.DataFrame, column: str) -> np.ndarray:
    """Per row (``query_id``, ``hot_batch``), the earliest ``column`` of ``batches`` with the same query id and a
    batch at or after the row's: the first commit that reflects it (gold.positions is written once per flush
    of the gold snapshots, marked with the flush's newest batch)."""
    result = np.full(len(rows), np.nan)
    for query_id, commits in batches.dropna(subset=[column]).groupby("query_id"):
        ordered = commits.sort_values("hot_batch")
        numbers = ordered["hot_batch"].to_numpy(dtype=float)
        earliest_from = np.minimum.accumulate(ordered[column].to_numpy(dtype=float)[::-1])[::-1]
        mine = (rows["query_id"] == query_id).to_numpy() & np.isfinite(rows["hot_batch"].to_numpy(dtype=float))
        at = np.searchsorted(numbers, rows["hot_batch"].to_numpy(dtype=float)[mine], side="left")
        found = at < len(numbers)
        values = np.full(int(mine.sum()), np.nan)
        values[found] = earliest_from[at[found]]
        result[mine] = values
    return result


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
    """A table's commits (``version``, ``commit_s``, ``operation``, ``user_metadata``) and a Spark frame of
    the data files each version added (``file_name``, ``version``, ``commit_s``, ``user_metadata``), from
    its ``_delta_log``."""
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
            F.col("commitInfo.userMetadata").alias("user_metadata"),
        )
        .toPandas()
    )
    commits = commits.sort_values("version", ignore_index=True)
    columns = ["version", "commit_s", "user_metadata"]
    by_version = spark.createDataFrame(commits[columns], schema="version long, commit_s double, user_metadata string")
    added = (
        log.where(F.col("add").isNotNull())
        .select(F.element_at(F.split("add.path", "/"), -1).alias("file_name"), "version")
        .join(by_version, "version")
    )
    return commits, added


def data_commit_times(commits: pd.DataFrame) -> np.ndarray:
    """Commit times of the versions that changed data (every operation but CREATE and property changes)."""
    changing = ~commits["operation"].isin(["CREATE TABLE", "CREATE OR REPLACE TABLE", "SET TBLPROPERTIES"])
    return commits.loc[changing, "commit_s"].to_numpy(dtype=float)


def gold_batches(spark: SparkSession, checkpoint: str) -> list[GoldBatch]:
    """The committed micro-batches of ``gold_positions`` (sources :data:`GOLD_SOURCES`), from its checkpoint."""
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
    return [gold_batch(batch_id, offsets[batch_id], finished_s) for batch_id, finished_s in sorted(finished.items())]


def _with_commits(spark: SparkSession, table: TableRef, alias: str) -> DataFrame:
    """``table``'s rows with the ``version`` and ``commit_s`` of the commit that added their data file."""
    from pyspark.sql import functions as F

    _, added = commit_log(spark, table)
    rows = table.read(spark).withColumn("file_name", F.col("_metadata.file_name"))
    return rows.join(added, "file_name").drop("file_name").alias(alias)


def _accepted_rows(spark: SparkSession, silver: TableRef, bronze: TableRef, keys: tuple[str, ...]) -> pd.DataFrame:
    """Every row of ``silver`` (its ``keys``) with its send time, the commits that wrote it to bronze and
    silver, and the silver commit's version and ``userMetadata`` (``silver_metadata``).

    A row bronze has not landed (the hot query does not wait for bronze) has no ``bronze_s``."""
    from pyspark.sql import functions as F

    accepted = _with_commits(spark, silver, "s")
    raw = _with_commits(spark, bronze, "b")
    return (
        accepted.join(
            raw,
            (F.col("s.source_topic") == F.col("b.topic"))
            & (F.col("s.source_partition") == F.col("b.partition"))
            & (F.col("s.source_offset") == F.col("b.offset")),
            "left",
        )
        .select(
            *(F.col(f"s.{key}").alias(key) for key in keys),
            F.col("s.kafka_ts").cast("double").alias("sent_s"),
            F.col("b.commit_s").alias("bronze_s"),
            F.col("s.commit_s").alias("silver_s"),
            F.col("s.version").alias("silver_version"),
            F.col("s.user_metadata").alias("silver_metadata"),
        )
        .toPandas()
    )


def accepted_events(spark: SparkSession, catalog: Catalog) -> pd.DataFrame:
    """Every ``silver.trades`` row with its send time and the commits that wrote it to bronze and silver."""
    return _accepted_rows(
        spark, catalog.table("silver", "trades"), catalog.table("bronze", "trade_events"), ("event_id", "portfolio_id")
    )


def accepted_ticks(spark: SparkSession, catalog: Catalog) -> pd.DataFrame:
    """Every ``silver.prices`` row with its send time and the commits that wrote it to bronze and silver."""
    return _accepted_rows(
        spark, catalog.table("silver", "prices"), catalog.table("bronze", "price_ticks"), ("tick_id", "instrument_id")
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


def _gold_commits(spark: SparkSession, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """The data-changing commit times of ``gold.portfolio_risk`` and ``gold.positions``."""
    risk_commits, _ = commit_log(spark, catalog.table("gold", "portfolio_risk"))
    position_commits, _ = commit_log(spark, catalog.table("gold", "positions"))
    return data_commit_times(risk_commits), data_commit_times(position_commits)


def measure(spark: SparkSession, settings: Settings, *, alerts: bool = True) -> pd.DataFrame:
    """:func:`event_times` of every accepted event, from the tables, the ``gold_positions`` checkpoint
    and (with ``alerts``) the alerts topic."""
    from jobs.gold import QUERY_POSITIONS

    catalog = Catalog(settings)
    risk_commits, position_commits = _gold_commits(spark, catalog)
    published = alert_records(spark, settings) if alerts else pd.DataFrame(columns=["portfolio_id", "published_s"])
    return event_times(
        accepted_events(spark, catalog),
        gold_batches(spark, catalog.checkpoint(QUERY_POSITIONS)),
        risk_commits,
        position_commits,
        published,
    )


def measure_ticks(spark: SparkSession, settings: Settings) -> pd.DataFrame:
    """:func:`tick_times` of every accepted tick, from the tables and the ``gold_positions`` checkpoint."""
    from jobs.gold import QUERY_POSITIONS

    catalog = Catalog(settings)
    risk_commits, position_commits = _gold_commits(spark, catalog)
    return tick_times(
        accepted_ticks(spark, catalog),
        gold_batches(spark, catalog.checkpoint(QUERY_POSITIONS)),
        risk_commits,
        position_commits,
    )


def _hot_gold_commits(spark: SparkSession, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every commit (``commit_s``, ``user_metadata``) of ``gold.portfolio_risk`` and of ``gold.positions``."""
    risk_commits, _ = commit_log(spark, catalog.table("gold", "portfolio_risk"))
    position_commits, _ = commit_log(spark, catalog.table("gold", "positions"))
    return risk_commits, position_commits


def measure_hot(spark: SparkSession, settings: Settings, *, alerts: bool = True) -> pd.DataFrame:
    """:func:`hot_event_times` of every accepted event, from the tables' commit markers and (with ``alerts``)
    the alerts topic."""
    catalog = Catalog(settings)
    risk_commits, position_commits = _hot_gold_commits(spark, catalog)
    published = alert_records(spark, settings) if alerts else pd.DataFrame(columns=["portfolio_id", "published_s"])
    return hot_event_times(accepted_events(spark, catalog), risk_commits, position_commits, published)


def measure_hot_ticks(spark: SparkSession, settings: Settings) -> pd.DataFrame:
    """:func:`hot_tick_times` of every accepted tick, from the tables' commit markers."""
    catalog = Catalog(settings)
    risk_commits, position_commits = _hot_gold_commits(spark, catalog)
    return hot_tick_times(accepted_ticks(spark, catalog), risk_commits, position_commits)
