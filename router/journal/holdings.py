"""A close's position per venue in the journal, and the per-venue figures read from it.

The ``holdings`` rows say what each configured venue held when the close started (or
that it could not be read, and why); the figures (sold, hedged on its behalf, residual)
are computed from those rows, the close's fills and its hedged quantity whenever they
are read, so a close restated after its doubts settle is restated per venue as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from router.core.position import PositionFigures, VenueHolding, attribute
from router.core.purpose import OWN_PURPOSES
from router.journal.models import Hedge, Holding
from router.journal.records import AttemptView, CloseView, FillRecord
from router.journal.repository import Journal, holding_rows

HOLDINGS = cast(Table, Holding.__table__)
HEDGES = cast(Table, Hedge.__table__)
ZERO = Decimal(0)


async def record_holdings(
    journal: Journal, close_id: str, asset: str, holdings: Sequence[VenueHolding]
) -> None:
    """Journal the position as resolved at the start, one row per configured venue (for
    a close journaled without them; new closes carry them in ``NewClose.holdings``)."""
    if not holdings:
        return
    rows = holding_rows(close_id, asset, holdings, journal.clock())

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(insert(HOLDINGS), rows)

    await journal.write(work)


async def resolve_holding(
    journal: Journal, close_id: str, venue: str, held: Decimal | None, reason: str | None = None
) -> None:
    """A venue's holdings became known (``held``) or its reason for being unknown changed."""
    values: dict[str, Any] = (
        {"held": held, "unknown_reason": None, "resolved_at": journal.clock()}
        if held is not None
        else {"unknown_reason": reason or "unknown"}
    )

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(
            update(HOLDINGS)
            .where(HOLDINGS.c.close_id == close_id, HOLDINGS.c.venue == venue)
            .values(**values)
        )

    await journal.write(work)


async def mark_left(journal: Journal, close_id: str, left: Mapping[str, tuple[bool, str]]) -> None:
    """Record, per venue, whether it ended unable to sell (stuck) and why anything was left."""

    async def work(conn: AsyncConnection) -> None:
        for venue, (stuck, reason) in left.items():
            await conn.execute(
                update(HOLDINGS)
                .where(HOLDINGS.c.close_id == close_id, HOLDINGS.c.venue == venue)
                .values(stuck=stuck, left_reason=reason[:500])
            )

    await journal.write(work)


def holding_of(row: Any) -> VenueHolding:
    """A ``holdings`` row as the core's :class:`VenueHolding`."""
    return VenueHolding(row.venue, row.held, row.unknown_reason, bool(row.stuck), row.left_reason)


async def holdings(journal: Journal, close_id: str) -> list[VenueHolding]:
    rows = await journal.read(
        select(HOLDINGS).where(HOLDINGS.c.close_id == close_id).order_by(HOLDINGS.c.venue)
    )
    return [holding_of(r) for r in rows]


def exit_sales(attempts: Iterable[AttemptView], fills: Iterable[FillRecord]) -> dict[str, Decimal]:
    """What the close's exit orders (spot and internal crossing) filled, per venue."""
    exits = {a.client_order_id for a in attempts if a.purpose in OWN_PURPOSES}
    sold: dict[str, Decimal] = {}
    for fill in fills:
        if fill.client_order_id in exits:
            sold[fill.venue] = sold.get(fill.venue, ZERO) + fill.quantity
    return sold


async def sold_by_venue(journal: Journal, close_id: str) -> dict[str, Decimal]:
    return exit_sales(await journal.attempts(close_id), await journal.fills(close_id))


def is_whole(close: CloseView) -> bool:
    """Whether the close is of everything held (``quantity = "all"``)."""
    return close.request.get("quantity") == "all"


async def position_figures(journal: Journal, close: CloseView) -> PositionFigures:
    """Per venue: held at start, sold, hedged on its behalf, residual (and unknowns)."""
    return attribute(
        await holdings(journal, close.id),
        await sold_by_venue(journal, close.id),
        requested=close.requested_qty,
        hedged=close.hedged_qty,
        whole=is_whole(close),
    )


async def record_covers(
    journal: Journal, close: CloseView, *, requested: Decimal, hedged: Decimal
) -> None:
    """Write on each of the close's hedge rows whose inventory it covers.

    The venues' covered amounts (:func:`position_figures` for a close of ``requested``
    with ``hedged`` covered by shorts) are handed out over the hedge legs in order, each
    leg up to its size. The runner writes them before it states the outcome, so a
    router killed in between finds them rewritten when the close is resumed.
    """
    figures = await position_figures(
        journal, replace(close, requested_qty=requested, hedged_qty=hedged)
    )
    owed = [(v.venue, v.hedged) for v in figures.venues if v.hedged > 0]
    legs = [h for h in await journal.hedges() if h["close_id"] == close.id and h["quantity"] > 0]
    covers: dict[int, dict[str, str]] = {}
    for leg in legs:
        room: Decimal = leg["quantity"]
        mine: dict[str, str] = {}
        while room > 0 and owed:
            venue, amount = owed[0]
            take = min(room, amount)
            mine[venue] = format(take.normalize(), "f")
            room -= take
            if take == amount:
                owed.pop(0)
            else:
                owed[0] = (venue, amount - take)
        covers[leg["id"]] = mine
    if not covers:
        return

    async def work(conn: AsyncConnection) -> None:
        for hedge_id, mine in covers.items():
            await conn.execute(
                update(HEDGES)
                .where(HEDGES.c.id == hedge_id)
                .values(covers_json=json.dumps(mine, sort_keys=True))
            )

    await journal.write(work)


def covers_of(hedge: Mapping[str, Any]) -> dict[str, Decimal]:
    """A hedge row's covers: spot venue -> quantity of its inventory the short covers."""
    raw = json.loads(hedge.get("covers_json") or "{}")
    return {str(venue): Decimal(str(amount)) for venue, amount in raw.items()}


async def set_covers(journal: Journal, hedge_id: int, covers: Mapping[str, Decimal]) -> None:
    """Replace a hedge row's covers (venues whose covered quantity fell to zero drop out)."""
    text = json.dumps(
        {v: format(q.normalize(), "f") for v, q in sorted(covers.items()) if q > 0},
        sort_keys=True,
    )

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(update(HEDGES).where(HEDGES.c.id == hedge_id).values(covers_json=text))

    await journal.write(work)
