"""What every command shares: the target option, the console, and loading settings."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from riskstream.config import Settings, load_settings, profiles

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

TargetOption = Annotated[
    str,
    typer.Option(
        "--target", "-t", help="Deployment: local (embedded default) or a bundle target such as dev, prod, staging."
    ),
]


def _profile(value: str | None) -> str | None:
    if value is not None and value not in profiles():
        raise typer.BadParameter(f"{value!r} is not a conf profile; choose one of {', '.join(profiles())}")
    return value


ConfOption = Annotated[
    str | None,
    typer.Option(
        "--conf",
        callback=_profile,
        metavar="|".join(profiles()),
        help="Conf profile; default: the profile named like the target.",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override one setting, KEY=VALUE with a dotted key (storage.catalog=main); repeatable. "
        "The bundle passes each deployment's values this way.",
    ),
]


def settings_for(target: str, conf: str | None = None, overrides: list[str] | None = None) -> Settings:
    return load_settings(target, conf=conf, overrides=overrides or ())


class StopFlag:
    """Set by :func:`stop_on_signals` when Ctrl-C (SIGINT) or SIGTERM arrives."""

    def __init__(self) -> None:
        self.requested = False


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """While the block runs, Ctrl-C (SIGINT) and SIGTERM only set the yielded flag.

    Long-running commands poll the flag and then stop their streaming queries with
    ``StreamingQuery.stop()``: a micro-batch in flight is abandoned uncommitted and replayed on the
    next start. The handler raises nothing on purpose: an exception raised while the main thread
    waits in a py4j call breaks that call; and pyspark's own SIGINT handler, replaced here, cancels
    every running Spark job, which makes the query fail instead of stop.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.requested = True

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)
