"""Listing closes a page at a time, newest first.

Pages are keyset-paged on ``(created_at, id)``: a page ends with a :class:`Cursor` naming
its last close, and the next page starts strictly after it, so closes journaled while an
operator pages never shift or repeat rows. One query reads one page (``limit + 1`` rows,
the extra one only says whether there is a next page) and only the columns a listing
shows.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select

from router.core.lifecycle import CloseOutcome, CloseState
from router.journal.models import Close
from router.journal.repository import Journal

CLOSES = cast(Table, Close.__table__)

MAX_LIMIT = 500
DEFAULT_LIMIT = 100

_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,200}", re.ASCII)
_CURSOR_ID = re.compile(r"[A-Za-z0-9_.:-]{1,32}", re.ASCII)


class BadCursor(ValueError):
    """The text is not a cursor this journal handed out (the message never echoes it)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last close's creation time and id."""

    created_at: datetime
    close_id: str

    def encode(self) -> str:
        """Opaque text for a URL: base64url of ``created_at|id``, without padding."""
        raw = f"{self.created_at.astimezone(UTC).isoformat()}|{self.close_id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor ``text`` encodes, or :class:`BadCursor`."""
        if _CURSOR_TEXT.fullmatch(text) is None:
            raise BadCursor("must be the opaque cursor from a page's next")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            stamp, close_id = raw.split("|")
            created_at = datetime.fromisoformat(stamp)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadCursor("must be the opaque cursor from a page's next") from None
        if created_at.tzinfo is None or _CURSOR_ID.fullmatch(close_id) is None:
            raise BadCursor("must be the opaque cursor from a page's next")
        return cls(created_at, close_id)


@dataclass(frozen=True, slots=True)
class CloseFilter:
    """Which closes to list (``None``: any)."""

    state: CloseState | None = None
    outcome: CloseOutcome | None = None
    since: datetime | None = None
    """Only closes created at or after this instant (timezone-aware)."""


@dataclass(frozen=True, slots=True)
class CloseSummary:
    """One close as a listing shows it."""

    id: str
    idempotency_key: str
    symbol: str
    side: str
    state: CloseState
    outcome: CloseOutcome | None
    requested_qty: Decimal
    hedged_qty: Decimal
    residual_qty: Decimal | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClosePage:
    closes: list[CloseSummary]
    next: Cursor | None
    """Where the next page starts, ``None`` on the last page."""


_COLUMNS = (
    CLOSES.c.id,
    CLOSES.c.idempotency_key,
    CLOSES.c.symbol,
    CLOSES.c.side,
    CLOSES.c.state,
    CLOSES.c.outcome,
    CLOSES.c.requested_qty,
    CLOSES.c.hedged_qty,
    CLOSES.c.residual_qty,
    CLOSES.c.created_at,
    CLOSES.c.finished_at,
)


def _summary(row: Any) -> CloseSummary:
    return CloseSummary(
        id=row.id,
        idempotency_key=row.idempotency_key,
        symbol=row.symbol,
        side=row.side,
        state=CloseState(row.state),
        outcome=None if row.outcome is None else CloseOutcome(row.outcome),
        requested_qty=row.requested_qty,
        hedged_qty=row.hedged_qty,
        residual_qty=row.residual_qty,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


async def list_closes(
    journal: Journal,
    where: CloseFilter | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    after: Cursor | None = None,
) -> ClosePage:
    """One page of closes, newest first (``created_at``, then ``id``, descending)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    where = where or CloseFilter()
    query = select(*_COLUMNS)
    if where.state is not None:
        query = query.where(CLOSES.c.state == CloseState(where.state).value)
    if where.outcome is not None:
        query = query.where(CLOSES.c.outcome == CloseOutcome(where.outcome).value)
    if where.since is not None:
        query = query.where(CLOSES.c.created_at >= where.since)
    if after is not None:
        query = query.where(
            or_(
                CLOSES.c.created_at < after.created_at,
                and_(CLOSES.c.created_at == after.created_at, CLOSES.c.id < after.close_id),
            )
        )
    query = query.order_by(CLOSES.c.created_at.desc(), CLOSES.c.id.desc()).limit(limit + 1)
    rows = [_summary(row) for row in await journal.read(query)]
    if len(rows) <= limit:
        return ClosePage(rows, None)
    last = rows[limit - 1]
    return ClosePage(rows[:limit], Cursor(last.created_at, last.id))
