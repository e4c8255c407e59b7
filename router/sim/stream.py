"""Binance diff-depth websocket streams of a simulated venue.

Clients connect to ``wss://stream.binance.com:9443/ws/N`` (spot) or
``wss://fstream.binance.com/public/ws/N`` (USD-M), subscribe with
``{"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}`` and receive
``depthUpdate`` events with absolute level quantities. Event ids chain exactly as on
Binance: spot events carry ``U`` (first update id) and ``u`` (last), each ``U`` one
past the previous ``u``; USD-M events also carry ``pu``, the previous event's ``u``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from router.sim.orders import MarketKind
from router.sim.venue import SimVenue

QUEUE_LIMIT = 256
Levels = dict[Decimal, Decimal]
ZERO = Decimal(0)


def _diff(before: Levels, after: Levels) -> list[tuple[Decimal, Decimal]]:
    """Levels whose quantity changed, with the new quantity (0 = the level is gone)."""
    changed = [(p, q) for p, q in after.items() if before.get(p) != q]
    changed.extend((p, ZERO) for p in before.keys() - after.keys())
    changed.sort()
    return changed


@dataclass
class _Subscriber:
    queue: asyncio.Queue[str]
    streams: set[str] = field(default_factory=set)


class DepthHub:
    """Publishes each market's book changes to its websocket subscribers."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self._subscribers: dict[MarketKind, list[_Subscriber]] = {"spot": [], "linear": []}
        self._published: dict[MarketKind, int] = {}
        self._last: dict[MarketKind, tuple[Levels, Levels]] = {}
        for kind, market in venue.markets.items():
            self._published[kind] = market.book.update_id
            self._last[kind] = (market.book.bids.snapshot(), market.book.asks.snapshot())

    def publish(self) -> None:
        """Emit one event per market that changed since the last call."""
        for kind, market in self.venue.markets.items():
            book = market.book
            previous = self._published[kind]
            if book.update_id == previous:
                continue
            self._published[kind] = book.update_id
            bids, asks = book.bids.snapshot(), book.asks.snapshot()
            last_bids, last_asks = self._last[kind]
            self._last[kind] = (bids, asks)
            subscribers = self._subscribers[kind]
            if not subscribers:
                continue
            changed_bids, changed_asks = _diff(last_bids, bids), _diff(last_asks, asks)
            now = self.venue.wall_ms()
            rules = market.rules
            event: dict[str, Any] = {
                "e": "depthUpdate",
                "E": now,
                "s": rules.symbol,
                "U": previous + 1,
                "u": book.update_id,
                "b": [[rules.fmt_price(p), rules.fmt_qty(q)] for p, q in changed_bids],
                "a": [[rules.fmt_price(p), rules.fmt_qty(q)] for p, q in changed_asks],
            }
            if kind == "linear":
                event["T"] = now
                event["pu"] = previous
            stream = f"{rules.symbol.lower()}@depth"
            text = json.dumps(event, separators=(",", ":"))
            for subscriber in subscribers:
                if any(s.startswith(stream) for s in subscriber.streams):
                    _offer(subscriber.queue, text)

    async def serve(self, request: web.Request, kind: MarketKind) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        subscriber = _Subscriber(asyncio.Queue(QUEUE_LIMIT))
        self._subscribers[kind].append(subscriber)
        sender = asyncio.create_task(_pump(ws, subscriber.queue))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                reply = self._control(kind, subscriber, message.data)
                await ws.send_str(json.dumps(reply))
        finally:
            self._subscribers[kind].remove(subscriber)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    def _control(self, kind: MarketKind, subscriber: _Subscriber, data: str) -> dict[str, Any]:
        try:
            request = json.loads(data)
        except ValueError:
            return {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1"}}
        if not isinstance(request, dict):
            return {"error": {"code": 3, "msg": "Invalid request"}}
        method = request.get("method")
        params = request.get("params") or []
        request_id = request.get("id")
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(subscriber.streams), "id": request_id}
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            error = {"code": 2, "msg": "Invalid request: unknown method"}
            return {"error": error, "id": request_id}
        market = self.venue.markets.get(kind)
        symbol = market.rules.symbol.lower() if market is not None else ""
        for stream in params:
            if not isinstance(stream, str) or not stream.startswith(f"{symbol}@"):
                return {"error": {"code": 2, "msg": f"Invalid request: {stream}"}, "id": request_id}
            if method == "SUBSCRIBE":
                subscriber.streams.add(stream)
            else:
                subscriber.streams.discard(stream)
        return {"result": None, "id": request_id}


def _offer(queue: asyncio.Queue[str], text: str) -> None:
    """A subscriber that cannot keep up loses its oldest events and must resync by ids."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(text)


async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
    while not ws.closed:
        text = await queue.get()
        try:
            await ws.send_str(text)
        except ConnectionError:
            return
