"""Restating a finished close once the orders it left in doubt are known, and
bringing open hedge rows up to their unwind orders.

The engine's recovery looks the orders up on their venues and journals what they did
(:mod:`router.engine.recovery`); what follows from those attempts for the close's
figures and its hedge rows is computed here from the journal alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from router.core.lifecycle import CloseOutcome, HedgeState, unwound_state
from router.core.numbers import plain
from router.core.outcome import CloseFigures, close_outcome
from router.core.purpose import OWN_PURPOSES, Purpose
from router.journal.holdings import holdings, is_whole, record_covers
from router.journal.records import AttemptView, CloseView
from router.journal.repository import Journal

ZERO = Decimal(0)
RESTATED = "restated"
AT_THE_CLOSE = "at the close: "


def _restated(
    close: CloseView, figures: CloseFigures, perp_lot: Decimal | None, unknown: bool
) -> tuple[CloseOutcome, str]:
    outcome = close_outcome(figures, perp_lot=perp_lot, unknown=unknown)
    filled, hedged, doubt = figures.filled, figures.hedged, figures.in_doubt
    residual = figures.residual
    reason = (
        f"{RESTATED} once the orders it left in doubt were known: filled {plain(filled)}, "
        f"hedged {plain(hedged)}, residual {plain(residual)}"
    )
    if doubt > 0:
        reason += f", {plain(doubt)} still in doubt"
    original = close.outcome_reason or ""
    if original.startswith(RESTATED):
        original = original.split(AT_THE_CLOSE, 1)[-1].removesuffix(")")
    return outcome, f"{reason} ({AT_THE_CLOSE}{original})"


async def restate(
    journal: Journal,
    close: CloseView,
    doubtful: Sequence[AttemptView],
    perp_lot: Decimal | None = None,
) -> CloseOutcome:
    """Add what the settled orders filled to the close's figures (and hedge rows).

    ``doubtful`` are the close's attempts as they stood before they were settled;
    ``perp_lot`` is the smallest perp lot of the close's venues (the outcome rule's
    bound on hedged dust, ``None`` when unknown). Returns the (possibly restated) outcome.
    """
    before = {a.client_order_id: a for a in doubtful}
    filled, hedged = close.filled_qty, close.hedged_qty
    doubt = ZERO
    hedge_rows: dict[int, Decimal] = {}
    for attempt in await journal.attempts(close.id):
        old = before.get(attempt.client_order_id)
        if attempt.state.in_doubt:
            doubt += attempt.quantity
        if old is None:
            continue
        gained = attempt.filled_qty - old.filled_qty
        if attempt.purpose == Purpose.HEDGE:
            hedged += gained
            if attempt.hedge_id is not None:
                hedge_rows[attempt.hedge_id] = hedge_rows.get(attempt.hedge_id, ZERO) + gained
        elif attempt.purpose in OWN_PURPOSES:
            filled += gained
    rows = {row["id"]: row for row in await journal.hedges()}
    for hedge_id, gained in hedge_rows.items():
        row = rows.get(hedge_id)
        if row is not None and gained > 0:
            await journal.update_hedge(
                hedge_id,
                quantity=row["quantity"] + gained,
                average_price=await journal.hedge_price(hedge_id),
                state=_reopened(HedgeState(row["state"])),
            )
    unknown = is_whole(close) and any(h.held is None for h in await holdings(journal, close.id))
    if hedged != close.hedged_qty:
        await record_covers(journal, close, requested=close.requested_qty, hedged=hedged)
    figures = CloseFigures(close.requested_qty, filled, hedged, doubt)
    outcome, reason = _restated(close, figures, perp_lot, unknown)
    await journal.restate_outcome(
        close.id,
        outcome,
        filled_qty=filled,
        hedged_qty=hedged,
        residual_qty=close.requested_qty - filled - hedged,
        reason=reason,
    )
    return outcome


def _reopened(state: HedgeState) -> HedgeState:
    """A hedge whose leg filled late: open again if it was opening or had closed empty."""
    return HedgeState.OPEN if state in (HedgeState.OPENING, HedgeState.CLOSED) else state


async def sync_unwinds(journal: Journal) -> list[int]:
    """Book on every open hedge what its unwind orders bought back.

    A router killed while unwinding (after the venue executed, before the hedge row was
    updated) leaves the row behind the venue; recovery and settlement bring the unwind
    attempts up to date, and this brings the rows up to the attempts. Returns the ids
    of the rows corrected.
    """
    corrected: list[int] = []
    rows = await journal.hedges(open_only=True)
    by_close: dict[str, list[AttemptView]] = {}
    for row in rows:
        if row["close_id"] not in by_close:
            by_close[row["close_id"]] = await journal.attempts(row["close_id"])
        unwound = sum(
            (
                a.filled_qty
                for a in by_close[row["close_id"]]
                if a.purpose == Purpose.UNWIND and a.hedge_id == row["id"]
            ),
            ZERO,
        )
        if unwound == row["unwound_qty"]:
            continue
        state = unwound_state(unwound, row["quantity"])
        await journal.update_hedge(row["id"], unwound_qty=unwound, state=state)
        corrected.append(row["id"])
    return corrected
