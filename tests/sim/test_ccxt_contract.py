"""Unmodified ccxt against the simulator: every call the router relies on, spot and linear."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from router.sim.server import SimCluster

SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


async def test_load_markets_exposes_spot_and_linear_with_real_filters(alpha: Any) -> None:
    spot = alpha.market(SPOT)
    perp = alpha.market(PERP)
    assert spot["spot"]
    assert spot["id"] == "BTCUSDT"
    assert perp["swap"]
    assert perp["linear"]
    assert perp["settle"] == "USDT"
    assert _d(spot["precision"]["price"]) == Decimal("0.01")
    assert _d(spot["precision"]["amount"]) == Decimal("0.00001")
    assert _d(spot["limits"]["cost"]["min"]) == Decimal("5")
    assert _d(perp["precision"]["amount"]) == Decimal("0.001")
    assert _d(perp["limits"]["cost"]["min"]) == Decimal("100")


async def test_order_book_matches_the_venue_book(alpha: Any, cluster: SimCluster) -> None:
    book = await alpha.fetch_order_book(SPOT, 20)
    venue_bids = cluster.venue("alpha").markets["spot"].book.bids.levels(20)
    assert [(_d(p), _d(q)) for p, q in book["bids"]] == venue_bids
    assert book["bids"][0][0] < book["asks"][0][0]
    assert book["nonce"] == cluster.venue("alpha").markets["spot"].book.update_id
    perp_book = await alpha.fetch_order_book(PERP, 50)
    assert len(perp_book["bids"]) == 50


async def test_ioc_sell_partial_fill_expires_and_numbers_agree(
    alpha: Any, cluster: SimCluster
) -> None:
    venue = cluster.venue("alpha")
    book = await alpha.fetch_order_book(SPOT, 5)
    best_bid = _d(book["bids"][0][0])
    at_best = _d(book["bids"][0][1])
    amount = at_best + Decimal("0.5")
    before = await alpha.fetch_balance()
    order = await alpha.create_order(
        SPOT,
        "limit",
        "sell",
        float(amount),
        float(best_bid),
        {"timeInForce": "IOC", "clientOrderId": "close-1-w1-alpha"},
    )
    assert order["status"] == "expired"
    assert _d(order["filled"]) == at_best
    assert _d(order["remaining"]) == Decimal("0.5")
    fetched = await alpha.fetch_order(None, SPOT, {"origClientOrderId": "close-1-w1-alpha"})
    assert fetched["id"] == order["id"]
    assert fetched["clientOrderId"] == "close-1-w1-alpha"
    trades = await alpha.fetch_my_trades(SPOT, params={"orderId": order["id"]})
    assert sum(_d(t["amount"]) for t in trades) == _d(fetched["filled"])
    assert {t["id"] for t in trades} == {str(t.id) for t in venue.trades}
    after = await alpha.fetch_balance()
    assert _d(before["BTC"]["total"]) - _d(after["BTC"]["total"]) == at_best
    fee_rate = Decimal("0.001")
    quote = sum(_d(t["price"]) * _d(t["amount"]) for t in trades)
    fees = sum(_d(t["fee"]["cost"]) for t in trades)
    assert fees == quote * fee_rate
    assert _d(after["USDT"]["total"]) - _d(before["USDT"]["total"]) == quote - fees


async def test_market_sell_and_gtc_rest_then_cancel(alpha: Any) -> None:
    market = await alpha.create_order(SPOT, "market", "sell", 0.1)
    assert market["status"] == "closed"
    assert _d(market["filled"]) == Decimal("0.1")
    book = await alpha.fetch_order_book(SPOT, 5)
    far = round(book["asks"][0][0] * 1.01, 2)
    resting = await alpha.create_order(SPOT, "limit", "sell", 0.2, far)
    assert resting["status"] == "open"
    balance = await alpha.fetch_balance()
    assert _d(balance["BTC"]["used"]) == Decimal("0.2")
    open_orders = await alpha.fetch_open_orders(SPOT)
    assert [o["id"] for o in open_orders] == [resting["id"]]
    canceled = await alpha.cancel_order(resting["id"], SPOT)
    assert canceled["status"] == "canceled"
    balance = await alpha.fetch_balance()
    assert _d(balance["BTC"]["used"]) == 0
    assert await alpha.fetch_open_orders(SPOT) == []


async def test_fetch_order_by_id_and_unknown_order(alpha: Any) -> None:
    order = await alpha.create_order(SPOT, "market", "sell", 0.01)
    fetched = await alpha.fetch_order(order["id"], SPOT)
    assert fetched["status"] == "closed"
    with pytest.raises(ccxt.OrderNotFound):
        await alpha.fetch_order(None, SPOT, {"origClientOrderId": "never-sent"})


async def test_futures_short_reduce_only_and_positions(alpha: Any) -> None:
    short = await alpha.create_order(PERP, "market", "sell", 0.5)
    assert short["status"] == "closed"
    positions = await alpha.fetch_positions([PERP])
    assert len(positions) == 1
    assert positions[0]["side"] == "short"
    assert _d(positions[0]["contracts"]) == Decimal("0.5")
    with pytest.raises(ccxt.InvalidOrder):
        await alpha.create_order(PERP, "market", "sell", 0.1, None, {"reduceOnly": True})
    cover = await alpha.create_order(
        PERP, "market", "buy", 0.5, None, {"reduceOnly": True, "newOrderRespType": "RESULT"}
    )
    assert cover["status"] == "closed"
    assert cover["reduceOnly"] is True
    assert await alpha.fetch_positions([PERP]) == []
    trades = await alpha.fetch_my_trades(PERP)
    assert sum(_d(t["amount"]) for t in trades) == Decimal("1.0")
    balance = await alpha.fetch_balance({"type": "future"})
    assert _d(balance["USDT"]["total"]) < Decimal("100000")


async def test_futures_margin_insufficient_is_insufficient_funds(alpha: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await alpha.create_order(PERP, "market", "sell", 50)


async def test_spot_insufficient_balance_and_filters_are_definitely_not_placed(
    alpha: Any, cluster: SimCluster
) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await alpha.create_order(SPOT, "market", "sell", 6)
    # ccxt maps -1013 NOTIONAL to BadRequest and LOT_SIZE / PRICE_FILTER /
    # PERCENT_PRICE_BY_SIDE to InvalidOrder: both mean "definitely not placed".
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        await alpha.create_order(SPOT, "limit", "sell", 0.00001, 60000, {"timeInForce": "IOC"})
    with pytest.raises(ccxt.InvalidOrder, match="PERCENT_PRICE_BY_SIDE"):
        await alpha.create_order(SPOT, "limit", "sell", 0.1, 1000, {"timeInForce": "IOC"})
    with pytest.raises(ccxt.BadSymbol):
        await alpha.fetch_order_book("ETH/USDT")
    assert cluster.venue("alpha").orders["spot"] == {}


async def test_venues_are_independent(cluster: SimCluster) -> None:
    from router.harness.connect import connect_binance

    async with connect_binance(cluster.endpoint("bravo")) as bravo:
        markets = await bravo.load_markets()
        assert list(markets) == [SPOT]
        assert _d(bravo.market(SPOT)["precision"]["price"]) == Decimal("0.1")
        balance = await bravo.fetch_balance()
        assert _d(balance["BTC"]["total"]) == Decimal("3")
    assert cluster.endpoint("alpha").port != cluster.endpoint("bravo").port
