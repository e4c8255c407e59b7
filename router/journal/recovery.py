"""Recovery on start (and takeover): make the journal agree with the venues again.

Every unfinished close this process can claim is reconciled: each attempt that is not
final (PENDING_SEND, SENT, UNKNOWN, and resting OPEN / PARTIALLY_FILLED ones) is
looked up on its venue by client order id; missing fills are read from the venue's
trade history and inserted (once), states are corrected, and the close is either
ready to resume or handed to the operator with a reason when a venue cannot answer.

A close may also *finish* with an order still in doubt (its venue could not be reached
before the close's window ended): :func:`settle_finished` looks such orders up again
later, journals their fills, and restates the close's filled, hedged and residual
quantities and its outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from router.core.numbers import plain
from router.core.orders import OrderState
from router.journal.holdings import holdings, is_whole, record_covers
from router.journal.records import AttemptView, CloseView, FillRecord
from router.journal.repository import Journal, OutcomeUpdate

ZERO = Decimal(0)
DEFAULT_LEASE = timedelta(seconds=30)
RESTATED = "restated"
AT_THE_CLOSE = "at the close: "


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """What a venue says about one order (state already mapped to ours)."""

    client_order_id: str
    exchange_order_id: str
    state: OrderState
    filled_qty: Decimal


@dataclass(frozen=True, slots=True)
class VenueTrade:
    trade_id: str
    exchange_order_id: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str | None
    traded_at: datetime


class LookupFailed(Exception):
    """The venue could not answer now (down, rate-limited): the order stays in doubt."""


class VenueLookup(Protocol):
    """What recovery needs from a venue; the engine's venue adapter implements it."""

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        """The order, or ``None`` if the venue has no order with that client id."""
        ...

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]: ...


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


async def reconcile_attempt(journal: Journal, lookup: VenueLookup, attempt: AttemptView) -> int:
    """Bring one attempt in line with its venue; return how many fills were added.

    Raises :class:`LookupFailed` when the venue cannot answer.
    """
    order = await lookup.order_by_client_id(
        attempt.venue, attempt.market, attempt.symbol, attempt.client_order_id
    )
    if order is None:
        if attempt.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
            raise LookupFailed(
                f"{attempt.venue} no longer knows acknowledged order {attempt.client_order_id}"
            )
        await journal.record_outcome(
            attempt.client_order_id,
            OutcomeUpdate(
                OrderState.REJECTED,
                error_class="NotPlaced",
                error_message="recovery: the venue has no order with this client order id",
            ),
        )
        return 0
    trades: Sequence[VenueTrade] = ()
    if order.filled_qty > 0:
        trades = await lookup.trades_for_order(
            attempt.venue, attempt.market, attempt.symbol, order.exchange_order_id
        )
    fills = [
        FillRecord(
            close_id=attempt.close_id,
            client_order_id=attempt.client_order_id,
            venue=attempt.venue,
            market=attempt.market,
            trade_id=t.trade_id,
            exchange_order_id=t.exchange_order_id,
            side=t.side,
            quantity=t.quantity,
            price=t.price,
            fee=t.fee,
            fee_asset=t.fee_asset,
            traded_at=t.traded_at,
        )
        for t in trades
    ]
    if attempt.state is OrderState.PENDING_SEND:
        await journal.record_outcome(attempt.client_order_id, OutcomeUpdate(OrderState.UNKNOWN))
    added = await journal.record_fills(fills)
    await journal.record_outcome(
        attempt.client_order_id,
        OutcomeUpdate(
            order.state, exchange_order_id=order.exchange_order_id, filled_qty=order.filled_qty
        ),
    )
    return added


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
    result.filled_qty = sum((a.filled_qty for a in attempts if a.purpose == "close"), ZERO)
    if result.unresolved:
        reason = "recovery could not reconcile: " + "; ".join(result.unresolved)
        await journal.update_close(
            close.id, state="NEEDS_OPERATOR", filled_qty=result.filled_qty, reason=reason
        )
    else:
        await journal.update_close(close.id, state="RUNNING", filled_qty=result.filled_qty)
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
    outcome: str | None = None
    """The (possibly restated) outcome once everything settled could be counted."""


def _restated(
    close: CloseView, filled: Decimal, hedged: Decimal, doubt: Decimal, unknown: bool = False
) -> tuple[str, str]:
    residual = close.requested_qty - filled - hedged
    if unknown:
        outcome = "STRANDED"
    elif residual <= 0:
        outcome = "FLAT" if hedged == 0 else "HEDGED"
    elif close.outcome == "HEDGED" and doubt == 0:
        outcome = "HEDGED"
    else:
        outcome = "STRANDED"
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


async def settle_finished(journal: Journal, lookup: VenueLookup) -> list[SettledClose]:
    """Look up the orders finished closes left in doubt; restate those closes.

    Idempotent, so two routers sharing a journal may both run it: fills are inserted
    once and the restated figures are computed from the attempts alone.
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
            await _restate(journal, close, doubtful, result)
        settled.append(result)
    return settled


async def _restate(
    journal: Journal, close: CloseView, doubtful: Sequence[AttemptView], result: SettledClose
) -> None:
    """Add what the settled orders filled to the close's figures (and hedge rows)."""
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
        if attempt.purpose == "hedge":
            hedged += gained
            if attempt.hedge_id is not None:
                hedge_rows[attempt.hedge_id] = hedge_rows.get(attempt.hedge_id, ZERO) + gained
        elif attempt.purpose in ("close", "net"):
            filled += gained
    rows = {row["id"]: row for row in await journal.hedges()}
    for hedge_id, gained in hedge_rows.items():
        row = rows.get(hedge_id)
        if row is not None and gained > 0:
            await journal.update_hedge(
                hedge_id,
                quantity=row["quantity"] + gained,
                state="OPEN" if row["state"] in ("OPENING", "CLOSED") else row["state"],
            )
    unknown = is_whole(close) and any(h.held is None for h in await holdings(journal, close.id))
    if hedged != close.hedged_qty:
        await record_covers(journal, close, requested=close.requested_qty, hedged=hedged)
    outcome, reason = _restated(close, filled, hedged, doubt, unknown)
    await journal.restate_outcome(
        close.id,
        outcome,
        filled_qty=filled,
        hedged_qty=hedged,
        residual_qty=close.requested_qty - filled - hedged,
        reason=reason,
    )
    result.outcome = outcome


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
                if a.purpose == "unwind" and a.hedge_id == row["id"]
            ),
            ZERO,
        )
        if unwound == row["unwound_qty"]:
            continue
        state = "CLOSED" if unwound >= row["quantity"] else "UNWINDING"
        await journal.update_hedge(row["id"], unwound_qty=unwound, state=state)
        corrected.append(row["id"])
    return corrected
