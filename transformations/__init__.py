"""Pure DataFrame transformations: no I/O, no global SparkSession, no configuration files.

Each public function is a ``DataFrame -> DataFrame`` (or ``-> Column``) function, or a factory that
returns one, to be chained with ``df.transform(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

Transform = Callable[["DataFrame"], "DataFrame"]
