"""The strategies the quality bench compares: the router, three baselines and the oracle.

Each runs in its own fresh simulated world of the same (scenario, seed) and returns an
:class:`~router.bench.quality_metrics.Execution`. The baselines are what a user without
a router does: market orders through the same :class:`VenueAdapter` the engine uses,
selling the position where it sits (a venue can only sell the coins it holds).

- ``market_dump``: every venue's holdings sold there at once, one market order each;
  one resend of whatever was not filled.
- ``equal_split``: the quantity split equally across the venues (capped by what each
  holds), one shot; then one round splitting what is left equally over the venues that
  still hold something.
- ``twap5``: five equal market slices of each venue's holdings, evenly spaced over the
  close's deadline (300 s without one), on the scenario clock; a slice also sends what
  the previous ones did not fill. ``single_venue=True`` slices only the venue holding most.
- ``oracle``: no orders; the lot-aware consolidated sweep of the books read at the
  decision instant (:func:`router.core.allocation.allocate`, unbounded), without impact
  or latency.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Protocol

from router.bench.quality_metrics import ZERO, ExecFill, Execution
from router.core.book import Side
from router.core.policy import Policy
from router.core.purpose import OWN_PURPOSES, Purpose
from router.engine.engine import Engine
from router.engine.request import CloseRequest
from router.engine.simulate import SimulatedWorld
from router.journal.repository import Journal
from router.sim.scenario import Scenario
from router.venues.adapter import VenueAdapter
from router.venues.errors import VenueError
from router.venues.model import MarketInfo, Outcome, PlaceResult
from router.venues.reports import LookupFailed, VenueTrade

TWAP_DEFAULT_HORIZON_S = Decimal(300)
ORACLE_DEPTH = 5000
"""Book levels the oracle reads (the deepest a Binance spot book answers)."""


@dataclass(frozen=True)
class BenchCase:
    """One (scenario, seed): what every strategy is asked to do."""

    scenario: Scenario
    seed: int
    request: CloseRequest
    requested: Decimal
    window_s: Decimal
    """Length of the escape window: the close's deadline, else until the scenario ends."""
    workdir: Path

    @property
    def start_s(self) -> Decimal:
        return self.scenario.close.at_s

    @property
    def symbol(self) -> str:
        return self.request.spot_symbol

    @property
    def side(self) -> Side:
        return Side(self.request.side)


def start(world: SimulatedWorld, case: BenchCase) -> datetime:
    """Let scenario time run from the decision instant; the wall time it did so."""
    world.clock.restart(case.start_s)
    return datetime.now(UTC)


class Strategy(Protocol):
    name: str

    async def execute(self, world: SimulatedWorld, case: BenchCase) -> Execution:
        """Run in ``world`` (paused at the decision instant) and say what was done."""
        ...


def _spot(adapter: VenueAdapter, symbol: str) -> MarketInfo | None:
    try:
        return adapter.market(symbol)
    except KeyError:
        return None


async def holdings(world: SimulatedWorld, case: BenchCase) -> dict[str, Decimal]:
    """What each venue holds of the position (unreadable venues hold nothing usable)."""
    asset = case.scenario.base_asset

    async def read(adapter: VenueAdapter) -> Decimal:
        if _spot(adapter, case.symbol) is None:
            return ZERO
        try:
            return await adapter.free_balance(asset)
        except VenueError:
            return ZERO

    names = list(world.adapters)
    values = await asyncio.gather(*(read(world.adapters[n]) for n in names))
    balances = dict(zip(names, values, strict=True))
    if case.request.quantity == "all":
        return balances
    left, plan = case.requested, {}
    for name in sorted(balances, key=lambda n: balances[n], reverse=True):
        plan[name] = min(balances[name], left)
        left -= plan[name]
    return plan


@dataclass
class MarketSender:
    """Market orders through the adapters, with their fills and a count of what was sent."""

    world: SimulatedWorld
    case: BenchCase
    orders: int = 0
    venues: set[str] = field(default_factory=set)
    fills: list[ExecFill] = field(default_factory=list)

    def sizes(self, venue: str, quantity: Decimal) -> list[Decimal]:
        """``quantity`` on the venue's lot grid, in orders the venue accepts as market."""
        market = _spot(self.world.adapters[venue], self.case.symbol)
        if market is None or quantity <= 0:
            return []
        size = quantity.quantize(market.lot_step, rounding=ROUND_DOWN)
        if size < market.min_qty:
            return []
        chunk = market.market_max_qty or size
        chunk = chunk.quantize(market.lot_step, rounding=ROUND_DOWN)
        parts: list[Decimal] = []
        while size > 0:
            part = min(chunk, size)
            if part < market.min_qty:
                break
            parts.append(part)
            size -= part
        return parts

    async def sell(self, venue: str, quantity: Decimal) -> Decimal:
        """Send ``quantity`` (in as few market orders as allowed); the quantity filled."""
        filled = ZERO
        for part in self.sizes(venue, quantity):
            filled += await self._one(venue, part)
        return filled

    async def sell_many(self, plan: dict[str, Decimal]) -> dict[str, Decimal]:
        """All venues of ``plan`` at once; what each filled."""
        names = [n for n, q in plan.items() if q > 0]
        got = await asyncio.gather(*(self.sell(n, plan[n]) for n in names))
        return dict(zip(names, got, strict=True))

    async def _one(self, venue: str, quantity: Decimal) -> Decimal:
        adapter = self.world.adapters[venue]
        client_id = f"bench-{uuid.uuid4().hex[:24]}"
        self.orders += 1
        self.venues.add(venue)
        result = await adapter.place_order(
            self.case.symbol,
            self.case.request.side,
            quantity,
            client_order_id=client_id,
            limit_price=None,
        )
        trades = await self._trades(adapter, result)
        now = self.world.clock.now()
        got = ZERO
        for trade in trades:
            self.fills.append(ExecFill(venue, trade.quantity, trade.price, now))
            got += trade.quantity
        return got

    async def _trades(self, adapter: VenueAdapter, result: PlaceResult) -> Sequence[VenueTrade]:
        kind = adapter.market(self.case.symbol).kind
        order_id = result.exchange_order_id
        try:
            if result.outcome is Outcome.UNKNOWN:
                order = await adapter.order_by_client_id(
                    adapter.name, kind, self.case.symbol, result.client_order_id
                )
                if order is None:
                    return ()
                order_id = order.exchange_order_id
            elif result.outcome is Outcome.NOT_PLACED:
                return ()
            if sum((t.quantity for t in result.fills), ZERO) >= result.filled and result.fills:
                return result.fills
            if order_id is None:
                return result.fills
            return await adapter.trades_for_order(adapter.name, kind, self.case.symbol, order_id)
        except LookupFailed:
            return result.fills

    def execution(self, name: str, *, hedged: Decimal = ZERO) -> Execution:
        start_s = self.case.start_s
        last = max((f.at_s for f in self.fills), default=None)
        return Execution(
            strategy=name,
            fills=tuple(self.fills),
            orders=self.orders,
            venues_used=frozenset(self.venues),
            time_to_exit_s=self.case.window_s if last is None else last - start_s,
        )


def equal_shares(total: Decimal, capacity: dict[str, Decimal]) -> dict[str, Decimal]:
    """``total`` split equally over the venues with capacity, each capped by its capacity."""
    holders = [n for n, c in capacity.items() if c > 0]
    if not holders or total <= 0:
        return {}
    share = total / len(holders)
    return {n: min(share, capacity[n]) for n in holders}


@dataclass
class MarketDump:
    name: str = "market_dump"

    async def execute(self, world: SimulatedWorld, case: BenchCase) -> Execution:
        held = await holdings(world, case)
        sender = MarketSender(world, case)
        start(world, case)
        first = await sender.sell_many(held)
        await sender.sell_many({n: q - first.get(n, ZERO) for n, q in held.items()})
        return sender.execution(self.name)


@dataclass
class EqualSplit:
    name: str = "equal_split"

    async def execute(self, world: SimulatedWorld, case: BenchCase) -> Execution:
        held = await holdings(world, case)
        sender = MarketSender(world, case)
        start(world, case)
        first = await sender.sell_many(equal_shares(case.requested, held))
        left = {n: q - first.get(n, ZERO) for n, q in held.items()}
        rest = case.requested - sum(first.values(), ZERO)
        await sender.sell_many(equal_shares(rest, left))
        return sender.execution(self.name)


@dataclass
class Twap:
    slices: int = 5
    single_venue: bool = False
    name: str = "twap5"

    async def execute(self, world: SimulatedWorld, case: BenchCase) -> Execution:
        held = await holdings(world, case)
        if self.single_venue and held:
            top = max(held, key=lambda n: held[n])
            held = {top: held[top]}
        horizon = case.request.deadline_s or TWAP_DEFAULT_HORIZON_S
        sender = MarketSender(world, case)
        start(world, case)
        done: dict[str, Decimal] = {n: ZERO for n in held}
        for k in range(self.slices):
            due = case.start_s + horizon * k / self.slices
            await world.clock.sleep(float(due - world.clock.now()))
            target = {n: q * (k + 1) / self.slices for n, q in held.items()}
            got = await sender.sell_many({n: target[n] - done[n] for n in held})
            for n, q in got.items():
                done[n] += q
        return sender.execution(self.name)


@dataclass
class RouterStrategy:
    """The engine with the given policy, exactly as ``router simulate`` runs it."""

    policy: Policy
    name: str = "router"

    async def execute(self, world: SimulatedWorld, case: BenchCase) -> Execution:
        journal = await Journal.open(f"sqlite+aiosqlite:///{case.workdir / 'journal.db'}")
        try:
            engine = Engine(
                journal, world.adapters, world.health, self.policy, pacing=world.pacing()
            )
            anchor = start(world, case)
            result = await engine.close(case.request)
            attempts = await journal.attempts(result.close_id)
            fills = await journal.fills(result.close_id)
        finally:
            await journal.close()
        purpose = {a.client_order_id: a.purpose for a in attempts}
        speed = case.scenario.speed
        spot: list[ExecFill] = []
        hedge_notional = ZERO
        for f in fills:
            kind = purpose.get(f.client_order_id or "")
            if kind in OWN_PURPOSES:
                elapsed = Decimal(repr((f.traded_at - anchor).total_seconds()))
                at_s = case.start_s + max(elapsed, ZERO) * speed
                spot.append(ExecFill(f.venue, f.quantity, f.price, at_s))
            elif kind == Purpose.HEDGE:
                hedge_notional += f.quantity * f.price
        return Execution(
            strategy=self.name,
            fills=tuple(spot),
            hedged=result.hedged,
            hedge_notional=hedge_notional,
            orders=len(attempts),
            venues_used=frozenset(a.venue for a in attempts),
            time_to_exit_s=Decimal(repr(result.duration_s)),
        )
