"""Reading the journal back: one close's timeline, Memory-Layer statistics and exports.

Everything here is read-only. Amounts are summed and divided in Python with
:class:`~decimal.Decimal` (SQLite keeps them as text, so SQL arithmetic on them would
be wrong there). Queries over whole tables stream their rows instead of loading them.

Time windows are half-open: ``since`` inclusive, ``until`` exclusive, ``None`` unbounded.
Execution statistics count only the close's own orders (purpose ``close``); hedge legs
appear in the timeline but not in slippage, fill ratios or fees.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, localcontext
from enum import Enum
from typing import Any, ClassVar, TextIO, cast

from sqlalchemy import Column, Select, Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from router.core.orders import OrderState
from router.core.position import PositionFigures, VenueHolding, attribute
from router.journal.holdings import exit_sales, holding_of
from router.journal.models import (
    Attempt,
    Base,
    BookSnapshot,
    Close,
    Fill,
    Hedge,
    Holding,
    LiquidityEvent,
    VenueEvent,
)
from router.journal.records import (
    AttemptView,
    CloseView,
    FillRecord,
    attempt_view,
    close_view,
    fill_record,
)

ZERO = Decimal(0)
CLOSE_PURPOSE = "close"
STREAM_BATCH = 500
"""Rows fetched from the database at a time when streaming."""

_WIDE = Context(prec=120)
"""Sums and products of NUMERIC(38, 18) amounts are exact in this context."""

CLOSES = cast(Table, Close.__table__)
ATTEMPTS = cast(Table, Attempt.__table__)
FILLS = cast(Table, Fill.__table__)
BOOKS = cast(Table, BookSnapshot.__table__)
LIQUIDITY = cast(Table, LiquidityEvent.__table__)
VENUE_EVENTS = cast(Table, VenueEvent.__table__)
HEDGES = cast(Table, Hedge.__table__)
HOLDINGS = cast(Table, Holding.__table__)

TIME_COLUMNS: dict[str, str] = {
    "closes": "created_at",
    "attempts": "intent_at",
    "fills": "traded_at",
    "book_snapshots": "taken_at",
    "liquidity_events": "at",
    "venue_events": "at",
    "hedges": "opened_at",
    "holdings": "resolved_at",
}
"""The exportable tables and the time column each one is filtered on."""


class UnknownTable(ValueError):
    """Not one of the journal's tables."""


# ------------------------------------------------------------------ formatting


def plain(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: ``"0.5"``, ``"100"``."""
    if value == 0:
        return "0"
    return format(value.normalize(_WIDE), "f")


def iso(value: datetime) -> str:
    """An ISO-8601 timestamp in UTC."""
    return value.astimezone(UTC).isoformat()


def seconds(value: timedelta) -> Decimal:
    """A duration in seconds, exactly (to the microsecond)."""
    whole = Decimal(value.days * 86_400 + value.seconds)
    return whole + Decimal(value.microseconds).scaleb(-6)


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: decimals as plain strings, times as ISO-8601 UTC,
    durations as seconds (plain strings), dataclasses as objects."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return plain(seconds(value))
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


# ------------------------------------------------------------------ money


@dataclass(slots=True)
class _Tally:
    """Running totals of executions, compared with reference prices where known.

    Slippage is the shortfall against the reference over the reference notional:
    ``Σ s·q·(ref − p) / Σ q·ref`` with ``s`` = +1 for sells and −1 for buys. With one
    reference price that is ``(ref − avg) / ref`` for a sell and ``(avg − ref) / ref``
    for a buy; nothing is rounded before the final division.
    """

    qty: Decimal = ZERO
    notional: Decimal = ZERO
    ref_qty: Decimal = ZERO
    ref_notional: Decimal = ZERO
    shortfall: Decimal = ZERO

    def add(self, side: str, qty: Decimal, price: Decimal, reference: Decimal | None) -> None:
        with localcontext(_WIDE):
            self.qty += qty
            self.notional += qty * price
            if reference is None or reference == 0:
                return
            sign = 1 if side.lower() == "sell" else -1
            self.ref_qty += qty
            self.ref_notional += qty * reference
            self.shortfall += sign * qty * (reference - price)

    @property
    def average_price(self) -> Decimal | None:
        return self.notional / self.qty if self.qty else None

    @property
    def reference_price(self) -> Decimal | None:
        return self.ref_notional / self.ref_qty if self.ref_qty else None

    @property
    def slippage(self) -> Decimal | None:
        return self.shortfall / self.ref_notional if self.ref_notional else None


def _wide_sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext(_WIDE):
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
    return [_liquidity_entry(r) for r in await conn.execute(query)]


def _liquidity_entry(row: Any) -> LiquidityEventEntry:
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
    numbers = {wave for wave, _ in books} | {a.wave for a in attempts if a.purpose == CLOSE_PURPOSE}
    entries = []
    for number in sorted(numbers):
        wave_books = tuple(book for wave, book in books if wave == number)
        times = [book.taken_at for book in wave_books] or [
            a.intent_at for a in attempts if a.wave == number and a.purpose == CLOSE_PURPOSE
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
    own = [a for a in attempts if a.purpose == CLOSE_PURPOSE]
    legs = {a.client_order_id for a in attempts if a.purpose != CLOSE_PURPOSE}
    own_fills = [f for f in fills if f.client_order_id not in legs]
    tally = _Tally()
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
    """Fees per asset (``"?"`` when the venue did not say which)."""
    by_asset: dict[str, list[Decimal]] = {}
    for fill in fills:
        by_asset.setdefault(fill.fee_asset or "?", []).append(fill.fee)
    return {asset: _wide_sum(fees) for asset, fees in sorted(by_asset.items())}


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    """The timeline as JSON-ready data; each event carries its ``type`` and ``at``."""
    return {
        "close": jsonable(timeline.close),
        "summary": jsonable(timeline.summary),
        "position": jsonable(timeline.position),
        "events": [
            {"type": entry.TYPE, "at": iso(entry.at), **jsonable(entry)}
            for entry in timeline.events
        ],
    }


# ------------------------------------------------------------------ Memory Layer


@dataclass(frozen=True, slots=True)
class TierVenueSlippage:
    """Execution quality of one (tier, venue): ``reference_price`` is volume-weighted over
    the closes' reference prices, ``slippage`` as in :class:`_Tally`."""

    tier: int
    venue: str
    attempts: int
    filled_qty: Decimal
    average_price: Decimal | None
    reference_price: Decimal | None
    slippage: Decimal | None


@dataclass(frozen=True, slots=True)
class WaveFillRatio:
    """Filled over sent quantity of one wave's close orders.

    An order counts as sent if it was marked sent, or if its state shows that it reached
    the venue (any state but PENDING_SEND and REJECTED); ``ratio`` is None if none was.
    """

    close_id: str
    wave: int
    attempts: int
    sent_qty: Decimal
    filled_qty: Decimal
    ratio: Decimal | None


@dataclass(frozen=True, slots=True)
class CloseDuration:
    close_id: str
    symbol: str
    side: str
    outcome: str | None
    created_at: datetime
    finished_at: datetime
    seconds: Decimal


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """All Memory-Layer queries over one time window."""

    since: datetime | None
    until: datetime | None
    slippage_by_tier_and_venue: list[TierVenueSlippage]
    fill_ratio_per_wave: list[WaveFillRatio]
    time_to_flat: list[CloseDuration]
    liquidity_events: list[LiquidityEventEntry]


def _window(column: Column[Any], since: datetime | None, until: datetime | None) -> list[Any]:
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("time bounds must be timezone-aware")
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


async def _stream(engine: AsyncEngine, query: Select[Any]) -> AsyncIterator[Any]:
    """The query's rows, fetched ``STREAM_BATCH`` at a time."""
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=STREAM_BATCH))
        async for row in result:
            yield row


async def slippage_by_tier_and_venue(
    engine: AsyncEngine, since: datetime | None = None, until: datetime | None = None
) -> list[TierVenueSlippage]:
    """Per (tier, venue): the close orders placed in the window and how their fills did."""
    query = (
        select(
            ATTEMPTS.c.id,
            ATTEMPTS.c.tier,
            ATTEMPTS.c.venue,
            CLOSES.c.reference_price,
            FILLS.c.side,
            FILLS.c.quantity,
            FILLS.c.price,
        )
        .select_from(
            ATTEMPTS.join(CLOSES, CLOSES.c.id == ATTEMPTS.c.close_id).outerjoin(
                FILLS, FILLS.c.attempt_id == ATTEMPTS.c.id
            )
        )
        .where(ATTEMPTS.c.purpose == CLOSE_PURPOSE, *_window(ATTEMPTS.c.intent_at, since, until))
        .order_by(ATTEMPTS.c.id, FILLS.c.id)
    )
    tallies: dict[tuple[int, str], _Tally] = {}
    counts: dict[tuple[int, str], int] = {}
    last_attempt: int | None = None
    async for row in _stream(engine, query):
        key = (row.tier, row.venue)
        tally = tallies.setdefault(key, _Tally())
        if row.id != last_attempt:
            counts[key] = counts.get(key, 0) + 1
            last_attempt = row.id
        if row.quantity is not None:
            tally.add(row.side, row.quantity, row.price, row.reference_price)
    return [
        TierVenueSlippage(
            tier=tier,
            venue=venue,
            attempts=counts[(tier, venue)],
            filled_qty=tally.qty,
            average_price=tally.average_price,
            reference_price=tally.reference_price,
            slippage=tally.slippage,
        )
        for (tier, venue), tally in sorted(tallies.items())
    ]


def _was_sent(state: str, sent_at: datetime | None) -> bool:
    if sent_at is not None:
        return True
    return state not in (OrderState.PENDING_SEND.value, OrderState.REJECTED.value)


@dataclass(slots=True)
class _WaveTotals:
    attempts: int = 0
    sent: Decimal = ZERO
    filled: Decimal = ZERO


async def fill_ratio_per_wave(
    engine: AsyncEngine,
    close_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[WaveFillRatio]:
    """Per (close, wave): filled over sent quantity of the close orders placed in the window."""
    conditions = [
        ATTEMPTS.c.purpose == CLOSE_PURPOSE,
        *_window(ATTEMPTS.c.intent_at, since, until),
    ]
    if close_id is not None:
        conditions.append(ATTEMPTS.c.close_id == close_id)
    query = (
        select(
            ATTEMPTS.c.close_id,
            ATTEMPTS.c.wave,
            ATTEMPTS.c.state,
            ATTEMPTS.c.sent_at,
            ATTEMPTS.c.quantity,
            ATTEMPTS.c.filled_qty,
        )
        .where(and_(*conditions))
        .order_by(ATTEMPTS.c.close_id, ATTEMPTS.c.wave, ATTEMPTS.c.id)
    )
    waves: dict[tuple[str, int], _WaveTotals] = {}
    async for row in _stream(engine, query):
        totals = waves.setdefault((row.close_id, row.wave), _WaveTotals())
        totals.attempts += 1
        with localcontext(_WIDE):
            if _was_sent(row.state, row.sent_at):
                totals.sent += row.quantity
            totals.filled += row.filled_qty
    return [
        WaveFillRatio(
            close_id=close,
            wave=wave,
            attempts=totals.attempts,
            sent_qty=totals.sent,
            filled_qty=totals.filled,
            ratio=totals.filled / totals.sent if totals.sent else None,
        )
        for (close, wave), totals in waves.items()
    ]


async def time_to_flat(
    engine: AsyncEngine, since: datetime | None = None, until: datetime | None = None
) -> list[CloseDuration]:
    """Every finished close created in the window: its outcome and how long it took."""
    query = (
        select(
            CLOSES.c.id,
            CLOSES.c.symbol,
            CLOSES.c.side,
            CLOSES.c.outcome,
            CLOSES.c.created_at,
            CLOSES.c.finished_at,
        )
        .where(CLOSES.c.finished_at.is_not(None), *_window(CLOSES.c.created_at, since, until))
        .order_by(CLOSES.c.created_at, CLOSES.c.id)
    )
    return [
        CloseDuration(
            close_id=row.id,
            symbol=row.symbol,
            side=row.side,
            outcome=row.outcome,
            created_at=row.created_at,
            finished_at=row.finished_at,
            seconds=seconds(row.finished_at - row.created_at),
        )
        async for row in _stream(engine, query)
    ]


async def liquidity_events(
    engine: AsyncEngine,
    since: datetime | None = None,
    until: datetime | None = None,
    symbol: str | None = None,
) -> list[LiquidityEventEntry]:
    """Liquidity readings in the window (of one symbol if given), oldest first."""
    conditions = _window(LIQUIDITY.c.at, since, until)
    if symbol is not None:
        conditions.append(LIQUIDITY.c.symbol == symbol)
    query = select(LIQUIDITY).where(*conditions).order_by(LIQUIDITY.c.at, LIQUIDITY.c.id)
    return [_liquidity_entry(row) async for row in _stream(engine, query)]


async def memory_stats(
    engine: AsyncEngine, since: datetime | None = None, until: datetime | None = None
) -> MemoryStats:
    return MemoryStats(
        since=since,
        until=until,
        slippage_by_tier_and_venue=await slippage_by_tier_and_venue(engine, since, until),
        fill_ratio_per_wave=await fill_ratio_per_wave(engine, since=since, until=until),
        time_to_flat=await time_to_flat(engine, since, until),
        liquidity_events=await liquidity_events(engine, since, until),
    )


# ------------------------------------------------------------------ export


def journal_table(name: str) -> Table:
    """One of the seven exportable tables, by name; raises :class:`UnknownTable`."""
    if name not in TIME_COLUMNS:
        known = ", ".join(sorted(TIME_COLUMNS))
        raise UnknownTable(f"unknown table {name!r} (one of: {known})")
    return Base.metadata.tables[name]


def export_columns(name: str) -> list[str]:
    """The column names an export of table ``name`` has, in order."""
    return [column.name for column in journal_table(name).columns]


async def export_rows(
    engine: AsyncEngine,
    table: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Stream a table's rows as dicts in primary-key order, filtered on its time column."""
    source = journal_table(table)
    query = (
        select(source)
        .where(*_window(source.c[TIME_COLUMNS[table]], since, until))
        .order_by(*source.primary_key.columns)
    )
    async for row in _stream(engine, query):
        yield dict(row._mapping)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return jsonable(value)


async def write_csv(
    rows: AsyncIterable[Mapping[str, Any]],
    out: TextIO,
    columns: Sequence[str] | None = None,
) -> int:
    """Write rows as CSV as they come; returns how many were written.

    The header is ``columns``, else the first row's keys (no header for no rows without
    ``columns``). NULL is an empty cell, booleans are ``true``/``false``.
    """
    writer = csv.writer(out, lineterminator="\n")
    header = list(columns) if columns is not None else None
    if header is not None:
        writer.writerow(header)
    count = 0
    async for row in rows:
        if header is None:
            header = list(row)
            writer.writerow(header)
        writer.writerow([_csv_cell(row.get(name)) for name in header])
        count += 1
    return count


async def write_jsonl(rows: AsyncIterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write one JSON object per row as they come; returns how many were written."""
    count = 0
    async for row in rows:
        out.write(json.dumps(jsonable(row), ensure_ascii=False) + "\n")
        count += 1
    return count


EXPORT_FORMATS = ("csv", "jsonl")
