"""``router simulate``: a crisis replay through the engine, real ccxt and the journal."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


def test_black_thursday_replay_ends_with_a_stated_outcome_that_adds_up(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "simulate",
            "--scenario",
            "black-thursday-2020",
            "--json",
            "--db",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["outcome"] in ("FLAT", "HEDGED", "STRANDED")
    requested = Decimal(answer["requested"])
    assert requested > 0
    parts = Decimal(answer["filled"]) + Decimal(answer["hedged"]) + Decimal(answer["residual"])
    assert parts == requested
    assert set(answer) >= {
        "close_id",
        "outcome",
        "requested",
        "filled",
        "hedged",
        "residual",
        "average_price",
        "arrival_mid",
        "shortfall_bps",
        "duration_s",
        "venues",
        "attempts",
        "fills",
    }
    venue_fills = sum(Decimal(v["filled"]) for v in answer["venues"].values())
    assert venue_fills == Decimal(answer["filled"])
    audit = subprocess.run(
        [sys.executable, "-m", "router.cli", "audit", answer["close_id"], "--json", "--url", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["close"]["outcome"] == answer["outcome"]


def test_unknown_scenario_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "simulate",
            "--scenario",
            "nope",
            "--db",
            f"sqlite+aiosqlite:///{tmp_path / 'j.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown scenario" in result.stderr
