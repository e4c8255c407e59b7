"""Guard mode: a falling price walks a watched position through the stop tiers."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from router.core.guard import GuardedPosition
from router.engine.guard import Guard
from router.journal.models import LiquidityEvent
from tests.engine.conftest import World, three_venues

D = Decimal

FALLING = three_venues(
    path={
        "kind": "synthetic",
        "start_price": "60000",
        "drift_per_hour": "-0.5",
        "volatility_per_sqrt_hour": "0",
    },
    stages=[{"at_s": 0, "depth": "0.01", "spread_bps": 2}],
)


@pytest.mark.parametrize("scenario", [FALLING], ids=["falling"])
async def test_price_fall_through_minus_10_then_minus_20_starts_tiered_closes(
    world: World, scenario: object
) -> None:
    position = GuardedPosition("core-btc", "BTC", "long", D(60000), D(10))
    guard = Guard(world.engine, [position], danger=D(0))
    assert await guard.check_once() == []

    world.clock.set(D(850))
    world.cluster.step()
    [first] = await guard.check_once()
    assert (first.rung, first.tolerance, first.kind) == (0, D("0.05"), "stop_tier")
    assert first.unrealized_pnl <= D("-0.10")

    world.clock.set(D(1700))
    world.cluster.step()
    [second] = await guard.check_once()
    assert (second.rung, second.tolerance) == (1, D("0.10"))
    assert second.unrealized_pnl <= D("-0.20")

    closes = guard.results
    assert len(closes) == 2
    for close, tolerance in zip(closes, (D("0.05"), D("0.10")), strict=True):
        attempts = await world.journal.attempts(close.close_id)
        assert attempts
        view = await world.journal.get_close(close.close_id)
        assert view is not None
        assert view.reference_price is not None
        floor = view.reference_price * (1 - tolerance)
        assert all(a.limit_price is not None and a.limit_price >= floor for a in attempts)
    assert closes[0].filled > 0
    assert closes[1].requested == D(10) - closes[0].filled - closes[0].hedged

    async with world.journal.engine.connect() as conn:
        events = (await conn.execute(select(LiquidityEvent).order_by(LiquidityEvent.id))).all()
    assert [e.kind for e in events] == ["guard_stop_tier", "guard_stop_tier"]
    details = [json.loads(e.detail_json) for e in events]
    assert [d["tolerance"] for d in details] == ["0.05", "0.10"]
    assert "normal stop" in details[0]["reason"]
    assert "emergency stop" in details[1]["reason"]


def test_guard_command_replays_a_scenario(tmp_path: object) -> None:
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(str(tmp_path))
    config = folder / "guard.toml"
    config.write_text(
        'poll_s = "30"\ndanger = "0.5"\nallow_hedge = false\n[[positions]]\nname = "p"\n'
        'symbol = "BTC"\nside = "long"\nentry_price = "7900"\nquantity = "2"\n',
        encoding="utf-8",
    )
    db = f"sqlite+aiosqlite:///{folder / 'journal.db'}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "guard",
            "--positions",
            str(config),
            "--scenario",
            "black-thursday-2020",
            "--until-s",
            "300",
            "--db",
            db,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    [close] = json.loads(result.stdout)["closes"]
    assert close["outcome"] == "FLAT"
    assert Decimal(close["filled"]) == D(2)
    bad = folder / "bad.toml"
    bad.write_text('[[positions]]\nname = "p"\nsymbol = "BTC"\nside = "sideways"\n', "utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "router.cli", "guard", "--positions", str(bad), "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "positions.0.side" in refused.stderr


def test_guard_command_refuses_a_wrong_router_configuration(tmp_path: object) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(str(tmp_path))
    environ = {**os.environ, "ROUTER__POLICY__LIQUIDITY__CLOSE_BELLOW": "0.2"}
    refused = subprocess.run(
        [sys.executable, "-m", "router.cli", "guard", "--until-s", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        cwd=folder,
    )
    assert refused.returncode == 2
    assert "ROUTER__POLICY__LIQUIDITY__CLOSE_BELLOW" in refused.stderr
    mine = folder / "mine.toml"
    mine.write_text("[policy]\nescalate_below_fill_ratio = 2\n", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "router.cli", "guard", "--config", str(mine)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    assert refused.returncode == 2
    assert "policy.escalate_below_fill_ratio" in refused.stderr


@pytest.mark.parametrize("scenario", [FALLING], ids=["falling"])
async def test_a_watched_position_larger_than_the_holdings_closes_what_is_held(
    world: World, scenario: object
) -> None:
    held = sum(world.initial[name]["BTC"] for name in world.adapters)
    position = GuardedPosition("too-big", "BTC", "long", D(60000), held + D(7))
    guard = Guard(world.engine, [position], danger=D(0))
    world.clock.set(D(850))
    world.cluster.step()
    [trigger] = await guard.check_once()
    assert trigger.kind == "stop_tier"
    [close] = guard.results
    assert close.requested == held
    assert guard.open_quantity() == held - close.filled - close.hedged
    async with world.journal.engine.connect() as conn:
        kinds = [e.kind for e in (await conn.execute(select(LiquidityEvent))).all()]
    assert "guard_position_exceeded" in kinds
