"""Spot or perpetual: whether hedging the rest now beats selling it on spot at this tier.

The seed hedges only when spot cannot fill. In a crash spot often *can* fill, but only
by walking a gutted book far below where the perpetual still trades (Black Thursday:
spot bids near 3,000 while the perp bid 3,900). A short perp locks the price, so when
the perpetual's plan pays more per unit than the spot plan at the current tier by more
than a margin (basis, funding and the later unwind are not free), the router hedges
instead of climbing further into the spot book; what the perpetual cannot take goes
back to spot.
"""

from __future__ import annotations

from decimal import Decimal

from router.core.allocation import Allocation
from router.core.book import Side

ZERO = Decimal(0)
ONE = Decimal(1)


def hedge_beats_spot(
    side: Side, quantity: Decimal, spot: Allocation, perp: Allocation, margin: Decimal
) -> bool:
    """True when the perpetual's plan pays more per unit than the spot plan for the same
    remainder (``quantity``) by more than ``margin`` (a fraction), net of fees.

    The perpetual need not cover everything: what it cannot take goes back to spot. A
    spot plan that fills nothing is no reason by itself (the next rung may fill), so it
    never makes the perpetual win.
    """
    if quantity <= 0 or perp.filled == 0 or spot.filled == 0:
        return False
    perp_unit = perp.net / perp.filled
    spot_unit = spot.net / spot.filled
    if side is Side.SELL:
        return perp_unit * (ONE - margin) > spot_unit
    return perp_unit * (ONE + margin) < spot_unit
