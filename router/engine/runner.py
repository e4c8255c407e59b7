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
from router.core.lifecycle import CloseOutcome, CloseState
from router.core.liquidity import escape_window
from router.core.outcome import CloseFigures
from router.core.policy import Policy
from router.core.purpose import Purpose
from router.engine.crossing import INTERNAL, record_netting
from router.engine.doubt import hedged_before, settle_doubts
from router.engine.hedge import HedgePlan, open_hedge
from router.engine.lease import CloseLease
from router.engine.netting import NettingDesk, NettingEntry
from router.engine.observer import NO_OBSERVER, OrderObserver, tell_answered, tell_sent
from router.engine.outcome import CloseResult, smallest_perp_lot, state_outcome, summarize
from router.engine.pacing import Pacing
from router.engine.ports import HealthPort, VenuePort
from router.engine.position import Position, VenueRead, describe, read_venue
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
)
from router.journal.holdings import holdings, mark_left, record_covers, sold_by_venue
from router.journal.records import CloseView, NewClose
from router.journal.repository import Journal
from router.venues.errors import failure_kind

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
    orders: OrderObserver = NO_OBSERVER
    """Told of every order sent and of its answer (see :mod:`router.engine.observer`)."""
    position: Position | None = None
    """What every configured venue holds for the close (see :mod:`router.engine.position`)."""
    quantity: Decimal = ZERO
    """The close's quantity; grows when a venue whose holdings were unknown joins a close
    of everything held."""
    covered: Decimal = ZERO
    """Of the quantity, what spot need not sell: hedged (before and in this run) or in
    doubt on a hedge order."""
    started: float = 0.0

    @property
    def side(self) -> Side:
        return Side(self.request.side)

    def _configured(self) -> list[str]:
        names = self.request.venues or list(self.venues)
        return [n for n in names if n in self.venues]

    def _asset(self) -> str:
        return self.request.symbol if self.side is Side.SELL else self.request.quote

    async def _reads(self, *, only_unknown: bool = False) -> list[VenueRead]:
        """One round of reads of the configured venues (see :func:`read_venue`); read
        failures are journaled and counted against the venue's circuit.

        A venue whose holdings are unknown is asked again only when its backoff allows
        (:meth:`Position.due`), and then even while its circuit is open: without its
        holdings nobody can say what the position is.
        """
        position = self.position
        now = self.pacing.monotonic()
        names = self._configured()
        skipped: list[VenueRead] = []
        asked: list[str] = []
        for name in names:
            unknown = position is not None and position.held(name) is None
            if only_unknown and not unknown:
                continue
            if position is not None and unknown and not position.due(name, now):
                reason = position.unknown().get(name, "unknown")
                skipped.append(VenueRead(name, None, None, reason))
            else:
                asked.append(name)
        reads = await asyncio.gather(
            *(
                read_venue(
                    n,
                    self.venues[n],
                    self.health[n],
                    self.request.spot_symbol,
                    self._asset(),
                    self.side,
                    refused=self._refused(n),
                    need_balance=position is None or position.held(n) is None,
                )
                for n in asked
            )
        )
        for read in reads:
            if read.state is not None:
                self.health[read.name].record_success()
            resolving = position is not None and position.held(read.name) is None
            for error in read.failures:
                # Reads of unknown holdings keep their own backoff; their failures alone
                # do not shut the venue's trading circuit.
                if not (resolving and read.balance_failed and len(read.failures) == 1):
                    self.health[read.name].record_failure(
                        failure_kind(error), describe(error)[:200]
                    )
            if read.held is None and position is not None:
                position.missed(read.name, now, read.retry_after_s)
            if read.failures:
                await self.journal.record_venue_event(
                    venue=read.name,
                    kind="read_failed",
                    detail=describe(read.failures[0])[:500],
                    close_id=position.close_id if position else None,
                )
        return [*reads, *skipped]

    def _refused(self, name: str) -> str | None:
        if self.refusals.get(name, 0) >= MAX_REFUSALS:
            return "refused the close's orders twice"
        return None

    async def _states(self, *, only_unknown: bool = False) -> list[VenueState]:
        """Books and inventories of the venues that can trade now; unknown holdings
        that become known join the close (``only_unknown``: read only those venues)."""
        reads = await self._reads(only_unknown=only_unknown)
        assert self.position is not None
        joined = await self.position.update(reads)
        if joined > 0 and self.position.close_id is not None:
            self.quantity += joined
            await self.journal.update_close(self.position.close_id, requested_qty=self.quantity)
        return [r.state for r in reads if r.state is not None]

    def _resolving(self, deadline: float | None) -> bool:
        """Whether unknown holdings are still worth waiting for."""
        assert self.position is not None
        if not self.position.unknown():
            return False
        limit = self.started + self.pacing.resolve_within_s
        if deadline is not None:
            limit = min(limit, deadline)
        return self.pacing.monotonic() < limit

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
        started = self.started = self.pacing.monotonic()
        reads = await self._reads()
        position = self.position = Position(self.journal, self.side, request.quantity == "all")
        position.start(reads)
        for read in reads:
            if read.held is None:
                position.missed(read.name, started, read.retry_after_s)
        states = [r.state for r in reads if r.state is not None]
        reference, arrival_mid = consolidated_touch([s.view.book for s in states], self.side)
        if request.quantity == "all":
            quantity = position.known
        else:
            quantity = request.quantity
            if await self.journal.close_by_key(request.idempotency_key) is None:
                position.check(quantity, request.symbol)
        close, created = await self.journal.create_close(
            NewClose(
                idempotency_key=request.idempotency_key,
                symbol=request.symbol,
                side=request.side,
                quantity=quantity,
                request=request.model_dump(mode="json"),
                reference_price=reference,
                lease=self.pacing.lease,
                holdings=tuple(position.holdings.values()),
                asset=self._asset(),
            )
        )
        if created:
            position.close_id = close.id
        else:
            if close.outcome is not None or not await self.journal.claim(
                close.id, self.pacing.lease
            ):
                return await summarize(
                    self.journal, close.id, arrival_mid, self.pacing.monotonic() - started
                )
            quantity = close.requested_qty
            journaled = await holdings(self.journal, close.id)
            if journaled:
                position.adopt(close.id, journaled)
            else:
                await position.journal_start(close.id, self._asset())
        self.quantity = quantity
        self.lease = CloseLease(
            self.journal, close.id, self.pacing.lease, self.pacing.wall, self.pacing.lease_sleep
        )
        async with self.lease.kept():
            return await self._owned(close, entry, states, reference, arrival_mid, started)

    async def _hold(self) -> None:
        assert self.lease is not None
        await self.lease.hold()

    def _may_send(self) -> bool:
        return self.lease is not None and self.lease.may_send()

    async def _owned(
        self,
        close: CloseView,
        entry: NettingEntry,
        states: list[VenueState],
        reference: Decimal | None,
        arrival_mid: Decimal | None,
        started: float,
    ) -> CloseResult:
        request = self.request
        await self.journal.update_close(close.id, state=CloseState.RUNNING)
        deadline = self._deadline(started)
        attempts = await self.journal.attempts(close.id)
        progress = SpotTally.from_attempts(attempts, started)
        # A close resumed after a crash may already hold hedge legs: never hedge twice.
        prior, hedge_doubt = await hedged_before(self.journal, attempts)
        prior = max(prior, close.hedged_qty)
        self.covered = prior + hedge_doubt
        entry.close_id = close.id
        progress = await self._spot_waves(close, reference, deadline, states, progress, entry)
        hedged = prior
        await self._hold()
        hedgeable = self._hedgeable(progress)
        if hedgeable > 0 and request.allow_hedge and not progress.cancelled:
            self._report(close, progress, "hedge", hedged)
            opened = await open_hedge(self._hedge_plan(close.id, progress.wave + 1), hedgeable)
            hedged += opened
            self.covered += opened
            if progress.hedge_chosen and self._remaining(progress) > 0:
                # The perpetual took less than its books promised: the rest goes back to
                # spot, without the hedge choice this time.
                self.hedge_choice = False
                progress.hedge_chosen = False
                states = await self._states()
                progress = await self._spot_waves(
                    close, reference, deadline, states, progress, entry
                )
        progress.in_doubt += hedge_doubt
        await self._hold()
        return await self._finish(close, progress, hedged, arrival_mid, started)

    def _unhedged(self, progress: SpotTally) -> Decimal:
        """The known holdings left unsold and not covered by a hedge: all that spot may
        still sell and a hedge may still cover. Selling coins a short covers, or
        shorting coins no venue said it holds, would leave a naked short."""
        assert self.position is not None
        unsold = sum(
            (
                max(h.held - progress.by_venue.get(n, ZERO), ZERO)
                for n, h in self.position.holdings.items()
                if h.held is not None
            ),
            ZERO,
        )
        return max(unsold - self.covered, ZERO)

    def _hedgeable(self, progress: SpotTally) -> Decimal:
        """What a hedge may cover: the rest, within the known unhedged holdings."""
        return min(self._remaining(progress), self._unhedged(progress))

    def _remaining(self, progress: SpotTally) -> Decimal:
        """What spot still has to sell: the quantity less what is sold, in doubt or covered."""
        return self.quantity - self.covered - progress.filled - progress.in_doubt

    async def _finish(
        self,
        close: CloseView,
        progress: SpotTally,
        hedged: Decimal,
        arrival_mid: Decimal | None,
        started: float,
    ) -> CloseResult:
        """Name why each venue kept what it kept, state the outcome, book the hedges' covers."""
        assert self.position is not None
        position = self.position
        sold = await sold_by_venue(self.journal, close.id)
        left: dict[str, tuple[bool, str]] = {}
        for name, holding in position.holdings.items():
            if holding.held is None:
                continue
            problem = position.problems.get(name)
            remainder = holding.held - sold.get(name, ZERO)
            if remainder > 0:
                left[name] = (problem is not None, problem or progress.why)
        if left:
            await mark_left(self.journal, close.id, left)
        residual = self.quantity - progress.filled - hedged
        if hedged > 0:
            await record_covers(self.journal, close, requested=self.quantity, hedged=hedged)
        outcome, reason = state_outcome(
            CloseFigures(self.quantity, progress.filled, hedged, progress.in_doubt),
            progress.why,
            symbol=self.request.symbol,
            perp_lot=self._perp_lot(),
            unknown=position.unknown() if position.whole or residual > 0 else {},
            stuck={n: why for n, (stuck, why) in left.items() if stuck},
        )
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
        return smallest_perp_lot(self.venues, self._configured(), self.request.perp_symbol)

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
            names=self._configured(),
            wave=wave,
            sleep=self.pacing.sleep,
            may_send=self._may_send,
            orders=self.orders,
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

    def _stuck_reason(self, tally: SpotTally) -> str:
        """Why spot cannot sell what is left: the venues holding it cannot trade now."""
        assert self.position is not None
        position = self.position
        remaining = {
            n: (h.held or ZERO) - tally.by_venue.get(n, ZERO) for n, h in position.holdings.items()
        }
        stuck = position.stuck_on(remaining) if self._unhedged(tally) > 0 else {}
        unknown = position.unknown()
        if not stuck and unknown:
            named = "; ".join(f"{n}: {why}" for n, why in sorted(unknown.items()))
            return f"the rest is not on any venue whose holdings are known ({named})"
        if not stuck:
            return "no venue holding the rest can take an order"
        named = "; ".join(f"{n}: {why}" for n, why in sorted(stuck.items()))
        return f"the rest is held on venues that cannot trade now ({named})"

    async def _spot_waves(
        self,
        close: CloseView,
        reference: Decimal | None,
        deadline: float | None,
        states: list[VenueState],
        progress: SpotTally,
        entry: NettingEntry,
    ) -> SpotTally:
        policy = self.policy
        top = self._max_rung()
        start = progress.rung = min(policy.starting_rung(self.request.unrealized_pnl), top)
        rung = start
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
            orders=self.orders,
        )
        stalled = 0
        batch = 0
        first = True
        stuck_since: float | None = None
        self._report(close, progress, "spot", close.hedged_qty)
        while True:
            if progress.in_doubt > 0:
                await settle_doubts(self.journal, waves, progress)
            remaining = self._remaining(progress)
            if remaining <= 0:
                if progress.in_doubt and self._before(deadline):
                    await self.pacing.sleep(self.pacing.doubt_recheck_s)
                    continue
                if self._resolving(deadline):
                    # Holdings still unknown somewhere: ask those venues again when their
                    # backoff allows (and only them); what they hold joins the close.
                    assert self.position is not None
                    now = self.pacing.monotonic()
                    wait = self.position.next_read(now) - now
                    await self.pacing.sleep(max(wait, self.pacing.retry_after_empty_s))
                    await self._states(only_unknown=True)
                    first = False
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
                    states = await self._states()
                first = False
                remaining = self._remaining(progress)
                sellable = min(_sellable(states), self._unhedged(progress))
                if sellable <= 0 and remaining > 0:
                    now = self.pacing.monotonic()
                    stuck_since = now if stuck_since is None else stuck_since
                    progress.why = self._stuck_reason(progress)
                    waited = now - stuck_since >= self.pacing.stuck_grace_s
                    # Part of the rest may be on venues whose holdings are unknown: wait
                    # for them (within the resolve window) rather than give up on it.
                    beyond_known = remaining > self._hedgeable(progress)
                    if waited and not (beyond_known and self._resolving(deadline)):
                        return progress
                    await self.pacing.sleep(self.pacing.retry_after_empty_s)
                    continue
                stuck_since = None
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
                    tell_sent(self.orders, INTERNAL, Purpose.NET)
                    tell_answered(self.orders, INTERNAL, Purpose.NET, "FILLED", None)
                    progress.add(INTERNAL, netted)
                    remaining -= netted
                    if remaining <= 0:
                        continue
                # What the venues that can trade now hold is all a wave can sell; the
                # rest waits for its venues (or is hedged).
                remaining = min(remaining, sellable)
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
                # Passive pricing is for the starting rung: a rung climbed because the
                # touch did not fill prices by the ladder.
                passive = batch < schedule.batches and rung == start
                pricing = schedule.pricing if passive else "aggressive"
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
        outcome: CloseOutcome | None = None,
    ) -> None:
        """Hand the observer, if any, a snapshot of the close as it stands."""
        if self.on_progress is None:
            return
        facts = CloseFacts(
            close.id,
            self.request.symbol,
            self.request.side,
            close.requested_qty,
            tuple(self._configured()),
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
                if s.inventory > 0
            ]
            known = [t for t in touches if t is not None]
            if known:
                return max(known) if self.side is Side.SELL else min(known)
        if tolerance is None or reference is None:
            return None
        if self.side is Side.SELL:
            return reference * (ONE - tolerance)
        return reference * (ONE + tolerance)


def _sellable(states: list[VenueState]) -> Decimal:
    """What the venues that can trade now could sell at most: each inventory on its lot
    grid, nothing where it is below the venue's minimum order."""
    total = ZERO
    for state in states:
        lots = state.inventory.quantize(state.market.lot_step, rounding=ROUND_DOWN)
        if lots >= state.market.min_qty and lots > 0:
            total += lots
    return total
