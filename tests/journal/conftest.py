"""Journal fixtures: every journal test runs on SQLite and on PostgreSQL.

``db_url`` is parametrized over ``sqlite`` (a fresh file per test) and ``postgresql`` (one
database for the session, emptied before each test). Without a PostgreSQL server on
127.0.0.1:5432 the PostgreSQL half is skipped, with a notice in the terminal summary; with
``CI=true`` it fails instead, because CI must exercise PostgreSQL for real.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from router.journal.db import make_engine
from router.journal.migrate import ensure_schema

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DATABASE = "postgres"
PG_UNREACHABLE = f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT}"
PG_SKIP_REASON = f"{PG_UNREACHABLE}: the PostgreSQL half of the journal tests is skipped"

T = TypeVar("T")


def run_in_thread(coroutine_function: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on its own event loop, in a thread of its own.

    Sync fixtures use it so that they never touch the event loop pytest-asyncio gives
    the test.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-fixture") as pool:
        return pool.submit(asyncio.run, coroutine_function()).result()


async def _pg_connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=5
    )


@functools.cache
def postgres_available() -> bool:
    """Whether PostgreSQL accepts us on 127.0.0.1:5432 (checked once per session)."""
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            pass
    except OSError:
        return False

    async def probe() -> None:
        connection = await _pg_connect(PG_ADMIN_DATABASE)
        await connection.close()

    try:
        run_in_thread(probe)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"CI=true but {PG_UNREACHABLE}: CI must run the PostgreSQL tests", pytrace=False
        )
    pytest.skip(PG_SKIP_REASON)


def postgres_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the session, dropped at its end; yields its URL."""
    require_postgres()
    name = f"router_test_{secrets.token_hex(6)}"

    async def create() -> None:
        admin = await _pg_connect(PG_ADMIN_DATABASE)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    async def drop() -> None:
        admin = await _pg_connect(PG_ADMIN_DATABASE)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await admin.close()

    run_in_thread(create)
    try:
        yield postgres_url(name)
    finally:
        run_in_thread(drop)


def empty_postgres_schema(database: str) -> None:
    async def reset() -> None:
        connection = await _pg_connect(database)
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await connection.close()

    run_in_thread(reset)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty journal database's URL: a new SQLite file, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/journal.db"
    require_postgres()
    url: str = request.getfixturevalue("postgres_database")
    empty_postgres_schema(url.rsplit("/", 1)[1])
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``db_url`` with the journal's schema at head."""
    journal_engine = make_engine(db_url)
    try:
        await ensure_schema(journal_engine)
        yield journal_engine
    finally:
        await journal_engine.dispose()


def _skip_message(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that the PostgreSQL half did not run, if it did not."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if PG_SKIP_REASON in _skip_message(report)
    ]
    if skipped:
        terminalreporter.write_sep("=", "PostgreSQL journal tests skipped", yellow=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} test(s) skipped: {PG_SKIP_REASON}. "
            "Start PostgreSQL (or set CI=true to make this an error).",
            yellow=True,
        )
