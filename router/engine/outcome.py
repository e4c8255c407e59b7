"""What a close achieved, computed from the journal: the numbers an operator reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.core.lifecycle import CloseOutcome
from router.core.outcome import CloseFigures, close_outcome
from router.core.position import PositionFigures
from router.core.purpose import OWN_PURPOSES, Purpose
from router.engine.ports import VenuePort, lists
from router.journal.holdings import position_figures
from router.journal.repository import Journal

ZERO = Decimal(0)
BPS = Decimal(10000)


@dataclass(frozen=True)
class VenueBreakdown:
    filled: Decimal
    average_price: Decimal | None
    attempts: int
    hedged: Decimal = ZERO
    """Quantity shorted on the venue's perpetual for this close."""


@dataclass(frozen=True)
class CloseResult:
    close_id: str
    outcome: CloseOutcome | None
    reason: str | None
    side: str
    requested: Decimal
    filled: Decimal
    hedged: Decimal
    residual: Decimal
    average_price: Decimal | None
    arrival_mid: Decimal | None
    shortfall_bps: Decimal | None
    """Of everything exited: the spot fills at their prices, the hedge at its prices."""
    fees: Decimal
    duration_s: float
    attempts: int
    fills: int
    venues: dict[str, VenueBreakdown] = field(default_factory=dict)
    hedge_price: Decimal | None = None
    """Average price of the perpetual hedge's fills (``None`` without a hedge)."""
    position: PositionFigures | None = None
    """Per venue: held at start, sold, hedged on its behalf, residual and why."""

    def as_json(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else format(value.normalize(), "f")

        position = None
        if self.position is not None:
            position = {
                "venues": {
                    v.venue: {
                        "held": text(v.held),
                        "sold": text(v.sold),
                        "hedged": text(v.hedged),
                        "residual": text(v.residual),
                        "kept": text(v.kept),
                        "why": v.why,
                    }
                    for v in self.position.venues
                },
                "unknown": list(self.position.unknown),
                "unattributed": text(self.position.unattributed),
            }

        return {
            "close_id": self.close_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "side": self.side,
            "requested": text(self.requested),
            "filled": text(self.filled),
            "hedged": text(self.hedged),
            "residual": text(self.residual),
            "average_price": text(self.average_price),
            "hedge_price": text(self.hedge_price),
            "arrival_mid": text(self.arrival_mid),
            "shortfall_bps": text(
                self.shortfall_bps.quantize(Decimal("0.01"))
                if self.shortfall_bps
                else self.shortfall_bps
            ),
            "fees": text(self.fees),
            "duration_s": round(self.duration_s, 3),
            "venues": {
                name: {
                    "filled": text(v.filled),
                    "average_price": text(v.average_price),
                    "attempts": v.attempts,
                    "hedged": text(v.hedged),
                }
                for name, v in self.venues.items()
            },
            "attempts": self.attempts,
            "fills": self.fills,
            "position": position,
        }


def _named(venues: Mapping[str, str]) -> str:
    return "; ".join(f"{name}: {why}" for name, why in sorted(venues.items()))


def state_outcome(
    figures: CloseFigures,
    why: str,
    *,
    symbol: str,
    perp_lot: Decimal | None,
    unknown: Mapping[str, str] | None = None,
    stuck: Mapping[str, str] | None = None,
) -> tuple[CloseOutcome, str]:
    """The outcome (:func:`router.core.outcome.close_outcome`) with its reason; a residual
    is always named. ``unknown`` names the venues whose holdings could never be read (a close of
    everything held is then STRANDED: nobody can say it is flat); ``stuck`` the venues
    that could not trade when the close ended, whose holdings a hedge covered or that
    remain as the residual. Dust below ``perp_lot`` (the smallest among the venues that
    could hedge) is reported as the residual of a HEDGED close.
    """
    residual, hedged, in_doubt = figures.residual, figures.hedged, figures.in_doubt
    unknown = unknown or {}
    stuck = stuck or {}
    outcome = close_outcome(figures, perp_lot=perp_lot, unknown=bool(unknown))
    where = f" (held on venues that could not trade: {_named(stuck)})" if stuck else ""
    if outcome is CloseOutcome.FLAT:
        return outcome, "sold in spot"
    if outcome is CloseOutcome.HEDGED and residual <= 0:
        return outcome, f"spot: {why}; the rest is covered by a perp short{where}"
    if outcome is CloseOutcome.HEDGED:
        return outcome, (
            f"spot: {why}; {hedged} covered by a perp short{where}; {residual} "
            f"{symbol} of dust below the smallest perp lot ({perp_lot}) remains"
        )
    parts = []
    if unknown:
        parts.append(f"holdings unknown on {_named(unknown)}")
    if residual > 0:
        parts.append(f"residual {residual} {symbol} not closed: {why}{where}")
    if in_doubt > 0:
        parts.append(f"{in_doubt} still in doubt on a venue that cannot be reached")
    if hedged > 0:
        parts.append(f"{hedged} hedged with a perp short")
    if residual <= 0 and not unknown:
        parts.append(f"spot: {why}")
    return outcome, "; ".join(parts)


def smallest_perp_lot(
    venues: Mapping[str, VenuePort], names: Iterable[str], perp_symbol: str
) -> Decimal | None:
    """The smallest perp lot among the named venues listing ``perp_symbol``: the
    outcome rule's bound on hedged dust (``None`` when none lists it)."""
    steps = [venues[n].market(perp_symbol).lot_step for n in names if lists(venues[n], perp_symbol)]
    return min(steps) if steps else None


def shortfall_bps(
    side: str, average: Decimal | None, arrival_mid: Decimal | None
) -> Decimal | None:
    """Implementation shortfall of the exited part (at ``average``) against the arrival
    mid, in bps."""
    if average is None or arrival_mid is None or arrival_mid == 0:
        return None
    signed = arrival_mid - average if side == "sell" else average - arrival_mid
    return signed / arrival_mid * BPS


async def summarize(
    journal: Journal, close_id: str, arrival_mid: Decimal | None, duration_s: float
) -> CloseResult:
    close = await journal.get_close(close_id)
    assert close is not None
    every = await journal.attempts(close_id)
    attempts = [a for a in every if a.purpose in OWN_PURPOSES]
    close_ids = {a.client_order_id for a in attempts}
    hedge_ids = {a.client_order_id for a in every if a.purpose == Purpose.HEDGE}
    all_fills = await journal.fills(close_id)
    fills = [f for f in all_fills if f.client_order_id in close_ids]
    hedge_fills = [f for f in all_fills if f.client_order_id in hedge_ids]
    gross = sum((f.quantity * f.price for f in fills), ZERO)
    filled = sum((f.quantity for f in fills), ZERO)
    average = gross / filled if filled else None
    hedge_qty = sum((f.quantity for f in hedge_fills), ZERO)
    hedge_gross = sum((f.quantity * f.price for f in hedge_fills), ZERO)
    exited = filled + hedge_qty
    exit_average = (gross + hedge_gross) / exited if exited else None
    venues: dict[str, VenueBreakdown] = {}
    hedge_venues = {a.venue for a in every if a.purpose == Purpose.HEDGE}
    for name in sorted({a.venue for a in attempts} | hedge_venues):
        venue_fills = [f for f in fills if f.venue == name]
        qty = sum((f.quantity for f in venue_fills), ZERO)
        notional = sum((f.quantity * f.price for f in venue_fills), ZERO)
        venues[name] = VenueBreakdown(
            qty,
            notional / qty if qty else None,
            sum(
                1
                for a in every
                if a.venue == name and (a.purpose in OWN_PURPOSES or a.purpose == Purpose.HEDGE)
            ),
            hedged=sum((f.quantity for f in hedge_fills if f.venue == name), ZERO),
        )
    fees = sum((f.fee for f in fills if f.fee_asset == "USDT"), ZERO)
    residual = (
        close.residual_qty
        if close.residual_qty is not None
        else (close.requested_qty - filled - close.hedged_qty)
    )
    return CloseResult(
        close_id=close_id,
        outcome=close.outcome,
        reason=close.outcome_reason,
        side=close.side,
        requested=close.requested_qty,
        filled=filled,
        hedged=close.hedged_qty,
        residual=residual,
        average_price=average,
        arrival_mid=arrival_mid,
        shortfall_bps=shortfall_bps(close.side, exit_average, arrival_mid),
        fees=fees,
        duration_s=duration_s,
        attempts=len(every),
        fills=len(all_fills),
        venues=venues,
        hedge_price=hedge_gross / hedge_qty if hedge_qty else None,
        position=await position_figures(journal, close),
    )
