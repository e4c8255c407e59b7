"""Connecting to the journal database: SQLite by default, PostgreSQL for real.

SQLite pragmas, set on every connection:

* ``journal_mode=WAL``: readers (audits, the API) never block the writer and a commit
  appends to the log instead of rewriting pages.
* ``synchronous=FULL``: the WAL is fsynced at every commit, so a journal call that has
  returned survives a crash *and* a power cut (NORMAL would only survive a crash of the
  process).
* ``foreign_keys=ON``: attempts, fills and hedges always point at a real close.
* ``busy_timeout=10000``: a second process (an audit, a second router) waits for the
  write lock instead of failing.

PostgreSQL commits are durable with its default ``synchronous_commit=on``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_URL = "sqlite+aiosqlite:///var/journal.db"
URL_ENV = "ROUTER_JOURNAL_URL"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def journal_url(explicit: str | None = None) -> str:
    """The URL to use: the argument, else ``$ROUTER_JOURNAL_URL``, else the SQLite file."""
    return explicit or os.environ.get(URL_ENV) or DEFAULT_URL


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str | None = None, **options: Any) -> AsyncEngine:
    """An async engine for the journal; creates the SQLite file's directory if needed."""
    resolved = make_url(journal_url(url))
    if resolved.get_backend_name() == "sqlite":
        database = resolved.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    if resolved.get_backend_name() != "sqlite":
        # a pooled connection that died with a server restart is replaced, not used
        options.setdefault("pool_pre_ping", True)
    engine = create_async_engine(resolved, **options)
    if resolved.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def redacted(url: str) -> str:
    """The URL with any password hidden, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)
