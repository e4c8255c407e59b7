"""Journal cost on the order path, on SQLite and PostgreSQL.

A thin wrapper around ``router.bench.speed_journal`` (also part of ``router bench speed``):
the durable intent write, a whole attempt (intent, sent, outcome with one fill) and the
rate of attempts-with-fill when many closes journal concurrently. PostgreSQL runs on a
throwaway database on 127.0.0.1:5432.

    .venv/bin/python scripts/bench_journal.py [--samples 500] [--closes 50] [--per-close 40]
"""

from __future__ import annotations

import argparse
import asyncio

from router.bench.speed_journal import JournalTimings, postgres_url, sqlite_url, time_journal
from router.bench.speed_stats import median, percentile


def _summary(samples: list[float]) -> str:
    return f"median {median(samples) * 1000:.3f} ms, p99 {percentile(samples, 0.99) * 1000:.3f} ms"


def _print(timings: JournalTimings) -> None:
    name = timings.database
    print(f"{name:>10} intent write (durable):   {_summary(timings.intents)}")
    print(f"{name:>10} whole attempt (3 writes): {_summary(timings.attempts)}")
    print(
        f"{name:>10} concurrent closes: {timings.attempts_per_s:,.0f} attempts-with-fill/s "
        f"({timings.concurrent_attempts} attempts, {timings.commits} commits)"
    )


async def _run(args: argparse.Namespace) -> None:
    databases = [("sqlite", sqlite_url)]
    if not args.skip_postgres:
        databases.append(("postgresql", postgres_url))
    for name, url_of in databases:
        async with url_of() as url:
            _print(
                await time_journal(
                    name, url, samples=args.samples, closes=args.closes, per_close=args.per_close
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--closes", type=int, default=50)
    parser.add_argument("--per-close", type=int, default=40)
    parser.add_argument("--skip-postgres", action="store_true")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
