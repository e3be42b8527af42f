"""Silver refuses a checkpoint written by another lifecycle operator; `riskstream rebuild silver` starts over.

Real broker -> bronze -> silver (availableNow). The checkpoint of the Python operator of earlier
releases is recreated the way it looks to the new code: batches in ``offsets/`` and no operator marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from jobs import bronze, silver
from riskstream.config import Settings
from riskstream.errors import PipelineError
from riskstream.kafka_broker import BrokerInfo
from riskstream.rebuild import MARKER, OPERATOR, rebuild_silver, write_marker
from riskstream.tables import Catalog
from tests.conftest import load_fixture_reference
from tests.events import Record, publish, trade_event

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

HINT = (
    "rebuild silver from bronze with `riskstream rebuild silver` (it moves the silver and gold tables and "
    "checkpoints aside, deleting nothing), then run silver and gold again"
)


def test_an_old_checkpoint_is_refused_and_a_rebuild_starts_over(
    spark: SparkSession, kafka: BrokerInfo, topic: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(kafka.bootstrap_servers, kafka={"topic": topic})
    catalog = Catalog(settings)
    load_fixture_reference(spark, catalog)
    publish(kafka.bootstrap_servers, topic, [Record("P-001", json.dumps(trade_event(n)).encode(), "1") for n in (1, 2)])
    assert bronze.run(spark, settings) is None
    assert silver.run(spark, settings) is None
    checkpoint = Path(catalog.checkpoint(silver.QUERY_NAME))
    marker = checkpoint / MARKER
    assert json.loads(marker.read_text()) == OPERATOR
    trades = catalog.table("silver", "trades")
    before = trades.read(spark).select("event_id", "trade_id", "delta_quantity").orderBy("event_id")
    before_rows = before.collect()

    marker.unlink()  # what a checkpoint of the Python operator looks like: batches, no marker
    with pytest.raises(PipelineError) as refused:
        silver.run(spark, settings)
    assert str(refused.value) == (
        f"silver's checkpoint {checkpoint} was written by the Python lifecycle operator of an earlier riskstream, "
        f"whose state the JVM operator cannot read: {HINT}"
    )
    write_marker(spark, str(checkpoint), {**OPERATOR, "state_version": 0})
    with pytest.raises(PipelineError) as other_version:
        silver.run(spark, settings)
    assert str(other_version.value) == (
        f"silver's checkpoint {checkpoint} was written by { ({**OPERATOR, 'state_version': 0}) }, not {OPERATOR}: "
        f"{HINT}"
    )

    suffix = "_before_rebuild_20261130T060000Z"
    moved = rebuild_silver(spark, settings, now=datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    assert moved == [
        ("silver.trades", f"{trades.path}{suffix}"),
        ("silver.quarantine", f"{catalog.table('silver', 'quarantine').path}{suffix}"),
        ("silver.prices", f"{catalog.table('silver', 'prices').path}{suffix}"),
        ("ops.data_quality", f"{catalog.table('ops', 'data_quality').path}{suffix}"),
        ("checkpoint silver_trades", f"{checkpoint}{suffix}"),
        ("checkpoint silver_prices", f"{catalog.checkpoint('silver_prices')}{suffix}"),
    ]
    # nothing was deleted: the old table is still readable where it went
    old = spark.read.format("delta").load(f"{trades.path}{suffix}")
    assert sorted(tuple(row) for row in old.select("event_id", "trade_id", "delta_quantity").collect()) == sorted(
        tuple(row) for row in before_rows
    )
    assert silver.run(spark, settings) is None
    assert_df_equality(
        trades.read(spark).select("event_id", "trade_id", "delta_quantity").orderBy("event_id"),
        spark.createDataFrame(before_rows, before.schema),
    )


@pytest.mark.parametrize(("sources", "refused"), [(None, False), (1, True), (2, False)])
def test_a_gold_positions_checkpoint_of_one_source_is_refused(
    spark: SparkSession, tmp_path: Path, sources: int | None, refused: bool
) -> None:
    """gold_positions reads silver.trades and silver.prices since the price stream; a checkpoint whose
    latest batch read silver.trades alone is refused with the rebuild hint, before Spark sees it."""
    from riskstream.rebuild import check_positions_checkpoint

    checkpoint = tmp_path / "gold_positions"
    if sources is not None:
        (checkpoint / "offsets").mkdir(parents=True)
        (checkpoint / "offsets" / "0").write_text('v1\n{"batchWatermarkMs":0}\n{"reservoirVersion":1}\n')
        source_lines = "".join('{"reservoirVersion":3}\n' for _ in range(sources))
        (checkpoint / "offsets" / "1").write_text('v1\n{"batchWatermarkMs":0}\n' + source_lines)
    if refused:
        with pytest.raises(PipelineError) as raised:
            check_positions_checkpoint(spark, str(checkpoint), sources=2)
        assert str(raised.value) == (
            f"gold_positions' checkpoint {checkpoint} read 1 source(s), this release reads 2 "
            f"(silver.trades and silver.prices): {HINT}"
        )
    else:
        check_positions_checkpoint(spark, str(checkpoint), sources=2)
