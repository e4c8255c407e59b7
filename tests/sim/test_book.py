"""The simulator's order book: price-time priority, outside refreshes, self-trade prevention."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from router.sim.book import EXTERNAL, BookSide, Resting

D = Decimal


def _always(_: Decimal) -> bool:
    return True


def _no_own(owner: int, qty: Decimal) -> None:
    raise AssertionError("no own orders expected")


def test_bids_are_best_first_and_take_walks_down() -> None:
    bids = BookSide(is_bid=True)
    bids.replace_external([(D(100), D(1)), (D(99), D(2)), (D(98), D(3))])
    assert bids.best() == D(100)
    matches = bids.take(D("2.5"), lambda p: p >= D(99), _no_own, taker=1)
    assert [(m.price, m.qty) for m in matches] == [(D(100), D(1)), (D(99), D("1.5"))]
    assert bids.levels() == [(D(99), D("0.5")), (D(98), D(3))]


def test_outside_aggressor_fills_queue_in_time_order() -> None:
    asks = BookSide(is_bid=False)
    asks.replace_external([(D(101), D(1))])
    asks.add(D(101), Resting(7, D(2)))
    asks.replace_external([(D(101), D(3))])
    matches = asks.take(D(4), _always, _no_own, taker=EXTERNAL)
    assert [(m.qty, m.owner) for m in matches] == [(D(1), EXTERNAL), (D(2), 7), (D(1), EXTERNAL)]
    assert asks.levels() == [(D(101), D(1))]


def test_order_of_the_account_is_expired_instead_of_self_trading() -> None:
    asks = BookSide(is_bid=False)
    asks.add(D(101), Resting(7, D(2)))
    asks.replace_external([(D(101), D(1)), (D(102), D(5))])
    expired: list[int] = []
    matches = asks.take(D(3), _always, lambda owner, qty: expired.append(owner), taker=9)
    assert expired == [7]
    assert [(m.price, m.qty, m.owner) for m in matches] == [
        (D(101), D(1), EXTERNAL),
        (D(102), D(2), EXTERNAL),
    ]


def test_refresh_keeps_account_orders_and_cuts_outside_from_the_back() -> None:
    bids = BookSide(is_bid=True)
    bids.replace_external([(D(100), D(5))])
    bids.add(D(100), Resting(3, D(1)))
    bids.replace_external([(D(100), D(7))])
    assert bids.total_at(D(100)) == D(8)
    bids.replace_external([])
    assert bids.levels() == [(D(100), D(1))]
    assert bids.first_owned() == (D(100), 3)
    assert bids.remove_owner(D(100), 3) == D(1)
    assert bids.best() is None


@given(
    st.lists(
        st.tuples(st.integers(1, 500), st.integers(1, 1000)),
        min_size=1,
        max_size=40,
        unique_by=lambda level: level[0],
    ),
    st.integers(1, 20_000),
)
def test_take_conserves_quantity(levels: list[tuple[int, int]], want: int) -> None:
    side = BookSide(is_bid=True)
    side.replace_external([(D(p), D(q)) for p, q in levels])
    before = sum(q for _, q in side.levels())
    matches = side.take(D(want), _always, _no_own, taker=1)
    taken = sum((m.qty for m in matches), D(0))
    after = sum((q for _, q in side.levels()), D(0))
    assert taken == min(D(want), before)
    assert before - taken == after
    prices = [m.price for m in matches]
    assert prices == sorted(prices, reverse=True)
