"""Where the project keeps its local, git-ignored state and caches."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout's root, or RISKSTREAM_HOME when set (for installed wheels run outside a checkout)."""
    override = os.environ.get("RISKSTREAM_HOME")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Downloaded artifacts reused across runs (JVM jars). Git-ignored."""
    return project_root() / ".cache"


def state_dir() -> Path:
    """Local run state: Delta tables, checkpoints, Kafka logs, emulator files. Git-ignored."""
    override = os.environ.get("RISKSTREAM_STATE_DIR")
    return Path(override).resolve() if override else project_root() / ".state"


def conf_dir() -> Path:
    """The conf/ folder of the checkout, or the copy packaged inside the wheel."""
    in_checkout = project_root() / "conf"
    if in_checkout.is_dir():
        return in_checkout
    return Path(__file__).resolve().parent / "_conf"
