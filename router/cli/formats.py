"""The journal's read models as text: JSON-ready values, CSV and JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TextIO

from router.journal.reading import WIDE, seconds
from router.journal.timeline import Timeline


def plain(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: ``"0.5"``, ``"100"``."""
    if value == 0:
        return "0"
    return format(value.normalize(WIDE), "f")


def iso(value: datetime) -> str:
    """An ISO-8601 timestamp in UTC."""
    return value.astimezone(UTC).isoformat()


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: decimals as plain strings, times as ISO-8601 UTC,
    durations as seconds (plain strings), dataclasses as objects."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return plain(seconds(value))
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    """The timeline as JSON-ready data; each event carries its ``type`` and ``at``."""
    return {
        "close": jsonable(timeline.close),
        "summary": jsonable(timeline.summary),
        "position": jsonable(timeline.position),
        "events": [
            {"type": entry.TYPE, "at": iso(entry.at), **jsonable(entry)}
            for entry in timeline.events
        ],
    }


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return jsonable(value)


async def write_csv(
    rows: AsyncIterable[Mapping[str, Any]],
    out: TextIO,
    columns: Sequence[str] | None = None,
) -> int:
    """Write rows as CSV as they come; returns how many were written.

    The header is ``columns``, else the first row's keys (no header for no rows without
    ``columns``). NULL is an empty cell, booleans are ``true``/``false``.
    """
    writer = csv.writer(out, lineterminator="\n")
    header = list(columns) if columns is not None else None
    if header is not None:
        writer.writerow(header)
    count = 0
    async for row in rows:
        if header is None:
            header = list(row)
            writer.writerow(header)
        writer.writerow([_csv_cell(row.get(name)) for name in header])
        count += 1
    return count


async def write_jsonl(rows: AsyncIterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write one JSON object per row as they come; returns how many were written."""
    count = 0
    async for row in rows:
        out.write(json.dumps(jsonable(row), ensure_ascii=False) + "\n")
        count += 1
    return count


EXPORT_FORMATS = ("csv", "jsonl")
