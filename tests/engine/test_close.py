"""The close engine against simulated venues through unmodified ccxt."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.core.allocation import VenueQuote, oracle
from router.core.book import Side
from router.core.policy import Policy
from router.engine.engine import Engine
from router.sim.scenario import FaultSpec, Scenario
from tests.engine.conftest import World, three_venues

D = Decimal


def _oracle_now(world: World, quantity: Decimal) -> Decimal:
    """The oracle's net proceeds on the venues' full books as they stand now."""
    quotes = [
        VenueQuote(
            name,
            tuple(world.venue(name).markets["spot"].book.bids.levels()),
            world.initial[name]["BTC"],
            taker_fee=world.adapters[name].market("BTC/USDT").taker_fee,
        )
        for name in world.adapters
    ]
    bound = oracle(quotes, Side.SELL, quantity, None)
    assert bound.filled == quantity
    return bound.net


async def test_calm_ten_btc_split_by_depth_close_to_the_oracle(world: World) -> None:
    bound = _oracle_now(world, D(10))
    result = await world.engine.close(world.request(quantity="10"))
    assert result.outcome == "FLAT"
    assert result.filled == D(10)
    assert result.residual == 0
    used = {name for name, v in result.venues.items() if v.filled > 0}
    assert len(used) >= 2
    for name in used:
        assert result.venues[name].filled <= world.initial[name]["BTC"]
    proceeds = (result.average_price or D(0)) * result.filled - result.fees
    assert proceeds >= bound * D("0.995")
    assert result.shortfall_bps is not None
    assert result.shortfall_bps > 0


def _batching_engine(world: World) -> Engine:
    """The seed's urgency batches even where the books could take everything at once."""
    return Engine(
        world.journal,
        world.adapters,
        world.health,
        Policy(split_above_impact=D(0)),
        pacing=world.engine.pacing,
    )


async def test_outage_mid_close_moves_the_share_to_the_others(world: World) -> None:
    world.venue("bravo").faults.add(FaultSpec(kind="outage", start_s=D("0.5")))
    engine = _batching_engine(world)
    result = await engine.close(world.request(quantity="10", urgency="0.6"))
    assert result.outcome == "FLAT"
    assert result.filled == D(10)
    waves = {a.wave for a in await world.journal.attempts(result.close_id) if a.venue == "bravo"}
    assert waves == {1}
    assert result.venues["alpha"].filled + result.venues["charlie"].filled > D(6)


async def test_timeout_after_accept_is_resolved_by_client_order_id(world: World) -> None:
    world.venue("alpha").faults.add(
        FaultSpec(kind="timeout_after_accept", endpoint="POST /api/v3/order", count=1)
    )
    result = await world.engine.close(world.request(quantity="5"))
    assert result.outcome == "FLAT"
    attempts = await world.journal.attempts(result.close_id)
    alpha = [a for a in attempts if a.venue == "alpha"]
    assert alpha[0].error_class is not None
    sold = sum(t.qty for n in world.adapters for t in world.venue(n).trades)
    assert sold == D(5)


async def test_partial_fills_are_rerouted_over_several_waves(world: World) -> None:
    for name in world.adapters:
        world.venue(name).faults.add(FaultSpec(kind="partial_fill", fill_ratio=D("0.3")))
    result = await world.engine.close(world.request(quantity="4"))
    assert result.outcome == "FLAT"
    assert result.filled == D(4)
    waves = {a.wave for a in await world.journal.attempts(result.close_id)}
    assert len(waves) >= 3


@pytest.mark.parametrize("scenario", [three_venues()], ids=["thin-holder"])
async def test_venue_is_never_asked_for_more_than_it_holds(
    world: World, scenario: Scenario
) -> None:
    world.venue("alpha").spot.balances["BTC"].free = D("0.3")
    world.initial["alpha"]["BTC"] = D("0.3")
    result = await world.engine.close(world.request(quantity="6"))
    attempts = await world.journal.attempts(result.close_id)
    assert sum(a.quantity for a in attempts if a.venue == "alpha") <= D("0.3")
    assert result.outcome == "FLAT"


async def test_closing_a_short_buys_back(world: World) -> None:
    before = {n: world.venue(n).spot.get("BTC").free for n in world.adapters}
    result = await world.engine.close(world.request(side="buy", quantity="3"))
    assert result.outcome == "FLAT"
    assert result.filled == D(3)
    bought = sum(world.venue(n).spot.get("BTC").free - before[n] for n in world.adapters)
    fees_in_btc = sum(
        t.commission for n in world.adapters for t in world.venue(n).trades if t.side == "BUY"
    )
    assert bought + fees_in_btc == D(3)
    assert result.shortfall_bps is not None


async def test_same_idempotency_key_never_closes_twice(world: World) -> None:
    request = world.request(quantity="2")
    first = await world.engine.close(request)
    again = await world.engine.close(request)
    assert again.close_id == first.close_id
    assert again.filled == first.filled == D(2)
    assert sum(len(world.venue(n).orders["spot"]) for n in world.adapters) == first.attempts


EXHAUSTION = three_venues(
    stages=[
        {"at_s": 0, "depth": "0.01", "spread_bps": 200, "futures_depth": 1},
        {
            "at_s": 2,
            "depth": "0.0005",
            "spread_bps": 6000,
            "futures_depth": 1,
            "futures_spread_bps": 4,
        },
        {
            "at_s": 600,
            "depth": "0.0005",
            "spread_bps": 6000,
            "futures_depth": 1,
            "futures_spread_bps": 4,
        },
        {"at_s": 601, "depth": 1, "spread_bps": 2},
    ],
)


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_exhaustion_escalates_then_hedges_and_unwinds_later(
    world: World, scenario: Scenario
) -> None:
    request = world.request(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    result = await world.engine.close(request)
    assert result.outcome == "HEDGED", result.reason
    assert result.hedged > 0
    assert result.filled + result.hedged + result.residual == D(12)
    assert result.residual < D("0.001")
    tiers = {a.tier for a in await world.journal.attempts(result.close_id) if a.purpose == "close"}
    assert max(tiers) == 2
    hedges = await world.journal.hedges(open_only=True)
    assert sum(h["quantity"] for h in hedges) == result.hedged
    world.clock.advance(D(700))
    world.cluster.step()
    spot = await world.engine.close(world.request(quantity=str(result.hedged)))
    assert spot.outcome == "FLAT"
    for hedge in hedges:
        await world.engine.unwind(hedge["id"])
    for name in ("alpha", "bravo"):
        assert world.venue(name).futures.position == 0
    assert await world.journal.hedges(open_only=True) == []


async def test_two_closes_on_one_symbol_share_the_book(world: World) -> None:
    """Planned one wave at a time under the symbol's lock: together they never oversell."""
    import asyncio

    first, second = await asyncio.gather(
        world.engine.close(world.request(quantity="5")),
        world.engine.close(world.request(quantity="6")),
    )
    assert first.outcome == second.outcome == "FLAT"
    assert first.filled + second.filled == D(11)
    sold = sum(t.qty for n in world.adapters for t in world.venue(n).trades)
    assert sold == D(11)


async def test_restart_resumes_an_unfinished_close(world: World) -> None:
    """A close journaled with an intent that never left (the process died) is recovered:
    the order is found never placed, and the whole quantity is then sold."""
    from router.journal.records import AttemptIntent, NewClose

    request = world.request(quantity="3")
    close, _ = await world.journal.create_close(
        NewClose(request.idempotency_key, "BTC", "sell", D(3), request.model_dump(mode="json"))
    )
    await world.journal.record_intent(
        AttemptIntent("lost-1", close.id, 1, 0, "alpha", "spot", "BTC/USDT", "sell", D(3), D(50000))
    )
    [result] = await world.engine.resume()
    assert result.close_id == close.id
    assert result.outcome == "FLAT"
    assert result.filled == D(3)
    lost = await world.journal.attempt("lost-1")
    assert lost is not None
    assert lost.state.value == "REJECTED"


async def test_circuit_changes_are_journaled(world: World) -> None:
    world.venue("bravo").faults.add(FaultSpec(kind="outage"))
    result = await world.engine.close(world.request(quantity="4"))
    assert result.outcome == "FLAT"
    from sqlalchemy import select

    from router.journal.models import VenueEvent

    async with world.journal.engine.connect() as conn:
        kinds = {
            row.kind
            for row in await conn.execute(select(VenueEvent).where(VenueEvent.venue == "bravo"))
        }
    assert kinds & {"circuit_open", "outage", "read_failed"}


async def test_opposite_closes_at_the_same_moment_are_netted(world: World) -> None:
    """Sell 5 and buy 3 together: 3 cross internally at the mid, only 2 go to market."""
    import asyncio

    seller, buyer = await asyncio.gather(
        world.engine.close(world.request(quantity="5")),
        world.engine.close(world.request(side="buy", quantity="3")),
    )
    assert seller.outcome == buyer.outcome == "FLAT"
    assert seller.filled == D(5)
    assert buyer.filled == D(3)
    assert buyer.venues["internal"].filled == D(3)
    assert seller.venues["internal"].filled == D(3)
    traded = sum(t.qty for n in world.adapters for t in world.venue(n).trades)
    assert traded == D(2)
    assert all(t.side == "SELL" for n in world.adapters for t in world.venue(n).trades)


async def test_cancel_stops_new_waves_and_names_the_residual(world: World) -> None:
    """Cancelled after its first batch: nothing more is sent, the residual is stated."""
    pause = world.engine.pacing.sleep
    close_ids: list[str] = []

    async def cancel_then_pause(seconds: float) -> None:
        attempts = await _attempts_so_far(world)
        if attempts:
            world.engine.cancel(attempts[0])
            close_ids.append(attempts[0])
        await pause(seconds)

    world.engine.pacing.sleep = cancel_then_pause
    result = await world.engine.close(world.request(quantity="6", urgency="0.3"))
    assert result.outcome == "STRANDED"
    assert result.reason is not None
    assert "cancelled by the operator" in result.reason
    assert D(0) < result.filled < D(6)
    assert result.residual == D(6) - result.filled
    assert {a.wave for a in await world.journal.attempts(result.close_id)} == {1}


async def test_a_finished_close_forgets_its_cancel(world: World) -> None:
    """The engine keeps a cancel request only while its close may still run."""
    pause = world.engine.pacing.sleep

    async def cancel_then_pause(seconds: float) -> None:
        attempts = await _attempts_so_far(world)
        if attempts:
            world.engine.cancel(attempts[0])
            assert world.engine._cancelled == {attempts[0]}
        await pause(seconds)

    world.engine.pacing.sleep = cancel_then_pause
    result = await world.engine.close(world.request(quantity="6", urgency="0.3"))
    assert result.reason is not None
    assert "cancelled by the operator" in result.reason
    assert world.engine._cancelled == set()


async def _attempts_so_far(world: World) -> list[str]:
    from sqlalchemy import select

    from router.journal.models import Attempt

    async with world.journal.engine.connect() as conn:
        return [row.close_id for row in await conn.execute(select(Attempt.close_id))]


GUTTED_SPOT = three_venues(
    stages=[
        {
            "at_s": 0,
            "depth": "0.02",
            "spread_bps": 600,
            "futures_depth": 1,
            "futures_spread_bps": 4,
        }
    ],
)


@pytest.mark.parametrize("scenario", [GUTTED_SPOT], ids=["gutted-spot"])
async def test_a_perp_worth_more_than_spot_is_hedged_at_once(
    world: World, scenario: Scenario
) -> None:
    """Spot would sell only by walking a thin book far down while the perpetual trades
    near the mid: the rest is hedged instead of climbing the ladder into the spot book."""
    request = world.request(quantity="8", unrealized_pnl="-0.25")
    result = await world.engine.close(request)
    assert result.outcome == "HEDGED", result.reason
    assert "perpetual pays more than spot" in (result.reason or "")
    attempts = await world.journal.attempts(result.close_id)
    assert max((a.tier for a in attempts if a.purpose == "close"), default=1) <= 1
    assert result.filled + result.hedged + result.residual == D(8)
    # The hedge is an exit at its own price: the shortfall counts it.
    assert result.hedge_price is not None
    assert result.shortfall_bps is not None
    assert result.arrival_mid is not None
    spot = result.average_price or result.hedge_price
    exit_average = (result.filled * spot + result.hedged * result.hedge_price) / (
        result.filled + result.hedged
    )
    expected = (result.arrival_mid - exit_average) / result.arrival_mid * 10000
    assert abs(result.shortfall_bps - expected) < D("0.0001")


@pytest.mark.parametrize("scenario", [GUTTED_SPOT], ids=["gutted-spot"])
async def test_the_seed_rule_sells_spot_first_when_early_hedging_is_off(
    world: World, scenario: Scenario
) -> None:
    from router.core.policy import Policy
    from router.engine.engine import Engine

    seed_rule = Engine(
        world.journal,
        world.adapters,
        world.health,
        Policy(hedge_margin=None),
        pacing=world.engine.pacing,
    )
    result = await seed_rule.close(world.request(quantity="8", unrealized_pnl="-0.25"))
    assert result.filled > 0
    assert "perpetual pays more" not in (result.reason or "")


async def test_books_that_take_everything_at_once_are_not_split(world: World) -> None:
    """Urgency 0.6 asks for three batches, but the books take the 2 BTC within 10 bps:
    splitting would only wait on a moving market, so it goes in one wave."""
    result = await world.engine.close(world.request(quantity="2", urgency="0.6"))
    assert result.outcome == "FLAT"
    assert {a.wave for a in await world.journal.attempts(result.close_id)} == {1}
    split = await _batching_engine(world).close(world.request(quantity="2", urgency="0.6"))
    assert split.outcome == "FLAT"
    assert len({a.wave for a in await world.journal.attempts(split.close_id)}) == 3


async def test_an_order_in_doubt_is_looked_up_again_until_the_venue_answers(
    world: World,
) -> None:
    """alpha accepts the order but the answer is lost, then alpha is down for a while:
    the close waits for it (within its window) and ends knowing what it sold."""
    alpha = world.venue("alpha")
    alpha.faults.add(FaultSpec(kind="timeout_after_accept", endpoint="POST /api/v3/order", count=1))
    alpha.faults.add(FaultSpec(kind="outage", endpoint="GET *", start_s=D(0), end_s=D(30)))
    result = await world.engine.close(world.request(quantity="3", deadline_s="300"))
    assert result.outcome == "FLAT", result.reason
    sold = sum(t.qty for n in world.adapters for t in world.venue(n).trades)
    assert sold == D(3)
    attempts = await world.journal.attempts(result.close_id)
    assert not [a for a in attempts if a.state.in_doubt]
