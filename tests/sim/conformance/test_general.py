"""General and market-data endpoints, checked against Binance's published documentation.

Spot: binance/binance-spot-api-docs ``rest-api.md`` (General endpoints, Market Data
endpoints) and ``filters.md``. USD-M futures: developers.binance.com
derivatives/usds-margined-futures "Common Definition" (ENUM definitions, Filters).
"""

from __future__ import annotations

from decimal import Decimal

from .helpers import (
    BinanceRest,
    assert_decimal_fields,
    assert_error,
    assert_keys,
    filters_of,
    now_ms,
    symbol_info,
)


# rest-api.md "General endpoints" > "Test connectivity": GET /api/v3/ping answers {}.
async def test_ping_answers_empty_object(rest: BinanceRest) -> None:
    reply = await rest.public("/api/v3/ping")
    assert reply.status == 200
    assert reply.body == {}


# rest-api.md "General endpoints" > "Check server time": {"serverTime": <ms>}.
async def test_server_time_is_current_epoch_ms(rest: BinanceRest) -> None:
    before = now_ms()
    body = (await rest.public("/api/v3/time")).json()
    after = now_ms()
    assert set(body) == {"serverTime"}
    assert isinstance(body["serverTime"], int)
    assert before - 1000 <= body["serverTime"] <= after + 1000


# rest-api.md "Exchange information": symbol fields and "ENUM definitions" values.
async def test_spot_exchange_info_symbol_fields(rest: BinanceRest) -> None:
    info = (await rest.public("/api/v3/exchangeInfo")).json()
    assert_keys(info, ["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"])
    assert info["timezone"] == "UTC"
    symbol = await symbol_info(rest)
    assert_keys(
        symbol,
        [
            "symbol",
            "status",
            "baseAsset",
            "baseAssetPrecision",
            "quoteAsset",
            "quoteAssetPrecision",
            "orderTypes",
            "icebergAllowed",
            "ocoAllowed",
            "isSpotTradingAllowed",
            "isMarginTradingAllowed",
            "filters",
        ],
    )
    assert (symbol["baseAsset"], symbol["quoteAsset"]) == ("BTC", "USDT")
    assert symbol["status"] in {"TRADING", "END_OF_DAY", "HALT", "BREAK"}
    documented_types = {
        "LIMIT",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
        "LIMIT_MAKER",
    }
    assert {"LIMIT", "MARKET"} <= set(symbol["orderTypes"]) <= documented_types


# filters.md "Symbol filters": each filter carries exactly the documented field names,
# and the values are the venue's configured rules (alpha: tick 0.01, step 0.00001,
# min notional 5).
async def test_spot_exchange_info_filters_use_documented_fields(rest: BinanceRest) -> None:
    filters = filters_of(await symbol_info(rest))
    documented = {
        "PRICE_FILTER": {"minPrice", "maxPrice", "tickSize"},
        "LOT_SIZE": {"minQty", "maxQty", "stepSize"},
        "MARKET_LOT_SIZE": {"minQty", "maxQty", "stepSize"},
        "NOTIONAL": {
            "minNotional",
            "applyMinToMarket",
            "maxNotional",
            "applyMaxToMarket",
            "avgPriceMins",
        },
        "PERCENT_PRICE_BY_SIDE": {
            "bidMultiplierUp",
            "bidMultiplierDown",
            "askMultiplierUp",
            "askMultiplierDown",
            "avgPriceMins",
        },
    }
    for name, fields in documented.items():
        assert name in filters, f"{name} missing from {sorted(filters)}"
        assert set(filters[name]) == {"filterType", *fields}, name
    assert_decimal_fields(filters["PRICE_FILTER"], ["minPrice", "maxPrice", "tickSize"])
    assert_decimal_fields(filters["LOT_SIZE"], ["minQty", "maxQty", "stepSize"])
    assert_decimal_fields(filters["NOTIONAL"], ["minNotional", "maxNotional"])
    assert Decimal(filters["PRICE_FILTER"]["tickSize"]) == Decimal("0.01")
    assert Decimal(filters["LOT_SIZE"]["stepSize"]) == Decimal("0.00001")
    assert Decimal(filters["NOTIONAL"]["minNotional"]) == Decimal("5")
    assert isinstance(filters["NOTIONAL"]["applyMinToMarket"], bool)
    assert isinstance(filters["PERCENT_PRICE_BY_SIDE"]["avgPriceMins"], int)


# rest-api.md "Exchange information" notes: an unknown `symbol` -> "the endpoint will
# throw an error saying the symbol is invalid"; errors.md -1121 "Invalid symbol.".
async def test_exchange_info_unknown_symbol_is_invalid(rest: BinanceRest) -> None:
    reply = await rest.public("/api/v3/exchangeInfo", {"symbol": "NOPEUSDT"})
    assert_error(reply, -1121, "Invalid symbol.")


# rest-api.md "Market Data endpoints" > "Order book": lastUpdateId, [price, qty]
# string pairs; "Data is returned in ascending order" does not apply to books, which
# list the best level first (bids descending, asks ascending).
async def test_order_book_shape(rest: BinanceRest) -> None:
    body = (await rest.public("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})).json()
    assert set(body) >= {"lastUpdateId", "bids", "asks"}
    assert isinstance(body["lastUpdateId"], int)
    for side in ("bids", "asks"):
        assert 0 < len(body[side]) <= 5
        for level in body[side]:
            assert len(level) == 2
            assert_decimal_fields({"price": level[0], "qty": level[1]}, ["price", "qty"])
    bid_prices = [Decimal(price) for price, _ in body["bids"]]
    ask_prices = [Decimal(price) for price, _ in body["asks"]]
    assert bid_prices == sorted(bid_prices, reverse=True)
    assert ask_prices == sorted(ask_prices)
    assert bid_prices[0] < ask_prices[0]
    assert Decimal(50000) < bid_prices[0] < Decimal(70000)


# errors.md -1121 BAD_SYMBOL "Invalid symbol." for a market-data call.
async def test_order_book_unknown_symbol(rest: BinanceRest) -> None:
    reply = await rest.public("/api/v3/depth", {"symbol": "NOPEUSDT"})
    assert_error(reply, -1121, "Invalid symbol.")


# rest-api.md "Current average price": {"mins": int, "price": "<decimal>"}.
async def test_average_price_shape(rest: BinanceRest) -> None:
    body = (await rest.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).json()
    assert isinstance(body["mins"], int)
    assert_decimal_fields(body, ["price"])
    assert Decimal(50000) < Decimal(body["price"]) < Decimal(70000)


# USD-M "Common Definition": contractType PERPETUAL, contract status enum, and the
# documented filter formats (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, MAX_NUM_ORDERS,
# PERCENT_PRICE with multiplierDecimal, MIN_NOTIONAL with `notional`).
async def test_futures_exchange_info(rest: BinanceRest) -> None:
    symbol = await symbol_info(rest, "/fapi/v1/exchangeInfo")
    assert symbol["contractType"] == "PERPETUAL"
    assert symbol["status"] == "TRADING"
    assert (symbol["baseAsset"], symbol["quoteAsset"], symbol["marginAsset"]) == (
        "BTC",
        "USDT",
        "USDT",
    )
    assert isinstance(symbol["pricePrecision"], int)
    assert isinstance(symbol["quantityPrecision"], int)
    filters = filters_of(symbol)
    documented = {
        "PRICE_FILTER": {"minPrice", "maxPrice", "tickSize"},
        "LOT_SIZE": {"minQty", "maxQty", "stepSize"},
        "MARKET_LOT_SIZE": {"minQty", "maxQty", "stepSize"},
        "MAX_NUM_ORDERS": {"limit"},
        "PERCENT_PRICE": {"multiplierUp", "multiplierDown", "multiplierDecimal"},
        "MIN_NOTIONAL": {"notional"},
    }
    for name, fields in documented.items():
        assert name in filters, f"{name} missing from {sorted(filters)}"
        assert set(filters[name]) == {"filterType", *fields}, name
    assert Decimal(filters["MIN_NOTIONAL"]["notional"]) == Decimal(100)
    assert Decimal(filters["PERCENT_PRICE"]["multiplierUp"]) > 1
    assert Decimal(filters["PERCENT_PRICE"]["multiplierDown"]) < 1


# USD-M "Check Server Time" / "Test Connectivity" mirror the spot endpoints.
async def test_futures_ping_and_time(rest: BinanceRest) -> None:
    assert (await rest.public("/fapi/v1/ping")).json() == {}
    server_time = (await rest.public("/fapi/v1/time")).json()["serverTime"]
    assert abs(server_time - now_ms()) < 5000
