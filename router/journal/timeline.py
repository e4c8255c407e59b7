"""One close read back from the journal: its events in time order and how it executed.

The execution summary counts only the close's own orders (``OWN_PURPOSES``: spot sales
and internal crossings); hedge legs appear in the timeline but not in the summary's
fills, slippage or fees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, ClassVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from router.core.position import PositionFigures, VenueHolding, attribute
from router.core.purpose import OWN_PURPOSES
from router.journal.holdings import exit_sales, holding_of
from router.journal.reading import (
    ATTEMPTS,
    BOOKS,
    CLOSES,
    FILLS,
    HEDGES,
    HOLDINGS,
    LIQUIDITY,
    VENUE_EVENTS,
    WIDE,
    ZERO,
    Tally,
)
from router.journal.records import (
    AttemptView,
    CloseView,
    FillRecord,
    attempt_view,
    close_view,
    fill_record,
)


def _wide_sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext(WIDE):
        return sum(values, ZERO)


# ------------------------------------------------------------------ timeline records


@dataclass(frozen=True, slots=True)
class Book:
    """One venue's book as a wave saw it; levels are (price, quantity), best first."""

    venue: str
    market: str
    taken_at: datetime
    best_bid: Decimal | None
    best_ask: Decimal | None
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class WaveEntry:
    """A wave of orders and the books it decided on; ``at`` is its first book (or order)."""

    TYPE: ClassVar[str] = "wave"
    at: datetime
    wave: int
    books: tuple[Book, ...]


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    TYPE: ClassVar[str] = "attempt"
    attempt: AttemptView

    @property
    def at(self) -> datetime:
        return self.attempt.intent_at


@dataclass(frozen=True, slots=True)
class FillEntry:
    TYPE: ClassVar[str] = "fill"
    fill: FillRecord

    @property
    def at(self) -> datetime:
        return self.fill.traded_at


@dataclass(frozen=True, slots=True)
class VenueEventEntry:
    TYPE: ClassVar[str] = "venue_event"
    at: datetime
    venue: str
    kind: str
    client_order_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class LiquidityEventEntry:
    TYPE: ClassVar[str] = "liquidity_event"
    at: datetime
    symbol: str
    venue: str | None
    kind: str
    score: Decimal | None
    escape_window_s: Decimal | None
    close_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HedgeEntry:
    """A hedge of the close's residual and the orders (legs) that opened or unwound it."""

    TYPE: ClassVar[str] = "hedge"
    id: int
    venue: str
    symbol: str
    side: str
    quantity: Decimal
    unwound_qty: Decimal
    average_price: Decimal | None
    state: str
    opened_at: datetime
    closed_at: datetime | None
    legs: tuple[AttemptView, ...]

    @property
    def at(self) -> datetime:
        return self.opened_at


Entry = WaveEntry | AttemptEntry | FillEntry | VenueEventEntry | LiquidityEventEntry | HedgeEntry

_RANK: dict[str, int] = {
    LiquidityEventEntry.TYPE: 0,
    WaveEntry.TYPE: 1,
    HedgeEntry.TYPE: 2,
    AttemptEntry.TYPE: 3,
    VenueEventEntry.TYPE: 4,
    FillEntry.TYPE: 5,
}
"""Order of entries at the same instant: the reading, the wave, the orders, what came back."""


@dataclass(frozen=True, slots=True)
class Summary:
    """How the close executed (its own orders and fills; hedge legs excluded)."""

    filled_qty: Decimal
    average_price: Decimal | None
    reference_price: Decimal | None
    slippage: Decimal | None
    fees: dict[str, Decimal]
    waves: int
    attempts_by_state: dict[str, int]
    time_to_flat: timedelta | None
    venues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """A close as stored, its events oldest first, and how it executed."""

    close: CloseView
    events: tuple[Entry, ...]
    summary: Summary
    position: PositionFigures | None = None
    """Per venue: held at start, sold, hedged for it, residual and why (``None`` for a
    close journaled before positions were)."""


# ------------------------------------------------------------------ timeline


async def close_timeline(engine: AsyncEngine, close_id: str) -> Timeline | None:
    """Everything the journal knows about one close, in time order; None if unknown.

    Entries of the same instant come in ``_RANK`` order, then in the order they were
    journaled.
    """
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        row = (await conn.execute(select(CLOSES).where(CLOSES.c.id == close_id))).first()
        if row is None:
            return None
        close = close_view(row)
        attempts = await _close_attempts(conn, close_id)
        fills = await _close_fills(conn, close_id)
        books = await _close_books(conn, close_id)
        venue_events = await _close_venue_events(conn, close_id)
        liquidity = await _close_liquidity_events(conn, close_id)
        hedges = await _close_hedges(conn, close_id, attempts)
        holdings = await _close_holdings(conn, close_id)
    waves = _waves(books, attempts)
    entries: list[Entry] = [
        *liquidity,
        *waves,
        *hedges,
        *(AttemptEntry(a) for a in attempts),
        *venue_events,
        *(FillEntry(f) for f in fills),
    ]
    entries.sort(key=lambda entry: (entry.at, _RANK[entry.TYPE]))
    position = _position(close, holdings, attempts, fills) if holdings else None
    return Timeline(close, tuple(entries), _summarize(close, attempts, fills, len(waves)), position)


async def _close_holdings(conn: AsyncConnection, close_id: str) -> list[VenueHolding]:
    rows = await conn.execute(
        select(HOLDINGS).where(HOLDINGS.c.close_id == close_id).order_by(HOLDINGS.c.venue)
    )
    return [holding_of(r) for r in rows]


def _position(
    close: CloseView,
    holdings: Sequence[VenueHolding],
    attempts: Sequence[AttemptView],
    fills: Sequence[FillRecord],
) -> PositionFigures:
    return attribute(
        holdings,
        exit_sales(attempts, fills),
        requested=close.requested_qty,
        hedged=close.hedged_qty,
        whole=close.request.get("quantity") == "all",
    )


async def _close_attempts(conn: AsyncConnection, close_id: str) -> list[AttemptView]:
    query = select(ATTEMPTS).where(ATTEMPTS.c.close_id == close_id).order_by(ATTEMPTS.c.id)
    return [attempt_view(row) for row in await conn.execute(query)]


async def _close_fills(conn: AsyncConnection, close_id: str) -> list[FillRecord]:
    query = select(FILLS).where(FILLS.c.close_id == close_id).order_by(FILLS.c.id)
    return [fill_record(r) for r in await conn.execute(query)]


async def _close_books(conn: AsyncConnection, close_id: str) -> list[tuple[int, Book]]:
    query = select(BOOKS).where(BOOKS.c.close_id == close_id).order_by(BOOKS.c.id)
    return [(r.wave, _book(r)) for r in await conn.execute(query)]


def _book(row: Any) -> Book:
    levels = json.loads(row.levels_json)

    def side(key: str) -> tuple[tuple[Decimal, Decimal], ...]:
        return tuple((Decimal(price), Decimal(qty)) for price, qty in levels.get(key, []))

    return Book(
        venue=row.venue,
        market=row.market,
        taken_at=row.taken_at,
        best_bid=row.best_bid,
        best_ask=row.best_ask,
        bids=side("b"),
        asks=side("a"),
    )


async def _close_venue_events(conn: AsyncConnection, close_id: str) -> list[VenueEventEntry]:
    """Venue events naming the close, or naming one of its orders."""
    client_ids = select(ATTEMPTS.c.client_order_id).where(ATTEMPTS.c.close_id == close_id)
    query = (
        select(VENUE_EVENTS)
        .where(
            or_(
                VENUE_EVENTS.c.close_id == close_id,
                VENUE_EVENTS.c.client_order_id.in_(client_ids.scalar_subquery()),
            )
        )
        .order_by(VENUE_EVENTS.c.id)
    )
    return [
        VenueEventEntry(
            at=r.at,
            venue=r.venue,
            kind=r.kind,
            client_order_id=r.client_order_id,
            detail=r.detail,
        )
        for r in await conn.execute(query)
    ]


async def _close_liquidity_events(
    conn: AsyncConnection, close_id: str
) -> list[LiquidityEventEntry]:
    query = select(LIQUIDITY).where(LIQUIDITY.c.close_id == close_id).order_by(LIQUIDITY.c.id)
    return [liquidity_entry(r) for r in await conn.execute(query)]


def liquidity_entry(row: Any) -> LiquidityEventEntry:
    return LiquidityEventEntry(
        at=row.at,
        symbol=row.symbol,
        venue=row.venue,
        kind=row.kind,
        score=row.score,
        escape_window_s=row.escape_window_s,
        close_id=row.close_id,
        detail=json.loads(row.detail_json or "{}"),
    )


async def _close_hedges(
    conn: AsyncConnection, close_id: str, attempts: Sequence[AttemptView]
) -> list[HedgeEntry]:
    query = select(HEDGES).where(HEDGES.c.close_id == close_id).order_by(HEDGES.c.id)
    return [
        HedgeEntry(
            id=r.id,
            venue=r.venue,
            symbol=r.symbol,
            side=r.side,
            quantity=r.quantity,
            unwound_qty=r.unwound_qty,
            average_price=r.average_price,
            state=r.state,
            opened_at=r.opened_at,
            closed_at=r.closed_at,
            legs=tuple(a for a in attempts if a.hedge_id == r.id),
        )
        for r in await conn.execute(query)
    ]


def _waves(books: Sequence[tuple[int, Book]], attempts: Sequence[AttemptView]) -> list[WaveEntry]:
    """One entry per wave of the close's own orders or books, at its earliest book or order."""
    numbers = {wave for wave, _ in books} | {a.wave for a in attempts if a.purpose in OWN_PURPOSES}
    entries = []
    for number in sorted(numbers):
        wave_books = tuple(book for wave, book in books if wave == number)
        times = [book.taken_at for book in wave_books] or [
            a.intent_at for a in attempts if a.wave == number and a.purpose in OWN_PURPOSES
        ]
        entries.append(WaveEntry(at=min(times), wave=number, books=wave_books))
    return entries


def _summarize(
    close: CloseView,
    attempts: Sequence[AttemptView],
    fills: Sequence[FillRecord],
    waves: int,
) -> Summary:
    """The close's numbers; fills of no known order count as the close's own."""
    own = [a for a in attempts if a.purpose in OWN_PURPOSES]
    legs = {a.client_order_id for a in attempts if a.purpose not in OWN_PURPOSES}
    own_fills = [f for f in fills if f.client_order_id not in legs]
    tally = Tally()
    for fill in own_fills:
        tally.add(fill.side, fill.quantity, fill.price, close.reference_price)
    states: dict[str, int] = {}
    for attempt in own:
        states[attempt.state.value] = states.get(attempt.state.value, 0) + 1
    started = min((a.intent_at for a in attempts), default=None)
    flat_after = close.finished_at - started if close.finished_at and started else None
    return Summary(
        filled_qty=tally.qty,
        average_price=tally.average_price,
        reference_price=close.reference_price,
        slippage=tally.slippage,
        fees=_fees(own_fills),
        waves=waves,
        attempts_by_state=dict(sorted(states.items())),
        time_to_flat=flat_after,
        venues=tuple(sorted({a.venue for a in own})),
    )


def _fees(fills: Iterable[FillRecord]) -> dict[str, Decimal]:
    """Fees per asset (``"?"`` when the venue did not say which); a fill that paid
    nothing and names no asset (an internal crossing) adds no line."""
    by_asset: dict[str, list[Decimal]] = {}
    for fill in fills:
        if fill.fee == 0 and fill.fee_asset is None:
            continue
        by_asset.setdefault(fill.fee_asset or "?", []).append(fill.fee)
    return {asset: _wide_sum(fees) for asset, fees in sorted(by_asset.items())}
