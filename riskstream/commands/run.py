"""``riskstream run bronze|silver|gold|all``: the streaming jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for, stop_on_signals
from riskstream.config import TriggerConfig
from riskstream.errors import PipelineError
from riskstream.monitoring import LiveStatus, ProgressCollector, as_dict, record_progress
from riskstream.prerequisites import check_run
from riskstream.tables import Catalog, TableRef

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

PROGRESS_FLUSH_SECONDS = 30
"""How often progress of long-running queries is written to ops.stream_progress."""
WATCH_POLL_SECONDS = 1
"""How often a long run checks for Ctrl-C / SIGTERM and for a failed query."""
STATUS_SECONDS = 5
"""How often a long run prints its one-line live status (:class:`~riskstream.monitoring.LiveStatus`)."""


class Layer(StrEnum):
    bronze = "bronze"
    hot = "hot"
    windows = "windows"
    silver = "silver"
    gold = "gold"
    all = "all"


ALL = ("hot", "bronze", "windows")
"""What ``run all`` starts, in this order: the hot query (Kafka -> risk) first, then raw landing and the window
aggregations, both off the path to risk. With availableNow each runs to its end before the next starts, so the
hot query never waits for bronze."""


class TriggerKind(StrEnum):
    available_now = "available-now"
    processing_time = "processing-time"
    from_conf = "conf"


def run(
    layer: Annotated[
        Layer,
        typer.Argument(
            help="Which job to run; `all` runs hot, bronze and windows. silver and gold are the layered path "
            "(bronze -> silver -> gold), kept for comparison."
        ),
    ],
    target: TargetOption = "local",
    conf: ConfOption = None,
    overrides: SetOption = None,
    trigger: Annotated[
        TriggerKind, typer.Option(help="available-now processes what is there and stops; conf uses the target's.")
    ] = TriggerKind.from_conf,
    interval: Annotated[str, typer.Option(help="processing-time interval, e.g. '10 seconds'")] = "10 seconds",
) -> None:
    """Run one layer's streaming query, or all of them."""
    from jobs import bronze, hot
    from jobs import gold as gold_job
    from jobs import silver as silver_job
    from riskstream.spark import get_spark

    settings = settings_for(target, conf, overrides)
    chosen: TriggerConfig | None = None
    if trigger is TriggerKind.available_now:
        chosen = TriggerConfig(kind="available_now")
    elif trigger is TriggerKind.processing_time:
        chosen = TriggerConfig(kind="processing_time", interval=interval)
    jobs: dict[str, Callable[..., Any]] = {"bronze": bronze.run, "hot": hot.run, "windows": gold_job.run_windows}
    jobs["silver"] = silver_job.run
    jobs["gold"] = gold_job.run
    selected = list(ALL) if layer is Layer.all else [layer.value]
    check_run(settings, selected)  # before Spark: a missing input stops here, having created nothing
    spark = get_spark(settings)
    catalog = Catalog(settings)
    progress_table = catalog.table("ops", "stream_progress")
    if ("gold" in selected or "hot" in selected) and not settings.is_local:
        from riskstream.dashboard_views import create_dashboard_views

        create_dashboard_views(spark, catalog)
    collector = ProgressCollector().attach(spark)
    queries: list[StreamingQuery] = []
    try:
        for name in selected:
            started = time.monotonic()
            stream = settings.streams.gold_windows or settings.streams.gold if name == "windows" else None
            kind = (chosen or (stream or getattr(settings.streams, name)).trigger).kind
            console.print(f"run {name}: starting ({kind})")
            query = jobs[name](spark, settings, chosen)
            if query is None:
                recorded = record_progress(spark, progress_table, collector.drain(spark))
                console.print(f"run {name}: done in {time.monotonic() - started:.1f}s ({recorded} micro-batches)")
            else:  # gold starts several queries and returns them as a list
                queries.extend(query if isinstance(query, list) else [query])
        if queries:
            _watch(spark, queries, collector, progress_table)
    finally:
        collector.detach(spark)


def _status_line(status: LiveStatus, queries: list[StreamingQuery]) -> str:
    now = time.time()
    statuses = []
    for query in queries:
        state = query.status
        waiting = not state["isDataAvailable"] and not state["isTriggerActive"]
        recent = [as_dict(progress) for progress in query.recentProgress]
        statuses.append(status.update(str(query.name), recent, waiting, now))
    return status.line(statuses, now)


def _watch(
    spark: SparkSession, queries: list[StreamingQuery], collector: ProgressCollector, progress_table: TableRef
) -> None:
    """Keep long-running queries going, recording their progress, until one fails or Ctrl-C."""
    from pyspark.errors import StreamingQueryException

    names = ", ".join(str(query.name) for query in queries)
    console.print(f"run: queries {names} running; Ctrl-C stops them cleanly")
    try:
        flushed = shown = time.monotonic()
        status = LiveStatus(time.time())
        with stop_on_signals() as stop_signal:
            while not stop_signal.requested and all(query.isActive for query in queries):
                spark.streams.awaitAnyTermination(WATCH_POLL_SECONDS)
                spark.streams.resetTerminated()
                if time.monotonic() - shown >= STATUS_SECONDS:
                    console.print(_status_line(status, queries))
                    shown = time.monotonic()
                if time.monotonic() - flushed >= PROGRESS_FLUSH_SECONDS:
                    record_progress(spark, progress_table, collector.drain())
                    flushed = time.monotonic()
        if stop_signal.requested:
            console.print("run: stopping queries ...")
        for query in queries:
            error = query.exception()
            if error is not None:
                raise PipelineError(f"streaming query {query.name!r} failed: {error.getMessage()}")
    except StreamingQueryException as error:
        raise PipelineError(f"a streaming query failed: {error.getMessage()}") from None
    except KeyboardInterrupt:  # not the main thread: no handler was installed
        console.print("run: stopping queries ...")
    finally:
        for query in queries:
            if query.isActive:
                query.stop()
        record_progress(spark, progress_table, collector.drain(spark))
        console.print("run: stopped")
