"""Guard mode's decision: when a watched position must be closed, and at which tier.

The seed's multi-level stop-loss as a standing safety net for when Daimon is silent:
a position whose unrealised PnL reaches a stop tier (-10% / -20% / -30%) is closed
with that tier's slippage tolerance (5% / 10% / unbounded), and a position whose
escape window drops under the policy's threshold is closed at once at full urgency.
Each tier fires once; a deeper tier fires again for whatever is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from router.core.liquidity import EscapeWindow
from router.core.policy import Policy

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class GuardedPosition:
    name: str
    symbol: str
    side: Literal["long", "short"]
    entry_price: Decimal
    quantity: Decimal

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        """PnL as a fraction of the entry value (negative = loss)."""
        change = (price - self.entry_price) / self.entry_price
        return change if self.side == "long" else -change

    @property
    def close_side(self) -> Literal["sell", "buy"]:
        return "sell" if self.side == "long" else "buy"


@dataclass(frozen=True, slots=True)
class GuardTrigger:
    position: str
    rung: int
    """The ladder rung the close is held to (the tier's tolerance)."""
    tolerance: Decimal | None
    urgency: Decimal
    unrealized_pnl: Decimal
    reason: str
    kind: Literal["stop_tier", "escape_now"]


def evaluate(
    position: GuardedPosition,
    price: Decimal,
    window: EscapeWindow | None,
    policy: Policy,
    fired: frozenset[int],
) -> GuardTrigger | None:
    """The trigger to act on now, or ``None``. ``fired`` holds the rungs already acted on."""
    pnl = position.unrealized_pnl(price)
    tier = policy.stop_tier(pnl)
    if tier is not None:
        rung = policy.ladder.index(tier.max_slippage)
        if rung not in fired:
            tolerance = tier.max_slippage
            limit = "unbounded" if tolerance is None else f"{tolerance:.0%}"
            return GuardTrigger(
                position=position.name,
                rung=rung,
                tolerance=tolerance,
                urgency=ONE,
                unrealized_pnl=pnl,
                reason=(
                    f"{tier.name} stop: unrealised PnL {pnl:.2%} reached "
                    f"{tier.pnl_at_or_below:.0%}; closing with {limit} slippage tolerance"
                ),
                kind="stop_tier",
            )
    if window is not None and window.escape_now:
        top = len(policy.ladder) - 1
        if top not in fired:
            return GuardTrigger(
                position=position.name,
                rung=top,
                tolerance=policy.tolerance(top),
                urgency=ONE,
                unrealized_pnl=pnl,
                reason=(
                    f"escape window {window.seconds:.0f} s is under "
                    f"{policy.liquidity.escape_now_below_s} s: escape now"
                ),
                kind="escape_now",
            )
    return None
