"""Live progress of a running close in the terminal: one bar per venue and an overall line.

The engine hands :class:`~router.engine.progress.CloseProgress` snapshots to an observer
after every wave; :class:`CloseProgressDisplay` turns them into rich progress bars. Each
venue's bar is the quantity sold (bought) there out of the whole close, labelled with
its circuit state when the venue is out; the overall line is filled plus hedged out of
the requested quantity, with the wave, the tier and the elapsed engine (scenario) time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Column

from router.engine.progress import CloseProgress, ProgressHook, VenueProgress

CIRCUIT_LABELS = {
    "open": "[red]circuit open[/red]",
    "half_open": "[yellow]circuit half-open[/yellow]",
}


def _qty(value: Decimal) -> str:
    """A quantity as a plain decimal string, without exponent or trailing zeros."""
    return format(value.normalize(), "f") if value else "0"


def _tier(snapshot: CloseProgress) -> str:
    if snapshot.tolerance is None:
        return "tier unbounded"
    return f"tier {snapshot.tolerance:.0%}"


def overall_detail(snapshot: CloseProgress) -> str:
    """The overall line: quantities, wave, tier, elapsed time and (at the end) the outcome."""
    parts = [
        f"filled {_qty(snapshot.filled)} + hedged {_qty(snapshot.hedged)} "
        f"/ {_qty(snapshot.requested)} {escape(snapshot.symbol)}"
    ]
    if snapshot.in_doubt > 0:
        parts.append(f"[yellow]{_qty(snapshot.in_doubt)} in doubt[/yellow]")
    parts.append(f"wave {snapshot.wave}")
    parts.append(_tier(snapshot))
    parts.append(f"{snapshot.elapsed_s:,.0f} s")
    if snapshot.phase == "hedge":
        parts.append("[yellow]hedging[/yellow]")
    if snapshot.outcome is not None:
        colour = {"FLAT": "green", "HEDGED": "yellow"}.get(snapshot.outcome, "bold red")
        parts.append(f"[{colour}]{escape(snapshot.outcome)}[/{colour}]")
    return " · ".join(parts)


def venue_detail(venue: VenueProgress) -> str:
    """A venue's label: its filled quantity and, when it is out, why."""
    parts = [_qty(venue.filled)]
    if venue.circuit in CIRCUIT_LABELS:
        parts.append(CIRCUIT_LABELS[venue.circuit])
    elif venue.circuit != "closed":
        parts.append(f"circuit {escape(venue.circuit)}")
    if venue.excluded:
        parts.append("[red]excluded (refused orders)[/red]")
    return " · ".join(parts)


class CloseProgressDisplay:
    """Rich progress bars fed by close snapshots (``update`` is a ``ProgressHook``)."""

    def __init__(self, console: Console, *, transient: bool = False) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[detail]}", table_column=Column(overflow="fold")),
            console=console,
            transient=transient,
        )
        self._overall: TaskID | None = None
        self._venues: dict[str, TaskID] = {}

    def update(self, snapshot: CloseProgress) -> None:
        total = float(snapshot.requested) if snapshot.requested > 0 else None
        width = max([5, *(len(v.name) for v in snapshot.venues)])
        done = float(snapshot.filled + snapshot.hedged)
        detail = overall_detail(snapshot)
        if self._overall is None:
            label = f"[bold]{escape('total'.ljust(width))}[/bold]"
            self._overall = self.progress.add_task(label, total=total, detail=detail)
        self.progress.update(self._overall, total=total, completed=done, detail=detail)
        for venue in snapshot.venues:
            task = self._venues.get(venue.name)
            if task is None:
                label = escape(venue.name.ljust(width))
                task = self.progress.add_task(label, total=total, detail="")
                self._venues[venue.name] = task
            self.progress.update(
                task, total=total, completed=float(venue.filled), detail=venue_detail(venue)
            )

    def __rich__(self) -> RenderableType:
        return self.progress.get_renderable()


@contextmanager
def live_progress(console: Console, *, enabled: bool = True) -> Iterator[ProgressHook | None]:
    """Show a close's progress live on ``console`` while the block runs.

    Yields the observer to hand the engine, or None when ``enabled`` is false.
    """
    if not enabled:
        yield None
        return
    display = CloseProgressDisplay(console)
    with display.progress:
        yield display.update
