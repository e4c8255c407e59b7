"""A price-time-priority limit order book for one market of one simulated venue.

Each price level holds the account's resting orders in arrival order and the outside
market's quantity (rebuilt from the scenario's model every update), split into the
part queued *ahead* of the account's orders and the part *behind* them. An order of
the account joins the back of its level, so everything outside resting there is
ahead of it; outside quotes added later join behind it, and outside cancels take
from the back first. Outside aggressors therefore trade, at each level, with the
quantity ahead, then the account's orders in time order, then the rest.

The websocket stream publishes absolute level quantities, as Binance does, by
comparing :meth:`BookSide.snapshot` with what it published last.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

EXTERNAL = 0
ZERO = Decimal(0)


@dataclass(slots=True)
class Resting:
    owner: int
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Match:
    """One execution against resting quantity (owner ``EXTERNAL`` = the outside market)."""

    price: Decimal
    qty: Decimal
    owner: int


@dataclass(slots=True)
class Level:
    ahead: Decimal = ZERO
    behind: Decimal = ZERO
    orders: deque[Resting] = field(default_factory=deque)

    @property
    def external(self) -> Decimal:
        return self.ahead + self.behind

    def total(self) -> Decimal:
        return self.ahead + self.behind + sum((o.qty for o in self.orders), ZERO)

    def empty(self) -> bool:
        return not self.orders and self.ahead == 0 and self.behind == 0


class BookSide:
    """One side of the book. Bids are best when highest, asks when lowest.

    Prices holding only outside quantity live in a plain dict (the common case, so a
    whole-book refresh is a dict swap); prices where the account has orders get a
    :class:`Level`. A price is in exactly one of the two.
    """

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self._ext: dict[Decimal, Decimal] = {}
        self._own: dict[Decimal, Level] = {}
        self._worst_first: list[Decimal] | None = []

    def _order(self) -> list[Decimal]:
        if self._worst_first is None:
            self._worst_first = sorted(self._ext.keys() | self._own.keys(), reverse=not self.is_bid)
        return self._worst_first

    def _forget(self, price: Decimal) -> None:
        order = self._order()
        if order and order[-1] == price:
            order.pop()
        else:
            self._worst_first = None

    def best(self) -> Decimal | None:
        order = self._order()
        return order[-1] if order else None

    def prices(self) -> Iterator[Decimal]:
        """Prices best first."""
        return reversed(self._order())

    def total_at(self, price: Decimal) -> Decimal:
        level = self._own.get(price)
        if level is not None:
            return level.total()
        return self._ext.get(price, ZERO)

    def levels(self, limit: int | None = None) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for price in self.prices():
            if limit is not None and len(out) >= limit:
                break
            out.append((price, self.total_at(price)))
        return out

    def snapshot(self) -> dict[Decimal, Decimal]:
        """Every level's total quantity."""
        out = dict(self._ext)
        for price, level in self._own.items():
            out[price] = level.total()
        return out

    def add(self, price: Decimal, entry: Resting) -> None:
        """An order of the account joins the back of its level."""
        level = self._own.get(price)
        if level is None:
            if price not in self._ext:
                self._worst_first = None
            level = Level(ahead=self._ext.pop(price, ZERO))
            self._own[price] = level
        else:
            level.ahead += level.behind
            level.behind = ZERO
        level.orders.append(entry)

    def _settle(self, price: Decimal) -> None:
        """Turn an own level back into a plain outside level once it has no orders."""
        level = self._own.get(price)
        if level is None or level.orders:
            return
        del self._own[price]
        if level.external > 0:
            self._ext[price] = level.external
        else:
            self._forget(price)

    def remove_owner(self, price: Decimal, owner: int) -> Decimal:
        """Remove an order's entry; return the quantity removed."""
        level = self._own.get(price)
        if level is None:
            return ZERO
        removed = sum((e.qty for e in level.orders if e.owner == owner), ZERO)
        if removed:
            level.orders = deque(e for e in level.orders if e.owner != owner)
            self._settle(price)
        return removed

    def replace_external(self, levels: list[tuple[Decimal, Decimal]]) -> bool:
        """Set the outside market's quantity per price to ``levels``; True if anything moved."""
        target = dict(levels)
        changed = False
        for price, level in self._own.items():
            wanted = target.pop(price, ZERO)
            current = level.ahead + level.behind
            if wanted == current:
                continue
            changed = True
            if wanted > current:
                level.behind += wanted - current
                continue
            cut = current - wanted
            from_behind = min(cut, level.behind)
            level.behind -= from_behind
            level.ahead -= cut - from_behind
        if target.keys() != self._ext.keys():
            self._worst_first = None
            changed = True
        elif not changed and target != self._ext:
            changed = True
        self._ext = target
        return changed

    def take(
        self,
        qty: Decimal,
        acceptable: Callable[[Decimal], bool],
        on_own_order: Callable[[int, Decimal], None],
        taker: int,
    ) -> list[Match]:
        """Consume up to ``qty`` from the best prices while ``acceptable(price)`` holds.

        When the taker is an order of the account, the account's resting orders are not
        traded against: self-trade prevention expires the maker and
        ``on_own_order(owner, qty)`` tells the venue which order went. When the taker is
        the outside market (``EXTERNAL``), the account's orders trade in queue order.
        """
        matches: list[Match] = []
        remaining = qty
        while remaining > 0:
            price = self.best()
            if price is None or not acceptable(price):
                break
            level = self._own.get(price)
            if level is None:
                available = self._ext[price]
                fill = min(available, remaining)
                matches.append(Match(price, fill, EXTERNAL))
                remaining -= fill
                if fill == available:
                    del self._ext[price]
                    self._forget(price)
                else:
                    self._ext[price] = available - fill
                continue
            if taker != EXTERNAL:
                remaining = self._take_own_level(level, price, remaining, matches, on_own_order)
            else:
                remaining = self._sweep_level(level, price, remaining, matches)
            if level.orders or level.external > 0:
                break
            del self._own[price]
            self._forget(price)
        return matches

    @staticmethod
    def _take_own_level(
        level: Level,
        price: Decimal,
        qty: Decimal,
        out: list[Match],
        on_own_order: Callable[[int, Decimal], None],
    ) -> Decimal:
        """An order of the account at a level holding its own orders: STP expires them."""
        ahead = min(qty, level.ahead)
        if ahead:
            out.append(Match(price, ahead, EXTERNAL))
            level.ahead -= ahead
            qty -= ahead
        if qty > 0:
            while level.orders:
                entry = level.orders.popleft()
                on_own_order(entry.owner, entry.qty)
            behind = min(qty, level.behind)
            if behind:
                out.append(Match(price, behind, EXTERNAL))
                level.behind -= behind
                qty -= behind
        return qty

    @staticmethod
    def _sweep_level(level: Level, price: Decimal, qty: Decimal, out: list[Match]) -> Decimal:
        """An outside aggressor at one level: ahead, then account orders, then behind."""
        if level.ahead:
            fill = min(qty, level.ahead)
            level.ahead -= fill
            qty -= fill
            out.append(Match(price, fill, EXTERNAL))
        while qty > 0 and level.orders:
            entry = level.orders[0]
            fill = min(qty, entry.qty)
            entry.qty -= fill
            qty -= fill
            out.append(Match(price, fill, entry.owner))
            if entry.qty == 0:
                level.orders.popleft()
        if qty > 0 and level.behind:
            fill = min(qty, level.behind)
            level.behind -= fill
            qty -= fill
            out.append(Match(price, fill, EXTERNAL))
        return qty

    def first_owned(self) -> tuple[Decimal, int] | None:
        """The best-priority resting order of the account: (price, order id)."""
        for price in sorted(self._own, reverse=self.is_bid):
            orders = self._own[price].orders
            if orders:
                return price, orders[0].owner
        return None

    def owned_qty(self, price: Decimal, owner: int) -> Decimal:
        level = self._own.get(price)
        if level is None:
            return ZERO
        return sum((e.qty for e in level.orders if e.owner == owner), ZERO)

    def reduce_owned(self, price: Decimal, owner: int, qty: Decimal) -> None:
        """An order of the account traded ``qty`` while resting at ``price``."""
        level = self._own[price]
        for entry in level.orders:
            if entry.owner == owner:
                take = min(entry.qty, qty)
                entry.qty -= take
                qty -= take
                if qty == 0:
                    break
        level.orders = deque(e for e in level.orders if e.qty > 0)
        self._settle(price)

    def take_external(self, qty: Decimal, acceptable: Callable[[Decimal], bool]) -> Decimal:
        """Remove up to ``qty`` of outside liquidity from the best acceptable prices."""
        taken = ZERO
        for price in list(self.prices()):
            if taken >= qty or not acceptable(price):
                break
            level = self._own.get(price)
            available = level.external if level is not None else self._ext[price]
            take = min(available, qty - taken)
            if take <= 0:
                continue
            taken += take
            if level is not None:
                self._cut_external(level, take)
            elif take == available:
                del self._ext[price]
                self._worst_first = None
            else:
                self._ext[price] = available - take
        return taken

    @staticmethod
    def _cut_external(level: Level, qty: Decimal) -> None:
        """Outside quantity taken from the front of the level's outside queue."""
        from_ahead = min(qty, level.ahead)
        level.ahead -= from_ahead
        level.behind -= qty - from_ahead


class OrderBook:
    """Both sides of one market's book and its update id sequence."""

    def __init__(self) -> None:
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.update_id = 1

    def bump(self) -> None:
        """Advance the update id; called once per event that changed the book."""
        self.update_id += 1

    def mid(self) -> Decimal | None:
        bid, ask = self.bids.best(), self.asks.best()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2
