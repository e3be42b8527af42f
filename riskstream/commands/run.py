"""``riskstream run bronze|silver|gold|all``: the streaming jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from riskstream.commands.common import TargetOption, console, settings_for
from riskstream.config import TriggerConfig


class Layer(StrEnum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"
    all = "all"


class TriggerKind(StrEnum):
    available_now = "available-now"
    processing_time = "processing-time"
    from_conf = "conf"


def run(
    layer: Annotated[Layer, typer.Argument(help="Which job to run; `all` runs them in flow order.")],
    target: TargetOption = "local",
    trigger: Annotated[
        TriggerKind, typer.Option(help="available-now processes what is there and stops; conf uses the target's.")
    ] = TriggerKind.from_conf,
    interval: Annotated[str, typer.Option(help="processing-time interval, e.g. '10 seconds'")] = "10 seconds",
) -> None:
    """Run one layer's streaming query, or all of them."""
    from jobs import bronze
    from jobs import gold as gold_job
    from jobs import silver as silver_job
    from riskstream.spark import get_spark

    settings = settings_for(target)
    chosen: TriggerConfig | None = None
    if trigger is TriggerKind.available_now:
        chosen = TriggerConfig(kind="available_now")
    elif trigger is TriggerKind.processing_time:
        chosen = TriggerConfig(kind="processing_time", interval=interval)
    spark = get_spark(settings)
    jobs: dict[str, Callable[..., Any]] = {"bronze": bronze.run}
    jobs["silver"] = silver_job.run
    jobs["gold"] = gold_job.run  # after silver: `all` runs in flow order
    selected = list(jobs) if layer is Layer.all else [layer.value]
    queries = []
    for name in selected:
        started = time.monotonic()
        console.print(f"run {name}: starting ({(chosen or settings.streams.bronze.trigger).kind})")
        query = jobs[name](spark, settings, chosen)
        if query is None:
            console.print(f"run {name}: done in {time.monotonic() - started:.1f}s")
        else:  # gold starts several queries and returns them as a list
            queries.extend(query if isinstance(query, list) else [query])
    for query in queries:
        console.print(f"run: query {query.name} running; Ctrl-C to stop")
        query.awaitTermination()
