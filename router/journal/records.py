"""Plain records going into and out of the journal."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from router.core.lifecycle import CloseOutcome, CloseState
from router.core.orders import OrderState
from router.core.position import VenueHolding
from router.core.purpose import Purpose

BOOK_LEVELS_KEPT = 20
DEFAULT_LEASE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class NewClose:
    idempotency_key: str
    symbol: str
    side: str
    quantity: Decimal
    request: dict[str, Any]
    reference_price: Decimal | None = None
    close_id: str | None = None
    lease: timedelta = DEFAULT_LEASE
    holdings: tuple[VenueHolding, ...] = ()
    """The position per configured venue as resolved at the start, journaled with the
    close in one transaction (``asset`` names what they hold)."""
    asset: str = ""


@dataclass(frozen=True, slots=True)
class CloseView:
    id: str
    idempotency_key: str
    symbol: str
    side: str
    requested_qty: Decimal
    request: dict[str, Any]
    state: CloseState
    outcome: CloseOutcome | None
    outcome_reason: str | None
    reference_price: Decimal | None
    filled_qty: Decimal
    hedged_qty: Decimal
    residual_qty: Decimal | None
    owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def close_view(row: Any) -> CloseView:
    """A close from a ``closes`` row (ORM object or Core row alike)."""
    return CloseView(
        id=row.id,
        idempotency_key=row.idempotency_key,
        symbol=row.symbol,
        side=row.side,
        requested_qty=row.requested_qty,
        request=json.loads(row.request_json),
        state=CloseState(row.state),
        outcome=None if row.outcome is None else CloseOutcome(row.outcome),
        outcome_reason=row.outcome_reason,
        reference_price=row.reference_price,
        filled_qty=row.filled_qty,
        hedged_qty=row.hedged_qty,
        residual_qty=row.residual_qty,
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


@dataclass(frozen=True, slots=True)
class AttemptIntent:
    """An order about to be sent: written (PENDING_SEND) before it leaves."""

    client_order_id: str
    close_id: str
    wave: int
    tier: int
    venue: str
    market: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Decimal | None
    style: str = "ioc_limit"
    purpose: Purpose = Purpose.CLOSE
    reduce_only: bool = False
    hedge_id: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    client_order_id: str
    close_id: str
    hedge_id: int | None
    purpose: Purpose
    wave: int
    tier: int
    venue: str
    market: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Decimal | None
    style: str
    reduce_only: bool
    state: OrderState
    exchange_order_id: str | None
    filled_qty: Decimal
    error_class: str | None
    error_message: str | None
    intent_at: datetime
    sent_at: datetime | None
    acked_at: datetime | None
    final_at: datetime | None


def attempt_view(row: Any) -> AttemptView:
    """An attempt from an ``attempts`` row (ORM object or Core row alike)."""
    return AttemptView(
        id=row.id,
        client_order_id=row.client_order_id,
        close_id=row.close_id,
        hedge_id=row.hedge_id,
        purpose=Purpose(row.purpose),
        wave=row.wave,
        tier=row.tier,
        venue=row.venue,
        market=row.market,
        symbol=row.symbol,
        side=row.side,
        quantity=row.quantity,
        limit_price=row.limit_price,
        style=row.style,
        reduce_only=row.reduce_only,
        state=OrderState(row.state),
        exchange_order_id=row.exchange_order_id,
        filled_qty=row.filled_qty,
        error_class=row.error_class,
        error_message=row.error_message,
        intent_at=row.intent_at,
        sent_at=row.sent_at,
        acked_at=row.acked_at,
        final_at=row.final_at,
    )


@dataclass(frozen=True, slots=True)
class FillRecord:
    close_id: str
    client_order_id: str | None
    venue: str
    market: str
    trade_id: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str | None
    traded_at: datetime
    exchange_order_id: str | None = None


def fill_record(row: Any) -> FillRecord:
    """A fill from a ``fills`` row."""
    return FillRecord(
        close_id=row.close_id,
        client_order_id=row.client_order_id,
        venue=row.venue,
        market=row.market,
        trade_id=row.trade_id,
        exchange_order_id=row.exchange_order_id,
        side=row.side,
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        fee_asset=row.fee_asset,
        traded_at=row.traded_at,
    )


@dataclass(frozen=True, slots=True)
class BookLevels:
    """The top of one venue's book, kept compact: at most 20 levels a side."""

    venue: str
    market: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    taken_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def compact(self) -> str:
        def side(levels: tuple[tuple[Decimal, Decimal], ...]) -> list[list[str]]:
            return [[format(p, "f"), format(q, "f")] for p, q in levels[:BOOK_LEVELS_KEPT]]

        return json.dumps({"b": side(self.bids), "a": side(self.asks)}, separators=(",", ":"))
