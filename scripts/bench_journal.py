"""Journal cost on the order path, on SQLite and PostgreSQL.

For each database: the durable intent write (the one that sits between a decision and
the order leaving), a whole attempt (intent, sent, outcome with one fill), each timed
one at a time, and the sustained rate of attempts-with-fill when 50 closes journal
concurrently (group commit at work). SQLite runs on a temporary file with the
journal's durable pragmas; PostgreSQL on a throwaway database on 127.0.0.1:5432.

    .venv/bin/python scripts/bench_journal.py [--samples 500] [--closes 50] [--per-close 40]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg

from router.core.orders import OrderState
from router.journal.db import make_engine
from router.journal.migrate import ensure_schema
from router.journal.records import AttemptIntent, FillRecord, NewClose
from router.journal.repository import Journal, OutcomeUpdate

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _intent(close_id: str, client_id: str) -> AttemptIntent:
    return AttemptIntent(
        client_id,
        close_id,
        1,
        0,
        "alpha",
        "spot",
        "BTCUSDT",
        "sell",
        Decimal("0.5"),
        Decimal("59000.01"),
    )


def _fill(close_id: str, client_id: str) -> FillRecord:
    return FillRecord(
        close_id,
        client_id,
        "alpha",
        "spot",
        f"t-{client_id}",
        "sell",
        Decimal("0.5"),
        Decimal("59010.5"),
        Decimal("29.50525"),
        "USDT",
        datetime.now(UTC),
    )


async def _attempt(journal: Journal, close_id: str, client_id: str) -> None:
    await journal.record_intent(_intent(close_id, client_id))
    await journal.mark_sent(client_id)
    await journal.record_outcome(
        client_id,
        OutcomeUpdate(OrderState.FILLED, exchange_order_id=client_id, filled_qty=Decimal("0.5")),
        [_fill(close_id, client_id)],
    )


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms"


async def _bench(name: str, url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    await ensure_schema(engine)
    journal = Journal(engine)
    close, _ = await journal.create_close(
        NewClose("bench", "BTCUSDT", "sell", Decimal(1000), {"quantity": "1000"})
    )
    intents: list[float] = []
    for index in range(args.samples):
        started = time.perf_counter()
        await journal.record_intent(_intent(close.id, f"i-{index}"))
        intents.append(time.perf_counter() - started)
    attempts: list[float] = []
    for index in range(args.samples):
        started = time.perf_counter()
        await _attempt(journal, close.id, f"a-{index}")
        attempts.append(time.perf_counter() - started)
    closes = [
        (
            await journal.create_close(
                NewClose(f"c-{i}", "BTCUSDT", "sell", Decimal(100), {"quantity": "100"})
            )
        )[0].id
        for i in range(args.closes)
    ]

    async def one_close(close_id: str) -> None:
        for index in range(args.per_close):
            await _attempt(journal, close_id, f"{close_id[-10:]}-{index}")

    commits = journal.commits
    started = time.perf_counter()
    await asyncio.gather(*(one_close(c) for c in closes))
    elapsed = time.perf_counter() - started
    total = args.closes * args.per_close
    print(f"{name:>10} intent write (durable):   {_summary(intents)}")
    print(f"{name:>10} whole attempt (3 writes): {_summary(attempts)}")
    print(
        f"{name:>10} {args.closes} concurrent closes: {total / elapsed:,.0f} attempts-with-fill/s "
        f"({total} attempts, {journal.commits - commits} commits)"
    )
    await journal.close()


async def _postgres(args: argparse.Namespace) -> None:
    database = f"router_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database="postgres", **PG)
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        url = f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
        await _bench("postgresql", url, args)
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
        await admin.execute(f'DROP DATABASE "{database}"')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--closes", type=int, default=50)
    parser.add_argument("--per-close", type=int, default=40)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_bench("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'journal.db'}", args))
    if not args.skip_postgres:
        asyncio.run(_postgres(args))


if __name__ == "__main__":
    main()
