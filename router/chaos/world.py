"""A simulated world in one process: venues on loopback, ccxt adapters, a journal, an engine.

The scenario clock is manual and the engine's pacing is wired to it: every pause the
engine takes advances the world by that much and moves the books, so a multi-wave
crisis runs in well under a second of wall time and a seed replays it exactly (up to
the real network timings of loopback TLS). A venue whose markets fail to load is loaded
again in the background (:mod:`router.venues.loader`) on the same scenario time: its
waits end once the engine's pauses have moved the world on that far.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.chaos.invariants import Violation, check_world
from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.pacing import Pacing
from router.harness.connect import binance_client, close_client
from router.journal.repository import Journal
from router.sim.clock import ManualClock
from router.sim.scenario import FaultSpec, Scenario, parse_scenario
from router.sim.server import SimCluster
from router.sim.venue import SimVenue
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker
from router.venues.loader import load_venue

THREE_VENUES: tuple[dict[str, Any], ...] = (
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
)
"""alpha, bravo and charlie: unequal depth, fees and filters; charlie has no perp market."""


def three_venues(stages: list[dict[str, Any]], *, name: str = "chaos") -> Scenario:
    """Three venues of unequal depth, fees and filters; charlie has no perp market."""
    raw: dict[str, Any] = {
        "name": name,
        "stages": stages,
        "venues": copy.deepcopy(list(THREE_VENUES)),
    }
    return parse_scenario(raw)


@dataclass
class ChaosWorld:
    scenario: Scenario
    clock: ManualClock
    cluster: SimCluster
    adapters: dict[str, VenueAdapter]
    health: dict[str, CircuitBreaker]
    journal: Journal
    engine: Engine
    initial: dict[str, dict[str, Decimal]]

    def venue(self, name: str) -> SimVenue:
        return self.cluster.venue(name)

    def venues(self) -> dict[str, SimVenue]:
        return {name: self.cluster.venue(name) for name in self.adapters}

    def injected(self) -> dict[str, int]:
        """Faults the venues injected so far, by kind."""
        totals: dict[str, int] = {}
        for venue in self.venues().values():
            for kind, count in venue.faults.injected.items():
                totals[kind] = totals.get(kind, 0) + count
        return totals

    async def violations(self) -> list[Violation]:
        return await check_world(
            self.journal, self.venues(), self.initial, base_asset=self.scenario.base_asset
        )


class Timeline:
    """The world's scenario time: :meth:`pause` moves it (and the books) on,
    :meth:`wait` waits until others' pauses have moved it on far enough.

    The engine paces itself with :meth:`pause`; a background task (the market loader)
    waits with :meth:`wait`, so it never moves the world on its own and wakes at the
    scenario instant it asked for (or at the first pause past it).
    """

    def __init__(self, clock: ManualClock, cluster: SimCluster) -> None:
        self.clock = clock
        self.cluster = cluster
        self._waiting: list[tuple[Decimal, asyncio.Future[None]]] = []

    async def pause(self, seconds: float) -> None:
        self.clock.advance(Decimal(repr(max(seconds, 0.0))))
        self.cluster.step()
        self._wake()
        await asyncio.sleep(0)

    async def wait(self, seconds: float) -> None:
        until = self.clock.now() + Decimal(repr(max(seconds, 0.0)))
        if self.clock.now() >= until:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((until, woken))
        await woken

    def _wake(self) -> None:
        now = self.clock.now()
        still: list[tuple[Decimal, asyncio.Future[None]]] = []
        for until, woken in self._waiting:
            if woken.done():
                continue
            if now >= until:
                woken.set_result(None)
            else:
                still.append((until, woken))
        self._waiting = still


def initial_balances(cluster: SimCluster) -> dict[str, dict[str, Decimal]]:
    """Every venue's spot balances (free + locked) as they stand."""
    return {
        name: {asset: b.free + b.locked for asset, b in running.venue.spot.balances.items()}
        for name, running in cluster.venues.items()
    }


async def build_world(
    stack: AsyncExitStack,
    scenario: Scenario,
    *,
    tls_dir: Path,
    journal_url: str,
    seed: int = 3,
    policy: Policy | None = None,
    adapter_timeout_s: float = 10.0,
    at_load: Mapping[str, Sequence[FaultSpec]] | None = None,
) -> ChaosWorld:
    """Start the venues, connect an adapter to each, open the journal, wire the engine.

    Everything started is stopped when ``stack`` unwinds. Adapters load their markets
    with only the faults of ``at_load`` (per venue) in place; a venue that cannot load
    has the failure counted by its circuit and is loaded again in the background
    (:func:`router.venues.loader.load_venue`, waiting on :meth:`Timeline.wait`).
    """
    clock = ManualClock()
    cluster = SimCluster(scenario, seed=seed, tls_dir=tls_dir, clock=clock)
    await cluster.start()
    stack.push_async_callback(cluster.stop)
    timeline = Timeline(clock, cluster)
    for name, specs in (at_load or {}).items():
        for spec in specs:
            cluster.venue(name).faults.add(spec)

    adapters: dict[str, VenueAdapter] = {}
    health: dict[str, CircuitBreaker] = {}
    for endpoint in cluster.endpoints():
        exchange = binance_client(endpoint)
        stack.push_async_callback(close_client, exchange)
        adapter = VenueAdapter(
            endpoint.name, exchange, sleep=timeline.pause, timeout_s=adapter_timeout_s
        )
        breaker = CircuitBreaker(clock=clock.now, venue=endpoint.name)
        await load_venue(stack, adapter, breaker, sleep=timeline.wait)
        adapters[endpoint.name] = adapter
        health[endpoint.name] = breaker
    journal = await Journal.open(journal_url)
    stack.push_async_callback(journal.close)
    engine = Engine(
        journal,
        adapters,
        health,
        policy or Policy(),
        pacing=Pacing(monotonic=lambda: float(clock.now()), sleep=timeline.pause),
    )
    return ChaosWorld(
        scenario, clock, cluster, adapters, health, journal, engine, initial_balances(cluster)
    )
