"""Books and sweeps, with the seed's own order books as worked examples."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.core.book import Book, InvalidBook, Side, fillable, imbalance, spread_bps, sweep

D = Decimal

# The seed's stage 1 (panic selling, bids still there) and stage 2 (exhaustion).
PANIC = Book(
    bids=((D(49000), D(10)), (D(48500), D(20)), (D(48000), D(50))),
    asks=((D(50000), D(100)),),
)
EXHAUSTED = Book(
    bids=((D(30000), D("0.5")), (D(25000), D("0.2")), (D(20000), D("0.1"))),
    asks=((D(48000), D(3000)), (D(49000), D(2000)), (D(50000), D(1000))),
)


def test_panic_stage_escape_is_possible_with_small_slippage() -> None:
    result = sweep(PANIC.bids, Side.SELL, D(15), fee_rate=D("0.001"))
    assert result.filled == D(15)
    assert result.gross == D(10) * 49000 + D(5) * 48500
    assert result.worst_price == D(48500)
    assert result.average_price == D(732500) / 15
    slippage = result.slippage(D(50000))
    assert slippage is not None
    assert D("0.01") < slippage < D("0.05")
    assert result.net == result.gross * D("0.999")


def test_exhaustion_stage_is_the_trap() -> None:
    """Selling 1 BTC into the stage-2 book: 0.8 fills at 45% slippage, 0.2 cannot be sold."""
    result = sweep(EXHAUSTED.bids, Side.SELL, D(1))
    assert result.filled == D("0.8")
    assert result.residual == D("0.2")
    assert result.average_price == D(27500)
    assert result.slippage(D(50000)) == D("0.45")
    capped = sweep(EXHAUSTED.bids, Side.SELL, D(1), limit=D(47500))
    assert capped.filled == 0
    assert capped.average_price is None


def test_buy_side_and_limits() -> None:
    result = sweep(EXHAUSTED.asks, Side.BUY, D(4000), limit=D(49000), fee_rate=D("0.001"))
    assert result.filled == D(4000)
    assert result.worst_price == D(49000)
    assert result.net == result.gross * D("1.001")
    assert result.slippage(D(48000)) == (D(48250) - 48000) / 48000
    assert fillable(EXHAUSTED.asks, Side.BUY, D(49000)) == D(5000)
    assert fillable(PANIC.bids, Side.SELL, None) == D(80)


def test_spread_and_imbalance() -> None:
    assert spread_bps(PANIC) == D(1000) / D(49500) * 10000
    assert imbalance(PANIC) == D(-20) / D(180)
    assert PANIC.mid == D(49500)
    assert Book((), ()).mid is None


@pytest.mark.parametrize(
    ("bids", "asks", "message"),
    [
        (((D(1), D(1)), (D(2), D(1))), (), "out of order"),
        (((D(1), D(0)),), (), "non-positive"),
        (((D(2), D(1)),), ((D(2), D(1)),), "crossed"),
        (((D("NaN"), D(1)),), (), "non-finite"),
    ],
)
def test_impossible_books_are_refused(
    bids: tuple[tuple[Decimal, Decimal], ...],
    asks: tuple[tuple[Decimal, Decimal], ...],
    message: str,
) -> None:
    with pytest.raises(InvalidBook, match=message):
        Book(bids, asks)


@given(st.integers(1, 200), st.integers(0, 200))
def test_sweep_never_overfills(want: int, limit: int) -> None:
    result = sweep(PANIC.bids, Side.SELL, D(want), limit=D(48000 + limit * 5))
    assert 0 <= result.filled <= D(want)
    assert result.filled <= fillable(PANIC.bids, Side.SELL, D(48000 + limit * 5))
    if result.worst_price is not None:
        assert result.worst_price >= D(48000 + limit * 5)
