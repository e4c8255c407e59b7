"""Orders through the adapter: what the venue's ledger holds, and each fault's outcome."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from router.core.orders import OrderState
from router.engine.reconcile import VenueLookup
from router.sim.orders import Order, fmt8
from router.sim.venue import SimVenue
from router.venues.adapter import VenueAdapter
from router.venues.model import Outcome, PlaceResult
from router.venues.reports import LookupFailed
from tests.venues.conftest import PERP, SPOT, fault

SPOT_ORDER = "POST /api/v3/order"


def _ledger_order(venue: SimVenue, kind: str, client_order_id: str) -> Order | None:
    orders = venue.orders[kind]  # type: ignore[index]
    found = [o for o in orders.values() if o.client_order_id == client_order_id]
    assert len(found) <= 1
    return found[0] if found else None


def _wire(commission: Decimal) -> Decimal:
    """A commission as the venue reports it (eight decimals)."""
    return Decimal(fmt8(commission))


def _assert_matches_ledger(result: PlaceResult, venue: SimVenue, kind: str) -> None:
    order = _ledger_order(venue, kind, result.client_order_id)
    assert order is not None
    assert result.exchange_order_id == str(order.id)
    assert result.filled == order.executed_qty
    assert sum(f.quantity for f in result.fills) == result.filled
    ledger = [
        (str(t.id), str(t.order_id), t.side.lower(), t.qty, t.price, _wire(t.commission))
        for t in venue.order_trades(order)
    ]
    got = [
        (f.trade_id, f.exchange_order_id, f.side, f.quantity, f.price, f.fee) for f in result.fills
    ]
    assert got == ledger
    assert {f.fee_asset for f in result.fills} <= {"USDT", "BTC"}


async def test_ioc_limit_sweeps_to_its_limit_and_expires(
    alpha: VenueAdapter, venue: SimVenue
) -> None:
    view = await alpha.order_book(SPOT, depth=10)
    levels = view.book.bids[:3]
    limit = levels[-1][0]
    available = sum(q for _, q in levels)
    quantity = available + Decimal("0.1")
    assert quantity <= 5
    result = await alpha.place_order(
        SPOT, "sell", quantity, client_order_id="ioc-1", limit_price=limit
    )
    assert result.outcome is Outcome.ACKED
    assert result.state is OrderState.EXPIRED
    assert result.filled == available
    assert [f.price for f in result.fills] == [p for p, _ in levels]
    _assert_matches_ledger(result, venue, "spot")
    order = _ledger_order(venue, "spot", "ioc-1")
    assert order is not None
    assert (order.type, order.time_in_force, order.price) == ("LIMIT", "IOC", limit)


async def test_partial_fill_fault_gives_an_expired_ioc(
    alpha: VenueAdapter, venue: SimVenue
) -> None:
    venue.faults.add(fault(kind="partial_fill", fill_ratio="0.25", endpoint=SPOT_ORDER))
    bid = (await alpha.order_book(SPOT)).book.bids[0][0]
    limit = (bid * Decimal("0.98")).quantize(Decimal("0.01"))
    result = await alpha.place_order(
        SPOT, "sell", Decimal(1), client_order_id="part-1", limit_price=limit
    )
    assert (result.outcome, result.state) == (Outcome.ACKED, OrderState.EXPIRED)
    assert result.filled == Decimal("0.25")
    _assert_matches_ledger(result, venue, "spot")


async def test_amounts_round_trip_exactly(alpha: VenueAdapter, venue: SimVenue) -> None:
    result = await alpha.place_order(
        SPOT, "sell", Decimal("0.12345"), client_order_id="exact-1", limit_price=None
    )
    assert (result.outcome, result.state) == (Outcome.ACKED, OrderState.FILLED)
    assert result.filled == Decimal("0.12345")
    order = _ledger_order(venue, "spot", "exact-1")
    assert order is not None
    assert order.type == "MARKET"
    assert order.orig_qty == order.executed_qty == Decimal("0.12345")
    _assert_matches_ledger(result, venue, "spot")


async def test_market_buy_on_spot(alpha: VenueAdapter, venue: SimVenue) -> None:
    result = await alpha.place_order(
        SPOT, "buy", Decimal("0.5"), client_order_id="buy-1", limit_price=None
    )
    assert (result.state, result.filled) == (OrderState.FILLED, Decimal("0.5"))
    _assert_matches_ledger(result, venue, "spot")
    assert all(f.fee_asset == "BTC" for f in result.fills)


@pytest.mark.parametrize(
    ("quantity", "price"), [(Decimal("0.123456"), None), (Decimal("0.1"), Decimal("59000.005"))]
)
async def test_off_grid_values_are_not_sent(
    alpha: VenueAdapter, venue: SimVenue, quantity: Decimal, price: Decimal | None
) -> None:
    result = await alpha.place_order(
        SPOT, "sell", quantity, client_order_id="grid-1", limit_price=price
    )
    assert (result.outcome, result.state) == (Outcome.NOT_PLACED, OrderState.REJECTED)
    assert result.error_class == "OrderRejected"
    assert "off the venue's grid" in (result.error_message or "")
    assert venue.orders["spot"] == {}


async def test_perp_fills_come_from_the_trade_history(alpha: VenueAdapter, venue: SimVenue) -> None:
    result = await alpha.place_order(
        PERP, "sell", Decimal("0.5"), client_order_id="perp-1", limit_price=None
    )
    assert (result.outcome, result.state) == (Outcome.ACKED, OrderState.FILLED)
    assert result.fills
    _assert_matches_ledger(result, venue, "linear")


async def test_reduce_only_perp_buy_only_reduces(alpha: VenueAdapter, venue: SimVenue) -> None:
    await alpha.place_order(PERP, "sell", Decimal("0.5"), client_order_id="s-1", limit_price=None)
    result = await alpha.place_order(
        PERP, "buy", Decimal("0.8"), client_order_id="r-1", limit_price=None, reduce_only=True
    )
    assert result.outcome is Outcome.ACKED
    assert result.filled == Decimal("0.5")
    assert result.state is OrderState.EXPIRED
    assert venue.futures.position == 0
    order = _ledger_order(venue, "linear", "r-1")
    assert order is not None
    assert order.reduce_only
    _assert_matches_ledger(result, venue, "linear")

    again = await alpha.place_order(
        PERP, "buy", Decimal("0.1"), client_order_id="r-2", limit_price=None, reduce_only=True
    )
    assert (again.outcome, again.state) == (Outcome.NOT_PLACED, OrderState.REJECTED)
    assert "-2022" in (again.error_message or "")


async def test_reduce_only_on_spot_is_a_caller_error(alpha: VenueAdapter) -> None:
    with pytest.raises(ValueError, match="reduce-only"):
        await alpha.place_order(
            SPOT, "sell", Decimal(1), client_order_id="x", limit_price=None, reduce_only=True
        )


@pytest.mark.parametrize(
    ("symbol", "quantity", "code"),
    [(SPOT, Decimal("0.00001"), "-1013"), (PERP, Decimal("0.001"), "-4164"), (SPOT, 50, "")],
)
async def test_definite_rejections_are_not_placed(
    alpha: VenueAdapter, symbol: str, quantity: Decimal, code: str
) -> None:
    result = await alpha.place_order(
        symbol, "sell", Decimal(quantity), client_order_id="rej-1", limit_price=None
    )
    assert (result.outcome, result.state) == (Outcome.NOT_PLACED, OrderState.REJECTED)
    assert code in (result.error_message or "")


NOT_ON_BOOK: list[dict[str, Any]] = [
    {"kind": "outage"},
    {"kind": "rate_limit"},
    {"kind": "ip_ban", "retry_after_s": 60},
]


@pytest.mark.parametrize("spec", NOT_ON_BOOK, ids=lambda s: s["kind"])
async def test_refused_before_placing_is_still_unknown(
    alpha: VenueAdapter, venue: SimVenue, spec: dict[str, Any]
) -> None:
    """The venue refused before placing, but the client cannot know that from a 503/429."""
    venue.faults.add(fault(endpoint=SPOT_ORDER, count=1, **spec))
    result = await alpha.place_order(
        SPOT, "sell", Decimal("0.1"), client_order_id="amb-1", limit_price=None
    )
    assert (result.outcome, result.state) == (Outcome.UNKNOWN, OrderState.UNKNOWN)
    assert result.exchange_order_id is None
    assert _ledger_order(venue, "spot", "amb-1") is None
    assert await alpha.order_by_client_id("alpha", "spot", SPOT, "amb-1") is None


async def test_insufficient_balance_is_not_placed(alpha: VenueAdapter, venue: SimVenue) -> None:
    venue.faults.add(fault(kind="insufficient_balance", count=2))
    spot = await alpha.place_order(
        SPOT, "sell", Decimal("0.1"), client_order_id="ib-1", limit_price=None
    )
    perp = await alpha.place_order(
        PERP, "sell", Decimal("0.1"), client_order_id="ib-2", limit_price=None
    )
    for result in (spot, perp):
        assert (result.outcome, result.state) == (Outcome.NOT_PLACED, OrderState.REJECTED)
        assert result.error_class == "InsufficientFunds"
    assert venue.orders == {"spot": {}, "linear": {}}


@pytest.mark.parametrize(
    ("spec", "symbol", "kind"),
    [
        ({"kind": "timeout_after_accept"}, SPOT, "spot"),
        ({"kind": "timeout_after_accept", "mode": "drop"}, SPOT, "spot"),
        ({"kind": "garbled"}, SPOT, "spot"),
        ({"kind": "timeout_after_accept"}, PERP, "linear"),
        ({"kind": "garbled"}, PERP, "linear"),
    ],
    ids=["1007", "drop", "garbled", "perp-1007", "perp-garbled"],
)
async def test_placed_but_unknown_is_found_by_client_order_id(
    alpha: VenueAdapter, venue: SimVenue, spec: dict[str, Any], symbol: str, kind: str
) -> None:
    path = "POST /api/v3/order" if kind == "spot" else "POST /fapi/v1/order"
    venue.faults.add(fault(endpoint=path, count=1, **spec))
    result = await alpha.place_order(
        symbol, "sell", Decimal("0.2"), client_order_id="lost-1", limit_price=None
    )
    assert (result.outcome, result.state) == (Outcome.UNKNOWN, OrderState.UNKNOWN)
    assert result.exchange_order_id is None
    assert result.filled == 0
    order = _ledger_order(venue, kind, "lost-1")
    assert order is not None
    assert order.status == "FILLED"

    found = await alpha.order_by_client_id("alpha", kind, symbol, "lost-1")
    assert found is not None
    assert (found.exchange_order_id, found.state, found.filled_qty) == (
        str(order.id),
        OrderState.FILLED,
        Decimal("0.2"),
    )
    trades = await alpha.trades_for_order("alpha", kind, symbol, found.exchange_order_id)
    assert [(t.trade_id, t.quantity, t.price, t.fee) for t in trades] == [
        (str(t.id), t.qty, t.price, _wire(t.commission)) for t in venue.order_trades(order)
    ]
    assert all(t.side == "sell" and t.traded_at.tzinfo is not None for t in trades)


async def test_lookups(alpha: VenueAdapter, venue: SimVenue) -> None:
    lookup: VenueLookup = alpha
    assert await lookup.order_by_client_id("alpha", "spot", SPOT, "never-sent") is None
    assert await lookup.order_by_client_id("alpha", "linear", PERP, "never-sent") is None
    assert await lookup.trades_for_order("alpha", "spot", SPOT, "999999") == []
    venue.faults.add(fault(kind="outage", endpoint="GET /api/v3/order"))
    with pytest.raises(LookupFailed, match="503"):
        await lookup.order_by_client_id("alpha", "spot", SPOT, "never-sent")
    venue.faults.add(fault(kind="garbled", endpoint="GET /api/v3/myTrades"))
    with pytest.raises(LookupFailed, match="not JSON"):
        await lookup.trades_for_order("alpha", "spot", SPOT, "1000001")


async def test_cancel(alpha: VenueAdapter, venue: SimVenue) -> None:
    exchange = alpha._exchange
    await exchange.create_order(SPOT, "limit", "sell", "0.01", "65000", {"clientOrderId": "gtc-1"})
    order = _ledger_order(venue, "spot", "gtc-1")
    assert order is not None
    assert order.status == "NEW"

    canceled = await alpha.cancel(SPOT, "gtc-1")
    assert canceled is not None
    assert (canceled.client_order_id, canceled.state) == ("gtc-1", OrderState.CANCELED)
    assert canceled.exchange_order_id == str(order.id)
    assert order.status == "CANCELED"
    again = await alpha.cancel(SPOT, "gtc-1")
    assert again == canceled
    assert await alpha.cancel(SPOT, "never-sent") is None
