"""ops.stream_progress: progress reports of a real streaming query, recorded idempotently."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from riskstream.config import Settings
from riskstream.monitoring import LiveStatus, progress_row, progress_time_s, record_progress
from riskstream.tables import Catalog

pytestmark = pytest.mark.spark

PROGRESS = {
    "id": "q-1",
    "runId": "r-1",
    "name": "silver_trades",
    "timestamp": "2026-11-24T09:30:00.000Z",
    "batchId": 7,
    "numInputRows": 120,
    "inputRowsPerSecond": 60.0,
    "processedRowsPerSecond": 240.0,
    "durationMs": {"addBatch": 400, "triggerExecution": 500},
    "eventTime": {"watermark": "2026-11-24T09:20:00.000Z"},
    "stateOperators": [
        {"numRowsTotal": 10, "memoryUsedBytes": 2048, "numRowsDroppedByWatermark": 3},
        {"numRowsTotal": 5, "memoryUsedBytes": 1024, "numRowsDroppedByWatermark": 1},
    ],
    "sources": [{"description": "DeltaSource[bronze]"}],
    "sink": {"description": "ForeachBatchSink"},
}


def test_progress_row_flattens_one_report() -> None:
    row = progress_row(PROGRESS)
    assert {key: value for key, value in row.items() if key != "progress_json"} == {
        "query_name": "silver_trades",
        "query_id": "q-1",
        "run_id": "r-1",
        "batch_id": 7,
        "progress_ts": "2026-11-24T09:30:00.000Z",
        "num_input_rows": 120,
        "input_rows_per_second": 60.0,
        "processed_rows_per_second": 240.0,
        "trigger_execution_ms": 500,
        "add_batch_ms": 400,
        "state_rows_total": 15,
        "state_memory_bytes": 3072,
        "rows_dropped_by_watermark": 4,
        "watermark": "2026-11-24T09:20:00.000Z",
        "sources": '["DeltaSource[bronze]"]',
        "sink": "ForeachBatchSink",
    }


def test_real_query_progress_is_recorded_once(spark, make_settings: Callable[..., Settings], tmp_path) -> None:
    settings = make_settings()
    catalog = Catalog(settings)
    source = catalog.table("bronze", "numbers")
    spark.range(0, 30, numPartitions=3).write.format("delta").save(source.path)
    query = (
        source.read_stream(spark, {"maxFilesPerTrigger": "1"})
        .writeStream.queryName("numbers_copy")
        .option("checkpointLocation", catalog.checkpoint("numbers_copy"))
        .trigger(availableNow=True)
        .format("delta")
        .start(str(tmp_path / "copy"))
    )
    query.awaitTermination()
    progresses = [progress for progress in query.recentProgress if progress.numInputRows]
    table = catalog.table("ops", "stream_progress")
    assert record_progress(spark, table, progresses) == 3
    assert record_progress(spark, table, progresses) == 3  # recorded again: MERGE keeps one row per batch
    rows = table.read(spark).orderBy("batch_id").select("query_name", "batch_id", "num_input_rows").collect()
    assert [tuple(row) for row in rows] == [("numbers_copy", 0, 10), ("numbers_copy", 1, 10), ("numbers_copy", 2, 10)]


def test_listener_collects_every_batch(spark, make_settings: Callable[..., Settings], tmp_path) -> None:
    from riskstream.monitoring import ProgressCollector

    settings = make_settings()
    catalog = Catalog(settings)
    source = catalog.table("bronze", "letters")
    spark.range(0, 20, numPartitions=2).write.format("delta").save(source.path)
    collector = ProgressCollector().attach(spark)
    try:
        query = (
            source.read_stream(spark, {"maxFilesPerTrigger": "1"})
            .writeStream.queryName("letters_copy")
            .option("checkpointLocation", catalog.checkpoint("letters_copy"))
            .trigger(availableNow=True)
            .format("delta")
            .start(str(tmp_path / "copy"))
        )
        query.awaitTermination()
        reports = collector.drain(spark)
    finally:
        collector.detach(spark)
    assert sorted((r["name"], r["batchId"], r["numInputRows"]) for r in reports if r["numInputRows"]) == [
        ("letters_copy", 0, 10),
        ("letters_copy", 1, 10),
    ]


@pytest.mark.kafka
def test_run_command_records_each_micro_batch(
    spark, kafka, topic: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml
    from confluent_kafka import Producer
    from typer.testing import CliRunner

    from riskstream.cli import app
    from riskstream.config import parse_settings
    from tests.conftest import settings_dict

    raw = settings_dict(tmp_path, kafka.bootstrap_servers, kafka={"topic": topic})
    raw["streams"] = {"bronze": {"max_offsets_per_trigger": 2}}
    conf = tmp_path / "local.yml"
    conf.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("RISKSTREAM_CONF", str(conf))
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for number in range(5):
        producer.produce(topic, key="P-1", value=f'{{"n": {number}}}')
    assert producer.flush(30) == 0

    result = CliRunner().invoke(app, ["run", "bronze", "--trigger", "available-now"])

    assert result.exit_code == 0, result.output
    assert "run bronze: starting (available_now)" in result.output
    assert "(4 micro-batches)" in result.output  # the prices query reads its empty topic once
    table = Catalog(parse_settings(raw)).table("ops", "stream_progress")
    rows = (
        table.read(spark).orderBy("query_name", "batch_id").select("query_name", "batch_id", "num_input_rows").collect()
    )
    assert [tuple(row) for row in rows] == [
        ("bronze_price_ticks", 0, 0),
        ("bronze_trade_events", 0, 2),
        ("bronze_trade_events", 1, 2),
        ("bronze_trade_events", 2, 1),
    ]


def _report(batch: int, at: str, rows: int, end: int, latest: int) -> dict[str, object]:
    return {
        "batchId": batch,
        "timestamp": at,
        "numInputRows": rows,
        "sources": [{"description": "KafkaV2[Subscribe[trades]]", "endOffset": end, "latestOffset": latest}],
    }


def test_live_status_shows_each_query_batch_rate_and_lag() -> None:
    start = progress_time_s("2026-11-30T20:00:00.000Z")
    status = LiveStatus(start)
    first = [
        _report(0, "2026-11-30T20:00:01.000Z", 400, 400, 400),
        _report(1, "2026-11-30T20:00:03.000Z", 600, 900, 1200),
    ]
    now = start + 5
    bronze = status.update("bronze", first, waiting=False, now_s=now)
    silver = status.update("silver", [], waiting=True, now_s=now)
    gold = status.update("gold", [], waiting=False, now_s=now)
    assert status.line([bronze, silver, gold], now) == (
        "status: bronze #1 200/s lag 4s | silver #- 0/s lag 0s | gold #- 0/s lag 5s"
    )
    # Five seconds later: batch 1 is seen again (not counted twice); batch 2 caught up at 20:00:08.
    later = [*first, _report(2, "2026-11-30T20:00:08.000Z", 500, 1500, 1500)]
    # silver reads a Delta source, which reports no latest offset: its batch read what was committed.
    delta = {**_report(0, "2026-11-30T20:00:06.000Z", 900, 0, 0), "sources": [{"endOffset": {}, "latestOffset": None}]}
    now = start + 10
    bronze = status.update("bronze", later, waiting=False, now_s=now)
    silver = status.update("silver", [delta], waiting=False, now_s=now)
    assert status.line([bronze, silver], now) == "status: bronze #2 100/s lag 2s | silver #0 180/s lag 4s"
