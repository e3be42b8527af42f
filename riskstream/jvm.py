"""JVM artifacts fetched from Maven Central into the git-ignored cache, and the Java check.

``make jars`` runs ``mvn dependency:copy-dependencies`` on two POMs under ``jvm/``: Spark's Kafka
source + Delta (``.cache/jars/spark``) and Apache Kafka's broker (``.cache/jars/kafka``). ``make
install`` also builds silver's lifecycle operator from ``jvm/lifecycle`` into
``riskstream/jars/riskstream-lifecycle.jar``, which the wheel ships. Later runs and the tests only
read these files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
