"""Journal cost on the order path, on SQLite and PostgreSQL.

For each database: the durable intent write (the one that sits between a decision and
the order leaving), a whole attempt (intent, sent, outcome with one fill), each timed
one at a time, and the sustained rate of attempts-with-fill when many closes journal
concurrently (group commit at work). SQLite runs on a temporary file with the
journal's durable pragmas; PostgreSQL on a throwaway database created and dropped here.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from router.core.orders import OrderState
from router.journal.db import make_engine
from router.journal.migrate import ensure_schema
from router.journal.records import AttemptIntent, FillRecord, NewClose
from router.journal.repository import Journal, OutcomeUpdate

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


@dataclass(frozen=True)
class JournalTimings:
    """Seconds per intent write and per whole attempt; the concurrent attempt rate."""

    database: str
    intents: list[float]
    attempts: list[float]
    concurrent_attempts: int
    concurrent_s: float
    commits: int

    @property
    def attempts_per_s(self) -> float:
        return self.concurrent_attempts / self.concurrent_s


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


async def time_journal(
    database: str, url: str, *, samples: int = 500, closes: int = 50, per_close: int = 40
) -> JournalTimings:
    """Time the journal at ``url`` (an empty database: the schema is created here)."""
    engine = make_engine(url)
    await ensure_schema(engine)
    journal = Journal(engine)
    try:
        close, _ = await journal.create_close(
            NewClose("bench", "BTCUSDT", "sell", Decimal(1000), {"quantity": "1000"})
        )
        intents: list[float] = []
        for index in range(samples):
            started = time.perf_counter()
            await journal.record_intent(_intent(close.id, f"i-{index}"))
            intents.append(time.perf_counter() - started)
        attempts: list[float] = []
        for index in range(samples):
            started = time.perf_counter()
            await _attempt(journal, close.id, f"a-{index}")
            attempts.append(time.perf_counter() - started)
        ids = [
            (
                await journal.create_close(
                    NewClose(f"c-{i}", "BTCUSDT", "sell", Decimal(100), {"quantity": "100"})
                )
            )[0].id
            for i in range(closes)
        ]

        async def one_close(close_id: str) -> None:
            for index in range(per_close):
                await _attempt(journal, close_id, f"{close_id[-10:]}-{index}")

        commits = journal.commits
        started = time.perf_counter()
        await asyncio.gather(*(one_close(c) for c in ids))
        elapsed = time.perf_counter() - started
        return JournalTimings(
            database, intents, attempts, closes * per_close, elapsed, journal.commits - commits
        )
    finally:
        await journal.close()


@asynccontextmanager
async def sqlite_url() -> AsyncIterator[str]:
    """A journal URL on a fresh temporary SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'journal.db'}"


@asynccontextmanager
async def postgres_url(
    host: str = PG_HOST, port: int = PG_PORT, user: str = PG_USER
) -> AsyncIterator[str]:
    """A throwaway PostgreSQL database (trust auth), dropped afterwards."""
    database = f"router_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=host, port=port, user=user, database="postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"postgresql+asyncpg://{user}@{host}:{port}/{database}"
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
        await admin.execute(f'DROP DATABASE "{database}"')
        await admin.close()
