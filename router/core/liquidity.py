"""Liquidity scores, the escape window and Daimon's world-signature vote.

A venue's score is its top-of-book depth (the side a close trades against) divided by
that venue's *normal* depth, capped at 1: 1.0 plenty, 0.5 thin, 0.1 exhausted, 0 gone.
Normal depth is the median of a bounded window of past observations, so neither the
first observations nor a burst of outliers decide it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from router.core.book import Book, Side, depth, imbalance, spread_bps
from router.core.numbers import ONE, ZERO

ESCAPE_HORIZON_S = Decimal(1800)
ESCAPE_NOW_BELOW_S = Decimal(60)
CLOSE_BELOW = Decimal("0.3")
VOTE_CONFIDENCE = Decimal("0.95")
VOLATILITY_FLOOR = Decimal("0.1")
SECONDS_PER_DAY = Decimal(86400)


def _clamp(value: Decimal, low: Decimal = ZERO, high: Decimal = ONE) -> Decimal:
    return max(low, min(high, value))


def median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True, slots=True)
class Baseline:
    """A venue's normal depth: the median of the last ``window`` observations."""

    window: int = 360
    samples: tuple[Decimal, ...] = ()

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("baseline window must be at least 1 observation")

    def observe(self, value: Decimal) -> Baseline:
        if not value.is_finite() or value < 0:
            raise ValueError(f"depth observation must be finite and non-negative, got {value}")
        kept = (*self.samples, value)[-self.window :]
        return Baseline(self.window, kept)

    @property
    def value(self) -> Decimal | None:
        """``None`` until the first observation."""
        return median(self.samples) if self.samples else None


def score(current_depth: Decimal, baseline: Decimal | None) -> Decimal | None:
    """Depth over normal depth, capped at 1 (``None`` without a baseline)."""
    if baseline is None:
        return None
    if baseline <= 0:
        return ONE if current_depth > 0 else ZERO
    return min(current_depth / baseline, ONE)


def side_depth(book: Book, side: Side, levels: int = 10) -> Decimal:
    """Depth a close on ``side`` trades against: bids for a sell, asks for a buy."""
    return depth(book.taken_by(side), levels)


def consolidated_score(
    depths: Mapping[str, Decimal], baselines: Mapping[str, Decimal | None]
) -> Decimal | None:
    """Total depth over total normal depth across the venues that have a baseline."""
    known = [name for name, base in baselines.items() if base is not None and name in depths]
    if not known:
        return None
    total_base = sum((baselines[name] or ZERO for name in known), ZERO)
    total_depth = sum((depths[name] for name in known), ZERO)
    return score(total_depth, total_base)


def realized_volatility(
    mids: Sequence[tuple[Decimal, Decimal]], horizon_s: Decimal = SECONDS_PER_DAY
) -> Decimal | None:
    """Realised volatility of a mid-price series, scaled to ``horizon_s`` (a fraction).

    ``mids`` is a time-ordered sequence of (seconds, price). The variance per second is
    the sum of squared log returns over the elapsed time; the result is its square
    root over the horizon (one day by default, so a calm BTC market reads a few
    percent and a crash day reads tens of percent).
    """
    if len(mids) < 2:
        return None
    elapsed = mids[-1][0] - mids[0][0]
    if elapsed <= 0:
        return None
    total = ZERO
    for (_, before), (_, after) in itertools.pairwise(mids):
        if before <= 0 or after <= 0:
            raise ValueError("mid prices must be positive")
        change = (after / before).ln()
        total += change * change
    return (total / elapsed * horizon_s).sqrt()


@dataclass(frozen=True, slots=True)
class EscapeWindow:
    seconds: Decimal
    escape_now: bool


def escape_window(
    danger: Decimal,
    liquidity: Decimal,
    volatility: Decimal,
    *,
    horizon_s: Decimal = ESCAPE_HORIZON_S,
    escape_now_below_s: Decimal = ESCAPE_NOW_BELOW_S,
) -> EscapeWindow:
    """``(1 - danger) * liquidity * max(1 - volatility, 0.1) * 1800`` seconds.

    Inputs are clamped to [0, 1]. Below 60 s the answer is: escape now.
    """
    seconds = (
        (ONE - _clamp(danger))
        * _clamp(liquidity)
        * max(ONE - _clamp(volatility), VOLATILITY_FLOOR)
        * horizon_s
    )
    return EscapeWindow(seconds, seconds < escape_now_below_s)


@dataclass(frozen=True, slots=True)
class Vote:
    """A vote for Daimon's world-signature voice."""

    action: str
    confidence: Decimal
    voter_category: str
    reason: str


def world_signature_votes(
    liquidity: Decimal | None,
    has_position: bool,
    *,
    close_below: Decimal = CLOSE_BELOW,
    confidence: Decimal = VOTE_CONFIDENCE,
) -> list[Vote]:
    """The seed's rule: liquidity below 0.3 with a position open votes to close now."""
    if liquidity is None or not has_position or liquidity >= close_below:
        return []
    return [
        Vote(
            action="close",
            confidence=confidence,
            voter_category="world_signature",
            reason=f"liquidity exhausted (liquidity={liquidity:.1%}): close now",
        )
    ]


@dataclass(frozen=True, slots=True)
class VenueLiquidity:
    venue: str
    depth: Decimal
    baseline: Decimal | None
    score: Decimal | None
    spread_bps: Decimal | None
    imbalance: Decimal | None


def venue_liquidity(
    name: str, book: Book, side: Side, baseline: Baseline, *, levels: int = 10
) -> VenueLiquidity:
    current = side_depth(book, side, levels)
    return VenueLiquidity(
        venue=name,
        depth=current,
        baseline=baseline.value,
        score=score(current, baseline.value),
        spread_bps=spread_bps(book),
        imbalance=imbalance(book, levels),
    )


def consolidated(readings: Iterable[VenueLiquidity]) -> Decimal | None:
    rows = list(readings)
    return consolidated_score({r.venue: r.depth for r in rows}, {r.venue: r.baseline for r in rows})
