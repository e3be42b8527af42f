"""Small files beside a streaming checkpoint, through Hadoop's FileSystem (local disk, volumes, cloud storage).

Spark resolves the scheme of every checkpoint path (``file:``, ``/Volumes/...``, ``abfss:``), so files
kept next to a checkpoint go through the same API: no second client, and they move with the checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def jvm_class(spark: SparkSession, name: str) -> Any:
    """A JVM class by its full name in one Py4J lookup (``jvm.org.apache...`` walks the packages one lookup at a
    time, each a miss on the whole classpath: 2.2 ms against 0.05 ms here)."""
    return getattr(spark._jvm, name)


def hadoop_path(spark: SparkSession, path: str) -> Any:
    return jvm_class(spark, "org.apache.hadoop.fs.Path")(path)


def filesystem(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """Hadoop's FileSystem for ``path`` and the path as a Hadoop ``Path``."""
    located = hadoop_path(spark, path)
    context: Any = spark._jsc
    return located.getFileSystem(context.hadoopConfiguration()), located


def exists(spark: SparkSession, path: str) -> bool:
    fs, located = filesystem(spark, path)
    return bool(fs.exists(located))


def write_bytes(spark: SparkSession, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: into a temporary file, then renamed over ``path``."""
    fs, target = filesystem(spark, path)
    temporary = hadoop_path(spark, f"{path}.tmp")
    stream = fs.create(temporary, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()
    if fs.exists(target):
        fs.delete(target, False)
    if not fs.rename(temporary, target):
        raise OSError(f"could not rename {path}.tmp to {path}")


def read_bytes(spark: SparkSession, path: str) -> bytes:
    fs, located = filesystem(spark, path)
    stream = fs.open(located)
    try:
        return bytes(jvm_class(spark, "org.apache.commons.io.IOUtils").toByteArray(stream))
    finally:
        stream.close()


def list_names(spark: SparkSession, folder: str) -> list[str]:
    """The names of the files in ``folder`` (none when it does not exist)."""
    fs, located = filesystem(spark, folder)
    if not fs.exists(located):
        return []
    return [str(status.getPath().getName()) for status in fs.listStatus(located)]


def delete(spark: SparkSession, path: str) -> None:
    fs, located = filesystem(spark, path)
    fs.delete(located, False)
