"""Human-readable terminal output of the CLI (rich tables)."""

from __future__ import annotations

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
