"""``router plan``: what the router would do with given books, without trading."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from router.cli.render import render_plan
from router.core.plan import plan


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


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
