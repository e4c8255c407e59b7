"""``router bench speed``: the router's own speed, printed as figures (never asserted).

1. Planning: ``allocate`` (and the ``oracle`` bound) over 10 venues x 1,000 levels.
2. Request to first wave: ``Engine.close`` called until the simulator holds every order of
   the first wave, 3 and 10 venues, calm books, no network latency, venues in-process.
3. Journal: a durable intent write and a whole attempt, SQLite and PostgreSQL.
4. Burst: 50 closes at once on 50 symbols across 3 venues (subprocess simulator).
5. Overhead: the router process's CPU time over wall time per close in calm.

Figures 2 and 4 are given as the router runs (ccxt's client-side rate limiter on) and
with that limiter off, which shows the router's own path without the limiter's waits.
See ``router.bench.speed_wire`` for each method.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from router.bench.speed_journal import JournalTimings, postgres_url, sqlite_url, time_journal
from router.bench.speed_plan import time_planning
from router.bench.speed_stats import median, ms, percentile
from router.bench.speed_wire import time_burst, time_first_wave, time_overhead


@dataclass(frozen=True)
class Sizes:
    plan_runs: int
    wave_closes: int
    journal_samples: int
    journal_closes: int
    journal_per_close: int
    burst_symbols: int
    overhead_closes: int


FULL = Sizes(1000, 50, 500, 50, 40, 50, 20)
QUICK = Sizes(50, 3, 20, 5, 4, 10, 2)

METHOD = (
    "First wave: Engine.close called -> last first-wave order in a venue's ledger (order "
    "observer), venues in this process (their request handling included), no latency. "
    "Burst and overhead: venues in a `router sim serve` subprocess. Overhead: CPU seconds "
    "of the router's process (planning, journal, ccxt signing/parsing, event loop) over "
    "the close's wall time, in calm with its network latency; waiting for venues and "
    "pacing sleeps use no CPU. 'throttle off': ccxt's client-side rate limiter disabled."
)


@dataclass(frozen=True)
class Figure:
    key: str
    what: str
    value: float
    unit: str
    target: str = ""


def _spread(
    key: str, what: str, samples: list[float], target: str = "", p99_target: str = ""
) -> list[Figure]:
    """Median and p99 of ``samples`` (seconds) in milliseconds."""
    return [
        Figure(f"{key}_median_ms", f"{what}, median", ms(median(samples)), "ms", target),
        Figure(f"{key}_p99_ms", f"{what}, p99", ms(percentile(samples, 0.99)), "ms", p99_target),
    ]


def _journal(timings: JournalTimings) -> list[Figure]:
    db = timings.database
    return [
        *_spread(f"journal_{db}_intent", f"journal {db}: durable intent write", timings.intents),
        *_spread(
            f"journal_{db}_attempt", f"journal {db}: attempt (3 writes, 1 fill)", timings.attempts
        ),
        Figure(
            f"journal_{db}_concurrent_attempts_per_s",
            f"journal {db}: attempts/s, concurrent closes",
            round(timings.attempts_per_s, 1),
            "/s",
        ),
    ]


async def _measure(sizes: Sizes, workdir: Path) -> list[Figure]:
    plan = time_planning(runs=sizes.plan_runs)
    figures = [
        *_spread(
            "plan_allocate",
            f"planning: allocate, {plan.venues} venues x {plan.levels:.0f} levels",
            plan.allocate,
            p99_target="< 2 ms",
        ),
        *_spread("plan_oracle", "planning: oracle bound", plan.oracle),
    ]
    for venues in (3, 10):
        for throttle in (True, False):
            wave = await time_first_wave(
                venues, sizes.wave_closes, workdir / f"wave-{venues}-{throttle}", throttle=throttle
            )
            label = "" if throttle else ", throttle off"
            suffix = "" if throttle else "_unthrottled"
            target = "< 15 ms" if venues == 3 else ""
            figures += _spread(
                f"first_wave_{venues}v{suffix}",
                f"request -> first wave on the wire, {venues} venues{label}",
                wave.seconds,
                target,
            )
            figures.append(
                Figure(
                    f"first_wave_{venues}v{suffix}_orders",
                    f"orders in that first wave, mean ({venues} venues{label})",
                    round(sum(wave.orders) / len(wave.orders), 2),
                    "",
                )
            )
    sizing = (sizes.journal_samples, sizes.journal_closes, sizes.journal_per_close)
    for name, url_of in (("sqlite", sqlite_url), ("postgresql", postgres_url)):
        async with url_of() as url:
            samples, closes, per_close = sizing
            timings = await time_journal(
                name, url, samples=samples, closes=closes, per_close=per_close
            )
        figures += _journal(timings)
    for throttle in (True, False):
        burst = await time_burst(
            sizes.burst_symbols, workdir / f"burst-{throttle}", throttle=throttle
        )
        label = f"{burst.closes} closes at once, 3 venues" + ("" if throttle else ", throttle off")
        suffix = "" if throttle else "_unthrottled"
        figures += [
            Figure(f"burst{suffix}_all_out_s", f"{label}: all flat", round(burst.wall_s, 3), "s"),
            *_spread(f"burst{suffix}_close", f"{label}: per close", burst.per_close),
            Figure(f"burst{suffix}_cpu_s", f"{label}: router CPU", round(burst.cpu_s, 3), "s"),
        ]
    for throttle in (True, False):
        overhead = await time_overhead(
            sizes.overhead_closes, workdir / f"overhead-{throttle}", throttle=throttle
        )
        label = f"calm, {overhead.closes} closes" + ("" if throttle else ", throttle off")
        suffix = "" if throttle else "_unthrottled"
        figures += [
            Figure(
                f"overhead{suffix}_share_pct",
                f"router overhead, share of time-to-flat ({label})",
                round(overhead.share * 100, 2),
                "%",
                "< 5%" if throttle else "",
            ),
            *_spread(
                f"overhead{suffix}_time_to_flat",
                f"time-to-flat, 0.5 BTC ({label})",
                overhead.wall_s,
            ),
            Figure(
                f"overhead{suffix}_cpu_per_close_ms",
                f"router CPU per close, median ({label})",
                ms(median(overhead.cpu_s)),
                "ms",
            ),
        ]
    return figures


def measure(*, quick: bool = False) -> list[Figure]:
    """Run every speed benchmark (small samples when ``quick``) and return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_measure(QUICK if quick else FULL, Path(tmp)))


def _table(figures: list[Figure]) -> Table:
    table = Table(title="router speed", caption=METHOD, caption_justify="left")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_column("target")
    for figure in figures:
        table.add_row(figure.what, f"{figure.value:,} {figure.unit}".strip(), figure.target)
    return table


def speed_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Small samples (a smoke run).")] = False,
) -> None:
    """The router's own speed: planning, request to first wave, journal, burst, overhead."""
    figures = measure(quick=quick)
    if as_json:
        typer.echo(json.dumps({f.key: f.value for f in figures}, indent=2))
        return
    Console().print(_table(figures))
