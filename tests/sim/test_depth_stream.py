"""ccxt.pro ``watch_order_book`` stays consistent with the venue over the diff-depth stream."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from typing import Any

import aiohttp

from router.harness.connect import connect_binance, make_session
from router.sim.clock import ManualClock
from router.sim.server import SimCluster

SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"


def _levels(side: list[list[float]], depth: int) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(q))) for p, q in side[:depth]]


async def _converged(
    client: Any, symbol: str, cluster: SimCluster, kind: str, depth: int = 25
) -> None:
    market = cluster.venue("alpha").markets[kind]  # type: ignore[index]
    want_bids = market.book.bids.levels(depth)
    want_asks = market.book.asks.levels(depth)
    for _ in range(250):
        book = client.orderbooks.get(symbol)
        if (
            book is not None
            and _levels(book["bids"], depth) == want_bids
            and _levels(book["asks"], depth) == want_asks
        ):
            assert book["nonce"] == market.book.update_id
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{symbol}: the streamed book never matched the venue's")


async def _drive(cluster: SimCluster, clock: ManualClock, steps: int) -> None:
    for _ in range(steps):
        clock.advance(Decimal(1))
        cluster.step()
        await asyncio.sleep(0.02)


async def test_spot_and_linear_books_follow_the_stream(
    cluster: SimCluster, clock: ManualClock
) -> None:
    async def publisher() -> None:
        while True:
            cluster.step()
            await asyncio.sleep(0.02)

    pump = asyncio.create_task(publisher())
    try:
        async with connect_binance(cluster.endpoint("alpha"), pro=True) as pro:
            await pro.load_markets()
            await asyncio.wait_for(pro.watch_order_book(SPOT), 5)
            await asyncio.wait_for(pro.watch_order_book(PERP), 5)
            for round_ in range(4):
                await _drive(cluster, clock, 3)
                order = await pro.create_order(SPOT, "market", "sell", 0.3 + round_ / 10)
                assert order["status"] == "closed"
                await pro.create_order(PERP, "market", "sell", 0.2)
                await _converged(pro, SPOT, cluster, "spot")
                await _converged(pro, PERP, cluster, "linear")
    finally:
        pump.cancel()


async def test_update_ids_chain_on_the_raw_stream(cluster: SimCluster, clock: ManualClock) -> None:
    """Spot events chain U = previous u + 1; USD-M events carry pu = previous u."""
    endpoint = cluster.endpoint("alpha")
    async with make_session(endpoint) as session:
        spot_ws = await session.ws_connect("wss://stream.binance.com:9443/ws/0")
        perp_ws = await session.ws_connect("wss://fstream.binance.com/public/ws/0")
        for ws in (spot_ws, perp_ws):
            await ws.send_str(
                json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 7})
            )
            assert json.loads((await ws.receive()).data) == {"result": None, "id": 7}
        await _drive(cluster, clock, 5)
        spot_events = await _read(spot_ws, 5)
        perp_events = await _read(perp_ws, 5)
        await spot_ws.close()
        await perp_ws.close()
    for previous, current in itertools.pairwise(spot_events):
        assert current["U"] == previous["u"] + 1
        assert "pu" not in current
    for previous, current in itertools.pairwise(perp_events):
        assert current["pu"] == previous["u"]
        assert current["e"] == "depthUpdate"


async def _read(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = await asyncio.wait_for(ws.receive(), 5)
        events.append(json.loads(message.data))
    return events


async def test_bad_subscription_gets_an_error_and_other_hosts_404(cluster: SimCluster) -> None:
    endpoint = cluster.endpoint("alpha")
    async with make_session(endpoint) as session:
        ws = await session.ws_connect("wss://stream.binance.com:9443/ws/0")
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@depth"], "id": 1}))
        reply = json.loads((await ws.receive()).data)
        assert reply["error"]["code"] == 2
        await ws.send_str("not json")
        assert json.loads((await ws.receive()).data)["error"]["code"] == 3
        await ws.close()
        async with session.get("https://api.binance.com/api/v3/nonexistent") as response:
            assert response.status == 404
