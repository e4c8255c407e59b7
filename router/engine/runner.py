"""Running one close to a stated outcome: waves, escalation, pacing, hedge fallback.

The close starts on the ladder rung its stop tier implies and climbs a rung whenever
a wave fills less than the policy's threshold (or nothing can be placed within the
cap). It is paced by the urgency schedule; when the escape window or the request's
deadline runs out with spot still unsold, or the top rung can place nothing, the
remainder is hedged with a perpetual short where allowed. It always ends FLAT,
HEDGED or STRANDED, with the residual named.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from router.core.book import Side
from router.core.liquidity import escape_window
from router.core.policy import Policy
from router.engine.crossing import INTERNAL, record_netting
from router.engine.doubt import hedged_before, settle_doubts
from router.engine.hedge import HedgePlan, open_hedge
from router.engine.lease import CloseLease
from router.engine.netting import NettingDesk, NettingEntry
from router.engine.outcome import CloseFigures, CloseResult, state_outcome, summarize
from router.engine.pacing import Pacing
from router.engine.ports import HealthPort, VenuePort, lists
from router.engine.progress import (
    CloseFacts,
    Phase,
    ProgressHook,
    SpotTally,
    notify,
    snapshot,
)
from router.engine.request import CloseRequest
from router.engine.route import cheap_at_once, hedge_now
from router.engine.waves import (
    VenueState,
    WaveContext,
    book_levels,
    consolidated_touch,
    failure_kind,
    inventory_for,
)
from router.journal.records import CloseView, NewClose
from router.journal.repository import Journal

ZERO = Decimal(0)
ONE = Decimal(1)
STALL_WAVES = 3
MAX_REFUSALS = 2
TRICKLE = Decimal("0.05")
"""On the top rung, waves filling less than this share of their target are stalls."""


@dataclass
class CloseRunner:
    journal: Journal
    venues: Mapping[str, VenuePort]
    health: Mapping[str, HealthPort]
    policy: Policy
    request: CloseRequest
    pacing: Pacing = field(default_factory=Pacing)
    symbol_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    liquidity: Decimal | None = None
    desk: NettingDesk = field(default_factory=NettingDesk)
    cancelled: Callable[[str], bool] = lambda close_id: False
    """Whether the operator cancelled the close: no new wave (nor hedge) starts then."""
    refusals: dict[str, int] = field(default_factory=dict)
    """Orders each venue refused outright in this close; after two it is not asked again."""
    on_progress: ProgressHook | None = None
    """Observer given a snapshot at the start, after every wave and at the outcome."""
    hedge_choice: bool = True
    """Whether a wave may stop spot for a better-paying perpetual (off once it fell short)."""
    lease: CloseLease | None = None
    """This router's hold on the close while it runs (see :mod:`router.engine.lease`)."""

    @property
    def side(self) -> Side:
        return Side(self.request.side)

    def _names(self, *, spot: bool = True) -> list[str]:
        names = self.request.venues or list(self.venues)
        return [
            n
            for n in names
            if n in self.venues and (not spot or self.refusals.get(n, 0) < MAX_REFUSALS)
        ]

    async def _states(self, symbol: str, asset_side: Side) -> list[VenueState]:
        """Books and inventories of the healthy venues listing ``symbol``."""
        names = [
            n for n in self._names() if self.health[n].allow() and lists(self.venues[n], symbol)
        ]
        gathered = await asyncio.gather(
            *(self._state(n, symbol, asset_side) for n in names), return_exceptions=True
        )
        states: list[VenueState] = []
        for name, got in zip(names, gathered, strict=True):
            if isinstance(got, BaseException):
                self.health[name].record_failure(failure_kind(got))
                await self.journal.record_venue_event(
                    venue=name, kind="read_failed", detail=f"{type(got).__name__}: {got}"[:500]
                )
                continue
            self.health[name].record_success()
            states.append(got)
        return states

    async def _state(self, name: str, symbol: str, side: Side) -> VenueState:
        venue = self.venues[name]
        market = venue.market(symbol)
        asset = market.base if side is Side.SELL else market.quote
        view, balance = await asyncio.gather(venue.order_book(symbol), venue.free_balance(asset))
        touch = view.book.best_ask if side is Side.BUY else view.book.best_bid
        inventory = inventory_for(side, balance, touch, market.taker_fee, market.lot_step)
        return VenueState(name, market, view, inventory)

    async def _quantity(self, states: list[VenueState]) -> Decimal:
        if self.request.quantity != "all":
            return self.request.quantity
        return sum((s.inventory for s in states), ZERO)

    async def run(self) -> CloseResult:
        """Run the close; a close arriving together with an opposite one nets against it.

        The netting entry is taken before the first await, so closes submitted at the
        same moment all see each other before either sends anything.
        """
        request = self.request
        wanted = ZERO if request.quantity == "all" else request.quantity
        entry = self.desk.join(request.idempotency_key, request.symbol, request.side, wanted)
        try:
            return await self._run(entry)
        finally:
            self.desk.leave(entry)

    async def _run(self, entry: NettingEntry) -> CloseResult:
        request = self.request
        spot = request.spot_symbol
        started = self.pacing.monotonic()
        states = await self._states(spot, self.side)
        reference, arrival_mid = consolidated_touch([s.view.book for s in states], self.side)
        quantity = await self._quantity(states)
        close, created = await self.journal.create_close(
            NewClose(
                idempotency_key=request.idempotency_key,
                symbol=request.symbol,
                side=request.side,
                quantity=quantity,
                request=request.model_dump(mode="json"),
                reference_price=reference,
                lease=self.pacing.lease,
            )
        )
        if not created:
            if close.outcome is not None or not await self.journal.claim(
                close.id, self.pacing.lease
            ):
                return await summarize(
                    self.journal, close.id, arrival_mid, self.pacing.monotonic() - started
                )
            quantity = close.requested_qty
        self.lease = CloseLease(
            self.journal, close.id, self.pacing.lease, self.pacing.wall, self.pacing.lease_sleep
        )
        async with self.lease.kept():
            return await self._owned(
                close, entry, quantity, states, reference, arrival_mid, started
            )

    async def _hold(self) -> None:
        assert self.lease is not None
        await self.lease.hold()

    def _may_send(self) -> bool:
        return self.lease is not None and self.lease.may_send()

    async def _owned(
        self,
        close: CloseView,
        entry: NettingEntry,
        quantity: Decimal,
        states: list[VenueState],
        reference: Decimal | None,
        arrival_mid: Decimal | None,
        started: float,
    ) -> CloseResult:
        request = self.request
        spot = request.spot_symbol
        await self.journal.update_close(close.id, state="RUNNING")
        deadline = self._deadline(started)
        attempts = await self.journal.attempts(close.id)
        progress = SpotTally.from_attempts(attempts, started)
        # A close resumed after a crash may already hold hedge legs: never hedge twice.
        prior, hedge_doubt = await hedged_before(self.journal, attempts)
        prior = max(prior, close.hedged_qty)
        spot_quantity = quantity - prior - hedge_doubt
        entry.close_id = close.id
        progress = await self._spot_waves(
            close, spot_quantity, reference, deadline, states, progress, entry
        )
        remaining = spot_quantity - progress.filled - progress.in_doubt
        hedged = prior
        await self._hold()
        if remaining > 0 and request.allow_hedge and not progress.cancelled:
            self._report(close, progress, "hedge", hedged)
            hedged += await open_hedge(self._hedge_plan(close.id, progress.wave + 1), remaining)
            left = spot_quantity - progress.filled - progress.in_doubt - (hedged - prior)
            if progress.hedge_chosen and left > 0:
                # The perpetual took less than its books promised: the rest goes back to
                # spot, without the hedge choice this time.
                self.hedge_choice = False
                progress.hedge_chosen = False
                states = await self._states(spot, self.side)
                progress = await self._spot_waves(
                    close,
                    spot_quantity - (hedged - prior),
                    reference,
                    deadline,
                    states,
                    progress,
                    entry,
                )
        progress.in_doubt += hedge_doubt
        residual = quantity - progress.filled - hedged
        outcome, reason = self._outcome(
            quantity, progress.filled, hedged, progress.in_doubt, progress.why
        )
        await self._hold()
        await self.journal.finish_close(
            close.id,
            outcome,
            filled_qty=progress.filled,
            hedged_qty=hedged,
            residual_qty=residual,
            reason=reason,
        )
        self._report(close, progress, "done", hedged, outcome)
        return await summarize(
            self.journal, close.id, arrival_mid, self.pacing.monotonic() - started
        )

    def _before(self, deadline: float | None) -> bool:
        return deadline is not None and self.pacing.monotonic() < deadline

    def _deadline(self, started: float) -> float | None:
        limits: list[float] = []
        if self.request.deadline_s is not None:
            limits.append(float(self.request.deadline_s))
        if self.liquidity is not None:
            window = escape_window(
                self.request.danger,
                self.liquidity,
                self.request.volatility or ZERO,
                horizon_s=self.policy.liquidity.escape_horizon_s,
            )
            limits.append(float(window.seconds))
        return started + min(limits) if limits else None

    def _perp_lot(self) -> Decimal | None:
        """The smallest perp lot among the venues that could hedge."""
        steps = [
            self.venues[n].market(self.request.perp_symbol).lot_step
            for n in self._names(spot=False)
            if lists(self.venues[n], self.request.perp_symbol)
        ]
        return min(steps) if steps else None

    def _outcome(
        self, quantity: Decimal, filled: Decimal, hedged: Decimal, in_doubt: Decimal, why: str
    ) -> tuple[str, str]:
        return state_outcome(
            CloseFigures(quantity, filled, hedged, in_doubt),
            why,
            symbol=self.request.symbol,
            perp_lot=self._perp_lot(),
        )

    def _tier_name(self, rung: int) -> str:
        tolerance = self.policy.tolerance(rung)
        return "the unbounded tier" if tolerance is None else f"the {tolerance:.0%} tolerance"

    def _hedge_plan(self, close_id: str, wave: int) -> HedgePlan:
        return HedgePlan(
            journal=self.journal,
            venues=self.venues,
            health=self.health,
            close_id=close_id,
            side=self.side,
            perp_symbol=self.request.perp_symbol,
            names=self._names(spot=False),
            wave=wave,
            sleep=self.pacing.sleep,
            may_send=self._may_send,
        )

    async def _hedge_now(
        self,
        close_id: str,
        wave: int,
        remaining: Decimal,
        reference: Decimal | None,
        rung: int,
        states: list[VenueState],
    ) -> bool:
        """Whether to stop selling spot and hedge the rest (see router.engine.route)."""
        margin = self.policy.hedge_margin
        if margin is None or not self.request.allow_hedge or not self.hedge_choice:
            return False
        cap = self._cap(reference, rung, "aggressive", states)
        return await hedge_now(self._hedge_plan(close_id, wave), states, remaining, cap, margin)

    def _stall_reason(self, rung: int, filled: Decimal) -> str:
        tier = self._tier_name(rung)
        if filled == 0:
            book_side = "bids" if self.request.side == "sell" else "asks"
            return f"no {book_side} left even at {tier}"
        return f"{tier} keeps filling only a trickle"

    def _max_rung(self) -> int:
        """The highest ladder rung the request allows (its ``max_slippage``)."""
        ladder = self.policy.ladder
        limit = self.request.max_slippage
        if limit is None:
            return len(ladder) - 1
        allowed = [i for i, t in enumerate(ladder) if t is not None and t <= limit]
        return max(allowed, default=0)

    async def _spot_waves(
        self,
        close: CloseView,
        quantity: Decimal,
        reference: Decimal | None,
        deadline: float | None,
        states: list[VenueState],
        progress: SpotTally,
        entry: NettingEntry,
    ) -> SpotTally:
        policy = self.policy
        top = self._max_rung()
        rung = progress.rung = min(policy.starting_rung(self.request.unrealized_pnl), top)
        escape_now = deadline is not None and deadline - self.pacing.monotonic() < float(
            policy.liquidity.escape_now_below_s
        )
        schedule = policy.schedule(self.request.urgency, escape_now=escape_now)
        waves = WaveContext(
            self.journal,
            self.venues,
            self.health,
            close.id,
            self.side,
            self.request.spot_symbol,
            sleep=self.pacing.sleep,
            may_send=self._may_send,
        )
        stalled = 0
        batch = 0
        first = True
        self._report(close, progress, "spot", close.hedged_qty)
        while True:
            if progress.in_doubt > 0:
                await settle_doubts(self.journal, waves, progress)
            remaining = quantity - progress.filled - progress.in_doubt
            if remaining <= 0:
                if progress.in_doubt and self._before(deadline):
                    await self.pacing.sleep(self.pacing.doubt_recheck_s)
                    continue
                progress.why = "orders still in doubt" if progress.in_doubt else "sold"
                return progress
            if self.cancelled(close.id):
                progress.why = "cancelled by the operator"
                progress.cancelled = True
                return progress
            if deadline is not None and self.pacing.monotonic() >= deadline:
                progress.why = "the escape window closed before spot could be sold"
                return progress
            await self._hold()
            async with self.symbol_lock:
                if not first:
                    states = await self._states(self.request.spot_symbol, self.side)
                first = False
                if not states:
                    progress.why = "no healthy venue can take an order"
                    stalled += 1
                    if stalled >= STALL_WAVES:
                        return progress
                    await self.pacing.sleep(self.pacing.retry_after_empty_s)
                    continue
                if reference is None:
                    reference, _ = consolidated_touch([s.view.book for s in states], self.side)
                progress.wave += 1
                netted = self.desk.offset(entry, remaining)
                if netted > 0:
                    await record_netting(
                        self.journal,
                        close.id,
                        progress.wave,
                        netted,
                        states,
                        self.side,
                        waves.symbol,
                    )
                    progress.add(INTERNAL, netted)
                    remaining -= netted
                    if remaining <= 0:
                        continue
                await self.journal.record_books(
                    close.id, progress.wave, [book_levels(s) for s in states]
                )
                # The spot books the choice is made on are journaled first: the audit
                # shows why the rest was hedged.
                if await self._hedge_now(
                    close.id, progress.wave, remaining, reference, rung, states
                ):
                    progress.why = (
                        f"the perpetual pays more than spot at {self._tier_name(rung)} "
                        f"(by more than {policy.hedge_margin:%})"
                    )
                    progress.hedge_chosen = True
                    return progress
                pricing = schedule.pricing if batch < schedule.batches else "aggressive"
                cap = progress.limit_price = self._cap(reference, rung, pricing, states)
                target = remaining
                at_once = pricing == "aggressive" and cheap_at_once(
                    states, self.side, remaining, reference, cap, policy.split_above_impact
                )
                if batch < schedule.batches - 1 and not at_once:
                    coarsest = max(s.market.lot_step for s in states)
                    target = (remaining / (schedule.batches - batch)).quantize(
                        coarsest, rounding=ROUND_DOWN
                    )
                target = min(target, remaining)
                result = await waves.run(progress.wave, rung, states, target, cap)
            batch += 1
            await self._journal_circuits(close.id, progress.circuits)
            for name in result.rejected:
                self.refusals[name] = self.refusals.get(name, 0) + 1
            progress.add_wave(result.by_venue, result.in_doubt)
            ratio = result.filled / target if target > 0 else ZERO
            if ratio < policy.escalate_below_fill_ratio:
                following = policy.next_rung(rung) if rung < top else None
                if following is not None:
                    rung = following
                elif ratio < TRICKLE:
                    stalled += 1
                    if stalled >= STALL_WAVES:
                        progress.why = self._stall_reason(rung, result.filled)
                        return progress
            else:
                stalled = 0
            progress.rung = rung
            self._report(close, progress, "spot", close.hedged_qty)
            if batch < schedule.batches:
                await self.pacing.sleep(float(schedule.spacing_s))
            elif result.filled == 0:
                await self.pacing.sleep(self.pacing.retry_after_empty_s)

    async def _journal_circuits(self, close_id: str, circuits: dict[str, str]) -> None:
        """Circuit-breaker changes since the last wave become venue events."""
        for name, health in self.health.items():
            for change in health.changes():
                circuits[name] = change.new
                await self.journal.record_venue_event(
                    venue=name,
                    kind=f"circuit_{change.new}",
                    detail=f"{change.old} -> {change.new}: {change.reason}"[:500],
                    close_id=close_id,
                )

    def _report(
        self,
        close: CloseView,
        tally: SpotTally,
        phase: Phase,
        hedged: Decimal,
        outcome: str | None = None,
    ) -> None:
        """Hand the observer, if any, a snapshot of the close as it stands."""
        if self.on_progress is None:
            return
        facts = CloseFacts(
            close.id,
            self.request.symbol,
            self.request.side,
            close.requested_qty,
            tuple(self._names(spot=False)),
            frozenset(n for n, count in self.refusals.items() if count >= MAX_REFUSALS),
        )
        elapsed = self.pacing.monotonic() - tally.started
        tolerance = self.policy.tolerance(tally.rung)
        notify(
            self.on_progress,
            snapshot(
                facts,
                tally,
                tolerance=tolerance,
                elapsed_s=elapsed,
                hedged=hedged,
                phase=phase,
                outcome=outcome,
            ),
        )

    def _cap(
        self, reference: Decimal | None, rung: int, pricing: str, states: list[VenueState]
    ) -> Decimal | None:
        tolerance = self.policy.tolerance(rung)
        if pricing == "passive":
            touches = [
                s.view.book.best_bid if self.side is Side.SELL else s.view.book.best_ask
                for s in states
            ]
            known = [t for t in touches if t is not None]
            if known:
                return max(known) if self.side is Side.SELL else min(known)
        if tolerance is None or reference is None:
            return None
        if self.side is Side.SELL:
            return reference * (ONE - tolerance)
        return reference * (ONE + tolerance)
