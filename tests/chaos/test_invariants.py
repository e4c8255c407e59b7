"""The invariant checker finds hand-built breaches and passes a consistent ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from router.chaos.invariants import (
    JournalSnapshot,
    VenueLedger,
    Violation,
    check,
)
from router.core.orders import OrderState
from router.journal.records import AttemptView, CloseView, FillRecord
from router.sim.orders import Order, Trade

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def _close(**fields: object) -> CloseView:
    values: dict[str, object] = {
        "id": "cl_1",
        "idempotency_key": "k1",
        "symbol": "BTC",
        "side": "sell",
        "requested_qty": D(2),
        "request": {},
        "state": "DONE",
        "outcome": "FLAT",
        "outcome_reason": "sold in spot",
        "reference_price": D(60000),
        "filled_qty": D(2),
        "hedged_qty": D(0),
        "residual_qty": D(0),
        "owner": None,
        "lease_expires_at": None,
        "created_at": T0,
        "updated_at": T0,
        "finished_at": T0,
    }
    values.update(fields)
    return CloseView(**values)  # type: ignore[arg-type]


def _attempt(client_id: str, qty: Decimal, **fields: object) -> AttemptView:
    values: dict[str, object] = {
        "id": 1,
        "client_order_id": client_id,
        "close_id": "cl_1",
        "hedge_id": None,
        "purpose": "close",
        "wave": 1,
        "tier": 0,
        "venue": "alpha",
        "market": "spot",
        "symbol": "BTC/USDT",
        "side": "sell",
        "quantity": qty,
        "limit_price": D(59000),
        "style": "ioc_limit",
        "reduce_only": False,
        "state": OrderState.FILLED,
        "exchange_order_id": None,
        "filled_qty": qty,
        "error_class": None,
        "error_message": None,
        "intent_at": T0,
        "sent_at": T0,
        "acked_at": T0,
        "final_at": T0,
    }
    values.update(fields)
    return AttemptView(**values)  # type: ignore[arg-type]


def _order(order_id: int, client_id: str, qty: Decimal, *, time_ms: int = T0_MS + 5) -> Order:
    return Order(
        id=order_id,
        market="spot",
        symbol="BTCUSDT",
        client_order_id=client_id,
        side="SELL",
        type="LIMIT",
        time_in_force="IOC",
        price=D(59000),
        orig_qty=qty,
        time_ms=time_ms,
        executed_qty=qty,
        status="FILLED",
    )


def _trade(trade_id: int, order_id: int, qty: Decimal) -> Trade:
    return Trade(
        id=trade_id,
        order_id=order_id,
        market="spot",
        symbol="BTCUSDT",
        side="SELL",
        price=D(59500),
        qty=qty,
        quote_qty=qty * D(59500),
        commission=D(0),
        commission_asset="USDT",
        is_maker=False,
        time_ms=T0_MS + 5,
        scenario_t=D(0),
    )


def _fill(trade_id: int, qty: Decimal, client_id: str = "c1") -> FillRecord:
    return FillRecord(
        close_id="cl_1",
        client_order_id=client_id,
        venue="alpha",
        market="spot",
        trade_id=str(trade_id),
        side="sell",
        quantity=qty,
        price=D(59500),
        fee=D(0),
        fee_asset="USDT",
        traded_at=T0,
    )


def _holding(venue: str, held: Decimal | None, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "close_id": "cl_1",
        "venue": venue,
        "asset": "BTC",
        "held": held,
        "unknown_reason": None if held is not None else "RateLimited: 429",
        "stuck": False,
        "left_reason": None,
        "resolved_at": T0 if held is not None else None,
    }
    row.update(fields)
    return row


def _consistent() -> tuple[JournalSnapshot, VenueLedger]:
    journal = JournalSnapshot(
        closes=[_close()],
        attempts=[_attempt("c1", D(2))],
        fills=[_fill(10, D("1.5")), _fill(11, D("0.5"))],
        holdings={"cl_1": [_holding("alpha", D(3))]},
    )
    ledger = VenueLedger(
        "alpha",
        orders=[_order(1, "c1", D(2))],
        trades=[_trade(10, 1, D("1.5")), _trade(11, 1, D("0.5"))],
        initial={"BTC": D(3)},
        balances={"BTC": D(1)},
    )
    return journal, ledger


def _names(violations: list[Violation]) -> set[str]:
    return {v.invariant for v in violations}


def test_a_consistent_ledger_has_no_violation() -> None:
    journal, ledger = _consistent()
    assert check(journal, [ledger]) == []


def test_an_order_the_journal_does_not_know_is_found() -> None:
    journal, ledger = _consistent()
    stray = replace(ledger, orders=[*ledger.orders, _order(2, "nobody-sent-this", D(1))])
    violations = check(journal, [stray])
    assert _names(violations) == {"unknown_order"}
    assert "nobody-sent-this" in violations[0].detail


def test_an_order_journaled_for_another_venue_is_found() -> None:
    journal, ledger = _consistent()
    elsewhere = replace(journal, attempts=[_attempt("c1", D(2), venue="bravo")])
    assert "unknown_order" in _names(check(elsewhere, [ledger]))


def test_a_trade_journaled_twice_is_found() -> None:
    journal, ledger = _consistent()
    twice = replace(journal, fills=[*journal.fills, _fill(10, D("1.5"))])
    violations = check(twice, [ledger])
    assert "fills" in _names(violations)
    assert any("journaled 2 times" in v.detail for v in violations)


def test_a_trade_never_journaled_and_a_phantom_fill_are_found() -> None:
    journal, ledger = _consistent()
    missing = replace(journal, fills=[_fill(10, D("1.5")), _fill(99, D("0.5"))])
    details = [v.detail for v in check(missing, [ledger]) if v.invariant == "fills"]
    assert any("trade 11" in d and "not journaled" in d for d in details)
    assert any("trade 99" in d and "not on the venue" in d for d in details)


def test_an_oversell_on_a_venue_and_beyond_the_close_is_found() -> None:
    journal, ledger = _consistent()
    extra = [_order(2, "c2", D(2))]
    oversold = replace(
        ledger,
        orders=[*ledger.orders, *extra],
        trades=[*ledger.trades, _trade(12, 2, D(2))],
        balances={"BTC": D(-1)},
    )
    journal = replace(
        journal,
        attempts=[*journal.attempts, _attempt("c2", D(2))],
        fills=[*journal.fills, _fill(12, D(2), "c2")],
    )
    violations = check(journal, [oversold])
    oversells = [v.detail for v in violations if v.invariant == "oversell"]
    assert any("sold 4 BTC holding 3" in d for d in oversells)
    assert any("requested 2" in d for d in oversells)
    assert any("balance -1" in d for d in oversells)


def test_a_client_order_id_placed_twice_is_found() -> None:
    journal, ledger = _consistent()
    again = replace(ledger, orders=[*ledger.orders, _order(2, "c1", D(0))])
    assert "duplicate_order" in _names(check(journal, [again]))


def test_a_close_without_outcome_or_with_a_wrong_residual_is_found() -> None:
    journal, ledger = _consistent()
    open_close = replace(journal, closes=[_close(outcome=None, state="NEEDS_OPERATOR")])
    assert _names(check(open_close, [ledger])) == {"outcome"}
    wrong = replace(
        journal,
        closes=[_close(outcome="STRANDED", filled_qty=D("1.5"), residual_qty=D("0.5"))],
    )
    details = [v.detail for v in check(wrong, [ledger])]
    assert any("residual 0.5 journaled" in d for d in details)
    assert any("STRANDED with filled 2" in d for d in details)


def test_an_order_on_the_venue_before_its_intent_is_found() -> None:
    journal, ledger = _consistent()
    late = replace(journal, attempts=[_attempt("c1", D(2), intent_at=T0 + timedelta(seconds=1))])
    assert _names(check(late, [ledger])) == {"write_ahead"}


def test_internal_crossings_count_as_filled_without_a_venue_trade() -> None:
    journal, ledger = _consistent()
    crossed = replace(
        journal,
        closes=[_close(requested_qty=D(3), filled_qty=D(3))],
        attempts=[
            *journal.attempts,
            _attempt("net-1", D(1), purpose="net", venue="internal", market="internal"),
        ],
        fills=[*journal.fills, replace(_fill(1, D(1), "net-1"), venue="internal")],
    )
    assert check(crossed, [ledger]) == []


def test_a_perp_short_its_hedges_do_not_book_is_found() -> None:
    journal, ledger = _consistent()
    hedge = {
        "close_id": "cl_1",
        "venue": "alpha",
        "quantity": D(0),
        "unwound_qty": D(0),
        "covers_json": '{"alpha": "1"}',
    }
    perp_order = replace(_order(2, "h1", D(1)), market="linear")
    perp_trade = replace(_trade(20, 2, D(1)), market="linear")
    hedged = replace(
        journal,
        closes=[_close(requested_qty=D(3), outcome="HEDGED", hedged_qty=D(1))],
        attempts=[*journal.attempts, _attempt("h1", D(1), purpose="hedge", market="linear")],
        fills=[*journal.fills, replace(_fill(20, D(1), "h1"), market="linear")],
        hedges=[hedge],
    )
    venue = replace(
        ledger, orders=[*ledger.orders, perp_order], trades=[*ledger.trades, perp_trade]
    )
    details = [v.detail for v in check(hedged, [venue])]
    assert details == ["close cl_1: its hedges book 0 short, the venues show 1 hedged"]
    booked = replace(hedged, hedges=[{**hedge, "quantity": D(1)}])
    assert check(booked, [venue]) == []


def test_unwinds_are_booked_and_never_exceed_the_hedge() -> None:
    journal, ledger = _consistent()
    hedge = {
        "close_id": "cl_1",
        "venue": "alpha",
        "quantity": D(1),
        "unwound_qty": D(0),
        "covers_json": '{"alpha": "1"}',
    }

    def perp(order_id: int, client_id: str, qty: Decimal) -> tuple[Order, Trade]:
        order = replace(_order(order_id, client_id, qty), market="linear")
        return order, replace(_trade(order_id * 10, order_id, qty), market="linear")

    (short, short_trade), (back, back_trade) = perp(2, "h1", D(1)), perp(3, "u1", D("0.4"))
    unwound = replace(
        journal,
        closes=[_close(requested_qty=D(3), outcome="HEDGED", hedged_qty=D(1))],
        attempts=[
            *journal.attempts,
            _attempt("h1", D(1), purpose="hedge", market="linear", hedge_id=1),
            _attempt("u1", D("0.4"), purpose="unwind", market="linear", hedge_id=1, side="buy"),
        ],
        fills=[
            *journal.fills,
            replace(_fill(20, D(1), "h1"), market="linear"),
            replace(_fill(30, D("0.4"), "u1"), market="linear", side="buy"),
        ],
        hedges=[hedge],
    )
    venue = replace(
        ledger,
        orders=[*ledger.orders, short, back],
        trades=[*ledger.trades, short_trade, back_trade],
    )
    details = [v.detail for v in check(unwound, [venue])]
    assert details == ["close cl_1: its hedges book 0 unwound, the venues show 0.4 bought back"]
    booked = replace(unwound, hedges=[{**hedge, "unwound_qty": D("0.4")}])
    assert check(booked, [venue]) == []

    (more, more_trade) = perp(4, "u2", D(1))
    over = replace(
        booked,
        attempts=[
            *booked.attempts,
            _attempt("u2", D(1), purpose="unwind", market="linear", hedge_id=1, side="buy"),
        ],
        fills=[*booked.fills, replace(_fill(40, D(1), "u2"), market="linear", side="buy")],
        hedges=[{**hedge, "unwound_qty": D("1.4")}],
    )
    venue_over = replace(venue, orders=[*venue.orders, more], trades=[*venue.trades, more_trade])
    details = [v.detail for v in check(over, [venue_over])]
    assert details == ["close cl_1: the venues show 1.4 bought back of a 1 hedge"]
