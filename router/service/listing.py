"""``GET /v1/closes``: the closes, newest first, a page at a time.

Every parameter is parsed strictly: ``state`` and ``outcome`` are one of their journal
values, ``since`` is an ISO-8601 instant with its offset, ``limit`` a whole number
1..500, ``after`` the opaque cursor a previous page's ``next`` gave. An unknown or
repeated parameter, or a value outside its grammar, is a 422 naming the parameter
(never echoing the value).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web

from router.core.lifecycle import CloseOutcome, CloseState
from router.journal.listing import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadCursor,
    CloseFilter,
    CloseSummary,
    Cursor,
    list_closes,
)
from router.service.schemas import field_error, respond
from router.service.state import state_of

E = TypeVar("E", bound=StrEnum)

PARAMETERS = ("state", "outcome", "since", "limit", "after")

_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
INSTANT_RULE = (
    "an ISO-8601 instant with its offset, such as 2024-05-01T09:30:00Z or "
    "2024-05-01T11:30:00%2B02:00 (a + in a query string is written %2B)"
)
_LIMIT = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)


def parse_instant(text: str) -> datetime:
    """An aware datetime from ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` and ``Z`` or ``±HH:MM``.

    A query string decodes ``+`` as a space, so ``…T10:00:00 02:00`` (an offset whose sign
    became a space) reads as ``+02:00``.
    """
    if len(text) > 6 and text[-6] == " ":
        text = f"{text[:-6]}+{text[-5:]}"
    if _INSTANT.fullmatch(text) is None:
        raise ValueError(f"must be {INSTANT_RULE}")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be {INSTANT_RULE}") from None


def _one(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise field_error(name, "must be given at most once")
    return values[0] if values else None


def _choice(request: web.Request, name: str, allowed: type[E]) -> E | None:
    value = _one(request, name)
    if value is None:
        return None
    try:
        return allowed(value)
    except ValueError:
        raise field_error(name, f"must be one of {', '.join(allowed)}") from None


def _limit(request: web.Request) -> int:
    value = _one(request, "limit")
    if value is None:
        return DEFAULT_LIMIT
    if _LIMIT.fullmatch(value) is None or int(value) > MAX_LIMIT:
        raise field_error("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _since(request: web.Request) -> datetime | None:
    value = _one(request, "since")
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise field_error("since", str(exc)) from None


def _after(request: web.Request) -> Cursor | None:
    value = _one(request, "after")
    if value is None:
        return None
    try:
        return Cursor.decode(value)
    except BadCursor as exc:
        raise field_error("after", str(exc)) from None


def summary_json(close: CloseSummary) -> dict[str, Any]:
    return {
        "close_id": close.id,
        "idempotency_key": close.idempotency_key,
        "symbol": close.symbol,
        "side": close.side,
        "state": close.state,
        "outcome": close.outcome,
        "requested": close.requested_qty,
        "hedged": close.hedged_qty,
        "residual": close.residual_qty,
        "created_at": close.created_at,
        "finished_at": close.finished_at,
    }


async def closes(request: web.Request) -> web.Response:
    if set(request.query) - set(PARAMETERS):
        raise field_error("query", f"unknown parameter; the parameters are {', '.join(PARAMETERS)}")
    where = CloseFilter(
        state=_choice(request, "state", CloseState),
        outcome=_choice(request, "outcome", CloseOutcome),
        since=_since(request),
    )
    page = await list_closes(
        state_of(request).journal, where, limit=_limit(request), after=_after(request)
    )
    return respond(
        {
            "closes": [summary_json(c) for c in page.closes],
            "next": page.next.encode() if page.next is not None else None,
        }
    )
