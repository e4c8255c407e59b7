"""``router serve``: the HTTP API, over a scenario's venues simulated in process
(``--scenario``) or over the real exchanges of a venues file (``--venues``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from router.config import ConfigOption
from router.service.auth import TOKENS_ENV, TOKENS_FILE_ENV, TokenError, load_tokens

if TYPE_CHECKING:
    from router.config import GuardConfig, RouterConfig, ServiceConfig
    from router.engine.pacing import Pacing
    from router.journal.repository import Journal
    from router.service.server import ConnectionLimits
    from router.venues.adapter import VenueAdapter
    from router.venues.config import VenuesConfig
    from router.venues.health import CircuitBreaker
    from router.venues.loader import Backoff

log = logging.getLogger(__name__)


class NoVenueLoaded(RuntimeError):
    """Not one configured venue could be loaded: there is nothing to trade on."""


class JournalUnavailable(RuntimeError):
    """The journal cannot be opened (unreachable, invalid URL, missing driver, schema)."""


@dataclass
class OpenVenues:
    """The venues the API trades on, open until the exit stack they were opened on closes."""

    adapters: dict[str, VenueAdapter]
    health: dict[str, CircuitBreaker]
    pacing: Pacing
    quote: str
    """The quote asset the guard closes into."""
    label: str
    """What the venues are, for the start-up line."""
    start: Callable[[], None] = field(default=lambda: None)
    """Called once the engine is built (a scenario starts its clock)."""


VenueOpener = Callable[[AsyncExitStack], Awaitable[OpenVenues]]


def scenario_venues(scenario_name: str, seed: int) -> VenueOpener:
    """Open a scenario's simulated venues in this process."""

    async def open_venues(stack: AsyncExitStack) -> OpenVenues:
        from router.engine.simulate import open_world
        from router.sim.scenario import load_scenario

        scenario = load_scenario(scenario_name)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = await open_world(stack, scenario, seed=seed, tls_dir=workdir / "tls")
        return OpenVenues(
            world.adapters,
            world.health,
            world.pacing(),
            quote=scenario.quote_asset,
            label=scenario.name,
            start=lambda: world.clock.restart(scenario.close.at_s),
        )

    return open_venues


def configured_venues(
    config: VenuesConfig,
    label: str,
    *,
    backoff: Backoff | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> VenueOpener:
    """Open the exchanges of a venues file, keys from the environment. A venue that fails
    to load is loaded again in the background (``backoff``: 1 s doubling to 30 s, on
    ``sleep``, ``asyncio.sleep`` by default) until it loads or the stack closes;
    :class:`NoVenueLoaded` if none loads at start."""

    async def open_venues(stack: AsyncExitStack) -> OpenVenues:
        from router.engine.pacing import Pacing
        from router.venues.config import build_adapters
        from router.venues.health import CircuitBreaker
        from router.venues.loader import BACKOFF, load_venue

        adapters = build_adapters(config, os.environ)
        for adapter in adapters.values():
            stack.push_async_callback(adapter.close)
        health: dict[str, CircuitBreaker] = {}
        failures: list[str] = []
        for name, adapter in adapters.items():
            breaker = CircuitBreaker(clock=time.monotonic, venue=name)
            loaded = await load_venue(
                stack, adapter, breaker, sleep=sleep or asyncio.sleep, backoff=backoff or BACKOFF
            )
            if not loaded:
                failures.append(adapter.load_error or f"{name}: not loaded")
            health[name] = breaker
        if len(failures) == len(adapters):
            raise NoVenueLoaded(f"no venue could be loaded: {'; '.join(failures)}")
        return OpenVenues(adapters, health, Pacing(), quote=config.quote, label=label)

    return open_venues


async def _open_journal(url: str) -> Journal:
    """The journal at ``url``, its schema brought up to date; :class:`JournalUnavailable`
    naming it (password hidden) when it cannot be."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from router.journal.db import error_gist, redacted
    from router.journal.migrate import MigrationError
    from router.journal.repository import Journal

    try:
        return await Journal.open(url)
    except (SQLAlchemyError, CommandError, MigrationError, OSError, ImportError) as exc:
        try:
            shown = redacted(url)
        except ArgumentError:
            shown = "invalid URL"
        raise JournalUnavailable(f"journal {shown}: {error_gist(exc)}") from exc


def connection_limits(service: ServiceConfig) -> ConnectionLimits:
    """The bounds ``[service]`` sets on the API's connections."""
    from router.service.server import ConnectionLimits

    return ConnectionLimits(
        header_timeout_s=service.header_timeout_s,
        body_timeout_s=service.body_timeout_s,
        max_connections=service.max_connections,
    )


async def _serve(
    settings: RouterConfig,
    host: str,
    port: int,
    open_venues: VenueOpener,
    db: str | None,
    guard_config: GuardConfig | None = None,
) -> None:
    from aiohttp import web

    from router.engine.engine import Engine
    from router.engine.guard import Guard
    from router.journal.db import journal_url, redacted
    from router.service.app import build_app
    from router.service.metrics import Metrics
    from router.service.server import GuardedListener
    from router.service.state import ServiceState

    tokens = load_tokens()
    async with AsyncExitStack() as stack:
        # the address first: a port in use fails before anything else is opened
        listener = GuardedListener(host, port, connection_limits(settings.service))
        await listener.bind()
        stack.push_async_callback(listener.close)
        venues = await open_venues(stack)
        url = journal_url(db)
        journal = await _open_journal(url)
        stack.push_async_callback(journal.close)
        venues.pacing.lease = timedelta(seconds=settings.service.lease_s)
        metrics = Metrics()
        engine = Engine(
            journal,
            venues.adapters,
            venues.health,
            settings.policy,
            pacing=venues.pacing,
            unwind_min_interval_s=settings.service.unwind_min_interval_s,
            orders=metrics,
        )
        venues.start()
        state = ServiceState(
            engine, journal, venues.adapters, venues.health, tokens, metrics=metrics
        )
        state.readiness.within_s = settings.service.ready_within_s
        state.keep(settings.service.keeper_every_s)
        if guard_config is not None:
            guard = Guard(
                engine,
                guard_config.guarded(),
                danger=guard_config.danger,
                allow_hedge=guard_config.allow_hedge,
                quote=venues.quote,
            )
            state.watch(guard, float(guard_config.poll_s))
        app = build_app(state, max_body_bytes=settings.service.max_body_bytes)
        runner = web.AppRunner(
            app, access_log=None, keepalive_timeout=settings.service.keepalive_timeout_s
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        stack.push_async_callback(listener.close)  # on the way out, before the runner's cleanup
        await listener.serve(runner)
        bound = listener.addresses[0]
        address = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        sys.stdout.write(
            f"router API on http://{address}:{bound[1]} ({venues.label}), journal {redacted(url)}\n"
        )
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        # hand the running closes over (their leases released) before the exit path
        await state.drain(settings.service.drain_s)


def _fail(message: str) -> typer.Exit:
    """Print one ``error:`` line; the caller raises the returned exit (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: service.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on, 0 = any free port (default: service.port, 8080)."),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="Run this scenario's venues in process (simulated venues)."),
    ] = None,
    venues: Annotated[
        Path | None,
        typer.Option(
            "--venues",
            help="Trade on the exchanges of this venues file (config/venues.example.toml).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world (--scenario).")] = 0,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Journal URL (default: $ROUTER_JOURNAL_URL, else journal.db in the data "
            "directory: $ROUTER_DATA_DIR, else $XDG_DATA_HOME/router, else ~/.local/share/router).",
        ),
    ] = None,
    guard: Annotated[
        Path | None,
        typer.Option(
            "--guard", help="Guard configuration: watch its positions and close them by itself."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP API until Ctrl-C, over --scenario NAME or --venues FILE.
    Tokens: ROUTER_API_TOKENS or ROUTER_API_TOKENS_FILE."""
    from router.config import is_listen_host, load_config, load_guard_config
    from router.core.policy import PolicyError
    from router.service.logs import configure_logging
    from router.service.server import ListenError
    from router.sim.scenario import ScenarioError
    from router.venues.config import VenueConfigError, load_venues

    if (scenario is None) == (venues is None):
        given = "both" if scenario is not None else "neither"
        raise _fail(f"pass exactly one of --scenario NAME or --venues FILE ({given} given)")
    try:
        settings = load_config(config)
    except PolicyError as exc:
        raise _fail(str(exc)) from exc
    try:
        tokens = load_tokens()
    except (TokenError, OSError) as exc:
        raise _fail(f"API tokens: {exc}") from exc
    if not tokens:
        raise _fail(f"no API tokens: set {TOKENS_ENV} or {TOKENS_FILE_ENV}")
    guard_config = None
    if guard is not None:
        try:
            guard_config = load_guard_config(guard)
        except PolicyError as exc:
            raise _fail(str(exc)) from exc
    if venues is not None:
        try:
            opener = configured_venues(load_venues(venues), venues.name)
        except VenueConfigError as exc:
            raise _fail(str(exc)) from exc
    else:
        assert scenario is not None
        opener = scenario_venues(scenario, seed)
    listen_host = host if host is not None else settings.service.host
    listen_port = port if port is not None else settings.service.port
    if not is_listen_host(listen_host):
        raise _fail(f"--host {listen_host[:80]}: expected an IP address or a host name")
    if not 0 <= listen_port <= 65535:
        raise _fail(f"--port {listen_port}: expected 0 to 65535 (0 = any free port)")
    configure_logging()
    try:
        asyncio.run(_serve(settings, listen_host, listen_port, opener, db, guard_config))
    except (ScenarioError, VenueConfigError, JournalUnavailable, ListenError) as exc:
        raise _fail(str(exc)) from exc
    except NoVenueLoaded as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``router`` command line."""
    app.command("serve")(serve)
