"""The ``router`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from router.core.plan import plan
from router.render import render_plan
from router.sim.scenario import ScenarioError, load_scenario
from router.sim.server import SimCluster

app = typer.Typer(help="Liquidity-crisis execution router.", no_args_is_help=True)
sim_app = typer.Typer(help="The venue simulator: Binance spot and USD-M on loopback.")
app.add_typer(sim_app, name="sim")

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
