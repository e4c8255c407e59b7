"""Audits of the journal: a close's timeline, Memory-Layer statistics, exports, the CLI.

One realistic close is journaled through the public API with a hand-driven clock: sell
3.5 BTCUSDT at a reference of 30000. Wave 0 (tier 0) sends an IOC to alpha that fills
0.8 + 0.4 and expires, and an order to beta that times out (UNKNOWN) while beta goes down.
Wave 1 (tier 1) sends 0.8 to beta (REJECTED) and then to alpha (FILLED 0.6 + 0.2). Beta's
order is then reconciled: it had FILLED 1.0 back in wave 0. The last 0.5 is hedged with a
perpetual short on alpha, and the close ends HEDGED.

Seconds after T0 of everything, with the fills as quantity @ price, fee:

=====  ==========================================================================
0      close created
1      liquidity event (crash)
2      books of wave 0: alpha and beta
3      A1 alpha IOC sell 2 @ 29900 (intent), A2 beta sell 1 @ 29900 (intent)
3.1    A1 sent                                3.2    A2 sent
3.3    F3 beta  1.0 @ 29950, fee 29.95 USDT  (learnt at 8)
3.4    F1 alpha 0.8 @ 29990, fee 0.040000000000000001 BNB (A1 PARTIALLY_FILLED at 3.5)
3.5    F2 alpha 0.4 @ 29960, fee 0.02 BNB  (A1 EXPIRED at 3.6, filled 1.2)
4      A2 UNKNOWN (RequestTimeout)            4.1    venue event: beta outage
4.9    books of wave 1: alpha (recorded at 5)
6      A3 beta sell 0.8 @ 29800 (intent); sent 6.1; REJECTED 6.2 (ExchangeNotAvailable)
7      A4 alpha sell 0.8 @ 29700 (intent); sent 7.1; FILLED 7.3
7.2    F4 alpha 0.6 @ 29900, fee 17.94 USDT   7.25   F5 alpha 0.2 @ 29770, fee 5.954 USDT
8      A2 reconciled: FILLED 1.0 (with F3)
9      hedge opened on alpha                  9.5    H1 hedge leg sell 0.5 perp (intent)
9.6    H1 sent   9.7 F6 0.5 @ 29850, fee 5.97 USDT   9.8 H1 FILLED
10     hedge updated: 0.5 @ 29850, OPEN       11     close finished HEDGED
=====  ==========================================================================

Notional of the close's own fills: 23992 + 11984 + 29950 + 17940 + 5954 = 89820 for 3.0,
so the average price is 29940 and the slippage (30000 − 29940) / 30000 = 0.002.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Boolean, Column, Integer, select
from sqlalchemy.ext.asyncio import AsyncEngine

from router.cli.formats import jsonable, timeline_json, write_csv, write_jsonl
from router.cli.journal_render import render_stats, render_timeline
from router.core.orders import OrderState
from router.core.position import VenueHolding
from router.journal.db import make_engine
from router.journal.export import (
    TIME_COLUMNS,
    UnknownTable,
    export_columns,
    export_rows,
    journal_table,
)
from router.journal.migrate import ensure_schema
from router.journal.records import AttemptIntent, BookLevels, FillRecord, NewClose
from router.journal.repository import Journal, OutcomeUpdate
from router.journal.stats import (
    TierVenueSlippage,
    fill_ratio_per_wave,
    liquidity_events,
    memory_stats,
    slippage_by_tier_and_venue,
    time_to_flat,
)
from router.journal.timeline import (
    AttemptEntry,
    Entry,
    FillEntry,
    HedgeEntry,
    LiquidityEventEntry,
    Timeline,
    VenueEventEntry,
    WaveEntry,
    close_timeline,
)
from router.journal.types import ExactDecimal, UtcDateTime

D = Decimal
S = OrderState
T0 = datetime(2024, 8, 5, 6, 0, tzinfo=UTC)
CLOSE_ID = "cl_audit_1"
SYMBOL = "BTCUSDT"


def at(offset: float) -> datetime:
    return T0 + timedelta(seconds=offset)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def set(self, offset: float) -> None:
        self.now = at(offset)


def _intent(
    client_id: str,
    *,
    wave: int,
    tier: int,
    venue: str,
    qty: str,
    limit: str | None,
    market: str = "spot",
    purpose: str = "close",
    hedge_id: int | None = None,
) -> AttemptIntent:
    return AttemptIntent(
        client_order_id=client_id,
        close_id=CLOSE_ID,
        wave=wave,
        tier=tier,
        venue=venue,
        market=market,
        symbol=SYMBOL,
        side="sell",
        quantity=D(qty),
        limit_price=None if limit is None else D(limit),
        style="ioc_limit",
        purpose=purpose,
        hedge_id=hedge_id,
    )


def _fill(
    client_id: str, venue: str, trade_id: str, qty: str, price: str, fee: str, asset: str, t: float
) -> FillRecord:
    return FillRecord(
        close_id=CLOSE_ID,
        client_order_id=client_id,
        venue=venue,
        market="perp" if client_id.startswith("h") else "spot",
        trade_id=trade_id,
        side="sell",
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        fee_asset=asset,
        traded_at=at(t),
        exchange_order_id=f"x-{client_id}",
    )


def _book(venue: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> BookLevels:
    return BookLevels(
        venue=venue,
        market="spot",
        bids=tuple((D(p), D(q)) for p, q in bids),
        asks=tuple((D(p), D(q)) for p, q in asks),
    )


F1 = _fill("a1", "alpha", "t1", "0.8", "29990", "0.040000000000000001", "BNB", 3.4)
F2 = _fill("a1", "alpha", "t2", "0.4", "29960", "0.02", "BNB", 3.5)
F3 = _fill("a2", "beta", "t3", "1.0", "29950", "29.95", "USDT", 3.3)
F4 = _fill("a4", "alpha", "t4", "0.6", "29900", "17.94", "USDT", 7.2)
F5 = _fill("a4", "alpha", "t5", "0.2", "29770", "5.954", "USDT", 7.25)
F6 = _fill("h1", "alpha", "t6", "0.5", "29850", "5.97", "USDT", 9.7)


async def _wave_zero(journal: Journal, clock: Clock) -> None:
    clock.set(1)
    await journal.record_liquidity_event(
        symbol=SYMBOL,
        kind="crash",
        venue="alpha",
        score=D("0.25"),
        escape_window_s=D("45"),
        close_id=CLOSE_ID,
        detail={"depth_drop": "0.8"},
    )
    clock.set(2)
    await journal.record_books(
        CLOSE_ID,
        0,
        [
            _book("alpha", [("30000", "0.8"), ("29990", "0.9")], [("30010", "1")]),
            _book("beta", [("29995", "1.5")], [("30020", "2")]),
        ],
    )
    clock.set(3)
    for client_id, venue, qty in (("a1", "alpha", "2"), ("a2", "beta", "1")):
        intent = _intent(client_id, wave=0, tier=0, venue=venue, qty=qty, limit="29900")
        await journal.record_intent(intent)
    clock.set(3.1)
    await journal.mark_sent("a1")
    clock.set(3.2)
    await journal.mark_sent("a2")
    clock.set(3.5)
    partial = OutcomeUpdate(S.PARTIALLY_FILLED, exchange_order_id="x-a1", filled_qty=D("0.8"))
    await journal.record_outcome("a1", partial, [F1])
    clock.set(3.6)
    await journal.record_outcome("a1", OutcomeUpdate(S.EXPIRED, filled_qty=D("1.2")), [F2])
    clock.set(4)
    timeout = OutcomeUpdate(
        S.UNKNOWN, error_class="RequestTimeout", error_message="no answer in 2s"
    )
    await journal.record_outcome("a2", timeout)
    clock.set(4.1)
    await journal.record_venue_event(
        venue="beta", kind="outage", detail="HTTP 503 on /api/v3/order", client_order_id="a2"
    )


async def _wave_one(journal: Journal, clock: Clock) -> None:
    clock.set(5)
    book = _book("alpha", [("29900", "0.6"), ("29770", "3")], [("29950", "1")])
    await journal.record_books(
        CLOSE_ID,
        1,
        [BookLevels(book.venue, book.market, book.bids, book.asks, taken_at=at(4.9))],
    )
    clock.set(6)
    await journal.record_intent(
        _intent("a3", wave=1, tier=1, venue="beta", qty="0.8", limit="29800")
    )
    clock.set(6.1)
    await journal.mark_sent("a3")
    clock.set(6.2)
    rejected = OutcomeUpdate(
        S.REJECTED, error_class="ExchangeNotAvailable", error_message="beta [503] unavailable"
    )
    await journal.record_outcome("a3", rejected)
    clock.set(7)
    await journal.record_intent(
        _intent("a4", wave=1, tier=1, venue="alpha", qty="0.8", limit="29700")
    )
    clock.set(7.1)
    await journal.mark_sent("a4")
    clock.set(7.3)
    filled = OutcomeUpdate(S.FILLED, exchange_order_id="x-a4", filled_qty=D("0.8"))
    await journal.record_outcome("a4", filled, [F4, F5])
    clock.set(8)
    reconciled = OutcomeUpdate(S.FILLED, exchange_order_id="x-a2", filled_qty=D("1.0"))
    await journal.record_outcome("a2", reconciled, [F3])


async def _hedge_and_finish(journal: Journal, clock: Clock) -> None:
    clock.set(9)
    hedge_id = await journal.open_hedge(CLOSE_ID, venue="alpha", symbol=SYMBOL, side="sell")
    clock.set(9.5)
    leg = _intent("h1", wave=1, tier=0, venue="alpha", qty="0.5", limit=None, market="perp")
    await journal.record_intent(replace(leg, purpose="hedge", hedge_id=hedge_id))
    clock.set(9.6)
    await journal.mark_sent("h1")
    clock.set(9.8)
    done = OutcomeUpdate(S.FILLED, exchange_order_id="x-h1", filled_qty=D("0.5"))
    await journal.record_outcome("h1", done, [F6])
    clock.set(10)
    await journal.update_hedge(hedge_id, quantity=D("0.5"), average_price=D("29850"), state="OPEN")
    clock.set(11)
    await journal.finish_close(
        CLOSE_ID,
        "HEDGED",
        filled_qty=D("3.0"),
        hedged_qty=D("0.5"),
        residual_qty=D("0"),
        reason="sold 3.0; 0.5 hedged on alpha perp",
    )


async def build_close(engine: AsyncEngine) -> None:
    """Journal the close described in the module docstring."""
    clock = Clock()
    journal = Journal(engine, owner="router-audit", clock=clock)
    try:
        request = {"symbol": SYMBOL, "side": "sell", "quantity": "3.5", "api_secret": "s3cr3t"}
        new = NewClose(
            idempotency_key="decision-77",
            symbol=SYMBOL,
            side="sell",
            quantity=D("3.5"),
            request=request,
            reference_price=D("30000"),
            close_id=CLOSE_ID,
            holdings=(VenueHolding("alpha", D("2.5")), VenueHolding("beta", D("1"))),
            asset="BTC",
        )
        await journal.create_close(new)
        await _wave_zero(journal, clock)
        await _wave_one(journal, clock)
        await _hedge_and_finish(journal, clock)
    finally:
        await journal._writer.close()


@pytest.fixture
async def audited(engine: AsyncEngine) -> AsyncEngine:
    await build_close(engine)
    return engine


# ------------------------------------------------------------------ timeline


def _key(entry: Entry) -> tuple[str, object]:
    """What identifies an entry of the scenario's timeline."""
    if isinstance(entry, WaveEntry):
        return ("wave", entry.wave)
    if isinstance(entry, AttemptEntry):
        return ("attempt", entry.attempt.client_order_id)
    if isinstance(entry, FillEntry):
        return ("fill", entry.fill.trade_id)
    if isinstance(entry, VenueEventEntry | LiquidityEventEntry):
        return (entry.TYPE, entry.kind)
    return ("hedge", entry.venue)


EXPECTED_ORDER = [
    (("liquidity_event", "crash"), 1),
    (("wave", 0), 2),
    (("attempt", "a1"), 3),
    (("attempt", "a2"), 3),
    (("fill", "t3"), 3.3),
    (("fill", "t1"), 3.4),
    (("fill", "t2"), 3.5),
    (("venue_event", "outage"), 4.1),
    (("wave", 1), 4.9),
    (("attempt", "a3"), 6),
    (("attempt", "a4"), 7),
    (("fill", "t4"), 7.2),
    (("fill", "t5"), 7.25),
    (("hedge", "alpha"), 9),
    (("attempt", "h1"), 9.5),
    (("fill", "t6"), 9.7),
]


async def _timeline(engine: AsyncEngine) -> Timeline:
    timeline = await close_timeline(engine, CLOSE_ID)
    assert timeline is not None
    return timeline


def _entries(timeline: Timeline, kind: type[Any]) -> list[Any]:
    return [entry for entry in timeline.events if isinstance(entry, kind)]


async def test_timeline_states_the_position_per_venue(audited: AsyncEngine) -> None:
    position = (await _timeline(audited)).position
    assert position is not None
    figures = {v.venue: (v.held, v.sold, v.hedged, v.residual, v.kept) for v in position.venues}
    assert figures == {
        "alpha": (D("2.5"), D("2.0"), D("0.5"), D(0), D(0)),
        "beta": (D(1), D("1.0"), D(0), D(0), D(0)),
    }
    assert position.unknown == ()
    assert position.unattributed == 0


async def test_timeline_lists_every_event_in_time_order(audited: AsyncEngine) -> None:
    timeline = await _timeline(audited)

    assert [(_key(e), e.at) for e in timeline.events] == [
        (key, at(offset)) for key, offset in EXPECTED_ORDER
    ]


async def test_timeline_keeps_the_close_as_requested_and_finished(audited: AsyncEngine) -> None:
    close = (await _timeline(audited)).close

    assert close.request == {
        "symbol": SYMBOL,
        "side": "sell",
        "quantity": "3.5",
        "api_secret": "[redacted]",
    }
    assert (close.side, close.requested_qty, close.reference_price) == ("sell", D("3.5"), D(30000))
    assert (close.state, close.outcome) == ("DONE", "HEDGED")
    assert close.outcome_reason == "sold 3.0; 0.5 hedged on alpha perp"
    assert (close.filled_qty, close.hedged_qty, close.residual_qty) == (D(3), D("0.5"), D(0))
    assert (close.created_at, close.finished_at) == (at(0), at(11))


async def test_timeline_waves_carry_the_books_they_decided_on(audited: AsyncEngine) -> None:
    first, second = _entries(await _timeline(audited), WaveEntry)

    assert [(b.venue, b.market, b.taken_at) for b in first.books] == [
        ("alpha", "spot", at(2)),
        ("beta", "spot", at(2)),
    ]
    alpha = first.books[0]
    assert (alpha.best_bid, alpha.best_ask) == (D(30000), D(30010))
    assert alpha.bids == ((D(30000), D("0.8")), (D(29990), D("0.9")))
    assert alpha.asks == ((D(30010), D(1)),)
    assert (first.books[1].best_bid, first.books[1].best_ask) == (D(29995), D(30020))
    assert second.wave == 1
    assert [(b.venue, b.taken_at, b.best_bid) for b in second.books] == [
        ("alpha", at(4.9), D(29900))
    ]
    assert second.books[0].bids == ((D(29900), D("0.6")), (D(29770), D(3)))


async def test_timeline_attempts_show_their_whole_life(audited: AsyncEngine) -> None:
    attempts = {
        e.attempt.client_order_id: e.attempt
        for e in _entries(await _timeline(audited), AttemptEntry)
    }

    a1 = attempts["a1"]
    assert (a1.wave, a1.tier, a1.venue, a1.market, a1.side) == (0, 0, "alpha", "spot", "sell")
    assert (a1.quantity, a1.limit_price, a1.style, a1.purpose) == (
        D(2),
        D(29900),
        "ioc_limit",
        "close",
    )
    assert (a1.state, a1.filled_qty, a1.exchange_order_id) == (S.EXPIRED, D("1.2"), "x-a1")
    assert (a1.intent_at, a1.sent_at, a1.acked_at, a1.final_at) == (
        at(3),
        at(3.1),
        at(3.5),
        at(3.6),
    )
    a2 = attempts["a2"]
    assert (a2.state, a2.filled_qty, a2.exchange_order_id) == (S.FILLED, D(1), "x-a2")
    assert (a2.error_class, a2.error_message) == ("RequestTimeout", "no answer in 2s")
    assert (a2.sent_at, a2.acked_at, a2.final_at) == (at(3.2), at(8), at(8))
    a3 = attempts["a3"]
    assert (a3.wave, a3.tier, a3.venue, a3.state) == (1, 1, "beta", S.REJECTED)
    assert (a3.error_class, a3.error_message) == ("ExchangeNotAvailable", "beta [503] unavailable")
    assert (a3.exchange_order_id, a3.acked_at, a3.final_at) == (None, None, at(6.2))
    a4 = attempts["a4"]
    assert (a4.tier, a4.venue, a4.limit_price, a4.state) == (1, "alpha", D(29700), S.FILLED)
    h1 = attempts["h1"]
    assert (h1.purpose, h1.market, h1.limit_price, h1.state) == ("hedge", "perp", None, S.FILLED)


async def test_timeline_fills_events_and_hedge(audited: AsyncEngine) -> None:
    timeline = await _timeline(audited)

    fills = [e.fill for e in _entries(timeline, FillEntry)]
    assert [(f.trade_id, f.venue, f.client_order_id) for f in fills] == [
        ("t3", "beta", "a2"),
        ("t1", "alpha", "a1"),
        ("t2", "alpha", "a1"),
        ("t4", "alpha", "a4"),
        ("t5", "alpha", "a4"),
        ("t6", "alpha", "h1"),
    ]
    assert [(f.quantity, f.price, f.fee, f.fee_asset) for f in fills[1:3]] == [
        (D("0.8"), D(29990), D("0.040000000000000001"), "BNB"),
        (D("0.4"), D(29960), D("0.02"), "BNB"),
    ]
    (outage,) = _entries(timeline, VenueEventEntry)
    assert (outage.venue, outage.kind, outage.client_order_id, outage.detail) == (
        "beta",
        "outage",
        "a2",
        "HTTP 503 on /api/v3/order",
    )
    (crash,) = _entries(timeline, LiquidityEventEntry)
    assert (crash.symbol, crash.venue, crash.score, crash.escape_window_s) == (
        SYMBOL,
        "alpha",
        D("0.25"),
        D(45),
    )
    assert crash.detail == {"depth_drop": "0.8"}
    (hedge,) = _entries(timeline, HedgeEntry)
    assert (hedge.side, hedge.quantity, hedge.unwound_qty, hedge.average_price) == (
        "sell",
        D("0.5"),
        D(0),
        D(29850),
    )
    assert (hedge.state, hedge.opened_at, hedge.closed_at) == ("OPEN", at(9), None)
    assert [leg.client_order_id for leg in hedge.legs] == ["h1"]


async def test_timeline_summary_numbers(audited: AsyncEngine) -> None:
    summary = (await _timeline(audited)).summary

    # 0.8 + 0.4 + 1.0 + 0.6 + 0.2; the hedge leg's 0.5 is not the close's.
    assert summary.filled_qty == D("3.0")
    # (23992 + 11984 + 29950 + 17940 + 5954) / 3.0
    assert summary.average_price == D(29940)
    assert summary.reference_price == D(30000)
    # (30000 - 29940) / 30000
    assert summary.slippage == D("0.002")
    # BNB 0.040000000000000001 + 0.02; USDT 29.95 + 17.94 + 5.954 (without the hedge's 5.97)
    assert summary.fees == {"BNB": D("0.060000000000000001"), "USDT": D("53.844")}
    assert summary.waves == 2
    assert summary.attempts_by_state == {"EXPIRED": 1, "FILLED": 2, "REJECTED": 1}
    # first intent at 3, finished at 11
    assert summary.time_to_flat == timedelta(seconds=8)
    assert summary.venues == ("alpha", "beta")


async def test_timeline_json_is_plain_strings(audited: AsyncEngine) -> None:
    data = json.loads(json.dumps(timeline_json(await _timeline(audited))))

    assert data["summary"] == {
        "filled_qty": "3",
        "average_price": "29940",
        "reference_price": "30000",
        "slippage": "0.002",
        "fees": {"BNB": "0.060000000000000001", "USDT": "53.844"},
        "waves": 2,
        "attempts_by_state": {"EXPIRED": 1, "FILLED": 2, "REJECTED": 1},
        "time_to_flat": "8",
        "venues": ["alpha", "beta"],
    }
    close = data["close"]
    assert (close["requested_qty"], close["reference_price"], close["hedged_qty"]) == (
        "3.5",
        "30000",
        "0.5",
    )
    assert (close["created_at"], close["finished_at"]) == (
        "2024-08-05T06:00:00+00:00",
        "2024-08-05T06:00:11+00:00",
    )
    assert [event["type"] for event in data["events"]] == [key[0] for key, _ in EXPECTED_ORDER]
    fill = data["events"][5]
    assert fill["at"] == "2024-08-05T06:00:03.400000+00:00"
    assert (fill["fill"]["quantity"], fill["fill"]["price"], fill["fill"]["fee"]) == (
        "0.8",
        "29990",
        "0.040000000000000001",
    )
    attempt = data["events"][2]["attempt"]
    assert (attempt["state"], attempt["quantity"], attempt["sent_at"]) == (
        "EXPIRED",
        "2",
        "2024-08-05T06:00:03.100000+00:00",
    )
    wave = data["events"][1]
    assert wave["books"][0]["bids"] == [["30000", "0.8"], ["29990", "0.9"]]
    hedge = data["events"][13]
    assert (hedge["quantity"], hedge["average_price"], hedge["legs"][0]["purpose"]) == (
        "0.5",
        "29850",
        "hedge",
    )


async def test_unknown_close_has_no_timeline(audited: AsyncEngine) -> None:
    assert await close_timeline(audited, "cl_missing") is None


async def test_render_timeline_prints_events_and_numbers(audited: AsyncEngine) -> None:
    out = io.StringIO()
    render_timeline(await _timeline(audited), Console(file=out, width=220))

    text = out.getvalue()
    for expected in (
        "close cl_audit_1",
        "HEDGED",
        "error ExchangeNotAvailable: beta [503] unavailable",
        "alpha spot: bid 30000 / ask 30010",
        "sell 0.8 @ 29990, fee 0.040000000000000001 BNB",
        "outage: HTTP 503 on /api/v3/order (order a2)",
        "20.00 bps",
        "0.060000000000000001 BNB, 53.844 USDT",
        "position per venue",
    ):
        assert expected in text
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│ alpha ")]
    assert [cell.strip() for cell in rows[-1][:6]] == ["alpha", "2.5", "2", "0.5", "0", "0"]


async def test_render_timeline_offsets_start_at_the_earliest_entry(audited: AsyncEngine) -> None:
    """The first wave's books are journaled before the close row: no negative offsets."""
    import dataclasses

    timeline = await _timeline(audited)
    first = min(entry.at for entry in timeline.events)
    late = dataclasses.replace(timeline.close, created_at=first + timedelta(seconds=2))
    out = io.StringIO()
    render_timeline(dataclasses.replace(timeline, close=late), Console(file=out, width=220))
    text = out.getvalue()
    assert "+-" not in text
    assert "+0s" in text


# ------------------------------------------------------------------ Memory Layer


async def _later_closes(engine: AsyncEngine) -> None:
    """An hour later: a buy of 10 ETHUSDT at a reference of 2500, done in 30.5 s (one
    order that never left, PENDING_SEND -> REJECTED, then 10 filled at 2510), and a close
    that is still open."""
    clock = Clock()
    journal = Journal(engine, owner="router-b", clock=clock)
    try:
        clock.set(3600)
        await journal.create_close(
            NewClose("decision-78", "ETHUSDT", "buy", D(10), {}, D(2500), "cl_later")
        )
        clock.set(3601)
        for client_id, venue in (("b0", "beta"), ("b1", "alpha")):
            eth_buy = _intent(client_id, wave=0, tier=0, venue=venue, qty="10", limit="2520")
            await journal.record_intent(
                replace(eth_buy, close_id="cl_later", symbol="ETHUSDT", side="buy")
            )
        clock.set(3602)
        await journal.record_liquidity_event(symbol="ETHUSDT", kind="thin_book", score=D("0.6"))
        never_sent = OutcomeUpdate(S.REJECTED, error_class="NotFound", error_message="unknown")
        await journal.record_outcome("b0", never_sent)
        await journal.mark_sent("b1")
        eth = _fill("b1", "alpha", "e1", "10", "2510", "2.51", "USDT", 3603)
        eth = replace(eth, close_id="cl_later", side="buy")
        await journal.record_outcome("b1", OutcomeUpdate(S.FILLED, filled_qty=D(10)), [eth])
        clock.set(3630.5)
        await journal.finish_close(
            "cl_later", "FLAT", filled_qty=D(10), hedged_qty=D(0), residual_qty=D(0), reason="ok"
        )
        clock.set(3700)
        await journal.create_close(
            NewClose("decision-79", SYMBOL, "sell", D(1), {}, None, "cl_open")
        )
    finally:
        await journal._writer.close()


@pytest.fixture
async def two_hours(audited: AsyncEngine) -> AsyncEngine:
    await _later_closes(audited)
    return audited


def _slippage_rows(rows: list[TierVenueSlippage]) -> list[tuple[Any, ...]]:
    return [
        (r.tier, r.venue, r.attempts, r.filled_qty, r.average_price, r.reference_price, r.slippage)
        for r in rows
    ]


async def test_slippage_by_tier_and_venue(two_hours: AsyncEngine) -> None:
    rows = await slippage_by_tier_and_venue(two_hours, at(0), at(60))

    assert _slippage_rows(rows) == [
        # (23992 + 11984) / 1.2 = 29980; (30000 - 29980) / 30000
        (0, "alpha", 1, D("1.2"), D(29980), D(30000), D(20) / D(30000)),
        (0, "beta", 1, D(1), D(29950), D(30000), D(50) / D(30000)),
        # (17940 + 5954) / 0.8 = 29867.5
        (1, "alpha", 1, D("0.8"), D("29867.5"), D(30000), D("132.5") / D(30000)),
        (1, "beta", 1, D(0), None, None, None),
    ]


async def test_slippage_windows_and_buys(two_hours: AsyncEngine) -> None:
    wave_one = await slippage_by_tier_and_venue(two_hours, since=at(6), until=at(60))
    assert [(r.tier, r.venue) for r in wave_one] == [(1, "alpha"), (1, "beta")]
    assert await slippage_by_tier_and_venue(two_hours, until=at(3)) == []

    later = await slippage_by_tier_and_venue(two_hours, since=at(3600))
    # a buy: (2510 - 2500) / 2500
    assert _slippage_rows(later) == [
        (0, "alpha", 1, D(10), D(2510), D(2500), D("0.004")),
        (0, "beta", 1, D(0), None, None, None),
    ]
    everything = {(r.tier, r.venue): r for r in await slippage_by_tier_and_venue(two_hours)}
    mixed = everything[(0, "alpha")]
    # shortfall 1.2 * 30000 - 35976 = 24 plus 10 * (2510 - 2500) = 100, over the reference
    # notional 1.2 * 30000 + 10 * 2500 = 61000
    assert (mixed.attempts, mixed.filled_qty) == (2, D("11.2"))
    assert mixed.slippage == D(124) / D(61000)
    assert mixed.reference_price == D(61000) / D("11.2")


async def test_fill_ratio_per_wave(two_hours: AsyncEngine) -> None:
    rows = await fill_ratio_per_wave(two_hours, close_id=CLOSE_ID)

    # wave 0: sent 2 + 1, filled 1.2 + 1.0; wave 1: sent 0.8 (rejected) + 0.8, filled 0.8.
    # The hedge leg (wave 1) is not the close's order.
    assert [(r.close_id, r.wave, r.attempts, r.sent_qty, r.filled_qty, r.ratio) for r in rows] == [
        (CLOSE_ID, 0, 2, D(3), D("2.2"), D("2.2") / D(3)),
        (CLOSE_ID, 1, 2, D("1.6"), D("0.8"), D("0.5")),
    ]
    later = await fill_ratio_per_wave(two_hours, since=at(3600), until=at(7200))
    # b0 never left (PENDING_SEND -> REJECTED), so only b1's 10 was sent
    assert [(r.close_id, r.attempts, r.sent_qty, r.ratio) for r in later] == [
        ("cl_later", 2, D(10), D(1))
    ]
    assert [r.wave for r in await fill_ratio_per_wave(two_hours, since=at(6), until=at(60))] == [1]
    assert await fill_ratio_per_wave(two_hours, close_id="cl_missing") == []


async def test_time_to_flat(two_hours: AsyncEngine) -> None:
    rows = await time_to_flat(two_hours)

    # cl_open is not finished
    assert [(r.close_id, r.outcome, r.created_at, r.finished_at, r.seconds) for r in rows] == [
        (CLOSE_ID, "HEDGED", at(0), at(11), D(11)),
        ("cl_later", "FLAT", at(3600), at(3630.5), D("30.5")),
    ]
    assert [r.close_id for r in await time_to_flat(two_hours, since=at(1))] == ["cl_later"]
    assert [r.close_id for r in await time_to_flat(two_hours, until=at(3600))] == [CLOSE_ID]


async def test_liquidity_events(two_hours: AsyncEngine) -> None:
    rows = await liquidity_events(two_hours)

    assert [(r.at, r.symbol, r.kind, r.score, r.close_id) for r in rows] == [
        (at(1), SYMBOL, "crash", D("0.25"), CLOSE_ID),
        (at(3602), "ETHUSDT", "thin_book", D("0.6"), None),
    ]
    assert [r.kind for r in await liquidity_events(two_hours, symbol="ETHUSDT")] == ["thin_book"]
    assert await liquidity_events(two_hours, since=at(1.5), until=at(3602)) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        await liquidity_events(two_hours, since=datetime(2024, 8, 5))


async def test_memory_stats_render_and_json(two_hours: AsyncEngine) -> None:
    stats = await memory_stats(two_hours, since=at(0), until=at(60))

    data = json.loads(json.dumps(jsonable(stats)))
    assert data["since"] == "2024-08-05T06:00:00+00:00"
    assert [row["ratio"] for row in data["fill_ratio_per_wave"]] == [
        "0.7333333333333333333333333333",
        "0.5",
    ]
    assert data["time_to_flat"] == [
        {
            "close_id": CLOSE_ID,
            "symbol": SYMBOL,
            "side": "sell",
            "outcome": "HEDGED",
            "created_at": "2024-08-05T06:00:00+00:00",
            "finished_at": "2024-08-05T06:00:11+00:00",
            "seconds": "11",
        }
    ]
    out = io.StringIO()
    render_stats(stats, Console(file=out, width=200))
    assert "73.33%" in out.getvalue()
    assert "29867.5" in out.getvalue()


# ------------------------------------------------------------------ export


def _decode(column: Column[Any], value: Any, fmt: str) -> Any:
    """An exported value back as the database's Python value."""
    if fmt == "csv":
        if value == "" and column.nullable:
            return None
        if isinstance(column.type, Integer):
            return int(value)
        if isinstance(column.type, Boolean):
            return {"true": True, "false": False}[value]
    if value is None:
        return None
    if isinstance(column.type, ExactDecimal):
        assert isinstance(value, str)
        assert "E" not in value
        return D(value)
    if isinstance(column.type, UtcDateTime):
        assert value.endswith("+00:00")
        return datetime.fromisoformat(value)
    return value


async def _export(
    engine: AsyncEngine,
    table: str,
    fmt: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The export's text and its rows decoded."""
    out = io.StringIO()
    rows = export_rows(engine, table, since, until)
    if fmt == "csv":
        await write_csv(rows, out, export_columns(table))
        reader = csv.DictReader(io.StringIO(out.getvalue()))
        assert reader.fieldnames == export_columns(table)
        records: list[dict[str, Any]] = list(reader)
    else:
        await write_jsonl(rows, out)
        records = [json.loads(line) for line in out.getvalue().splitlines()]
    columns = journal_table(table).columns
    decoded = [{c.name: _decode(c, record[c.name], fmt) for c in columns} for record in records]
    return out.getvalue(), decoded


async def _stored(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    source = journal_table(table)
    async with engine.connect() as conn:
        result = await conn.execute(select(source).order_by(*source.primary_key.columns))
        return [dict(row) for row in result.mappings()]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_round_trips_every_table(audited: AsyncEngine, fmt: str) -> None:
    for table in TIME_COLUMNS:
        stored = await _stored(audited, table)
        _, exported = await _export(audited, table, fmt)
        assert stored, table
        assert exported == stored, table
    fills_text, _ = await _export(audited, "fills", fmt)
    assert "0.040000000000000001" in fills_text
    assert "0.800000" not in fills_text


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_honours_since_and_until(audited: AsyncEngine, fmt: str) -> None:
    for table, column in TIME_COLUMNS.items():
        expected = [r for r in await _stored(audited, table) if at(3) <= r[column] < at(7)]
        _, exported = await _export(audited, table, fmt, since=at(3), until=at(7))
        assert exported == expected, table
    _, fills = await _export(audited, "fills", fmt, since=at(3.4), until=at(7.25))
    assert [f["trade_id"] for f in fills] == ["t1", "t2", "t4"]


async def test_export_of_nothing_and_of_no_table(audited: AsyncEngine) -> None:
    out = io.StringIO()
    written = await write_csv(
        export_rows(audited, "hedges", since=at(100)), out, export_columns("hedges")
    )
    assert (written, out.getvalue()) == (0, ",".join(export_columns("hedges")) + "\n")
    with pytest.raises(UnknownTable, match="'users'"):
        [row async for row in export_rows(audited, "users")]


class _Sink(io.TextIOBase):
    """A text file that keeps nothing but a count of lines."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


FILL_COUNT = 20_000
MB = 1024 * 1024


def _bulk_fill(n: int) -> FillRecord:
    return FillRecord(
        close_id=CLOSE_ID,
        client_order_id=None,
        venue="alpha",
        market="spot",
        trade_id=f"t{n}",
        side="sell",
        quantity=D("0.000001") * (n + 1),
        price=D("29999.123456789012345678"),
        fee=D("0.000000000000000001"),
        fee_asset="BNB",
        traded_at=at(n / 1000),
    )


async def _many_fills(engine: AsyncEngine) -> None:
    clock = Clock()
    journal = Journal(engine, clock=clock)
    try:
        await journal.create_close(NewClose("bulk", SYMBOL, "sell", D(1), {}, None, CLOSE_ID))
        for start in range(0, FILL_COUNT, 5_000):
            fills = [_bulk_fill(n) for n in range(start, start + 5_000)]
            assert await journal.record_fills(fills) == len(fills)
    finally:
        await journal._writer.close()


async def _peak(work: Awaitable[Any]) -> tuple[Any, int]:
    """What ``work`` returned and the most memory Python held while it ran."""
    tracemalloc.start()
    try:
        result = await work
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


async def test_export_streams_in_flat_memory(engine: AsyncEngine) -> None:
    await _many_fills(engine)

    peaks = []
    for write in (write_csv, write_jsonl):
        sink = _Sink()
        written, peak = await _peak(write(export_rows(engine, "fills"), sink))
        assert written == FILL_COUNT
        assert sink.lines == FILL_COUNT + (write is write_csv)
        peaks.append(peak)

    async def load_all() -> list[dict[str, Any]]:
        return [row async for row in export_rows(engine, "fills")]

    loaded, loaded_peak = await _peak(load_all())
    assert len(loaded) == FILL_COUNT
    assert loaded[-1]["price"] == D("29999.123456789012345678")
    assert max(peaks) < 15 * MB
    assert max(peaks) * 5 < loaded_peak, (peaks, loaded_peak)


# ------------------------------------------------------------------ command line


@pytest.fixture(scope="module")
def journal_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite journal file holding the scenario's close; its URL."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli')}/journal.db"

    async def build() -> None:
        engine = make_engine(url)
        try:
            await ensure_schema(engine)
            await build_close(engine)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, build()).result()
    return url


def _router(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "ROUTER_JOURNAL_URL"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_audit_prints_the_timeline_as_json(journal_file: str, tmp_path: Path) -> None:
    done = _router("audit", CLOSE_ID, "--json", "--db", journal_file, cwd=tmp_path)

    assert (done.returncode, done.stderr) == (0, "")
    data = json.loads(done.stdout)
    assert data["close"]["outcome"] == "HEDGED"
    assert data["summary"]["average_price"] == "29940"
    assert data["summary"]["slippage"] == "0.002"
    assert [event["type"] for event in data["events"]] == [key[0] for key, _ in EXPECTED_ORDER]


def test_cli_audit_prints_a_readable_timeline(journal_file: str, tmp_path: Path) -> None:
    done = _router("audit", CLOSE_ID, "--db", journal_file, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    for expected in (
        "close cl_audit_1",
        "HEDGED",
        "EXPIRED",
        "beta [503] unavailable",
        "20.00 bps",
    ):
        assert expected in done.stdout


def test_cli_audit_of_an_unknown_close_fails(journal_file: str, tmp_path: Path) -> None:
    done = _router("audit", "cl_nope", "--db", journal_file, cwd=tmp_path)

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == ["error: no close 'cl_nope' in the journal"]


def test_cli_exports_a_time_window(journal_file: str, tmp_path: Path) -> None:
    since = ("--since", "2024-08-05T06:00:03.400")
    until = ("--until", "2024-08-05T08:00:07.25+02:00")
    export = ("journal", "export", "--table", "fills", "--format", "jsonl")
    done = _router(*export, *since, *until, "--db", journal_file, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["trade_id"], r["quantity"], r["price"]) for r in rows] == [
        ("t1", "0.8", "29990"),
        ("t2", "0.4", "29960"),
        ("t4", "0.6", "29900"),
    ]


def test_cli_exports_csv_to_a_file(journal_file: str, tmp_path: Path) -> None:
    target = tmp_path / "fills.csv"
    export = ("journal", "export", "--table", "fills", "--format", "csv")
    done = _router(*export, "--output", str(target), "--db", journal_file, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"exported 6 fills row(s) to {target}"
    with target.open(newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert [r["trade_id"] for r in rows] == ["t1", "t2", "t4", "t5", "t3", "t6"]
    assert rows[0]["fee"] == "0.040000000000000001"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--table", "users", "--format", "csv"), "error: unknown table 'users'"),
        (("--table", "fills", "--format", "xml"), "error: unknown format 'xml'"),
        (
            ("--table", "fills", "--format", "csv", "--since", "yesterday"),
            "error: --since: not an ISO-8601 time: 'yesterday'",
        ),
    ],
)
def test_cli_export_rejects_bad_arguments(
    journal_file: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = _router("journal", "export", *args, "--db", journal_file, cwd=tmp_path)

    assert (done.returncode, done.stdout) == (2, "")
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(message)


def test_cli_stats(journal_file: str, tmp_path: Path) -> None:
    done = _router(
        "journal", "stats", "--since", "2024-08-05", "--json", "--db", journal_file, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [(r["wave"], r["ratio"]) for r in data["fill_ratio_per_wave"]][1] == (1, "0.5")
    assert [(r["close_id"], r["seconds"]) for r in data["time_to_flat"]] == [(CLOSE_ID, "11")]
    assert [r["kind"] for r in data["liquidity_events"]] == ["crash"]
    readable = _router("journal", "stats", "--db", journal_file, cwd=tmp_path)
    assert readable.returncode == 0, readable.stderr
    assert "slippage by tier and venue" in readable.stdout
