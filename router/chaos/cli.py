"""``router chaos``: seeded fault storms and crash-restart runs, checked against the ledgers."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from router.chaos.report import RunReport, Summary


async def run_session(
    runs: int,
    seed: int,
    crashes: int,
    db_url: str | None,
    on_run: Callable[[RunReport], None] | None = None,
) -> Summary:
    """``runs`` storms with seeds ``seed .. seed+runs-1``, then ``crashes`` crash runs."""
    from router.chaos.crash import run_crash
    from router.chaos.storm import run_storm

    summary = Summary()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="router-chaos-") as tmp:
        workdir = Path(tmp)
        jobs: list[tuple[str, int]] = [("storm", seed + i) for i in range(runs)]
        jobs += [("crash", seed + i) for i in range(crashes)]
        for kind, run_seed in jobs:
            if kind == "storm":
                report = await run_storm(run_seed, workdir)
            else:
                report = await run_crash(run_seed, workdir, db_url)
            summary.add(report)
            if on_run is not None:
                on_run(report)
    summary.wall_s = time.monotonic() - started
    return summary


def render_summary(summary: Summary, console: Console) -> None:
    data = summary.as_json()
    status = "[red]VIOLATIONS[/red]" if summary.failed else "[green]no violations[/green]"
    console.print(
        f"chaos: {summary.runs} storm runs, {summary.crash_runs} crash runs "
        f"({summary.crashes} kills), {data['faults_total']} faults injected, "
        f"{data['wall_s']} s wall — {status}"
    )
    for title, counts in (
        ("faults injected", data["faults_injected"]),
        ("outcomes", data["outcomes"]),
        ("violations", data["violations"]),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("kind")
        table.add_column("count", justify="right")
        for kind, count in counts.items():
            table.add_row(kind, str(count))
        if counts:
            console.print(table)
    for key, seeds in data["violating_seeds"].items():
        console.print(f"{key}: seeds {', '.join(str(s) for s in seeds)}")
    for example in data["examples"]:
        console.print(f"  {example['kind']} seed {example['seed']}: {example['violation']}")
    console.print(f"unhandled exceptions: {summary.unhandled}")


def chaos_command(
    runs: Annotated[int, typer.Option(min=0, help="Fault-storm runs (in process).")] = 20,
    seed: Annotated[int, typer.Option(help="Run i uses Random(seed + i).")] = 0,
    crashes: Annotated[
        int, typer.Option(min=0, help="Crash-restart runs (a router process SIGKILLed).")
    ] = 0,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Journal server for crash runs (a fresh database per run on PostgreSQL); "
            "default: a temporary SQLite file per run.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Break the venues and kill the router at random; check the journal against the ledgers.

    Exits 1 if any invariant was violated (or an exception escaped the engine).
    """
    logging.getLogger().setLevel(logging.CRITICAL)
    console = Console(stderr=as_json)
    total = runs + crashes
    if console.is_terminal and total:
        with Progress(
            TextColumn("chaos"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[found]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("chaos", total=total, found="")
            found = 0

            def advance(report: RunReport) -> None:
                nonlocal found
                found += len(report.violations)
                label = f"[red]{found} violations[/red]" if found else ""
                progress.update(task, advance=1, found=label)

            summary = asyncio.run(run_session(runs, seed, crashes, db, advance))
    else:
        summary = asyncio.run(run_session(runs, seed, crashes, db))
    if as_json:
        sys.stdout.write(json.dumps(summary.as_json(), indent=2) + "\n")
    else:
        render_summary(summary, console)
    if summary.failed:
        raise typer.Exit(1)
