"""Buying a perp hedge back, reduce-only: one unwind of a hedge at a time, refusals typed.

:meth:`router.engine.engine.Engine.unwind` comes here. An unwind is refused before any
order, with a :class:`~router.engine.errors.UnwindRefused` naming why, when the hedge is
unknown or closed, when another unwind of it is running, when the quantity is larger
than what is open or smaller than the perpetual market's smallest order, or when the
hedge was unwound less than the minimum interval ago. Otherwise it sends one IOC order
(after selling the spot the hedge covers, with ``with_spot``) and answers an
:class:`UnwindResult`: what was bought back, what is still short, the hedge's state, and
why less than asked was bought back. The hedge's state changes only with what filled.

Wave numbers. An unwind's order is journaled under the next wave number of the hedge's
close (one more than the highest the close has used) and its client order id is built
from that number. In one router, unwinds of the hedges of one close take turns, so two
never pick the same number. A router sharing the journal that picked the same number at
the same moment is stopped by the journal's unique client order id when it journals the
order, before the order is sent, and its unwind is refused as already running; one that
picked its number later counts the first one's unanswered order as not open.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from router.core.book import Side
from router.core.lifecycle import HedgeState, unwound_state
from router.core.numbers import ceil_to, floor_to, plain
from router.core.policy import Policy
from router.core.purpose import Purpose
from router.engine.errors import (
    HedgeClosed,
    UnknownHedge,
    UnwindBelowLot,
    UnwindRefused,
    UnwindRunning,
    UnwindThrottled,
    UnwindTooLarge,
)
from router.engine.observer import NO_OBSERVER, OrderObserver
from router.engine.pacing import Pacing
from router.engine.ports import HealthPort, VenuePort
from router.engine.release import Release, sell_covered
from router.engine.waves import VenueState, WaveContext, WaveResult
from router.journal.records import AttemptView
from router.journal.recovery import sync_unwinds
from router.journal.repository import Journal
from router.venues.model import BookView, MarketInfo

ZERO = Decimal(0)
RUNNING = "an unwind of this hedge is already running"


@dataclass(frozen=True, slots=True)
class UnwindResult:
    """What one unwind did."""

    hedge_id: int
    unwound: Decimal
    """What this unwind bought back."""
    open: Decimal
    """What is still short: the hedge's quantity less everything booked as bought back."""
    state: str
    """The hedge's state after it: ``OPEN`` (nothing bought back yet), ``UNWINDING``
    (partly) or ``CLOSED`` (all)."""
    reason: str | None
    """Why less than asked was bought back; ``None`` when everything asked was."""


def throttle_wait(last: float | None, now: float, interval_s: float) -> float:
    """Seconds still to wait before a hedge last unwound at ``last`` may be unwound again
    (0 when it may now)."""
    if last is None:
        return 0.0
    return max(0.0, last + interval_s - now)


def next_wave(attempts: Sequence[AttemptView]) -> int:
    """One more than the highest wave number the close's orders have used."""
    return max((a.wave for a in attempts), default=0) + 1


def on_lot(quantity: Decimal, market: MarketInfo) -> Decimal:
    """``quantity`` rounded down onto the market's lot step."""
    return floor_to(quantity, market.lot_step)


@dataclass
class UnwindGate:
    """One engine's unwinds: the hedges being unwound, a turn per close, and when each
    hedge last sent an unwind (on the engine's wall clock, ``Pacing.wall``)."""

    running: dict[int, asyncio.Lock] = field(default_factory=dict)
    turns: dict[str, asyncio.Lock] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)


@dataclass
class _Admitted:
    """An unwind past the refusals that need no book: the hedge as the journal has it
    now, the close's orders, and what of the hedge is open and not held by orders still
    unanswered."""

    hedge: dict[str, Any]
    attempts: list[AttemptView]
    available: Decimal
    unanswered: Decimal
    now: float


@dataclass
class Unwinder:
    """One call of ``Engine.unwind``, on the engine's ports and its :class:`UnwindGate`."""

    journal: Journal
    venues: Mapping[str, VenuePort]
    health: Mapping[str, HealthPort]
    policy: Policy
    pacing: Pacing
    gate: UnwindGate
    min_interval_s: float
    orders: OrderObserver = NO_OBSERVER

    async def unwind(
        self, hedge_id: int, quantity: Decimal | None, *, with_spot: bool
    ) -> UnwindResult:
        hedge = await self._hedge(hedge_id)
        running = self.gate.running.setdefault(hedge_id, asyncio.Lock())
        if running.locked():
            raise UnwindRunning(RUNNING, hedge_id=hedge_id)
        async with running, self.gate.turns.setdefault(hedge["close_id"], asyncio.Lock()):
            try:
                return await self._unwind(hedge_id, quantity, with_spot)
            except IntegrityError:
                raise UnwindRunning(
                    f"{RUNNING} in another router sharing the journal", hedge_id=hedge_id
                ) from None

    async def _hedge(self, hedge_id: int) -> dict[str, Any]:
        for row in await self.journal.hedges():
            if row["id"] == hedge_id:
                return row
        raise UnknownHedge(f"no hedge {hedge_id}", hedge_id=hedge_id)

    async def _admit(self, hedge_id: int) -> _Admitted:
        """Book what earlier unwinds bought back, then refuse a hedge that is closed,
        still opening, held by unanswered orders or unwound moments ago."""
        await sync_unwinds(self.journal)
        hedge = await self._hedge(hedge_id)
        if hedge["state"] == HedgeState.OPENING:
            raise UnwindRefused(
                "the hedge is still being opened by its close; unwind it once the close ended",
                hedge_id=hedge_id,
            )
        booked_open: Decimal = hedge["quantity"] - hedge["unwound_qty"]
        if hedge["state"] == HedgeState.CLOSED or booked_open <= 0:
            raise HedgeClosed("hedge is closed", hedge_id=hedge_id)
        attempts = await self.journal.attempts(hedge["close_id"])
        unanswered = sum(
            (
                a.quantity - a.filled_qty
                for a in attempts
                if a.purpose == Purpose.UNWIND and a.hedge_id == hedge_id and not a.state.final
            ),
            ZERO,
        )
        if booked_open <= unanswered:
            raise UnwindRunning(
                f"{RUNNING}: its orders for {plain(unanswered)} are not answered yet (the keeper "
                "books them once the venue answers)",
                hedge_id=hedge_id,
            )
        now = self.pacing.wall()
        wait = throttle_wait(self.gate.last.get(hedge_id), now, self.min_interval_s)
        if wait > 0:
            raise UnwindThrottled(
                f"this hedge was unwound less than {self.min_interval_s:g} s ago",
                hedge_id=hedge_id,
                retry_after_s=max(1, math.ceil(wait)),
            )
        return _Admitted(hedge, attempts, booked_open - unanswered, unanswered, now)

    async def _unwind(
        self, hedge_id: int, quantity: Decimal | None, with_spot: bool
    ) -> UnwindResult:
        admitted = await self._admit(hedge_id)
        hedge = admitted.hedge
        name, symbol = hedge["venue"], hedge["symbol"]
        venue = self.venues.get(name)
        if venue is None or not venue.loaded:
            raise UnwindRefused(
                f"venue {name} is not configured in this router or has not loaded its markets",
                hedge_id=hedge_id,
            )
        market = venue.market(symbol)
        side = Side(hedge["side"]).opposite
        notes: list[str] = []
        if admitted.unanswered > 0:
            notes.append(f"{plain(admitted.unanswered)} is held by unwind orders not answered yet")
        view = await _book(venue, name, symbol, notes)
        if view is None:
            self.gate.last[hedge_id] = admitted.now
            return self._result(hedge, ZERO, notes)
        touch = view.book.best_ask if side is Side.BUY else view.book.best_bid
        size = self._size(hedge_id, quantity, admitted.available, market, touch)
        self.gate.last[hedge_id] = admitted.now
        lot = on_lot(size, market)
        if lot < size:
            notes.append(
                f"{plain(size)} was rounded down to {name}'s lot step {plain(market.lot_step)}"
            )
        wave = next_wave(admitted.attempts)
        if with_spot:
            lot = await self._sell_spot(hedge, market, lot, wave, notes)
            if lot <= 0:
                return self._result(hedge, ZERO, notes)
            wave = next_wave(await self.journal.attempts(hedge["close_id"]))
            view = await _book(venue, name, symbol, notes)
            if view is None:
                return self._result(hedge, ZERO, notes)
        state = VenueState(name, market, view, lot)
        filled = await self._buy_back(hedge, state, side, wave, notes)
        if filled > 0:
            unwound = hedge["unwound_qty"] + filled
            hedge_state = unwound_state(unwound, hedge["quantity"])
            await self.journal.update_hedge(hedge_id, unwound_qty=unwound, state=hedge_state)
            hedge = {**hedge, "unwound_qty": unwound, "state": hedge_state}
        return self._result(hedge, filled, notes)

    def _size(
        self,
        hedge_id: int,
        quantity: Decimal | None,
        available: Decimal,
        market: MarketInfo,
        touch: Decimal | None,
    ) -> Decimal:
        """What to buy back: ``quantity`` (or everything open), refused when it is more
        than is open or less than the market's smallest order (its minimum quantity, or
        its minimum order value at ``touch``, the price the order would take)."""
        minimum = max(market.min_qty, market.lot_step)
        by_value = ""
        if touch is not None and touch > 0 and market.min_notional > 0:
            least = ceil_to(market.min_notional / touch, market.lot_step)
            if least > minimum:
                minimum = least
                by_value = f", {plain(market.min_notional)} {market.quote} at {plain(touch)}"
        if quantity is not None and quantity > available:
            raise UnwindTooLarge(
                f"larger than what is open of the hedge ({plain(available)})",
                hedge_id=hedge_id,
                open_qty=available,
                minimum=minimum,
            )
        size = available if quantity is None else quantity
        if size < minimum:
            what = (
                "below" if quantity is not None else f"what is open ({plain(available)}) is below"
            )
            raise UnwindBelowLot(
                f"{what} the smallest order of {market.venue} {market.symbol} "
                f"({plain(minimum)}{by_value})",
                hedge_id=hedge_id,
                open_qty=available,
                minimum=minimum,
            )
        return size

    async def _sell_spot(
        self,
        hedge: Mapping[str, Any],
        market: MarketInfo,
        most: Decimal,
        wave: int,
        notes: list[str],
    ) -> Decimal:
        """Sell up to ``most`` of the spot the hedge covers; return what of the short to
        buy back now (what was sold, on the perp's lot grid), noting why less."""
        release = Release(
            self.journal,
            self.venues,
            self.health,
            self.policy,
            self.pacing.sleep,
            orders=self.orders,
        )
        released = await sell_covered(release, hedge, wave, most)
        if released.sold <= 0:
            why = f": {released.why_not}" if released.why_not else ""
            notes.append(f"no covered venue could sell{why}")
            return ZERO
        if released.sold < most:
            notes.append(f"the covered venues sold {plain(released.sold)} of {plain(most)}")
            if released.why_not:
                notes.append(released.why_not)
        lot = on_lot(released.sold, market)
        if lot < released.sold:
            notes.append(
                f"{plain(released.sold - lot)} of the spot sold is below {market.venue}'s "
                "lot step, so that much of the short stays open"
            )
        return lot

    async def _buy_back(
        self,
        hedge: Mapping[str, Any],
        state: VenueState,
        side: Side,
        wave: int,
        notes: list[str],
    ) -> Decimal:
        """Send the reduce-only order for ``state.inventory``; return what filled, noting
        why less."""
        context = WaveContext(
            self.journal,
            self.venues,
            self.health,
            hedge["close_id"],
            side,
            hedge["symbol"],
            purpose=Purpose.UNWIND,
            reduce_only=True,
            hedge_ids={state.name: hedge["id"]},
            sleep=self.pacing.sleep,
            orders=self.orders,
        )
        result = await context.run(wave, -1, [state], state.inventory, None)
        notes.extend(await self._shortfall(hedge, state, side, wave, result))
        return result.filled

    async def _shortfall(
        self,
        hedge: Mapping[str, Any],
        state: VenueState,
        side: Side,
        wave: int,
        result: WaveResult,
    ) -> list[str]:
        """Why the wave bought back less than ``state.inventory`` (nothing when it did not)."""
        name = state.name
        if result.children == 0:
            if not state.view.book.taken_by(side):
                book_side = "asks" if side is Side.BUY else "bids"
                return [f"{name} has no {book_side} on {state.market.symbol}"]
            return [
                f"{name} would take no order of {plain(state.inventory)} within its price band and "
                "minimum order value"
            ]
        notes: list[str] = []
        if name in result.rejected:
            errors = sorted(
                {
                    a.error_class
                    for a in await self.journal.attempts(hedge["close_id"])
                    if a.purpose == Purpose.UNWIND and a.wave == wave and a.error_class
                }
            )
            notes.append(f"{name} rejected the order: {', '.join(errors) or 'no reason given'}")
        if result.in_doubt > 0:
            notes.append(
                f"{plain(result.in_doubt)} of the order on {name} is not answered yet "
                "(the keeper books it once the venue answers)"
            )
        rest = result.sent - result.filled - result.in_doubt
        if not notes and rest > 0:
            notes.append(
                f"{name}'s book filled {plain(result.filled)} of {plain(result.sent)} "
                "within the order's limit"
            )
        if result.sent < state.inventory and not notes:
            notes.append(
                f"{name}'s book within its price band took an order of {plain(result.sent)} of "
                f"{plain(state.inventory)}"
            )
        return notes

    def _result(
        self, hedge: Mapping[str, Any], unwound: Decimal, notes: Sequence[str]
    ) -> UnwindResult:
        return UnwindResult(
            hedge_id=hedge["id"],
            unwound=unwound,
            open=hedge["quantity"] - hedge["unwound_qty"],
            state=hedge["state"],
            reason="; ".join(notes) if notes else None,
        )


async def _book(venue: VenuePort, name: str, symbol: str, notes: list[str]) -> BookView | None:
    """The venue's book of ``symbol``, or ``None`` with a note saying why it is missing."""
    try:
        return await venue.order_book(symbol)
    except Exception as exc:
        notes.append(f"could not read {name}'s {symbol} book: {type(exc).__name__}")
        return None
