"""``router simulate``: a crisis replay through the engine, real ccxt and the journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.engine.outcome import CloseResult, VenueBreakdown
from router.engine.progress import CloseProgress, ProgressHook, VenueProgress


def test_black_thursday_replay_ends_with_a_stated_outcome_that_adds_up(tmp_path: Path) -> None:
    """With --json stdout is exactly one JSON document, even when it claims to be a terminal."""
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
        env={**os.environ, "TTY_COMPATIBLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
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
        [sys.executable, "-m", "router.cli", "audit", answer["close_id"], "--json", "--db", db],
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


def _fake_result() -> CloseResult:
    return CloseResult(
        close_id="cl_fake",
        outcome="FLAT",
        reason="sold in spot",
        side="sell",
        requested=Decimal(3),
        filled=Decimal(3),
        hedged=Decimal(0),
        residual=Decimal(0),
        average_price=Decimal(50000),
        arrival_mid=Decimal(50010),
        shortfall_bps=Decimal(2),
        fees=Decimal(15),
        duration_s=42.0,
        attempts=2,
        fills=2,
        venues={
            "alpha": VenueBreakdown(Decimal(2), Decimal(50000), 1),
            "bravo": VenueBreakdown(Decimal(1), Decimal(50000), 1),
        },
    )


@pytest.fixture
def fake_simulate(monkeypatch: pytest.MonkeyPatch) -> list[ProgressHook | None]:
    """``simulate`` replaced by one that reports two waves; records the hook it was given."""
    hooks: list[ProgressHook | None] = []

    async def simulate(scenario: str, **options: Any) -> CloseResult:
        hook: ProgressHook | None = options["on_progress"]
        hooks.append(hook)
        for wave, (alpha, bravo) in enumerate([(0, 0), (1, 1), (2, 1)]):
            if hook is not None:
                hook(
                    CloseProgress(
                        close_id="cl_fake",
                        symbol="BTC",
                        side="sell",
                        requested=Decimal(3),
                        filled=Decimal(alpha + bravo),
                        in_doubt=Decimal(0),
                        hedged=Decimal(0),
                        wave=wave,
                        rung=0,
                        tolerance=Decimal("0.05"),
                        limit_price=None,
                        elapsed_s=wave * 1.5,
                        venues=(
                            VenueProgress("alpha-venue", Decimal(alpha)),
                            VenueProgress("bravo-venue", Decimal(bravo)),
                        ),
                    )
                )
        return _fake_result()

    monkeypatch.setattr("router.engine.simulate.simulate", simulate)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    return hooks


def test_progress_bars_per_venue_on_a_terminal(fake_simulate: list[ProgressHook | None]) -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "calm"])
    assert result.exit_code == 0, result.output
    assert fake_simulate[0] is not None
    assert "alpha-venue" in result.stdout
    assert "bravo-venue" in result.stdout
    assert "close cl_fake" in result.stdout


@pytest.mark.parametrize("flag", ["--json", "--no-progress"])
def test_no_progress_with_json_or_when_asked(
    fake_simulate: list[ProgressHook | None], flag: str
) -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "calm", flag])
    assert result.exit_code == 0, result.output
    assert fake_simulate == [None]
    assert "alpha-venue" not in result.stdout
    if flag == "--json":
        assert json.loads(result.stdout)["close_id"] == "cl_fake"


def test_no_progress_when_stdout_is_not_a_terminal(
    fake_simulate: list[ProgressHook | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    result = CliRunner().invoke(app, ["simulate", "--scenario", "calm"])
    assert result.exit_code == 0, result.output
    assert fake_simulate == [None]
    assert "close cl_fake" in result.stdout
