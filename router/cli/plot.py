"""A close as one picture: prices and fills, quantity out, the tier ladder and venue faults.

Only the journal is read (through :func:`~router.journal.timeline.close_timeline`); amounts
stay :class:`~decimal.Decimal` until they are handed to matplotlib. The figure is drawn
on the Agg canvas, so no display is needed.

Panels, sharing one UTC time axis:

* **price**: each venue's best bid and ask from the wave book snapshots (the side the
  close trades against bold, the other faint), the arrival reference (dashed), the
  worst limit price of each wave's orders (the tier's cap), and the fills as markers
  by venue, sized by quantity (hedge legs as triangles);
* **quantity**: spot filled and hedged over time, stacked, and the residual still open
  up to the requested quantity as a hatched band;
* **tier**: the ladder rung each wave traded at, the hedge orders, and venue faults
  (outages, circuit changes, unknown outcomes, rejections) as vertical lines, repeated
  faintly above.

The price axis is scaled to the books, fills and reference; a limit beyond them is
clipped and its value written at the edge.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sqlalchemy.ext.asyncio import AsyncEngine

from router.cli.formats import plain
from router.core.purpose import OWN_PURPOSES
from router.journal.records import AttemptView, FillRecord
from router.journal.timeline import (
    AttemptEntry,
    FillEntry,
    Timeline,
    VenueEventEntry,
    WaveEntry,
    close_timeline,
)

FAULT_COLOURS: dict[str, str] = {
    "outage": "#d62728",
    "read_failed": "#d62728",
    "circuit_open": "#ff7f0e",
    "circuit_half_open": "#bcbd22",
    "circuit_closed": "#2ca02c",
    "unknown_outcome": "#9467bd",
    "order_rejected": "#7f7f7f",
}
OTHER_FAULT_COLOUR = "#8c564b"
SPOT_COLOUR = "#2ca02c"
HEDGE_COLOUR = "#1f77b4"
RESIDUAL_COLOUR = "#d62728"
DPI = 110


class UnknownClose(LookupError):
    """The journal holds no close with that id."""


@dataclass(frozen=True, slots=True)
class _Fills:
    """A close's fills split into its own and its hedge legs'."""

    own: tuple[FillRecord, ...]
    hedge: tuple[FillRecord, ...]


async def plot_close(engine: AsyncEngine, close_id: str, path: Path) -> Path:
    """Draw the close ``close_id`` of the journal on ``engine`` into the PNG ``path``.

    Creates the file's directory if needed; raises :class:`UnknownClose` if the journal
    does not know the close. Returns ``path``.
    """
    timeline = await close_timeline(engine, close_id)
    if timeline is None:
        raise UnknownClose(f"no close {close_id!r} in the journal")
    figure = close_figure(timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


def close_figure(timeline: Timeline) -> Figure:
    """The close's picture as a matplotlib figure of three axes (price, quantity, tier)."""
    figure = Figure(figsize=(14, 10), layout="constrained")
    FigureCanvasAgg(figure)
    price_ax, qty_ax, tier_ax = figure.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [3.2, 2, 1.1]}
    )
    attempts = [e.attempt for e in timeline.events if isinstance(e, AttemptEntry)]
    fills = _split_fills(timeline, attempts)
    waves = [e for e in timeline.events if isinstance(e, WaveEntry)]
    faults = [e for e in timeline.events if isinstance(e, VenueEventEntry)]
    colours = _venue_colours(timeline, attempts)

    _price_panel(price_ax, timeline, waves, attempts, fills, colours)
    _quantity_panel(qty_ax, timeline, fills)
    _tier_panel(tier_ax, waves, attempts, faults)
    for ax in (price_ax, qty_ax):
        for fault in faults:
            ax.axvline(_x(fault.at), color=_fault_colour(fault.kind), lw=0.8, alpha=0.35)

    start, end = _span(timeline)
    tier_ax.set_xlim(_x(start), _x(end))
    tier_ax.xaxis.set_major_locator(AutoDateLocator(tz=UTC))
    tier_ax.xaxis.set_major_formatter(DateFormatter(_time_format(end - start), tz=UTC))
    tier_ax.set_xlabel(f"time (UTC, {start.astimezone(UTC):%Y-%m-%d})")
    for ax in (price_ax, qty_ax, tier_ax):
        ax.grid(True, alpha=0.3)
    figure.suptitle(_title(timeline), fontsize=11, ha="left", x=0.01)
    return figure


# ------------------------------------------------------------------ data


def _x(at: datetime) -> float:
    """A time as a matplotlib date number (UTC)."""
    return float(date2num(at.astimezone(UTC)))


def _f(value: Decimal | None) -> float:
    return float("nan") if value is None else float(value)


def _split_fills(timeline: Timeline, attempts: Sequence[AttemptView]) -> _Fills:
    """Fills of no known order count as the close's own, as in the audit summary."""
    legs = {a.client_order_id for a in attempts if a.purpose not in OWN_PURPOSES}
    all_fills = [e.fill for e in timeline.events if isinstance(e, FillEntry)]
    own = tuple(f for f in all_fills if f.client_order_id not in legs)
    hedge = tuple(f for f in all_fills if f.client_order_id in legs)
    return _Fills(own, hedge)


def _venue_colours(timeline: Timeline, attempts: Sequence[AttemptView]) -> dict[str, str]:
    venues: set[str] = {a.venue for a in attempts}
    for entry in timeline.events:
        if isinstance(entry, WaveEntry):
            venues.update(book.venue for book in entry.books)
        elif isinstance(entry, FillEntry):
            venues.add(entry.fill.venue)
        elif isinstance(entry, VenueEventEntry):
            venues.add(entry.venue)
    palette = colormaps["tab10"]
    return {venue: _hex(palette(i % 10)) for i, venue in enumerate(sorted(venues))}


def _hex(rgba: tuple[float, float, float, float]) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in rgba[:3])


def _span(timeline: Timeline) -> tuple[datetime, datetime]:
    """From the close's creation to its end (or its last event), padded a little."""
    times = [timeline.close.created_at, *(e.at for e in timeline.events)]
    if timeline.close.finished_at is not None:
        times.append(timeline.close.finished_at)
    start, end = min(times), max(times)
    pad = max((end - start) * 0.02, timedelta(milliseconds=200))
    return start - pad, end + pad


def _time_format(span: timedelta) -> str:
    """Clock time to the second, or to the millisecond for closes of a few seconds."""
    return "%H:%M:%S.%f" if span < timedelta(seconds=4) else "%H:%M:%S"


def _fault_colour(kind: str) -> str:
    return FAULT_COLOURS.get(kind, OTHER_FAULT_COLOUR)


# ------------------------------------------------------------------ price


def _price_panel(
    ax: Axes,
    timeline: Timeline,
    waves: Sequence[WaveEntry],
    attempts: Sequence[AttemptView],
    fills: _Fills,
    colours: dict[str, str],
) -> None:
    selling = timeline.close.side.lower() == "sell"
    hit, other = ("bid", "ask") if selling else ("ask", "bid")
    series: dict[tuple[str, str], list[tuple[datetime, Decimal | None, Decimal | None]]] = {}
    for wave in waves:
        for book in wave.books:
            series.setdefault((book.venue, book.market), []).append(
                (book.taken_at, book.best_bid, book.best_ask)
            )
    markets = sorted({market for _, market in series}, key=lambda m: (m != "spot", m))
    styles = dict(zip(markets, ["-", ":", "-.", "--"], strict=False))
    for (venue, market), points in sorted(series.items()):
        points.sort(key=lambda point: point[0])
        xs = [_x(at) for at, _, _ in points]
        bids = [_f(bid) for _, bid, _ in points]
        asks = [_f(ask) for _, _, ask in points]
        hit_side, other_side = (bids, asks) if selling else (asks, bids)
        style = styles.get(market, "-")
        colour = colours[venue]
        ax.plot(
            xs,
            hit_side,
            style,
            color=colour,
            lw=2,
            marker=".",
            ms=5,
            drawstyle="steps-post",
            label=f"{venue} {market} best {hit}",
        )
        ax.plot(xs, other_side, style, color=colour, lw=0.9, alpha=0.35, drawstyle="steps-post")
    reference = timeline.close.reference_price
    if reference is not None:
        ax.axhline(
            float(reference),
            color="black",
            ls="--",
            lw=1.2,
            label=f"arrival reference {plain(reference)}",
        )
    _fill_markers(ax, fills, colours, selling)
    seen = [
        value
        for line in ax.get_lines()
        for value in np.asarray(line.get_ydata(), dtype=float).tolist()
        if not math.isnan(value)
    ]
    seen.extend(float(f.price) for f in (*fills.own, *fills.hedge))
    if seen:
        low, high = min(seen), max(seen)
        pad = (high - low) * 0.06 or abs(high) * 0.01 or 1.0
        ax.set_ylim(low - pad, high + pad)
    _limit_steps(ax, timeline, waves, attempts, selling)
    if series:
        ax.plot([], [], "-", color="grey", lw=0.9, alpha=0.5, label=f"best {other} (faint)")
    ax.set_ylabel(f"price ({_quote(timeline)})")
    ax.set_title("prices: books, limits and fills", fontsize=10, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)


def _quote(timeline: Timeline) -> str:
    quote = timeline.close.request.get("quote")
    return str(quote) if quote else "quote"


def _limit_steps(
    ax: Axes,
    timeline: Timeline,
    waves: Sequence[WaveEntry],
    attempts: Sequence[AttemptView],
    selling: bool,
) -> None:
    """The worst limit price of each wave's own orders, held until the next wave."""
    by_wave: dict[int, list[AttemptView]] = {}
    for attempt in attempts:
        if attempt.purpose in OWN_PURPOSES and attempt.limit_price is not None:
            by_wave.setdefault(attempt.wave, []).append(attempt)
    if not by_wave:
        return
    wave_times = {wave.wave: wave.at for wave in waves}
    steps: list[tuple[datetime, Decimal, int]] = []
    for number, orders in sorted(by_wave.items()):
        limits = [a.limit_price for a in orders if a.limit_price is not None]
        worst = min(limits) if selling else max(limits)
        at = min(a.intent_at for a in orders)
        steps.append((min(at, wave_times.get(number, at)), worst, max(a.tier for a in orders)))
    later = [w.at for w in waves if w.at > steps[-1][0]]
    end = later[0] if later else _span(timeline)[1]
    xs = [_x(at) for at, _, _ in steps] + [_x(end)]
    ys = [float(limit) for _, limit, _ in steps]
    ax.step(
        xs,
        [*ys, ys[-1]],
        where="post",
        color="#444444",
        lw=1.3,
        ls=(0, (4, 2)),
        label="order limit (tier cap)",
    )
    low, high = ax.get_ylim()
    shown: int | None = None
    for at, limit, tier in steps:
        if tier != shown:
            on_scale = low <= float(limit) <= high
            text = f"tier {tier}" if on_scale else f"tier {tier}: limit {plain(limit)}, off scale"
            ax.annotate(
                text,
                (_x(at), min(max(float(limit), low), high)),
                xytext=(3, 4 if float(limit) < low or not (selling or on_scale) else -11),
                textcoords="offset points",
                fontsize=8,
                color="#444444",
            )
            shown = tier


def _fill_markers(ax: Axes, fills: _Fills, colours: dict[str, str], selling: bool) -> None:
    biggest = max((f.quantity for f in (*fills.own, *fills.hedge)), default=Decimal(0))
    hedge_marker = "v" if selling else "^"
    for group, marker, what in (
        (fills.own, "o", "fills"),
        (fills.hedge, hedge_marker, "hedge fills"),
    ):
        for venue in sorted({f.venue for f in group}):
            mine = [f for f in group if f.venue == venue]
            ax.scatter(
                [_x(f.traded_at) for f in mine],
                [float(f.price) for f in mine],
                s=[_size(f.quantity, biggest) for f in mine],
                marker=marker,
                color=colours[venue],
                edgecolors="black",
                linewidths=0.4,
                alpha=0.75,
                zorder=3,
                label=f"{venue} {what} ({plain(sum((f.quantity for f in mine), Decimal(0)))})",
            )


def _size(quantity: Decimal, biggest: Decimal) -> float:
    """Marker area in points²: from 12 for the smallest fills to 260 for the biggest."""
    if biggest <= 0:
        return 12.0
    return 12.0 + 248.0 * math.sqrt(float(quantity / biggest))


# ------------------------------------------------------------------ quantity


def _cumulative(fills: Iterable[FillRecord], side: str, times: Sequence[datetime]) -> list[float]:
    """Signed running total at each of ``times``: fills on the close's side count up."""
    ordered = sorted(fills, key=lambda f: f.traded_at)
    total, index, out = Decimal(0), 0, []
    for at in times:
        while index < len(ordered) and ordered[index].traded_at <= at:
            fill = ordered[index]
            total += fill.quantity if fill.side.lower() == side else -fill.quantity
            index += 1
        out.append(float(total))
    return out


def _quantity_panel(ax: Axes, timeline: Timeline, fills: _Fills) -> None:
    close = timeline.close
    side = close.side.lower()
    start, end = _span(timeline)
    times = sorted({start, end, *(f.traded_at for f in (*fills.own, *fills.hedge))})
    xs = [_x(at) for at in times]
    spot = _cumulative(fills.own, side, times)
    hedged = _cumulative(fills.hedge, side, times)
    out = [s + h for s, h in zip(spot, hedged, strict=True)]
    requested = float(close.requested_qty)
    unit = close.symbol
    ax.fill_between(
        xs,
        0,
        spot,
        step="post",
        color=SPOT_COLOUR,
        alpha=0.7,
        label=f"spot filled ({plain(close.filled_qty)})",
    )
    ax.fill_between(
        xs,
        spot,
        out,
        step="post",
        color=HEDGE_COLOUR,
        alpha=0.6,
        label=f"hedged ({plain(close.hedged_qty)})",
    )
    residual = close.residual_qty
    ax.fill_between(
        xs,
        out,
        [max(requested, o) for o in out],
        step="post",
        facecolor=RESIDUAL_COLOUR,
        alpha=0.18,
        hatch="//",
        edgecolor=RESIDUAL_COLOUR,
        lw=0,
        label="residual still open" + ("" if residual is None else f" ({plain(residual)} at end)"),
    )
    ax.axhline(requested, color="black", lw=1.2, label=f"requested ({plain(close.requested_qty)})")
    if close.finished_at is not None:
        ax.axvline(_x(close.finished_at), color="black", ls=":", lw=1.2, label="close finished")
    ax.set_ylim(0, max(requested, max(out, default=0.0)) * 1.08 or 1.0)
    ax.set_ylabel(f"quantity out ({unit})")
    ax.set_title("quantity out: sold, hedged and still open", fontsize=10, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)


# ------------------------------------------------------------------ tier and faults


def _tier_panel(
    ax: Axes,
    waves: Sequence[WaveEntry],
    attempts: Sequence[AttemptView],
    faults: Sequence[VenueEventEntry],
) -> None:
    kinds: list[tuple[datetime, int | None, str]] = []
    tier: int | None = None
    for wave in waves:
        orders = [a for a in attempts if a.wave == wave.wave]
        own = [a for a in orders if a.purpose in OWN_PURPOSES]
        if own:
            tier = max(a.tier for a in own)
            kinds.append((wave.at, tier, "orders"))
        elif orders:
            tier = None
            kinds.append((wave.at, None, "hedge"))
        else:
            kinds.append((wave.at, tier, "none"))
    rungs = {t for _, t, _ in kinds if t is not None} or {0}
    tiers = list(range(min(rungs), max(rungs) + 1))
    hedge_row = tiers[0] - 1
    rows = [(at, hedge_row if t is None else t, kind) for at, t, kind in kinds]
    if rows:
        xs = [_x(at) for at, _, _ in rows]
        ys = [t for _, t, _ in rows]
        ax.step(xs, ys, where="post", color="black", lw=1.5)
        styles = {
            "orders": ("o", "black", "wave with orders"),
            "none": ("o", "white", "wave without orders"),
        }
        for kind, (marker, face, label) in styles.items():
            mine = [(x, y) for x, y, row in zip(xs, ys, rows, strict=True) if row[2] == kind]
            if mine:
                ax.scatter(
                    [x for x, _ in mine],
                    [y for _, y in mine],
                    marker=marker,
                    s=30,
                    facecolors=face,
                    edgecolors="black",
                    zorder=3,
                    label=label,
                )
    legs = [a for a in attempts if a.purpose not in OWN_PURPOSES]
    if legs:
        ax.scatter(
            [_x(a.intent_at) for a in legs],
            [hedge_row] * len(legs),
            marker="s",
            s=36,
            facecolors=HEDGE_COLOUR,
            edgecolors="black",
            zorder=4,
            label="hedge order",
        )
    has_hedge = bool(legs) or any(y == hedge_row for _, y, _ in rows)
    ticks = ([hedge_row] if has_hedge else []) + tiers
    ax.set_yticks(ticks, ["hedge" if t == hedge_row else f"tier {t}" for t in ticks])
    ax.set_ylim(min(ticks) - 0.6, max(ticks) + 0.6)
    ax.set_ylabel("ladder rung")
    for fault in faults:
        ax.axvline(_x(fault.at), color=_fault_colour(fault.kind), lw=1.6)
    handles, labels = ax.get_legend_handles_labels()
    for kind in sorted({f.kind for f in faults}):
        venues = ", ".join(sorted({f.venue for f in faults if f.kind == kind}))
        handles.append(Line2D([], [], color=_fault_colour(kind), lw=1.6))
        labels.append(f"{kind.replace('_', ' ')} ({venues})")
    ax.set_title("tier of each wave; venue faults", fontsize=10, loc="left")
    ax.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False
    )


# ------------------------------------------------------------------ title


def _title(timeline: Timeline) -> str:
    close, summary = timeline.close, timeline.summary

    def amount(value: Decimal | None) -> str:
        return "—" if value is None else plain(value)

    head = f"{close.symbol} {close.side} close {close.id} — {close.outcome or close.state}"
    numbers = (
        f"requested {amount(close.requested_qty)} · filled {amount(close.filled_qty)} · "
        f"hedged {amount(close.hedged_qty)} · residual {amount(close.residual_qty)}"
    )
    if summary.slippage is not None:
        bps = (summary.slippage * 10_000).quantize(Decimal("0.1"))
        average = summary.average_price
        numbers += (
            f" · slippage {plain(bps)} bps (average "
            f"{'—' if average is None else plain(average.quantize(Decimal('0.01')))} vs "
            f"arrival reference {amount(summary.reference_price)})"
        )
    lines = [head, numbers]
    if close.outcome_reason:
        lines.extend(textwrap.wrap(close.outcome_reason, 150))
    return "\n".join(lines)
