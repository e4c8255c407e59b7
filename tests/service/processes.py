"""Router and simulator *processes* for end-to-end tests: ``router sim serve`` on
loopback, a venues file routing ccxt to it, ``router serve`` over that file."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from router.harness.connect import binance_client, close_client
from router.sim.endpoint import VenueEndpoint
from tests.service.conftest import READ, TOKENS

STARTUP_S = 60.0
ROUTER = (sys.executable, "-m", "router.cli")


@dataclass
class Simulator:
    ca_cert: Path
    venues: list[dict[str, Any]]


def _env_prefix(name: str) -> str:
    return f"ROUTER_TEST_{name.upper()}"


def read_line(process: subprocess.Popen[str], stream: IO[str], log: Path) -> str:
    """The process's first line on ``stream``, failing (with its log) if none comes."""
    ready, _, _ = select.select([stream], [], [], STARTUP_S)
    line = stream.readline() if ready else ""
    assert line, f"exit {process.poll()}: {log.read_text(encoding='utf-8')[-3000:]}"
    return line


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def running_simulator(tmp_path: Path) -> Iterator[Simulator]:
    """``router sim serve --scenario calm`` in a subprocess, until the block ends."""
    log = tmp_path / "sim.log"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [*ROUTER, "sim", "serve", "--scenario", "calm", "--tls-dir", str(tmp_path / "tls")],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        announced = json.loads(read_line(process, process.stdout, log))
        yield Simulator(Path(announced["ca_cert"]), announced["venues"])
    finally:
        stop(process)


def write_venues(path: Path, simulator: Simulator, *, dry_run: bool) -> dict[str, str]:
    """A venues file routing each simulated venue through ``connect``; the environment
    variables holding the keys it names."""
    ca_file = simulator.ca_cert.relative_to(path.parent)
    lines = []
    environ = {}
    for venue in simulator.venues:
        prefix = _env_prefix(venue["name"])
        environ[f"{prefix}_API_KEY"] = venue["api_key"]
        environ[f"{prefix}_SECRET"] = venue["secret"]
        lines += [
            "[[venues]]",
            f'name = "{venue["name"]}"',
            'exchange = "binance"',
            f'api_key_env = "{prefix}_API_KEY"',
            f'secret_env = "{prefix}_SECRET"',
            f"dry_run = {str(dry_run).lower()}",
            "",
            "[venues.connect]",
            f'address = "127.0.0.1:{venue["port"]}"',
            f'ca_file = "{ca_file}"',
            "",
            "[venues.options]",
            "fetchCurrencies = false",
            "fetchMargins = false",
            'fetchMarkets = { types = ["spot", "linear"] }',
            "",
        ]
    path.write_text('quote = "USDT"\n\n' + "\n".join(lines), encoding="utf-8")
    return environ


@dataclass
class Router:
    base: str

    def call(self, method: str, path: str, token: str = READ, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def finished(self, close_id: str, timeout_s: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body: dict[str, Any] = self.call("GET", f"/v1/closes/{close_id}")
            if body["outcome"] is not None and not body["running"]:
                return body
            assert time.monotonic() < deadline, f"close {close_id} did not finish: {body}"
            time.sleep(0.2)


async def btc_held(simulator: Simulator) -> Decimal:
    """BTC held on every simulated venue, read through ccxt as a user would."""
    total = Decimal(0)
    for venue in simulator.venues:
        exchange = binance_client(
            VenueEndpoint(
                venue["name"], venue["port"], simulator.ca_cert, venue["api_key"], venue["secret"]
            )
        )
        try:
            balance = await exchange.fetch_balance()
        finally:
            await close_client(exchange)
        total += Decimal(str(balance["total"].get("BTC", 0)))
    return total


def serve_router(
    tmp_path: Path,
    name: str,
    venues: Path,
    environ: dict[str, str],
    journal: str,
    config_text: str,
) -> tuple[subprocess.Popen[str], Router]:
    """``router serve --venues`` on ``journal`` with ``config_text`` as its configuration;
    its log goes to ``<name>.log``; returns the process and a client of its API."""
    config = tmp_path / "router.toml"
    config.write_text(config_text, encoding="utf-8")
    log = tmp_path / f"{name}.log"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [
                *ROUTER,
                "serve",
                "--venues",
                str(venues),
                "--port",
                "0",
                "--db",
                journal,
                "--config",
                str(config),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, **environ, "ROUTER_API_TOKENS": TOKENS},
        )
    assert process.stdout is not None
    line = read_line(process, process.stdout, log)
    return process, Router(line.split()[3])
