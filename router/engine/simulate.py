"""``router simulate``: replay a scenario's close through the real engine, ccxt and journal.

The scenario's venues run in this process on loopback; the engine talks to them through
unmodified ccxt exactly as it would to exchanges, journals to SQLite (or the given
URL), and paces itself on the scenario's clock, so a 30-minute crisis at speed 60
replays in about 30 seconds.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.config import load_policy
from router.core.guard import GuardedPosition
from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.guard import Guard
from router.engine.outcome import CloseResult
from router.engine.pacing import Pacing
from router.engine.progress import ProgressHook
from router.engine.request import CloseRequest
from router.harness.connect import binance_client, close_client
from router.journal.db import journal_url
from router.journal.repository import Journal
from router.sim.clock import ScaledClock
from router.sim.scenario import Scenario, load_scenario
from router.sim.server import SimCluster
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker
from router.venues.loader import load_venue

log = logging.getLogger(__name__)


@dataclass
class SimulatedWorld:
    """A running scenario with adapters wired to it: used by ``router simulate`` and tests."""

    scenario: Scenario
    cluster: SimCluster
    clock: ScaledClock
    adapters: dict[str, VenueAdapter]
    health: dict[str, CircuitBreaker]

    def pacing(self) -> Pacing:
        return Pacing(monotonic=self.clock.seconds, sleep=self.clock.sleep)


async def open_world(
    stack: AsyncExitStack, scenario: Scenario, *, seed: int, tls_dir: Path
) -> SimulatedWorld:
    clock = ScaledClock(scenario.speed, start=scenario.close.at_s)
    clock.pause()
    cluster = SimCluster(scenario, seed=seed, tls_dir=tls_dir, clock=clock)
    await cluster.start()
    stack.push_async_callback(cluster.stop)
    adapters: dict[str, VenueAdapter] = {}
    health: dict[str, CircuitBreaker] = {}
    for endpoint in cluster.endpoints():
        exchange = binance_client(endpoint)
        stack.push_async_callback(close_client, exchange)
        adapter = VenueAdapter(endpoint.name, exchange, sleep=clock.sleep)
        breaker = CircuitBreaker(clock=clock.seconds, venue=endpoint.name)
        # a venue that fails to load is loaded again in the background until it loads
        await load_venue(stack, adapter, breaker, sleep=clock.sleep)
        adapters[endpoint.name] = adapter
        health[endpoint.name] = breaker
    return SimulatedWorld(scenario, cluster, clock, adapters, health)


def scenario_request(scenario: Scenario, *, key: str) -> CloseRequest:
    spec = scenario.close
    quantity: Any = spec.quantity if spec.quantity == "all" else Decimal(spec.quantity)
    return CloseRequest(
        symbol=scenario.base_asset,
        quote=scenario.quote_asset,
        side=spec.side,
        quantity=quantity,
        urgency=spec.urgency,
        danger=spec.danger,
        unrealized_pnl=spec.unrealized_pnl,
        volatility=spec.volatility,
        reason=f"replay of scenario {scenario.name}",
        idempotency_key=key,
        allow_hedge=spec.allow_hedge,
        deadline_s=spec.deadline_s,
    )


async def simulate(
    scenario_name: str,
    *,
    seed: int = 0,
    db_url: str | None = None,
    policy: Policy | None = None,
    on_progress: ProgressHook | None = None,
) -> CloseResult:
    """Replay the scenario's close; ``on_progress`` observes it wave by wave."""
    scenario = load_scenario(scenario_name)
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = await open_world(stack, scenario, seed=seed, tls_dir=workdir / "tls")
        journal = await Journal.open(journal_url(db_url))
        stack.push_async_callback(journal.close)
        engine = Engine(
            journal,
            world.adapters,
            world.health,
            policy or load_policy(),
            pacing=world.pacing(),
        )
        world.clock.restart(scenario.close.at_s)
        key = f"simulate-{scenario.name}-{seed}-{uuid.uuid4().hex[:8]}"
        request = scenario_request(scenario, key=key)
        return await engine.close(request, on_progress=on_progress)


async def guard_replay(
    scenario_name: str,
    positions: list[GuardedPosition],
    *,
    seed: int = 0,
    db_url: str | None = None,
    poll_s: float = 5.0,
    danger: Decimal = Decimal("0.5"),
    allow_hedge: bool = True,
    until_s: Decimal | None = None,
    policy: Policy | None = None,
) -> list[CloseResult]:
    """Run guard mode over a scenario from its start until every position is closed,
    the scenario ends or ``until_s`` (scenario seconds) is reached."""
    scenario = load_scenario(scenario_name)
    end = min(scenario.duration_s, until_s) if until_s is not None else scenario.duration_s
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        replay = scenario.model_copy(
            update={"close": scenario.close.model_copy(update={"at_s": Decimal(0)})}
        )
        world = await open_world(stack, replay, seed=seed, tls_dir=workdir / "tls")
        journal = await Journal.open(journal_url(db_url))
        stack.push_async_callback(journal.close)
        engine = Engine(
            journal, world.adapters, world.health, policy or load_policy(), pacing=world.pacing()
        )
        guard = Guard(
            engine, positions, danger=danger, allow_hedge=allow_hedge, quote=scenario.quote_asset
        )
        world.clock.restart(Decimal(0))
        while world.clock.now() < end and guard.open_quantity() > 0:
            await guard.check_once()
            await world.clock.sleep(poll_s)
        return guard.results
