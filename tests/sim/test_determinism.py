"""The same scenario and seed give the same fills; another seed gives another world."""

from __future__ import annotations

from decimal import Decimal

from router.sim.clock import ManualClock
from router.sim.errors import ApiError
from router.sim.orders import Trade
from router.sim.scenario import load_scenario
from router.sim.venue import SimVenue

Fill = tuple[str, str, Decimal, Decimal, bool]
Rejection = tuple[str, int, int]


def _replay(scenario_name: str, seed: int) -> tuple[list[Fill], list[Rejection]]:
    """Sell into each venue every 30 scenario seconds while the crisis unfolds."""
    rejections: list[Rejection] = []
    scenario = load_scenario(scenario_name)
    clock = ManualClock()
    venues = [
        SimVenue(scenario, spec, seed=seed, clock=clock, wall_ms=lambda: 1_700_000_000_000)
        for spec in scenario.venues
    ]
    for minute in range(20):
        clock.advance(Decimal(30))
        for venue in venues:
            venue.update()
            market = venue.markets["spot"]
            best = market.book.bids.best()
            if best is None:
                continue
            step = market.rules.f.step_size
            qty = (Decimal("0.05") + Decimal(minute) / 100).quantize(step)
            if venue.spot.get(market.rules.base).free < qty:
                continue
            price = (best * Decimal("0.97")).quantize(market.rules.f.tick_size)
            request = venue.parse_order(
                "spot",
                {
                    "symbol": market.rules.symbol,
                    "side": "SELL",
                    "type": "LIMIT",
                    "timeInForce": "IOC",
                    "quantity": str(qty),
                    "price": str(price),
                },
            )
            try:
                venue.new_order("spot", request)
            except ApiError as rejected:
                rejections.append((venue.name, minute, rejected.code))
    return [_key(v.name, t) for v in venues for t in v.trades], rejections


def _key(venue: str, trade: Trade) -> Fill:
    return (venue, trade.side, trade.price, trade.qty, trade.is_maker)


def test_same_seed_same_fills() -> None:
    first = _replay("black-thursday-2020", seed=3)
    second = _replay("black-thursday-2020", seed=3)
    assert len(first[0]) > 20
    assert first == second


def test_other_seed_other_fills() -> None:
    assert _replay("exhaustion", seed=1) != _replay("exhaustion", seed=2)


def test_trade_ids_never_repeat_across_restarts() -> None:
    """A journal outlives simulator runs: a restarted venue must not reuse trade ids."""
    scenario = load_scenario("calm")
    ids = []
    for started in (1_700_000_000_000, 1_700_000_000_001):
        venue = SimVenue(
            scenario, scenario.venues[0], seed=1, clock=ManualClock(), wall_ms=lambda s=started: s
        )
        market = venue.markets["spot"]
        request = venue.parse_order(
            "spot",
            {"symbol": market.rules.symbol, "side": "SELL", "type": "MARKET", "quantity": "0.01"},
        )
        order = venue.new_order("spot", request)
        ids.append((order.id, order.trade_ids[0]))
    assert ids[0][0] != ids[1][0]
    assert ids[0][1] != ids[1][1]
