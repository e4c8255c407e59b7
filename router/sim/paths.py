"""Where the simulator finds its shipped scenarios and data."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    return _PACKAGE_DIR.parent.parent


def scenario_dir() -> Path:
    """``config/scenarios`` of the checkout, or ``$ROUTER_SCENARIO_DIR`` when set."""
    override = os.environ.get("ROUTER_SCENARIO_DIR")
    if override:
        return Path(override)
    return repo_root() / "config" / "scenarios"


def data_dir() -> Path:
    """Market data shipped with the package (trimmed real candles and L2 snapshots)."""
    return _PACKAGE_DIR / "data"
