"""Journaling what netting crossed: an internal attempt and fill at the consolidated mid."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from router.core.book import Side
from router.core.orders import OrderState
from router.core.purpose import Purpose
from router.engine.waves import VenueState, consolidated_touch
from router.journal.records import AttemptIntent, FillRecord
from router.journal.repository import Journal, OutcomeUpdate

ZERO = Decimal(0)
INTERNAL = "internal"
"""The pseudo-venue of quantities netted between opposite closes."""


async def record_netting(
    journal: Journal,
    close_id: str,
    wave: int,
    quantity: Decimal,
    states: Sequence[VenueState],
    side: Side,
    symbol: str,
) -> None:
    """Journal quantity crossed internally with an opposite close, at the mid."""
    _, mid = consolidated_touch([s.view.book for s in states], side)
    client_id = f"{close_id[3:19]}-n{wave}"
    await journal.record_intent(
        AttemptIntent(
            client_order_id=client_id,
            close_id=close_id,
            wave=wave,
            tier=-1,
            venue=INTERNAL,
            market="net",
            symbol=symbol,
            side=side.value,
            quantity=quantity,
            limit_price=None,
            style="internal",
            purpose=Purpose.NET,
        )
    )
    await journal.mark_sent(client_id)
    await journal.record_outcome(
        client_id,
        OutcomeUpdate(OrderState.FILLED, exchange_order_id=client_id, filled_qty=quantity),
        [
            FillRecord(
                close_id=close_id,
                client_order_id=client_id,
                venue=INTERNAL,
                market="net",
                trade_id=client_id,
                side=side.value,
                quantity=quantity,
                price=(mid or ZERO).quantize(Decimal("0.00000001")),
                fee=ZERO,
                fee_asset=None,
                traded_at=journal.clock(),
            )
        ],
    )
