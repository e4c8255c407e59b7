"""A close covers the whole position on every configured venue, and its outcome says so.

Regressions of the issue "every close covers the whole position": a balance read that
fails at the start, holdings on a venue that cannot trade, a passive close priced on a
venue that holds nothing, an explicit quantity beyond the holdings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.engine.errors import PositionExceeded
from router.journal.holdings import holdings
from router.sim.scenario import FaultSpec
from tests.engine.conftest import World, checked_world, three_venues

D = Decimal
HELD = {"alpha": D(6), "bravo": D(4), "charlie": D(3)}


def _venues(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    from router.chaos.world import THREE_VENUES

    venues = [dict(v) for v in THREE_VENUES]
    for venue in venues:
        venue.update(changes.get(venue["name"], {}))
    return venues


async def test_a_balance_read_failing_at_the_start_still_closes_every_venue(
    world: World,
) -> None:
    world.venue("alpha").faults.add(
        FaultSpec(kind="rate_limit", endpoint="GET /api/v3/account", end_s=D(3))
    )
    result = await world.engine.close(world.request(quantity="all"))
    assert result.outcome == "FLAT", result.reason
    assert result.requested == sum(HELD.values())
    assert result.filled == sum(HELD.values())
    assert result.position is not None
    figures = result.position.by_venue()
    for name, held in HELD.items():
        assert figures[name].held == held
        assert figures[name].sold == held
        assert figures[name].residual == 0
    rows = {h.venue: h for h in await holdings(world.journal, result.close_id)}
    assert rows["alpha"].held == HELD["alpha"]
    assert rows["alpha"].unknown_reason is None


async def test_holdings_that_stay_unknown_make_the_close_stranded_and_named(
    world: World,
) -> None:
    world.venue("alpha").faults.add(
        FaultSpec(kind="rate_limit", endpoint="GET /api/v3/account", end_s=D(600))
    )
    result = await world.engine.close(world.request(quantity="all", allow_hedge=False))
    assert result.outcome == "STRANDED"
    assert result.reason is not None
    assert "holdings unknown on alpha" in result.reason
    assert result.requested == HELD["bravo"] + HELD["charlie"]
    assert result.filled == result.requested
    assert result.position is not None
    assert result.position.unknown == ("alpha",)
    assert result.position.by_venue()["alpha"].held is None


async def test_an_explicit_quantity_beyond_the_holdings_is_refused_before_anything(
    world: World,
) -> None:
    with pytest.raises(PositionExceeded, match=r"exceeds what the venues hold of BTC: 13"):
        await world.engine.close(world.request(quantity="13.5"))
    assert await world.journal.unfinished_closes() == []
    for name in HELD:
        assert world.venue(name).trades == []


async def _spot_of_bravo_down(world: World) -> None:
    """bravo's account answers, its spot book and spot orders do not."""
    venue = world.venue("bravo")
    venue.faults.add(FaultSpec(kind="outage", endpoint="GET /api/v3/depth"))
    venue.faults.add(FaultSpec(kind="outage", endpoint="POST /api/v3/order"))


async def test_holdings_on_a_venue_that_cannot_trade_are_hedged_elsewhere(world: World) -> None:
    await _spot_of_bravo_down(world)
    result = await world.engine.close(world.request(quantity="all"))
    assert result.outcome == "HEDGED", result.reason
    assert result.requested == sum(HELD.values())
    assert result.filled == HELD["alpha"] + HELD["charlie"]
    assert result.hedged == HELD["bravo"]
    assert result.reason is not None
    assert "bravo" in result.reason
    assert result.position is not None
    bravo = result.position.by_venue()["bravo"]
    assert (bravo.held, bravo.sold, bravo.hedged, bravo.residual) == (HELD["bravo"], 0, 4, 0)
    rows = {h.venue: h for h in await holdings(world.journal, result.close_id)}
    assert rows["bravo"].stuck
    legs = [h for h in await world.journal.hedges() if h["close_id"] == result.close_id]
    covers: dict[str, Decimal] = {}
    for leg in legs:
        for venue, amount in json.loads(leg["covers_json"]).items():
            covers[venue] = covers.get(venue, D(0)) + D(amount)
    assert covers == {"bravo": HELD["bravo"]}


async def test_stuck_holdings_without_a_hedge_are_the_named_residual(world: World) -> None:
    await _spot_of_bravo_down(world)
    result = await world.engine.close(world.request(quantity="all", allow_hedge=False))
    assert result.outcome == "STRANDED"
    assert result.residual == HELD["bravo"]
    assert result.reason is not None
    assert "bravo" in result.reason
    assert result.position is not None
    bravo = result.position.by_venue()["bravo"]
    assert bravo.residual == HELD["bravo"]
    assert bravo.why is not None
    assert "outage" in bravo.why


@pytest.fixture
async def bravo_sold_out(tmp_path: Path) -> AsyncIterator[World]:
    """bravo holds no BTC any more, and its bids are the best of all venues."""
    scenario = three_venues(
        venues=_venues(bravo={"balances": {"BTC": "0", "USDT": "500000"}, "price_offset_bps": "30"})
    )
    async with checked_world(scenario, tmp_path) as built:
        yield built


async def test_a_passive_close_is_priced_on_the_venues_that_hold_the_asset(
    bravo_sold_out: World,
) -> None:
    world = bravo_sold_out
    result = await world.engine.close(
        world.request(quantity="0.5", urgency="0.3", allow_hedge=False)
    )
    assert result.outcome == "FLAT", result.reason
    assert result.filled == D("0.5")
    assert "bravo" not in {n for n, v in result.venues.items() if v.filled > 0}


async def test_when_the_venue_comes_back_its_inventory_and_the_hedge_go_together(
    world: World,
) -> None:
    await _spot_of_bravo_down(world)
    result = await world.engine.close(world.request(quantity="all"))
    assert result.outcome == "HEDGED", result.reason
    world.venue("bravo").faults.clear()
    world.clock.advance(D(120))  # bravo's circuit cooldown is over
    world.cluster.step()
    legs = [h for h in await world.journal.hedges() if h["close_id"] == result.close_id]
    bought_back = D(0)
    for leg in legs:
        if json.loads(leg["covers_json"]):
            bought_back += (await world.engine.unwind(leg["id"], with_spot=True)).unwound
    assert bought_back == HELD["bravo"]
    bravo = world.venue("bravo").spot.balances["BTC"]
    assert bravo.free + bravo.locked == 0
    releases = [a for a in await world.journal.attempts(result.close_id) if a.purpose == "release"]
    assert releases
    assert sum((a.filled_qty for a in releases), D(0)) == HELD["bravo"]
    after = {h["id"]: h for h in await world.journal.hedges()}
    for leg in legs:
        row = after[leg["id"]]
        assert row["unwound_qty"] == row["quantity"]
        assert json.loads(row["covers_json"]) == {}


async def test_a_quantity_beyond_the_known_holdings_is_never_shorted_naked(world: World) -> None:
    world.venue("alpha").faults.add(
        FaultSpec(kind="rate_limit", endpoint="GET /api/v3/account", end_s=D(600))
    )
    result = await world.engine.close(world.request(quantity="10"))
    assert result.outcome == "STRANDED"
    assert result.filled == HELD["bravo"] + HELD["charlie"]
    assert result.hedged == 0
    assert result.residual == D(3)
    assert result.reason is not None
    assert "holdings unknown on alpha" in result.reason
    assert result.position is not None
    assert result.position.unattributed == D(3)


async def test_a_router_killed_around_the_outcome_still_books_whose_inventory_is_hedged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash seed 75: killed after the hedge, the close's hedge rows covered nothing."""
    from router.engine import runner

    await _spot_of_bravo_down(world)
    real = runner.record_covers
    calls = 0

    async def killed_once(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("killed")
        await real(*args, **kwargs)

    monkeypatch.setattr(runner, "record_covers", killed_once)
    request = world.request(quantity="all")
    with pytest.raises(RuntimeError, match="killed"):
        await world.engine.close(request)
    await world.journal.release((await world.journal.close_by_key(request.idempotency_key)).id)
    [result] = await world.engine.resume()
    assert result.outcome == "HEDGED"
    covers: dict[str, Decimal] = {}
    for leg in await world.journal.hedges():
        for venue, amount in json.loads(leg["covers_json"]).items():
            covers[venue] = covers.get(venue, D(0)) + D(amount)
    assert covers == {"bravo": HELD["bravo"]}
