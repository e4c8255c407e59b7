"""The oracle: the best any strategy could do from the books at the decision instant.

A lot-aware consolidated sweep (:func:`router.core.allocation.allocate`, no cap) of every
venue's spot bids, with what each venue holds, *and* of the perpetuals' books, with what
each venue's futures margin could short at the router's hedge leverage: a hedge is an
exit too, so a bound that left it out would not bound a strategy that hedges. No
impact, no latency, no fees beyond the taker fee. It is a bound for trading at once; a
strategy trading later can still beat it when the price moves its way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from router.bench.quality_metrics import ZERO, ExecFill, Execution
from router.bench.quality_strategies import BenchCase, holdings, start
from router.core.allocation import VenueQuote, allocate
from router.core.book import Book, Side
from router.engine.hedge import HEDGE_LEVERAGE
from router.engine.simulate import SimulatedWorld
from router.venues.adapter import VenueAdapter
from router.venues.errors import VenueError
from router.venues.model import MarketInfo

ORACLE_DEPTH = 5000
PERP_SUFFIX = ":perp"


@dataclass(frozen=True)
class DecisionBooks:
    """The oracle's reading of the world at the decision instant."""

    books: dict[str, Book]
    """Spot books by venue: the arrival mid is theirs."""
    quotes: list[VenueQuote]
    """Spot and perpetual quotes (perpetual venues are named ``venue:perp``)."""

    def arrival_mid(self) -> Decimal | None:
        bids = [b.best_bid for b in self.books.values() if b.best_bid is not None]
        asks = [b.best_ask for b in self.books.values() if b.best_ask is not None]
        if not bids or not asks:
            return None
        return (max(bids) + min(asks)) / 2


def _market(adapter: VenueAdapter, symbol: str) -> MarketInfo | None:
    try:
        return adapter.market(symbol)
    except KeyError:
        return None


def _quote(name: str, book: Book, side: Side, market: MarketInfo, size: Decimal) -> VenueQuote:
    return VenueQuote(
        name=name,
        levels=book.taken_by(side),
        inventory=size,
        taker_fee=market.taker_fee,
        lot_step=market.lot_step,
        min_qty=market.min_qty,
        min_notional=market.min_notional,
        tick=market.tick,
    )


def perp_symbol(spot: str) -> str:
    """``BTC/USDT`` -> ``BTC/USDT:USDT`` (the USD-M perpetual)."""
    return f"{spot}:{spot.split('/')[1]}"


async def read_decision_books(world: SimulatedWorld, case: BenchCase) -> DecisionBooks:
    held = await holdings(world, case)
    books: dict[str, Book] = {}
    quotes: list[VenueQuote] = []
    perp = perp_symbol(case.symbol)
    for name, adapter in world.adapters.items():
        market = _market(adapter, case.symbol)
        if market is not None:
            try:
                view = await adapter.order_book(case.symbol, ORACLE_DEPTH)
            except VenueError:
                view = None
            if view is not None:
                books[name] = view.book
                quotes.append(_quote(name, view.book, case.side, market, held.get(name, ZERO)))
        futures = _market(adapter, perp)
        if futures is None:
            continue
        try:
            perp_view = await adapter.order_book(perp, ORACLE_DEPTH)
            margin = await adapter.futures_available_margin()
        except VenueError:
            continue
        touch = perp_view.book.best_bid if case.side is Side.SELL else perp_view.book.best_ask
        if touch is None or touch <= 0 or margin <= 0:
            continue
        size = (margin * HEDGE_LEVERAGE / touch).quantize(futures.lot_step, rounding=ROUND_DOWN)
        quotes.append(_quote(name + PERP_SUFFIX, perp_view.book, case.side, futures, size))
    return DecisionBooks(books, quotes)


@dataclass
class Oracle:
    """The best any strategy could do from the decision instant's books: a bound."""

    name: str = "oracle"
    decision: DecisionBooks | None = None

    async def execute(self, world: SimulatedWorld, case: BenchCase) -> Execution:
        start(world, case)
        world.clock.pause()
        self.decision = await read_decision_books(world, case)
        quotes = self.decision.quotes
        if not quotes:
            return Execution(strategy=self.name, time_to_exit_s=ZERO)
        plan = allocate(quotes, case.side, case.requested, None)
        spot = [c for c in plan.children if not c.venue.endswith(PERP_SUFFIX)]
        hedges = [c for c in plan.children if c.venue.endswith(PERP_SUFFIX)]
        return Execution(
            strategy=self.name,
            fills=tuple(
                ExecFill(c.venue, c.quantity, c.expected_average, case.start_s) for c in spot
            ),
            hedged=sum((c.quantity for c in hedges), ZERO),
            hedge_notional=sum((c.expected_gross for c in hedges), ZERO),
            venues_used=frozenset(c.venue.removesuffix(PERP_SUFFIX) for c in plan.children),
        )
