"""Order books as values, and sweeps: what taking a quantity from one side would do."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from router.core.numbers import ONE, ZERO

Level = tuple[Decimal, Decimal]
"""(price, quantity), both positive."""


class Side(StrEnum):
    """The side of the order the router sends: SELL closes a long, BUY closes a short."""

    SELL = "sell"
    BUY = "buy"

    @property
    def opposite(self) -> Side:
        return Side.BUY if self is Side.SELL else Side.SELL


class InvalidBook(ValueError):
    """A venue answered a book that cannot be real (unsorted, crossed, non-positive)."""


@dataclass(frozen=True, slots=True)
class Book:
    """One venue's book at one moment, best levels first on each side."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    def __post_init__(self) -> None:
        _check_side(self.bids, descending=True, name="bids")
        _check_side(self.asks, descending=False, name="asks")
        if self.bids and self.asks and self.bids[0][0] >= self.asks[0][0]:
            raise InvalidBook(
                f"crossed book: best bid {self.bids[0][0]} >= best ask {self.asks[0][0]}"
            )

    def taken_by(self, side: Side) -> tuple[Level, ...]:
        """The levels an order of ``side`` trades against (bids for a sell)."""
        return self.bids if side is Side.SELL else self.asks

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


def _check_side(levels: tuple[Level, ...], *, descending: bool, name: str) -> None:
    previous: Decimal | None = None
    for price, qty in levels:
        if not (price.is_finite() and qty.is_finite()) or price <= 0 or qty <= 0:
            raise InvalidBook(f"{name}: non-positive or non-finite level ({price}, {qty})")
        if previous is not None and (price >= previous if descending else price <= previous):
            raise InvalidBook(f"{name}: levels out of order at {price}")
        previous = price


def within(side: Side, price: Decimal, limit: Decimal | None) -> bool:
    """Whether an order of ``side`` limited at ``limit`` may trade at ``price``."""
    if limit is None:
        return True
    return price >= limit if side is Side.SELL else price <= limit


@dataclass(frozen=True, slots=True)
class Sweep:
    """The result of taking up to ``requested`` from one side of one book."""

    side: Side
    requested: Decimal
    filled: Decimal
    gross: Decimal
    fees: Decimal
    worst_price: Decimal | None

    @property
    def residual(self) -> Decimal:
        return self.requested - self.filled

    @property
    def average_price(self) -> Decimal | None:
        return self.gross / self.filled if self.filled else None

    @property
    def net(self) -> Decimal:
        """Proceeds after fees for a sell; cost including fees for a buy."""
        return self.gross - self.fees if self.side is Side.SELL else self.gross + self.fees

    def slippage(self, reference: Decimal) -> Decimal | None:
        """Average price's shortfall against ``reference``, as a fraction (positive = worse)."""
        average = self.average_price
        if average is None:
            return None
        if self.side is Side.SELL:
            return (reference - average) / reference
        return (average - reference) / reference


def sweep(
    levels: tuple[Level, ...],
    side: Side,
    quantity: Decimal,
    *,
    limit: Decimal | None = None,
    fee_rate: Decimal = ZERO,
) -> Sweep:
    """Walk ``levels`` (best first) for ``quantity`` without trading beyond ``limit``."""
    filled = ZERO
    gross = ZERO
    worst: Decimal | None = None
    for price, qty in levels:
        if filled >= quantity or not within(side, price, limit):
            break
        take = min(qty, quantity - filled)
        filled += take
        gross += take * price
        worst = price
    return Sweep(side, quantity, filled, gross, gross * fee_rate, worst)


def fillable(levels: tuple[Level, ...], side: Side, limit: Decimal | None) -> Decimal:
    """Total quantity available at prices within ``limit``."""
    total = ZERO
    for price, qty in levels:
        if not within(side, price, limit):
            break
        total += qty
    return total


def depth(levels: tuple[Level, ...], count: int = 10) -> Decimal:
    """Quantity on the best ``count`` levels."""
    return sum((qty for _, qty in levels[:count]), ZERO)


def spread_bps(book: Book) -> Decimal | None:
    if book.best_bid is None or book.best_ask is None:
        return None
    mid = (book.best_bid + book.best_ask) / 2
    return (book.best_ask - book.best_bid) / mid * 10000


def imbalance(book: Book, count: int = 10) -> Decimal | None:
    """(bid depth - ask depth) / (bid depth + ask depth) over the best ``count`` levels."""
    bid, ask = depth(book.bids, count), depth(book.asks, count)
    if bid + ask == 0:
        return None
    return (bid - ask) / (bid + ask)


def fee_factor(side: Side, fee_rate: Decimal) -> Decimal:
    """What one unit of gross notional is worth net of fees (sell) or costs (buy)."""
    return ONE - fee_rate if side is Side.SELL else ONE + fee_rate
