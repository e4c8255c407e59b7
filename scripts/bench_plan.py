"""Planning latency: 10 venues x 1,000 levels, selling 20% of consolidated depth.

A thin wrapper around ``router.bench.speed_plan`` (also part of ``router bench speed``).

    .venv/bin/python scripts/bench_plan.py [--runs 1000] [--venues 10] [--share 0.2]
"""

from __future__ import annotations

import argparse

from router.bench.speed_plan import time_planning
from router.bench.speed_stats import median, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--venues", type=int, default=10)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    timings = time_planning(args.runs, args.venues, args.share, args.seed)
    print(
        f"{timings.venues} venues x {timings.levels:.0f} levels, selling {args.share:.0%} of "
        f"consolidated depth, {args.runs} runs"
    )
    for name, samples in (("allocate", timings.allocate), ("oracle", timings.oracle)):
        print(
            f"{name:>8}: median {median(samples) * 1000:.3f} ms, "
            f"p99 {percentile(samples, 0.99) * 1000:.3f} ms"
        )


if __name__ == "__main__":
    main()
