"""A simulated world for engine tests: venues on loopback, ccxt adapters, a journal.

The scenario clock is manual and the engine's pacing is wired to it: every pause the
engine takes advances the world by that much and moves the books, so a multi-wave
crisis runs in well under a second, deterministically.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.request import CloseRequest
from router.engine.runner import Pacing
from router.journal.models import Close
from router.journal.repository import Journal
from router.sim.clock import ManualClock
from router.sim.connect import binance_client, close_client
from router.sim.scenario import Scenario, parse_scenario
from router.sim.server import SimCluster
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker

D = Decimal


def three_venues(**overrides: Any) -> Scenario:
    raw: dict[str, Any] = {
        "name": "engine",
        "stages": [{"at_s": 0, "depth": 1, "spread_bps": 2}],
        "venues": [
            {
                "name": "alpha",
                "depth_scale": "2",
                "balances": {"BTC": "6", "USDT": "500000"},
                "spot": {"taker_fee": "0.001"},
                "futures_wallet": "200000",
            },
            {
                "name": "bravo",
                "depth_scale": "1.2",
                "balances": {"BTC": "4", "USDT": "500000"},
                "spot": {
                    "taker_fee": "0.0008",
                    "tick_size": "0.1",
                    "step_size": "0.0001",
                    "min_qty": "0.0001",
                },
                "futures_wallet": "200000",
            },
            {
                "name": "charlie",
                "depth_scale": "0.8",
                "balances": {"BTC": "3", "USDT": "500000"},
                "spot": {"taker_fee": "0.0012", "step_size": "0.001", "min_qty": "0.001"},
                "futures": False,
            },
        ],
    }
    raw.update(overrides)
    return parse_scenario(raw)


@dataclass
class World:
    scenario: Scenario
    clock: ManualClock
    cluster: SimCluster
    adapters: dict[str, VenueAdapter]
    health: dict[str, CircuitBreaker]
    journal: Journal
    engine: Engine
    initial: dict[str, dict[str, Decimal]]

    def venue(self, name: str) -> Any:
        return self.cluster.venue(name)

    def request(self, **fields: Any) -> CloseRequest:
        values: dict[str, Any] = {
            "symbol": "BTC",
            "side": "sell",
            "quantity": "10",
            "urgency": "0.9",
            "idempotency_key": f"test-{uuid.uuid4().hex[:12]}",
        }
        values.update(fields)
        return CloseRequest.model_validate(values)


async def build_world(scenario: Scenario, tmp_path: Path, stack: list[Callable[[], Any]]) -> World:
    clock = ManualClock()
    cluster = SimCluster(scenario, seed=3, tls_dir=tmp_path / "tls", clock=clock)
    await cluster.start()
    stack.append(cluster.stop)
    adapters: dict[str, VenueAdapter] = {}
    health: dict[str, CircuitBreaker] = {}
    for endpoint in cluster.endpoints():
        exchange = binance_client(endpoint)
        stack.append(lambda exchange=exchange: close_client(exchange))
        adapter = VenueAdapter(endpoint.name, exchange)
        await adapter.load()
        adapters[endpoint.name] = adapter
        health[endpoint.name] = CircuitBreaker(clock=clock.now, venue=endpoint.name)
    journal = await Journal.open(f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}")
    stack.append(journal.close)

    async def pause(seconds: float) -> None:
        clock.advance(Decimal(repr(max(seconds, 0.0))))
        cluster.step()
        await asyncio.sleep(0)

    engine = Engine(
        journal,
        adapters,
        health,
        Policy(),
        pacing=Pacing(monotonic=lambda: float(clock.now()), sleep=pause),
    )
    initial = {
        name: {asset: b.free for asset, b in cluster.venue(name).spot.balances.items()}
        for name in adapters
    }
    return World(scenario, clock, cluster, adapters, health, journal, engine, initial)


@pytest.fixture
def scenario() -> Scenario:
    return three_venues()


@pytest.fixture
async def world(scenario: Scenario, tmp_path: Path) -> AsyncIterator[World]:
    stack: list[Callable[[], Any]] = []
    try:
        built = await build_world(scenario, tmp_path, stack)
        yield built
        await check_invariants(built)
    finally:
        for undo in reversed(stack):
            await undo()


async def check_invariants(world: World) -> None:
    """The journal and every venue's own ledger agree (DESIGN.md invariants 1-3)."""
    attempts: dict[str, Any] = {}
    fills: set[tuple[str, str, str]] = set()
    for close in await _all_closes(world.journal):
        for attempt in await world.journal.attempts(close):
            attempts[attempt.client_order_id] = attempt
        for fill in await world.journal.fills(close):
            if fill.venue == "internal":
                continue
            key = (fill.venue, fill.market, fill.trade_id)
            assert key not in fills, f"fill journaled twice: {key}"
            fills.add(key)
    for name in world.adapters:
        venue = world.venue(name)
        placed: dict[str, int] = {}
        for kind, orders in venue.orders.items():
            for order in orders.values():
                attempt = attempts.get(order.client_order_id)
                assert attempt is not None, f"{name} has an order the journal does not know"
                assert attempt.intent_at.timestamp() * 1000 <= order.time_ms + 1, (
                    "order reached the venue before its intent was journaled"
                )
                placed[order.client_order_id] = placed.get(order.client_order_id, 0) + 1
                assert kind == attempt.market
        assert all(count == 1 for count in placed.values()), f"{name}: a client id placed twice"
        for trade in venue.trades:
            assert (name, trade.market, str(trade.id)) in fills, f"{name} trade not journaled"
        sold = sum((t.qty for t in venue.trades if t.market == "spot" and t.side == "SELL"), D(0))
        assert sold <= world.initial[name].get("BTC", D(0)), f"{name} sold more than it held"
        assert venue.spot.get("BTC").free >= 0
    venue_trades = sum(len(world.venue(n).trades) for n in world.adapters)
    assert venue_trades == len(fills)


async def _all_closes(journal: Journal) -> list[str]:
    async with journal.engine.connect() as conn:
        return [row[0] for row in await conn.execute(select(Close.id))]
