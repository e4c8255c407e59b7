"""Books from the depth websocket, and the fall back to REST when the stream is stale or broken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import ROUND_DOWN, Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from router.harness.connect import binance_client, close_client
from router.sim.clock import ManualClock
from router.sim.server import SimCluster
from router.sim.venue import SimVenue
from router.venues.adapter import VenueAdapter
from router.venues.errors import BadVenueData
from router.venues.model import BookView
from tests.venues.conftest import SPOT, Pump, utc_clock

DEPTH = 20


def _venue_book(venue: SimVenue) -> tuple[Any, Any]:
    book = venue.markets["spot"].book
    return tuple(book.bids.levels(DEPTH)), tuple(book.asks.levels(DEPTH))


async def _until(adapter: VenueAdapter, wanted: Any) -> BookView:
    """Read books until one satisfies ``wanted`` (the stream runs in the background)."""
    for _ in range(500):
        view = await adapter.order_book(SPOT, DEPTH)
        if wanted(view):
            return view
        await asyncio.sleep(0.01)
    raise AssertionError("the adapter never produced the expected book")


async def test_stream_then_rest_when_it_goes_quiet(
    alpha_ws: VenueAdapter,
    cluster: SimCluster,
    venue: SimVenue,
    clock: ManualClock,
    pump: Pump,
) -> None:
    first = await alpha_ws.order_book(SPOT, DEPTH)
    assert first.source == "rest"
    pump.start()
    streamed = await _until(alpha_ws, lambda v: v.source == "ws")
    assert streamed.book.best_bid is not None

    await pump.stop()
    # Sell through the best bid into the next level, whatever the book holds now.
    (_, top), (_, second) = venue.markets["spot"].book.bids.levels(2)
    through = (top + second / 2).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
    swept = await alpha_ws.place_order(
        SPOT, "sell", through, client_order_id="sweep-1", limit_price=None
    )
    assert len(swept.fills) > 1
    cluster.step()
    settled = await _until(
        alpha_ws, lambda v: v.source == "ws" and (v.book.bids, v.book.asks) == _venue_book(venue)
    )
    assert settled.received_at <= utc_clock(clock)()

    clock.advance(Decimal("2.5"))
    stale = await alpha_ws.order_book(SPOT, DEPTH)
    assert stale.source == "rest"
    assert (stale.book.bids, stale.book.asks) == _venue_book(venue)
    assert stale.received_at > settled.received_at


class ScriptedPro:
    """A stand-in ``ccxt.pro`` client whose stream the test scripts book by book."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}
        self.script: asyncio.Queue[dict[str, Any] | Exception] = asyncio.Queue()
        self.closed = False

    def set_markets(self, markets: Any, currencies: Any = None) -> None:
        self.markets = markets

    async def watch_order_book(self, symbol: str) -> dict[str, Any]:
        item = await self.script.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
async def scripted(
    cluster: SimCluster, clock: ManualClock
) -> AsyncIterator[tuple[VenueAdapter, ScriptedPro]]:
    exchange = binance_client(cluster.endpoint("alpha"))
    pro = ScriptedPro()
    adapter = VenueAdapter("alpha", exchange, pro=pro, clock=utc_clock(clock), backoff_s=0.01)
    try:
        await adapter.load()
        yield adapter, pro
    finally:
        await adapter.close()
        await close_client(exchange)
    assert pro.closed


BOOK = {"bids": [[100.0, 1.0], [99.5, 2.0]], "asks": [[100.5, 1.5]], "nonce": 7}


async def test_a_failed_stream_falls_back_to_rest(
    scripted: tuple[VenueAdapter, ScriptedPro],
) -> None:
    adapter, pro = scripted
    assert (await adapter.order_book(SPOT, DEPTH)).source == "rest"
    pro.script.put_nowait(BOOK)
    view = await _until(adapter, lambda v: v.source == "ws")
    assert view.book.bids == ((Decimal("100.0"), Decimal("1.0")), (Decimal("99.5"), Decimal("2.0")))
    assert view.book.asks == ((Decimal("100.5"), Decimal("1.5")),)

    pro.script.put_nowait(ccxt.NetworkError("connection closed"))
    view = await _until(adapter, lambda v: v.source == "rest")
    assert view.book.best_bid is not None
    assert view.book.best_bid > 1000

    pro.script.put_nowait(BOOK)
    assert (await _until(adapter, lambda v: v.source == "ws")).book.asks[0][0] == Decimal("100.5")


async def test_a_garbage_streamed_book_is_bad_venue_data(
    scripted: tuple[VenueAdapter, ScriptedPro],
) -> None:
    adapter, pro = scripted
    await adapter.order_book(SPOT, DEPTH)
    pro.script.put_nowait({"bids": [[101.0, 1.0]], "asks": [[100.5, 1.5]], "nonce": 8})
    for _ in range(500):
        try:
            await adapter.order_book(SPOT, DEPTH)
        except BadVenueData:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(BadVenueData, match="crossed book"):
        await adapter.order_book(SPOT, DEPTH)
