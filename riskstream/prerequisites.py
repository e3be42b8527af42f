"""What ``riskstream run`` needs before it starts Spark, checked from the file system in seconds.

Starting Spark takes tens of seconds and a streaming query creates its checkpoint and sink tables
on start, so a run on empty state used to fail half a minute later with a Delta error and leave
empty tables behind. On a path-based (local) target the inputs are Delta folders, so their
existence is checked first; a missing one stops the command with what to run, having created
nothing. On Unity Catalog the jobs check after Spark starts (:func:`check_inputs`, called by
``jobs/gold.py``), since listing a catalog needs a session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from riskstream.config import Settings
from riskstream.errors import PipelineError, SyncError
from riskstream.tables import Catalog, Layer, TableRef

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

REFERENCE_HINT = (
    "generate and load reference data first: `riskstream simulate reference --out reference` then "
    "`riskstream reference load --source reference`"
)
NEEDS: dict[str, list[tuple[Layer, str, str]]] = {
    "silver": [
        ("bronze", "trade_events", "run `riskstream run bronze` first (after `riskstream produce`)"),
        *(("reference", name, REFERENCE_HINT) for name in ("portfolios", "instruments", "fx_rates")),
    ],
    "hot": [("reference", name, REFERENCE_HINT) for name in ("portfolios", "instruments", "fx_rates", "correlations")],
    "windows": [
        ("silver", "trades", "run `riskstream run hot` first"),
        *(("reference", name, REFERENCE_HINT) for name in ("portfolios", "instruments", "fx_rates", "correlations")),
    ],
    "gold": [
        ("silver", "trades", "run `riskstream run silver` first"),
        *(("reference", name, REFERENCE_HINT) for name in ("portfolios", "instruments", "fx_rates", "correlations")),
    ],
}
"""Per layer: the tables it reads, and what to run when one is missing."""


def _missing(table: TableRef) -> bool:
    return table.path is not None and not (Path(table.path) / "_delta_log").is_dir()


def _missing_input(layer: str, table: TableRef, hint: str) -> PipelineError:
    where = table.path if table.path is not None else table
    return PipelineError(
        f"run {layer}: {table.layer}.{table.name} does not exist yet ({where}); {hint}. Nothing was created"
    )


def check_run(settings: Settings, layers: Sequence[str]) -> None:
    """Raise :class:`PipelineError` naming the first missing input of ``layers`` (run in this order).

    A layer's input written by an earlier layer of the same run (``run all``) is not required.
    """
    from riskstream.kafka_broker import create_topics
    from riskstream.runtime import bootstrap_servers

    if "bronze" in layers and settings.kafka.mode == "local":
        servers = bootstrap_servers(settings)  # raises, naming `riskstream kafka start`, when no broker runs
        # a broker started by a release before the price stream has no prices topic yet
        create_topics(servers, {settings.kafka.prices_topic: settings.kafka.partitions})
    catalog = Catalog(settings)
    silver_trades = (("silver", "trades"),)
    outputs = {"bronze": (("bronze", "trade_events"),), "silver": silver_trades, "hot": silver_trades}
    written: set[tuple[str, str]] = set()
    for layer in layers:
        for source_layer, name, hint in NEEDS.get(layer, []):
            table = catalog.table(source_layer, name)
            log.debug("run %s needs %s.%s at %s", layer, source_layer, name, table)
            if (source_layer, name) not in written and _missing(table):
                raise _missing_input(layer, table, hint)
        written.update(outputs.get(layer, ()))


def check_inputs(spark: SparkSession, settings: Settings, layer: str) -> None:
    """The same check inside a job, through Spark, so that it also covers Unity Catalog tables."""
    catalog = Catalog(settings)
    for source_layer, name, hint in NEEDS[layer]:
        table = catalog.table(source_layer, name)
        if not table.exists(spark):
            raise _missing_input(layer, table, hint)


def check_sync(settings: Settings, tables: Sequence[str], named: bool) -> None:
    """Raise :class:`SyncError` when the gold tables to sync do not exist yet (path-based targets).

    ``named``: the tables were named with ``--table``, so each must exist; otherwise at least one.
    """
    catalog = Catalog(settings)
    missing = [catalog.table("gold", name) for name in tables if _missing(catalog.table("gold", name))]
    if not missing or (not named and len(missing) < len(tables)):
        return
    if named:
        first = missing[0]
        what = f"gold.{first.name} does not exist yet ({first.path})"
    else:
        what = f"no gold table exists yet (under {Path(str(missing[0].path)).parent})"
    raise SyncError(f"sync: {what}; run `riskstream run gold` first. Nothing was created")


def check_rebuild(settings: Settings) -> None:
    """Raise :class:`PipelineError` when a path-based target has none of the tables and checkpoints
    a silver rebuild would move aside: there is nothing to rebuild, and nothing is moved."""
    from riskstream.rebuild import rebuild_targets

    if settings.storage.base_path is None:
        return
    tables, checkpoints = rebuild_targets(settings)
    if any(not _missing(table) for table in tables):
        return
    if any(Path(path.removeprefix("file:")).exists() for _, path in checkpoints):
        return
    raise PipelineError(
        f"rebuild silver: no silver or gold table or checkpoint exists under {settings.storage.base_path} yet, "
        "so there is nothing to rebuild; `riskstream run silver` builds silver from bronze. Nothing was moved"
    )


def nothing_to_maintain(settings: Settings) -> bool:
    """True when a path-based target has no bronze, silver or gold Delta table at all."""
    from riskstream.maintenance import MAINTAINED_LAYERS, local_table_names

    if settings.storage.base_path is None:
        return False
    return not any(local_table_names(settings, layer) for layer in MAINTAINED_LAYERS)
