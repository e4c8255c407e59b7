"""Selling the inventory a hedge covers and buying the hedge back, together.

A close whose venue could not trade hedged that venue's holdings on a perpetual
elsewhere (the hedge row's ``covers_json`` says whose inventory it covers). Once the
venue trades again, :func:`sell_covered` sells that inventory in spot (IOC, within the
policy's first tolerance of the venue's best bid), journaled as ``release`` attempts of
the close; the engine then buys back exactly what was sold of the short, so the
position's delta stays covered throughout: never more short than spot held, never spot
held without its short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from router.core.book import Side
from router.core.numbers import plain
from router.core.policy import Policy
from router.core.purpose import Purpose
from router.engine.observer import NO_OBSERVER, OrderObserver
from router.engine.ports import HealthPort, VenuePort, lists
from router.engine.waves import VenueState, WaveContext, WaveResult, book_levels
from router.journal.holdings import covers_of, set_covers
from router.journal.repository import Journal

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass
class Release:
    journal: Journal
    venues: Mapping[str, VenuePort]
    health: Mapping[str, HealthPort]
    policy: Policy
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    orders: OrderObserver = NO_OBSERVER
    """See ``WaveContext.orders``."""


def spot_of(perp_symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC/USDT``."""
    return perp_symbol.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Released:
    """What :func:`sell_covered` sold, and why the covered venues sold no more."""

    sold: Decimal
    skipped: tuple[str, ...] = ()
    """One line per covered venue that sold less than it was asked, saying why."""

    @property
    def why_not(self) -> str | None:
        return "; ".join(self.skipped) if self.skipped else None


async def sell_covered(
    release: Release, hedge: Mapping[str, Any], wave: int, most: Decimal
) -> Released:
    """Sell (buy, for a short close) up to ``most`` of the inventory ``hedge`` covers, on
    the covered venues that can trade now; return the quantity done (booked off the
    hedge's covers) and why each covered venue that could not trade did not."""
    side = Side(hedge["side"])
    symbol = spot_of(hedge["symbol"])
    covers = covers_of(hedge)
    done = ZERO
    skipped: list[str] = []
    for name, covered in sorted(covers.items()):
        want = min(covered, most - done)
        if want <= 0:
            continue
        venue = release.venues.get(name)
        if venue is None or not venue.loaded or not lists(venue, symbol):
            skipped.append(f"{name} does not trade {symbol} in this router now")
            continue
        if not release.health[name].allow():
            skipped.append(f"{name}'s circuit is open")
            continue
        market = venue.market(symbol)
        asset = market.base if side is Side.SELL else market.quote
        try:
            view, balance = await asyncio.gather(
                venue.order_book(symbol), venue.free_balance(asset)
            )
        except Exception as exc:
            skipped.append(f"could not read {name}'s book or balance: {type(exc).__name__}")
            continue
        touch = view.book.best_bid if side is Side.SELL else view.book.best_ask
        if touch is None:
            skipped.append(f"{name} has no {'bids' if side is Side.SELL else 'asks'}")
            continue
        size = min(want, balance) if side is Side.SELL else want
        tolerance = release.policy.tolerance(0) or ZERO
        cap = touch * (ONE - tolerance) if side is Side.SELL else touch * (ONE + tolerance)
        state = VenueState(name, market, view, size)
        await release.journal.record_books(hedge["close_id"], wave, [book_levels(state)])
        context = WaveContext(
            release.journal,
            release.venues,
            release.health,
            hedge["close_id"],
            side,
            symbol,
            purpose=Purpose.RELEASE,
            sleep=release.sleep,
            orders=release.orders,
        )
        result = await context.run(wave, 0, [state], size, cap)
        covers[name] = covered - result.filled
        done += result.filled
        wave += 1
        if result.filled < want:
            skipped.append(_short_of(name, want, balance if side is Side.SELL else None, result))
    if done > 0:
        await set_covers(release.journal, hedge["id"], covers)
    return Released(done, tuple(skipped))


def _short_of(name: str, want: Decimal, balance: Decimal | None, result: WaveResult) -> str:
    """Why ``name`` sold less than ``want``."""
    if balance is not None and balance < want:
        return f"{name} holds {plain(balance)} of the {plain(want)} covered"
    if name in result.rejected:
        return f"{name} rejected the order"
    if result.in_doubt > 0:
        return f"{plain(result.in_doubt)} of the order on {name} is not answered yet"
    took = plain(result.filled)
    return f"{name}'s book took {took} of {plain(want)} within the policy's first tolerance"
