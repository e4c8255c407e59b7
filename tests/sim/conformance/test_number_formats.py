"""Numbers are strings in the documented format.

Every decimal in Binance's documented payloads is a plain decimal string:
binance-spot-api-docs ``rest-api.md`` "Account information" shows
``"locked": "0.00000000"``, "New order" Response RESULT ``"price": "0.00000000"``,
"Query order" ``"executedQty": "0.0"``; the USD-M "Account Information V3" shows
``"totalInitialMargin": "0.00000000"``, "Account Trade List" ``"realizedPnl":
"-0.91539999"``, "Position Information V3" ``"positionAmt": "-1.000"``. None uses an
exponent, so zero must not be sent as ``"0E-8"``.
"""

from __future__ import annotations

from decimal import Decimal

from .helpers import BinanceRest, assert_decimal_fields, read_book


# rest-api.md "Account information": balances and commissionRates.
async def test_spot_account_numbers(rest: BinanceRest) -> None:
    account = (await rest.signed("GET", "/api/v3/account")).json()
    for row in account["balances"]:
        assert_decimal_fields(row, ["free", "locked"])
    assert_decimal_fields(account["commissionRates"], ["maker", "taker", "buyer", "seller"])


# rest-api.md "Query order" of a resting order: nothing executed yet, zeros included.
async def test_spot_query_order_numbers(rest: BinanceRest) -> None:
    book = await read_book(rest)
    placed = (
        await rest.new_order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price=str(book.best_bid - Decimal(50)),
        )
    ).json()
    order = (await rest.query_order(orderId=placed["orderId"])).json()
    assert_decimal_fields(
        order, ["price", "origQty", "executedQty", "cummulativeQuoteQty", "origQuoteOrderQty"]
    )


# rest-api.md "New order" Response RESULT of a MARKET order ("price": "0.00000000").
async def test_spot_market_order_result_numbers(rest: BinanceRest) -> None:
    order = (
        await rest.new_order(
            side="SELL", type="MARKET", quantity="0.001", newOrderRespType="RESULT"
        )
    ).json()
    assert_decimal_fields(order, ["price", "origQty", "executedQty", "cummulativeQuoteQty"])


# rest-api.md Response FULL fills and "Account trade list" rows.
async def test_spot_fill_and_trade_numbers(rest: BinanceRest) -> None:
    order = (await rest.new_order(side="SELL", type="MARKET", quantity="0.01")).json()
    for fill in order["fills"]:
        assert_decimal_fields(fill, ["price", "qty", "commission"])
    rows = (
        await rest.signed(
            "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": order["orderId"]}
        )
    ).rows()
    for row in rows:
        assert_decimal_fields(row, ["price", "qty", "quoteQty", "commission"])


# USD-M "Account Information V3" on a fresh account (all margins zero).
async def test_futures_account_numbers(rest: BinanceRest) -> None:
    account = (await rest.signed("GET", "/fapi/v3/account")).json()
    assert_decimal_fields(
        account,
        [
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
        ],
    )
    for row in account["assets"]:
        assert_decimal_fields(
            row,
            [
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
            ],
        )


# USD-M "New Order" RESULT, "Position Information V3" and "Account Trade List" after
# opening a short.
async def test_futures_order_position_and_trade_numbers(rest: BinanceRest) -> None:
    order = (
        await rest.new_order(
            "/fapi/v1/order",
            side="SELL",
            type="MARKET",
            quantity="0.010",
            newOrderRespType="RESULT",
        )
    ).json()
    assert_decimal_fields(
        order, ["price", "avgPrice", "origQty", "executedQty", "cumQty", "cumQuote", "stopPrice"]
    )
    positions = (await rest.signed("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"})).rows()
    assert positions
    for row in positions:
        assert_decimal_fields(
            row,
            [
                "positionAmt",
                "entryPrice",
                "breakEvenPrice",
                "markPrice",
                "unRealizedProfit",
                "liquidationPrice",
                "isolatedMargin",
                "notional",
                "isolatedWallet",
                "initialMargin",
                "maintMargin",
                "positionInitialMargin",
                "openOrderInitialMargin",
            ],
        )
    trades = (
        await rest.signed(
            "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "orderId": order["orderId"]}
        )
    ).rows()
    assert trades
    for row in trades:
        assert_decimal_fields(row, ["price", "qty", "quoteQty", "commission", "realizedPnl"])
