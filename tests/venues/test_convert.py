"""ccxt structures to Decimal values, without a venue: grids, bands, garbage, orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE

from router.core.orders import OrderState
from router.venues import answers, convert
from router.venues.errors import BadVenueData

NOW = datetime(2022, 11, 8, 14, 0, tzinfo=UTC)


def _spot_market(**overrides: Any) -> dict[str, Any]:
    market: dict[str, Any] = {
        "id": "ETHUSDT",
        "symbol": "ETH/USDT",
        "base": "ETH",
        "quote": "USDT",
        "spot": True,
        "swap": False,
        "linear": None,
        "taker": 0.001,
        "maker": 0.0009,
        "precision": {"amount": 0.0001, "price": 0.01},
        "limits": {
            "amount": {"min": 0.0001, "max": 9000.0},
            "market": {"min": 0.0001, "max": 1000.0},
            "cost": {"min": 10.0, "max": None},
        },
        "info": {
            "filters": [
                {"filterType": "NOTIONAL", "minNotional": "5.00000000"},
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": "5",
                    "bidMultiplierDown": "0.2",
                    "askMultiplierUp": "4",
                    "askMultiplierDown": "0.25",
                },
            ]
        },
    }
    market.update(overrides)
    return market


def test_spot_market_in_tick_size_mode() -> None:
    info = convert.market_info("alpha", _spot_market(), TICK_SIZE)
    assert info.kind == "spot"
    assert (info.symbol, info.market_id, info.base, info.quote) == (
        "ETH/USDT",
        "ETHUSDT",
        "ETH",
        "USDT",
    )
    assert info.lot_step == Decimal("0.0001")
    assert info.tick == Decimal("0.01")
    assert info.min_qty == Decimal("0.0001")
    assert info.max_qty == Decimal(9000)
    assert info.market_max_qty == Decimal(1000)
    assert info.min_notional == Decimal(5)
    assert (info.percent_down, info.percent_up) == (Decimal("0.25"), Decimal(4))
    assert (info.taker_fee, info.maker_fee) == (Decimal("0.001"), Decimal("0.0009"))


def test_decimal_places_mode_and_fallbacks() -> None:
    market = _spot_market(precision={"amount": 3, "price": 1}, info={})
    info = convert.market_info("x", market, DECIMAL_PLACES, (Decimal("0.002"), Decimal(0)))
    assert info.lot_step == Decimal("0.001")
    assert info.tick == Decimal("0.1")
    assert info.min_notional == Decimal(10)
    assert (info.percent_down, info.percent_up) == (None, None)
    assert (info.taker_fee, info.maker_fee) == (Decimal("0.002"), Decimal(0))


def test_linear_perpetual_with_percent_price() -> None:
    market = _spot_market(
        symbol="ETH/USDT:USDT",
        spot=False,
        swap=True,
        linear=True,
        info={
            "filters": [
                {"filterType": "MIN_NOTIONAL", "notional": "20"},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.95"},
            ]
        },
    )
    info = convert.market_info("alpha", market, TICK_SIZE)
    assert info.kind == "linear"
    assert info.min_notional == Decimal(20)
    assert (info.percent_down, info.percent_up) == (Decimal("0.95"), Decimal("1.05"))


def test_unsupported_markets_and_modes() -> None:
    assert convert.market_kind({"future": True, "linear": True, "swap": False}) is None
    assert convert.market_kind({"swap": True, "inverse": True, "linear": False}) is None
    with pytest.raises(BadVenueData, match="precision mode"):
        convert.market_info("x", _spot_market(), SIGNIFICANT_DIGITS)
    with pytest.raises(BadVenueData, match="amount precision"):
        convert.market_info("x", _spot_market(precision={"amount": None, "price": 0.01}), TICK_SIZE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.1, "0.1"), (59994.0, "59994.0"), (1e-05, "0.00001"), (3, "3"), ("0.12345000", "0.12345")],
)
def test_decimal_goes_through_str(value: object, expected: str) -> None:
    assert convert.decimal(value, "x") == Decimal(expected)


@pytest.mark.parametrize("value", [None, True, "abc", float("nan"), float("inf"), [1], {}])
def test_decimal_refuses_garbage(value: object) -> None:
    with pytest.raises(BadVenueData):
        convert.decimal(value, "x")


def test_book_from_levels() -> None:
    book = convert.book([[100.5, 1.0], [100.0, 2.5, 7]], [[101.0, 0.1]], "alpha BTC/USDT")
    assert book.bids == ((Decimal("100.5"), Decimal("1.0")), (Decimal("100.0"), Decimal("2.5")))
    assert book.asks == ((Decimal("101.0"), Decimal("0.1")),)


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([[-1.0, 1.0]], [[101.0, 1.0]]),
        ([[100.0, 0.0]], [[101.0, 1.0]]),
        ([[102.0, 1.0]], [[101.0, 1.0]]),
        ([[100.0, 1.0], [100.5, 1.0]], []),
        ([["x", 1.0]], []),
        ([[100.0]], []),
        ("100,1", []),
        ([None], []),
        (None, []),
    ],
)
def test_impossible_books_are_bad_venue_data(bids: object, asks: object) -> None:
    with pytest.raises(BadVenueData):
        convert.book(bids, asks, "alpha")


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("closed", 1.0, OrderState.FILLED),
        ("expired", 0.25, OrderState.EXPIRED),
        ("canceled", 0.0, OrderState.CANCELED),
        ("rejected", 0.0, OrderState.REJECTED),
        ("open", 0.0, OrderState.OPEN),
        ("open", 0.3, OrderState.PARTIALLY_FILLED),
        ("canceling", 0.0, None),
        (None, 0.0, None),
    ],
)
def test_order_state(status: str | None, filled: float, expected: OrderState | None) -> None:
    assert answers.order_state({"status": status, "filled": filled}) is expected


def test_venue_order_checks_id_and_client_id() -> None:
    order = {"id": "7", "clientOrderId": "c-1", "status": "expired", "filled": 0.25}
    found = answers.venue_order(order, "c-1")
    assert (found.exchange_order_id, found.state, found.filled_qty) == (
        "7",
        OrderState.EXPIRED,
        Decimal("0.25"),
    )
    with pytest.raises(BadVenueData, match="answered c-2"):
        answers.venue_order({**order, "clientOrderId": "c-2"}, "c-1")
    with pytest.raises(BadVenueData, match="without id"):
        answers.venue_order({**order, "id": None}, "c-1")


def test_full_fill_takes_order_id_side_and_time_from_the_order() -> None:
    fill = {
        "id": "500001",
        "order": None,
        "side": None,
        "timestamp": None,
        "price": 59994.0,
        "amount": 0.12345,
        "fee": {"currency": "USDT", "cost": 7.4062593},
    }
    trade = answers.venue_trade(fill, order_id="1000001", side="sell", fallback_time=NOW)
    assert trade.trade_id == "500001"
    assert trade.exchange_order_id == "1000001"
    assert trade.side == "sell"
    assert trade.quantity == Decimal("0.12345")
    assert trade.price == Decimal("59994")
    assert trade.fee == Decimal("7.4062593")
    assert trade.fee_asset == "USDT"
    assert trade.traded_at == NOW
    listed = {**fill, "order": "1000001", "side": "buy", "timestamp": 1584007200000, "fee": None}
    trade = answers.venue_trade(listed, order_id="1000001", side=None, fallback_time=NOW)
    assert trade.side == "buy"
    assert trade.fee == 0
    assert trade.fee_asset is None
    assert trade.traded_at == datetime(2020, 3, 12, 10, 0, tzinfo=UTC)
