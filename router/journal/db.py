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

Where the journal lives: ``--db`` or ``$ROUTER_JOURNAL_URL`` when given, else
``journal.db`` in the router's data directory: ``$ROUTER_DATA_DIR``, else
``$XDG_DATA_HOME/router``, else ``~/.local/share/router``, created on first use. The same
default wherever the router is started from, so a restarted service finds its closes.
Replays (``router simulate``, ``router guard --scenario``) keep their own journal,
``replays.db`` in the same directory, so they never mix with real closes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

URL_ENV = "ROUTER_JOURNAL_URL"
DATA_DIR_ENV = "ROUTER_DATA_DIR"
JOURNAL_FILE = "journal.db"
REPLAYS_FILE = "replays.db"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The router's data directory (absolute; not created here, see :func:`make_engine`).

    ``$ROUTER_DATA_DIR``, else ``$XDG_DATA_HOME/router`` (an absolute path only, as the
    XDG specification asks), else ``~/.local/share/router``.
    """
    env = os.environ if environ is None else environ
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser().absolute()
    xdg = env.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "router"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "share" / "router"


def sqlite_url(path: Path) -> str:
    """The journal URL of a SQLite file (characters such as ``?`` or ``#`` escaped)."""
    return URL.create("sqlite+aiosqlite", database=str(path)).render_as_string(hide_password=False)


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """The default journal: ``journal.db`` in the data directory."""
    return sqlite_url(data_dir(environ) / JOURNAL_FILE)


def replays_url(environ: Mapping[str, str] | None = None) -> str:
    """The replays' journal: ``replays.db`` in the data directory."""
    return sqlite_url(data_dir(environ) / REPLAYS_FILE)


def journal_url(explicit: str | None = None) -> str:
    """The URL to use: the argument, else ``$ROUTER_JOURNAL_URL``, else the default."""
    return explicit or os.environ.get(URL_ENV) or default_url()


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


def error_gist(exc: BaseException) -> str:
    """The gist of a database error in one line, without SQLAlchemy's wrapping and links."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    message = lines[0].strip() if lines else type(exc).__name__
    if isinstance(exc, ImportError):
        message = (
            f"missing database driver ({message}); use postgresql+asyncpg:// or sqlite+aiosqlite://"
        )
    return message


def redacted(url: str) -> str:
    """The URL with any password hidden, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)
