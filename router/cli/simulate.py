"""``router simulate``: a scenario's close replayed through the engine."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from router.cli.journal import PlotOption, write_plot
from router.config import ConfigOption, load_policy
from router.core.policy import PolicyError
from router.journal.db import replays_url
from router.sim.scenario import ScenarioError


def simulate_command(
    scenario: Annotated[
        str, typer.Option(help="Scenario name from config/scenarios, or a TOML file.")
    ] = "black-thursday-2020",
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Journal URL (default: the replays' journal, replays.db in the data directory).",
        ),
    ] = None,
    plot: PlotOption = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Live progress bars per venue (only on a terminal, never with --json).",
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Replay a scenario's close through the engine, real ccxt and the replays' journal
    (not the service's; router audit --replays reads it)."""
    from rich.console import Console

    from router.cli.progress import live_progress
    from router.engine.errors import CloseRefused
    from router.engine.simulate import simulate

    console = Console()
    show = progress and not as_json and console.is_terminal
    url = db or replays_url()
    try:
        policy = load_policy(config)
        with live_progress(console, enabled=show) as on_progress:
            result = asyncio.run(
                simulate(scenario, seed=seed, db_url=url, policy=policy, on_progress=on_progress)
            )
    except (ScenarioError, PolicyError, CloseRefused) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result.as_json()))
    else:
        from router.cli.render import render_close

        render_close(result.as_json(), console)
    if plot is not None:
        write_plot(url, result.close_id, plot)
