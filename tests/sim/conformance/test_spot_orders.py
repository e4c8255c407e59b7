"""Spot order lifecycle, from binance-spot-api-docs ``rest-api.md`` "Account endpoints"
(New order, Query order, Cancel order, Current open orders, Account information,
Account trade list) and "ENUM definitions" (order status, time in force).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.sim.venue import SimVenue

from .helpers import (
    SPOT_ORDER_STATUSES,
    BinanceRest,
    assert_error,
    assert_keys,
    read_book,
)

TAKER_FEE = Decimal("0.001")  # alpha's configured spot taker fee
EIGHT_PLACES = Decimal("0.00000001")

ACK_FIELDS = {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
RESULT_FIELDS = ACK_FIELDS | {
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "workingTime",
    "selfTradePreventionMode",
}
FILL_FIELDS = {"price", "qty", "commission", "commissionAsset", "tradeId"}
QUERY_FIELDS = {
    "symbol",
    "orderId",
    "orderListId",
    "clientOrderId",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "time",
    "updateTime",
    "isWorking",
    "workingTime",
    "origQuoteOrderQty",
    "selfTradePreventionMode",
}
TRADE_FIELDS = {
    "symbol",
    "id",
    "orderId",
    "orderListId",
    "price",
    "qty",
    "quoteQty",
    "commission",
    "commissionAsset",
    "time",
    "isBuyer",
    "isMaker",
    "isBestMatch",
}


async def my_trades(rest: BinanceRest, order_id: int) -> list[dict[str, Any]]:
    reply = await rest.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": order_id})
    return reply.rows()


async def open_orders(rest: BinanceRest) -> list[dict[str, Any]]:
    return (await rest.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})).rows()


# rest-api.md "New order": a LIMIT GTC order away from the market is accepted as NEW
# ("The order has been accepted by the engine."), listed by "Current open orders",
# and "Cancel order" answers it CANCELED; "Query order" then reports CANCELED.
async def test_limit_gtc_rests_then_cancels(rest: BinanceRest) -> None:
    book = await read_book(rest)
    price = book.best_bid - Decimal(100)
    placed = (
        await rest.new_order(
            side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.00100", price=str(price)
        )
    ).json()
    assert placed["status"] == "NEW"
    assert Decimal(placed["executedQty"]) == 0
    assert placed["orderListId"] == -1
    listed = await open_orders(rest)
    assert [row["orderId"] for row in listed] == [placed["orderId"]]
    assert_keys(listed[0], QUERY_FIELDS)
    assert listed[0]["status"] == "NEW"
    assert listed[0]["isWorking"] is True

    canceled = (await rest.cancel_order(orderId=placed["orderId"])).json()
    assert canceled["status"] == "CANCELED"
    assert canceled["orderId"] == placed["orderId"]
    assert canceled["origClientOrderId"] == placed["clientOrderId"]
    assert_keys(
        canceled,
        {"symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "price"}
        | {"origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type"}
        | {"side", "selfTradePreventionMode"},
    )
    assert await open_orders(rest) == []
    queried = (await rest.query_order(orderId=placed["orderId"])).json()
    assert queried["status"] == "CANCELED"
    assert_keys(queried, QUERY_FIELDS)


# rest-api.md "Query order" response: the documented field set and values.
async def test_query_order_fields_and_formats(rest: BinanceRest) -> None:
    book = await read_book(rest)
    price = book.best_bid - Decimal(50)
    placed = (
        await rest.new_order(
            side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price=str(price)
        )
    ).json()
    order = (await rest.query_order(orderId=placed["orderId"])).json()
    assert_keys(order, QUERY_FIELDS)
    assert order["symbol"] == "BTCUSDT"
    assert (order["side"], order["type"], order["timeInForce"]) == ("BUY", "LIMIT", "GTC")
    assert order["status"] in SPOT_ORDER_STATUSES
    assert Decimal(order["price"]) == price
    assert Decimal(order["origQty"]) == Decimal("0.002")
    assert isinstance(order["time"], int)
    assert isinstance(order["updateTime"], int)


# ENUM definitions, EXPIRED: "LIMIT IOC or MARKET orders that partially fill" expire.
# A SELL IOC at the best bid for more than the bid side holds at or above that price
# trades what is there and expires the rest; its executedQty equals the sum of its
# rows in "Account trade list".
async def test_limit_ioc_partial_fill_expires(rest: BinanceRest) -> None:
    book = await read_book(rest)
    limit = book.best_bid
    available = book.bid_qty_at_or_above(limit)
    quantity = available + Decimal("0.5")
    balances = await rest.spot_balances()
    assert quantity <= balances["BTC"][0], "test setup: the account must hold the quantity"
    order = (
        await rest.new_order(
            side="SELL", type="LIMIT", timeInForce="IOC", quantity=str(quantity), price=str(limit)
        )
    ).json()
    assert order["status"] == "EXPIRED"
    executed = Decimal(order["executedQty"])
    assert 0 < executed < quantity
    assert executed <= available
    trades = await my_trades(rest, order["orderId"])
    assert trades, "a partial fill leaves trades"
    assert sum(Decimal(row["qty"]) for row in trades) == executed
    assert all(Decimal(row["price"]) >= limit for row in trades)
    assert all(row["isBuyer"] is False and row["orderId"] == order["orderId"] for row in trades)
    queried = (await rest.query_order(orderId=order["orderId"])).json()
    assert queried["status"] == "EXPIRED"
    assert Decimal(queried["executedQty"]) == executed


# ENUM definitions: FOK "will expire if the full order cannot be filled upon
# execution"; EXPIRED covers "LIMIT FOK orders with no fill". Nothing trades and no
# balance moves.
async def test_fok_that_cannot_fill_expires_without_trading(rest: BinanceRest) -> None:
    book = await read_book(rest)
    limit = book.best_bid
    quantity = book.bid_qty_at_or_above(limit) + Decimal("0.5")
    before = await rest.spot_balances()
    order = (
        await rest.new_order(
            side="SELL", type="LIMIT", timeInForce="FOK", quantity=str(quantity), price=str(limit)
        )
    ).json()
    assert order["status"] == "EXPIRED"
    assert Decimal(order["executedQty"]) == 0
    assert Decimal(order["cummulativeQuoteQty"]) == 0
    assert order.get("fills", []) == []
    assert await my_trades(rest, order["orderId"]) == []
    assert await rest.spot_balances() == before


# rest-api.md "New order", Response FULL: a MARKET SELL fills; each fill carries price,
# qty, commission, commissionAsset and tradeId; cummulativeQuoteQty is the quote
# quantity traded (sum of price * qty); the taker commission of a SELL is charged in
# the quote asset: price * qty * taker rate (commissionRates.taker of "Account
# information").
async def test_market_sell_fills_and_charges_taker_commission(
    rest: BinanceRest, venue: SimVenue
) -> None:
    account = (await rest.signed("GET", "/api/v3/account")).json()
    assert Decimal(account["commissionRates"]["taker"]) == TAKER_FEE
    order = (await rest.new_order(side="SELL", type="MARKET", quantity="0.01000")).json()
    assert_keys(order, RESULT_FIELDS | {"fills"})
    assert order["status"] == "FILLED"
    assert Decimal(order["executedQty"]) == Decimal("0.01")
    fills = order["fills"]
    assert fills
    for fill in fills:
        assert set(fill) >= FILL_FIELDS
        assert fill["commissionAsset"] == "USDT"
        expected = Decimal(fill["price"]) * Decimal(fill["qty"]) * TAKER_FEE
        assert abs(Decimal(fill["commission"]) - expected) <= EIGHT_PLACES
    quote = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in fills)
    assert Decimal(order["cummulativeQuoteQty"]) == quote
    assert sum(Decimal(f["qty"]) for f in fills) == Decimal("0.01")
    # The fills are the venue's own ledger of the order's trades.
    ledger = {trade.id: trade for trade in venue.trades if trade.order_id == order["orderId"]}
    assert {fill["tradeId"] for fill in fills} == set(ledger)


# rest-api.md "Account information": balances move by exactly the fills. A MARKET SELL
# of q BTC takes q from BTC free and adds (sum price*qty - commission) to USDT free.
async def test_balances_move_by_exactly_the_fills(rest: BinanceRest) -> None:
    before = await rest.spot_balances()
    order = (await rest.new_order(side="SELL", type="MARKET", quantity="0.25")).json()
    assert order["status"] == "FILLED"
    after = await rest.spot_balances()
    executed = Decimal(order["executedQty"])
    quote = Decimal(order["cummulativeQuoteQty"])
    commission = sum(Decimal(fill["commission"]) for fill in order["fills"])
    assert after["BTC"] == (before["BTC"][0] - executed, before["BTC"][1])
    assert after["USDT"] == (before["USDT"][0] + quote - commission, before["USDT"][1])


# The same accounting must hold for what "Account trade list" reports: its rows for the
# order sum to executedQty and cummulativeQuoteQty, rows are "ascending ... oldest
# first", and each row carries the documented fields.
async def test_my_trades_rows_match_the_order(rest: BinanceRest) -> None:
    order = (await rest.new_order(side="SELL", type="MARKET", quantity="0.3")).json()
    rows = await my_trades(rest, order["orderId"])
    assert rows
    for row in rows:
        assert set(row) >= TRADE_FIELDS
        assert Decimal(row["quoteQty"]) == Decimal(row["price"]) * Decimal(row["qty"])
        assert (row["symbol"], row["isBuyer"], row["isMaker"]) == ("BTCUSDT", False, False)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert sum(Decimal(r["qty"]) for r in rows) == Decimal(order["executedQty"])
    assert sum(Decimal(r["quoteQty"]) for r in rows) == Decimal(order["cummulativeQuoteQty"])
    fill_commission = sum(Decimal(f["commission"]) for f in order["fills"])
    assert sum(Decimal(r["commission"]) for r in rows) == fill_commission


# rest-api.md "Account information": a resting GTC SELL moves its quantity from BTC
# `free` to `locked`; canceling it moves it back.
async def test_gtc_sell_locks_base_asset(rest: BinanceRest) -> None:
    book = await read_book(rest)
    before = await rest.spot_balances()
    order = (
        await rest.new_order(
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.5",
            price=str(book.best_ask + 100),
        )
    ).json()
    assert order["status"] == "NEW"
    locked = await rest.spot_balances()
    assert locked["BTC"] == (before["BTC"][0] - Decimal("0.5"), before["BTC"][1] + Decimal("0.5"))
    assert locked["USDT"] == before["USDT"]
    await rest.cancel_order(orderId=order["orderId"])
    assert await rest.spot_balances() == before


# Same for a GTC BUY: price * quantity of the quote asset is locked.
async def test_gtc_buy_locks_quote_asset(rest: BinanceRest) -> None:
    book = await read_book(rest)
    price = book.best_bid - Decimal(100)
    before = await rest.spot_balances()
    await rest.new_order(
        side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price=str(price)
    )
    after = await rest.spot_balances()
    cost = price * Decimal("0.1")
    assert after["USDT"] == (before["USDT"][0] - cost, before["USDT"][1] + cost)


# rest-api.md "New order": newOrderRespType ACK answers only symbol, orderId,
# orderListId, clientOrderId and transactTime.
async def test_new_order_resp_type_ack(rest: BinanceRest) -> None:
    order = (
        await rest.new_order(side="SELL", type="MARKET", quantity="0.001", newOrderRespType="ACK")
    ).json()
    assert set(order) == ACK_FIELDS
    assert isinstance(order["transactTime"], int)


# Response RESULT: the order's state without fills.
async def test_new_order_resp_type_result(rest: BinanceRest) -> None:
    order = (
        await rest.new_order(
            side="SELL", type="MARKET", quantity="0.001", newOrderRespType="RESULT"
        )
    ).json()
    assert_keys(order, RESULT_FIELDS)
    assert "fills" not in order
    assert order["status"] == "FILLED"


# Response FULL: RESULT plus fills; "MARKET and LIMIT order types default to FULL".
async def test_new_order_resp_type_full_is_the_default(rest: BinanceRest) -> None:
    explicit = (
        await rest.new_order(side="SELL", type="MARKET", quantity="0.001", newOrderRespType="FULL")
    ).json()
    default = (await rest.new_order(side="SELL", type="MARKET", quantity="0.001")).json()
    for order in (explicit, default):
        assert_keys(order, RESULT_FIELDS | {"fills"})
        assert order["fills"]
        assert all(set(fill) >= FILL_FIELDS for fill in order["fills"])


# ENUM definitions "Order status": every status the venue reports is a documented one,
# across resting, filled, expired and canceled orders ("All orders").
async def test_statuses_are_documented(rest: BinanceRest) -> None:
    book = await read_book(rest)
    await rest.new_order(side="SELL", type="MARKET", quantity="0.001")
    resting = (
        await rest.new_order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=str(book.best_bid - 100),
        )
    ).json()
    await rest.new_order(
        side="SELL",
        type="LIMIT",
        timeInForce="FOK",
        quantity="4.9",
        price=str(book.best_ask + 100),
    )
    await rest.cancel_order(orderId=resting["orderId"])
    orders = (await rest.signed("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"})).rows()
    statuses = {order["status"] for order in orders}
    assert statuses <= SPOT_ORDER_STATUSES
    assert statuses == {"FILLED", "CANCELED", "EXPIRED"}


# rest-api.md "New order", MARKET with quoteOrderQty: "the correct quantity will be
# determined based on the market liquidity and quoteOrderQty" and "will not break
# LOT_SIZE filter rules; the order will execute a quantity that will have the notional
# value as close as possible to quoteOrderQty".
async def test_market_buy_by_quote_order_qty(rest: BinanceRest) -> None:
    book = await read_book(rest)
    order = (await rest.new_order(side="BUY", type="MARKET", quoteOrderQty="1000")).json()
    assert order["status"] == "FILLED"
    executed = Decimal(order["executedQty"])
    spent = Decimal(order["cummulativeQuoteQty"])
    assert executed % Decimal("0.00001") == 0
    assert spent <= Decimal(1000)
    # One more LOT_SIZE step would have cost more than what is left of the 1000 USDT.
    assert Decimal(1000) - spent < Decimal("0.00001") * book.asks[-1][0]
    assert Decimal(order["origQuoteOrderQty"]) == Decimal(1000)


# A LIMIT order that crosses the book trades at once as a taker, at the resting
# orders' prices (never worse than its limit); FILLED "The order has been completed".
async def test_crossing_limit_buy_fills_at_book_prices(rest: BinanceRest) -> None:
    book = await read_book(rest)
    limit = book.best_ask + 50
    order = (
        await rest.new_order(
            side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(limit)
        )
    ).json()
    assert order["status"] == "FILLED"
    assert [Decimal(fill["price"]) for fill in order["fills"]] == [book.best_ask]
    assert Decimal(order["price"]) == limit
    assert await open_orders(rest) == []


# ENUM "PARTIALLY_FILLED: A part of the order has been filled." A GTC SELL at the best
# bid for more than that level holds trades the level and rests the remainder, which
# stays listed, keeps its BTC locked, and cancels as CANCELED with its fills kept.
async def test_gtc_partial_fill_rests_remainder(rest: BinanceRest) -> None:
    book = await read_book(rest)
    limit = book.best_bid
    available = book.bid_qty_at_or_above(limit)
    quantity = available + Decimal("0.5")
    before = await rest.spot_balances()
    assert quantity <= before["BTC"][0], "test setup: the account must hold the quantity"
    order = (
        await rest.new_order(
            side="SELL", type="LIMIT", timeInForce="GTC", quantity=str(quantity), price=str(limit)
        )
    ).json()
    assert order["status"] == "PARTIALLY_FILLED"
    executed = Decimal(order["executedQty"])
    assert 0 < executed < quantity
    listed = await open_orders(rest)
    assert [(row["orderId"], row["status"]) for row in listed] == [
        (order["orderId"], "PARTIALLY_FILLED")
    ]
    remainder = quantity - executed
    assert (await rest.spot_balances())["BTC"][1] == before["BTC"][1] + remainder
    canceled = (await rest.cancel_order(orderId=order["orderId"])).json()
    assert canceled["status"] == "CANCELED"
    assert Decimal(canceled["executedQty"]) == executed
    assert (await rest.spot_balances())["BTC"] == (before["BTC"][0] - executed, before["BTC"][1])


# rest-api.md "Cancel All Open Orders on a Symbol": DELETE /api/v3/openOrders answers
# every canceled order (status CANCELED) and leaves none open.
async def test_cancel_all_open_orders(rest: BinanceRest) -> None:
    book = await read_book(rest)
    ids = set()
    for offset in (100, 200):
        placed = await rest.new_order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=str(book.best_bid - offset),
        )
        ids.add(placed.json()["orderId"])
    canceled = (await rest.signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"})).rows()
    assert {row["orderId"] for row in canceled} == ids
    assert {row["status"] for row in canceled} == {"CANCELED"}
    assert await open_orders(rest) == []


# errors.md -2010 message "Order would immediately match and take." for a LIMIT_MAKER
# ("rejected if the order immediately matches and trades as a taker"); one that does
# not cross rests, and being neither MARKET nor LIMIT it is answered with an ACK.
async def test_limit_maker_that_would_take_is_rejected(rest: BinanceRest) -> None:
    book = await read_book(rest)
    reply = await rest.new_order(
        side="BUY", type="LIMIT_MAKER", quantity="0.001", price=str(book.best_ask)
    )
    assert_error(reply, -2010, "Order would immediately match and take.")
    resting = await rest.new_order(
        side="BUY", type="LIMIT_MAKER", quantity="0.001", price=str(book.best_bid - 100)
    )
    # "MARKET and LIMIT order types default to FULL, all other orders default to ACK."
    ack = resting.json()
    assert set(ack) == ACK_FIELDS
    assert (await rest.query_order(orderId=ack["orderId"])).json()["status"] == "NEW"
