"""The engine: runs closes, shares each symbol's liquidity between them, recovers on start.

Closes on the same symbol take turns planning and sending (one wave at a time under a
per-symbol lock), so two closes never both count the same bids: the second plans on
books that already show the first's wave. Closes on different symbols run freely in
parallel. On start the journal's recovery reconciles every unfinished close this
process can claim, and the engine resumes what remains of each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from router.core.policy import Policy
from router.engine.netting import NettingDesk
from router.engine.observer import NO_OBSERVER, OrderObserver
from router.engine.outcome import CloseResult, smallest_perp_lot
from router.engine.pacing import Pacing
from router.engine.ports import HealthPort, VenuePort
from router.engine.progress import ProgressHook
from router.engine.reconcile import VenueLookup
from router.engine.recovery import RecoveryReport, SettledClose, recover, settle_finished
from router.engine.request import CloseRequest
from router.engine.runner import CloseRunner
from router.engine.unwind import Unwinder, UnwindGate, UnwindResult
from router.journal.records import CloseView
from router.journal.recovery import sync_unwinds
from router.journal.repository import Journal
from router.venues.reports import LookupFailed, VenueOrder, VenueTrade


class _RoutingLookup:
    """Recovery's venue lookup, routed to the adapter of the attempt's venue."""

    def __init__(self, venues: Mapping[str, VenuePort]) -> None:
        self.venues = venues

    def _port(self, venue: str) -> VenuePort:
        port = self.venues.get(venue)
        if port is None:
            raise LookupFailed(f"venue {venue} is not configured")
        return port

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        return await self._port(venue).order_by_client_id(venue, market, symbol, client_order_id)

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]:
        return await self._port(venue).trades_for_order(venue, market, symbol, exchange_order_id)


@dataclass
class Engine:
    journal: Journal
    venues: Mapping[str, VenuePort]
    health: Mapping[str, HealthPort]
    policy: Policy
    pacing: Pacing = field(default_factory=Pacing)
    desk: NettingDesk = field(default_factory=NettingDesk)
    orders: OrderObserver = NO_OBSERVER
    """Told of every order sent and of its answer (see :mod:`router.engine.observer`)."""
    unwind_min_interval_s: float = 5.0
    """The shortest pause between two unwinds of one hedge (``service.unwind_min_interval_s``)."""
    _unwinds: UnwindGate = field(default_factory=UnwindGate)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _cancelled: set[str] = field(default_factory=set)

    def cancel(self, close_id: str) -> None:
        """Stop a running close: no new wave or hedge starts; what is out is still
        reconciled, and the close ends with its residual named. The request is
        forgotten once the close has finished here."""
        self._cancelled.add(close_id)

    def _lock(self, symbol: str) -> asyncio.Lock:
        return self._locks.setdefault(symbol, asyncio.Lock())

    async def close(
        self,
        request: CloseRequest,
        *,
        liquidity: Decimal | None = None,
        on_progress: ProgressHook | None = None,
    ) -> CloseResult:
        """Run one close to its stated outcome.

        ``on_progress``, if given, receives a ``router.engine.progress.CloseProgress``
        snapshot when the spot phase starts, after every wave, before a hedge and at the
        outcome.
        """
        unknown = [v for v in request.venues or [] if v not in self.venues]
        if unknown:
            raise ValueError(f"unknown venues: {', '.join(unknown)}")
        runner = CloseRunner(
            self.journal,
            self.venues,
            self.health,
            self.policy,
            request,
            pacing=self.pacing,
            symbol_lock=self._lock(request.symbol),
            liquidity=liquidity,
            desk=self.desk,
            cancelled=self._cancelled.__contains__,
            on_progress=on_progress,
            orders=self.orders,
        )
        result = await runner.run()
        if result.outcome is not None:
            self._cancelled.discard(result.close_id)
        return result

    async def recover(self, busy: Callable[[CloseView], bool] | None = None) -> RecoveryReport:
        lookup: VenueLookup = _RoutingLookup(self.venues)
        return await recover(self.journal, lookup, lease=self.pacing.lease, busy=busy)

    async def settle_finished(self) -> list[SettledClose]:
        """Look up the orders finished closes left in doubt; restate those closes."""
        lookup = _RoutingLookup(self.venues)
        return await settle_finished(self.journal, lookup, perp_lot=self._perp_lot)

    def _perp_lot(self, close: CloseView) -> Decimal | None:
        """The smallest perp lot among the close's venues configured here."""
        request = CloseRequest.from_journal(close.request)
        names = [n for n in request.venues or self.venues if n in self.venues]
        return smallest_perp_lot(self.venues, names, request.perp_symbol)

    async def reconcile(
        self, busy: Callable[[CloseView], bool] | None = None
    ) -> list[CloseRequest]:
        """One pass of the keeper: settle what finished closes left in doubt, then claim
        and reconcile every unfinished close nobody holds (a crashed run of this router,
        or another router whose lease expired); return the requests ready to resume."""
        await self.settle_finished()
        await sync_unwinds(self.journal)
        report = await self.recover(busy)
        return [
            CloseRequest.from_journal(recovered.close.request)
            for recovered in report.closes
            if recovered.resumable
        ]

    async def resume(self) -> list[CloseResult]:
        """Recover, finish every close recovery could reconcile (in place), then settle
        what those closes left in doubt."""
        results = [await self.close(request) for request in await self.reconcile()]
        if results:
            await self.settle_finished()
        return results

    async def unwind(
        self, hedge_id: int, quantity: Decimal | None = None, *, with_spot: bool = False
    ) -> UnwindResult:
        """Buy back (part of) a perp hedge reduce-only; return what was bought back, what
        is still short, the hedge's state and why less than asked was bought back.

        The operator (or a later close) sells the spot the hedge covered; this takes the
        matching perp short off so the position's delta stays covered throughout. With
        ``with_spot`` the engine first sells the inventory the hedge covers itself, on
        the covered venues that can trade now (:mod:`router.engine.release`), and buys
        back exactly what it sold. Refusals, before any order, are
        :class:`~router.engine.errors.UnwindRefused` (see :mod:`router.engine.unwind`):
        one unwind of a hedge runs at a time, and a hedge is unwound at most once every
        ``unwind_min_interval_s`` seconds of ``pacing.wall``.
        """
        unwinder = Unwinder(
            self.journal,
            self.venues,
            self.health,
            self.policy,
            self.pacing,
            self._unwinds,
            self.unwind_min_interval_s,
            orders=self.orders,
        )
        return await unwinder.unwind(hedge_id, quantity, with_spot=with_spot)
