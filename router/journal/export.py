"""Streaming one journal table's rows, oldest first, filtered on its time column."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from router.journal.models import Base
from router.journal.reading import stream, window

TIME_COLUMNS: dict[str, str] = {
    "closes": "created_at",
    "attempts": "intent_at",
    "fills": "traded_at",
    "book_snapshots": "taken_at",
    "liquidity_events": "at",
    "venue_events": "at",
    "hedges": "opened_at",
    "holdings": "resolved_at",
}
"""The exportable tables and the time column each one is filtered on."""


class UnknownTable(ValueError):
    """Not one of the journal's tables."""


def journal_table(name: str) -> Table:
    """One of the seven exportable tables, by name; raises :class:`UnknownTable`."""
    if name not in TIME_COLUMNS:
        known = ", ".join(sorted(TIME_COLUMNS))
        raise UnknownTable(f"unknown table {name!r} (one of: {known})")
    return Base.metadata.tables[name]


def export_columns(name: str) -> list[str]:
    """The column names an export of table ``name`` has, in order."""
    return [column.name for column in journal_table(name).columns]


async def export_rows(
    engine: AsyncEngine,
    table: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Stream a table's rows as dicts in primary-key order, filtered on its time column."""
    source = journal_table(table)
    query = (
        select(source)
        .where(*window(source.c[TIME_COLUMNS[table]], since, until))
        .order_by(*source.primary_key.columns)
    )
    async for row in stream(engine, query):
        yield dict(row._mapping)
