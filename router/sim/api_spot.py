"""Spot REST endpoints (``/api/v3``) of a simulated venue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.sim import errors
from router.sim.orders import Order, fmt8, spot_fill_json, spot_trade_json
from router.sim.routes import Call, Routes, check_symbols
from router.sim.venue import SimVenue

routes = Routes()
SPOT_DEPTH_MAX = 5000


def _limit(params: dict[str, str], default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise errors.illegal_chars("limit", "^[0-9]{1,20}$")
    return max(1, min(int(raw), maximum))


@routes.get("/api/v3/ping")
def ping(call: Call) -> Any:
    return {}


@routes.get("/api/v3/time")
def server_time(call: Call) -> Any:
    return {"serverTime": call.venue.wall_ms()}


@routes.get("/api/v3/exchangeInfo")
def exchange_info(call: Call) -> Any:
    check_symbols(call, "spot")
    return {
        "timezone": "UTC",
        "serverTime": call.venue.wall_ms(),
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": [market.rules.exchange_info() for market in call.venue.spot_markets()],
    }


@routes.get("/api/v3/depth")
def depth(call: Call) -> Any:
    market = call.venue.market("spot", call.symbol())
    limit = _limit(call.params, 100, SPOT_DEPTH_MAX)
    return {
        "lastUpdateId": market.book.update_id,
        "bids": [[fmt8(p), fmt8(q)] for p, q in market.book.bids.levels(limit)],
        "asks": [[fmt8(p), fmt8(q)] for p, q in market.book.asks.levels(limit)],
    }


@routes.get("/api/v3/avgPrice")
def avg_price(call: Call) -> Any:
    market = call.venue.market("spot", call.symbol())
    return {"mins": 5, "price": fmt8(market.avg_price()), "closeTime": call.venue.wall_ms()}


@routes.get("/api/v3/ticker/bookTicker")
def book_ticker(call: Call) -> Any:
    market = call.venue.market("spot", call.symbol())
    bids = market.book.bids.levels(1)
    asks = market.book.asks.levels(1)
    bid = bids[0] if bids else (Decimal(0), Decimal(0))
    ask = asks[0] if asks else (Decimal(0), Decimal(0))
    return {
        "symbol": market.rules.symbol,
        "bidPrice": fmt8(bid[0]),
        "bidQty": fmt8(bid[1]),
        "askPrice": fmt8(ask[0]),
        "askQty": fmt8(ask[1]),
    }


def order_answer(venue: SimVenue, order: Order, resp_type: str) -> dict[str, Any]:
    if resp_type == "ACK":
        return order.spot_ack()
    answer = order.spot_result()
    if resp_type == "FULL":
        answer["fills"] = [spot_fill_json(t) for t in venue.order_trades(order)]
    return answer


@routes.post("/api/v3/order", signed=True, places_order=True)
def new_order(call: Call) -> Any:
    venue = call.venue
    req = venue.parse_order("spot", call.params)
    resp_type = call.params.get("newOrderRespType") or (
        "FULL" if req.type in ("LIMIT", "MARKET") else "ACK"
    )
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise errors.ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    order = venue.new_order(
        "spot", req, fill_ratio=call.fill_ratio, force_insufficient=call.force_insufficient
    )
    return order_answer(venue, order, resp_type)


@routes.get("/api/v3/order", signed=True)
def query_order(call: Call) -> Any:
    p = call.params
    order = call.venue.find_order(
        "spot", call.symbol(), p.get("orderId"), p.get("origClientOrderId")
    )
    return order.spot_json(call.venue.markets["spot"].rules.f.tick_size)


@routes.delete("/api/v3/order", signed=True)
def cancel_order(call: Call) -> Any:
    p = call.params
    order = call.venue.cancel_order(
        "spot", call.symbol(), p.get("orderId"), p.get("origClientOrderId")
    )
    return {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.id,
        "orderListId": -1,
        "clientOrderId": p.get("newClientOrderId") or f"cancel_{order.id}",
        "transactTime": order.update_ms,
        "price": fmt8(order.price),
        "origQty": fmt8(order.orig_qty),
        "executedQty": fmt8(order.executed_qty),
        "origQuoteOrderQty": fmt8(order.quote_order_qty),
        "cummulativeQuoteQty": fmt8(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


@routes.get("/api/v3/openOrders", signed=True)
def open_orders(call: Call) -> Any:
    tick = call.venue.markets["spot"].rules.f.tick_size
    return [o.spot_json(tick) for o in call.venue.open_orders("spot", call.params.get("symbol"))]


@routes.delete("/api/v3/openOrders", signed=True)
def cancel_all(call: Call) -> Any:
    symbol = call.symbol()
    out = []
    for order in call.venue.open_orders("spot", symbol):
        call.venue.cancel_order("spot", symbol, str(order.id), None)
        out.append(order.spot_result())
    return out


@routes.get("/api/v3/allOrders", signed=True)
def all_orders(call: Call) -> Any:
    symbol = call.symbol()
    call.venue.market("spot", symbol)
    limit = _limit(call.params, 500, 1000)
    tick = call.venue.markets["spot"].rules.f.tick_size
    rows = [o for o in call.venue.orders["spot"].values() if o.symbol == symbol]
    from_id = call.int_param("orderId")
    rows = [o for o in rows if o.id >= from_id][:limit] if from_id is not None else rows[-limit:]
    return [o.spot_json(tick) for o in rows]


@routes.get("/api/v3/myTrades", signed=True)
def my_trades(call: Call) -> Any:
    p = call.params
    symbol = call.symbol()
    rows = call.venue.account_trades(
        "spot",
        symbol,
        order_id=call.int_param("orderId"),
        from_id=call.int_param("fromId"),
        start_ms=call.int_param("startTime"),
        end_ms=call.int_param("endTime"),
        limit=_limit(p, 500, 1000),
    )
    return [spot_trade_json(t) for t in rows]


@routes.get("/api/v3/account", signed=True)
def account(call: Call) -> Any:
    venue = call.venue
    market = venue.markets["spot"]
    maker, taker = market.fee_maker, market.fee_taker
    balances = [
        {"asset": asset, "free": fmt8(b.free), "locked": fmt8(b.locked)}
        for asset, b in sorted(venue.spot.balances.items())
    ]
    if call.params.get("omitZeroBalances") == "true":
        balances = [b for b in balances if Decimal(b["free"]) or Decimal(b["locked"])]
    return {
        "makerCommission": int(maker * 10000),
        "takerCommission": int(taker * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": fmt8(maker),
            "taker": fmt8(taker),
            "buyer": fmt8(Decimal(0)),
            "seller": fmt8(Decimal(0)),
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": venue.wall_ms(),
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 354937868,
    }


@routes.get("/sapi/v1/system/status")
def system_status(call: Call) -> Any:
    return {"status": 0, "msg": "normal"}
