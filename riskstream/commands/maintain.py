"""``riskstream maintain``: OPTIMIZE and VACUUM every bronze, silver and gold table."""

from __future__ import annotations

import time

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for
from riskstream.prerequisites import nothing_to_maintain


def maintain(target: TargetOption = "local", conf: ConfOption = None, overrides: SetOption = None) -> None:
    """Compact (OPTIMIZE, Z-order per conf) then VACUUM every bronze/silver/gold Delta table."""
    from riskstream.maintenance import run_maintenance
    from riskstream.spark import get_spark

    settings = settings_for(target, conf, overrides)
    if nothing_to_maintain(settings):
        console.print(
            f"maintain: no bronze, silver or gold table under {settings.storage.base_path} yet; nothing to do"
        )
        return
    started = time.monotonic()
    console.print(f"maintain: target {target}, vacuum retention {settings.maintenance.vacuum_retention_hours} hours")
    statements = run_maintenance(get_spark(settings), settings, report=console.print)
    tables = len({statement.table for statement in statements})
    console.print(f"maintain: {tables} tables optimized and vacuumed in {time.monotonic() - started:.1f}s")
