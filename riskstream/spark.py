"""The one place a SparkSession is built.

On Databricks the active session is reused (the runtime already has Delta, the Kafka source and
RocksDB). Locally a ``local[*]`` session is built with Delta's extensions and the cached Kafka
source / Delta jars on ``spark.jars``, so nothing is resolved or downloaded at start-up.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from riskstream.config import Settings
from riskstream.jvm import cached_jars, lifecycle_jar
from riskstream.kafka_options import on_databricks
from riskstream.logs import LOG4J2_CONFIG, jvm_log_level

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"


def local_conf(settings: Settings) -> dict[str, str]:
    """Spark settings for a local session built from ``settings``."""
    spark = settings.spark
    conf = {
        "spark.jars": ",".join(str(jar) for jar in [*cached_jars("spark"), lifecycle_jar()]),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Frozen into each streaming checkpoint at its first run: never change it for an existing checkpoint.
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        "spark.ui.enabled": str(spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.streaming.stateStore.providerClass": ROCKSDB_PROVIDER if spark.rocksdb_state_store else "",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.memory": "2g",
        # Catalyst recurses deeply on silver's wide parse plan; with several streams running at once
        # (demo --follow) the default 1 MB thread stacks overflow (StackOverflowError in the stream thread).
        # -XX:-DontCompileHugeMethods: Spark's generated code for silver's wide rows (the operator's
        # encoders, the batch cache) has methods larger than HotSpot's 8000-byte JIT limit, which would
        # otherwise run in the bytecode interpreter (a 200,000-row batch: addBatch 35.9 s with it, 37.9 s without).
        # -Dlog4j2.configurationFile: only JVM errors reach the terminal (riskstream/log4j2.properties).
        "spark.driver.extraJavaOptions": (
            f"-Xss16m -XX:-DontCompileHugeMethods -Dlog4j2.configurationFile={LOG4J2_CONFIG}"
        ),
        # Delta reconstructs a table's snapshot in 50 tasks by default, sized for clusters; locally that
        # is 50 task launches per snapshot, several per micro-batch.
        "spark.databricks.delta.snapshotPartitions": "2",
        # VACUUM lists a table's files in as many tasks as this (10,000 by default, sized for clusters):
        # locally that took 40 to 46 s for a table of a few files, and 2.9 to 4.7 s with 8.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
        # Every micro-batch plans afresh and Spark caches generated classes by their source: a batch of
        # silver (parse, three Delta writes and their log reads) needs more than the default 100 entries,
        # which evicted each other and were compiled again in every batch (1,618 compilations in 22
        # batches before, 320 after).
        "spark.sql.codegen.cache.maxEntries": "2000",
        # The foreachBatch frame is cached once and read by three writes; compressing it costs more CPU
        # than it saves on a 2-core machine.
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        "spark.sql.adaptive.enabled": "false",
        # PySpark records the Python call site of every DataFrame and Column call for error messages: six
        # Py4J round trips and a stack walk per call (F.col 2.0 ms instead of 0.1 ms), and the JVM view
        # lookups behind them miss the classpath many times per call. The hot query builds its writes'
        # plans in every micro-batch: this was 14% of the streaming JVM's CPU samples at 1,000 trades/s.
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        # Each streaming query runs its jobs in a pool of its own (riskstream.sinks), so a small bronze
        # append is not queued behind a window query's shuffle.
        "spark.scheduler.mode": "FAIR",
        "spark.scheduler.allocation.file": str(FAIR_SCHEDULER_POOLS),
        # As on the Databricks job cluster (resources/streaming.job.yml): a RocksDB state commit writes the
        # batch's changes instead of a checkpoint of the whole store.
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    }
    if not conf["spark.sql.streaming.stateStore.providerClass"]:
        del conf["spark.sql.streaming.stateStore.providerClass"]
    conf.update(spark.extra)
    return conf


FAIR_SCHEDULER_POOLS = Path(__file__).with_name("fairscheduler.xml")
"""The pools' weights: the hot query first (the file says why)."""


def get_spark(settings: Settings) -> SparkSession:
    """The session for ``settings``: Databricks' active one, or a configured local one."""
    from pyspark.sql import SparkSession

    if on_databricks():
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        return SparkSession.builder.getOrCreate()
    # Python workers (pandas UDFs, applyInPandasWithState) must use this interpreter, which has pyarrow;
    # PySpark otherwise starts whatever `python3` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pandas' concat FutureWarning, raised inside PySpark's own Arrow serializer for every state batch.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning:pyspark.sql.pandas.serializers")
    # Spark warns when the hostname resolves to a loopback address; the session binds to 127.0.0.1 anyway.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(settings.spark.app_name).master(settings.spark.master or "local[*]")
    for key, value in local_conf(settings).items():
        builder = builder.config(key, value)
    log.debug(
        "starting a local Spark session: master %s, %s shuffle partitions",
        settings.spark.master,
        settings.spark.shuffle_partitions,
    )
    session = builder.getOrCreate()
    log.debug("Spark %s up, UI %s", session.version, session.sparkContext.uiWebUrl)
    session.sparkContext.setLogLevel(jvm_log_level())
    return session
