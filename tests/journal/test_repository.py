"""The write-ahead repository on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from router.core.orders import IllegalTransition, OrderState
from router.journal.db import make_engine
from router.journal.records import AttemptIntent, FillRecord, NewClose
from router.journal.repository import Journal, OutcomeUpdate, UnknownRecord

D = Decimal
S = OrderState


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2020, 3, 13, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def journal(engine: AsyncEngine, clock: Clock) -> AsyncIterator[Journal]:
    opened = Journal(engine, owner="router-a", clock=clock)
    yield opened
    await opened._writer.close()


def _close(key: str = "decision-1", **request: object) -> NewClose:
    return NewClose(
        idempotency_key=key,
        symbol="BTCUSDT",
        side="sell",
        quantity=D("2.5"),
        request={"quantity": "2.5", **request},
        reference_price=D("5800.12"),
    )


def _intent(close_id: str, client_id: str, venue: str = "alpha") -> AttemptIntent:
    return AttemptIntent(
        client_order_id=client_id,
        close_id=close_id,
        wave=1,
        tier=0,
        venue=venue,
        market="spot",
        symbol="BTCUSDT",
        side="sell",
        quantity=D("0.5"),
        limit_price=D("5510.11"),
    )


def _fill(close_id: str, client_id: str, trade_id: str, qty: str = "0.2") -> FillRecord:
    return FillRecord(
        close_id=close_id,
        client_order_id=client_id,
        venue="alpha",
        market="spot",
        trade_id=trade_id,
        side="sell",
        quantity=D(qty),
        price=D("5700.5"),
        fee=D("1.140100"),
        fee_asset="USDT",
        traded_at=datetime(2020, 3, 13, 2, 0, 1, tzinfo=UTC),
    )


async def test_same_idempotency_key_returns_the_first_close(journal: Journal) -> None:
    first, created = await journal.create_close(_close(api_key="abc", auth={"token": "t"}))
    again, created_again = await journal.create_close(_close())
    assert created
    assert not created_again
    assert again.id == first.id
    assert first.request["api_key"] == "[redacted]"
    assert first.request["auth"] == {"token": "[redacted]"}
    assert first.requested_qty == D("2.5")
    assert first.reference_price == D("5800.12")
    assert first.owner == "router-a"


async def test_concurrent_requests_with_one_key_make_one_close(journal: Journal) -> None:
    results = await asyncio.gather(*(journal.create_close(_close("same")) for _ in range(20)))
    assert len({view.id for view, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_intent_is_durable_before_the_call_returns(journal: Journal, db_url: str) -> None:
    close, _ = await journal.create_close(_close())
    await journal.record_intent(_intent(close.id, "c-1"))
    other = Journal(make_engine(db_url))
    try:
        seen = await other.attempt("c-1")
    finally:
        await other.close()
    assert seen is not None
    assert seen.state is S.PENDING_SEND
    assert seen.limit_price == D("5510.11")


async def test_outcomes_follow_the_state_machine(journal: Journal, clock: Clock) -> None:
    close, _ = await journal.create_close(_close())
    await journal.record_intent(_intent(close.id, "c-1"))
    clock.advance(0.01)
    await journal.mark_sent("c-1")
    clock.advance(0.02)
    fills = [_fill(close.id, "c-1", "t-1"), _fill(close.id, "c-1", "t-2", "0.1")]
    await journal.record_outcome(
        "c-1", OutcomeUpdate(S.EXPIRED, exchange_order_id="9001", filled_qty=D("0.3")), fills
    )
    attempt = await journal.attempt("c-1")
    assert attempt is not None
    assert attempt.state is S.EXPIRED
    assert attempt.filled_qty == D("0.3")
    assert attempt.exchange_order_id == "9001"
    assert attempt.sent_at == attempt.intent_at + timedelta(seconds=0.01)
    assert attempt.acked_at == attempt.final_at == attempt.sent_at + timedelta(seconds=0.02)
    with pytest.raises(IllegalTransition):
        await journal.record_outcome("c-1", OutcomeUpdate(S.OPEN))
    with pytest.raises(UnknownRecord):
        await journal.record_outcome("nobody", OutcomeUpdate(S.SENT))
    after = await journal.attempt("c-1")
    assert after is not None
    assert after.state is S.EXPIRED
    assert [f.trade_id for f in await journal.fills(close.id)] == ["t-1", "t-2"]


async def test_a_fill_seen_twice_is_stored_once(journal: Journal) -> None:
    close, _ = await journal.create_close(_close())
    await journal.record_intent(_intent(close.id, "c-1"))
    fill = _fill(close.id, "c-1", "t-1")
    assert await journal.record_fills([fill]) == 1
    assert await journal.record_fills([fill, fill]) == 0
    counts = await asyncio.gather(
        *(journal.record_fills([_fill(close.id, "c-1", "t-2")]) for _ in range(10))
    )
    assert sum(counts) == 1
    stored = await journal.fills(close.id)
    assert [f.trade_id for f in stored] == ["t-1", "t-2"]
    assert stored[0].fee == D("1.140100")


async def test_in_flight_and_finishing_a_close(journal: Journal, clock: Clock) -> None:
    close, _ = await journal.create_close(_close())
    for client_id in ("a", "b", "c"):
        await journal.record_intent(_intent(close.id, client_id))
    await journal.mark_sent("b")
    await journal.record_outcome("b", OutcomeUpdate(S.UNKNOWN, error_class="RequestTimeout"))
    await journal.mark_sent("c")
    await journal.record_outcome("c", OutcomeUpdate(S.FILLED, filled_qty=D("0.5")))
    in_flight = await journal.in_flight(close.id)
    assert [(a.client_order_id, a.state) for a in in_flight] == [
        ("a", S.PENDING_SEND),
        ("b", S.UNKNOWN),
    ]
    with pytest.raises(ValueError, match="FLAT, HEDGED or STRANDED"):
        await journal.finish_close(
            close.id, "DONE", filled_qty=D(0), hedged_qty=D(0), residual_qty=D(0), reason=""
        )
    clock.advance(30)
    await journal.finish_close(
        close.id,
        "STRANDED",
        filled_qty=D("0.5"),
        hedged_qty=D(0),
        residual_qty=D(2),
        reason="no bids within the unbounded tier on any venue",
    )
    finished = await journal.get_close(close.id)
    assert finished is not None
    assert (finished.outcome, finished.residual_qty, finished.owner) == ("STRANDED", D(2), None)
    assert finished.finished_at == clock.now
    assert await journal.unfinished_closes() == []


async def test_group_commit_keeps_every_write_and_isolates_bad_ones(journal: Journal) -> None:
    close, _ = await journal.create_close(_close())

    async def attempt(index: int) -> None:
        client_id = f"g-{index}"
        await journal.record_intent(_intent(close.id, client_id))
        await journal.mark_sent(client_id)
        await journal.record_outcome(
            client_id,
            OutcomeUpdate(S.FILLED, exchange_order_id=str(index), filled_qty=D("0.5")),
            [_fill(close.id, client_id, f"trade-{index}", "0.5")],
        )

    commits_before = journal.commits
    bad = journal.record_outcome("g-0", OutcomeUpdate(S.CANCELED))
    results = await asyncio.gather(*(attempt(i) for i in range(200)), bad, return_exceptions=True)
    assert all(r is None for r in results[:200])
    assert isinstance(results[200], (IllegalTransition, UnknownRecord))
    attempts = await journal.attempts(close.id)
    assert len(attempts) == 200
    assert all(a.state is S.FILLED for a in attempts)
    assert len(await journal.fills(close.id)) == 200
    assert journal.commits - commits_before < 600


async def test_leases_let_one_process_own_a_close(
    engine: AsyncEngine, journal: Journal, clock: Clock
) -> None:
    close, _ = await journal.create_close(_close())
    other = Journal(engine, owner="router-b", clock=clock)
    try:
        assert not await other.claim(close.id, timedelta(seconds=10))
        assert await other.claimable() == []
        assert await journal.claim(close.id, timedelta(seconds=10))
        clock.advance(11)
        assert await other.claimable() == [close.id]
        assert await other.claim(close.id, timedelta(seconds=10))
        assert not await journal.claim(close.id, timedelta(seconds=10))
        taken = await other.get_close(close.id)
        assert taken is not None
        assert taken.owner == "router-b"
        await other.release(close.id)
        assert await journal.claim(close.id, timedelta(seconds=10))
    finally:
        await other._writer.close()


async def test_context_rows(journal: Journal) -> None:
    close, _ = await journal.create_close(_close())
    hedge_id = await journal.open_hedge(close.id, venue="alpha", symbol="BTCUSDT", side="sell")
    await journal.update_hedge(hedge_id, quantity=D("1.2"), average_price=D("5650"), state="OPEN")
    hedges = await journal.hedges(open_only=True)
    assert [(h["id"], h["quantity"], h["state"]) for h in hedges] == [(hedge_id, D("1.2"), "OPEN")]
    await journal.record_venue_event(venue="bravo", kind="outage", detail="503", close_id=close.id)
    await journal.record_liquidity_event(
        symbol="BTCUSDT",
        kind="escape_now",
        score=D("0.08"),
        escape_window_s=D("45"),
        detail={"api_secret": "x", "danger": "0.9"},
    )
    with pytest.raises(UnknownRecord):
        await journal.update_close("missing", state="RUNNING")
