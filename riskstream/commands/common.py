"""What every command shares: the target option, the console, and loading settings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from riskstream.config import Settings, load_settings

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

TargetOption = Annotated[
    str,
    typer.Option("--target", "-t", help="Configuration target: local (embedded default), dev or prod."),
]


def settings_for(target: str) -> Settings:
    return load_settings(target)
