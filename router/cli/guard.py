"""``router guard``: the standing stop-loss safety net, replayed against a scenario."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from router.config import ConfigOption, config_dir, load_guard_config, load_policy
from router.core.policy import PolicyError
from router.sim.scenario import ScenarioError


def guard_command(
    positions: Annotated[
        Path | None,
        typer.Option(
            help="Guard configuration: positions, poll, danger "
            "(default: the shipped config/guard.example.toml).",
            show_default=False,
        ),
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="Scenario whose simulated venues the guard watches.")
    ] = "black-thursday-2020",
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 0,
    until_s: Annotated[
        float | None, typer.Option("--until-s", help="Stop after this much scenario time.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Journal URL (default: the replays' journal, replays.db)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the closes as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Watch positions and close them by the stop tiers (and the escape window) on its own."""
    from router.engine.simulate import guard_replay
    from router.journal.db import replays_url

    try:
        policy = load_policy(config)
        settings = load_guard_config(positions or config_dir() / "guard.example.toml")
        results = asyncio.run(
            guard_replay(
                scenario,
                settings.guarded(),
                seed=seed,
                db_url=db or replays_url(),
                poll_s=float(settings.poll_s),
                danger=settings.danger,
                allow_hedge=settings.allow_hedge,
                until_s=Decimal(repr(until_s)) if until_s is not None else None,
                policy=policy,
            )
        )
    except (PolicyError, ScenarioError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    answers = [r.as_json() for r in results]
    if as_json:
        typer.echo(json.dumps({"closes": answers}))
        return
    if not answers:
        typer.echo("no stop tier was reached")
    for answer in answers:
        typer.echo(
            f"{answer['close_id']}: {answer['outcome']} — {answer['reason']} "
            f"(filled {answer['filled']}, hedged {answer['hedged']}, residual {answer['residual']})"
        )
