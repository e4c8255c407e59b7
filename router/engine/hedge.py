"""Hedge fallback: a perpetual short (or long) covering what spot could not close in time.

The residual is split across the venues with a perp market by their perp depth, within
the margin each can commit (at a conservative leverage), with IOC orders inside the
venue's price band. Each venue's leg is journaled as a hedge with its attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from router.core.book import Side
from router.core.lifecycle import opened
from router.core.purpose import Purpose
from router.engine.observer import NO_OBSERVER, OrderObserver
from router.engine.ports import HealthPort, VenuePort, lists
from router.engine.waves import VenueState, WaveContext, book_levels
from router.journal.repository import Journal
from router.venues.errors import failure_kind

ZERO = Decimal(0)
HEDGE_LEVERAGE = Decimal(5)
HEDGE_WAVES = 3


@dataclass
class HedgePlan:
    journal: Journal
    venues: Mapping[str, VenuePort]
    health: Mapping[str, HealthPort]
    close_id: str
    side: Side
    """The close's side: a sell close is hedged by selling the perp (a short)."""
    perp_symbol: str
    names: Sequence[str]
    wave: int
    leverage: Decimal = HEDGE_LEVERAGE
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    may_send: Callable[[], bool] = lambda: True
    """See ``WaveContext.may_send``."""
    orders: OrderObserver = NO_OBSERVER
    """See ``WaveContext.orders``."""


async def _perp_state(plan: HedgePlan, name: str) -> VenueState:
    venue = plan.venues[name]
    market = venue.market(plan.perp_symbol)
    view, margin = await asyncio.gather(
        venue.order_book(plan.perp_symbol), venue.futures_available_margin()
    )
    touch = view.book.best_bid if plan.side is Side.SELL else view.book.best_ask
    inventory = ZERO
    if touch is not None and touch > 0 and margin > 0:
        inventory = (margin * plan.leverage / touch).quantize(market.lot_step, rounding=ROUND_DOWN)
    return VenueState(name, market, view, inventory)


async def perp_states(plan: HedgePlan) -> list[VenueState]:
    """Books and margin-bound capacities of the healthy venues listing the perpetual."""
    names = [
        n for n in plan.names if plan.health[n].allow() and lists(plan.venues[n], plan.perp_symbol)
    ]
    gathered = await asyncio.gather(*(_perp_state(plan, n) for n in names), return_exceptions=True)
    states = []
    for name, got in zip(names, gathered, strict=True):
        if isinstance(got, BaseException):
            plan.health[name].record_failure(failure_kind(got))
            continue
        states.append(got)
    return states


async def open_hedge(plan: HedgePlan, quantity: Decimal) -> Decimal:
    """Hedge up to ``quantity``; return how much was hedged (journaled as hedge legs)."""
    hedged = ZERO
    hedge_ids: dict[str, int] = {}
    legs: dict[str, Decimal] = {}
    for offset in range(HEDGE_WAVES):
        remaining = quantity - hedged
        if remaining <= 0:
            break
        states = await perp_states(plan)
        if not states:
            break
        for state in states:
            if state.name not in hedge_ids:
                hedge_ids[state.name] = await plan.journal.open_hedge(
                    plan.close_id, venue=state.name, symbol=plan.perp_symbol, side=plan.side.value
                )
        wave = plan.wave + offset
        await plan.journal.record_books(plan.close_id, wave, [book_levels(s) for s in states])
        context = WaveContext(
            plan.journal,
            plan.venues,
            plan.health,
            plan.close_id,
            plan.side,
            plan.perp_symbol,
            purpose=Purpose.HEDGE,
            hedge_ids=hedge_ids,
            sleep=plan.sleep,
            may_send=plan.may_send,
            orders=plan.orders,
        )
        result = await context.run(wave, -1, states, remaining, None)
        hedged += result.filled
        for venue, filled in result.by_venue.items():
            legs[venue] = legs.get(venue, ZERO) + filled
    for venue, hedge_id in hedge_ids.items():
        size = legs.get(venue, ZERO)
        await plan.journal.update_hedge(
            hedge_id,
            quantity=size,
            average_price=await plan.journal.hedge_price(hedge_id),
            state=opened(size),
        )
    return hedged
