"""The router on the wire: request to first-wave orders, a burst of closes, and overhead.

* **Request to first wave**: venues run in this process on a manual clock; each venue's
  order observer timestamps every order as it enters the venue's ledger. The figure is
  the time from ``Engine.close`` being called until the last order of the close's first
  wave (its attempts in the journal) has arrived. It covers reading books and balances,
  planning, journaling every intent durably, signing and sending through ccxt, and the
  simulator parsing the requests; the simulator shares this process and event loop, so
  its own request handling is included (an upper bound on the router's part).
* **Burst**: many closes at once, each on its own symbol, against venues in a
  ``router sim serve`` subprocess: wall time until all are finished, time per close, and
  the CPU seconds this process (the router alone) used meanwhile.
* **Overhead**: closes in the real calm scenario (its network latency included), against
  a ``router sim serve`` subprocess. The router's own work is the CPU time its process
  spends during a close (``time.process_time``: planning, journaling, ccxt's signing and
  parsing, the event loop; not time blocked waiting for venue answers or pacing sleeps,
  which use no CPU); the simulator's work is in the other process and not counted. The
  figure is that CPU time over the close's wall time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from router.bench.speed_world import calm_world, local_world, remote_world
from router.core.lifecycle import CloseOutcome
from router.engine.engine import Engine
from router.engine.outcome import CloseResult
from router.engine.request import CloseRequest
from router.sim.orders import Order

WARMUP = 2
"""Closes run first and not counted: connections and caches warm up."""
REST_S = Decimal(30)
"""Scenario seconds the outside market moves on between timed closes."""


def _request(symbol: str, quantity: Decimal, key: str) -> CloseRequest:
    return CloseRequest(
        symbol=symbol, side="sell", quantity=quantity, urgency=Decimal("0.9"), idempotency_key=key
    )


@dataclass(frozen=True)
class FirstWave:
    venues: int
    throttle: bool
    seconds: list[float]
    orders: list[int]


async def time_first_wave(
    venues: int, closes: int, workdir: Path, *, throttle: bool = True
) -> FirstWave:
    """Seconds from ``Engine.close`` to the whole first wave at the venues, per close.

    Each close sells one BTC per venue, so that the first wave spreads over the venues.
    """
    arrivals: dict[str, float] = {}

    def arrived(order: Order) -> None:
        arrivals[order.client_order_id] = time.perf_counter()

    seconds: list[float] = []
    orders: list[int] = []
    async with local_world(calm_world(venues), workdir, throttle=throttle) as world:
        for running in world.cluster.venues.values():
            running.venue.order_listeners.append(arrived)
        for index in range(WARMUP + closes):
            request = _request("BTC", Decimal(venues), f"speed-wave-{venues}-{index}")
            started = time.perf_counter()
            result = await world.engine.close(request)
            attempts = await world.journal.attempts(result.close_id)
            first = min(a.wave for a in attempts)
            wave = [a.client_order_id for a in attempts if a.wave == first]
            missing = [c for c in wave if c not in arrivals]
            if missing:
                raise RuntimeError(f"first-wave orders never reached a venue: {missing}")
            if index >= WARMUP:
                seconds.append(max(arrivals[c] for c in wave) - started)
                orders.append(len(wave))
            world.rest(REST_S)
    return FirstWave(venues, throttle, seconds, orders)


@dataclass(frozen=True)
class Burst:
    closes: int
    throttle: bool
    wall_s: float
    cpu_s: float
    per_close: list[float]


async def _timed_close(engine: Engine, request: CloseRequest) -> float:
    started = time.perf_counter()
    result = await engine.close(request)
    _require_flat(result)
    return time.perf_counter() - started


def _require_flat(result: CloseResult) -> None:
    if result.outcome != CloseOutcome.FLAT:
        raise RuntimeError(f"close {result.close_id} ended {result.outcome}: {result.reason}")


async def time_burst(symbols: int, workdir: Path, *, throttle: bool = True) -> Burst:
    """``symbols`` closes at once, one per symbol (BTC and synthetic assets), 3 venues.

    A first burst of small closes warms the connections up and is not counted.
    """
    scenario = calm_world(3, extra_assets=symbols - 1, frozen=True)
    assets = [scenario.base_asset, *scenario.extra_asset_names()]
    async with remote_world(scenario, workdir, throttle=throttle) as world:
        await asyncio.gather(
            *(
                _timed_close(world.engine, _request(a, Decimal("0.1"), f"speed-warm-{a}"))
                for a in assets
            )
        )
        cpu = time.process_time()
        started = time.perf_counter()
        per_close = await asyncio.gather(
            *(
                _timed_close(world.engine, _request(a, Decimal("0.5"), f"speed-burst-{a}"))
                for a in assets
            )
        )
        wall = time.perf_counter() - started
        return Burst(len(assets), throttle, wall, time.process_time() - cpu, list(per_close))


@dataclass(frozen=True)
class Overhead:
    closes: int
    throttle: bool
    wall_s: list[float]
    cpu_s: list[float]

    @property
    def share(self) -> float:
        """The router's CPU seconds over wall seconds, over all timed closes."""
        return sum(self.cpu_s) / sum(self.wall_s)


async def time_overhead(closes: int, workdir: Path, *, throttle: bool = True) -> Overhead:
    """CPU time of this process over wall time, per close of 0.5 BTC in calm."""
    wall: list[float] = []
    cpu: list[float] = []
    async with remote_world("calm", workdir, throttle=throttle) as world:
        for index in range(WARMUP + closes):
            request = _request("BTC", Decimal("0.5"), f"speed-overhead-{index}")
            cpu_started = time.process_time()
            started = time.perf_counter()
            result = await world.engine.close(request)
            elapsed = time.perf_counter() - started
            used = time.process_time() - cpu_started
            _require_flat(result)
            if index >= WARMUP:
                wall.append(elapsed)
                cpu.append(used)
    return Overhead(closes, throttle, wall, cpu)
