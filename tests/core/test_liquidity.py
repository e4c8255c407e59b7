"""Liquidity scores, the escape window and the world-signature vote."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.core.book import Book, Side
from router.core.liquidity import (
    Baseline,
    consolidated,
    consolidated_score,
    escape_window,
    realized_volatility,
    score,
    venue_liquidity,
    world_signature_votes,
)

D = Decimal
fractions = st.decimals(min_value=0, max_value=1, places=3)


def test_seed_example_escape_now() -> None:
    window = escape_window(D("0.9"), D("0.5"), D("0.5"))
    assert window.seconds == D(45)
    assert window.escape_now


def test_seed_examples_calm_and_floor() -> None:
    calm = escape_window(D(0), D(1), D(0))
    assert calm.seconds == D(1800)
    assert not calm.escape_now
    assert escape_window(D("0.5"), D(1), D("0.95")).seconds == D(90)
    assert escape_window(D(1), D(1), D(0)).seconds == 0
    assert escape_window(D(2), D(-1), D(5)).seconds == 0


@given(fractions, fractions, fractions, fractions)
def test_escape_window_is_monotone(
    a: Decimal, b: Decimal, liquidity: Decimal, vol: Decimal
) -> None:
    low, high = sorted((a, b))
    assert escape_window(high, liquidity, vol).seconds <= escape_window(low, liquidity, vol).seconds
    assert escape_window(vol, low, liquidity).seconds <= escape_window(vol, high, liquidity).seconds
    assert escape_window(vol, liquidity, high).seconds <= escape_window(vol, liquidity, low).seconds


def test_baseline_is_robust_to_first_observation_and_outliers() -> None:
    baseline = Baseline(window=5)
    assert baseline.value is None
    for depth in ["500", "10", "11", "12", "9"]:
        baseline = baseline.observe(D(depth))
    assert baseline.value == D(11)
    baseline = baseline.observe(D("1000000"))
    assert baseline.value == D(11)
    assert len(baseline.samples) == 5
    with pytest.raises(ValueError, match="non-negative"):
        baseline.observe(D(-1))
    with pytest.raises(ValueError, match="at least 1"):
        Baseline(window=0)


def test_score_is_capped_and_needs_a_baseline() -> None:
    assert score(D(5), D(10)) == D("0.5")
    assert score(D(50), D(10)) == D(1)
    assert score(D(5), None) is None
    assert score(D(0), D(0)) == 0


def test_consolidated_score_weights_by_normal_depth() -> None:
    depths = {"a": D(1), "b": D(9), "c": D(5)}
    baselines = {"a": D(10), "b": D(10), "c": None}
    assert consolidated_score(depths, baselines) == D("0.5")
    assert consolidated_score(depths, {"a": None}) is None


def test_venue_liquidity_reads_the_side_a_close_trades_against() -> None:
    book = Book(
        bids=((D(99), D(2)), (D(98), D(2))),
        asks=((D(101), D(10)), (D(102), D(10))),
    )
    baseline = Baseline().observe(D(8)).observe(D(8))
    long_close = venue_liquidity("a", book, Side.SELL, baseline)
    short_close = venue_liquidity("a", book, Side.BUY, baseline)
    assert long_close.score == D("0.5")
    assert short_close.score == D(1)
    assert long_close.spread_bps == D(200)
    assert long_close.imbalance == D(-16) / D(24)
    assert consolidated([long_close]) == D("0.5")


def test_realized_volatility_scales_with_the_horizon() -> None:
    flat = [(D(t), D(100)) for t in range(10)]
    assert realized_volatility(flat) == 0
    moving = [(D(0), D(100)), (D(60), D(101)), (D(120), D(100))]
    daily = realized_volatility(moving)
    hourly = realized_volatility(moving, horizon_s=D(3600))
    assert daily is not None
    assert hourly is not None
    assert daily > hourly > 0
    assert (daily / hourly - D(24).sqrt()).copy_abs() < D("1e-20")
    assert realized_volatility(moving[:1]) is None


def test_vote_below_threshold_with_a_position() -> None:
    votes = world_signature_votes(D("0.25"), has_position=True)
    assert len(votes) == 1
    vote = votes[0]
    assert (vote.action, vote.confidence, vote.voter_category) == (
        "close",
        D("0.95"),
        "world_signature",
    )
    assert "25.0%" in vote.reason
    assert world_signature_votes(D("0.25"), has_position=False) == []
    assert world_signature_votes(D("0.3"), has_position=True) == []
    assert world_signature_votes(None, has_position=True) == []
