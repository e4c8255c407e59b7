"""Bring one journaled attempt in line with what its venue reports.

:func:`reconciliation` is the decision: from the attempt and the venue's report (the
order, or ``None`` when the venue has no order with that client id, and its trades) it
derives the journal writes, in order. :func:`reconcile_attempt` asks the venue and
applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from router.core.orders import OrderState
from router.journal.records import AttemptView, FillRecord
from router.journal.repository import Journal, OutcomeUpdate
from router.venues.reports import LookupFailed, VenueOrder, VenueTrade


class VenueLookup(Protocol):
    """What reconciliation needs from a venue; the venue adapter implements it."""

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        """The order, or ``None`` if the venue has no order with that client id."""
        ...

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]: ...


class OrderRef(Protocol):
    """The journal's names of one order: its close, client order id, venue and market."""

    @property
    def close_id(self) -> str: ...

    @property
    def client_order_id(self) -> str: ...

    @property
    def venue(self) -> str: ...

    @property
    def market(self) -> str: ...


def fill_from_trade(order: OrderRef, trade: VenueTrade) -> FillRecord:
    """The journal's fill for one of the order's trades."""
    return FillRecord(
        close_id=order.close_id,
        client_order_id=order.client_order_id,
        venue=order.venue,
        market=order.market,
        trade_id=trade.trade_id,
        exchange_order_id=trade.exchange_order_id,
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        fee=trade.fee,
        fee_asset=trade.fee_asset,
        traded_at=trade.traded_at,
    )


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The journal writes for one attempt, applied in this order: ``first`` (if any),
    then ``fills`` (each inserted once), then ``outcome``."""

    outcome: OutcomeUpdate
    fills: tuple[FillRecord, ...] = ()
    first: OutcomeUpdate | None = None


def reconciliation(
    attempt: AttemptView, order: VenueOrder | None, trades: Sequence[VenueTrade] = ()
) -> Reconciliation:
    """What the journal must record so ``attempt`` agrees with the venue's report.

    An order the venue never saw was not placed. One it acknowledged but no longer
    knows cannot be settled from here: :class:`LookupFailed`, so it stays in doubt.
    An attempt still PENDING_SEND becomes UNKNOWN before it takes the venue's state.
    """
    if order is None:
        if attempt.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
            raise LookupFailed(
                f"{attempt.venue} no longer knows acknowledged order {attempt.client_order_id}"
            )
        return Reconciliation(
            OutcomeUpdate(
                OrderState.REJECTED,
                error_class="NotPlaced",
                error_message="recovery: the venue has no order with this client order id",
            )
        )
    return Reconciliation(
        OutcomeUpdate(
            order.state, exchange_order_id=order.exchange_order_id, filled_qty=order.filled_qty
        ),
        fills=tuple(fill_from_trade(attempt, t) for t in trades),
        first=(
            OutcomeUpdate(OrderState.UNKNOWN) if attempt.state is OrderState.PENDING_SEND else None
        ),
    )


async def reconcile_attempt(journal: Journal, lookup: VenueLookup, attempt: AttemptView) -> int:
    """Bring one attempt in line with its venue; return how many fills were added.

    Raises :class:`LookupFailed` when the venue cannot answer.
    """
    order = await lookup.order_by_client_id(
        attempt.venue, attempt.market, attempt.symbol, attempt.client_order_id
    )
    trades: Sequence[VenueTrade] = ()
    if order is not None and order.filled_qty > 0:
        trades = await lookup.trades_for_order(
            attempt.venue, attempt.market, attempt.symbol, order.exchange_order_id
        )
    writes = reconciliation(attempt, order, trades)
    if writes.first is not None:
        await journal.record_outcome(attempt.client_order_id, writes.first)
    added = await journal.record_fills(writes.fills)
    await journal.record_outcome(attempt.client_order_id, writes.outcome)
    return added
