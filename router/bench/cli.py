"""``router bench``: execution quality and speed, measured on simulated markets."""

from __future__ import annotations

import typer

from router.bench.quality import quality_command
from router.bench.speed import speed_command

bench_app = typer.Typer(
    help="Benchmarks: execution quality against baselines and the oracle, and speed.",
    no_args_is_help=True,
)
bench_app.command("quality")(quality_command)
bench_app.command("speed")(speed_command)
