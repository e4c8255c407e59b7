"""Orders in doubt during a close: looked up again until they are known.

An order whose answer never came (a timeout, an outage right after the send) counts as
possibly filled, so its quantity is not sold elsewhere. Each wave looks such orders up
again by client order id; once the venue answers, the order's fills count and whatever
it did not fill is free to be sold again. A close whose only remainder is in doubt waits
for the venue (up to its escape window) instead of ending with the doubt.
"""

from __future__ import annotations

from router.engine.progress import SpotTally
from router.engine.waves import WaveContext
from router.journal.repository import Journal

ZERO_PURPOSES = ("close",)


async def settle_doubts(journal: Journal, waves: WaveContext, tally: SpotTally) -> None:
    """Look the close's in-doubt orders up again; count what became known."""
    for attempt in await journal.attempts(waves.close_id):
        if attempt.purpose not in ZERO_PURPOSES or not attempt.state.in_doubt:
            continue
        filled, _gross, still = await waves.resolve(attempt.client_order_id, attempt.quantity)
        if still > 0:
            continue
        tally.in_doubt -= attempt.quantity
        tally.add(attempt.venue, filled)
