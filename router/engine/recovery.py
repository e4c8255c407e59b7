"""Recovery on start (and takeover): make the journal agree with the venues again.

Every unfinished close this process can claim is reconciled: each attempt that is not
final (PENDING_SEND, SENT, UNKNOWN, and resting OPEN / PARTIALLY_FILLED ones) is
looked up on its venue by client order id; missing fills are read from the venue's
trade history and inserted (once), states are corrected, and the close is either
ready to resume or handed to the operator with a reason when a venue cannot answer.

A close may also *finish* with an order still in doubt (its venue could not be reached
before the close's window ended): :func:`settle_finished` looks such orders up again
later, journals their fills, and has the journal restate the close's filled, hedged
and residual quantities and its outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from router.core.lifecycle import CloseOutcome, CloseState
from router.core.purpose import OWN_PURPOSES
from router.engine.reconcile import VenueLookup, reconcile_attempt
from router.journal.records import DEFAULT_LEASE, AttemptView, CloseView
from router.journal.recovery import restate
from router.journal.repository import Journal
from router.venues.reports import LookupFailed

ZERO = Decimal(0)


@dataclass
class CloseRecovery:
    close: CloseView
    reconciled: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    fills_added: int = 0
    filled_qty: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.close.requested_qty - self.filled_qty - self.close.hedged_qty

    @property
    def resumable(self) -> bool:
        return not self.unresolved


@dataclass
class RecoveryReport:
    closes: list[CloseRecovery] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Closes another live process holds."""


async def recover_close(journal: Journal, lookup: VenueLookup, close: CloseView) -> CloseRecovery:
    """Reconcile every non-final attempt of one close (the caller holds its lease)."""
    result = CloseRecovery(close)
    for attempt in await journal.in_flight(close.id):
        try:
            result.fills_added += await reconcile_attempt(journal, lookup, attempt)
        except LookupFailed as exc:
            result.unresolved.append(f"{attempt.client_order_id} on {attempt.venue}: {exc}")
            await journal.record_venue_event(
                venue=attempt.venue,
                kind="unknown_outcome",
                detail=f"recovery could not look up the order: {exc}",
                close_id=close.id,
                client_order_id=attempt.client_order_id,
            )
            continue
        result.reconciled.append(attempt.client_order_id)
    attempts = await journal.attempts(close.id)
    result.filled_qty = sum((a.filled_qty for a in attempts if a.purpose in OWN_PURPOSES), ZERO)
    if result.unresolved:
        reason = "recovery could not reconcile: " + "; ".join(result.unresolved)
        await journal.update_close(
            close.id, state=CloseState.NEEDS_OPERATOR, filled_qty=result.filled_qty, reason=reason
        )
    else:
        await journal.update_close(close.id, state=CloseState.RUNNING, filled_qty=result.filled_qty)
    return result


async def recover(
    journal: Journal,
    lookup: VenueLookup,
    *,
    lease: timedelta = DEFAULT_LEASE,
    busy: Callable[[CloseView], bool] | None = None,
) -> RecoveryReport:
    """Claim and reconcile every unfinished close nobody else holds.

    ``busy`` names closes this process is running right now (they are its own, so
    claimable, but must not be recovered under their running close).
    """
    report = RecoveryReport()
    for close in await journal.unfinished_closes():
        if busy is not None and busy(close):
            continue
        if not await journal.claim(close.id, lease):
            report.skipped.append(close.id)
            continue
        report.closes.append(await recover_close(journal, lookup, close))
    return report


@dataclass
class SettledClose:
    """A finished close whose in-doubt orders were looked up again."""

    close_id: str
    settled: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    outcome: CloseOutcome | None = None
    """The (possibly restated) outcome once everything settled could be counted."""


async def settle_finished(
    journal: Journal,
    lookup: VenueLookup,
    perp_lot: Callable[[CloseView], Decimal | None] | None = None,
) -> list[SettledClose]:
    """Look up the orders finished closes left in doubt; restate those closes.

    Idempotent, so two routers sharing a journal may both run it: fills are inserted
    once and the restated figures are computed from the attempts alone. ``perp_lot``
    gives a close's smallest perp lot (what the outcome rule counts as hedged dust).
    """
    by_close: dict[str, list[AttemptView]] = {}
    for attempt in await journal.in_flight_of_finished():
        by_close.setdefault(attempt.close_id, []).append(attempt)
    settled: list[SettledClose] = []
    for close_id, doubtful in by_close.items():
        close = await journal.get_close(close_id)
        if close is None:
            continue
        result = SettledClose(close_id, outcome=close.outcome)
        for attempt in doubtful:
            try:
                await reconcile_attempt(journal, lookup, attempt)
            except LookupFailed as exc:
                result.unresolved.append(f"{attempt.client_order_id} on {attempt.venue}: {exc}")
                continue
            result.settled.append(attempt.client_order_id)
            after = await journal.attempt(attempt.client_order_id)
            await journal.record_venue_event(
                venue=attempt.venue,
                kind="doubt_settled",
                detail=(
                    f"order left in doubt by the finished close is "
                    f"{after.state.value if after else 'unknown'}, filled "
                    f"{after.filled_qty if after else 0}"
                ),
                close_id=close_id,
                client_order_id=attempt.client_order_id,
            )
        if result.settled:
            lot = perp_lot(close) if perp_lot is not None else None
            result.outcome = await restate(journal, close, doubtful, lot)
        settled.append(result)
    return settled
