"""Planning latency: 10 venues x 1,000 levels, selling 20% of consolidated depth.

Books take the shape of a real Binance BTCUSDT book (the simulator's L2 profile),
scaled, shifted and jittered per venue and per run; lots, ticks, fees and minimums
differ by venue as they do across exchanges. Prints the median and p99 of
``allocate`` (the executable plan) and of ``oracle`` (the relaxed bound).

    .venv/bin/python scripts/bench_plan.py [--runs 1000] [--venues 10] [--share 0.2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from router.core.allocation import VenueQuote, allocate, oracle
from router.core.book import Side
from router.sim.market import load_profile

MID = Decimal(60000)
LOTS = [Decimal("0.00001"), Decimal("0.0001"), Decimal("0.001")]
TICKS = [Decimal("0.01"), Decimal("0.1")]


def _venue(index: int, rng: random.Random) -> VenueQuote:
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


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--venues", type=int, default=10)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    worlds = [[_venue(i, rng) for i in range(args.venues)] for _ in range(20)]
    cap = MID * Decimal("0.9")
    timings: dict[str, list[float]] = {"allocate": [], "oracle": []}
    levels = sum(len(v.levels) for v in worlds[0]) / args.venues
    for run in range(args.runs):
        venues = worlds[run % len(worlds)]
        depth = sum((q for v in venues for _, q in v.levels), Decimal(0))
        quantity = (depth * Decimal(repr(args.share))).quantize(Decimal("0.00001"))
        for name, planner in (("allocate", allocate), ("oracle", oracle)):
            started = time.perf_counter()
            result = planner(venues, Side.SELL, quantity, cap)
            timings[name].append(time.perf_counter() - started)
            assert result.filled > 0
    print(
        f"{args.venues} venues x {levels:.0f} levels, selling {args.share:.0%} of consolidated "
        f"depth, {args.runs} runs"
    )
    for name, samples in timings.items():
        print(
            f"{name:>8}: median {statistics.median(samples) * 1000:.3f} ms, "
            f"p99 {_percentile(samples, 0.99) * 1000:.3f} ms"
        )


if __name__ == "__main__":
    main()
