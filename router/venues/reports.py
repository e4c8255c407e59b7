"""What a venue reports about an order once asked: its state and its trades.

The adapter answers with these; the engine reconciles the journal with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from router.core.orders import OrderState


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """What a venue says about one order (state already mapped to ours)."""

    client_order_id: str
    exchange_order_id: str
    state: OrderState
    filled_qty: Decimal


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One execution of an order, as the venue's trade history lists it."""

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
