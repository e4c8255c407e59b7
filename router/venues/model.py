"""What the engine sees of a venue: plain Decimal values, never ccxt's floats or dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from router.core.book import Book
from router.core.orders import OrderState
from router.venues.reports import VenueTrade

MarketKind = Literal["spot", "linear"]

FailureKind = Literal["outage", "rate_limit", "timeout", "error"]
"""What a failed request says about a venue's health, for its circuit breaker: an
outage opens the circuit at once, rate limits open it in a storm, timeouts and errors
after several in a row. Decided in :mod:`router.venues.errors`, where ccxt's exceptions
are translated."""


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """One market's rules, read from the venue's exchangeInfo through ccxt."""

    venue: str
    symbol: str
    """ccxt's unified symbol: ``BTC/USDT`` (spot) or ``BTC/USDT:USDT`` (USD-M perpetual)."""
    market_id: str
    kind: MarketKind
    base: str
    quote: str
    lot_step: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    market_max_qty: Decimal | None
    min_notional: Decimal
    tick: Decimal
    percent_down: Decimal | None
    """Lowest limit price as a multiple of the reference (PERCENT_PRICE_BY_SIDE / PERCENT_PRICE)."""
    percent_up: Decimal | None
    taker_fee: Decimal
    maker_fee: Decimal


@dataclass(frozen=True, slots=True)
class BookView:
    venue: str
    symbol: str
    book: Book
    received_at: datetime
    source: Literal["rest", "ws"]


class Outcome(StrEnum):
    ACKED = "acked"
    """The venue answered with the order's state."""
    NOT_PLACED = "not_placed"
    """Definitely not placed (InsufficientFunds, InvalidOrder, BadRequest, auth ...)."""
    UNKNOWN = "unknown"
    """Ambiguous (network error, 5xx, -1006/-1007, an answer without an order id):
    the order must be looked up by client order id before its quantity is reused."""


@dataclass(frozen=True, slots=True)
class PlaceResult:
    outcome: Outcome
    client_order_id: str
    state: OrderState | None = None
    exchange_order_id: str | None = None
    filled: Decimal = Decimal(0)
    fills: tuple[VenueTrade, ...] = field(default_factory=tuple)
    error_class: str | None = None
    error_message: str | None = None
    failure: FailureKind | None = None
    """What the answer says about the venue's health, for its circuit breaker: set on
    every UNKNOWN answer; ``None`` on an acknowledgement or a refusal of this one order."""
