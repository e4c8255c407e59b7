"""A close stops as soon as another router holds its lease: nothing is sent twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from router.engine.engine import Engine
from router.engine.lease import LeaseLost
from router.journal.repository import Journal, utc_now
from tests.engine.conftest import World


def _second_router(world: World, ahead: timedelta = timedelta(0)) -> Journal:
    """The same journal as another router sees it (``ahead``: its claim is made as if
    that much later, when the first router's lease has expired)."""
    return Journal(world.journal.engine, owner="second-router", clock=lambda: utc_now() + ahead)


async def test_a_close_taken_over_by_another_router_stops_sending(world: World) -> None:
    adapter = world.adapters["alpha"]
    place = adapter.place_order
    stolen: list[str] = []
    waves_when_stolen: list[int] = []

    async def place_then_lose_the_lease(*args: Any, **kwargs: Any) -> Any:
        result = await place(*args, **kwargs)
        if not stolen:
            [close_id] = [c.id for c in await world.journal.unfinished_closes()]
            later = _second_router(world, ahead=timedelta(minutes=10))
            try:
                assert await later.claim(close_id, timedelta(minutes=1))
            finally:
                await later._writer.close()
            stolen.append(close_id)
            waves_when_stolen.append(max(a.wave for a in await world.journal.attempts(close_id)))
        return result

    adapter.place_order = place_then_lose_the_lease  # type: ignore[method-assign]
    with pytest.raises(LeaseLost, match="another router took close"):
        await world.engine.close(world.request(quantity="10", urgency="0.3"))
    [close_id] = stolen
    close = await world.journal.get_close(close_id)
    assert close is not None
    assert (close.owner, close.outcome) == ("second-router", None)
    # the wave being sent when the lease was lost was the last one this router sent
    attempts = await world.journal.attempts(close_id)
    assert max(a.wave for a in attempts) == waves_when_stolen[0]

    adapter.place_order = place  # type: ignore[method-assign]
    second = _second_router(world)
    try:
        engine = Engine(
            second, world.adapters, world.health, world.engine.policy, pacing=world.engine.pacing
        )
        [result] = await engine.resume()
    finally:
        await second._writer.close()
    assert result.outcome == "FLAT"
    assert result.filled == Decimal(10)


def _orders(world: World) -> int:
    return sum(
        len(orders) for name in world.adapters for orders in world.venue(name).orders.values()
    )


async def test_no_order_leaves_once_the_lease_may_have_expired(world: World) -> None:
    """A router paused longer than its lease between renewing and sending (its wall clock
    jumps 40 s at every look, the lease is 30 s) never sends: another router may own the
    close by then."""
    ticks = iter(range(0, 10**9, 40))
    pacing = replace(world.engine.pacing, wall=lambda: float(next(ticks)))
    engine = Engine(world.journal, world.adapters, world.health, world.engine.policy, pacing=pacing)
    result = await engine.close(world.request(quantity="2"))
    assert _orders(world) == 0
    attempts = await world.journal.attempts(result.close_id)
    assert attempts
    assert {(a.state.value, a.error_class) for a in attempts} == {("REJECTED", "LeaseExpired")}
    assert (result.outcome, result.filled, result.residual) == ("STRANDED", 0, Decimal(2))
