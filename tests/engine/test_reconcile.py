"""Reconciling one attempt: the venue's report decides the journal's writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from router.core.orders import OrderState
from router.engine.reconcile import reconciliation
from router.journal.records import AttemptView
from router.journal.repository import OutcomeUpdate
from router.venues.reports import LookupFailed, VenueOrder, VenueTrade

D = Decimal
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _attempt(state: OrderState) -> AttemptView:
    return AttemptView(
        id=1,
        client_order_id="x-c1-0",
        close_id="cl_x",
        hedge_id=None,
        purpose="close",
        wave=1,
        tier=0,
        venue="alpha",
        market="spot",
        symbol="BTC/USDT",
        side="sell",
        quantity=D(2),
        limit_price=None,
        style="ioc_limit",
        reduce_only=False,
        state=state,
        exchange_order_id=None,
        filled_qty=D(0),
        error_class=None,
        error_message=None,
        intent_at=NOW,
        sent_at=None,
        acked_at=None,
        final_at=None,
    )


def _trade(trade_id: str, quantity: str) -> VenueTrade:
    return VenueTrade(
        trade_id=trade_id,
        exchange_order_id="e1",
        side="sell",
        quantity=D(quantity),
        price=D("60000"),
        fee=D("0.6"),
        fee_asset="USDT",
        traded_at=NOW,
    )


@pytest.mark.parametrize("state", [OrderState.PENDING_SEND, OrderState.SENT, OrderState.UNKNOWN])
def test_an_order_the_venue_never_saw_was_not_placed(state: OrderState) -> None:
    writes = reconciliation(_attempt(state), None)
    assert writes.first is None
    assert writes.fills == ()
    assert writes.outcome.state is OrderState.REJECTED
    assert writes.outcome.error_class == "NotPlaced"


@pytest.mark.parametrize("state", [OrderState.OPEN, OrderState.PARTIALLY_FILLED])
def test_an_acknowledged_order_the_venue_forgot_stays_in_doubt(state: OrderState) -> None:
    with pytest.raises(LookupFailed, match="no longer knows acknowledged order x-c1-0"):
        reconciliation(_attempt(state), None)


def test_the_venue_state_and_every_trade_are_journaled() -> None:
    order = VenueOrder("x-c1-0", "e1", OrderState.PARTIALLY_FILLED, D("1.5"))
    writes = reconciliation(
        _attempt(OrderState.SENT), order, [_trade("t1", "1"), _trade("t2", "0.5")]
    )
    assert writes.first is None
    assert writes.outcome == OutcomeUpdate(
        OrderState.PARTIALLY_FILLED, exchange_order_id="e1", filled_qty=D("1.5")
    )
    assert [(f.trade_id, f.quantity, f.client_order_id, f.close_id) for f in writes.fills] == [
        ("t1", D(1), "x-c1-0", "cl_x"),
        ("t2", D("0.5"), "x-c1-0", "cl_x"),
    ]
    assert {(f.venue, f.market, f.exchange_order_id) for f in writes.fills} == {
        ("alpha", "spot", "e1")
    }


def test_an_order_still_pending_send_passes_through_unknown() -> None:
    order = VenueOrder("x-c1-0", "e1", OrderState.FILLED, D(2))
    writes = reconciliation(_attempt(OrderState.PENDING_SEND), order, [_trade("t1", "2")])
    assert writes.first == OutcomeUpdate(OrderState.UNKNOWN)
    assert writes.outcome.state is OrderState.FILLED
