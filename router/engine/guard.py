"""Guard mode: watch configured positions and close them by the stop tiers on their own.

Every poll reads the venues' books, prices each position at the consolidated mid,
scores liquidity against each venue's normal depth and, when a stop tier or the escape
window says so (:func:`router.core.guard.evaluate`), journals the trigger as a
liquidity event with its reason and closes what is left of the position, held to
that tier's tolerance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from router.core.book import Side
from router.core.guard import GuardedPosition, GuardTrigger, evaluate
from router.core.liquidity import Baseline, consolidated_score, escape_window, side_depth
from router.engine.engine import Engine
from router.engine.errors import PositionExceeded
from router.engine.outcome import CloseResult
from router.engine.ports import VenuePort, lists
from router.engine.request import CloseRequest

ZERO = Decimal(0)
PLACES = Decimal("0.00000001")


@dataclass
class _Watch:
    position: GuardedPosition
    remaining: Decimal
    fired: set[int] = field(default_factory=set)


@dataclass
class Guard:
    engine: Engine
    positions: Sequence[GuardedPosition]
    danger: Decimal = Decimal("0.5")
    allow_hedge: bool = True
    quote: str = "USDT"
    baselines: dict[str, Baseline] = field(default_factory=dict)
    results: list[CloseResult] = field(default_factory=list)
    _watches: dict[str, _Watch] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for position in self.positions:
            self._watches[position.name] = _Watch(position, position.quantity)

    def open_quantity(self) -> Decimal:
        """What the guard still watches across its positions."""
        return sum((w.remaining for w in self._watches.values()), ZERO)

    @property
    def venues(self) -> Mapping[str, VenuePort]:
        return self.engine.venues

    async def _reading(self, watch: _Watch) -> tuple[Decimal | None, Decimal | None]:
        """(consolidated mid, consolidated liquidity score) for the position's side."""
        symbol = f"{watch.position.symbol}/{self.quote}"
        side = Side(watch.position.close_side)
        names = [
            n for n, v in self.venues.items() if self.engine.health[n].allow() and lists(v, symbol)
        ]
        views = await asyncio.gather(
            *(self.venues[n].order_book(symbol) for n in names), return_exceptions=True
        )
        bids: list[Decimal] = []
        asks: list[Decimal] = []
        depths: dict[str, Decimal] = {}
        normal: dict[str, Decimal | None] = {}
        for name, view in zip(names, views, strict=True):
            if isinstance(view, BaseException):
                continue
            book = view.book
            if book.best_bid is not None:
                bids.append(book.best_bid)
            if book.best_ask is not None:
                asks.append(book.best_ask)
            depth = side_depth(book, side, self.engine.policy.liquidity.depth_levels)
            baseline = self.baselines.get(name) or Baseline(
                self.engine.policy.liquidity.baseline_window
            )
            normal[name] = baseline.value
            self.baselines[name] = baseline.observe(depth)
            depths[name] = depth
        if not bids or not asks:
            return None, None
        return (max(bids) + min(asks)) / 2, consolidated_score(depths, normal)

    async def check_once(self) -> list[GuardTrigger]:
        """Evaluate every position once; run the closes that were triggered."""
        triggered: list[GuardTrigger] = []
        for watch in self._watches.values():
            if watch.remaining <= 0:
                continue
            mid, score = await self._reading(watch)
            if mid is None:
                continue
            window = escape_window(self.danger, score, ZERO) if score is not None else None
            trigger = evaluate(
                watch.position, mid, window, self.engine.policy, frozenset(watch.fired)
            )
            if trigger is None:
                continue
            watch.fired.add(trigger.rung)
            triggered.append(trigger)
            await self._act(watch, trigger, mid, score, window.seconds if window else None)
        return triggered

    async def _act(
        self,
        watch: _Watch,
        trigger: GuardTrigger,
        mid: Decimal,
        score: Decimal | None,
        window_s: Decimal | None,
    ) -> None:
        position = watch.position
        await self.engine.journal.record_liquidity_event(
            symbol=position.symbol,
            kind=f"guard_{trigger.kind}",
            score=None if score is None else score.quantize(PLACES),
            escape_window_s=None if window_s is None else window_s.quantize(PLACES),
            detail={
                "position": position.name,
                "reason": trigger.reason,
                "price": str(mid),
                "unrealized_pnl": str(trigger.unrealized_pnl),
                "tolerance": "unbounded" if trigger.tolerance is None else str(trigger.tolerance),
                "quantity": str(watch.remaining),
            },
        )
        request = CloseRequest(
            symbol=position.symbol,
            quote=self.quote,
            side=position.close_side,
            quantity=watch.remaining,
            urgency=trigger.urgency,
            danger=self.danger,
            unrealized_pnl=max(trigger.unrealized_pnl, Decimal(-1)),
            reason=trigger.reason,
            idempotency_key=f"guard-{position.name}-{trigger.rung}-{time.time_ns()}",
            allow_hedge=self.allow_hedge and trigger.tolerance is None,
            max_slippage=trigger.tolerance,
        )
        try:
            result = await self.engine.close(request)
        except PositionExceeded as exc:
            # The venues hold less than the watched position (fees, a transfer, a manual
            # sale): a stop-loss closes what is there rather than nothing, and says so.
            await self.engine.journal.record_liquidity_event(
                symbol=position.symbol,
                kind="guard_position_exceeded",
                detail={"position": position.name, "reason": str(exc)},
            )
            if exc.held <= 0:
                watch.remaining = ZERO
                return
            watch.remaining = exc.held
            request = request.model_copy(
                update={"quantity": exc.held, "idempotency_key": f"{request.idempotency_key}-held"}
            )
            result = await self.engine.close(request)
        self.results.append(result)
        watch.remaining -= result.filled + result.hedged

    async def run(self, poll_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check_once()
            await self.engine.pacing.sleep(poll_s)
