"""The invariants that tie the journal to every venue's own ledger.

The simulated venues keep the ground truth (every order and execution they saw); the
journal is what the router believes. After any close — however many faults, however
many crashes — the two must agree:

``oversell``
    nothing sold beyond the position: on no venue more spot than it held, for no close
    more (spot, internal crossing and perp hedge) than it requested, no hedge bought
    back beyond its size, and no more of the inventory a hedge covers sold after the
    close (``release``) than was hedged;
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
    unwound) are what the venues' ledgers show; STRANDED with nothing left is accepted
    only for a close of everything held with a venue whose holdings are unknown;
``write_ahead``
    every order was journaled (its intent) before it reached the venue;
``position``
    every close covers its whole position, venue by venue (see :func:`_position`):
    every configured venue has a ``holdings`` row; a known holding is what the venue's
    ledger held (where no other close traded there) and what it still holds is that
    less what the close sold (and released) there; per venue, the sales journaled are
    the venue's; the perp quantity the venues shorted for the close is attributed to
    venues in full (and the hedge rows' covers say the same); the venues' residuals
    (plus what no venue's known holdings explain) add up to the close's residual; a
    HEDGED close leaves at most dust below a perp lot; a close of everything held
    (``quantity = "all"``) asks for the sum of the known holdings, sells no venue
    beyond its holding, is FLAT only with every holding sold, HEDGED only with no venue
    unknown, and with a venue's holdings unknown is STRANDED naming that venue.

:func:`check` is pure: it compares a :class:`JournalSnapshot` with a
:class:`VenueLedger` per venue and returns the :class:`Violation` list (empty when
everything holds). :func:`check_world` reads both from a journal and live venues.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select

from router.core.lifecycle import CloseOutcome
from router.core.position import PositionFigures, VenueHolding, attribute
from router.core.purpose import OWN_PURPOSES, Purpose
from router.journal.holdings import is_whole
from router.journal.models import Close, Holding
from router.journal.records import AttemptView, CloseView, FillRecord
from router.journal.repository import Journal
from router.sim.orders import Order, Trade
from router.sim.venue import SimVenue

ZERO = Decimal(0)
INTERNAL = "internal"
INVARIANTS = (
    "oversell",
    "unknown_order",
    "duplicate_order",
    "fills",
    "outcome",
    "write_ahead",
    "position",
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
    holdings: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    """Per close id, its ``holdings`` rows (venue, asset, held, unknown_reason, stuck,
    left_reason, ...): what each configured venue held when the close started."""


@dataclass(frozen=True)
class VenueLedger:
    """One venue's ground truth: its orders and executions and what it held at first."""

    name: str
    orders: Sequence[Order]
    trades: Sequence[Trade]
    initial: Mapping[str, Decimal] = field(default_factory=dict)
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    perp_lot: Decimal | None = None
    """The lot step of the venue's perpetual (``None``: it has none)."""


def ledger_of(venue: SimVenue, initial: Mapping[str, Decimal]) -> VenueLedger:
    """A venue's ledger as it stands (spot balances as free + locked)."""
    orders = [order for book in venue.orders.values() for order in book.values()]
    balances = {asset: b.free + b.locked for asset, b in venue.spot.balances.items()}
    linear = venue.markets.get("linear")
    perp_lot = linear.rules.f.step_size if linear is not None else None
    return VenueLedger(venue.name, orders, list(venue.trades), dict(initial), balances, perp_lot)


HOLDINGS = cast(Table, Holding.__table__)


async def journal_snapshot(journal: Journal) -> JournalSnapshot:
    """Every close in the journal with its attempts, fills, hedges and holdings."""
    async with journal.engine.connect() as conn:
        ids = [row[0] for row in await conn.execute(select(Close.id).order_by(Close.id))]
        rows = await conn.execute(select(HOLDINGS).order_by(HOLDINGS.c.close_id, HOLDINGS.c.venue))
        held: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            held.setdefault(row.close_id, []).append(dict(row._mapping))
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
    return JournalSnapshot(closes, attempts, fills, hedges, held)


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
    violations += _position(journal, ledgers, by_client_id, base_asset)
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
    released: Decimal = ZERO
    """Spot sold after the close of the inventory its hedge covers (``release``
    attempts, ``router hedge unwind --with-spot``): not part of the close's fills."""


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
            if attempt.purpose == Purpose.HEDGE:
                tally.hedge += trade.qty
            elif attempt.purpose == Purpose.UNWIND:
                tally.unwind += trade.qty
            elif attempt.purpose == Purpose.RELEASE:
                tally.released += trade.qty
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
        found += _outcome(close, filled, done.hedge, _unknown(journal, close))
        rows = [h for h in journal.hedges if h["close_id"] == close.id]
        booked = sum((h["quantity"] for h in rows), ZERO)
        if close.outcome is not None and booked != done.hedge:
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
    """A hedge is never bought back beyond its size, nor more inventory released than it
    covered, and its row books what was bought back."""
    found: list[Violation] = []
    if done.released > done.hedge:
        found.append(
            Violation(
                "oversell",
                f"close {close.id}: the venues show {_q(done.released)} of the covered "
                f"inventory sold after the close, of a {_q(done.hedge)} hedge",
            )
        )
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


def _unknown(journal: JournalSnapshot, close: CloseView) -> list[str]:
    """The venues whose holdings a close of everything held never learnt (none for a
    close of an explicit quantity: its outcome does not depend on them)."""
    if not is_whole(close):
        return []
    return [r["venue"] for r in journal.holdings.get(close.id, ()) if r["held"] is None]


def _outcome(
    close: CloseView, filled: Decimal, hedged: Decimal, unknown: Sequence[str] = ()
) -> list[Violation]:
    where = f"close {close.id}"
    if close.outcome is None:
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
        CloseOutcome.FLAT: residual == 0 and hedged == 0,
        CloseOutcome.HEDGED: hedged > 0 and residual >= 0,
        # nothing left, but nobody can say the close is flat: holdings unknown somewhere
        CloseOutcome.STRANDED: residual > 0 or (residual == 0 and bool(unknown)),
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


@dataclass
class _OnVenues:
    """What the venues' ledgers show for one close."""

    sold: dict[str, Decimal] = field(default_factory=dict)
    """Per venue, what its spot executed of the close's exit orders."""
    released: dict[str, Decimal] = field(default_factory=dict)
    """Per venue, what its spot executed of the close's ``release`` orders (the covered
    inventory sold after the close, its hedge bought back with it)."""
    hedged: Decimal = ZERO
    """What the venues' perpetuals executed of the close's hedge orders (unwinds apart)."""


def _by_close(
    ledgers: Sequence[VenueLedger], attempts: Mapping[str, AttemptView], base_asset: str
) -> tuple[dict[str, _OnVenues], dict[str, set[str | None]]]:
    """Per close, what the venues executed for it; per venue, which closes (``None``: an
    order the journal does not know) traded its spot market of the base asset."""
    tallies: dict[str, _OnVenues] = {}
    traders: dict[str, set[str | None]] = {ledger.name: set() for ledger in ledgers}
    for ledger in ledgers:
        orders = {(o.market, o.id): o for o in ledger.orders}
        for trade in ledger.trades:
            order = orders.get((trade.market, trade.order_id))
            attempt = attempts.get(order.client_order_id) if order is not None else None
            owner = attempt.close_id if attempt is not None else None
            if trade.market == "spot" and trade.symbol.startswith(base_asset):
                traders[ledger.name].add(owner)
            if attempt is None or owner is None:
                continue
            tally = tallies.setdefault(owner, _OnVenues())
            if trade.market == "spot" and attempt.purpose in OWN_PURPOSES:
                tally.sold[ledger.name] = tally.sold.get(ledger.name, ZERO) + trade.qty
            elif trade.market == "spot" and attempt.purpose == Purpose.RELEASE:
                tally.released[ledger.name] = tally.released.get(ledger.name, ZERO) + trade.qty
            elif trade.market != "spot" and attempt.purpose == Purpose.HEDGE:
                tally.hedged += trade.qty
    return tallies, traders


def _journaled_sold(
    journal: JournalSnapshot, close_id: str, attempts: Mapping[str, AttemptView]
) -> dict[str, Decimal]:
    """What the journal says the close's exit orders filled, per venue (as
    :func:`router.journal.holdings.sold_by_venue` reads it)."""
    sold: dict[str, Decimal] = {}
    for fill in journal.fills:
        attempt = attempts.get(fill.client_order_id or "")
        if fill.close_id != close_id or attempt is None or attempt.close_id != close_id:
            continue
        if attempt.purpose in OWN_PURPOSES:
            sold[fill.venue] = sold.get(fill.venue, ZERO) + fill.quantity
    return sold


def _holding(row: Mapping[str, Any]) -> VenueHolding:
    return VenueHolding(
        row["venue"],
        row["held"],
        row.get("unknown_reason"),
        bool(row.get("stuck", False)),
        row.get("left_reason"),
    )


def _covers(rows: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
    """What the close's hedge rows say they cover, per spot venue."""
    covers: dict[str, Decimal] = {}
    for row in rows:
        for venue, amount in json.loads(row.get("covers_json") or "{}").items():
            covers[venue] = covers.get(venue, ZERO) + Decimal(amount)
    return covers


def _position(
    journal: JournalSnapshot,
    ledgers: Sequence[VenueLedger],
    attempts: Mapping[str, AttemptView],
    base_asset: str,
) -> list[Violation]:
    """Every close with a stated outcome covers its whole position, venue by venue.

    Per close (``held`` from its ``holdings`` rows; ``sold``, ``hedged`` from the
    venues' trades of its orders; ``residual`` per venue as
    :func:`router.core.position.attribute` hands it out, the figures an operator reads):

    (a) every configured venue (the request's ``venues``, else every venue) has a row
        (a close with neither rows nor orders, stated by something other than the
        engine's runner, is left to the ``outcome`` invariant);
    (b) for a sell, on a venue no other close traded the base asset on, a known
        ``held`` is what the venue's ledger held at the start, and what it holds at the
        end is ``held - sold - released`` (for a close of everything: its hedged less
        released, plus its residual);
    (c) per venue, the journaled sales are what the venue's own trades show;
    (d) the perp quantity the venues shorted for the close is attributed to venues in
        full, no venue released (``router hedge unwind --with-spot``) more than was
        hedged on its behalf, and the hedge rows' ``covers_json`` say per venue what is
        hedged less what was released;
    (e) a close of everything held (``quantity = "all"``) asks for the sum of the known
        holdings and sells no venue beyond its holding; FLAT means every holding was
        sold, HEDGED that nothing (or dust below the smallest perp lot of its venues)
        is left, each with no venue unknown; with a venue unknown it is STRANDED and
        its reason names the venue; any HEDGED close leaves at most that dust;
    (f) the venues' residuals plus ``unattributed`` make the close's journaled residual.
    """
    found: list[Violation] = []
    by_name = {ledger.name: ledger for ledger in ledgers}
    executed, traders = _by_close(ledgers, attempts, base_asset)
    for close in journal.closes:
        if close.outcome is None:
            continue  # the ``outcome`` invariant already names it
        rows = journal.holdings.get(close.id, ())
        if not rows and not any(a.close_id == close.id for a in journal.attempts):
            # journaled and stated without resolving a position or sending an order (not
            # by the engine's runner): nothing to compare with the venues but its outcome
            continue
        wanted = close.request.get("venues") or list(by_name)
        configured = [n for n in wanted if n in by_name]
        present = {r["venue"] for r in rows}
        where = f"close {close.id}"
        for name in configured:
            if name not in present:
                found.append(Violation("position", f"{where}: no holdings row for {name}"))
        done = executed.get(close.id, _OnVenues())
        sold = _journaled_sold(journal, close.id, attempts)
        holdings = [_holding(r) for r in rows]
        whole = is_whole(close)
        figures = attribute(
            holdings, sold, requested=close.requested_qty, hedged=close.hedged_qty, whole=whole
        )
        lots = [lot for n in configured if (lot := by_name[n].perp_lot) is not None]
        found += _venue_sales(where, figures, done, sold)
        found += _start_and_end(where, close, rows, figures, done, by_name, traders, base_asset)
        found += _hedge_attribution(where, journal, close, figures, done)
        found += _residuals(where, close, figures)
        found += _whole(where, close, figures, done, min(lots, default=None))
    return found


def _venue_sales(
    where: str, figures: PositionFigures, done: _OnVenues, sold: Mapping[str, Decimal]
) -> list[Violation]:
    """(c) and the first half of (e): journaled sales are the venues', none beyond the
    holding."""
    found: list[Violation] = []
    for venue in sorted(set(done.sold) | {v for v in sold if v != INTERNAL}):
        journaled, shown = sold.get(venue, ZERO), done.sold.get(venue, ZERO)
        if journaled != shown:
            found.append(
                Violation(
                    "position",
                    f"{where}: {venue} sold {_q(shown)} per the venue, "
                    f"{_q(journaled)} per the journal",
                )
            )
    for row in figures.venues:
        shown = done.sold.get(row.venue, ZERO)
        if row.held is not None and shown > row.held:
            found.append(
                Violation(
                    "position",
                    f"{where}: {row.venue} held {_q(row.held)} at the start, "
                    f"the venue shows {_q(shown)} sold",
                )
            )
    return found


def _start_and_end(
    where: str,
    close: CloseView,
    rows: Sequence[Mapping[str, Any]],
    figures: PositionFigures,
    done: _OnVenues,
    ledgers: Mapping[str, VenueLedger],
    traders: Mapping[str, set[str | None]],
    base_asset: str,
) -> list[Violation]:
    """(b): a known holding is the venue's, and what is left there is held - sold.

    Only where the ledger alone tells what the venue held when the close started: a
    sell of the base asset, on a venue whose spot market of it no other order traded
    on (the worlds of storm, crash, takeover and restart runs hold a single close).
    """
    if close.side != "sell":
        return []
    found: list[Violation] = []
    by_venue = figures.by_venue()
    for row in rows:
        ledger = ledgers.get(row["venue"])
        if ledger is None or row["held"] is None or row.get("asset", base_asset) != base_asset:
            continue
        if traders.get(ledger.name, set()) - {close.id}:
            continue
        if base_asset not in ledger.initial:
            continue
        start = ledger.initial[base_asset]
        held: Decimal = row["held"]
        if held != start:
            found.append(
                Violation(
                    "position",
                    f"{where}: {ledger.name} journaled as holding {_q(held)} {base_asset}, "
                    f"its ledger held {_q(start)} at the start",
                )
            )
            continue
        end = ledger.balances.get(base_asset)
        sold = done.sold.get(ledger.name, ZERO)
        released = done.released.get(ledger.name, ZERO)
        left = held - sold - released
        if end is not None and end != left:
            after = f" - released {_q(released)}" if released else ""
            found.append(
                Violation(
                    "position",
                    f"{where}: {ledger.name} holds {_q(end)} {base_asset} at the end, "
                    f"held {_q(held)} - sold {_q(sold)}{after} = {_q(left)}",
                )
            )
            continue
        mine = by_venue.get(ledger.name)
        if is_whole(close) and mine is not None and end is not None:
            covered = mine.hedged - released + (mine.residual or ZERO)
            if end != covered:
                found.append(
                    Violation(
                        "position",
                        f"{where}: {ledger.name} still holds {_q(end)} {base_asset}, "
                        f"but only {_q(mine.hedged - released)} is hedged on its behalf "
                        f"and {_q(mine.residual)} named as its residual",
                    )
                )
    return found


def _hedge_attribution(
    where: str,
    journal: JournalSnapshot,
    close: CloseView,
    figures: PositionFigures,
    done: _OnVenues,
) -> list[Violation]:
    """(d): every unit the venues shorted for the close is covering some venue's
    holdings, and the hedge rows' covers say which."""
    found: list[Violation] = []
    attributed = sum((v.hedged for v in figures.venues), ZERO)
    if attributed != done.hedged:
        found.append(
            Violation(
                "position",
                f"{where}: the venues show {_q(done.hedged)} shorted for it, "
                f"{_q(attributed)} is attributed to venues' holdings",
            )
        )
    for v in figures.venues:
        released = done.released.get(v.venue, ZERO)
        if released > v.hedged:
            found.append(
                Violation(
                    "position",
                    f"{where}: {_q(released)} of {v.venue}'s inventory released after the "
                    f"close, only {_q(v.hedged)} was hedged on its behalf",
                )
            )
    legs = [h for h in journal.hedges if h["close_id"] == close.id]
    if not legs:
        return found
    covers = _covers(legs)
    # a release sells covered inventory and takes it off the hedge rows' covers
    by_venue = {
        v.venue: v.hedged - done.released.get(v.venue, ZERO)
        for v in figures.venues
        if v.hedged - done.released.get(v.venue, ZERO) > 0
    }
    if covers != by_venue:
        shown = ", ".join(f"{n} {_q(q)}" for n, q in sorted(covers.items())) or "nothing"
        owed = ", ".join(f"{n} {_q(q)}" for n, q in sorted(by_venue.items())) or "nothing"
        found.append(
            Violation(
                "position",
                f"{where}: its hedge rows cover {shown}, the venues' figures attribute {owed}"
                + (" (less what was released)" if done.released else ""),
            )
        )
    return found


def _residuals(where: str, close: CloseView, figures: PositionFigures) -> list[Violation]:
    """(f): the venues' residuals and the unattributed rest are the close's residual."""
    named = sum((v.residual or ZERO for v in figures.venues), ZERO) + figures.unattributed
    if close.residual_qty is None or named == close.residual_qty:
        return []
    parts = ", ".join(f"{v.venue} {_q(v.residual)}" for v in figures.venues if v.residual)
    return [
        Violation(
            "position",
            f"{where}: residual {_q(close.residual_qty)} journaled, the venues' residuals "
            f"({parts or 'none'}) and {_q(figures.unattributed)} unattributed make {_q(named)}",
        )
    ]


def _whole(
    where: str,
    close: CloseView,
    figures: PositionFigures,
    done: _OnVenues,
    perp_lot: Decimal | None,
) -> list[Violation]:
    """(e): what the outcome of a close says about its venues."""
    found: list[Violation] = []
    residual = close.residual_qty if close.residual_qty is not None else ZERO
    dust = residual == 0 or (perp_lot is not None and ZERO < residual < perp_lot)
    if close.outcome == CloseOutcome.HEDGED and not dust:
        found.append(
            Violation(
                "position",
                f"{where}: HEDGED leaving {_q(residual)} unhedged "
                f"(smallest perp lot {_q(perp_lot)})",
            )
        )
    if not is_whole(close):
        return found
    known = [v for v in figures.venues if v.held is not None]
    total = sum((v.held or ZERO for v in known), ZERO)
    if close.requested_qty != total:
        parts = ", ".join(f"{v.venue} {_q(v.held)}" for v in known) or "none"
        found.append(
            Violation(
                "position",
                f"{where}: a close of everything held asks for {_q(close.requested_qty)}, "
                f"the known holdings ({parts}) make {_q(total)}",
            )
        )
    unknown = list(figures.unknown)
    if unknown:
        reason = close.outcome_reason or ""
        named = reason[reason.find("holdings unknown") :] if "holdings unknown" in reason else ""
        missing = [n for n in unknown if f"{n}:" not in named]
        if close.outcome != CloseOutcome.STRANDED or missing:
            found.append(
                Violation(
                    "position",
                    f"{where}: {close.outcome} with holdings unknown on "
                    f"{', '.join(unknown)}"
                    + (f" ({', '.join(missing)} not named)" if missing else ""),
                )
            )
    if close.outcome == CloseOutcome.FLAT:
        # every holding sold on its venue, but for what an opposite close took over
        # internally (a crossing leaves the coins where they are)
        unsold = {
            v.venue: (v.held or ZERO) - done.sold.get(v.venue, ZERO)
            for v in known
            if done.sold.get(v.venue, ZERO) != v.held
        }
        internal = figures.by_venue().get(INTERNAL)
        crossed = internal.sold if internal is not None else ZERO
        if sum(unsold.values(), ZERO) != crossed:
            left = [f"{n} {_q(q)}" for n, q in sorted(unsold.items())]
            found.append(
                Violation(
                    "position",
                    f"{where}: FLAT with holdings left unsold ({', '.join(left)})",
                )
            )
    return found
