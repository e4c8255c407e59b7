"""Operator commands that talk to a running ``router serve`` through its HTTP API.

``router close``, ``router closes``, ``router status``, ``router liquidity``, ``router
hedge list|unwind`` and ``router venues``. Each reads the API's address from ``--url`` (or
``ROUTER_API_URL``) and its bearer token from ``--token`` (or ``ROUTER_API_TOKEN``). Every
failure (an unreachable server, a refused token, a refused request) is one line on stderr
and exit code 2; the token is never printed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

import aiohttp
import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape as escape_markup
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from router.client import RouterApiError, RouterClient
from router.core.decimal_text import NotADecimal, parse_decimal

T = TypeVar("T")

DEFAULT_API_URL = "http://127.0.0.1:8080"
URL_ENV = "ROUTER_API_URL"
TOKEN_ENV = "ROUTER_API_TOKEN"
POLL_INTERVAL_S = 0.2

ApiUrlOption = Annotated[
    str,
    typer.Option("--url", envvar=URL_ENV, help="Base URL of the running `router serve`."),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=TOKEN_ENV,
        help="API bearer token (read scope; trade scope to act).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]

hedge_app = typer.Typer(help="The perpetual hedges: list and unwind.", no_args_is_help=True)


class CommandError(Exception):
    """A failure the command reports as one line on stderr (exit code 2)."""


def _fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; returns the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _api_message(exc: RouterApiError) -> str:
    """One line describing an error answer of the API."""
    if exc.status == 401:
        return "the router refused the API token (401 unauthorized)"
    if exc.status == 403:
        return "the API token may not do this (403 forbidden: a trade token is needed)"
    body = exc.body if isinstance(exc.body, dict) else {"error": str(exc.body)}
    message = f"{exc.status} {body.get('error', 'error')}"
    fields = body.get("fields")
    if isinstance(fields, list) and fields:
        named = "; ".join(
            f"{f.get('field', '?')}: {f.get('message', '')}" for f in fields if isinstance(f, dict)
        )
        message = f"{message} ({named})"
    return message


def _one_line(message: str, token: str) -> str:
    """``message`` on one line, with the token (should it appear) blanked out."""
    flat = " ".join(message.split())
    return flat.replace(token, "***") if token else flat


def _run(url: str, token: str | None, action: Callable[[RouterClient], Awaitable[T]]) -> T:
    """Run ``action`` with a client of the API at ``url``; failures end the command."""
    if not token:
        raise _fail(f"no API token: pass --token or set {TOKEN_ENV}")
    if not url.startswith(("http://", "https://")):
        raise _fail(f"--url must be an http:// or https:// URL, not {url!r}")

    async def run() -> T:
        async with RouterClient(url, token) as client:
            return await action(client)

    try:
        return asyncio.run(run())
    except RouterApiError as exc:
        raise _fail(_one_line(_api_message(exc), token)) from None
    except CommandError as exc:
        raise _fail(_one_line(str(exc), token)) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        detail = str(exc) or type(exc).__name__
        raise _fail(_one_line(f"cannot reach the router at {url}: {detail}", token)) from None


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2))


def _decimal(value: Any) -> Decimal:
    """A decimal from the API (strings), 0 when absent or unreadable."""
    if value is None:
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


def _rounded(value: Any, places: int) -> str:
    """A decimal from the API shown with at most ``places`` decimal places."""
    if value is None:
        return "-"
    return str(round(_decimal(value), places))


# ---------------------------------------------------------------- closes


AVERAGE_PLACES = Decimal("1e-8")
"""Averages of fill prices are shown to 8 decimals (a mean has no exact finite form)."""


def venue_fills(status: dict[str, Any]) -> list[dict[str, Any]]:
    """The close's fills summed per venue and market: quantity, average price (to
    :data:`AVERAGE_PLACES`), fills."""
    totals: dict[tuple[str, str], dict[str, Decimal]] = {}
    for fill in status.get("fills", []):
        key = (str(fill.get("venue")), str(fill.get("market")))
        row = totals.setdefault(key, {"quantity": Decimal(0), "notional": Decimal(0)})
        quantity = _decimal(fill.get("quantity"))
        row["quantity"] += quantity
        row["notional"] += quantity * _decimal(fill.get("price"))
        row["fills"] = row.get("fills", Decimal(0)) + 1
    rows = []
    for (venue, market), row in sorted(totals.items()):
        average = (
            (row["notional"] / row["quantity"]).quantize(AVERAGE_PLACES)
            if row["quantity"]
            else None
        )
        rows.append(
            {
                "venue": venue,
                "market": market,
                "quantity": format(row["quantity"].normalize(), "f"),
                "average_price": None if average is None else format(average.normalize(), "f"),
                "fills": int(row["fills"]),
            }
        )
    return rows


def render_status(status: dict[str, Any], console: Console | None = None) -> None:
    """A close's state, outcome, quantities and per-venue fills as rich tables."""
    out = console or Console()
    outcome = status.get("outcome")
    colour = {"FLAT": "green", "HEDGED": "yellow", None: "cyan"}.get(outcome, "bold red")
    shown = outcome or ("running" if status.get("running") else status.get("state"))
    out.print(
        f"close {status.get('close_id')} ({status.get('side')} {status.get('symbol')}): "
        f"state {status.get('state')}, [{colour}]{shown}[/{colour}]"
    )
    if status.get("reason"):
        out.print(f"  {status['reason']}", markup=False)
    quantities = Table()
    columns = ("requested", "filled", "hedged", "residual", "reference_price")
    for column in columns:
        quantities.add_column(column.replace("_", " "), justify="right")
    quantities.add_row(*(_show(status.get(c)) for c in columns))
    out.print(quantities)
    fills = Table(title="fills per venue")
    fills.add_column("venue")
    fills.add_column("market")
    for column in ("quantity", "average price", "fills"):
        fills.add_column(column, justify="right")
    for row in venue_fills(status):
        fills.add_row(
            row["venue"],
            row["market"],
            row["quantity"],
            _show(row["average_price"]),
            str(row["fills"]),
        )
    out.print(fills)


def _progress_of(status: dict[str, Any]) -> tuple[float, float]:
    """(filled + hedged, requested) of a close, as floats for the progress bar."""
    done = _decimal(status.get("filled")) + _decimal(status.get("hedged"))
    requested = _decimal(status.get("requested"))
    return float(done), float(requested) if requested > 0 else 0.0


async def _start_close(client: RouterClient, request: dict[str, Any]) -> tuple[str, bool]:
    """POST the close; while the API answers ``close_id: null``, re-send the same key.
    The close id, and whether the key already named this close (nothing new started)."""
    key = request["idempotency_key"]
    deadline = time.monotonic() + 30
    existing: bool | None = None
    while True:
        try:
            accepted = await client.close(**request)
        except RouterApiError as exc:
            if exc.status != 409:
                raise
            body = exc.body if isinstance(exc.body, dict) else {}
            first = body.get("close_id")
            named = f"close {first}" if first else "a close still being started"
            raise CommandError(
                f"409 key {key} already names a different request ({named}); "
                "use a new --key for a new close"
            ) from None
        # only the first answer tells: a re-send finds the close this command started
        if existing is None:
            existing = bool(accepted.get("existing"))
        close_id = accepted.get("close_id")
        if close_id:
            return str(close_id), existing
        if time.monotonic() > deadline:
            raise CommandError(
                f"the close with key {key} was not journaled in time; "
                "re-send the same --key to learn its id"
            )
        await asyncio.sleep(POLL_INTERVAL_S)


async def _wait_for_outcome(
    client: RouterClient, close_id: str, console: Console
) -> dict[str, Any]:
    """Poll the close until it has an outcome, showing the quantity out as a progress bar."""
    progress = Progress(
        TextColumn(f"close {close_id}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[out]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("close", total=None, out="starting")
        while True:
            status = await client.status(close_id)
            done, requested = _progress_of(status)
            out = f"{_show(status.get('filled'))} filled + {_show(status.get('hedged'))} hedged"
            progress.update(
                task,
                completed=done,
                total=requested or None,
                out=f"{out} of {_show(status.get('requested'))}",
            )
            if status.get("outcome") is not None and not status.get("running"):
                return status
            await asyncio.sleep(POLL_INTERVAL_S)


def close_command(
    symbol: Annotated[str, typer.Option("--symbol", help="Base asset of the position, e.g. BTC.")],
    side: Annotated[str, typer.Option("--side", help="sell closes a long, buy closes a short.")],
    quantity: Annotated[str, typer.Option("--quantity", help="A positive decimal, or all.")],
    urgency: Annotated[
        str | None, typer.Option("--urgency", help="0..1; how fast to escalate.")
    ] = None,
    danger: Annotated[
        str | None, typer.Option("--danger", help="0..1 danger of the world.")
    ] = None,
    unrealized_pnl: Annotated[
        str | None,
        typer.Option("--unrealized-pnl", help="Unrealised PnL as a fraction (-1..10)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Idempotency key (default: a new one).", show_default=False),
    ] = None,
    hedge: Annotated[
        bool, typer.Option("--hedge/--no-hedge", help="Allow a perpetual hedge of the residual.")
    ] = True,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the outcome, showing progress.")
    ] = False,
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """Start closing a position; with --wait, follow it to its outcome."""
    request: dict[str, Any] = {
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "idempotency_key": key or f"operator-{uuid.uuid4().hex[:20]}",
        "allow_hedge": hedge,
    }
    optional = {"urgency": urgency, "danger": danger, "unrealized_pnl": unrealized_pnl}
    request.update({name: value for name, value in optional.items() if value is not None})
    progress_console = Console(stderr=True)

    async def action(client: RouterClient) -> tuple[dict[str, Any], bool]:
        close_id, existing = await _start_close(client, request)
        if not wait:
            return await client.status(close_id), existing
        return await _wait_for_outcome(client, close_id, progress_console), existing

    try:
        status, existing = _run(url, token, action)
    except KeyboardInterrupt:
        raise _fail(
            f"stopped waiting; the close with key {request['idempotency_key']} keeps running"
        ) from None
    if as_json:
        _print_json(status)
        return
    if existing:
        typer.echo(
            f"close {status['close_id']} already exists for key {status['idempotency_key']}, "
            f"state {status['state']}"
        )
    if wait:
        render_status(status)
    elif not existing:
        typer.echo(
            f"close {status['close_id']} started (key {status['idempotency_key']}), "
            f"state {status['state']}"
        )


def status_command(
    close_id: Annotated[str, typer.Argument(help="The close's id.")],
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """A close's state, outcome, quantities and per-venue fills."""
    status = _run(url, token, lambda client: client.status(close_id))
    if as_json:
        _print_json(status)
        return
    render_status(status)


def cancel_command(
    close_id: Annotated[str, typer.Argument(help="The close's id.")],
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """Ask a running close to start no new wave and no hedge (it ends STRANDED)."""
    answer = _run(url, token, lambda client: client.cancel(close_id))
    if as_json:
        _print_json(answer)
        return
    typer.echo(f"cancel requested for close {close_id} (state {answer.get('state')})")


def closes_table(page: dict[str, Any]) -> Table:
    """A page of closes, newest first: one row each (``--json`` has every field)."""
    table = Table(title="closes (newest first)", box=box.SIMPLE_HEAD)
    table.add_column("close id", no_wrap=True, min_width=27)
    table.add_column("key", overflow="fold")
    table.add_column("close")
    for column in ("state", "outcome"):
        table.add_column(column)
    for column in ("hedged", "residual"):
        table.add_column(column, justify="right")
    table.add_column("created (UTC)")
    for row in page.get("closes", []):
        created = _show(row.get("created_at"))[:19].replace("T", " ")
        what = f"{_show(row.get('side'))} {_show(row.get('requested'))} {_show(row.get('symbol'))}"
        cells = (
            _show(row.get("close_id")),
            _show(row.get("idempotency_key")),
            what,
            _show(row.get("state")),
            _show(row.get("outcome")),
            _show(row.get("hedged")),
            _show(row.get("residual")),
            created,
        )
        table.add_row(*(escape_markup(cell) for cell in cells))
    return table


def closes_command(
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only closes in this state (ACCEPTED, RUNNING, NEEDS_OPERATOR, DONE)."
        ),
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="Only closes with this outcome (FLAT, HEDGED, STRANDED)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only closes created at or after this ISO-8601 instant with its "
            "offset, e.g. 2024-05-01T09:30:00Z.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many closes (1..500; 100).")
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--after", help="The next page: the cursor the previous page printed."),
    ] = None,
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """The closes, newest first, a page at a time."""
    page = _run(
        url,
        token,
        lambda client: client.closes(
            state=state, outcome=outcome, since=since, limit=limit, after=after
        ),
    )
    if as_json:
        _print_json(page)
        return
    Console().print(closes_table(page))
    if page.get("next"):
        typer.echo(f"more: router closes --after {page['next']} (with the same filters)")


# ---------------------------------------------------------------- liquidity


def liquidity_table(reading: dict[str, Any]) -> Group:
    """A liquidity reading as a per-venue table and its consolidated summary."""
    table = Table(title=f"{reading.get('symbol')} liquidity ({reading.get('side')} side)")
    for column in ("venue", "depth", "baseline", "score", "spread bps", "imbalance"):
        table.add_column(column, justify="left" if column == "venue" else "right")
    for row in reading.get("venues", []):
        table.add_row(
            str(row.get("venue")),
            *(_show(row.get(k)) for k in ("depth", "baseline", "score")),
            _rounded(row.get("spread_bps"), 2),
            _rounded(row.get("imbalance"), 4),
        )
    for row in reading.get("unavailable", []):
        table.add_row(str(row.get("venue")), "-", "-", "-", "-", f"[red]{row.get('reason')}[/red]")
    escape = "[bold red]ESCAPE NOW[/bold red]" if reading.get("escape_now") else "no"
    summary = Table.grid(padding=(0, 2))
    summary.add_row("consolidated score", _show(reading.get("consolidated_score")))
    summary.add_row("escape window (s)", _show(reading.get("escape_window_s")))
    summary.add_row("escape now", escape)
    votes = reading.get("votes") or []
    summary.add_row(
        "votes",
        "; ".join(f"{v.get('action')} ({v.get('confidence')}): {v.get('reason')}" for v in votes)
        or "none",
    )
    return Group(table, summary)


def liquidity_command(
    symbol: Annotated[str, typer.Argument(help="Base asset, e.g. BTC.")],
    side: Annotated[str, typer.Option("--side", help="sell or buy: the side of a close.")] = "sell",
    danger: Annotated[str, typer.Option("--danger", help="0..1 danger of the world.")] = "0",
    has_position: Annotated[
        bool,
        typer.Option("--has-position", help="A position is held (lets the world signature vote)."),
    ] = False,
    watch: Annotated[
        float | None,
        typer.Option("--watch", help="Refresh every this many seconds until Ctrl-C.", min=0.1),
    ] = None,
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """Per-venue depth, baseline, score and spread; the consolidated score and escape window."""

    def read(client: RouterClient) -> Awaitable[dict[str, Any]]:
        return client.liquidity(symbol, side=side, danger=danger, has_position=has_position)

    if watch is None:
        reading = _run(url, token, read)
        if as_json:
            _print_json(reading)
        else:
            Console().print(liquidity_table(reading))
        return

    interval = watch

    async def follow(client: RouterClient) -> None:
        first = await read(client)
        if as_json:
            typer.echo(json.dumps(first))
            while True:
                await asyncio.sleep(interval)
                typer.echo(json.dumps(await read(client)))
        with Live(liquidity_table(first), auto_refresh=False) as live:
            while True:
                await asyncio.sleep(interval)
                live.update(liquidity_table(await read(client)), refresh=True)

    try:
        _run(url, token, follow)
    except KeyboardInterrupt:
        return


# ---------------------------------------------------------------- hedges and venues


@hedge_app.command("list")
def hedge_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only hedges still open.")] = False,
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """The perpetual hedges the router has opened."""
    hedges = _run(url, token, lambda client: client.hedges(open_only=open_only))
    if as_json:
        _print_json(hedges)
        return
    table = Table(title="open hedges" if open_only else "hedges")
    columns = (
        "id",
        "close_id",
        "venue",
        "symbol",
        "side",
        "quantity",
        "unwound_qty",
        "average_price",
        "state",
        "opened_at",
    )
    for column in (*columns, "covers"):
        table.add_column(column.replace("_", " "))
    for row in hedges:
        covers = ", ".join(f"{v} {q}" for v, q in (row.get("covers") or {}).items()) or "-"
        table.add_row(*(_show(row.get(c)) for c in columns), covers)
    Console().print(table)


@hedge_app.command("unwind")
def hedge_unwind(
    hedge_id: Annotated[int, typer.Argument(help="The hedge's id.")],
    quantity: Annotated[
        str | None,
        typer.Option("--quantity", help="Unwind only this much (default: all of it)."),
    ] = None,
    with_spot: Annotated[
        bool,
        typer.Option(
            "--with-spot",
            help="First sell the spot inventory the hedge covers (on the covered venues "
            "that can trade now), then buy back exactly what was sold.",
        ),
    ] = False,
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """Buy (sell) a hedge back, reduce-only; print what was bought back, what is still
    open, the hedge's state and why less than asked was bought back."""
    try:
        amount = None if quantity is None else parse_decimal(quantity)
    except NotADecimal as exc:
        raise _fail(f"--quantity {exc}") from None
    answer = _run(url, token, lambda client: client.unwind(hedge_id, amount, with_spot=with_spot))
    if as_json:
        _print_json(answer)
        return
    typer.echo(
        f"hedge {hedge_id}: unwound {_show(answer.get('unwound'))}, "
        f"open {_show(answer.get('open'))}, state {_show(answer.get('state'))}"
    )
    if answer.get("reason"):
        typer.echo(f"reason: {answer['reason']}")


def venues_command(
    as_json: JsonOption = False,
    url: ApiUrlOption = DEFAULT_API_URL,
    token: TokenOption = None,
) -> None:
    """The venues: circuit state, last error and markets (``loading`` while a venue's
    markets are still being loaded, with the last load error)."""
    venues = _run(url, token, lambda client: client.venues())
    if as_json:
        _print_json(venues)
        return
    table = Table(title="venues")
    for column in ("name", "circuit", "open until", "last error", "markets"):
        table.add_column(column)
    colours = {"closed": "green", "half_open": "yellow", "open": "bold red"}
    for row in venues:
        circuit = str(row.get("circuit"))
        colour = colours.get(circuit, "white")
        loading = row.get("loaded") is False
        error = (row.get("load_error") if loading else None) or row.get("last_error")
        markets = ", ".join(row.get("markets") or [])
        table.add_row(
            str(row.get("name")),
            f"[{colour}]{circuit}[/{colour}]",
            _show(row.get("open_until")),
            escape_markup(_show(error)),
            "[yellow]loading[/yellow]" if loading else markets,
        )
    Console().print(table)
