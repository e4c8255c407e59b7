"""USD-M futures REST endpoints (``/fapi/v1``, ``/fapi/v2``, ``/fapi/v3``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.sim import errors
from router.sim.orders import fmt_places, futures_trade_json
from router.sim.routes import Call, Routes, check_symbols
from router.sim.venue import SimMarket, SimVenue

routes = Routes()
FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
MAINT_MARGIN_RATIO = Decimal("0.004")


def _s(value: Decimal) -> str:
    return fmt_places(value, 8)


def _linear(call: Call) -> SimMarket:
    market = call.venue.markets.get("linear")
    if market is None:
        raise errors.ApiError(-1121, "Invalid symbol.")
    return market


@routes.get("/fapi/v1/ping")
def ping(call: Call) -> Any:
    return {}


@routes.get("/fapi/v1/time")
def server_time(call: Call) -> Any:
    return {"serverTime": call.venue.wall_ms()}


@routes.get("/fapi/v1/exchangeInfo")
def exchange_info(call: Call) -> Any:
    check_symbols(call, "linear")
    venue = call.venue
    market = venue.markets.get("linear")
    return {
        "timezone": "UTC",
        "serverTime": venue.wall_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
        "exchangeFilters": [],
        "assets": [
            {
                "asset": venue.scenario.quote_asset,
                "marginAvailable": True,
                "autoAssetExchange": "-10000",
            }
        ],
        "symbols": [market.rules.exchange_info()] if market is not None else [],
    }


@routes.get("/fapi/v1/depth")
def depth(call: Call) -> Any:
    market = call.venue.market("linear", call.symbol())
    limit = call.int_param("limit") or 500
    if limit not in FUTURES_DEPTH_LIMITS:
        limit = min((x for x in FUTURES_DEPTH_LIMITS if x >= limit), default=1000)
    now = call.venue.wall_ms()
    rules = market.rules
    return {
        "lastUpdateId": market.book.update_id,
        "E": now,
        "T": now,
        "bids": [[rules.fmt_price(p), rules.fmt_qty(q)] for p, q in market.book.bids.levels(limit)],
        "asks": [[rules.fmt_price(p), rules.fmt_qty(q)] for p, q in market.book.asks.levels(limit)],
    }


@routes.get("/fapi/v1/premiumIndex")
def premium_index(call: Call) -> Any:
    market = _linear(call)
    now = call.venue.wall_ms()
    mark = market.rules.fmt_price(market.mid)
    return {
        "symbol": market.rules.symbol,
        "markPrice": mark,
        "indexPrice": mark,
        "estimatedSettlePrice": mark,
        "lastFundingRate": "0.00010000",
        "interestRate": "0.00010000",
        "nextFundingTime": now - now % 28_800_000 + 28_800_000,
        "time": now,
    }


@routes.post("/fapi/v1/order", signed=True, places_order=True)
def new_order(call: Call) -> Any:
    venue = call.venue
    req = venue.parse_order("linear", call.params)
    resp_type = call.params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise errors.ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    order = venue.new_order(
        "linear", req, fill_ratio=call.fill_ratio, force_insufficient=call.force_insufficient
    )
    rules = venue.markets["linear"].rules
    answer = order.futures_json(rules.f.tick_size, rules.f.step_size)
    if resp_type == "ACK":
        answer["status"] = "NEW"
        answer["executedQty"] = answer["cumQty"] = rules.fmt_qty(Decimal(0))
        answer["cumQuote"] = "0.00000"
        answer["avgPrice"] = "0.00"
    return answer


@routes.get("/fapi/v1/order", signed=True)
def query_order(call: Call) -> Any:
    p = call.params
    order = call.venue.find_order(
        "linear", call.symbol(), p.get("orderId"), p.get("origClientOrderId")
    )
    rules = call.venue.markets["linear"].rules
    return order.futures_json(rules.f.tick_size, rules.f.step_size)


@routes.delete("/fapi/v1/order", signed=True)
def cancel_order(call: Call) -> Any:
    p = call.params
    order = call.venue.cancel_order(
        "linear", call.symbol(), p.get("orderId"), p.get("origClientOrderId")
    )
    rules = call.venue.markets["linear"].rules
    return order.futures_json(rules.f.tick_size, rules.f.step_size)


@routes.get("/fapi/v1/openOrders", signed=True)
def open_orders(call: Call) -> Any:
    rules = _linear(call).rules
    return [
        o.futures_json(rules.f.tick_size, rules.f.step_size)
        for o in call.venue.open_orders("linear", call.params.get("symbol"))
    ]


@routes.delete("/fapi/v1/allOpenOrders", signed=True)
def cancel_all(call: Call) -> Any:
    symbol = call.symbol()
    for order in call.venue.open_orders("linear", symbol):
        call.venue.cancel_order("linear", symbol, str(order.id), None)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


@routes.get("/fapi/v1/userTrades", signed=True)
def user_trades(call: Call) -> Any:
    rules = _linear(call).rules
    rows = call.venue.account_trades(
        "linear",
        call.symbol(),
        order_id=call.int_param("orderId"),
        from_id=call.int_param("fromId"),
        start_ms=call.int_param("startTime"),
        end_ms=call.int_param("endTime"),
        limit=min(call.int_param("limit") or 500, 1000),
    )
    return [futures_trade_json(t, rules.f.tick_size, rules.f.step_size) for t in rows]


@routes.get("/fapi/v1/leverageBracket", signed=True)
def leverage_bracket(call: Call) -> Any:
    market = _linear(call)
    return [
        {
            "symbol": market.rules.symbol,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 125,
                    "notionalCap": 300000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.004,
                    "cum": 0.0,
                },
                {
                    "bracket": 2,
                    "initialLeverage": 100,
                    "notionalCap": 800000,
                    "notionalFloor": 300000,
                    "maintMarginRatio": 0.005,
                    "cum": 300.0,
                },
                {
                    "bracket": 3,
                    "initialLeverage": 50,
                    "notionalCap": 3000000,
                    "notionalFloor": 800000,
                    "maintMarginRatio": 0.01,
                    "cum": 4300.0,
                },
            ],
        }
    ]


@routes.post("/fapi/v1/leverage", signed=True)
def set_leverage(call: Call) -> Any:
    market = call.venue.market("linear", call.symbol())
    leverage = call.int_param("leverage")
    if leverage is None:
        raise errors.mandatory("leverage")
    if not 1 <= leverage <= 125:
        raise errors.ApiError(-4028, f"Leverage {leverage} is not valid")
    call.venue.futures.leverage = leverage
    return {"leverage": leverage, "maxNotionalValue": "300000", "symbol": market.rules.symbol}


def _position_row(venue: SimVenue, market: SimMarket) -> dict[str, Any]:
    account = venue.futures
    mark = market.mid
    notional = account.position * mark
    initial = account.position_margin(mark)
    open_margin = sum(
        (
            o.remaining * o.price / account.leverage
            for o in venue.open_orders("linear", None)
            if not o.reduce_only
        ),
        Decimal(0),
    )
    return {
        "symbol": market.rules.symbol,
        "positionSide": "BOTH",
        "positionAmt": market.rules.fmt_qty(account.position),
        "entryPrice": _s(account.entry_price),
        "breakEvenPrice": _s(account.entry_price),
        "markPrice": _s(mark),
        "unRealizedProfit": _s(account.unrealized(mark)),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": _s(notional),
        "marginAsset": venue.scenario.quote_asset,
        "isolatedWallet": "0",
        "initialMargin": _s(initial + open_margin),
        "maintMargin": _s(abs(notional) * MAINT_MARGIN_RATIO),
        "positionInitialMargin": _s(initial),
        "openOrderInitialMargin": _s(open_margin),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": account.update_ms,
        "leverage": str(account.leverage),
        "marginType": "cross",
    }


def _positions(call: Call) -> list[dict[str, Any]]:
    market = _linear(call)
    symbol = call.params.get("symbol")
    if symbol is not None:
        call.venue.market("linear", symbol)
    row = _position_row(call.venue, market)
    if call.venue.futures.position == 0 and not call.venue.open_orders("linear", None):
        return []
    return [row]


@routes.get("/fapi/v3/positionRisk", signed=True)
def position_risk_v3(call: Call) -> Any:
    return _positions(call)


@routes.get("/fapi/v2/positionRisk", signed=True)
def position_risk_v2(call: Call) -> Any:
    market = _linear(call)
    return [_position_row(call.venue, market)]


def _account(call: Call) -> dict[str, Any]:
    venue = call.venue
    market = _linear(call)
    account = venue.futures
    mark = market.mid
    row = _position_row(venue, market)
    unrealized = account.unrealized(mark)
    position_margin = account.position_margin(mark)
    open_margin = Decimal(row["openOrderInitialMargin"])
    available = account.available(mark, open_margin)
    quote = venue.scenario.quote_asset
    asset = {
        "asset": quote,
        "walletBalance": _s(account.wallet),
        "unrealizedProfit": _s(unrealized),
        "marginBalance": _s(account.wallet + unrealized),
        "maintMargin": row["maintMargin"],
        "initialMargin": _s(position_margin + open_margin),
        "positionInitialMargin": _s(position_margin),
        "openOrderInitialMargin": _s(open_margin),
        "crossWalletBalance": _s(account.wallet),
        "crossUnPnl": _s(unrealized),
        "availableBalance": _s(available),
        "maxWithdrawAmount": _s(max(available, Decimal(0))),
        "updateTime": account.update_ms,
    }
    return {
        "totalInitialMargin": asset["initialMargin"],
        "totalMaintMargin": asset["maintMargin"],
        "totalWalletBalance": asset["walletBalance"],
        "totalUnrealizedProfit": asset["unrealizedProfit"],
        "totalMarginBalance": asset["marginBalance"],
        "totalPositionInitialMargin": asset["positionInitialMargin"],
        "totalOpenOrderInitialMargin": asset["openOrderInitialMargin"],
        "totalCrossWalletBalance": asset["crossWalletBalance"],
        "totalCrossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
        "assets": [asset],
        "positions": [
            {
                "symbol": row["symbol"],
                "positionSide": "BOTH",
                "positionAmt": row["positionAmt"],
                "unrealizedProfit": row["unRealizedProfit"],
                "isolatedMargin": "0",
                "notional": row["notional"],
                "isolatedWallet": "0",
                "initialMargin": row["initialMargin"],
                "maintMargin": row["maintMargin"],
                "updateTime": row["updateTime"],
            }
        ]
        if account.position != 0
        else [],
    }


@routes.get("/fapi/v3/account", signed=True)
def account_v3(call: Call) -> Any:
    return _account(call)


@routes.get("/fapi/v2/account", signed=True)
def account_v2(call: Call) -> Any:
    return _account(call)


@routes.get("/fapi/v3/balance", signed=True)
def balance_v3(call: Call) -> Any:
    asset = _account(call)["assets"][0]
    return [
        {
            "accountAlias": "sim",
            "asset": asset["asset"],
            "balance": asset["walletBalance"],
            "crossWalletBalance": asset["crossWalletBalance"],
            "crossUnPnl": asset["crossUnPnl"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": asset["updateTime"],
        }
    ]
