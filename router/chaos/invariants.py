"""The invariants that tie the journal to every venue's own ledger.

The simulated venues keep the ground truth (every order and execution they saw); the
journal is what the router believes. After any close — however many faults, however
many crashes — the two must agree:

``oversell``
    nothing sold beyond the position: on no venue more spot than it held, for no close
    more (spot, internal crossing and perp hedge) than it requested, and no hedge bought
    back beyond its size;
``unknown_order``
    no order on a venue that the journal does not know (for that venue and market);
``duplicate_order``
    no client order id placed twice on a venue;
``fills``
    every venue execution journaled exactly once, with the venue's quantity, and no
    journaled fill the venue does not have (the ``internal`` crossing venue excepted);
``outcome``
    every close has a stated outcome (FLAT / HEDGED / STRANDED) and its filled, hedged
    and residual quantities (and the quantities its hedges book as shorted and as
    unwound) are what the venues' ledgers show;
``write_ahead``
    every order was journaled (its intent) before it reached the venue.

:func:`check` is pure: it compares a :class:`JournalSnapshot` with a
:class:`VenueLedger` per venue and returns the :class:`Violation` list (empty when
everything holds). :func:`check_world` reads both from a journal and live venues.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from router.journal.models import Close
from router.journal.records import AttemptView, CloseView, FillRecord
from router.journal.repository import Journal
from router.sim.orders import Order, Trade
from router.sim.venue import SimVenue

ZERO = Decimal(0)
INTERNAL = "internal"
OUTCOMES = ("FLAT", "HEDGED", "STRANDED")
INVARIANTS = (
    "oversell",
    "unknown_order",
    "duplicate_order",
    "fills",
    "outcome",
    "write_ahead",
)
WRITE_AHEAD_SLACK_MS = 1
"""Venue order times are whole milliseconds; an intent may round up by one."""


@dataclass(frozen=True)
class Violation:
    """One broken invariant: its name (see :data:`INVARIANTS`) and what was seen."""

    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


@dataclass(frozen=True)
class JournalSnapshot:
    """Everything the journal holds about a set of closes."""

    closes: Sequence[CloseView]
    attempts: Sequence[AttemptView]
    fills: Sequence[FillRecord]
    hedges: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class VenueLedger:
    """One venue's ground truth: its orders and executions and what it held at first."""

    name: str
    orders: Sequence[Order]
    trades: Sequence[Trade]
    initial: Mapping[str, Decimal] = field(default_factory=dict)
    balances: Mapping[str, Decimal] = field(default_factory=dict)


def ledger_of(venue: SimVenue, initial: Mapping[str, Decimal]) -> VenueLedger:
    """A venue's ledger as it stands (spot balances as free + locked)."""
    orders = [order for book in venue.orders.values() for order in book.values()]
    balances = {asset: b.free + b.locked for asset, b in venue.spot.balances.items()}
    return VenueLedger(venue.name, orders, list(venue.trades), dict(initial), balances)


async def journal_snapshot(journal: Journal) -> JournalSnapshot:
    """Every close in the journal with its attempts and fills."""
    async with journal.engine.connect() as conn:
        ids = [row[0] for row in await conn.execute(select(Close.id).order_by(Close.id))]
    closes: list[CloseView] = []
    attempts: list[AttemptView] = []
    fills: list[FillRecord] = []
    for close_id in ids:
        close = await journal.get_close(close_id)
        if close is not None:
            closes.append(close)
        attempts.extend(await journal.attempts(close_id))
        fills.extend(await journal.fills(close_id))
    hedges = [h for h in await journal.hedges() if h["close_id"] in ids]
    return JournalSnapshot(closes, attempts, fills, hedges)


async def check_world(
    journal: Journal,
    venues: Mapping[str, SimVenue],
    initial: Mapping[str, Mapping[str, Decimal]],
    *,
    base_asset: str = "BTC",
) -> list[Violation]:
    """Read the journal and the live venues' ledgers, then :func:`check` them."""
    snapshot = await journal_snapshot(journal)
    ledgers = [ledger_of(venue, initial.get(name, {})) for name, venue in venues.items()]
    return check(snapshot, ledgers, base_asset=base_asset)


def check(
    journal: JournalSnapshot, venues: Iterable[VenueLedger], *, base_asset: str = "BTC"
) -> list[Violation]:
    """Every invariant of the module docstring; an empty list when all hold."""
    ledgers = list(venues)
    by_client_id = {a.client_order_id: a for a in journal.attempts}
    violations: list[Violation] = []
    for ledger in ledgers:
        violations += _orders(ledger, by_client_id)
        violations += _venue_balance(ledger, base_asset)
    violations += _fills(journal, ledgers)
    violations += _closes(journal, ledgers, by_client_id)
    return violations


def _orders(ledger: VenueLedger, attempts: Mapping[str, AttemptView]) -> list[Violation]:
    found: list[Violation] = []
    placed = Counter(order.client_order_id for order in ledger.orders)
    for client_id, count in sorted(placed.items()):
        if count > 1:
            found.append(
                Violation("duplicate_order", f"{ledger.name}: {client_id} placed {count} times")
            )
    for order in ledger.orders:
        attempt = attempts.get(order.client_order_id)
        where = f"{ledger.name} {order.market} order {order.id} ({order.client_order_id})"
        if attempt is None:
            found.append(Violation("unknown_order", f"{where} is not in the journal"))
            continue
        if (attempt.venue, attempt.market) != (ledger.name, order.market):
            found.append(
                Violation(
                    "unknown_order",
                    f"{where} is journaled for {attempt.venue} {attempt.market}",
                )
            )
        intent_ms = int(attempt.intent_at.timestamp() * 1000)
        if intent_ms > order.time_ms + WRITE_AHEAD_SLACK_MS:
            found.append(
                Violation(
                    "write_ahead",
                    f"{where} reached the venue {intent_ms - order.time_ms} ms "
                    "before its intent was journaled",
                )
            )
    return found


def _venue_balance(ledger: VenueLedger, base_asset: str) -> list[Violation]:
    held = ledger.initial.get(base_asset, ZERO)
    sold = sum((t.qty for t in ledger.trades if t.market == "spot" and t.side == "SELL"), ZERO)
    bought = sum((t.qty for t in ledger.trades if t.market == "spot" and t.side == "BUY"), ZERO)
    found: list[Violation] = []
    if sold - bought > held:
        found.append(
            Violation(
                "oversell",
                f"{ledger.name}: sold {_q(sold - bought)} {base_asset} holding {_q(held)}",
            )
        )
    left = ledger.balances.get(base_asset, held)
    if left < 0:
        found.append(Violation("oversell", f"{ledger.name}: {base_asset} balance {left}"))
    return found


def _fills(journal: JournalSnapshot, ledgers: Sequence[VenueLedger]) -> list[Violation]:
    found: list[Violation] = []
    journaled: dict[tuple[str, str, str], FillRecord] = {}
    counts = Counter((f.venue, f.market, f.trade_id) for f in journal.fills if f.venue != INTERNAL)
    for key, count in sorted(counts.items()):
        if count > 1:
            found.append(Violation("fills", f"{_key(key)} journaled {count} times"))
    for fill in journal.fills:
        if fill.venue != INTERNAL:
            journaled[(fill.venue, fill.market, fill.trade_id)] = fill
    on_venues: set[tuple[str, str, str]] = set()
    for ledger in ledgers:
        orders = {(o.market, o.id): o for o in ledger.orders}
        for trade in ledger.trades:
            key = (ledger.name, trade.market, str(trade.id))
            on_venues.add(key)
            journaled_fill = journaled.get(key)
            if journaled_fill is None:
                order = orders.get((trade.market, trade.order_id))
                owner = order.client_order_id if order is not None else "?"
                found.append(
                    Violation("fills", f"{_key(key)} of {owner} ({trade.qty}) not journaled")
                )
            elif journaled_fill.quantity != trade.qty:
                found.append(
                    Violation(
                        "fills",
                        f"{_key(key)} journaled as {journaled_fill.quantity}, "
                        f"the venue has {trade.qty}",
                    )
                )
    known = {ledger.name for ledger in ledgers}
    for key in sorted(set(journaled) - on_venues):
        if key[0] in known:
            found.append(Violation("fills", f"{_key(key)} is journaled but not on the venue"))
    return found


def _q(value: Decimal | None) -> str:
    return "none" if value is None else format(value.normalize(), "f")


def _key(key: tuple[str, str, str]) -> str:
    return f"{key[0]} {key[1]} trade {key[2]}"


@dataclass
class _Executed:
    """What the venues executed for one close, by purpose."""

    spot: Decimal = ZERO
    hedge: Decimal = ZERO
    unwind: Decimal = ZERO
    internal: Decimal = ZERO


def _executed(
    journal: JournalSnapshot,
    ledgers: Sequence[VenueLedger],
    attempts: Mapping[str, AttemptView],
) -> dict[str, _Executed]:
    executed: dict[str, _Executed] = {c.id: _Executed() for c in journal.closes}
    for ledger in ledgers:
        orders = {(o.market, o.id): o for o in ledger.orders}
        for trade in ledger.trades:
            order = orders.get((trade.market, trade.order_id))
            attempt = attempts.get(order.client_order_id) if order is not None else None
            if attempt is None or attempt.close_id not in executed:
                continue
            tally = executed[attempt.close_id]
            if attempt.purpose == "hedge":
                tally.hedge += trade.qty
            elif attempt.purpose == "unwind":
                tally.unwind += trade.qty
            else:
                tally.spot += trade.qty
    for fill in journal.fills:
        if fill.venue == INTERNAL and fill.close_id in executed:
            executed[fill.close_id].internal += fill.quantity
    return executed


def _closes(
    journal: JournalSnapshot,
    ledgers: Sequence[VenueLedger],
    attempts: Mapping[str, AttemptView],
) -> list[Violation]:
    found: list[Violation] = []
    executed = _executed(journal, ledgers, attempts)
    for close in journal.closes:
        done = executed[close.id]
        filled = done.spot + done.internal
        if filled + done.hedge > close.requested_qty:
            found.append(
                Violation(
                    "oversell",
                    f"close {close.id}: requested {_q(close.requested_qty)}, the venues show "
                    f"{_q(filled)} sold and {_q(done.hedge)} hedged",
                )
            )
        found += _outcome(close, filled, done.hedge)
        rows = [h for h in journal.hedges if h["close_id"] == close.id]
        booked = sum((h["quantity"] for h in rows), ZERO)
        if close.outcome in OUTCOMES and booked != done.hedge:
            found.append(
                Violation(
                    "outcome",
                    f"close {close.id}: its hedges book {_q(booked)} short, "
                    f"the venues show {_q(done.hedge)} hedged",
                )
            )
        found += _unwinds(close, rows, done)
    return found


def _unwinds(
    close: CloseView, rows: Sequence[Mapping[str, Any]], done: _Executed
) -> list[Violation]:
    """A hedge is never bought back beyond its size, and its row books what was."""
    found: list[Violation] = []
    if done.unwind > done.hedge:
        found.append(
            Violation(
                "oversell",
                f"close {close.id}: the venues show {_q(done.unwind)} bought back "
                f"of a {_q(done.hedge)} hedge",
            )
        )
    unwound = sum((h["unwound_qty"] for h in rows), ZERO)
    if unwound != done.unwind:
        found.append(
            Violation(
                "outcome",
                f"close {close.id}: its hedges book {_q(unwound)} unwound, "
                f"the venues show {_q(done.unwind)} bought back",
            )
        )
    return found


def _outcome(close: CloseView, filled: Decimal, hedged: Decimal) -> list[Violation]:
    where = f"close {close.id}"
    if close.outcome not in OUTCOMES:
        return [
            Violation(
                "outcome",
                f"{where}: no stated outcome (state {close.state}, {close.outcome_reason})",
            )
        ]
    found: list[Violation] = []
    residual = close.requested_qty - filled - hedged
    if close.residual_qty != residual:
        found.append(
            Violation(
                "outcome",
                f"{where} {close.outcome}: residual {_q(close.residual_qty)} journaled, the venues "
                f"show {_q(close.requested_qty)} - {_q(filled)} - {_q(hedged)} = {_q(residual)}",
            )
        )
    if (close.filled_qty, close.hedged_qty) != (filled, hedged):
        found.append(
            Violation(
                "outcome",
                f"{where}: journaled filled {_q(close.filled_qty)} hedged {_q(close.hedged_qty)}, "
                f"the venues show {_q(filled)} and {_q(hedged)}",
            )
        )
    expected = {
        "FLAT": residual == 0 and hedged == 0,
        "HEDGED": hedged > 0 and residual >= 0,
        "STRANDED": residual > 0,
    }[close.outcome]
    if not expected:
        found.append(
            Violation(
                "outcome",
                f"{where}: {close.outcome} with filled {_q(filled)}, hedged {_q(hedged)}, "
                f"residual {_q(residual)}",
            )
        )
    return found
