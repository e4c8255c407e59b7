"""Injected faults surface through unmodified ccxt as the exceptions DESIGN.md section 5 names."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from router.harness.connect import connect_binance
from router.sim.scenario import FaultSpec, Scenario
from router.sim.server import SimCluster
from tests.sim.conftest import small_world

SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"


def _fault(**fields: Any) -> FaultSpec:
    return FaultSpec.model_validate(fields)


def _order_count(cluster: SimCluster) -> int:
    return len(cluster.venue("alpha").orders["spot"])


async def test_outage_is_exchange_not_available(alpha: Any, cluster: SimCluster) -> None:
    cluster.venue("alpha").faults.add(_fault(kind="outage"))
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await alpha.fetch_order_book(SPOT)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await alpha.create_order(SPOT, "market", "sell", 0.1)
    assert _order_count(cluster) == 0


@pytest.mark.parametrize("kind", ["rate_limit", "ip_ban"])
async def test_429_and_418_are_ddos_protection(alpha: Any, cluster: SimCluster, kind: str) -> None:
    cluster.venue("alpha").faults.add(_fault(kind=kind, endpoint="POST /api/v3/order", count=1))
    with pytest.raises(ccxt.DDoSProtection):
        await alpha.create_order(SPOT, "market", "sell", 0.1)
    assert _order_count(cluster) == 0
    order = await alpha.create_order(SPOT, "market", "sell", 0.1)
    assert order["status"] == "closed"


async def test_latency_beyond_the_client_timeout_is_request_timeout(cluster: SimCluster) -> None:
    cluster.venue("alpha").faults.add(_fault(kind="latency", latency_ms=800, endpoint="GET *"))
    async with connect_binance(cluster.endpoint("alpha"), timeout=200) as client:
        with pytest.raises(ccxt.RequestTimeout):
            await client.fetch_time()


async def test_timeout_after_accept_code_1007_places_the_order(
    alpha: Any, cluster: SimCluster
) -> None:
    cluster.venue("alpha").faults.add(
        _fault(kind="timeout_after_accept", endpoint="POST /api/v3/order", count=1)
    )
    with pytest.raises(ccxt.RequestTimeout):
        await alpha.create_order(SPOT, "market", "sell", 0.1, None, {"clientOrderId": "amb-1"})
    assert _order_count(cluster) == 1
    found = await alpha.fetch_order(None, SPOT, {"origClientOrderId": "amb-1"})
    assert found["status"] == "closed"
    assert Decimal(str(found["filled"])) == Decimal("0.1")


async def test_timeout_after_accept_dropped_connection_places_the_order(
    alpha: Any, cluster: SimCluster
) -> None:
    cluster.venue("alpha").faults.add(
        _fault(kind="timeout_after_accept", mode="drop", endpoint="POST /api/v3/order", count=1)
    )
    with pytest.raises(ccxt.NetworkError):
        await alpha.create_order(SPOT, "market", "sell", 0.1, None, {"clientOrderId": "amb-2"})
    found = await alpha.fetch_order(None, SPOT, {"origClientOrderId": "amb-2"})
    assert found["status"] == "closed"


async def test_garbled_body_returns_an_order_without_id(alpha: Any, cluster: SimCluster) -> None:
    cluster.venue("alpha").faults.add(
        _fault(kind="garbled", endpoint="POST /api/v3/order", count=1)
    )
    order = await alpha.create_order(SPOT, "market", "sell", 0.1, None, {"clientOrderId": "g-1"})
    assert order["id"] is None
    found = await alpha.fetch_order(None, SPOT, {"origClientOrderId": "g-1"})
    assert found["status"] == "closed"


async def test_partial_fill_only_matching(alpha: Any, cluster: SimCluster) -> None:
    cluster.venue("alpha").faults.add(_fault(kind="partial_fill", fill_ratio="0.25"))
    book = await alpha.fetch_order_book(SPOT, 5)
    low = round(book["bids"][0][0] * 0.98, 2)
    order = await alpha.create_order(SPOT, "limit", "sell", 1.0, low, {"timeInForce": "IOC"})
    assert order["status"] == "expired"
    assert Decimal(str(order["filled"])) == Decimal("0.25")


async def test_insufficient_balance_rejection(alpha: Any, cluster: SimCluster) -> None:
    cluster.venue("alpha").faults.add(_fault(kind="insufficient_balance", count=2))
    with pytest.raises(ccxt.InsufficientFunds):
        await alpha.create_order(SPOT, "market", "sell", 0.1)
    with pytest.raises(ccxt.InsufficientFunds):
        await alpha.create_order(PERP, "market", "sell", 0.1)
    assert _order_count(cluster) == 0


async def test_faults_respect_windows_endpoints_and_probability(
    cluster: SimCluster, clock: Any, alpha: Any
) -> None:
    venue = cluster.venue("alpha")
    venue.faults.add(_fault(kind="outage", start_s=10, end_s=20, endpoint="* /api/v3/depth"))
    await alpha.fetch_order_book(SPOT)
    clock.advance(Decimal(10))
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await alpha.fetch_order_book(SPOT)
    await alpha.fetch_time()
    clock.advance(Decimal(10))
    await alpha.fetch_order_book(SPOT)
    assert venue.faults.injected == {"outage": 1}


def _storm_world() -> Scenario:
    return small_world(faults=[{"kind": "rate_limit", "venue": "alpha", "probability": "0.5"}])


async def test_scenario_faults_are_seeded(tls_dir: Any) -> None:
    from router.sim.clock import ManualClock

    outcomes: list[list[bool]] = []
    for _ in range(2):
        async with (
            SimCluster(_storm_world(), seed=5, tls_dir=tls_dir, clock=ManualClock()) as cluster,
            connect_binance(cluster.endpoint("alpha")) as client,
        ):
            run: list[bool] = []
            for _ in range(12):
                try:
                    await client.fetch_time()
                    run.append(True)
                except ccxt.DDoSProtection:
                    run.append(False)
            outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert any(outcomes[0]), "the storm let no request through"
    assert not all(outcomes[0]), "the storm never fired"
