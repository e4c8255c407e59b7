"""Memory-Layer statistics over a time window: slippage by tier and venue, fill ratios per
wave, time to flat and liquidity events.

They count only the orders the close placed on venues' spot books (purpose ``close``):
internal crossings and hedge legs are not in slippage or fill ratios.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from router.core.orders import OrderState
from router.core.purpose import Purpose
from router.journal.reading import (
    ATTEMPTS,
    CLOSES,
    FILLS,
    LIQUIDITY,
    WIDE,
    ZERO,
    Tally,
    seconds,
    stream,
    window,
)
from router.journal.timeline import LiquidityEventEntry, liquidity_entry


@dataclass(frozen=True, slots=True)
class TierVenueSlippage:
    """Execution quality of one (tier, venue): ``reference_price`` is volume-weighted over
    the closes' reference prices, ``slippage`` as in :class:`Tally`."""

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
        .where(
            ATTEMPTS.c.purpose == Purpose.CLOSE.value, *window(ATTEMPTS.c.intent_at, since, until)
        )
        .order_by(ATTEMPTS.c.id, FILLS.c.id)
    )
    tallies: dict[tuple[int, str], Tally] = {}
    counts: dict[tuple[int, str], int] = {}
    last_attempt: int | None = None
    async for row in stream(engine, query):
        key = (row.tier, row.venue)
        tally = tallies.setdefault(key, Tally())
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
        ATTEMPTS.c.purpose == Purpose.CLOSE.value,
        *window(ATTEMPTS.c.intent_at, since, until),
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
    async for row in stream(engine, query):
        totals = waves.setdefault((row.close_id, row.wave), _WaveTotals())
        totals.attempts += 1
        with localcontext(WIDE):
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
        .where(CLOSES.c.finished_at.is_not(None), *window(CLOSES.c.created_at, since, until))
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
        async for row in stream(engine, query)
    ]


async def liquidity_events(
    engine: AsyncEngine,
    since: datetime | None = None,
    until: datetime | None = None,
    symbol: str | None = None,
) -> list[LiquidityEventEntry]:
    """Liquidity readings in the window (of one symbol if given), oldest first."""
    conditions = window(LIQUIDITY.c.at, since, until)
    if symbol is not None:
        conditions.append(LIQUIDITY.c.symbol == symbol)
    query = select(LIQUIDITY).where(*conditions).order_by(LIQUIDITY.c.at, LIQUIDITY.c.id)
    return [liquidity_entry(row) async for row in stream(engine, query)]


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
