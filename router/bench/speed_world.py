"""Worlds for the speed benchmarks: calm scenarios built in code, venues in this process
(with an order observer) or in a ``router sim serve`` subprocess, and engines wired to them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.config import load_policy
from router.engine.engine import Engine
from router.engine.pacing import Pacing
from router.harness.connect import binance_client, close_client
from router.journal.repository import Journal
from router.sim.clock import ManualClock
from router.sim.endpoint import VenueEndpoint
from router.sim.scenario import Scenario, load_scenario
from router.sim.server import SimCluster
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker

STARTUP_S = 60.0
HOLDING = Decimal(100_000)
"""Base-asset balance of every benchmark venue: enough for every close a run sends."""


def calm_world(venues: int = 3, *, extra_assets: int = 0, frozen: bool = False) -> Scenario:
    """The calm scenario with ``venues`` venues (calm's three cloned under new names),
    no network latency, no faults and large balances.

    ``frozen`` keeps the outside books as they are at the start (the scenario tick is
    its whole duration): with many symbols, regenerating every book each tick would
    load the simulator far more than the router under test.
    """
    calm = load_scenario("calm")
    specs = []
    for index in range(venues):
        spec = calm.venues[index % len(calm.venues)]
        name = spec.name if index < len(calm.venues) else f"{spec.name}{index // 3 + 1}"
        balances = {**spec.balances, calm.base_asset: HOLDING}
        specs.append(
            spec.model_copy(
                update={
                    "name": name,
                    "latency_ms": Decimal(0),
                    "latency_jitter_ms": Decimal(0),
                    "balances": balances,
                }
            )
        )
    update: dict[str, Any] = {"venues": specs, "faults": [], "extra_assets": extra_assets}
    if frozen:
        update["tick_s"] = calm.duration_s
    return Scenario.model_validate({**calm.model_dump(), **update})


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as a TOML file ``router sim serve --scenario`` reads back unchanged."""
    data = scenario.model_dump(mode="json")
    for venue in data["venues"]:
        if venue["futures"] is None:
            venue["futures"] = False
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items() if v is not None]
    return "\n".join(lines) + "\n"


def make_engine(
    journal: Journal, adapters: dict[str, VenueAdapter], clock: Callable[[], float], **kw: Any
) -> Engine:
    health = {name: CircuitBreaker(clock=clock, venue=name) for name in adapters}
    return Engine(journal, adapters, health, load_policy(), **kw)


async def _adapters(
    stack: AsyncExitStack, endpoints: list[VenueEndpoint], throttle: bool
) -> dict[str, Any]:
    """Adapters as the router builds them; ``throttle=False`` then turns ccxt's
    client-side rate limiter off, to see the router's path without its waits."""
    adapters: dict[str, VenueAdapter] = {}
    for endpoint in endpoints:
        exchange = binance_client(endpoint)
        stack.push_async_callback(close_client, exchange)
        adapter = VenueAdapter(endpoint.name, exchange)
        await adapter.load()
        exchange.enableRateLimit = throttle
        adapters[endpoint.name] = adapter
    return adapters


@dataclass
class LocalWorld:
    """Venues in this process on a manual clock, and an engine whose pauses advance it."""

    cluster: SimCluster
    clock: ManualClock
    journal: Journal
    engine: Engine

    def rest(self, seconds: Decimal) -> None:
        """Let the outside market move on (taken liquidity comes back)."""
        self.clock.advance(seconds)
        self.cluster.step()


@asynccontextmanager
async def local_world(
    scenario: Scenario, workdir: Path, *, throttle: bool = True
) -> AsyncIterator[LocalWorld]:
    async with AsyncExitStack() as stack:
        clock = ManualClock()
        cluster = SimCluster(scenario, seed=0, tls_dir=workdir / "tls", clock=clock)
        await cluster.start()
        stack.push_async_callback(cluster.stop)
        adapters = await _adapters(stack, cluster.endpoints(), throttle)
        journal = await Journal.open(f"sqlite+aiosqlite:///{workdir / 'journal.db'}")
        stack.push_async_callback(journal.close)

        async def pause(seconds: float) -> None:
            clock.advance(Decimal(repr(max(seconds, 0.0))))
            cluster.step()
            await asyncio.sleep(0)

        pacing = Pacing(monotonic=lambda: float(clock.now()), sleep=pause)
        engine = make_engine(journal, adapters, lambda: float(clock.now()), pacing=pacing)
        yield LocalWorld(cluster, clock, journal, engine)


@dataclass
class RemoteWorld:
    """Venues served by a ``router sim serve`` subprocess; an engine on real time."""

    journal: Journal
    engine: Engine


@asynccontextmanager
async def remote_world(
    scenario: str | Scenario, workdir: Path, *, throttle: bool = True
) -> AsyncIterator[RemoteWorld]:
    """``scenario`` is a scenario name, or a scenario written to a TOML file for the
    subprocess. The simulator's CPU is spent in that process, not in this one."""
    argument = _scenario_argument(scenario, workdir)
    async with AsyncExitStack() as stack:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "router.cli", "sim", "serve", "--scenario", argument),
            *("--tls-dir", str(workdir / "tls")),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        stack.push_async_callback(_stop, process)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_S)
        if not line:
            raise RuntimeError(f"router sim serve exited with {await process.wait()}")
        announced = json.loads(line)
        endpoints = [
            VenueEndpoint(
                name=venue["name"],
                port=venue["port"],
                ca_cert=Path(announced["ca_cert"]),
                api_key=venue["api_key"],
                secret=venue["secret"],
            )
            for venue in announced["venues"]
        ]
        adapters = await _adapters(stack, endpoints, throttle)
        journal = await Journal.open(f"sqlite+aiosqlite:///{workdir / 'journal.db'}")
        stack.push_async_callback(journal.close)
        loop = asyncio.get_running_loop()
        yield RemoteWorld(journal, make_engine(journal, adapters, loop.time))


def _scenario_argument(scenario: str | Scenario, workdir: Path) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(scenario, str):
        return scenario
    path = workdir / f"{scenario.name}.toml"
    path.write_text(scenario_toml(scenario), encoding="utf-8")
    return str(path)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
