"""``router sim serve``: the venue simulator on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from router.sim.scenario import ScenarioError, load_scenario
from router.sim.server import SimCluster

sim_app = typer.Typer(help="The venue simulator: Binance spot and USD-M on loopback.")

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
