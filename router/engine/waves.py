"""One wave of a close: read books, plan, journal intents, send, collect, reconcile.

A wave never sends more than what is left of the close once the quantity already
filled, hedged or in doubt is taken off, and never asks a venue to sell more than it
holds there. Every child is journaled (PENDING_SEND) before it is sent; an ambiguous
answer is looked up by client order id before its quantity can be used again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from router.core.allocation import Allocation, VenueQuote, allocate
from router.core.book import Book, Side, fee_factor
from router.core.orders import OrderState
from router.core.purpose import Purpose
from router.engine.observer import NO_OBSERVER, OrderObserver, tell_answered, tell_sent
from router.engine.ports import HealthPort, VenuePort
from router.engine.reconcile import fill_from_trade, reconcile_attempt
from router.journal.records import AttemptIntent, BookLevels
from router.journal.repository import Journal, OutcomeUpdate
from router.venues.errors import failure_kind
from router.venues.model import BookView, FailureKind, MarketInfo, Outcome, PlaceResult
from router.venues.reports import LookupFailed, VenueOrder, VenueTrade

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueState:
    """A venue as a wave sees it: its market, book and what it can take."""

    name: str
    market: MarketInfo
    view: BookView
    inventory: Decimal


@dataclass
class WaveResult:
    sent: Decimal = ZERO
    filled: Decimal = ZERO
    gross: Decimal = ZERO
    in_doubt: Decimal = ZERO
    children: int = 0
    by_venue: dict[str, Decimal] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    """Venues that refused an order outright (a filter, funds): not asked again this close."""
    allocation: Allocation | None = None


BAND_KEPT = Decimal(2) / Decimal(3)
"""Share of the venue's price band the planner uses. The venue measures the band from
its own average price, which lags a crash (the average of the last minutes sits above
today's price), so the edge estimated from the current mid is moved a third inwards."""


FUTURES_BAND_KEPT = Decimal("0.9")
"""USD-M bands are measured from the mark price, which does not lag: nearly all of it."""


def band(market: MarketInfo, reference: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    if reference is None or market.percent_down is None or market.percent_up is None:
        return None, None
    kept = BAND_KEPT if market.kind == "spot" else FUTURES_BAND_KEPT
    low = reference * (1 - (1 - market.percent_down) * kept)
    high = reference * (1 + (market.percent_up - 1) * kept)
    return low, high


def quote_for(state: VenueState, side: Side) -> VenueQuote:
    book = state.view.book
    low, high = band(state.market, book.mid)
    return VenueQuote(
        name=state.name,
        levels=book.taken_by(side),
        inventory=state.inventory,
        taker_fee=state.market.taker_fee,
        lot_step=state.market.lot_step,
        min_qty=state.market.min_qty,
        min_notional=state.market.min_notional,
        tick=state.market.tick,
        band_low=low,
        band_high=high,
    )


def book_levels(state: VenueState) -> BookLevels:
    book = state.view.book
    return BookLevels(
        venue=state.name,
        market=state.market.kind,
        bids=book.bids,
        asks=book.asks,
        taken_at=state.view.received_at,
    )


@dataclass
class WaveContext:
    journal: Journal
    venues: Mapping[str, VenuePort]
    health: Mapping[str, HealthPort]
    close_id: str
    side: Side
    symbol: str
    purpose: Purpose = Purpose.CLOSE
    reduce_only: bool = False
    hedge_ids: Mapping[str, int] = field(default_factory=dict)
    lookup_attempts: int = 5
    lookup_wait_s: float = 0.05
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """The engine's injected sleep: lookup backoff waits on the close's clock."""
    may_send: Callable[[], bool] = lambda: True
    """Asked right before each order leaves: False once this router's lease on the close
    may have expired (another router may own it now), and the order is not sent."""
    orders: OrderObserver = NO_OBSERVER
    """Told of every order sent and of its answer once known (the service's metrics)."""

    async def note_failure(self, venue: str, kind: FailureKind, detail: str) -> None:
        self.health[venue].record_failure(kind)
        await self.journal.record_venue_event(
            venue=venue, kind=kind, detail=detail[:500], close_id=self.close_id
        )

    async def run(
        self,
        wave: int,
        tier: int,
        states: Sequence[VenueState],
        quantity: Decimal,
        cap: Decimal | None,
    ) -> WaveResult:
        result = WaveResult()
        quotes = [quote_for(s, self.side) for s in states]
        plan = allocate(quotes, self.side, quantity, cap)
        result.allocation = plan
        if not plan.children:
            return result
        by_name = {s.name: s for s in states}
        intents = [
            AttemptIntent(
                client_order_id=f"{self.close_id[3:19]}-{self.purpose[0]}{wave}-{i}",
                close_id=self.close_id,
                wave=wave,
                tier=tier,
                venue=child.venue,
                market=by_name[child.venue].market.kind,
                symbol=self.symbol,
                side=self.side.value,
                quantity=child.quantity,
                limit_price=child.limit_price,
                purpose=self.purpose,
                reduce_only=self.reduce_only,
                hedge_id=self.hedge_ids.get(child.venue),
            )
            for i, child in enumerate(plan.children)
        ]
        await asyncio.gather(*(self.journal.record_intent(i) for i in intents))
        result.children = len(intents)
        result.sent = sum((i.quantity for i in intents), ZERO)
        outcomes = await asyncio.gather(*(self._send(i) for i in intents))
        for intent, (filled, gross, doubt, refused) in zip(intents, outcomes, strict=True):
            if refused:
                result.rejected.add(intent.venue)
            result.filled += filled
            result.gross += gross
            result.in_doubt += doubt
            result.by_venue[intent.venue] = result.by_venue.get(intent.venue, ZERO) + filled
        return result

    async def _send(self, intent: AttemptIntent) -> tuple[Decimal, Decimal, Decimal, bool]:
        """Send one journaled child; return (filled, gross, in doubt, refused outright)."""
        venue = self.venues[intent.venue]
        if not self.may_send():
            await self.journal.record_outcome(
                intent.client_order_id,
                OutcomeUpdate(
                    OrderState.REJECTED,
                    error_class="LeaseExpired",
                    error_message="not sent: this router's lease on the close had expired",
                ),
            )
            return ZERO, ZERO, ZERO, False
        await self.journal.mark_sent(intent.client_order_id)
        tell_sent(self.orders, intent.venue, self.purpose)
        try:
            placed = await venue.place_order(
                self.symbol,
                "sell" if self.side is Side.SELL else "buy",
                intent.quantity,
                client_order_id=intent.client_order_id,
                limit_price=intent.limit_price,
                reduce_only=self.reduce_only,
            )
        except Exception as exc:
            placed = PlaceResult(
                Outcome.UNKNOWN,
                intent.client_order_id,
                error_class=type(exc).__name__,
                error_message=str(exc)[:500],
                failure=failure_kind(exc),
            )
        if placed.outcome is Outcome.ACKED and placed.state is not None:
            self.health[intent.venue].record_success()
            tell_answered(self.orders, intent.venue, self.purpose, placed.state.value, None)
            fills = [fill_from_trade(intent, t) for t in placed.fills]
            await self.journal.record_outcome(
                intent.client_order_id,
                OutcomeUpdate(
                    placed.state,
                    exchange_order_id=placed.exchange_order_id,
                    filled_qty=placed.filled,
                ),
                fills,
            )
            gross = sum((t.quantity * t.price for t in placed.fills), ZERO)
            return placed.filled, gross, ZERO, False
        if placed.outcome is Outcome.NOT_PLACED:
            tell_answered(self.orders, intent.venue, self.purpose, "REJECTED", placed.error_class)
            await self.journal.record_outcome(
                intent.client_order_id,
                OutcomeUpdate(
                    OrderState.REJECTED,
                    error_class=placed.error_class,
                    error_message=placed.error_message,
                ),
            )
            await self.journal.record_venue_event(
                venue=intent.venue,
                kind="order_rejected",
                detail=f"{placed.error_class}: {placed.error_message}"[:500],
                close_id=self.close_id,
                client_order_id=intent.client_order_id,
            )
            return ZERO, ZERO, ZERO, True
        await self.journal.record_outcome(
            intent.client_order_id,
            OutcomeUpdate(
                OrderState.UNKNOWN,
                error_class=placed.error_class,
                error_message=placed.error_message,
            ),
        )
        await self.note_failure(
            intent.venue,
            placed.failure or "error",
            f"unknown outcome for {intent.client_order_id}: {placed.error_class}",
        )
        filled, gross, doubt = await self.resolve(intent.client_order_id, intent.quantity)
        found = await self.journal.attempt(intent.client_order_id)
        known = OrderState.UNKNOWN if doubt > 0 or found is None else found.state
        tell_answered(self.orders, intent.venue, self.purpose, known.value, placed.error_class)
        return filled, gross, doubt, False

    async def resolve(
        self, client_order_id: str, quantity: Decimal
    ) -> tuple[Decimal, Decimal, Decimal]:
        """Look an ambiguous order up by client order id (with backoff) until it is known."""
        attempt = await self.journal.attempt(client_order_id)
        assert attempt is not None
        venue = self.venues[attempt.venue]
        try:
            async for trying in AsyncRetrying(
                retry=retry_if_exception_type(LookupFailed),
                stop=stop_after_attempt(self.lookup_attempts),
                wait=wait_exponential(multiplier=self.lookup_wait_s, max=2),
                sleep=self.sleep,
                reraise=True,
            ):
                with trying:
                    await reconcile_attempt(self.journal, _Lookup(venue), attempt)
        except LookupFailed as exc:
            await self.journal.record_venue_event(
                venue=attempt.venue,
                kind="unknown_outcome",
                detail=f"{client_order_id} still unknown: {exc}"[:500],
                close_id=self.close_id,
                client_order_id=client_order_id,
            )
            return ZERO, ZERO, quantity
        fills = [
            f
            for f in await self.journal.fills(self.close_id)
            if f.client_order_id == client_order_id
        ]
        filled = sum((f.quantity for f in fills), ZERO)
        gross = sum((f.quantity * f.price for f in fills), ZERO)
        return filled, gross, ZERO


class _Lookup:
    """Adapts a venue port to the recovery lookup (it already has the right methods)."""

    def __init__(self, venue: VenuePort) -> None:
        self.venue = venue

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        try:
            return await self.venue.order_by_client_id(venue, market, symbol, client_order_id)
        except LookupFailed:
            raise
        except Exception as exc:
            raise LookupFailed(str(exc)[:200]) from exc

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]:
        try:
            return await self.venue.trades_for_order(venue, market, symbol, exchange_order_id)
        except LookupFailed:
            raise
        except Exception as exc:
            raise LookupFailed(str(exc)[:200]) from exc


def inventory_for(
    side: Side, balance: Decimal, price: Decimal | None, fee: Decimal, step: Decimal
) -> Decimal:
    """What can be sold (base balance) or bought (quote balance at ``price``) on a venue."""
    if side is Side.SELL:
        return balance
    if price is None or price <= 0:
        return ZERO
    return (balance / (price * fee_factor(side, fee))).quantize(step, rounding=ROUND_DOWN)


def consolidated_touch(books: Sequence[Book], side: Side) -> tuple[Decimal | None, Decimal | None]:
    """(reference price for the side, arrival mid) across venues."""
    bids = [b.best_bid for b in books if b.best_bid is not None]
    asks = [b.best_ask for b in books if b.best_ask is not None]
    best_bid = max(bids) if bids else None
    best_ask = min(asks) if asks else None
    reference = best_bid if side is Side.SELL else best_ask
    if best_bid is not None and best_ask is not None:
        return reference, (best_bid + best_ask) / 2
    return reference, reference
