"""The journal's commands: ``router db``, ``router audit`` and ``router journal``.

Each takes the journal as ``--db`` (else ``$ROUTER_JOURNAL_URL``, else the default);
the reading ones take ``--replays`` for the replays' journal instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO, TypeVar

import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from router.cli.formats import EXPORT_FORMATS, jsonable, timeline_json, write_csv, write_jsonl
from router.cli.journal_render import render_stats, render_timeline
from router.journal import migrate
from router.journal.db import error_gist, journal_url, make_engine, redacted, replays_url
from router.journal.export import TIME_COLUMNS, UnknownTable, export_columns, export_rows
from router.journal.stats import memory_stats
from router.journal.timeline import close_timeline

db_app = typer.Typer(help="The journal database: schema migrations.", no_args_is_help=True)
journal_app = typer.Typer(
    help="The journal's contents: exports and Memory-Layer statistics.", no_args_is_help=True
)


JournalOption = Annotated[
    str | None,
    typer.Option(
        "--db",
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
    db: JournalOption = None,
) -> None:
    """Migrate the journal's schema up (creating it in an empty database)."""

    async def action(engine: AsyncEngine) -> None:
        await migrate.upgrade(engine, revision)

    shown, now = _run_on_journal(db, action)
    typer.echo(f"upgraded {shown} to {_describe(now)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to migrate down to; base = none.")],
    db: JournalOption = None,
) -> None:
    """Migrate the journal's schema down; base drops every journal table and its data."""

    async def action(engine: AsyncEngine) -> None:
        await migrate.downgrade(engine, revision)

    shown, now = _run_on_journal(db, action)
    typer.echo(f"downgraded {shown} to {_describe(now)}")


@db_app.command("current")
def db_current(db: JournalOption = None) -> None:
    """Print the journal schema's revision."""

    async def action(engine: AsyncEngine) -> None:
        return None

    shown, now = _run_on_journal(db, action)
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


def _chosen_journal(db: str | None, replays: bool) -> str | None:
    """The journal a reading command was pointed at: ``--db``, ``--replays`` or neither."""
    if db is not None and replays:
        raise _fail("pass --db or --replays, not both")
    return replays_url() if replays else db


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


def write_plot(url: str | None, close_id: str, path: Path) -> None:
    """Draw the close's picture into ``path`` (see router.cli.plot); says so on stderr."""
    from router.cli.plot import plot_close

    _read_journal(url, lambda engine: plot_close(engine, close_id, path))
    typer.echo(f"picture of {close_id} written to {path}", err=True)


def audit_command(
    close_id: Annotated[str, typer.Argument(help="The close's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON.")] = False,
    db: JournalOption = None,
    replays: ReplaysOption = False,
    plot: PlotOption = None,
) -> None:
    """A close's timeline: its request, waves, orders, fills and faults, and its numbers."""
    url = _chosen_journal(db, replays)
    timeline = _read_journal(url, lambda engine: close_timeline(engine, close_id))
    if timeline is None:
        hint = "" if url is not None else " (a replay's close is in --replays)"
        raise _fail(f"no close {close_id!r} in the journal{hint}")
    if plot is not None:
        write_plot(url, close_id, plot)
    if as_json:
        typer.echo(json.dumps(timeline_json(timeline), indent=2))
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
    table: Annotated[str, typer.Option("--table", help=f"One of: {', '.join(TIME_COLUMNS)}.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")],
    since: SinceOption = None,
    until: UntilOption = None,
    output: Annotated[str, typer.Option("--output", help="File to write; - = stdout.")] = "-",
    db: JournalOption = None,
    replays: ReplaysOption = False,
) -> None:
    """Stream one journal table's rows, oldest first, filtered on its time column."""
    url = _chosen_journal(db, replays)
    try:
        columns = export_columns(table)
    except UnknownTable as exc:
        raise _fail(str(exc)) from exc
    if fmt not in EXPORT_FORMATS:
        raise _fail(f"unknown format {fmt!r} (csv or jsonl)")
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")

    async def export(engine: AsyncEngine) -> int:
        rows = export_rows(engine, table, start, end)
        with _output(output) as out:
            if fmt == "csv":
                return await write_csv(rows, out, columns)
            return await write_jsonl(rows, out)

    written = _read_journal(url, export)
    if output != "-":
        typer.echo(f"exported {written} {table} row(s) to {output}", err=True)


@journal_app.command("stats")
def journal_stats(
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    db: JournalOption = None,
    replays: ReplaysOption = False,
) -> None:
    """Memory-Layer statistics: slippage, fill ratios, time to flat, liquidity events."""
    url = _chosen_journal(db, replays)
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")
    stats = _read_journal(url, lambda engine: memory_stats(engine, start, end))
    if as_json:
        typer.echo(json.dumps(jsonable(stats), indent=2))
        return
    render_stats(stats)
