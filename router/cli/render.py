"""Human-readable terminal output of the CLI (rich tables)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table


def render_plan(answer: dict[str, Any], console: Console | None = None) -> None:
    out = console or Console()
    limit = answer["limit_price"] or "unbounded"
    table = Table(title=f"{answer['side']} {answer['quantity']} within {limit}")
    table.add_column("venue")
    table.add_column("quantity", justify="right")
    table.add_column("limit price", justify="right")
    table.add_column("expected average", justify="right")
    for child in answer["children"]:
        table.add_row(
            child["venue"], child["quantity"], child["limit_price"], child["expected_average_price"]
        )
    out.print(table)
    out.print(f"filled        {answer['filled']}  (oracle {answer['oracle_filled']})")
    out.print(f"net proceeds  {answer['net_proceeds']}  (oracle {answer['oracle_net_proceeds']})")
    out.print(f"average price {answer['average_price'] or '-'}")
    residual = answer["residual"]
    style = "bold red" if residual not in ("0", None) else "green"
    out.print(f"residual      [{style}]{residual}[/{style}]")


def _short(value: Any, places: int) -> str:
    """A decimal string shortened for a table cell (the JSON keeps every digit)."""
    if value is None:
        return "-"
    return f"{Decimal(str(value)):,.{places}f}"


def render_close(result: dict[str, Any], console: Console | None = None) -> None:
    """One close's outcome: quantities, prices and the per-venue breakdown."""
    out = console or Console()
    colour = {"FLAT": "green", "HEDGED": "yellow"}.get(result["outcome"], "bold red")
    out.print(f"close {result['close_id']}: [{colour}]{result['outcome']}[/{colour}]")
    out.print(f"  {result['reason']}", markup=False)
    table = Table()
    cells = [
        ("requested", result["requested"]),
        ("filled", result["filled"]),
        ("hedged", result["hedged"]),
        ("residual", result["residual"]),
        ("avg price", _short(result["average_price"], 2)),
        ("hedge price", _short(result.get("hedge_price"), 2)),
        ("arrival mid", _short(result["arrival_mid"], 2)),
        ("shortfall bps", _short(result["shortfall_bps"], 1)),
        ("seconds", _short(result["duration_s"], 0)),
    ]
    for header, _ in cells:
        table.add_column(header, justify="right")
    table.add_row(*(str(value) for _, value in cells))
    out.print(table)
    position = result.get("position") or {}
    held = position.get("venues") or {}
    venues = Table(title="per venue: held at start = sold + hedged for it + residual")
    for column in ("venue", "held", "sold", "average price", "hedged for it", "residual", "orders"):
        venues.add_column(column, justify="left" if column == "venue" else "right")
    names = list(held) + [n for n in result["venues"] if n not in held]
    notes: dict[str, list[str]] = {}
    for name in names:
        row = result["venues"].get(name, {})
        figures = held.get(name, {})
        unknown = name in position.get("unknown", [])
        venues.add_row(
            name,
            "unknown" if unknown else str(figures.get("held") or "-"),
            str(figures.get("sold") or row.get("filled") or "0"),
            _short(row.get("average_price"), 2),
            str(figures.get("hedged") or "0"),
            "unknown" if unknown else str(figures.get("residual") or "0"),
            str(row.get("attempts", 0)),
        )
        if figures.get("why"):
            notes.setdefault(figures["why"], []).append(name)
    out.print(venues)
    for why, where in notes.items():
        out.print(f"  {', '.join(where)}: {why}", markup=False)
    legs = {
        n: r.get("hedged")
        for n, r in result["venues"].items()
        if r.get("hedged") not in (None, "0")
    }
    if legs:
        out.print("  perp shorts: " + ", ".join(f"{n} {q}" for n, q in legs.items()), markup=False)
