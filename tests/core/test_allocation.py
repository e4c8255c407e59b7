"""Allocation across venues: feasibility, optimality against brute force, and the oracle."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from router.core.allocation import Allocation, AllocationError, VenueQuote, allocate, oracle
from router.core.book import Side, sweep

D = Decimal


# --- an independent reference: exhaustive search over lot-feasible sizes ------------------


def _limit(quote: VenueQuote, side: Side, cap: Decimal | None) -> Decimal | None:
    """The child limit price as the planner documents it, computed independently."""
    if side is Side.SELL:
        floor = max([x for x in (cap, quote.band_low) if x is not None], default=None)
        if floor is None:
            floor = quote.levels[-1][0] if quote.levels else None
        if floor is None:
            return None
        price = (floor / quote.tick).to_integral_value(ROUND_CEILING) * quote.tick
        if quote.band_high is not None and price > quote.band_high:
            return None
        return price
    ceiling = min([x for x in (cap, quote.band_high) if x is not None], default=None)
    if ceiling is None:
        ceiling = quote.levels[-1][0] if quote.levels else None
    if ceiling is None:
        return None
    price = (ceiling / quote.tick).to_integral_value(ROUND_FLOOR) * quote.tick
    if price <= 0 or (quote.band_low is not None and price < quote.band_low):
        return None
    return price


def _options(
    quote: VenueQuote, side: Side, cap: Decimal | None, budget: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """(size, money) of every feasible order on one venue, zero included."""
    limit = _limit(quote, side, cap)
    options = [(D(0), D(0))]
    if limit is None:
        return options
    factor = 1 - quote.taker_fee if side is Side.SELL else 1 + quote.taker_fee
    size = quote.lot_step
    while size <= min(quote.inventory, budget):
        result = sweep(quote.levels, side, size, limit=limit)
        if result.filled < size:
            break
        notional_ok = size * limit >= quote.min_notional or (
            side is Side.SELL
            and result.worst_price is not None
            and (quote.min_notional / size / quote.tick).to_integral_value(ROUND_CEILING)
            * quote.tick
            <= result.worst_price
        )
        if size >= quote.min_qty and notional_ok:
            money = result.gross * factor
            options.append((size, money if side is Side.SELL else -money))
        size += quote.lot_step
    return options


def brute_force(
    quotes: Sequence[VenueQuote], side: Side, quantity: Decimal, cap: Decimal | None
) -> tuple[Decimal, Decimal]:
    """Best (filled, money): every size on all venues but the last, the largest there."""
    per_venue = [_options(q, side, cap, quantity) for q in quotes]
    last_sizes = [size for size, _ in per_venue[-1]]
    best = (D(0), D(0))
    for head in itertools.product(*per_venue[:-1]):
        used = sum((size for size, _ in head), D(0))
        if used > quantity:
            continue
        money = sum((m for _, m in head), D(0))
        position = bisect.bisect_right(last_sizes, quantity - used) - 1
        last = per_venue[-1][position]
        candidate = (used + last[0], money + last[1])
        best = max(best, candidate)
    return best


def _money(allocation: Allocation) -> Decimal:
    return allocation.net if allocation.side is Side.SELL else -allocation.net


# --- strategies ----------------------------------------------------------------------------

STEPS = [D("0.1"), D("0.2"), D("0.25"), D("0.3"), D("0.5"), D("1")]


@st.composite
def venue_quotes(draw: st.DrawFn, name: str, side: Side, steps: Sequence[Decimal]) -> VenueQuote:
    prices = draw(st.lists(st.integers(80, 120), min_size=1, max_size=5, unique=True))
    prices.sort(reverse=side is Side.SELL)
    quantities = draw(st.lists(st.integers(1, 30), min_size=len(prices), max_size=len(prices)))
    step = draw(st.sampled_from(steps))
    band = draw(st.sampled_from([None, (D(85), D(115))]))
    return VenueQuote(
        name=name,
        levels=tuple((D(p), D(q) / 10) for p, q in zip(prices, quantities, strict=True)),
        inventory=D(draw(st.integers(0, 40))) / 10,
        taker_fee=draw(st.sampled_from([D(0), D("0.001"), D("0.0025")])),
        lot_step=step,
        min_qty=draw(st.sampled_from([D(0), step, 2 * step])),
        min_notional=draw(st.sampled_from([D(0), D(20), D(60)])),
        tick=draw(st.sampled_from([D("0.01"), D(1)])),
        band_low=band[0] if band else None,
        band_high=band[1] if band else None,
    )


@st.composite
def problems(
    draw: st.DrawFn, steps: Sequence[Decimal] = STEPS, max_venues: int = 3
) -> tuple[list[VenueQuote], Side, Decimal, Decimal | None]:
    side = draw(st.sampled_from([Side.SELL, Side.BUY]))
    count = draw(st.integers(1, max_venues))
    quotes = [draw(venue_quotes(f"v{i}", side, steps)) for i in range(count)]
    quantity = D(draw(st.integers(1, 60))) / 10
    cap = draw(st.sampled_from([None, D(95), D(100), D(105)]))
    return quotes, side, quantity, cap


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_child_is_executable(problem: tuple[list[VenueQuote], Side, Decimal, Any]) -> None:
    quotes, side, quantity, cap = problem
    result = allocate(quotes, side, quantity, cap)
    by_name = {q.name: q for q in quotes}
    assert result.filled <= quantity
    assert result.residual == quantity - result.filled
    assert len({c.venue for c in result.children}) == len(result.children)
    for child in result.children:
        quote = by_name[child.venue]
        assert 0 < child.quantity <= quote.inventory
        assert child.quantity % quote.lot_step == 0
        assert child.quantity >= quote.min_qty
        assert child.quantity * child.limit_price >= quote.min_notional
        assert child.limit_price % quote.tick == 0
        if quote.band_low is not None:
            assert quote.band_low <= child.limit_price <= quote.band_high  # type: ignore[operator]
        if cap is not None:
            assert child.limit_price >= cap if side is Side.SELL else child.limit_price <= cap
        result_sweep = sweep(quote.levels, side, child.quantity, limit=child.limit_price)
        assert result_sweep.filled == child.quantity
        assert result_sweep.gross == child.expected_gross


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_matches_exhaustive_search(problem: tuple[list[VenueQuote], Side, Decimal, Any]) -> None:
    quotes, side, quantity, cap = problem
    result = allocate(quotes, side, quantity, cap)
    assert (result.filled, _money(result)) == brute_force(quotes, side, quantity, cap)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(steps=[D("0.5"), D("1")], max_venues=2), st.integers(1, 40))
def test_fine_lot_venue_beside_coarse_ones_is_still_exact(
    problem: tuple[list[VenueQuote], Side, Decimal, Any], fine_inventory: int
) -> None:
    quotes, side, quantity, cap = problem
    base = quotes[0]
    fine = VenueQuote(
        name="fine",
        levels=base.levels,
        inventory=D(fine_inventory) / 10,
        taker_fee=D("0.0015"),
        lot_step=D("0.001"),
        min_qty=D("0.001"),
        tick=base.tick,
    )
    everything = [*quotes, fine]
    result = allocate(everything, side, quantity, cap)
    assert (result.filled, _money(result)) == brute_force(everything, side, quantity, cap)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    problems(steps=[D("0.5")], max_venues=1),
    st.sampled_from([D("0.001"), D("0.002"), D("0.005")]),
    st.sampled_from([D(0), D("0.05"), D("0.3")]),
    st.integers(1, 10),
    st.integers(1, 10),
)
def test_two_fine_lot_venues_are_exact(
    problem: tuple[list[VenueQuote], Side, Decimal, Any],
    second_step: Decimal,
    min_qty: Decimal,
    first_inventory: int,
    second_inventory: int,
) -> None:
    quotes, side, quantity, cap = problem
    levels = quotes[0].levels
    first = VenueQuote(
        "f1", levels, D(first_inventory) / 10, D("0.001"), D("0.001"), tick=D("0.01")
    )
    shift = D(-1) if side is Side.SELL else D(1)
    shifted = tuple((price + shift * (i % 2), qty) for i, (price, qty) in enumerate(levels))
    shifted = tuple(sorted(set(shifted), key=lambda lv: lv[0], reverse=side is Side.SELL))
    assume(len({p for p, _ in shifted}) == len(shifted))
    second = VenueQuote(
        "f2", shifted, D(second_inventory) / 10, D("0.002"), second_step, min_qty, tick=D("0.01")
    )
    result = allocate([first, second], side, quantity, cap)
    assert (result.filled, _money(result)) == brute_force([first, second], side, quantity, cap)


def _single_venue(
    quote: VenueQuote, side: Side, qty: Decimal, cap: Decimal | None
) -> Decimal | None:
    """Money of putting everything on one venue, if that is feasible."""
    for size, money in _options(quote, side, cap, qty):
        if size == qty:
            return money
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_at_least_best_single_venue_and_equal_split(
    problem: tuple[list[VenueQuote], Side, Decimal, Any],
) -> None:
    quotes, side, quantity, cap = problem
    result = allocate(quotes, side, quantity, cap)
    singles = [m for q in quotes if (m := _single_venue(q, side, quantity, cap)) is not None]
    for money in singles:
        assert result.filled == quantity
        assert _money(result) >= money
    share = quantity / len(quotes)
    parts = [_single_venue(q, side, share, cap) for q in quotes]
    if all(part is not None for part in parts):
        assert result.filled == quantity
        assert _money(result) >= sum(p for p in parts if p is not None)


@settings(max_examples=200, deadline=None)
@given(problems(steps=[D("0.1")]))
def test_fine_lots_equal_the_oracle(problem: tuple[list[VenueQuote], Side, Decimal, Any]) -> None:
    quotes, side, quantity, cap = problem
    relaxed = [
        VenueQuote(
            q.name,
            q.levels,
            q.inventory,
            q.taker_fee,
            D("0.1"),
            D(0),
            D(0),
            q.tick,
            q.band_low,
            q.band_high,
        )
        for q in quotes
    ]
    planned = allocate(relaxed, side, quantity, cap)
    bound = oracle(relaxed, side, quantity, cap)
    assert planned.filled == bound.filled
    assert planned.net == bound.net


@settings(max_examples=200, deadline=None)
@given(problems())
def test_oracle_is_an_upper_bound(problem: tuple[list[VenueQuote], Side, Decimal, Any]) -> None:
    quotes, side, quantity, cap = problem
    planned = allocate(quotes, side, quantity, cap)
    bound = oracle(quotes, side, quantity, cap)
    assert bound.filled >= planned.filled
    if bound.filled == planned.filled:
        assert _money(bound) >= _money(planned)


# --- worked examples -----------------------------------------------------------------------


def _venue(name: str, levels: list[tuple[str, str]], **rules: str) -> VenueQuote:
    values = {k: D(v) for k, v in rules.items()}
    return VenueQuote(
        name=name,
        levels=tuple((D(p), D(q)) for p, q in levels),
        inventory=values.pop("inventory", D(100)),
        **values,
    )


def test_coarse_lots_where_greedy_rounding_loses() -> None:
    """Rounding the sweep (0.9 on ``a``) strands 0.1; one venue's 1.0 lot gets everything."""
    a = _venue("a", [("100", "5")], lot_step="0.3", tick="0.01")
    b = _venue("b", [("99", "5")], lot_step="0.5", tick="0.01")
    result = allocate([a, b], Side.SELL, D("1.0"), D(95))
    assert [(c.venue, c.quantity) for c in result.children] == [("b", D("1.0"))]
    assert result.net == D(99)
    assert result.residual == 0
    assert oracle([a, b], Side.SELL, D("1.0"), D(95)).net == D(100)


def test_small_sell_raises_its_limit_to_meet_the_minimum_notional() -> None:
    """0.01 at the cap (50) is 0.5 of notional, under the 1.0 minimum; at 100 it is enough,
    and the book fills it at 100, so the child's limit is raised to 100 (never below cap)."""
    a = _venue("a", [("100", "1")], lot_step="0.01", min_notional="1", tick="0.01")
    result = allocate([a], Side.SELL, D("0.01"), D(50))
    assert [(c.quantity, c.limit_price) for c in result.children] == [(D("0.01"), D(100))]
    assert allocate([a], Side.BUY, D("0.01"), D(50)).children == ()


def test_minimum_notional_moves_the_split() -> None:
    """A 0.1 remainder on ``a`` would be under its 20 USDT minimum: ``b`` takes 0.2 instead."""
    a = _venue("a", [("100", "1.0")], lot_step="0.1", min_notional="20", tick="0.01")
    b = _venue("b", [("98", "5")], lot_step="0.1", tick="0.01")
    result = allocate([a, b], Side.SELL, D("1.1"), D(90))
    assert {c.venue: c.quantity for c in result.children} == {"a": D("1.0"), "b": D("0.1")}
    tight = allocate([a, b], Side.SELL, D("0.1"), D(90))
    assert {c.venue: c.quantity for c in tight.children} == {"b": D("0.1")}


def test_fees_change_the_order_of_venues() -> None:
    cheap = _venue("cheap", [("100.00", "1")], taker_fee="0.0000", tick="0.01")
    pricey = _venue("pricey", [("100.05", "1")], taker_fee="0.0010", tick="0.01")
    result = allocate([cheap, pricey], Side.SELL, D(1), D(99))
    assert [c.venue for c in result.children] == ["cheap"]


def test_cap_and_inventory_make_a_residual() -> None:
    a = _venue("a", [("100", "1"), ("94", "5")], inventory="3", tick="0.01")
    result = allocate([a], Side.SELL, D(5), D(95))
    assert result.filled == D(1)
    assert result.residual == D(4)
    unbounded = allocate([a], Side.SELL, D(5), None)
    assert unbounded.filled == D(3)
    assert unbounded.children[0].limit_price == D(94)


def test_buy_side_prefers_cheapest_net_of_fees() -> None:
    a = _venue("a", [("100", "0.5"), ("101", "5")], taker_fee="0.001", tick="0.01")
    b = _venue("b", [("100.5", "5")], tick="0.01")
    result = allocate([a, b], Side.BUY, D(1), D(102))
    assert {c.venue: c.quantity for c in result.children} == {"a": D("0.5"), "b": D("0.5")}
    assert all(c.limit_price == D(102) for c in result.children)


def test_band_clamps_the_limit_and_can_exclude_a_venue() -> None:
    inside = _venue("inside", [("100", "1")], band_low="96", band_high="104", tick="1")
    excluded = _venue("excluded", [("100", "1")], band_low="99", band_high="94.5", tick="0.5")
    result = allocate([inside, excluded], Side.SELL, D(2), D("90.3"))
    assert [(c.venue, c.limit_price) for c in result.children] == [("inside", D(96))]


@pytest.mark.parametrize(
    ("quantity", "cap", "step"),
    [(D(-1), D(1), D(1)), (D("NaN"), D(1), D(1)), (D(1), D(-5), D(1)), (D(1), D(1), D(0))],
)
def test_invalid_requests_are_rejected(quantity: Decimal, cap: Decimal, step: Decimal) -> None:
    quote = VenueQuote("a", ((D(1), D(1)),), D(1), lot_step=step)
    with pytest.raises(AllocationError):
        allocate([quote], Side.SELL, quantity, cap)


def test_duplicate_venue_names_are_rejected() -> None:
    quote = VenueQuote("a", ((D(1), D(1)),), D(1))
    with pytest.raises(AllocationError):
        allocate([quote, quote], Side.SELL, D(1), None)


def test_nothing_to_do() -> None:
    assert allocate([], Side.SELL, D(1), None).residual == D(1)
    empty = VenueQuote("a", (), D(1))
    assert allocate([empty], Side.BUY, D(1), None).children == ()


def test_minimum_order_on_a_fine_venue_is_raised_rather_than_dropped() -> None:
    """Found by hypothesis: the sweep gives ``f2`` 0.1 (< its 0.3 minimum). Dropping it
    fills 0.3; raising it to its minimum and giving it everything fills all 0.4."""
    f1 = VenueQuote("f1", ((D(80), D("0.6")),), D("0.3"), D("0.001"), D("0.001"), tick=D("0.01"))
    f2 = VenueQuote(
        "f2", ((D(79), D("0.6")),), D("0.6"), D("0.002"), D("0.001"), D("0.3"), tick=D("0.01")
    )
    result = allocate([f1, f2], Side.SELL, D("0.4"), None)
    assert result.filled == D("0.4")
    assert (result.filled, _money(result)) == brute_force([f1, f2], Side.SELL, D("0.4"), None)


def test_a_coarse_lot_is_made_to_fit_by_trimming_a_fine_one() -> None:
    """7.687 over holdings of 3.74036 (lots 0.00001), 2.6795 (0.0001) and 2.268 (0.001):
    rounding leaves 0.00014 nobody can take, unless ``a`` gives up 0.00086 so that ``c``
    can take one more 0.001 lot."""
    book = (("100", "50"),)
    a = _venue("a", list(book), inventory="3.74036", lot_step="0.00001", tick="0.01")
    b = _venue("b", [("99.9", "50")], inventory="2.6795", lot_step="0.0001", tick="0.01")
    c = _venue("c", [("99.8", "50")], inventory="2.268", lot_step="0.001", tick="0.01")
    result = allocate([a, b, c], Side.SELL, D("7.687"), D(90))
    assert result.filled == D("7.687")
    assert all(
        child.quantity % {"a": D("0.00001"), "b": D("0.0001"), "c": D("0.001")}[child.venue] == 0
        for child in result.children
    )
