"""How loud riskstream is: quiet by default, ``riskstream -v`` for more.

The package's own diagnostics go through :mod:`logging` (logger ``riskstream``); a command's
results are printed by the command. Quiet: Python warnings and above, JVM errors only (the local
Spark session loads ``riskstream/log4j2.properties``). Verbose: Python debug messages, JVM warnings,
and a failed command's full traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path

LOG4J2_CONFIG = Path(__file__).with_name("log4j2.properties")
_state = {"verbose": False}


def configure(verbose: bool) -> None:
    """Set the Python and JVM log levels for this process (called once by the CLI)."""
    _state["verbose"] = verbose
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING, force=True)
    logging.getLogger("riskstream").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # Libraries that log their own retries: the commands report what failed in the end.
    for noisy in ("py4j", "azure", "urllib3", "snowflake", "databricks", "riskstream.producer.librdkafka"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)


def verbose() -> bool:
    return _state["verbose"]


def jvm_log_level() -> str:
    """The level the local Spark session's loggers run at."""
    return "WARN" if verbose() else "ERROR"
