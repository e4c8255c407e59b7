"""Spot or perpetual: whether hedging the rest now beats selling it on spot at this tier.

The seed hedges only when spot cannot fill. In a crash spot often *can* fill, but only
by walking a gutted book far below where the perpetual still trades (Black Thursday:
spot bids near 3,000 while the perp bid 3,900). A short perp locks the price for the
whole remainder, so when the perpetual's plan beats the spot plan at the current tier
by more than a margin (basis, funding and the later unwind are not free), the router
hedges the rest instead of climbing further into the spot book.
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
    """True when covering all of ``quantity`` on the perpetual (``perp``) is worth more
    than the ``spot`` plan by more than ``margin`` (a fraction), net of fees.

    The spot plan's unfilled part would be hedged anyway, so it is valued at the perp's
    unit price; a perp plan that cannot cover all of ``quantity`` never wins.
    """
    if quantity <= 0 or perp.filled < quantity or perp.filled == 0:
        return False
    unit = perp.net / perp.filled
    spot_value = spot.net + (quantity - spot.filled) * unit
    perp_value = unit * quantity
    if side is Side.SELL:
        return perp_value * (ONE - margin) > spot_value
    return perp_value * (ONE + margin) < spot_value
