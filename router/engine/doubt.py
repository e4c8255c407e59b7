"""Orders in doubt during a close: looked up again until they are known.

An order whose answer never came (a timeout, an outage right after the send) counts as
possibly filled, so its quantity is not sold elsewhere. Each wave looks such orders up
again by client order id; once the venue answers, the order's fills count and whatever
it did not fill is free to be sold again. A close whose only remainder is in doubt waits
for the venue (up to its escape window) instead of ending with the doubt.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from router.core.lifecycle import HedgeState, opened
from router.core.purpose import Purpose
from router.engine.progress import SpotTally
from router.engine.waves import WaveContext
from router.journal.records import AttemptView
from router.journal.repository import Journal


async def settle_doubts(journal: Journal, waves: WaveContext, tally: SpotTally) -> None:
    """Look the close's in-doubt orders up again; count what became known."""
    for attempt in await journal.attempts(waves.close_id):
        if attempt.purpose != Purpose.CLOSE or not attempt.state.in_doubt:
            continue
        filled, _gross, still = await waves.resolve(attempt.client_order_id, attempt.quantity)
        if still > 0:
            continue
        tally.in_doubt -= attempt.quantity
        tally.add(attempt.venue, filled)


async def hedged_before(
    journal: Journal, attempts: Sequence[AttemptView]
) -> tuple[Decimal, Decimal]:
    """What earlier runs of a close already hedged, and what of it is still in doubt.

    A router killed while hedging leaves hedge legs that recovery has reconciled but
    no ``hedged_qty`` on the close (written only when it finishes) and hedge rows still
    ``OPENING``: the rows are brought up to what the legs filled, and the total is
    returned so the resumed close does not hedge the same quantity again.
    """
    legs = [a for a in attempts if a.purpose == Purpose.HEDGE]
    if not legs:
        return Decimal(0), Decimal(0)
    doubt = sum((a.quantity for a in legs if a.state.in_doubt), Decimal(0))
    by_row: dict[int, Decimal] = {}
    for leg in legs:
        if leg.hedge_id is not None:
            by_row[leg.hedge_id] = by_row.get(leg.hedge_id, Decimal(0)) + leg.filled_qty
    rows = {row["id"]: row for row in await journal.hedges()}
    for hedge_id, filled in by_row.items():
        row = rows.get(hedge_id)
        if row is not None and row["state"] == HedgeState.OPENING:
            await journal.update_hedge(
                hedge_id,
                quantity=filled,
                average_price=await journal.hedge_price(hedge_id),
                state=opened(filled),
            )
    return sum((a.filled_qty for a in legs), Decimal(0)), doubt
