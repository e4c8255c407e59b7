"""Planning latency: 10 venues x 1,000 levels, selling 20% of consolidated depth.

Books take the shape of a real Binance BTCUSDT book (the simulator's L2 profile),
scaled, shifted and jittered per venue and per run; lots, ticks, fees and minimums
differ by venue as they do across exchanges. Times ``allocate`` (the executable plan)
and ``oracle`` (the relaxed bound), one call at a time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal

from router.core.allocation import VenueQuote, allocate, oracle
from router.core.book import Side
from router.sim.market import load_profile

MID = Decimal(60000)
LOTS = [Decimal("0.00001"), Decimal("0.0001"), Decimal("0.001")]
TICKS = [Decimal("0.01"), Decimal("0.1")]
WORLDS = 20


@dataclass(frozen=True)
class PlanTimings:
    """Seconds per call of each planner, and the book sizes they planned over."""

    venues: int
    levels: float
    share: float
    allocate: list[float]
    oracle: list[float]


def venue_quote(index: int, rng: random.Random) -> VenueQuote:
    """One venue's quote: the real book's shape, scaled, shifted and jittered."""
    profile = load_profile("spot")
    tick = TICKS[index % len(TICKS)]
    step = LOTS[index % len(LOTS)]
    scale = rng.uniform(0.4, 2.5)
    shift = rng.uniform(-3, 3)
    levels: list[tuple[Decimal, Decimal]] = []
    for bps, qty in zip(profile.bid_bps, profile.bid_qty, strict=True):
        price = (MID * (1 - Decimal(repr(bps + shift)) / 10000)).quantize(tick)
        amount = (Decimal(repr(float(qty) * scale * rng.uniform(0.8, 1.2)))).quantize(step)
        if levels and price >= levels[-1][0]:
            price = levels[-1][0] - tick
        levels.append((price, max(amount, step)))
    return VenueQuote(
        name=f"venue-{index}",
        levels=tuple(levels[:1000]),
        inventory=Decimal(100_000),
        taker_fee=Decimal(rng.choice(["0.0004", "0.001", "0.0015"])),
        lot_step=step,
        min_qty=step,
        min_notional=Decimal(5),
        tick=tick,
        band_low=MID * Decimal("0.2"),
        band_high=MID * 5,
    )


def time_planning(
    runs: int = 1000, venues: int = 10, share: float = 0.2, seed: int = 1
) -> PlanTimings:
    """Time ``allocate`` and ``oracle`` over ``runs`` sells of ``share`` of the depth."""
    rng = random.Random(seed)
    worlds = [[venue_quote(i, rng) for i in range(venues)] for _ in range(WORLDS)]
    cap = MID * Decimal("0.9")
    timings: dict[str, list[float]] = {"allocate": [], "oracle": []}
    for run in range(runs):
        quotes = worlds[run % len(worlds)]
        depth = sum((q for v in quotes for _, q in v.levels), Decimal(0))
        quantity = (depth * Decimal(repr(share))).quantize(Decimal("0.00001"))
        for name, planner in (("allocate", allocate), ("oracle", oracle)):
            started = time.perf_counter()
            result = planner(quotes, Side.SELL, quantity, cap)
            timings[name].append(time.perf_counter() - started)
            if result.filled <= 0:
                raise RuntimeError(f"{name} planned nothing")
    levels = sum(len(v.levels) for v in worlds[0]) / venues
    return PlanTimings(venues, levels, share, timings["allocate"], timings["oracle"])
