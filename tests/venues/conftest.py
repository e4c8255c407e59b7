"""Adapters over unmodified ccxt clients wired to simulated venues."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.harness.connect import binance_client, close_client
from router.sim.clock import ManualClock
from router.sim.scenario import FaultSpec, Scenario
from router.sim.server import SimCluster
from router.sim.venue import SimVenue
from router.venues.adapter import VenueAdapter
from tests.sim.conftest import small_world

SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"
EPOCH = datetime(2020, 3, 12, 10, 0, tzinfo=UTC)


def fault(**fields: Any) -> FaultSpec:
    return FaultSpec.model_validate(fields)


def utc_clock(clock: ManualClock) -> Callable[[], datetime]:
    """The adapter's clock, moving with the simulator's manual clock."""
    return lambda: EPOCH + timedelta(seconds=float(clock.now()))


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world() -> Scenario:
    return small_world()


@pytest.fixture
async def cluster(world: Scenario, clock: ManualClock, tls_dir: Path) -> AsyncIterator[SimCluster]:
    async with SimCluster(world, seed=11, tls_dir=tls_dir, clock=clock) as running:
        yield running


@pytest.fixture
def venue(cluster: SimCluster) -> SimVenue:
    return cluster.venue("alpha")


@contextlib.asynccontextmanager
async def connect_adapter(
    cluster: SimCluster, clock: ManualClock, name: str, *, pro: bool
) -> AsyncIterator[VenueAdapter]:
    """A loaded adapter over venue ``name``; with ``pro``, books come from the websocket."""
    endpoint = cluster.endpoint(name)
    exchange = binance_client(endpoint)
    stream_client = binance_client(endpoint, pro=True) if pro else None
    adapter = VenueAdapter(
        name, exchange, pro=stream_client, clock=utc_clock(clock), timeout_s=5, backoff_s=0.01
    )
    try:
        await adapter.load()
        yield adapter
    finally:
        await adapter.close()
        for client in (exchange, stream_client):
            if client is not None:
                await close_client(client)


@pytest.fixture
async def alpha(cluster: SimCluster, clock: ManualClock) -> AsyncIterator[VenueAdapter]:
    """A REST-only adapter over venue ``alpha`` (spot and USD-M)."""
    async with connect_adapter(cluster, clock, "alpha", pro=False) as adapter:
        yield adapter


@pytest.fixture
async def bravo(cluster: SimCluster, clock: ManualClock) -> AsyncIterator[VenueAdapter]:
    """A REST-only adapter over venue ``bravo`` (spot only, coarser grid)."""
    async with connect_adapter(cluster, clock, "bravo", pro=False) as adapter:
        yield adapter


@pytest.fixture
async def alpha_ws(cluster: SimCluster, clock: ManualClock) -> AsyncIterator[VenueAdapter]:
    """An adapter over ``alpha`` that reads books from the depth websocket."""
    async with connect_adapter(cluster, clock, "alpha", pro=True) as adapter:
        yield adapter


class Pump:
    """Moves the simulated world in the background: clock forward, books published."""

    def __init__(self, cluster: SimCluster, clock: ManualClock, step_s: str = "0.25") -> None:
        self._cluster = cluster
        self._clock = clock
        self._step = Decimal(step_s)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self._clock.advance(self._step)
            self._cluster.step()
            await asyncio.sleep(0.01)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@pytest.fixture
async def pump(cluster: SimCluster, clock: ManualClock) -> AsyncIterator[Pump]:
    running = Pump(cluster, clock)
    try:
        yield running
    finally:
        await running.stop()
