"""A close's position per venue, and who covers what of it: pure attribution.

A close resolves, per configured venue, what the account held of the asset when the
close started (or that it could not tell, and why). At the end the close has sold some
of it on each venue, shorted some perpetual quantity in total, and left the rest. This
module answers, per venue: held at start, sold there, hedged on its behalf, and the
residual, so that for every venue ``held = sold + hedged + residual + kept`` where
``kept`` is what an explicit (partial) close never meant to take.

Who a hedge covers is a matter of attribution, not of the venues' ledgers (a short on
alpha's perpetual covers delta, whichever spot wallet holds the coins): the unsold
holdings of venues that could not trade (``stuck``) are covered first, then the
largest remainders. The same order picks which venue's holdings an explicit quantity
leaves unsold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueHolding:
    """One venue's part of a position: ``held`` is ``None`` while it is unknown."""

    venue: str
    held: Decimal | None
    unknown_reason: str | None = None
    stuck: bool = False
    left_reason: str | None = None


@dataclass(frozen=True, slots=True)
class VenueFigures:
    """Held at start, sold there, hedged on its behalf, residual, and kept out of the close."""

    venue: str
    held: Decimal | None
    sold: Decimal
    hedged: Decimal
    residual: Decimal | None
    kept: Decimal
    why: str | None
    """Why the residual (or the unknown holding) is there."""


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """Every venue's figures, plus what no venue's known holdings account for."""

    venues: tuple[VenueFigures, ...]
    unattributed: Decimal
    """Residual of the close that no venue's known holdings explain: it sits on venues
    whose holdings are unknown (or was never there)."""
    unknown: tuple[str, ...]
    """Venues whose holdings are still unknown."""

    def by_venue(self) -> dict[str, VenueFigures]:
        return {v.venue: v for v in self.venues}


def _order(rows: Sequence[tuple[VenueHolding, Decimal]]) -> list[tuple[VenueHolding, Decimal]]:
    """Stuck venues first, then the largest amount, then by name (deterministic)."""
    return sorted(rows, key=lambda row: (not row[0].stuck, -row[1], row[0].venue))


def _spread(amount: Decimal, capacities: list[tuple[VenueHolding, Decimal]]) -> dict[str, Decimal]:
    """Give ``amount`` to the venues in order, each up to its capacity."""
    given: dict[str, Decimal] = {}
    left = amount
    for holding, capacity in _order(capacities):
        take = min(left, capacity) if left > 0 else ZERO
        given[holding.venue] = take
        left -= take
    return given


def attribute(
    holdings: Sequence[VenueHolding],
    sold: Mapping[str, Decimal],
    *,
    requested: Decimal,
    hedged: Decimal,
    whole: bool,
) -> PositionFigures:
    """Per-venue figures of a close.

    ``sold`` maps venues to what the close sold there (other keys, such as an internal
    crossing, count as sold but belong to no venue's holdings); ``requested`` is the
    close's quantity, ``hedged`` the perpetual quantity that covers it, ``whole`` whether
    the close is of everything held (``quantity = "all"``).
    """
    known = [h for h in holdings if h.held is not None]
    names = {h.venue for h in holdings}
    total_sold = sum(sold.values(), ZERO)
    left = [(h, max((h.held or ZERO) - sold.get(h.venue, ZERO), ZERO)) for h in known]
    if whole:
        share = {h.venue: amount for h, amount in left}
    else:
        share = _spread(max(requested - total_sold, ZERO), left)
    covered = _spread(hedged, [(h, share[h.venue]) for h, _ in left])
    rows: list[VenueFigures] = []
    for holding in holdings:
        venue = holding.venue
        sold_here = sold.get(venue, ZERO)
        if holding.held is None:
            rows.append(
                VenueFigures(
                    venue, None, sold_here, ZERO, None, ZERO, holding.unknown_reason or "unknown"
                )
            )
            continue
        remainder = max(holding.held - sold_here, ZERO)
        part = share[venue]
        hedged_here = covered[venue]
        residual = part - hedged_here
        rows.append(
            VenueFigures(
                venue,
                holding.held,
                sold_here,
                hedged_here,
                residual,
                remainder - part,
                holding.left_reason if residual > 0 or hedged_here > 0 else None,
            )
        )
    for venue in sorted(set(sold) - names):
        rows.append(VenueFigures(venue, None, sold[venue], ZERO, ZERO, ZERO, None))
    attributed = total_sold + sum((r.hedged + (r.residual or ZERO) for r in rows), ZERO)
    return PositionFigures(
        tuple(rows),
        max(requested - attributed, ZERO),
        tuple(h.venue for h in holdings if h.held is None),
    )
