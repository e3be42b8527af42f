"""JVM artifacts fetched from Maven Central into the git-ignored cache, and the Java check.

``make jars`` runs ``mvn dependency:copy-dependencies`` on two POMs under ``jvm/``: Spark's Kafka
source + Delta (``.cache/jars/spark``) and Apache Kafka's broker (``.cache/jars/kafka``). ``make
install`` also builds silver's JVM classes (record parser, lifecycle operator) from ``jvm/lifecycle`` into
``riskstream/jars/riskstream-lifecycle.jar``, which the wheel ships. Later runs and the tests only
read these files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from riskstream.errors import SetupError
from riskstream.paths import cache_dir, project_root

JAR_SETS = ("spark", "kafka")


def jar_dir(name: str) -> Path:
    return cache_dir() / "jars" / name


def cached_jars(name: str) -> list[Path]:
    """The cached jars of set ``name``; raises with the fix when the cache is empty."""
    jars = sorted(jar_dir(name).glob("*.jar"))
    if not jars:
        raise SetupError(
            f"no {name} jars in {jar_dir(name)}. Run `make jars` (needs Maven and access to Maven Central) "
            "or `make install`, then try again."
        )
    return jars


def lifecycle_jar() -> Path:
    """The lifecycle operator's jar (built by ``make install``, shipped in the wheel); raises with the fix."""
    jar = Path(__file__).parent / "jars" / "riskstream-lifecycle.jar"
    if not jar.is_file():
        raise SetupError(
            f"silver's lifecycle operator jar is missing ({jar}). Run `make install` (it builds jvm/lifecycle "
            "with Maven), then try again."
        )
    return jar


def java_executable() -> str:
    """Path to ``java`` (17 or newer); raises with the fix when it is missing."""
    java = shutil.which("java")
    if java is None:
        raise SetupError(
            "`java` was not found on PATH. Install a JDK 17 or newer (apt-get install openjdk-17-jre-headless)."
        )
    return java


def fetch_jars(name: str) -> Path:
    """Resolve and copy one jar set from Maven Central into the cache (idempotent)."""
    if name not in JAR_SETS:
        raise SetupError(f"unknown jar set {name!r}; expected one of {', '.join(JAR_SETS)}")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SetupError("`mvn` was not found on PATH. Install Maven (apt-get install maven).")
    pom = project_root() / "jvm" / name / "pom.xml"
    target = jar_dir(name)
    command = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={target}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() if "ERROR" in line][:5]
        raise SetupError(f"Maven could not fetch the {name} jars:\n" + "\n".join(errors))
    return target


def jvm_class(spark: Any, class_name: str, what: str) -> Any:
    """A class of the riskstream jar through the session's JVM gateway, or a SetupError that says how to
    get the jar onto the classpath (``what`` names the class for the reader)."""
    from py4j.java_gateway import JavaClass

    try:
        found: Any = spark._jvm
        for part in class_name.split("."):
            found = getattr(found, part)
    except Exception as error:  # no py4j gateway at all (Spark Connect, standard access mode)
        found = error
    if not isinstance(found, JavaClass):  # py4j answers a missing class with a JavaPackage
        raise SetupError(
            f"Spark cannot load {what}, {class_name} ({type(found).__name__}). Locally run `make install`; on "
            "Databricks the streaming job cluster needs the riskstream-lifecycle jar as a library (the bundle "
            "installs it), on dedicated (single user) access mode: serverless and standard access mode cannot "
            "run custom JVM code."
        ) from None
    return found


def python_column(java_column: Any) -> Any:
    """A PySpark Column around a column object built on the JVM side."""
    from pyspark.sql.classic.column import Column

    return Column(java_column)
