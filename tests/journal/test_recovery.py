"""Recovery on start against a scripted fake venue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from router.core.orders import OrderState
from router.engine.recovery import recover, settle_finished
from router.journal.records import AttemptIntent, NewClose
from router.journal.repository import Journal, OutcomeUpdate
from router.venues.reports import LookupFailed, VenueOrder, VenueTrade

D = Decimal
S = OrderState
T0 = datetime(2022, 11, 8, 14, 0, tzinfo=UTC)


@dataclass
class ScriptedVenue:
    """A venue that knows some orders and their trades, and can be down."""

    orders: dict[str, VenueOrder] = field(default_factory=dict)
    trades: dict[str, list[VenueTrade]] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    lookups: list[str] = field(default_factory=list)

    def place(self, client_id: str, state: S, fills: Sequence[str]) -> None:
        order_id = f"ex-{client_id}"
        trades = [
            VenueTrade(
                f"{client_id}-t{i}", order_id, "sell", D(q), D("20000"), D("0.02"), "USDT", T0
            )
            for i, q in enumerate(fills)
        ]
        self.orders[client_id] = VenueOrder(
            client_id, order_id, state, sum((t.quantity for t in trades), D(0))
        )
        self.trades[order_id] = trades

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        self.lookups.append(client_order_id)
        if venue in self.down:
            raise LookupFailed(f"{venue} answers 503")
        return self.orders.get(client_order_id)

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]:
        if venue in self.down:
            raise LookupFailed(f"{venue} answers 503")
        return self.trades.get(exchange_order_id, [])


@pytest.fixture
async def journal(engine: AsyncEngine) -> AsyncIterator[Journal]:
    opened = Journal(engine, owner="crashed", clock=lambda: T0)
    yield opened
    await opened._writer.close()


async def _close_with_attempts(journal: Journal, specs: list[tuple[str, str, S]]) -> str:
    close, _ = await journal.create_close(
        NewClose("k", "BTCUSDT", "sell", D(3), {"quantity": "3"}, reference_price=D(20500))
    )
    for client_id, venue, state in specs:
        await journal.record_intent(
            AttemptIntent(
                client_id, close.id, 1, 0, venue, "spot", "BTCUSDT", "sell", D(1), D("19475")
            )
        )
        if state is not S.PENDING_SEND:
            await journal.mark_sent(client_id)
        if state not in (S.PENDING_SEND, S.SENT):
            await journal.record_outcome(client_id, OutcomeUpdate(state))
    return close.id


async def test_recovery_reaches_the_venues_truth(engine: AsyncEngine, journal: Journal) -> None:
    close_id = await _close_with_attempts(
        journal,
        [
            ("never-sent", "alpha", S.PENDING_SEND),
            ("sent-and-filled", "alpha", S.SENT),
            ("timed-out-partial", "bravo", S.UNKNOWN),
            ("crashed-after-journal", "bravo", S.PENDING_SEND),
        ],
    )
    venue = ScriptedVenue()
    venue.place("sent-and-filled", S.FILLED, ["0.4", "0.6"])
    venue.place("timed-out-partial", S.EXPIRED, ["0.25"])
    venue.place("crashed-after-journal", S.FILLED, ["1"])
    restarted = Journal(engine, owner="restarted", clock=lambda: T0 + timedelta(minutes=5))
    try:
        report = await recover(restarted, venue)
        assert report.skipped == []
        [result] = report.closes
        assert result.resumable
        assert result.fills_added == 4
        assert result.filled_qty == D("2.25")
        assert result.remaining == D("0.75")
        states = {a.client_order_id: a.state for a in await restarted.attempts(close_id)}
        assert states == {
            "never-sent": S.REJECTED,
            "sent-and-filled": S.FILLED,
            "timed-out-partial": S.EXPIRED,
            "crashed-after-journal": S.FILLED,
        }
        assert await restarted.in_flight(close_id) == []
        close = await restarted.get_close(close_id)
        assert close is not None
        assert (close.state, close.owner, close.filled_qty) == ("RUNNING", "restarted", D("2.25"))
        again = await recover(restarted, venue)
        assert again.closes[0].fills_added == 0
        assert len(await restarted.fills(close_id)) == 4
    finally:
        await restarted._writer.close()


async def test_unreachable_venue_hands_the_close_to_the_operator(
    engine: AsyncEngine, journal: Journal
) -> None:
    close_id = await _close_with_attempts(
        journal, [("ok", "alpha", S.SENT), ("in-doubt", "bravo", S.UNKNOWN)]
    )
    venue = ScriptedVenue(down={"bravo"})
    venue.place("ok", S.FILLED, ["1"])
    restarted = Journal(engine, owner="restarted", clock=lambda: T0 + timedelta(minutes=5))
    try:
        [result] = (await recover(restarted, venue)).closes
        assert not result.resumable
        close = await restarted.get_close(close_id)
        assert close is not None
        assert close.state == "NEEDS_OPERATOR"
        assert close.outcome_reason is not None
        assert "in-doubt on bravo" in close.outcome_reason
        in_doubt = await restarted.attempt("in-doubt")
        assert in_doubt is not None
        assert in_doubt.state is S.UNKNOWN
    finally:
        await restarted._writer.close()


async def test_a_live_owner_keeps_its_close(engine: AsyncEngine, journal: Journal) -> None:
    close_id = await _close_with_attempts(journal, [("x", "alpha", S.SENT)])
    restarted = Journal(engine, owner="second", clock=lambda: T0 + timedelta(seconds=5))
    try:
        report = await recover(restarted, ScriptedVenue())
        assert report.skipped == [close_id]
        assert report.closes == []
    finally:
        await restarted._writer.close()


async def test_a_busy_close_is_left_to_its_running_owner(
    engine: AsyncEngine, journal: Journal
) -> None:
    close_id = await _close_with_attempts(journal, [("x", "alpha", S.SENT)])
    venue = ScriptedVenue()
    report = await recover(journal, venue, busy=lambda close: close.id == close_id)
    assert (report.closes, report.skipped, venue.lookups) == ([], [], [])


async def _finish(journal: Journal, close_id: str, filled: str, reason: str) -> None:
    residual = D(3) - D(filled)
    await journal.finish_close(
        close_id,
        "STRANDED",
        filled_qty=D(filled),
        hedged_qty=D(0),
        residual_qty=residual,
        reason=reason,
    )


async def test_settling_a_finished_close_journals_its_fills_and_restates_it(
    journal: Journal,
) -> None:
    close_id = await _close_with_attempts(
        journal,
        [("sold", "alpha", S.SENT), ("doubt-a", "alpha", S.UNKNOWN), ("doubt-b", "bravo", S.SENT)],
    )
    await journal.record_outcome("sold", OutcomeUpdate(S.FILLED, filled_qty=D(1)))
    await _finish(journal, close_id, "1", "residual 2 not closed; 2 still in doubt")
    venue = ScriptedVenue(down={"bravo"})
    venue.place("doubt-a", S.FILLED, ["0.4", "0.6"])
    venue.place("doubt-b", S.EXPIRED, ["0.5"])

    [first] = await settle_finished(journal, venue)
    assert (first.settled, first.outcome) == (["doubt-a"], "STRANDED")
    assert "doubt-b on bravo" in first.unresolved[0]
    close = await journal.get_close(close_id)
    assert close is not None
    assert (close.filled_qty, close.residual_qty) == (D(2), D(1))
    assert close.outcome_reason is not None
    assert "1 still in doubt" in close.outcome_reason

    venue.down.clear()
    [second] = await settle_finished(journal, venue)
    assert (second.settled, second.unresolved) == (["doubt-b"], [])
    close = await journal.get_close(close_id)
    assert close is not None
    assert (close.outcome, close.filled_qty, close.residual_qty) == ("STRANDED", D("2.5"), D("0.5"))
    assert close.outcome_reason is not None
    assert close.outcome_reason.count("at the close:") == 1
    assert close.outcome_reason.endswith("(at the close: residual 2 not closed; 2 still in doubt)")
    assert len(await journal.fills(close_id)) == 3
    assert await settle_finished(journal, venue) == []


async def test_a_close_whose_doubt_sold_the_rest_is_restated_flat(journal: Journal) -> None:
    close_id = await _close_with_attempts(
        journal, [("sold", "alpha", S.SENT), ("doubt", "alpha", S.UNKNOWN)]
    )
    await journal.record_outcome("sold", OutcomeUpdate(S.FILLED, filled_qty=D(2)))
    await _finish(journal, close_id, "2", "residual 1 not closed; 1 still in doubt")
    venue = ScriptedVenue()
    venue.place("doubt", S.FILLED, ["1"])
    [settled] = await settle_finished(journal, venue)
    assert settled.outcome == "FLAT"
    close = await journal.get_close(close_id)
    assert close is not None
    assert (close.outcome, close.residual_qty) == ("FLAT", D(0))
