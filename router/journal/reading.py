"""What the journal's read models share: its tables, exact sums, time windows, streaming.

Everything read from the journal is read-only. Amounts are summed and divided in Python
with :class:`~decimal.Decimal` (SQLite keeps them as text, so SQL arithmetic on them
would be wrong there). Queries over whole tables stream their rows instead of loading
them.

Time windows are half-open: ``since`` inclusive, ``until`` exclusive, ``None`` unbounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal, localcontext
from typing import Any, cast

from sqlalchemy import Column, Select, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from router.journal.models import (
    Attempt,
    BookSnapshot,
    Close,
    Fill,
    Hedge,
    Holding,
    LiquidityEvent,
    VenueEvent,
)

ZERO = Decimal(0)
STREAM_BATCH = 500
"""Rows fetched from the database at a time when streaming."""

WIDE = Context(prec=120)
"""Sums and products of NUMERIC(38, 18) amounts are exact in this context."""

CLOSES = cast(Table, Close.__table__)
ATTEMPTS = cast(Table, Attempt.__table__)
FILLS = cast(Table, Fill.__table__)
BOOKS = cast(Table, BookSnapshot.__table__)
LIQUIDITY = cast(Table, LiquidityEvent.__table__)
VENUE_EVENTS = cast(Table, VenueEvent.__table__)
HEDGES = cast(Table, Hedge.__table__)
HOLDINGS = cast(Table, Holding.__table__)


def seconds(value: timedelta) -> Decimal:
    """A duration in seconds, exactly (to the microsecond)."""
    whole = Decimal(value.days * 86_400 + value.seconds)
    return whole + Decimal(value.microseconds).scaleb(-6)


@dataclass(slots=True)
class Tally:
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
        with localcontext(WIDE):
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


def window(column: Column[Any], since: datetime | None, until: datetime | None) -> list[Any]:
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("time bounds must be timezone-aware")
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


async def stream(engine: AsyncEngine, query: Select[Any]) -> AsyncIterator[Any]:
    """The query's rows, fetched ``STREAM_BATCH`` at a time."""
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=STREAM_BATCH))
        async for row in result:
            yield row
