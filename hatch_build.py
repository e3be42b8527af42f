"""Wheel build hook: a wheel without silver's JVM operator would deploy and then fail on the cluster.

``uv build --wheel`` (the bundle's artifact build) runs this first; the jar is built from
``jvm/lifecycle`` by ``make install`` (or ``make lifecycle-jar``) and is git-ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LIFECYCLE_JAR = Path("riskstream") / "jars" / "riskstream-lifecycle.jar"


class LifecycleJarCheck(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install (`uv sync` in a checkout, before Maven has built the jar) finds the jar
        # in the checkout at run time; only a standard wheel must carry it.
        if self.target_name == "wheel" and version == "standard" and not (Path(self.root) / LIFECYCLE_JAR).is_file():
            raise RuntimeError(
                f"{LIFECYCLE_JAR} is missing: run `make install` (it builds jvm/lifecycle with Maven) before "
                "building the wheel"
            )
