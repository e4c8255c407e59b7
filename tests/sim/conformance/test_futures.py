"""USD-M futures, from Binance's derivatives documentation (developers.binance.com,
docs/derivatives/usds-margined-futures): "New Order (TRADE)" (POST /fapi/v1/order),
"Position Information V3" (GET /fapi/v3/positionRisk), "Account Information V3"
(GET /fapi/v3/account), "Account Trade List" (GET /fapi/v1/userTrades), "Common
Definition" (enums, filters) and "Error Codes".
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from router.sim.venue import SimVenue

from .helpers import (
    FUTURES_ORDER_STATUSES,
    BinanceRest,
    Book,
    assert_error,
    assert_keys,
    filters_of,
    on_step,
    read_book,
    symbol_info,
)

ORDER = "/fapi/v1/order"
TICK = Decimal("0.1")
LEVERAGE = 10  # alpha's configured futures leverage
WALLET = Decimal(100000)  # alpha's futures wallet

ORDER_FIELDS = {
    "clientOrderId",
    "cumQty",
    "cumQuote",
    "executedQty",
    "orderId",
    "avgPrice",
    "origQty",
    "price",
    "reduceOnly",
    "side",
    "positionSide",
    "status",
    "stopPrice",
    "closePosition",
    "symbol",
    "timeInForce",
    "type",
    "origType",
    "updateTime",
    "workingType",
    "priceProtect",
}
POSITION_FIELDS = {
    "symbol",
    "positionSide",
    "positionAmt",
    "entryPrice",
    "breakEvenPrice",
    "markPrice",
    "unRealizedProfit",
    "liquidationPrice",
    "isolatedMargin",
    "notional",
    "marginAsset",
    "isolatedWallet",
    "initialMargin",
    "maintMargin",
    "positionInitialMargin",
    "openOrderInitialMargin",
    "adl",
    "bidNotional",
    "askNotional",
    "updateTime",
}
USER_TRADE_FIELDS = {
    "buyer",
    "commission",
    "commissionAsset",
    "id",
    "maker",
    "orderId",
    "price",
    "qty",
    "quoteQty",
    "realizedPnl",
    "side",
    "positionSide",
    "symbol",
    "time",
}
ACCOUNT_TOTALS = [
    "totalInitialMargin",
    "totalMaintMargin",
    "totalWalletBalance",
    "totalUnrealizedProfit",
    "totalMarginBalance",
    "totalPositionInitialMargin",
    "totalOpenOrderInitialMargin",
    "totalCrossWalletBalance",
    "totalCrossUnPnl",
    "availableBalance",
    "maxWithdrawAmount",
]
POSITION_DECIMALS = [
    "positionAmt",
    "entryPrice",
    "markPrice",
    "unRealizedProfit",
    "notional",
    "initialMargin",
    "maintMargin",
    "liquidationPrice",
]
ASSET_FIELDS = [
    "walletBalance",
    "unrealizedProfit",
    "marginBalance",
    "maintMargin",
    "initialMargin",
    "positionInitialMargin",
    "openOrderInitialMargin",
    "crossWalletBalance",
    "crossUnPnl",
    "availableBalance",
    "maxWithdrawAmount",
    "updateTime",
]
ACCOUNT_POSITION_FIELDS = [
    "symbol",
    "positionSide",
    "positionAmt",
    "unrealizedProfit",
    "isolatedMargin",
    "notional",
    "isolatedWallet",
    "initialMargin",
    "maintMargin",
    "updateTime",
]
NUMBER = r"[0-9]+(?:\.[0-9]+)?"
REDUCE_ONLY_REJECTED = (-2022, "ReduceOnly Order is rejected.")


async def futures_book(rest: BinanceRest) -> Book:
    return await read_book(rest, "/fapi/v1/depth")


async def market(rest: BinanceRest, side: str, quantity: str, **extra: str) -> dict[str, Any]:
    """A futures MARKET order answered with newOrderRespType RESULT (its final state)."""
    reply = await rest.new_order(
        ORDER, side=side, type="MARKET", quantity=quantity, newOrderRespType="RESULT", **extra
    )
    return reply.json()


async def position(rest: BinanceRest) -> dict[str, Any] | None:
    """The BTCUSDT one-way (BOTH) position row, or None when none is returned."""
    rows = (await rest.signed("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"})).rows()
    rows = [row for row in rows if row["symbol"] == "BTCUSDT"]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


async def user_trades(rest: BinanceRest, order_id: int) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"symbol": "BTCUSDT", "orderId": order_id}
    return (await rest.signed("GET", "/fapi/v1/userTrades", params)).rows()


# "New Order": a MARKET SELL in one-way mode opens a short. With newOrderRespType
# RESULT "MARKET order: the final FILLED result of the order will be return directly".
# "Position Information V3": positionAmt is signed (negative for a short, e.g.
# "-1.000"), entryPrice is the average entry.
async def test_market_sell_opens_short(rest: BinanceRest) -> None:
    order = await market(rest, "SELL", "0.010")
    assert_keys(order, ORDER_FIELDS)
    assert order["status"] == "FILLED"
    assert Decimal(order["executedQty"]) == Decimal("0.01")
    assert order["reduceOnly"] is False
    assert order["positionSide"] == "BOTH"
    avg_price = Decimal(order["avgPrice"])
    assert avg_price > 0
    row = await position(rest)
    assert row is not None
    assert_keys(row, POSITION_FIELDS)
    assert row["positionSide"] == "BOTH"
    assert row["marginAsset"] == "USDT"
    assert Decimal(row["positionAmt"]) == Decimal("-0.01")
    assert abs(Decimal(row["entryPrice"]) - avg_price) <= TICK
    assert Decimal(row["notional"]) < 0


# "New Order": reduceOnly "true" may only reduce; a reduce-only BUY of the short's
# size closes it. "Position Information V3" returns "only symbol that has position or
# open orders", so the row is gone or flat.
async def test_reduce_only_buy_closes_short(rest: BinanceRest) -> None:
    await market(rest, "SELL", "0.010")
    closing = await market(rest, "BUY", "0.010", reduceOnly="true")
    assert closing["status"] == "FILLED"
    assert closing["reduceOnly"] is True
    assert Decimal(closing["executedQty"]) == Decimal("0.01")
    row = await position(rest)
    assert row is None or Decimal(row["positionAmt"]) == 0


# "Error Codes" -2022 REDUCE_ONLY_REJECT "ReduceOnly Order is rejected.": a reduce-only
# SELL with no long position has nothing to reduce.
async def test_reduce_only_sell_without_long_is_rejected(rest: BinanceRest) -> None:
    reply = await rest.new_order(
        ORDER, side="SELL", type="MARKET", quantity="0.010", reduceOnly="true"
    )
    assert_error(reply, *REDUCE_ONLY_REJECTED)
    row = await position(rest)
    assert row is None or Decimal(row["positionAmt"]) == 0


# "New Order" reduceOnly with "Error Codes" -2022: a reduce-only SELL on a short would
# increase the position, so it is rejected and the short is untouched.
async def test_reduce_only_sell_on_a_short_is_rejected(rest: BinanceRest) -> None:
    await market(rest, "SELL", "0.010")
    reply = await rest.new_order(
        ORDER, side="SELL", type="MARKET", quantity="0.010", reduceOnly="true"
    )
    assert_error(reply, *REDUCE_ONLY_REJECTED)
    row = await position(rest)
    assert row is not None
    assert Decimal(row["positionAmt"]) == Decimal("-0.01")


# "Error Codes" -2019 MARGIN_NOT_SUFFICIEN "Margin is insufficient.": a resting BUY
# whose initial margin (notional / leverage 10) exceeds the 100000 USDT wallet, with a
# quantity inside LOT_SIZE (maxQty 1000).
async def test_order_needing_more_margin_than_available(rest: BinanceRest) -> None:
    book = await futures_book(rest)
    price = book.best_bid - 50
    quantity = on_step(WALLET * LEVERAGE * Decimal("1.2") / price, Decimal("0.001"))
    lot = filters_of(await symbol_info(rest, "/fapi/v1/exchangeInfo"))["LOT_SIZE"]
    assert quantity <= Decimal(lot["maxQty"])
    assert quantity * price / LEVERAGE > WALLET
    reply = await rest.new_order(
        ORDER,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity=str(quantity),
        price=str(price),
    )
    assert_error(reply, -2019, "Margin is insufficient.")


# "Error Codes" -4164 MIN_NOTIONAL "Order's notional must be no smaller than %s
# (unless you choose reduce only)"; the threshold is the MIN_NOTIONAL filter's
# `notional` (alpha: 100). 0.001 BTC at ~60000 is ~60 USDT.
async def test_notional_below_min_notional(rest: BinanceRest) -> None:
    book = await futures_book(rest)
    reply = await rest.new_order(
        ORDER,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=str(book.best_bid - 50),
    )
    assert reply.code == -4164, reply.body
    assert 400 <= reply.status < 500
    # The error-code page prints the message without a final period; traders quote
    # the live answer with one ("... (unless you choose reduce only)."), so a single
    # trailing period is tolerated.
    match = re.fullmatch(
        rf"Order's notional must be no smaller than ({NUMBER}) "
        r"\(unless you choose reduce only\)\.?",
        reply.msg or "",
    )
    assert match is not None, reply.msg
    assert Decimal(match.group(1)) == Decimal(100)


# The same for a MARKET order (MIN_NOTIONAL: "Since MARKET orders have no price, the
# mark price is used").
async def test_market_notional_below_min_notional(rest: BinanceRest) -> None:
    reply = await rest.new_order(ORDER, side="SELL", type="MARKET", quantity="0.001")
    assert reply.code == -4164, reply.body


# "(unless you choose reduce only)": a reduce-only order below the minimum notional is
# accepted when it reduces a position.
async def test_reduce_only_is_exempt_from_min_notional(rest: BinanceRest) -> None:
    await market(rest, "SELL", "0.002")
    reduce = await market(rest, "BUY", "0.001", reduceOnly="true")
    assert reduce["status"] == "FILLED"
    row = await position(rest)
    assert row is not None
    assert Decimal(row["positionAmt"]) == Decimal("-0.001")


# "Error Codes" -1111 BAD_PRECISION "Precision is over the maximum defined for this
# asset." for more decimals than exchangeInfo's pricePrecision / quantityPrecision
# (alpha: 1 and 3). With tickSize equal to 10^-pricePrecision, every off-tick price
# has too many decimals, and the live exchange answers -1111 for those
# (Binance-docs/Binance_Futures_python#135: price 0.34999999999999 -> -1111); -4014 is
# for prices within the precision but off a coarser tick, see test_futures_tick_step.py.
@pytest.mark.parametrize(("price_offset", "quantity"), [("0.05", "0.010"), ("0", "0.0105")])
async def test_too_much_precision(rest: BinanceRest, price_offset: str, quantity: str) -> None:
    symbol = await symbol_info(rest, "/fapi/v1/exchangeInfo")
    assert (symbol["pricePrecision"], symbol["quantityPrecision"]) == (1, 3)
    book = await futures_book(rest)
    price = book.best_bid - 50 + Decimal(price_offset)
    reply = await rest.new_order(
        ORDER, side="BUY", type="LIMIT", timeInForce="GTC", quantity=quantity, price=str(price)
    )
    assert_error(reply, -1111, "Precision is over the maximum defined for this asset.")


# "Error Codes" -4005 QTY_GREATER_THAN_MAX_QTY "Quantity greater than max quantity."
# above LOT_SIZE maxQty (LIMIT) or MARKET_LOT_SIZE maxQty (MARKET).
async def test_quantity_above_max_qty(rest: BinanceRest) -> None:
    filters = filters_of(await symbol_info(rest, "/fapi/v1/exchangeInfo"))
    book = await futures_book(rest)
    limit_qty = Decimal(filters["LOT_SIZE"]["maxQty"]) + 1
    limit = await rest.new_order(
        ORDER,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity=str(limit_qty),
        price=str(book.best_bid - 50),
    )
    assert_error(limit, -4005, "Quantity greater than max quantity.")
    market_qty = Decimal(filters["MARKET_LOT_SIZE"]["maxQty"]) + 1
    market_reply = await rest.new_order(ORDER, side="SELL", type="MARKET", quantity=str(market_qty))
    assert_error(market_reply, -4005, "Quantity greater than max quantity.")


def percent_price_message(reply_msg: str | None, documented: str, word: str) -> Decimal | None:
    """The bound quoted by a PERCENT_PRICE rejection, or None for the documented text.

    "Error Codes" gives -4016 "Price is higher than mark price multiplier cap." and
    -4024 "Price is lower than mark price multiplier floor."; the same page words the
    stop-price variants (-4183/-4184) "Limit price can't be higher/lower than %s.",
    which is also what the live exchange sends for -4016 (ccxt/ccxt#7898:
    "Limit price can't be higher than 9953.53"). Both wordings are accepted.
    """
    if reply_msg == documented:
        return None
    match = re.fullmatch(rf"Limit price can't be {word} than ({NUMBER})\.?", reply_msg or "")
    assert match is not None, reply_msg
    return Decimal(match.group(1))


# "Common Definition" PERCENT_PRICE: "BUY: price <= markPrice * multiplierUp"
# (alpha: 1.05); "Error Codes" -4016 PRICE_HIGHTER_THAN_MULTIPLIER_UP.
async def test_buy_above_percent_price_cap(rest: BinanceRest) -> None:
    book = await futures_book(rest)
    price = on_step(book.best_ask * Decimal("1.2"), TICK)
    reply = await rest.new_order(
        ORDER, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(price)
    )
    assert reply.code == -4016, reply.body
    assert 400 <= reply.status < 500
    cap = percent_price_message(
        reply.msg, "Price is higher than mark price multiplier cap.", "higher"
    )
    if cap is not None:
        assert book.best_ask < cap < price


# "SELL: price >= markPrice * multiplierDown" (alpha: 0.95); -4024
# PRICE_LOWER_THAN_MULTIPLIER_DOWN.
async def test_sell_below_percent_price_floor(rest: BinanceRest) -> None:
    book = await futures_book(rest)
    price = on_step(book.best_bid * Decimal("0.8"), TICK)
    reply = await rest.new_order(
        ORDER, side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(price)
    )
    assert reply.code == -4024, reply.body
    assert 400 <= reply.status < 500
    floor = percent_price_message(
        reply.msg, "Price is lower than mark price multiplier floor.", "lower"
    )
    if floor is not None:
        assert price < floor < book.best_bid


# "Account Trade List": rows carry the documented fields; for the opening SELL
# side is SELL, buyer false, positionSide BOTH (one-way), commission in USDT, and the
# quantities sum to the order's executedQty. Cross-checked with the venue's ledger.
async def test_user_trades_rows(rest: BinanceRest, venue: SimVenue) -> None:
    order = await market(rest, "SELL", "0.020")
    rows = await user_trades(rest, order["orderId"])
    assert rows
    for row in rows:
        assert set(row) >= USER_TRADE_FIELDS
        assert (row["symbol"], row["side"], row["positionSide"]) == ("BTCUSDT", "SELL", "BOTH")
        assert row["buyer"] is False
        assert row["commissionAsset"] == "USDT"
        assert Decimal(row["quoteQty"]) == Decimal(row["price"]) * Decimal(row["qty"])
        assert Decimal(row["realizedPnl"]) == 0  # opening trades realise nothing
    assert sum(Decimal(row["qty"]) for row in rows) == Decimal(order["executedQty"])
    ledger = {trade.id: trade for trade in venue.trades if trade.order_id == order["orderId"]}
    assert {row["id"] for row in rows} == set(ledger)
    for row in rows:
        assert Decimal(row["price"]) == ledger[row["id"]].price
        assert Decimal(row["qty"]) == ledger[row["id"]].qty


# "Account Information V3" (single-asset mode): the documented totals, a USDT asset
# row and the open BTCUSDT position; the wallet balance falls by exactly the trading
# commission reported in "Account Trade List".
async def test_account_v3_after_opening_a_short(rest: BinanceRest) -> None:
    order = await market(rest, "SELL", "0.010")
    account = (await rest.signed("GET", "/fapi/v3/account")).json()
    assert_keys(account, [*ACCOUNT_TOTALS, "assets", "positions"])
    usdt = [row for row in account["assets"] if row["asset"] == "USDT"]
    assert len(usdt) == 1
    assert_keys(usdt[0], ASSET_FIELDS)
    commission = sum(
        Decimal(row["commission"]) for row in await user_trades(rest, order["orderId"])
    )
    assert commission > 0
    assert Decimal(account["totalWalletBalance"]) == WALLET - commission
    positions = [row for row in account["positions"] if row["symbol"] == "BTCUSDT"]
    assert len(positions) == 1
    assert_keys(positions[0], ACCOUNT_POSITION_FIELDS)
    assert Decimal(positions[0]["positionAmt"]) == Decimal("-0.01")


# A fresh account: wallet 100000 USDT, nothing used, no positions.
async def test_account_v3_initial_state(rest: BinanceRest) -> None:
    account = (await rest.signed("GET", "/fapi/v3/account")).json()
    assert Decimal(account["totalWalletBalance"]) == WALLET
    assert Decimal(account["availableBalance"]) == WALLET
    assert Decimal(account["totalInitialMargin"]) == 0
    assert [row for row in account["positions"] if Decimal(row["positionAmt"]) != 0] == []


# "New Order" + "Cancel Order" + "Query Order": a LIMIT GTC away from the market is
# NEW, cancels to CANCELED; every status is from the documented enum.
async def test_limit_order_lifecycle_and_statuses(rest: BinanceRest) -> None:
    book = await futures_book(rest)
    placed = (
        await rest.new_order(
            ORDER,
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price=str(book.best_ask + 50),
            newOrderRespType="RESULT",
        )
    ).json()
    assert placed["status"] == "NEW"
    opened = (await rest.signed("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})).rows()
    assert [row["orderId"] for row in opened] == [placed["orderId"]]
    canceled = (await rest.cancel_order(ORDER, orderId=placed["orderId"])).json()
    assert canceled["status"] == "CANCELED"
    queried = (await rest.query_order(ORDER, orderId=placed["orderId"])).json()
    assert queried["status"] == "CANCELED"
    filled = await market(rest, "SELL", "0.002")
    for status in (placed["status"], canceled["status"], queried["status"], filled["status"]):
        assert status in FUTURES_ORDER_STATUSES


# "New Order": newOrderRespType defaults to "ACK"; an ACK still identifies the order
# and "Query Order" gives its final state.
async def test_default_response_is_ack_and_query_shows_fill(rest: BinanceRest) -> None:
    ack = (await rest.new_order(ORDER, side="SELL", type="MARKET", quantity="0.002")).json()
    assert {"orderId", "clientOrderId", "symbol", "status"} <= set(ack)
    queried = (await rest.query_order(ORDER, orderId=ack["orderId"])).json()
    assert queried["status"] == "FILLED"
    assert Decimal(queried["executedQty"]) == Decimal("0.002")


# "Error Codes" -2011 CANCEL_REJECTED ("Unknown order sent.") and -2013 "Order does
# not exist." apply to futures too.
async def test_futures_unknown_order(rest: BinanceRest) -> None:
    assert_error(await rest.query_order(ORDER, orderId=987654321), -2013, "Order does not exist.")
    filled = await market(rest, "SELL", "0.002")
    assert_error(
        await rest.cancel_order(ORDER, orderId=filled["orderId"]), -2011, "Unknown order sent."
    )


# "New Order": MARKET needs `quantity`; "Error Codes" -1102 "Mandatory parameter '%s'
# was not sent, was empty/null, or malformed.".
async def test_market_order_without_quantity(rest: BinanceRest) -> None:
    reply = await rest.new_order(ORDER, side="SELL", type="MARKET")
    assert_error(
        reply, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
    )


# "Error Codes" -1121 BAD_SYMBOL "Invalid symbol.".
async def test_futures_unknown_symbol(rest: BinanceRest) -> None:
    reply = await rest.signed(
        "POST",
        ORDER,
        {"symbol": "NOPEUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.010"},
    )
    assert_error(reply, -1121, "Invalid symbol.")


# A realised round trip: "Account Trade List" reports realizedPnl on the closing trade
# and the wallet ("Account Information V3" totalWalletBalance) moves by exactly the
# realised PnL minus all commissions.
async def test_round_trip_realises_pnl_into_wallet(rest: BinanceRest) -> None:
    opening = await market(rest, "SELL", "0.010")
    closing = await market(rest, "BUY", "0.010", reduceOnly="true")
    rows = await user_trades(rest, opening["orderId"]) + await user_trades(rest, closing["orderId"])
    realised = sum(Decimal(row["realizedPnl"]) for row in rows)
    commission = sum(Decimal(row["commission"]) for row in rows)
    expected_pnl = (Decimal(opening["avgPrice"]) - Decimal(closing["avgPrice"])) * Decimal("0.01")
    assert abs(realised - expected_pnl) <= Decimal("0.00000001")
    account = (await rest.signed("GET", "/fapi/v3/account")).json()
    assert Decimal(account["totalWalletBalance"]) == WALLET + realised - commission
