"""``riskstream rebuild silver``: fresh silver (and gold) tables and checkpoints, rebuilt from bronze."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for


class Rebuildable(StrEnum):
    silver = "silver"


def rebuild(
    layer: Annotated[Rebuildable, typer.Argument(help="What to rebuild from bronze (gold follows silver).")],
    target: TargetOption = "local",
    conf: ConfOption = None,
    overrides: SetOption = None,
) -> None:
    """Move silver's and gold's tables and checkpoints aside (nothing is deleted) so the next runs rebuild them.

    Stop the streaming jobs first. Afterwards `riskstream run silver` and `riskstream run gold` reprocess
    every bronze record into fresh tables.
    """
    from riskstream.prerequisites import check_rebuild
    from riskstream.rebuild import rebuild_silver
    from riskstream.spark import get_spark

    settings = settings_for(target, conf, overrides)
    check_rebuild(settings)
    moved = rebuild_silver(get_spark(settings), settings)
    for what, where in moved:
        console.print(f"rebuild {layer.value}: moved {what} to {where}")
    console.print(
        f"rebuild {layer.value}: {len(moved)} tables and checkpoints moved aside; now `riskstream run all --target "
        f"{target}` rebuilds silver and gold from the topics (as far as their retention reaches), or `riskstream run "
        f"silver --target {target}` then `riskstream run gold --target {target}` from bronze (the layered jobs)"
    )
