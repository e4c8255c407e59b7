"""The close's position across every configured venue, resolved and kept current.

At the start every configured venue is asked what it holds (the base asset for a sell,
what its quote balance buys for a buy) and its book. A venue that cannot answer (its
markets not loaded, a rate limit, an outage) is journaled as *unknown*, with the reason,
and asked again at every wave; when it answers, its holdings join the close (for
``quantity = "all"``) and its row in the journal is completed. A venue that answered
but cannot trade now (circuit open, book unreadable, orders refused) keeps its holdings
in the position: they are sold when it comes back, or hedged on the venues that can.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from router.core.book import Side
from router.core.position import VenueHolding
from router.engine.errors import PositionExceeded
from router.engine.ports import HealthPort, VenuePort, lists
from router.engine.waves import VenueState, inventory_for
from router.journal.holdings import record_holdings, resolve_holding
from router.journal.repository import Journal
from router.venues.errors import RateLimited

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueRead:
    """One venue as one round of reads found it."""

    name: str
    state: VenueState | None
    """Book and inventory, when the venue can trade now."""
    held: Decimal | None
    """What the venue holds for the close (``None``: could not be read)."""
    problem: str | None = None
    """Why the venue cannot trade now, or why its holdings are unknown."""
    failures: tuple[BaseException, ...] = ()
    balance_failed: bool = False
    """Whether the balance read was among the failures."""

    @property
    def retry_after_s(self) -> float | None:
        """The longest ``Retry-After`` among the failures, if a venue said one."""
        waits = [
            e.retry_after_s
            for e in self.failures
            if isinstance(e, RateLimited) and e.retry_after_s is not None
        ]
        return max(waits) if waits else None


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


async def read_venue(
    name: str,
    venue: VenuePort,
    health: HealthPort,
    symbol: str,
    asset: str,
    side: Side,
    *,
    refused: str | None = None,
    need_balance: bool = True,
) -> VenueRead:
    """Read one venue's book and balance; never raises for the venue's trouble."""
    if not venue.loaded:
        return VenueRead(name, None, None, f"markets not loaded: {venue.load_error or 'loading'}")
    listed = lists(venue, symbol)
    if not health.allow() or not listed or refused is not None:
        if not listed:
            problem = f"no {symbol} market"
        elif refused is not None:
            problem = refused
        else:
            problem = f"circuit open ({health.last_error or 'recent failures'})"
        if not listed and side is Side.BUY:
            return VenueRead(name, None, ZERO, problem)
        if not need_balance or side is Side.BUY:
            return VenueRead(name, None, None, problem)
        try:
            free = await venue.free_balance(asset)
        except Exception as exc:
            return VenueRead(name, None, None, f"{problem}; {describe(exc)}", (exc,), True)
        return VenueRead(name, None, free, problem)
    market = venue.market(symbol)
    book, balance = await asyncio.gather(
        venue.order_book(symbol), venue.free_balance(asset), return_exceptions=True
    )
    failures = tuple(x for x in (book, balance) if isinstance(x, BaseException))
    if isinstance(balance, BaseException):
        held = None
    elif side is Side.SELL:
        held = balance
    elif isinstance(book, BaseException):
        held = None
    else:
        touch = book.book.best_ask
        held = inventory_for(side, balance, touch, market.taker_fee, market.lot_step)
    if failures:
        return VenueRead(
            name,
            None,
            held,
            describe(failures[0]),
            failures,
            isinstance(balance, BaseException),
        )
    assert not isinstance(book, BaseException)
    assert held is not None
    return VenueRead(name, VenueState(name, market, book, held), held)


@dataclass
class Position:
    """The runner's view of the close's position, venue by venue."""

    journal: Journal
    side: Side
    whole: bool
    """``quantity = "all"``: every venue's holdings, including those learnt later."""
    holdings: dict[str, VenueHolding] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    """Venues that could not trade at the last read, and why."""
    close_id: str | None = None
    retry_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    """Waits between reads of a venue whose holdings are unknown (the last repeats): a
    venue that throttles us is not hammered, whatever its circuit says."""
    _next_read: dict[str, float] = field(default_factory=dict)
    _misses: dict[str, int] = field(default_factory=dict)

    def due(self, venue: str, now: float) -> bool:
        """Whether a venue whose holdings are unknown may be asked again at ``now``."""
        return now >= self._next_read.get(venue, 0.0)

    def next_read(self, now: float) -> float:
        """When the next venue whose holdings are unknown may be asked (``now`` if one
        may be asked already, or if none is unknown)."""
        due = [self._next_read.get(n, now) for n in self.unknown()]
        return max(min(due, default=now), now)

    def missed(self, venue: str, now: float, retry_after_s: float | None = None) -> None:
        """A read of the venue's holdings failed at ``now``: back off before the next,
        at least as long as the venue's ``Retry-After``."""
        misses = self._misses.get(venue, 0)
        self._misses[venue] = misses + 1
        wait = self.retry_s[min(misses, len(self.retry_s) - 1)]
        self._next_read[venue] = now + max(wait, retry_after_s or 0.0)

    @property
    def known(self) -> Decimal:
        return sum((h.held for h in self.holdings.values() if h.held is not None), ZERO)

    def unknown(self) -> dict[str, str]:
        return {
            n: h.unknown_reason or "unknown" for n, h in self.holdings.items() if h.held is None
        }

    def held(self, venue: str) -> Decimal | None:
        holding = self.holdings.get(venue)
        return None if holding is None else holding.held

    def start(self, reads: Sequence[VenueRead]) -> None:
        """The position as the arrival reads found it."""
        for read in reads:
            self.holdings[read.name] = VenueHolding(
                read.name, read.held, None if read.held is not None else read.problem
            )
        self._problems(reads)

    def check(self, quantity: Decimal, symbol: str) -> None:
        """Refuse an explicit quantity the venues provably do not hold."""
        if self.unknown() or quantity <= self.known:
            return
        parts = ", ".join(
            f"{n} {h.held.normalize():f}" for n, h in sorted(self.holdings.items()) if h.held
        )
        raise PositionExceeded(
            f"quantity {quantity.normalize():f} exceeds what the venues hold of {symbol}: "
            f"{self.known.normalize():f} ({parts or 'nothing'})",
            held=self.known,
        )

    async def journal_start(self, close_id: str, asset: str) -> None:
        self.close_id = close_id
        await record_holdings(self.journal, close_id, asset, list(self.holdings.values()))

    def adopt(self, close_id: str, journaled: Sequence[VenueHolding]) -> None:
        """A resumed close: the position is the one journaled when it started."""
        self.close_id = close_id
        self.holdings = {h.venue: h for h in journaled}

    async def update(self, reads: Sequence[VenueRead]) -> Decimal:
        """Learn what unknown venues hold; return the quantity that joins the close."""
        joined = ZERO
        for read in reads:
            holding = self.holdings.get(read.name)
            if holding is None or holding.held is not None:
                continue
            if read.held is not None:
                self.holdings[read.name] = VenueHolding(read.name, read.held)
                if self.close_id is not None:
                    await resolve_holding(self.journal, self.close_id, read.name, read.held)
                if self.whole:
                    joined += read.held
            elif read.problem and read.problem != holding.unknown_reason:
                self.holdings[read.name] = VenueHolding(read.name, None, read.problem)
                if self.close_id is not None:
                    await resolve_holding(
                        self.journal, self.close_id, read.name, None, read.problem
                    )
        self._problems(reads)
        return joined

    def _problems(self, reads: Sequence[VenueRead]) -> None:
        for read in reads:
            if read.state is None:
                self.problems[read.name] = read.problem or "cannot trade"
            else:
                self.problems.pop(read.name, None)

    def stuck_on(self, remaining: Mapping[str, Decimal]) -> dict[str, str]:
        """Of the venues with ``remaining`` holdings, those that cannot trade now, and why."""
        return {
            n: self.problems[n] for n, left in remaining.items() if left > 0 and n in self.problems
        }
