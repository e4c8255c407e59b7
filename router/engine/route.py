"""The I/O side of the spot-or-perpetual choice: plans from live books, then the core's rule."""

from __future__ import annotations

from decimal import Decimal

from router.core.allocation import allocate
from router.core.book import Side
from router.core.route_choice import hedge_beats_spot
from router.engine.hedge import HedgePlan, perp_states
from router.engine.waves import VenueState, consolidated_touch, quote_for


async def hedge_now(
    plan: HedgePlan,
    states: list[VenueState],
    remaining: Decimal,
    cap: Decimal | None,
    margin: Decimal,
) -> bool:
    """Whether hedging ``remaining`` on the perpetual now beats selling it on spot at
    ``cap`` (see :func:`router.core.route_choice.hedge_beats_spot`).

    The perpetual's books are read only when the spot plan would not sell everything,
    or would sell it more than ``margin`` away from the spot mid (not the touch: in a
    crash the best bid itself can sit far below where the perpetual trades): a spot book
    that holds up costs no extra round trip.
    """
    side = plan.side
    spot = allocate([quote_for(s, side) for s in states], side, remaining, cap)
    average = spot.average_price
    _, mid = consolidated_touch([s.view.book for s in states], side)
    if spot.filled >= remaining and average is not None and mid is not None:
        gap = mid - average if side is Side.SELL else average - mid
        if gap <= mid * margin:
            return False
    perps = await perp_states(plan)
    if not perps:
        return False
    perp = allocate([quote_for(s, side) for s in perps], side, remaining, None)
    return hedge_beats_spot(side, remaining, spot, perp, margin)


def cheap_at_once(
    states: list[VenueState],
    side: Side,
    remaining: Decimal,
    reference: Decimal | None,
    cap: Decimal | None,
    impact: Decimal,
) -> bool:
    """Whether the books take all of ``remaining`` now within ``impact`` (a fraction) of
    the reference: then splitting it into urgency batches only waits on a moving market."""
    if reference is None or reference <= 0:
        return False
    plan = allocate([quote_for(s, side) for s in states], side, remaining, cap)
    average = plan.average_price
    if plan.filled < remaining or average is None:
        return False
    gap = reference - average if side is Side.SELL else average - reference
    return gap < reference * impact
