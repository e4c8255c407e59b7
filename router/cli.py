"""The ``router`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, TextIO, TypeVar

import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from router import operator_commands
from router.bench.cli import bench_app
from router.chaos.cli import chaos_command
from router.config import ConfigOption, load_policy
from router.core.plan import plan
from router.core.policy import PolicyError
from router.guard_command import guard_command
from router.journal import audit, migrate
from router.journal.db import error_gist, journal_url, make_engine, redacted, replays_url
from router.journal.render import render_stats, render_timeline
from router.render import render_plan
from router.service.cli import register as register_serve
from router.sim.scenario import ScenarioError, load_scenario
from router.sim.server import SimCluster

app = typer.Typer(help="Liquidity-crisis execution router.", no_args_is_help=True)
sim_app = typer.Typer(help="The venue simulator: Binance spot and USD-M on loopback.")
app.add_typer(sim_app, name="sim")
db_app = typer.Typer(help="The journal database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
journal_app = typer.Typer(
    help="The journal's contents: exports and Memory-Layer statistics.", no_args_is_help=True
)
app.add_typer(journal_app, name="journal")
register_serve(app)

DEFAULT_TLS_DIR = Path("var/tls")


async def _serve(scenario_name: str, seed: int, host: str, tls_dir: Path) -> None:
    scenario = load_scenario(scenario_name)
    cluster = SimCluster(scenario, seed=seed, tls_dir=tls_dir, host=host)
    await cluster.start()
    assert cluster.tls is not None
    announcement = {
        "ca_cert": str(cluster.tls.ca_cert.resolve()),
        "scenario": scenario.name,
        "seed": seed,
        "venues": [
            {"name": e.name, "port": e.port, "api_key": e.api_key, "secret": e.secret}
            for e in cluster.endpoints()
        ],
    }
    sys.stdout.write(json.dumps(announcement) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await cluster.stop()


@sim_app.command("serve")
def sim_serve(
    scenario: Annotated[
        str, typer.Option(help="Scenario name from config/scenarios, or a TOML file.")
    ] = "calm",
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 0,
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    tls_dir: Annotated[
        Path, typer.Option(help="Where the simulator's CA and certificate are kept.")
    ] = DEFAULT_TLS_DIR,
) -> None:
    """Serve the scenario's venues until Ctrl-C; the first stdout line is JSON."""
    try:
        asyncio.run(_serve(scenario, seed, host, tls_dir))
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


@app.command("plan")
def plan_command(
    input_file: Annotated[
        Path, typer.Option("--input", help="The plan request (JSON, see docs/plan.md); - = stdin.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """What the router would do with these books: the split, its money and the residual."""
    try:
        text = sys.stdin.read() if str(input_file) == "-" else input_file.read_text("utf-8")
        raw = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        answer = plan(raw)
    except FileNotFoundError as exc:
        typer.echo(f"error: input file not found: {input_file}", err=True)
        raise typer.Exit(2) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    render_plan(answer)


UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Journal database URL; default $ROUTER_JOURNAL_URL, else journal.db in the data "
        "directory ($ROUTER_DATA_DIR, else $XDG_DATA_HOME/router, else ~/.local/share/router).",
        show_default=False,
    ),
]
ReplaysOption = Annotated[
    bool,
    typer.Option(
        "--replays",
        help="Read the replays' journal (router simulate, router guard --scenario): "
        "replays.db in the data directory.",
    ),
]

DB_ERRORS = (SQLAlchemyError, CommandError, OSError, ImportError, migrate.MigrationError)
"""What a migration command reports as one line: unreachable or unknown databases, bad
URLs, missing drivers, unknown revisions. Anything else is a bug and keeps its traceback."""


def _describe(revision: str | None) -> str:
    if revision is None:
        return "base (no journal tables)"
    return f"{revision} (head)" if revision == migrate.head_revision() else revision


def _run_on_journal(
    url: str | None, action: Callable[[AsyncEngine], Awaitable[None]]
) -> tuple[str, str | None]:
    """Run ``action`` on the journal at ``url``; the redacted URL and the revision after it.

    Errors end the command with one line on stderr and exit code 2.
    """
    resolved = journal_url(url)
    try:
        shown = redacted(resolved)
    except ArgumentError as exc:
        typer.echo(f"error: invalid journal URL: {error_gist(exc)}", err=True)
        raise typer.Exit(2) from exc

    async def run() -> str | None:
        engine = make_engine(resolved)
        try:
            await action(engine)
            return await migrate.current(engine)
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(run())
    except DB_ERRORS as exc:
        typer.echo(f"error: {shown}: {error_gist(exc)}", err=True)
        raise typer.Exit(2) from exc
    return shown, revision


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Revision to migrate up to.")] = "head",
    url: UrlOption = None,
) -> None:
    """Migrate the journal's schema up (creating it in an empty database)."""

    async def action(engine: AsyncEngine) -> None:
        await migrate.upgrade(engine, revision)

    shown, now = _run_on_journal(url, action)
    typer.echo(f"upgraded {shown} to {_describe(now)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to migrate down to; base = none.")],
    url: UrlOption = None,
) -> None:
    """Migrate the journal's schema down; base drops every journal table and its data."""

    async def action(engine: AsyncEngine) -> None:
        await migrate.downgrade(engine, revision)

    shown, now = _run_on_journal(url, action)
    typer.echo(f"downgraded {shown} to {_describe(now)}")


@db_app.command("current")
def db_current(url: UrlOption = None) -> None:
    """Print the journal schema's revision."""

    async def action(engine: AsyncEngine) -> None:
        return None

    shown, now = _run_on_journal(url, action)
    typer.echo(f"{shown} is at {_describe(now)}")


# ---------------------------------------------------------------- journal audits

T = TypeVar("T")

SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="ISO-8601 time, inclusive (UTC unless it has an offset)."),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="ISO-8601 time, exclusive (UTC unless it has an offset)."),
]


def _fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; returns the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO-8601 command-line time as an aware datetime (naive times are UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"{option}: not an ISO-8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _chosen_journal(url: str | None, replays: bool) -> str | None:
    """The journal a reading command was pointed at: ``--url``, ``--replays`` or neither."""
    if url is not None and replays:
        raise _fail("pass --url or --replays, not both")
    return replays_url() if replays else url


def _read_journal(url: str | None, read: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Bring the journal at ``url`` to the latest schema, then run ``read`` on it.

    Database errors end the command with one line on stderr and exit code 2.
    """
    resolved = journal_url(url)
    try:
        shown = redacted(resolved)
    except ArgumentError as exc:
        raise _fail(f"invalid journal URL: {error_gist(exc)}") from exc

    async def run() -> T:
        engine = make_engine(resolved)
        try:
            await migrate.ensure_schema(engine)
            return await read(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DB_ERRORS as exc:
        raise _fail(f"{shown}: {error_gist(exc)}") from exc


PlotOption = Annotated[
    Path | None,
    typer.Option(
        "--plot", help="Also draw the close as a PNG picture into this file.", show_default=False
    ),
]


def _plot(url: str | None, close_id: str, path: Path) -> None:
    """Draw the close's picture into ``path`` (see router.journal.plot); says so on stderr."""
    from router.journal.plot import plot_close

    _read_journal(url, lambda engine: plot_close(engine, close_id, path))
    typer.echo(f"picture of {close_id} written to {path}", err=True)


@app.command("audit")
def audit_command(
    close_id: Annotated[str, typer.Argument(help="The close's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON.")] = False,
    url: UrlOption = None,
    replays: ReplaysOption = False,
    plot: PlotOption = None,
) -> None:
    """A close's timeline: its request, waves, orders, fills and faults, and its numbers."""
    url = _chosen_journal(url, replays)
    timeline = _read_journal(url, lambda engine: audit.close_timeline(engine, close_id))
    if timeline is None:
        hint = "" if url is not None else " (a replay's close is in --replays)"
        raise _fail(f"no close {close_id!r} in the journal{hint}")
    if plot is not None:
        _plot(url, close_id, plot)
    if as_json:
        typer.echo(json.dumps(audit.timeline_json(timeline), indent=2))
        return
    render_timeline(timeline)


@contextlib.contextmanager
def _output(target: str) -> Iterator[TextIO]:
    if target == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(target, "w", encoding="utf-8", newline="") as out:
        yield out


@journal_app.command("export")
def journal_export(
    table: Annotated[
        str, typer.Option("--table", help=f"One of: {', '.join(audit.TIME_COLUMNS)}.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")],
    since: SinceOption = None,
    until: UntilOption = None,
    output: Annotated[str, typer.Option("--output", help="File to write; - = stdout.")] = "-",
    url: UrlOption = None,
    replays: ReplaysOption = False,
) -> None:
    """Stream one journal table's rows, oldest first, filtered on its time column."""
    url = _chosen_journal(url, replays)
    try:
        columns = audit.export_columns(table)
    except audit.UnknownTable as exc:
        raise _fail(str(exc)) from exc
    if fmt not in audit.EXPORT_FORMATS:
        raise _fail(f"unknown format {fmt!r} (csv or jsonl)")
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")

    async def export(engine: AsyncEngine) -> int:
        rows = audit.export_rows(engine, table, start, end)
        with _output(output) as out:
            if fmt == "csv":
                return await audit.write_csv(rows, out, columns)
            return await audit.write_jsonl(rows, out)

    written = _read_journal(url, export)
    if output != "-":
        typer.echo(f"exported {written} {table} row(s) to {output}", err=True)


@journal_app.command("stats")
def journal_stats(
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    url: UrlOption = None,
    replays: ReplaysOption = False,
) -> None:
    """Memory-Layer statistics: slippage, fill ratios, time to flat, liquidity events."""
    url = _chosen_journal(url, replays)
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")
    stats = _read_journal(url, lambda engine: audit.memory_stats(engine, start, end))
    if as_json:
        typer.echo(json.dumps(audit.jsonable(stats), indent=2))
        return
    render_stats(stats)


@app.command("simulate")
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

    from router.engine.errors import CloseRefused
    from router.engine.simulate import simulate
    from router.progress import live_progress

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
        from router.render import render_close

        render_close(result.as_json(), console)
    if plot is not None:
        _plot(url, result.close_id, plot)


app.command("guard")(guard_command)
app.command("chaos")(chaos_command)
app.command("close")(operator_commands.close_command)
app.command("closes")(operator_commands.closes_command)
app.command("status")(operator_commands.status_command)
app.command("cancel")(operator_commands.cancel_command)
app.command("liquidity")(operator_commands.liquidity_command)
app.command("venues")(operator_commands.venues_command)
app.add_typer(operator_commands.hedge_app, name="hedge")
app.add_typer(bench_app, name="bench")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
