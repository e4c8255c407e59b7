"""Bringing the journal's schema up to date with Alembic.

The migrations live in the repository's top-level ``migrations`` folder. Every function here
hands Alembic one connection of the caller's engine (``config.attributes["connection"]``),
and a migration runs inside a single transaction that it either commits whole or not at all:

* PostgreSQL: DDL is transactional, and a transaction-scoped advisory lock makes routers that
  start together migrate one after the other.
* SQLite: ``BEGIN IMMEDIATE`` takes the write lock before anything is read, and makes the DDL
  transactional (the driver would otherwise run it outside any transaction). Foreign keys are
  off while a migration runs, as SQLite's table-rebuilding ("batch") migrations require, and
  ``PRAGMA foreign_key_check`` must come back clean before the commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import router
from router.journal.models import Base
from router.journal.types import ExactDecimal, UtcDateTime

MIGRATIONS_DIR = Path(router.__file__).resolve().parent.parent / "migrations"
"""Where ``env.py`` and ``versions/`` are: next to the package, at the repository's top."""

ADVISORY_LOCK_KEY = int.from_bytes(b"rjournal", "big")
"""PostgreSQL advisory lock held while the journal's schema is migrated."""

_JOURNAL_TYPES = (ExactDecimal, UtcDateTime)


class MigrationError(RuntimeError):
    """The journal's schema cannot be brought to the requested revision."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the journal's migrations, built without an ini file.

    ``url`` is only needed when ``env.py`` is to open its own connection (no connection in
    ``config.attributes``); without it, ``env.py`` falls back to ``journal_url()``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the journal's column types as ``router.journal.types.X()`` in migrations.

    Alembic's default would spell out the underlying type's arguments
    (``UtcDateTime(timezone=True)``), which are the type's business, not the migration's.
    ``script.py.mako`` imports ``router.journal.types`` in every revision.
    """
    if type_ == "type" and isinstance(obj, _JOURNAL_TYPES):
        return f"router.journal.types.{type(obj).__name__}()"
    return False


def migration_options(dialect_name: str) -> dict[str, Any]:
    """The options ``env.py`` configures Alembic's context with, for one database dialect.

    Comparing against the models with these options (``compare_type`` included) finds the
    same differences ``alembic revision --autogenerate`` would.
    """
    return {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
        "render_item": render_item,
    }


def head_revision() -> str:
    """The newest revision in ``migrations/versions``."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> set[str]:
    """Every revision in ``migrations/versions``."""
    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


@asynccontextmanager
async def migration_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in the one transaction a migration runs in (see the module docstring)."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                    violations = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if violations:
                        raise MigrationError(
                            f"migration would break {len(violations)} foreign key(s), "
                            f"first: {tuple(violations[0])}"
                        )
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
            finally:
                try:
                    await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                except DBAPIError:
                    # Never hand the pool a connection without foreign keys.
                    await conn.invalidate()
        return
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        yield conn


def _run_command(
    connection: Connection, action: Callable[[Config, str], None], revision: str
) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    action(config, revision)


def _journal_tables_present(connection: Connection) -> list[str]:
    existing = set(inspect(connection).get_table_names())
    return [name for name in Base.metadata.tables if name in existing]


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the journal's schema up to ``revision``."""
    async with migration_connection(engine) as conn:
        await conn.run_sync(_run_command, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the journal's schema down to ``revision`` (``"base"``: drop every table)."""
    async with migration_connection(engine) as conn:
        await conn.run_sync(_run_command, command.downgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    """The schema's revision; ``None`` for a database Alembic has never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


async def ensure_schema(engine: AsyncEngine) -> None:
    """Bring the schema to head; a single read when it is already there.

    Refuses, rather than guessing what their schema is, a database migrated by a newer
    router (a revision this one does not know) and one whose journal tables were created
    without Alembic. The check and the upgrade run under the migration lock, so routers
    starting together on an empty database migrate it once, one after the other.
    """
    if await current(engine) == head_revision():
        return
    async with migration_connection(engine) as conn:
        await conn.run_sync(_upgrade_to_head)


def _upgrade_to_head(connection: Connection) -> None:
    revision = _current_revision(connection)
    if revision == head_revision():
        return
    if revision is None:
        present = _journal_tables_present(connection)
        if present:
            raise MigrationError(
                f"journal tables exist ({', '.join(present)}) but Alembic has never "
                "migrated this database; if they match a revision, stamp it first "
                "(alembic -c migrations/alembic.ini stamp REVISION)"
            )
    elif revision not in known_revisions():
        raise MigrationError(
            f"the journal's schema is at revision {revision!r}, unknown to this router "
            "(migrated by a newer version?)"
        )
    _run_command(connection, command.upgrade, "head")
