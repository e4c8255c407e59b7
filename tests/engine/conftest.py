"""A simulated world for engine tests: venues on loopback, ccxt adapters, a journal.

The scenario clock is manual and the engine's pacing is wired to it: every pause the
engine takes advances the world by that much and moves the books, so a multi-wave
crisis runs in well under a second, deterministically.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.chaos.invariants import check_world
from router.chaos.world import THREE_VENUES
from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.pacing import Pacing
from router.engine.request import CloseRequest
from router.harness.connect import binance_client, close_client
from router.journal.repository import Journal
from router.sim.clock import ManualClock
from router.sim.scenario import Scenario, parse_scenario
from router.sim.server import SimCluster
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker

D = Decimal


def three_venues(**overrides: Any) -> Scenario:
    raw: dict[str, Any] = {
        "name": "engine",
        "stages": [{"at_s": 0, "depth": 1, "spread_bps": 2}],
        "venues": copy.deepcopy(list(THREE_VENUES)),
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


@contextlib.asynccontextmanager
async def checked_world(scenario: Scenario, tmp_path: Path) -> AsyncIterator[World]:
    """A world for one test; the invariants are checked when the test is done with it."""
    stack: list[Callable[[], Any]] = []
    try:
        built = await build_world(scenario, tmp_path, stack)
        yield built
        await check_invariants(built)
    finally:
        for undo in reversed(stack):
            await undo()


@pytest.fixture
async def world(scenario: Scenario, tmp_path: Path) -> AsyncIterator[World]:
    async with checked_world(scenario, tmp_path) as built:
        yield built


async def check_invariants(world: World) -> None:
    """The journal and every venue's own ledger agree (router.chaos.invariants)."""
    venues = {name: world.venue(name) for name in world.adapters}
    violations = await check_world(world.journal, venues, world.initial)
    assert violations == [], "\n".join(str(v) for v in violations)
