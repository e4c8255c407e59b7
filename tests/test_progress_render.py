"""``router.cli.progress``: close snapshots rendered as rich progress bars."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from rich.console import Console

from router.cli.progress import CloseProgressDisplay, live_progress
from router.engine.progress import CloseProgress, VenueProgress

D = Decimal


def _snapshot(**changes: Any) -> CloseProgress:
    base = CloseProgress(
        close_id="cl_0123456789abcdef",
        symbol="BTC",
        side="sell",
        requested=D("13"),
        filled=D("6.5"),
        in_doubt=D(0),
        hedged=D(0),
        wave=4,
        rung=1,
        tolerance=D("0.10"),
        limit_price=D("4500"),
        elapsed_s=312.4,
        venues=(
            VenueProgress("alpha", D("4.25")),
            VenueProgress("bravo", D("2.25"), circuit="open"),
            VenueProgress("charlie", D(0), excluded=True),
        ),
    )
    return replace(base, **changes)


def _render(*snapshots: CloseProgress) -> str:
    console = Console(record=True, force_terminal=True, width=120)
    display = CloseProgressDisplay(console)
    for snapshot in snapshots:
        display.update(snapshot)
    console.print(display)
    return console.export_text()


def test_each_venue_has_a_bar_with_its_fill_and_state() -> None:
    text = _render(_snapshot())
    lines = text.splitlines()
    assert len(lines) == 4
    alpha, bravo, charlie = lines[1:]
    assert alpha.startswith("alpha")
    assert "4.25" in alpha
    assert bravo.startswith("bravo")
    assert "2.25" in bravo
    assert "circuit open" in bravo
    assert charlie.startswith("charlie")
    assert "excluded" in charlie
    overall = lines[0]
    assert "filled 6.5 + hedged 0 / 13 BTC" in overall
    assert "wave 4" in overall
    assert "tier 10%" in overall
    assert "312 s" in overall


def test_later_snapshots_update_the_same_bars_and_show_the_outcome() -> None:
    final = _snapshot(
        filled=D("7"),
        hedged=D("6"),
        wave=9,
        rung=2,
        tolerance=None,
        phase="done",
        outcome="HEDGED",
        venues=(
            VenueProgress("alpha", D("4.5")),
            VenueProgress("bravo", D("2.5")),
            VenueProgress("charlie", D(0), excluded=True),
        ),
    )
    text = _render(_snapshot(), final)
    lines = text.splitlines()
    assert len(lines) == 4
    assert "filled 7 + hedged 6 / 13 BTC" in lines[0]
    assert "tier unbounded" in lines[0]
    assert "HEDGED" in lines[0]
    assert "4.5" in lines[1]
    assert "circuit" not in lines[2]


def test_disabled_progress_yields_no_observer_and_prints_nothing() -> None:
    console = Console(record=True, force_terminal=True, width=120)
    with live_progress(console, enabled=False) as hook:
        assert hook is None
    assert console.export_text() == ""


def test_live_progress_leaves_the_final_bars_on_the_terminal() -> None:
    console = Console(record=True, force_terminal=True, width=120)
    with live_progress(console) as hook:
        assert hook is not None
        hook(_snapshot())
    text = console.export_text()
    for name in ("alpha", "bravo", "charlie"):
        assert name in text
