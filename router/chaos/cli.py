"""``router chaos``: seeded fault storms and crash-restart runs, checked against the ledgers."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from router.chaos.report import RunReport, Summary


@dataclass(frozen=True)
class Plan:
    """How many runs of each kind a chaos session makes, all from one seed."""

    runs: int = 0
    crashes: int = 0
    takeovers: int = 0
    db_restarts: int = 0

    @property
    def total(self) -> int:
        return self.runs + self.crashes + self.takeovers + self.db_restarts

    def jobs(self, seed: int) -> list[tuple[str, int]]:
        """Each kind's runs use seeds ``seed, seed + 1, ...``."""
        counts = (
            ("storm", self.runs),
            ("crash", self.crashes),
            ("takeover", self.takeovers),
            ("db-restart", self.db_restarts),
        )
        return [(kind, seed + i) for kind, count in counts for i in range(count)]


async def run_session(
    plan: Plan,
    seed: int,
    db_url: str | None,
    on_run: Callable[[RunReport], None] | None = None,
) -> Summary:
    """Every run of ``plan`` in turn (storms, crashes, takeovers, database restarts)."""
    from router.chaos.crash import run_crash
    from router.chaos.dbrestart import run_db_restart
    from router.chaos.storm import run_storm
    from router.chaos.takeover import run_takeover

    summary = Summary()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="router-chaos-") as tmp:
        workdir = Path(tmp)
        for kind, run_seed in plan.jobs(seed):
            if kind == "storm":
                report = await run_storm(run_seed, workdir)
            elif kind == "crash":
                report = await run_crash(run_seed, workdir, db_url)
            elif kind == "takeover":
                assert db_url is not None
                report = await run_takeover(run_seed, workdir, db_url)
            else:
                assert db_url is not None
                report = await run_db_restart(run_seed, workdir, db_url)
            summary.add(report)
            if on_run is not None:
                on_run(report)
    summary.wall_s = time.monotonic() - started
    return summary


def render_summary(summary: Summary, console: Console) -> None:
    data = summary.as_json()
    status = "[red]VIOLATIONS[/red]" if summary.failed else "[green]no violations[/green]"
    console.print(
        f"chaos: {summary.runs} storm runs, {summary.crash_runs} crash runs, "
        f"{summary.takeover_runs} takeover runs ({summary.takeovers} closes taken over), "
        f"{summary.db_restart_runs} database-restart runs ({summary.db_restarts} restarts); "
        f"{summary.crashes} kills, {data['faults_total']} faults injected, "
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
    takeovers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Runs with two routers on one PostgreSQL journal (--db): the owner is "
            "killed, the other takes the close over.",
        ),
    ] = 0,
    db_restarts: Annotated[
        int,
        typer.Option(
            min=0,
            help="Runs that restart the PostgreSQL server (--db) while the close runs.",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Break the venues and kill the router at random; check the journal against the ledgers.

    Exits 1 if any invariant was violated (or an exception escaped the engine).
    """
    logging.getLogger().setLevel(logging.CRITICAL)
    console = Console(stderr=as_json)
    plan = Plan(runs, crashes, takeovers, db_restarts)
    if (takeovers or db_restarts) and (db is None or not db.startswith("postgresql")):
        typer.echo(
            "error: --takeovers and --db-restarts need a PostgreSQL server: "
            "--db postgresql+asyncpg://USER@HOST:PORT/DATABASE",
            err=True,
        )
        raise typer.Exit(2)
    total = plan.total
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

            summary = asyncio.run(run_session(plan, seed, db, advance))
    else:
        summary = asyncio.run(run_session(plan, seed, db))
    if as_json:
        sys.stdout.write(json.dumps(summary.as_json(), indent=2) + "\n")
    else:
        render_summary(summary, console)
    if summary.failed:
        raise typer.Exit(1)
