"""Alembic environment for the router's journal.

It runs three ways:

* from the router (:mod:`router.journal.migrate`), which passes an open connection in
  ``config.attributes["connection"]`` and owns its transaction;
* from the command line (``alembic -c migrations/alembic.ini upgrade head``): it connects
  with :func:`router.journal.db.make_engine` to the config's ``sqlalchemy.url``, else to
  :func:`router.journal.db.journal_url` (``$ROUTER_JOURNAL_URL`` or the default journal);
* offline (``--sql``), writing the SQL instead of running it.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url

from router.journal.db import journal_url, make_engine
from router.journal.migrate import migration_connection, migration_options

config = context.config

if config.config_file_name is not None and config.file_config.has_section("loggers"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or journal_url()


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **migration_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **migration_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_with_own_engine() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        async with migration_connection(engine) as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_migrations_with_own_engine())
    elif isinstance(connection, Connection):
        run_migrations(connection)
    else:
        raise TypeError(
            "config.attributes['connection'] must be a synchronous Connection "
            "(use AsyncConnection.run_sync), "
            f"got {type(connection).__name__}"
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
