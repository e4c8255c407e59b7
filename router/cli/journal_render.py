"""Human-readable terminal output of the journal's audits and statistics (rich tables).

Every value from the journal is printed as plain text, never as rich markup: venue error
messages and details may contain brackets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.cli.formats import iso, plain
from router.core.position import PositionFigures
from router.journal.reading import seconds
from router.journal.records import AttemptView, CloseView
from router.journal.stats import MemoryStats
from router.journal.timeline import (
    AttemptEntry,
    Book,
    Entry,
    FillEntry,
    HedgeEntry,
    LiquidityEventEntry,
    Summary,
    Timeline,
    VenueEventEntry,
    WaveEntry,
)

TOP_LEVELS_SHOWN = 3
HUNDREDTH = Decimal("0.01")


def _num(value: Decimal | None) -> str:
    return "-" if value is None else plain(value)


def _bps(value: Decimal | None) -> str:
    """A fraction in basis points, to a hundredth: ``0.002`` is ``20.00 bps``."""
    return "-" if value is None else f"{(value * 10_000).quantize(HUNDREDTH)} bps"


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{(value * 100).quantize(HUNDREDTH)}%"


def _time(value: datetime | None) -> str:
    return "-" if value is None else iso(value)


def _offset(value: datetime | None, start: datetime) -> str:
    """``value`` as seconds after ``start``: ``+3.5s``."""
    return "-" if value is None else f"+{plain(seconds(value - start))}s"


def _add_row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(cell) for cell in cells))


# ------------------------------------------------------------------ timeline


def render_timeline(timeline: Timeline, console: Console | None = None) -> None:
    """Print a close: what was asked, what became of it, every event, and the numbers."""
    out = console or Console()
    close = timeline.close
    out.print(_close_table(close))
    # The first wave's books are read (and journaled) before the close row exists.
    start = min([close.created_at, *(entry.at for entry in timeline.events)])
    out.print(_events_table(timeline.events, start))
    out.print(_summary_table(timeline.summary))
    if timeline.position is not None:
        out.print(_position_table(timeline.position))


def _position_table(position: PositionFigures) -> Table:
    """Per venue: held at start = sold + hedged for it + residual (+ kept out of the close)."""
    table = Table(title=Text("position per venue"))
    for column in ("venue", "held at start", "sold", "hedged for it", "residual", "kept", "why"):
        table.add_column(column, justify="left" if column in ("venue", "why") else "right")
    for row in position.venues:
        _add_row(
            table,
            row.venue,
            "unknown" if row.held is None and row.venue in position.unknown else _num(row.held),
            plain(row.sold),
            plain(row.hedged),
            "unknown" if row.residual is None else plain(row.residual),
            plain(row.kept),
            row.why or "",
        )
    if position.unattributed > 0:
        _add_row(table, "(unknown venues)", "", "", "", plain(position.unattributed), "", "")
    return table


def _close_table(close: CloseView) -> Table:
    table = Table(title=Text(f"close {close.id}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in (
        ("request", f"{close.side} {plain(close.requested_qty)} {close.symbol}"),
        ("state", close.state),
        ("outcome", close.outcome or "-"),
        ("reason", close.outcome_reason or "-"),
        ("reference price", _num(close.reference_price)),
        ("filled", plain(close.filled_qty)),
        ("hedged", plain(close.hedged_qty)),
        ("residual", _num(close.residual_qty)),
        ("created", _time(close.created_at)),
        ("finished", _time(close.finished_at)),
        ("idempotency key", close.idempotency_key),
        ("request as stored", json.dumps(close.request, sort_keys=True)),
    ):
        _add_row(table, name, value)
    return table


def _events_table(events: Sequence[Entry], start: datetime) -> Table:
    table = Table(title=Text("events"))
    table.add_column("at")
    table.add_column("after", justify="right")
    table.add_column("event")
    table.add_column("venue")
    table.add_column("detail")
    for entry in events:
        venue, detail = _describe(entry, start)
        _add_row(table, iso(entry.at), _offset(entry.at, start), entry.TYPE, venue, detail)
    return table


def _describe(entry: Entry, start: datetime) -> tuple[str, str]:
    """The venue column and the detail column of one event."""
    if isinstance(entry, WaveEntry):
        venues = ", ".join(book.venue for book in entry.books) or "-"
        return venues, "\n".join([f"wave {entry.wave}", *map(_book_line, entry.books)])
    if isinstance(entry, AttemptEntry):
        return entry.attempt.venue, _attempt_line(entry.attempt, start)
    if isinstance(entry, FillEntry):
        return entry.fill.venue, _fill_line(entry)
    if isinstance(entry, VenueEventEntry):
        order = f" (order {entry.client_order_id})" if entry.client_order_id else ""
        return entry.venue, f"{entry.kind}: {entry.detail or '-'}{order}"
    if isinstance(entry, LiquidityEventEntry):
        return entry.venue or "-", _liquidity_line(entry)
    return entry.venue, _hedge_line(entry, start)


def _book_line(book: Book) -> str:
    def levels(side: tuple[tuple[Decimal, Decimal], ...]) -> str:
        shown = side[:TOP_LEVELS_SHOWN]
        return " ".join(f"{plain(price)}x{plain(qty)}" for price, qty in shown) or "-"

    return (
        f"{book.venue} {book.market}: bid {_num(book.best_bid)} / ask {_num(book.best_ask)}"
        f"; bids {levels(book.bids)}; asks {levels(book.asks)}"
    )


def _attempt_line(attempt: AttemptView, start: datetime) -> str:
    lines = [
        f"wave {attempt.wave} tier {attempt.tier} {attempt.purpose}: {attempt.side} "
        f"{plain(attempt.quantity)} {attempt.market} @ {_num(attempt.limit_price)} "
        f"{attempt.style}",
        f"{attempt.state.value}, filled {plain(attempt.filled_qty)}; "
        f"order {attempt.client_order_id} / {attempt.exchange_order_id or '-'}",
        f"sent {_offset(attempt.sent_at, start)}, acked {_offset(attempt.acked_at, start)}, "
        f"final {_offset(attempt.final_at, start)}",
    ]
    if attempt.error_class:
        lines.append(f"error {attempt.error_class}: {attempt.error_message or '-'}")
    return "\n".join(lines)


def _fill_line(entry: FillEntry) -> str:
    fill = entry.fill
    return (
        f"{fill.side} {plain(fill.quantity)} @ {plain(fill.price)}, "
        f"fee {plain(fill.fee)} {fill.fee_asset or '?'} "
        f"(trade {fill.trade_id}, order {fill.client_order_id or '-'})"
    )


def _liquidity_line(entry: LiquidityEventEntry) -> str:
    window = f"{plain(entry.escape_window_s)}s" if entry.escape_window_s is not None else "-"
    detail = json.dumps(entry.detail, sort_keys=True) if entry.detail else ""
    return f"{entry.kind} {entry.symbol}: score {_num(entry.score)}, escape {window} {detail}"


def _hedge_line(entry: HedgeEntry, start: datetime) -> str:
    legs = ", ".join(f"{leg.client_order_id} {leg.state.value}" for leg in entry.legs) or "-"
    return (
        f"hedge #{entry.id} {entry.side} {plain(entry.quantity)} {entry.symbol} "
        f"avg {_num(entry.average_price)}, unwound {plain(entry.unwound_qty)}, {entry.state}, "
        f"closed {_offset(entry.closed_at, start)}\nlegs: {legs}"
    )


def _summary_table(summary: Summary) -> Table:
    table = Table(title=Text("summary"), show_header=False)
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    fees = ", ".join(f"{plain(fee)} {asset}" for asset, fee in summary.fees.items()) or "-"
    states = ", ".join(f"{state} {n}" for state, n in summary.attempts_by_state.items()) or "-"
    flat = summary.time_to_flat
    for name, value in (
        ("filled", plain(summary.filled_qty)),
        ("average price", _num(summary.average_price)),
        ("reference price", _num(summary.reference_price)),
        ("slippage", _bps(summary.slippage)),
        ("fees", fees),
        ("waves", str(summary.waves)),
        ("attempts", states),
        ("time to flat", "-" if flat is None else f"{plain(seconds(flat))}s"),
        ("venues", ", ".join(summary.venues) or "-"),
    ):
        _add_row(table, name, value)
    return table


# ------------------------------------------------------------------ statistics


def _stats_table(
    title: str, headers: Sequence[str], rows: Sequence[Any], cells: Callable[[Any], list[str]]
) -> Table:
    table = Table(title=Text(title))
    for header in headers:
        table.add_column(header)
    for row in rows:
        _add_row(table, *cells(row))
    return table


def render_stats(stats: MemoryStats, console: Console | None = None) -> None:
    """Print the Memory-Layer statistics of one time window."""
    out = console or Console()
    out.print(Text(f"from {_time(stats.since)} until {_time(stats.until)}"))
    out.print(
        _stats_table(
            "slippage by tier and venue",
            ["tier", "venue", "attempts", "filled", "average", "reference", "slippage"],
            stats.slippage_by_tier_and_venue,
            lambda r: [
                str(r.tier),
                r.venue,
                str(r.attempts),
                plain(r.filled_qty),
                _num(r.average_price),
                _num(r.reference_price),
                _bps(r.slippage),
            ],
        )
    )
    out.print(
        _stats_table(
            "fill ratio per wave",
            ["close", "wave", "attempts", "sent", "filled", "ratio"],
            stats.fill_ratio_per_wave,
            lambda r: [
                r.close_id,
                str(r.wave),
                str(r.attempts),
                plain(r.sent_qty),
                plain(r.filled_qty),
                _percent(r.ratio),
            ],
        )
    )
    out.print(
        _stats_table(
            "time to flat",
            ["close", "symbol", "side", "outcome", "created", "seconds"],
            stats.time_to_flat,
            lambda r: [
                r.close_id,
                r.symbol,
                r.side,
                r.outcome or "-",
                iso(r.created_at),
                plain(r.seconds),
            ],
        )
    )
    out.print(
        _stats_table(
            "liquidity events",
            ["at", "symbol", "venue", "kind", "score", "escape s", "close"],
            stats.liquidity_events,
            lambda r: [
                iso(r.at),
                r.symbol,
                r.venue or "-",
                r.kind,
                _num(r.score),
                _num(r.escape_window_s),
                r.close_id or "-",
            ],
        )
    )
