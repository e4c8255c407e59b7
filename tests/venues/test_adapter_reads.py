"""The adapter's reads against simulated venues: markets, books, balances, positions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.core.book import Level
from router.harness.connect import binance_client, close_client
from router.sim.clock import ManualClock
from router.sim.server import SimCluster
from router.sim.venue import SimVenue
from router.venues.adapter import VenueAdapter
from router.venues.errors import BadVenueData, RateLimited, VenueUnavailable
from tests.venues.conftest import PERP, SPOT, fault, utc_clock


def _venue_levels(venue: SimVenue, kind: str, depth: int) -> tuple[tuple[Level, ...], ...]:
    book = venue.markets[kind].book  # type: ignore[index]
    return tuple(book.bids.levels(depth)), tuple(book.asks.levels(depth))


async def test_markets_follow_the_venue_filters_and_fees(
    alpha: VenueAdapter, bravo: VenueAdapter, cluster: SimCluster
) -> None:
    spot = alpha.market(SPOT)
    assert (spot.kind, spot.market_id, spot.base, spot.quote) == ("spot", "BTCUSDT", "BTC", "USDT")
    assert (spot.lot_step, spot.min_qty, spot.tick) == (
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal("0.01"),
    )
    assert (spot.max_qty, spot.market_max_qty, spot.min_notional) == (
        Decimal(9000),
        Decimal(100),
        Decimal(5),
    )
    assert (spot.percent_down, spot.percent_up) == (Decimal("0.2"), Decimal(5))
    assert (spot.taker_fee, spot.maker_fee) == (Decimal("0.001"), Decimal("0.0008"))

    perp = alpha.market(PERP)
    assert perp.kind == "linear"
    assert (perp.lot_step, perp.min_qty, perp.tick) == (
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("0.1"),
    )
    assert (perp.max_qty, perp.market_max_qty, perp.min_notional) == (
        Decimal(1000),
        Decimal(120),
        Decimal(100),
    )
    assert (perp.percent_down, perp.percent_up) == (Decimal("0.95"), Decimal("1.05"))
    assert (perp.taker_fee, perp.maker_fee) == (Decimal("0.0005"), Decimal("0.0002"))
    assert [m.symbol for m in alpha.markets("linear")] == [PERP]

    coarse = bravo.market(SPOT)
    assert (coarse.lot_step, coarse.min_qty, coarse.tick) == (
        Decimal("0.0001"),
        Decimal("0.0001"),
        Decimal("0.1"),
    )
    assert coarse.taker_fee == Decimal("0.0015")
    assert bravo.markets("linear") == []
    with pytest.raises(KeyError, match="bravo has no market"):
        bravo.market(PERP)


async def test_load_forces_rate_limiter_on_and_ccxt_retries_off(
    cluster: SimCluster, clock: ManualClock
) -> None:
    exchange = binance_client(cluster.endpoint("alpha"), enableRateLimit=False)
    try:
        adapter = VenueAdapter("alpha", exchange, clock=utc_clock(clock), timeout_s=2.5)
        assert exchange.enableRateLimit is True
        exchange.enableRateLimit = False
        exchange.options["maxRetriesOnFailure"] = 3
        exchange.timeout = 60000
        await adapter.load()
        assert exchange.enableRateLimit is True
        assert exchange.options["maxRetriesOnFailure"] == 0
        assert exchange.timeout == 2500
    finally:
        await close_client(exchange)


async def test_rest_book_is_the_venue_book(alpha: VenueAdapter, venue: SimVenue) -> None:
    view = await alpha.order_book(SPOT, depth=20)
    assert view.source == "rest"
    assert (view.book.bids, view.book.asks) == _venue_levels(venue, "spot", 20)
    perp = await alpha.order_book(PERP, depth=7)
    assert (perp.book.bids, perp.book.asks) == _venue_levels(venue, "linear", 7)
    assert perp.venue == "alpha"
    assert perp.received_at.tzinfo is not None


async def test_garbled_book_is_bad_venue_data(alpha: VenueAdapter, venue: SimVenue) -> None:
    venue.faults.add(fault(kind="garbled", endpoint="GET /api/v3/depth", count=1))
    with pytest.raises(BadVenueData, match="not JSON"):
        await alpha.order_book(SPOT)
    assert (await alpha.order_book(SPOT)).book.bids


async def test_network_trouble_is_retried_then_reported(
    alpha: VenueAdapter, venue: SimVenue
) -> None:
    venue.faults.add(fault(kind="outage", endpoint="GET /api/v3/depth", count=2))
    view = await alpha.order_book(SPOT)
    assert view.book.bids
    assert venue.faults.injected == {"outage": 2}
    venue.faults.add(fault(kind="outage", endpoint="GET /api/v3/depth"))
    with pytest.raises(VenueUnavailable, match="503"):
        await alpha.order_book(SPOT)
    assert venue.faults.injected == {"outage": 5}


async def test_rate_limits_are_not_retried(alpha: VenueAdapter, venue: SimVenue) -> None:
    venue.faults.add(fault(kind="rate_limit", endpoint="GET /api/v3/depth", count=1))
    with pytest.raises(RateLimited):
        await alpha.order_book(SPOT)
    venue.faults.add(fault(kind="ip_ban", endpoint="GET /api/v3/depth", count=1))
    with pytest.raises(RateLimited, match="418"):
        await alpha.order_book(SPOT)
    assert venue.faults.injected == {"rate_limit": 1, "ip_ban": 1}


async def test_balances_position_and_margin(alpha: VenueAdapter, venue: SimVenue) -> None:
    assert await alpha.free_balance("BTC") == Decimal(5)
    assert await alpha.free_balance("USDT") == Decimal(200000)
    assert await alpha.free_balance("DOGE") == 0
    assert await alpha.position(PERP) == 0
    assert await alpha.futures_available_margin() == Decimal(100000)

    result = await alpha.place_order(
        PERP, "sell", Decimal("0.5"), client_order_id="short-1", limit_price=None
    )
    assert result.filled == Decimal("0.5")
    assert await alpha.position(PERP) == Decimal("-0.5")
    assert venue.futures.position == Decimal("-0.5")
    mark = venue.markets["linear"].mid
    expected = venue.futures.available(mark, Decimal(0))
    assert await alpha.futures_available_margin() == expected
    assert 0 < expected < Decimal(100000)


async def test_account_reads_fail_as_venue_errors(alpha: VenueAdapter, venue: SimVenue) -> None:
    venue.faults.add(fault(kind="outage", endpoint="GET /api/v3/account"))
    with pytest.raises(VenueUnavailable):
        await alpha.free_balance("BTC")
    venue.faults.add(fault(kind="garbled", endpoint="GET /fapi/v3/positionRisk"))
    with pytest.raises(BadVenueData):
        await alpha.position(PERP)
