"""``Engine.unwind``: wave numbers that cannot clash across routers, what ``with_spot``
says when no covered venue can sell, and the pure helpers of the throttle and the lots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from router.core.orders import OrderState
from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.errors import UnwindRunning
from router.engine.unwind import UnwindResult, next_wave, on_lot, throttle_wait
from router.journal.records import AttemptIntent, AttemptView
from router.journal.repository import Journal
from router.sim.scenario import FaultSpec, Scenario
from tests.engine.conftest import World
from tests.engine.test_close import EXHAUSTION

D = Decimal
HOLD_S = 30.0
"""How long an order waits at the barrier before the test gives up (a hang guard)."""


async def _hedged(world: World) -> dict[str, Any]:
    result = await world.engine.close(
        world.request(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    )
    assert result.outcome == "HEDGED", result.reason
    hedges = await world.journal.hedges(open_only=True)
    hedge: dict[str, Any] = max(hedges, key=lambda h: h["quantity"])
    return hedge


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_two_routers_picking_the_same_wave_send_one_order(
    world: World, scenario: Scenario, tmp_path: Any
) -> None:
    """Two routers sharing the journal unwind one hedge at the same moment: both pick the
    same wave number, the journal's unique client order id lets one journal its order,
    the other is refused before sending anything."""
    hedge = await _hedged(world)
    other = await Journal.open(f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}")
    try:
        second = Engine(other, world.adapters, world.health, Policy(), pacing=world.engine.pacing)
        both = asyncio.Event()
        arrived: list[str] = []

        def barrier(journal: Journal) -> None:
            record = journal.record_intent

            async def held(intent: AttemptIntent) -> AttemptView:
                if intent.purpose == "unwind":
                    arrived.append(intent.client_order_id)
                    if len(arrived) == 2:
                        both.set()
                    await asyncio.wait_for(both.wait(), HOLD_S)
                return await record(intent)

            journal.record_intent = held  # type: ignore[method-assign]

        barrier(world.journal)
        barrier(other)
        orders = len(world.venue(hedge["venue"]).orders["linear"])
        answers = await asyncio.gather(
            world.engine.unwind(hedge["id"]), second.unwind(hedge["id"]), return_exceptions=True
        )
        assert arrived[0] == arrived[1]
        [done] = [a for a in answers if isinstance(a, UnwindResult)]
        [refused] = [a for a in answers if isinstance(a, BaseException)]
        assert isinstance(refused, UnwindRunning), refused
        assert (done.unwound, done.open, done.state) == (hedge["quantity"], 0, "CLOSED")
        assert len(world.venue(hedge["venue"]).orders["linear"]) == orders + 1
        unwinds = [
            a for a in await world.journal.attempts(hedge["close_id"]) if a.purpose == "unwind"
        ]
        assert len(unwinds) == 1
    finally:
        await other.close()


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_hedges_of_one_close_unwound_at_once_take_turns(
    world: World, scenario: Scenario
) -> None:
    """Two legs of one close share its wave numbers: unwound together, neither clashes."""
    await _hedged(world)
    legs = [h for h in await world.journal.hedges(open_only=True) if h["quantity"] > 0]
    assert len({h["close_id"] for h in legs}) == 1
    assert len(legs) >= 2
    results = await asyncio.gather(*(world.engine.unwind(h["id"]) for h in legs))
    for leg, result in zip(legs, results, strict=True):
        assert (result.unwound, result.state, result.reason) == (leg["quantity"], "CLOSED", None)
    attempts = await world.journal.attempts(legs[0]["close_id"])
    waves = [a.wave for a in attempts if a.purpose == "unwind"]
    assert len(waves) == len(set(waves)) == len(legs)


async def _spot_of_bravo_down(world: World) -> None:
    venue = world.venue("bravo")
    venue.faults.add(FaultSpec(kind="outage", endpoint="GET /api/v3/depth"))
    venue.faults.add(FaultSpec(kind="outage", endpoint="POST /api/v3/order"))


async def test_with_spot_when_no_covered_venue_can_sell_nothing_changes(world: World) -> None:
    await _spot_of_bravo_down(world)
    result = await world.engine.close(world.request(quantity="all"))
    assert result.outcome == "HEDGED", result.reason
    [leg, *_] = [
        h
        for h in await world.journal.hedges(open_only=True)
        if h["close_id"] == result.close_id and h["quantity"] > 0
    ]
    before = await world.journal.attempts(result.close_id)
    done = await world.engine.unwind(leg["id"], with_spot=True)
    assert (done.unwound, done.open, done.state) == (0, leg["quantity"], "OPEN")
    assert done.reason is not None
    assert done.reason.startswith("no covered venue could sell: ")
    assert "bravo" in done.reason
    after = await world.journal.attempts(result.close_id)
    assert [a.purpose for a in after[len(before) :]] == []
    [row] = [h for h in await world.journal.hedges() if h["id"] == leg["id"]]
    assert (row["state"], row["unwound_qty"]) == ("OPEN", 0)


def test_throttle_wait() -> None:
    assert throttle_wait(None, 100.0, 5.0) == 0
    assert throttle_wait(100.0, 101.5, 5.0) == 3.5
    assert throttle_wait(100.0, 105.0, 5.0) == 0
    assert throttle_wait(100.0, 200.0, 5.0) == 0
    assert throttle_wait(100.0, 100.0, 0.0) == 0


def _attempt(wave: int, purpose: str) -> AttemptView:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return AttemptView(
        id=wave,
        client_order_id=f"x-{purpose[0]}{wave}-0",
        close_id="cl_x",
        hedge_id=None,
        purpose=purpose,
        wave=wave,
        tier=0,
        venue="alpha",
        market="spot",
        symbol="BTC/USDT",
        side="sell",
        quantity=D(1),
        limit_price=None,
        style="ioc",
        reduce_only=False,
        state=OrderState.FILLED,
        exchange_order_id=None,
        filled_qty=D(1),
        error_class=None,
        error_message=None,
        intent_at=now,
        sent_at=None,
        acked_at=None,
        final_at=None,
    )


def test_next_wave_is_past_every_wave_the_close_used() -> None:
    """Not a count of attempts: a wave of three children and a hedge wave numbered
    past them both leave the next number free."""
    assert next_wave([]) == 1
    attempts = [_attempt(1, "close"), _attempt(1, "close"), _attempt(1, "close")]
    assert next_wave(attempts) == 2
    assert next_wave([*attempts, _attempt(7, "hedge")]) == 8


def test_on_lot_rounds_down_onto_the_step() -> None:
    from router.venues.model import MarketInfo

    market = MarketInfo(
        venue="alpha",
        symbol="BTC/USDT:USDT",
        market_id="BTCUSDT",
        kind="linear",
        base="BTC",
        quote="USDT",
        lot_step=D("0.001"),
        min_qty=D("0.001"),
        max_qty=None,
        market_max_qty=None,
        min_notional=D(5),
        tick=D("0.1"),
        percent_down=None,
        percent_up=None,
        taker_fee=D("0.0004"),
        maker_fee=D("0.0002"),
    )
    assert on_lot(D("0.0015"), market) == D("0.001")
    assert on_lot(D("2.5"), market) == D("2.5")
    assert on_lot(D("0.0009"), market) == 0


def test_the_interval_is_a_service_setting() -> None:
    from router.config import ConfigError, load_config

    assert load_config(environ={}).service.unwind_min_interval_s == 5.0
    changed = load_config(environ={"ROUTER__SERVICE__UNWIND_MIN_INTERVAL_S": "0.5"})
    assert changed.service.unwind_min_interval_s == 0.5
    with pytest.raises(ConfigError, match=r"service\.unwind_min_interval_s"):
        load_config(environ={"ROUTER__SERVICE__UNWIND_MIN_INTERVAL_S": "-1"})
