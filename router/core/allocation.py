"""Splitting a close across venues by their books, fees and lot rules.

The objective, in order: fill as much of the request as the slippage cap allows, then
get the best money for it (the most proceeds net of fees when selling, the least cost
including fees when buying). A close exists to get out, so quantity comes first; for
equal quantities the better prices win.

:func:`oracle` solves this with the lot rules relaxed: the fee-adjusted consolidated
sweep, an upper bound no executable plan can beat. :func:`allocate` makes it
executable: every child is a whole number of lots, at least the venue's minimum
quantity and notional, within its inventory, priced on its tick and inside its price
band, and never beyond the cap. Venues whose lots are coarse (few feasible sizes) are
searched exhaustively over the sizes they allow; venues with fine lots fill the rest
by the consolidated sweep, rounded to lots and repaired so that what rounding lost is
re-assigned to whichever venue pays best for it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from router.core.book import Level, Side, fee_factor
from router.core.numbers import ZERO, ceil_lots, ceil_to, floor_to, lots

COARSE_SIZES = 256
"""A venue with at most this many feasible order sizes is searched exhaustively."""
MAX_STATES = 20_000
"""Bound on the partial plans kept while searching the coarse venues."""


class AllocationError(ValueError):
    """The request itself is invalid (not a market condition): fix the input."""


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """What the planner knows of one venue for one close."""

    name: str
    levels: tuple[Level, ...]
    """The side the order trades against (bids when selling), best first."""
    inventory: Decimal
    """What can be sold (or bought) *there*."""
    taker_fee: Decimal = ZERO
    lot_step: Decimal = Decimal("0.00000001")
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    tick: Decimal = Decimal("0.00000001")
    band_low: Decimal | None = None
    """Lowest limit price the venue accepts now (PERCENT_PRICE_BY_SIDE style)."""
    band_high: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Child:
    """One order: venue, quantity and IOC limit price, with what the book says it gets."""

    venue: str
    quantity: Decimal
    limit_price: Decimal
    expected_gross: Decimal
    expected_net: Decimal

    @property
    def expected_average(self) -> Decimal:
        return self.expected_gross / self.quantity


@dataclass(frozen=True, slots=True)
class Allocation:
    side: Side
    requested: Decimal
    cap: Decimal | None
    children: tuple[Child, ...]

    @property
    def filled(self) -> Decimal:
        return sum((c.quantity for c in self.children), ZERO)

    @property
    def residual(self) -> Decimal:
        """What cannot be placed within the cap: the input to escalation and hedging."""
        return self.requested - self.filled

    @property
    def gross(self) -> Decimal:
        return sum((c.expected_gross for c in self.children), ZERO)

    @property
    def net(self) -> Decimal:
        """Proceeds after fees when selling; cost including fees when buying."""
        return sum((c.expected_net for c in self.children), ZERO)

    @property
    def average_price(self) -> Decimal | None:
        filled = self.filled
        return self.gross / filled if filled else None


@dataclass(slots=True)
class _Venue:
    """A venue prepared for one plan: its limit price and the levels within it.

    Cumulative quantities and notionals are built lazily, only as deep as a plan
    looks, so a deep book costs nothing beyond the levels actually used.
    """

    quote: VenueQuote
    side: Side
    limit: Decimal | None
    levels: tuple[Level, ...]
    inventory: Decimal
    factor: Decimal
    min_lots: int = 1
    max_lots: int | None = 0
    """Largest whole number of lots it can take; ``None`` for "more than the coarse search
    would enumerate" (then :meth:`can_take` answers)."""
    cum_qty: list[Decimal] = field(default_factory=list)
    cum_gross: list[Decimal] = field(default_factory=list)

    @property
    def step(self) -> Decimal:
        return self.quote.lot_step

    def _extend_to(self, quantity: Decimal) -> None:
        cum_qty, cum_gross, levels = self.cum_qty, self.cum_gross, self.levels
        total = cum_qty[-1] if cum_qty else ZERO
        notional = cum_gross[-1] if cum_gross else ZERO
        position = len(cum_qty)
        while total < quantity and position < len(levels):
            price, qty = levels[position]
            total += qty
            notional += qty * price
            cum_qty.append(total)
            cum_gross.append(notional)
            position += 1

    def depth_within(self, quantity: Decimal) -> Decimal:
        """Book depth within the limit, looking no deeper than ``quantity``."""
        self._extend_to(quantity)
        return self.cum_qty[-1] if self.cum_qty else ZERO

    def can_take(self, quantity: Decimal) -> bool:
        return quantity <= self.inventory and self.depth_within(quantity) >= quantity

    @property
    def usable(self) -> bool:
        return self.max_lots is None or self.max_lots > 0

    @property
    def coarse(self) -> bool:
        return self.max_lots is not None

    def gross(self, quantity: Decimal) -> Decimal:
        """Notional of sweeping ``quantity`` from this venue's usable levels."""
        if quantity <= 0:
            return ZERO
        self._extend_to(quantity)
        position = bisect.bisect_left(self.cum_qty, quantity)
        if position >= len(self.cum_qty):
            raise AssertionError("quantity beyond the venue's usable levels")
        before_qty = self.cum_qty[position - 1] if position else ZERO
        before_gross = self.cum_gross[position - 1] if position else ZERO
        return before_gross + (quantity - before_qty) * self.levels[position][0]

    def value(self, quantity: Decimal) -> Decimal:
        """Money of a fill: net proceeds when selling, minus net cost when buying."""
        gross = self.gross(quantity) * self.factor
        return gross if self.side is Side.SELL else -gross

    def worst_price(self, quantity: Decimal) -> Decimal:
        """The last (worst) price a sweep of ``quantity`` trades at."""
        self._extend_to(quantity)
        return self.levels[bisect.bisect_left(self.cum_qty, quantity)][0]

    def order_limit(self, quantity: Decimal) -> Decimal:
        """The child's limit price: the cap's, or higher for a small sell.

        A venue checks a limit order's notional at its limit price. When the cap's price
        leaves a small sell under the minimum notional, the limit is raised (on the tick)
        just enough, which is possible while it stays at or below the worst price the
        planned sweep needs; it never goes beyond the cap.
        """
        assert self.limit is not None
        minimum = self.quote.min_notional
        if self.side is Side.BUY or quantity * self.limit >= minimum:
            return self.limit
        return ceil_to(minimum / quantity, self.quote.tick)

    def notional_ok(self, quantity: Decimal) -> bool:
        if self.limit is None:
            return False
        if quantity * self.limit >= self.quote.min_notional:
            return True
        return self.side is Side.SELL and self.order_limit(quantity) <= self.worst_price(quantity)

    def sizes(self) -> list[Decimal]:
        """Every feasible order size (in ascending order), zero included."""
        top = self.max_lots or 0
        return [ZERO] + [
            k * self.step for k in range(self.min_lots, top + 1) if self.notional_ok(k * self.step)
        ]


def _limit_price(quote: VenueQuote, side: Side, cap: Decimal | None) -> Decimal | None:
    """The child's IOC limit: the cap, moved inside the venue's band, on its tick.

    Rounded towards the safe side (up for a sell, down for a buy) so the order never
    trades beyond the cap. With no cap and no band the limit is the deepest level on
    the book: still a real order that sweeps everything visible. ``None`` means the
    venue cannot take an order now (the cap lies outside its band, or it has no book).
    """
    if side is Side.SELL:
        bounds = [x for x in (cap, quote.band_low) if x is not None and x > 0]
        if not bounds:
            if not quote.levels:
                return None
            return ceil_to(quote.levels[-1][0], quote.tick)
        price = ceil_to(max(bounds), quote.tick)
        if quote.band_high is not None and price > quote.band_high:
            return None
        return price
    bounds = [x for x in (cap, quote.band_high) if x is not None]
    if not bounds:
        if not quote.levels:
            return None
        return floor_to(quote.levels[-1][0], quote.tick)
    price = floor_to(min(bounds), quote.tick)
    if price <= 0 or (quote.band_low is not None and price < quote.band_low):
        return None
    return price


def _usable_levels(levels: tuple[Level, ...], side: Side, limit: Decimal) -> tuple[Level, ...]:
    """The best levels up to the limit (a binary search: books are sorted best first)."""
    if side is Side.SELL:
        cut = bisect.bisect_right(levels, -limit, key=lambda level: -level[0])
    else:
        cut = bisect.bisect_right(levels, limit, key=lambda level: level[0])
    return levels[:cut]


def _prepare(quote: VenueQuote, side: Side, cap: Decimal | None, *, lots_on: bool) -> _Venue:
    limit = _limit_price(quote, side, cap)
    levels = _usable_levels(quote.levels, side, limit) if limit is not None else ()
    inventory = max(quote.inventory, ZERO)
    venue = _Venue(quote, side, limit, levels, inventory, fee_factor(side, quote.taker_fee))
    if lots_on and limit is not None:
        step = quote.lot_step
        venue.min_lots = max(1, ceil_lots(quote.min_qty, step), _notional_lots(venue, limit))
        enough = (venue.min_lots + COARSE_SIZES) * step
        if venue.can_take(enough):
            venue.max_lots = None
        else:
            venue.max_lots = lots(min(venue.depth_within(inventory), inventory), step)
            if venue.min_lots > venue.max_lots:
                venue.max_lots = 0
    return venue


def _notional_lots(venue: _Venue, limit: Decimal) -> int:
    """Fewest lots whose order meets the minimum notional (see :meth:`_Venue.order_limit`)."""
    quote = venue.quote
    if quote.min_notional <= 0:
        return 0
    at_cap = ceil_lots(quote.min_notional / limit, quote.lot_step)
    if venue.side is Side.BUY or not venue.levels:
        return at_cap
    low = max(1, ceil_lots(quote.min_notional / venue.levels[0][0], quote.lot_step))
    high = at_cap
    while low < high:
        middle = (low + high) // 2
        size = middle * quote.lot_step
        if venue.depth_within(size) >= size and venue.notional_ok(size):
            high = middle
        else:
            low = middle + 1
    return low


def _validate(venues: Sequence[VenueQuote], quantity: Decimal, cap: Decimal | None) -> None:
    if not quantity.is_finite() or quantity < 0:
        raise AllocationError(f"quantity must be a finite non-negative decimal, got {quantity}")
    if cap is not None and (not cap.is_finite() or cap < 0):
        raise AllocationError(f"cap must be a finite non-negative price, got {cap}")
    names = [v.name for v in venues]
    if len(set(names)) != len(names):
        raise AllocationError(f"venue names must be unique, got {names}")
    for quote in venues:
        for name in ("lot_step", "tick"):
            step = getattr(quote, name)
            if not step.is_finite() or step <= 0:
                raise AllocationError(f"{quote.name}: {name} must be positive, got {step}")


def _sweep_shares(
    venues: Sequence[_Venue],
    capacity: Decimal,
    floors: Sequence[Decimal] | None = None,
) -> dict[int, Decimal]:
    """The fee-adjusted consolidated sweep: best money per unit first, up to ``capacity``.

    A k-way merge of the venues' levels by price net of fees. A venue keeps the turn
    while its next level is at least as good as the best other venue's, so runs of one
    venue's levels cost no heap operations. ``floors`` pre-assigns quantities (a
    venue's minimum order): they are taken first and the sweep continues behind them.
    """
    count = len(venues)
    shares = list(floors) if floors is not None else [ZERO] * count
    remaining = capacity - sum(shares, ZERO)
    if count == 0 or remaining <= 0:
        return dict(enumerate(shares))
    selling = venues[0].side is Side.SELL
    heap: list[tuple[Decimal, int, int]] = []
    used: dict[int, Decimal] = {}
    for index, venue in enumerate(venues):
        if not venue.levels or venue.inventory <= shares[index]:
            continue
        position, inside = 0, shares[index]
        while position < len(venue.levels) and inside >= venue.levels[position][1]:
            inside -= venue.levels[position][1]
            position += 1
        if position < len(venue.levels):
            if inside:
                used[index] = inside
            price = venue.levels[position][0] * venue.factor
            heap.append((-price if selling else price, index, position))
    heapq.heapify(heap)
    while remaining > 0 and heap:
        _, index, position = heapq.heappop(heap)
        venue = venues[index]
        levels, factor, room = venue.levels, venue.factor, venue.inventory - shares[index]
        rival = heap[0][0] if heap else None
        depth = len(levels)
        while True:
            qty = levels[position][1]
            if used and index in used:
                qty -= used.pop(index)
            take = qty if qty < remaining else remaining
            if room < take:
                take = room
            shares[index] += take
            remaining -= take
            room -= take
            position += 1
            if remaining <= 0 or room <= 0 or position >= depth:
                break
            key = levels[position][0] * factor
            if selling:
                key = -key
            if rival is not None and key > rival:
                heapq.heappush(heap, (key, index, position))
                break
    return dict(enumerate(shares))


def _children(venues: Sequence[_Venue], sizes: dict[int, Decimal]) -> tuple[Child, ...]:
    out: list[Child] = []
    for index, size in sorted(sizes.items()):
        if size <= 0:
            continue
        venue = venues[index]
        gross = venue.gross(size)
        limit = venue.order_limit(size)
        out.append(Child(venue.quote.name, size, limit, gross, gross * venue.factor))
    return tuple(out)


def oracle(
    venues: Sequence[VenueQuote], side: Side, quantity: Decimal, cap: Decimal | None
) -> Allocation:
    """The best split with lot rules relaxed: the upper bound for any executable plan."""
    _validate(venues, quantity, cap)
    prepared = [_prepare(q, side, cap, lots_on=False) for q in venues]
    return Allocation(side, quantity, cap, _children(prepared, _sweep_shares(prepared, quantity)))


def allocate(
    venues: Sequence[VenueQuote], side: Side, quantity: Decimal, cap: Decimal | None
) -> Allocation:
    """The best executable split of ``quantity`` within ``cap`` (``None`` = unbounded)."""
    _validate(venues, quantity, cap)
    prepared = [_prepare(q, side, cap, lots_on=True) for q in venues]
    usable = [i for i, v in enumerate(prepared) if v.usable]
    coarse = [i for i in usable if prepared[i].coarse]
    fine = [i for i in usable if i not in coarse]
    best: tuple[Decimal, Decimal, dict[int, Decimal]] | None = None
    for used, value, sizes in _coarse_plans(prepared, coarse, quantity):
        fill = _fine_fill(prepared, fine, quantity - used)
        total = used + sum(fill.values(), ZERO)
        money = value + sum((prepared[i].value(q) for i, q in fill.items()), ZERO)
        if best is None or (total, money) > (best[0], best[1]):
            best = (total, money, {**sizes, **fill})
    assert best is not None
    return Allocation(side, quantity, cap, _children(prepared, best[2]))


def _coarse_plans(
    venues: Sequence[_Venue], coarse: Sequence[int], capacity: Decimal
) -> Iterable[tuple[Decimal, Decimal, dict[int, Decimal]]]:
    """Every distinct total the coarse venues can make, each with its best sizes.

    A dynamic programme over venues keyed by the total quantity so far: for one total
    only the plan with the most money can be part of the optimum.
    """
    states: dict[Decimal, tuple[Decimal, dict[int, Decimal]]] = {ZERO: (ZERO, {})}
    for index in coarse:
        venue = venues[index]
        options = [(size, venue.value(size)) for size in venue.sizes() if size <= capacity]
        grown: dict[Decimal, tuple[Decimal, dict[int, Decimal]]] = {}
        for total, (money, sizes) in states.items():
            for size, worth in options:
                new_total = total + size
                if new_total > capacity:
                    break
                new_money = money + worth
                kept = grown.get(new_total)
                if kept is None or new_money > kept[0]:
                    grown[new_total] = (new_money, {**sizes, index: size})
        if len(grown) > MAX_STATES:
            ranked = sorted(grown.items(), key=lambda item: (item[0], item[1][0]), reverse=True)
            grown = dict(ranked[:MAX_STATES])
        states = grown
    for total, (money, sizes) in states.items():
        yield total, money, sizes


MAX_MINIMUM_BRANCHES = 6
"""Venues whose sweep share falls under their minimum order, explored both ways."""


def _fine_fill(
    venues: Sequence[_Venue], fine: Sequence[int], capacity: Decimal
) -> dict[int, Decimal]:
    """Fill ``capacity`` from venues with fine lots: sweep, round to lots, repair.

    A venue whose share falls under its minimum order is either dropped or raised to its
    minimum (the sweep then re-runs around that choice); both branches are explored and
    the better plan (more filled, then more money) is kept.
    """
    best: tuple[Decimal, Decimal, dict[int, Decimal]] | None = None

    def explore(dropped: frozenset[int], forced: frozenset[int], depth: int) -> None:
        nonlocal best
        active = [i for i in fine if i not in dropped]
        floors = [venues[i].min_lots * venues[i].step if i in forced else ZERO for i in active]
        if sum(floors, ZERO) > capacity:
            return
        shares = _sweep_shares([venues[i] for i in active], capacity, floors)
        sizes: dict[int, Decimal] = {}
        short: int | None = None
        for position, index in enumerate(active):
            venue = venues[index]
            rounded = floor_to(shares.get(position, ZERO), venue.step)
            if rounded > 0 and (
                rounded < venue.min_lots * venue.step or not venue.notional_ok(rounded)
            ):
                if short is None:
                    short = index
                continue
            if rounded > 0:
                sizes[index] = rounded
        if short is not None and depth < MAX_MINIMUM_BRANCHES:
            explore(dropped | {short}, forced, depth + 1)
            explore(dropped, forced | {short}, depth + 1)
            return
        if short is not None:
            explore(dropped | {short}, forced, depth)
            return
        usable = [i for i in fine if i not in dropped]
        repaired = _fill_gap(venues, usable, _repair(venues, usable, sizes, capacity), capacity)
        total = sum(repaired.values(), ZERO)
        money = sum((venues[i].value(q) for i, q in repaired.items()), ZERO)
        if best is None or (total, money) > (best[0], best[1]):
            best = (total, money, repaired)

    explore(frozenset(), frozenset(), 0)
    assert best is not None
    return best[2]


def _fill_gap(
    venues: Sequence[_Venue],
    candidates: Sequence[int],
    sizes: dict[int, Decimal],
    capacity: Decimal,
) -> dict[int, Decimal]:
    """Close a leftover smaller than a coarse venue's lot by trading lots between venues.

    When one more lot on venue ``v`` does not fit, taking just enough off a venue with
    finer lots can make it fit: the total grows by the leftover's worth. The move that
    fills most (then pays most) is made until none improves the plan.
    """
    sizes = dict(sizes)
    while True:
        room = capacity - sum(sizes.values(), ZERO)
        if room <= 0:
            return sizes
        best: tuple[Decimal, Decimal, dict[int, Decimal]] | None = None
        for grow in candidates:
            venue = venues[grow]
            current = sizes.get(grow, ZERO)
            target = current + venue.step if current > 0 else venue.min_lots * venue.step
            extra = target - current
            if extra <= room or not venue.can_take(target) or not venue.notional_ok(target):
                continue
            for shrink in candidates:
                other = venues[shrink]
                have = sizes.get(shrink, ZERO)
                if shrink == grow or have <= 0:
                    continue
                cut = ceil_to(extra - room, other.step)
                left = have - cut
                if cut >= extra or left < 0:
                    continue
                if left > 0 and (left < other.min_lots * other.step or not other.notional_ok(left)):
                    continue
                trial = {**sizes, grow: target, shrink: left}
                gain = extra - cut
                money = sum((venues[i].value(q) for i, q in trial.items()), ZERO)
                if best is None or (gain, money) > (best[0], best[1]):
                    best = (gain, money, trial)
        if best is None:
            return sizes
        sizes = {i: q for i, q in best[2].items() if q > 0}


def _repair(
    venues: Sequence[_Venue],
    candidates: Sequence[int],
    sizes: dict[int, Decimal],
    capacity: Decimal,
) -> dict[int, Decimal]:
    """Re-assign what rounding left over, one lot (or minimum order) at a time.

    Each step adds the increment that brings the most money per unit among those that
    still fit, so the leftover goes where it is worth most.
    """
    sizes = dict(sizes)
    room = capacity - sum(sizes.values(), ZERO)
    worth = {index: venues[index].value(sizes.get(index, ZERO)) for index in candidates}
    while True:
        best: tuple[Decimal, int, Decimal, Decimal] | None = None
        for index in candidates:
            venue = venues[index]
            current = sizes.get(index, ZERO)
            target = current + venue.step if current > 0 else venue.min_lots * venue.step
            if (
                target - current > room
                or not venue.can_take(target)
                or not venue.notional_ok(target)
            ):
                continue
            value = venue.value(target)
            gain = (value - worth[index]) / (target - current)
            if best is None or gain > best[0]:
                best = (gain, index, target, value)
        if best is None:
            return sizes
        _, index, target, value = best
        room -= target - sizes.get(index, ZERO)
        sizes[index] = target
        worth[index] = value
