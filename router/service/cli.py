"""``router serve``: the HTTP API, over a scenario's venues simulated in process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from router.service.auth import TOKENS_ENV, TOKENS_FILE_ENV, TokenError, load_tokens

if TYPE_CHECKING:
    from router.config import GuardConfig

log = logging.getLogger(__name__)


async def _serve(
    host: str,
    port: int,
    scenario_name: str,
    seed: int,
    db: str | None,
    guard_config: GuardConfig | None = None,
) -> None:
    from aiohttp import web

    from router.config import load_policy
    from router.engine.engine import Engine
    from router.engine.guard import Guard
    from router.engine.simulate import open_world
    from router.journal.db import journal_url
    from router.journal.repository import Journal
    from router.service.app import build_app
    from router.service.state import ServiceState
    from router.sim.scenario import load_scenario

    tokens = load_tokens()
    scenario = load_scenario(scenario_name)
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = await open_world(stack, scenario, seed=seed, tls_dir=workdir / "tls")
        journal = await Journal.open(journal_url(db))
        stack.push_async_callback(journal.close)
        engine = Engine(journal, world.adapters, world.health, load_policy(), pacing=world.pacing())
        world.clock.restart(scenario.close.at_s)
        state = ServiceState(engine, journal, world.adapters, world.health, tokens)
        if guard_config is not None:
            guard = Guard(
                engine,
                guard_config.guarded(),
                danger=guard_config.danger,
                allow_hedge=guard_config.allow_hedge,
                quote=scenario.quote_asset,
            )
            state.watch(guard, float(guard_config.poll_s))
        runner = web.AppRunner(build_app(state), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0] if runner.addresses else (host, port)
        sys.stdout.write(f"router API on http://{bound[0]}:{bound[1]} ({scenario.name})\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8080,
    scenario: Annotated[
        str | None,
        typer.Option(help="Run this scenario's venues in process (the only venue mode)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 0,
    db: Annotated[
        str | None, typer.Option("--db", help="Journal URL (default: the SQLite journal).")
    ] = None,
    guard: Annotated[
        Path | None,
        typer.Option(
            "--guard", help="Guard configuration: watch its positions and close them by itself."
        ),
    ] = None,
) -> None:
    """Serve the HTTP API until Ctrl-C. Tokens: ROUTER_API_TOKENS or ROUTER_API_TOKENS_FILE."""
    from router.config import load_guard_config
    from router.core.policy import PolicyError
    from router.sim.scenario import ScenarioError

    if scenario is None:
        typer.echo("error: only simulated venues are supported: pass --scenario NAME", err=True)
        raise typer.Exit(2)
    try:
        tokens = load_tokens()
    except (TokenError, OSError) as exc:
        typer.echo(f"error: API tokens: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not tokens:
        typer.echo(f"error: no API tokens: set {TOKENS_ENV} or {TOKENS_FILE_ENV}", err=True)
        raise typer.Exit(2)
    guard_config = None
    if guard is not None:
        try:
            guard_config = load_guard_config(guard)
        except PolicyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_serve(host, port, scenario, seed, db, guard_config))
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``router`` command line."""
    app.command("serve")(serve)
