"""The outcome rule: FLAT, HEDGED or STRANDED from where a close ends."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from router.core.lifecycle import CloseOutcome


@dataclass(frozen=True)
class CloseFigures:
    """Where a close ends: requested, sold on spot, hedged, and still in doubt."""

    quantity: Decimal
    filled: Decimal
    hedged: Decimal
    in_doubt: Decimal

    @property
    def residual(self) -> Decimal:
        return self.quantity - self.filled - self.hedged

    def dust(self, perp_lot: Decimal | None) -> bool:
        """Whether the residual is hedged dust: something was hedged, nothing is in
        doubt, and what is left is below the smallest perp lot (``perp_lot``), so no
        venue could hedge it (nor sell it, or spot would have)."""
        residual = self.residual
        return (
            residual > 0
            and self.hedged > 0
            and self.in_doubt == 0
            and perp_lot is not None
            and residual < perp_lot
        )


def close_outcome(
    figures: CloseFigures, *, perp_lot: Decimal | None, unknown: bool = False
) -> CloseOutcome:
    """FLAT only when every unit was sold; HEDGED when the rest is covered by perp shorts
    (up to dust, see :meth:`CloseFigures.dust`); STRANDED otherwise, and always when
    holdings are ``unknown`` somewhere (nobody can say the close is flat)."""
    if unknown:
        return CloseOutcome.STRANDED
    if figures.residual <= 0:
        return CloseOutcome.FLAT if figures.hedged == 0 else CloseOutcome.HEDGED
    if figures.dust(perp_lot):
        return CloseOutcome.HEDGED
    return CloseOutcome.STRANDED
