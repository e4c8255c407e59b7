"""Spot order validation: binance-spot-api-docs ``filters.md`` (symbol filters),
``errors.md`` ("Filter failures" under -1013, -1100..-1121 request issues, -2010
messages) and ``rest-api.md`` "New order" (mandatory parameters per type).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from .helpers import (
    BinanceRest,
    assert_error,
    filters_of,
    on_step,
    read_book,
    symbol_info,
)

MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


async def limit_buy_below_market(rest: BinanceRest) -> Decimal:
    """A price safely below the best bid, on alpha's 0.01 tick."""
    return (await read_book(rest)).best_bid - Decimal(100)


# filters.md PRICE_FILTER: "price % tickSize == 0"; errors.md -1013 "Filter failure:
# PRICE_FILTER" ("price is too high, too low, and/or not following the tick size rule").
async def test_price_off_tick(rest: BinanceRest) -> None:
    price = await limit_buy_below_market(rest) + Decimal("0.005")
    reply = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: PRICE_FILTER")


# filters.md PRICE_FILTER: "price <= maxPrice".
async def test_price_above_max_price(rest: BinanceRest) -> None:
    max_price = Decimal(filters_of(await symbol_info(rest))["PRICE_FILTER"]["maxPrice"])
    reply = await rest.new_order(
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=str(max_price + 1),
    )
    assert_error(reply, -1013, "Filter failure: PRICE_FILTER")


# filters.md LOT_SIZE: "quantity % stepSize == 0".
async def test_quantity_off_step(rest: BinanceRest) -> None:
    price = await limit_buy_below_market(rest)
    reply = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.100005", price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: LOT_SIZE")


# filters.md LOT_SIZE: "quantity >= minQty". Such a tiny order also fails NOTIONAL;
# the docs do not say which check runs first. The most likely live answer is
# LOT_SIZE (listed before NOTIONAL in exchangeInfo, and the error users of tiny
# orders commonly report), which is what is asserted.
async def test_quantity_below_min_qty(rest: BinanceRest) -> None:
    price = await limit_buy_below_market(rest)
    reply = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.000001", price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: LOT_SIZE")


# filters.md LOT_SIZE: "quantity <= maxQty" (alpha: 9000).
async def test_quantity_above_max_qty(rest: BinanceRest) -> None:
    lot = filters_of(await symbol_info(rest))["LOT_SIZE"]
    price = await limit_buy_below_market(rest)
    reply = await rest.new_order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity=str(Decimal(lot["maxQty"]) + 1),
        price=str(price),
    )
    assert_error(reply, -1013, "Filter failure: LOT_SIZE")


# filters.md NOTIONAL: "price * quantity >= minNotional" (alpha: 5 USDT); errors.md
# "Filter failure: NOTIONAL".
async def test_notional_below_min_notional(rest: BinanceRest) -> None:
    price = await limit_buy_below_market(rest)
    quantity = Decimal("0.00005")
    assert price * quantity < 5
    reply = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity=str(quantity), price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: NOTIONAL")


# filters.md NOTIONAL with applyMinToMarket: a MARKET order is measured at the
# average price, so a tiny market order fails it too.
async def test_market_notional_below_min_notional(rest: BinanceRest) -> None:
    notional = filters_of(await symbol_info(rest))["NOTIONAL"]
    assert notional["applyMinToMarket"] is True
    reply = await rest.new_order(side="SELL", type="MARKET", quantity="0.00005")
    assert_error(reply, -1013, "Filter failure: NOTIONAL")


# filters.md PERCENT_PRICE_BY_SIDE: a SELL passes only if
# "Order Price >= weightedAveragePrice * askMultiplierDown". A SELL at 10% of the
# market is far below that (alpha: askMultiplierDown 0.2).
async def test_sell_far_below_average_price(rest: BinanceRest) -> None:
    book = await read_book(rest)
    price = on_step((book.best_bid + book.best_ask) / 2 / 10, Decimal("0.01"))
    reply = await rest.new_order(
        side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE")


# filters.md PERCENT_PRICE_BY_SIDE for BUY: "Order price <= weightedAveragePrice *
# bidMultiplierUp" (alpha: 5).
async def test_buy_far_above_average_price(rest: BinanceRest) -> None:
    book = await read_book(rest)
    price = on_step(book.best_ask * 6, Decimal("0.01"))
    reply = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE")


# filters.md MARKET_LOT_SIZE: for MARKET orders "quantity <= maxQty" (alpha: 100,
# below LOT_SIZE's 9000); errors.md "Filter failure: MARKET_LOT_SIZE".
async def test_market_quantity_above_market_lot_size(rest: BinanceRest) -> None:
    market_lot = filters_of(await symbol_info(rest))["MARKET_LOT_SIZE"]
    quantity = Decimal(market_lot["maxQty"]) + 1
    reply = await rest.new_order(side="SELL", type="MARKET", quantity=str(quantity))
    assert_error(reply, -1013, "Filter failure: MARKET_LOT_SIZE")


# errors.md -1111 BAD_PRECISION "Parameter '%s' has too much precision." for more
# decimals than the asset precision (exchangeInfo quoteAssetPrecision /
# baseAssetPrecision: 8).
@pytest.mark.parametrize(
    ("field", "value"),
    [("price", "59000.000000001"), ("quantity", "0.100000001")],
)
async def test_too_much_precision(rest: BinanceRest, field: str, value: str) -> None:
    params = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    params |= {"quantity": "0.001", "price": str(await limit_buy_below_market(rest))}
    params[field] = value
    reply = await rest.new_order(**params)
    assert_error(reply, -1111, f"Parameter '{field}' has too much precision.")


# rest-api.md "New order": LIMIT needs timeInForce, quantity and price; errors.md
# -1102 "Mandatory parameter '%s' was not sent, was empty/null, or malformed.".
@pytest.mark.parametrize("missing", ["price", "quantity", "timeInForce"])
async def test_limit_order_missing_mandatory_parameter(rest: BinanceRest, missing: str) -> None:
    params = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    params["price"] = str(await limit_buy_below_market(rest))
    del params[missing]
    reply = await rest.new_order(**params)
    assert_error(reply, -1102, MANDATORY.format(missing))


# rest-api.md "New order": symbol, side and type are mandatory for every order.
@pytest.mark.parametrize("missing", ["side", "type"])
async def test_order_missing_side_or_type(rest: BinanceRest, missing: str) -> None:
    params = {"side": "SELL", "type": "MARKET", "quantity": "0.001"}
    del params[missing]
    reply = await rest.new_order(**params)
    assert_error(reply, -1102, MANDATORY.format(missing))


# errors.md -1117 INVALID_SIDE "Invalid side.", -1116 INVALID_ORDER_TYPE "Invalid
# orderType.", -1115 INVALID_TIF "Invalid timeInForce." (values outside the ENUM
# definitions).
@pytest.mark.parametrize(
    ("field", "value", "code", "msg"),
    [
        ("side", "SIDEWAYS", -1117, "Invalid side."),
        ("type", "SOMETIMES", -1116, "Invalid orderType."),
        ("timeInForce", "FOREVER", -1115, "Invalid timeInForce."),
    ],
)
async def test_invalid_enum_values(
    rest: BinanceRest, field: str, value: str, code: int, msg: str
) -> None:
    params = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    params["price"] = str(await limit_buy_below_market(rest))
    params[field] = value
    reply = await rest.new_order(**params)
    assert_error(reply, code, msg)


# errors.md -2010 NEW_ORDER_REJECTED with "Account has insufficient balance for
# requested action." ("Not enough funds to complete the action."): alpha holds 5 BTC.
async def test_selling_more_than_free_balance(rest: BinanceRest) -> None:
    book = await read_book(rest)
    reply = await rest.new_order(
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="6",
        price=str(book.best_ask + 100),
    )
    assert_error(reply, -2010, "Account has insufficient balance for requested action.")


# Same rule for the quote asset: buying more than 200000 USDT can pay for.
async def test_buying_more_than_free_quote_balance(rest: BinanceRest) -> None:
    price = await limit_buy_below_market(rest)
    reply = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="4", price=str(price)
    )
    assert_error(reply, -2010, "Account has insufficient balance for requested action.")


# Locked funds are not free: with 4.5 BTC locked by a resting SELL, selling 1 more
# BTC than the remaining free 0.5 is refused.
async def test_locked_balance_is_not_available(rest: BinanceRest) -> None:
    book = await read_book(rest)
    await rest.new_order(
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="4.5",
        price=str(book.best_ask + 100),
    )
    reply = await rest.new_order(side="SELL", type="MARKET", quantity="1")
    assert_error(reply, -2010, "Account has insufficient balance for requested action.")


# errors.md -1121 BAD_SYMBOL "Invalid symbol.".
async def test_unknown_symbol(rest: BinanceRest) -> None:
    reply = await rest.signed(
        "POST",
        "/api/v3/order",
        {"symbol": "NOPEUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.001"},
    )
    assert_error(reply, -1121, "Invalid symbol.")


# Filters are per venue: bravo's PRICE_FILTER tickSize is 0.1 (exchangeInfo), so a
# price that is fine on alpha's 0.01 tick fails there.
async def test_filters_follow_each_venues_exchange_info(
    rest: BinanceRest, bravo_rest: BinanceRest
) -> None:
    tick = Decimal(filters_of(await symbol_info(bravo_rest))["PRICE_FILTER"]["tickSize"])
    assert tick == Decimal("0.1")
    price = on_step((await read_book(bravo_rest)).best_bid - 100, tick) + Decimal("0.05")
    reply = await bravo_rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(price)
    )
    assert_error(reply, -1013, "Filter failure: PRICE_FILTER")
    accepted = await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(price)
    )
    assert accepted.json()["status"] == "NEW"
