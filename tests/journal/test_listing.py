"""Listing closes a page at a time (keyset on created_at and id), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from router.journal.listing import (
    BadCursor,
    CloseFilter,
    Cursor,
    list_closes,
)
from router.journal.records import NewClose
from router.journal.repository import Journal

START = datetime(2020, 3, 12, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def journal(engine: AsyncEngine, clock: Clock) -> AsyncIterator[Journal]:
    opened = Journal(engine, owner="router-a", clock=clock)
    yield opened
    await opened._writer.close()


async def _close(journal: Journal, key: str, close_id: str) -> str:
    view, created = await journal.create_close(
        NewClose(
            idempotency_key=key,
            symbol="BTC",
            side="sell",
            quantity=Decimal("1.5"),
            request={"quantity": "1.5"},
            close_id=close_id,
        )
    )
    assert created
    return view.id


async def _many(journal: Journal, clock: Clock, count: int, *, per_instant: int = 1) -> list[str]:
    """``count`` closes, ``per_instant`` of them sharing each creation time; newest first."""
    ids = []
    for index in range(count):
        clock.now = START + timedelta(seconds=index // per_instant)
        ids.append(await _close(journal, f"key-{index}", f"cl_{index:024x}"))
    return list(reversed(ids))


async def _all_pages(journal: Journal, limit: int, where: CloseFilter | None = None) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(100):
        page = await list_closes(journal, where, limit=limit, after=after)
        assert len(page.closes) <= limit
        seen += [c.id for c in page.closes]
        if page.next is None:
            return seen
        assert len(page.closes) == limit
        after = Cursor.decode(page.next.encode())
    raise AssertionError("paging never ended")


async def test_pages_cover_every_close_once_newest_first(journal: Journal, clock: Clock) -> None:
    expected = await _many(journal, clock, 23)
    assert await _all_pages(journal, 5) == expected
    first = await list_closes(journal, limit=23)
    assert [c.id for c in first.closes] == expected
    assert first.next is None


async def test_closes_created_at_one_instant_are_paged_by_id(
    journal: Journal, clock: Clock
) -> None:
    expected = await _many(journal, clock, 12, per_instant=4)
    assert expected[:4] == sorted(expected[:4], reverse=True)
    assert await _all_pages(journal, 3) == expected
    assert await _all_pages(journal, 5) == expected


async def test_a_page_is_stable_when_newer_closes_arrive(journal: Journal, clock: Clock) -> None:
    expected = await _many(journal, clock, 10)
    first = await list_closes(journal, limit=4)
    assert first.next is not None
    clock.now = START + timedelta(hours=1)
    await _close(journal, "late", "cl_" + "f" * 24)
    second = await list_closes(journal, limit=4, after=first.next)
    assert [c.id for c in second.closes] == expected[4:8]


async def test_filters_by_state_outcome_and_since(journal: Journal, clock: Clock) -> None:
    ids = list(reversed(await _many(journal, clock, 6)))
    await journal.finish_close(
        ids[1],
        "FLAT",
        filled_qty=Decimal("1.5"),
        hedged_qty=Decimal(0),
        residual_qty=Decimal(0),
        reason="done",
    )
    await journal.finish_close(
        ids[4],
        "HEDGED",
        filled_qty=Decimal(1),
        hedged_qty=Decimal("0.5"),
        residual_qty=Decimal(0),
        reason="hedged",
    )
    await journal.update_close(ids[5], state="RUNNING")
    done = await list_closes(journal, CloseFilter(state="DONE"))
    assert [c.id for c in done.closes] == [ids[4], ids[1]]
    hedged = await list_closes(journal, CloseFilter(outcome="HEDGED"))
    assert [(c.id, c.hedged_qty, c.outcome) for c in hedged.closes] == [
        (ids[4], Decimal("0.5"), "HEDGED")
    ]
    running = await list_closes(journal, CloseFilter(state="RUNNING"))
    assert [c.id for c in running.closes] == [ids[5]]
    since = START + timedelta(seconds=3)
    recent = await list_closes(journal, CloseFilter(since=since))
    assert [c.id for c in recent.closes] == [ids[5], ids[4], ids[3]]
    done_since = await list_closes(journal, CloseFilter(state="DONE", since=since))
    assert [c.id for c in done_since.closes] == [ids[4]]
    assert await _all_pages(journal, 1, CloseFilter(since=since)) == [ids[5], ids[4], ids[3]]


async def test_a_summary_carries_what_a_listing_shows(journal: Journal, clock: Clock) -> None:
    close_id = await _close(journal, "shown", "cl_" + "a" * 24)
    [summary] = (await list_closes(journal)).closes
    assert summary.id == close_id
    assert summary.idempotency_key == "shown"
    assert (summary.symbol, summary.side, summary.state) == ("BTC", "sell", "ACCEPTED")
    assert summary.requested_qty == Decimal("1.5")
    assert summary.created_at == START
    assert summary.finished_at is None


@pytest.mark.parametrize("limit", [0, 501])
async def test_limit_out_of_range_is_refused(journal: Journal, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await list_closes(journal, limit=limit)


def test_cursor_round_trips() -> None:
    cursor = Cursor(datetime(2020, 3, 12, 10, 0, 0, 123456, tzinfo=UTC), "cl_" + "0" * 24)
    text = cursor.encode()
    assert "=" not in text
    assert Cursor.decode(text) == cursor


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a cursor",
        "abc=",
        "x" * 201,
        _b64(b"no separator"),
        _b64(b"2020-03-12T10:00:00|cl_1"),
        _b64(b"2020-03-12T10:00:00+00:00|cl_1|more"),
        _b64(b"yesterday+00:00|cl_1"),
        _b64(b"2020-03-12T10:00:00+00:00|' OR 1=1 --"),
        _b64("2020-03-12T10:00:00+00:00|cl_é".encode()),
        _b64(b"\xff\xfe"),
    ],
)
def test_malformed_cursors_are_refused_without_echo(text: str) -> None:
    with pytest.raises(BadCursor) as raised:
        Cursor.decode(text)
    assert text not in str(raised.value) or not text
