"""A venue that fails to load at start under ``router serve --venues`` is loaded again in
the background: ``GET /v1/venues``, ``GET /readyz`` and ``router venues`` show it as
loading, with its error, and then as loaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from router.cli import app as cli_app
from router.core.policy import Policy
from router.engine.engine import Engine
from router.journal.repository import Journal
from router.service.app import build_app
from router.service.cli import NoVenueLoaded, OpenVenues, configured_venues
from router.service.state import ServiceState
from router.sim.clock import ManualClock
from router.sim.server import SimCluster
from router.venues.config import load_venues
from tests.engine.conftest import three_venues
from tests.service.conftest import READ, TRADE
from tests.service.processes import Simulator, write_venues
from tests.service.test_openapi import conforms

EXCHANGE_INFO = "GET /api/v3/exchangeInfo"


class GatedSleep:
    """The loader's sleep: each wait is recorded and lasts until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.gate.wait()


async def venues_file(
    stack: AsyncExitStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: list[Any]
) -> Path:
    """Three simulated venues in process (with ``faults``) and a venues file routing
    ccxt to them, keys in the environment."""
    cluster = SimCluster(
        three_venues(faults=faults), seed=5, tls_dir=tmp_path / "tls", clock=ManualClock()
    )
    await cluster.start()
    stack.push_async_callback(cluster.stop)
    endpoints = cluster.endpoints()
    simulator = Simulator(
        endpoints[0].ca_cert,
        [
            {"name": e.name, "port": e.port, "api_key": e.api_key, "secret": e.secret}
            for e in endpoints
        ],
    )
    path = tmp_path / "venues.toml"
    for variable, value in write_venues(path, simulator, dry_run=False).items():
        monkeypatch.setenv(variable, value)
    return path


@dataclass
class Served:
    venues: OpenVenues
    client: TestClient[Any, Any]
    sleep: GatedSleep

    async def get(self, path: str) -> Any:
        response = await self.client.get(path, headers={"Authorization": f"Bearer {READ}"})
        return await conforms(response, path, "get")

    async def table(self) -> str:
        """``router venues`` against the served API (its own event loop, in a thread)."""
        url = str(self.client.make_url("")).rstrip("/")
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli_app,
            ["venues", "--url", url, "--token", READ],
            env={"COLUMNS": "250"},
        )
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    """``router serve --venues`` in process, bravo's first exchangeInfo answered 429."""
    async with AsyncExitStack() as stack:
        throttle = {"kind": "rate_limit", "venue": "bravo", "endpoint": EXCHANGE_INFO, "count": 1}
        path = await venues_file(stack, tmp_path, monkeypatch, [throttle])
        sleep = GatedSleep()
        venues = await configured_venues(load_venues(path), path.name, sleep=sleep)(stack)
        journal = await Journal.open(f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}")
        stack.push_async_callback(journal.close)
        engine = Engine(journal, venues.adapters, venues.health, Policy(), pacing=venues.pacing)
        state = ServiceState(
            engine, journal, venues.adapters, venues.health, {READ: "read", TRADE: "trade"}
        )
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(state), host="127.0.0.1"))
        await client.start_server()
        stack.push_async_callback(client.close)
        yield Served(venues, client, sleep)


async def test_a_venue_throttled_at_start_shows_as_loading_then_loaded(served: Served) -> None:
    rows = {row["name"]: row for row in (await served.get("/v1/venues"))["venues"]}
    assert set(rows) == {"alpha", "bravo", "charlie"}
    bravo = rows["bravo"]
    assert bravo["loaded"] is False
    assert bravo["markets"] == []
    assert "429" in bravo["load_error"]
    assert bravo["circuit"] == "closed"  # one 429 is a rate limit, not an outage
    for name in ("alpha", "charlie"):
        assert rows[name]["loaded"] is True
        assert rows[name]["load_error"] is None
        assert "BTC/USDT" in rows[name]["markets"]

    ready = await served.get("/readyz")
    assert ready["ready"] is True
    assert ready["checks"] == {"journal": True, "venues": True}
    assert ready["loading"] == {"bravo": bravo["load_error"]}

    table = await served.table()
    bravo_line = next(line for line in table.splitlines() if "bravo" in line)
    assert "loading" in bravo_line
    assert "429" in bravo_line

    # the loader waits the venue's Retry-After (1 s) or its first backoff (1 s), then loads
    assert served.sleep.waits == [1]
    served.sleep.gate.set()
    for _ in range(1000):
        if served.venues.adapters["bravo"].loaded:
            break
        await asyncio.sleep(0.01)
    rows = {row["name"]: row for row in (await served.get("/v1/venues"))["venues"]}
    assert rows["bravo"]["loaded"] is True
    assert rows["bravo"]["load_error"] is None
    assert "BTC/USDT" in rows["bravo"]["markets"]
    assert rows["bravo"]["circuit"] == "closed"
    ready = await served.get("/readyz")
    assert ready["loading"] == {}
    assert "loading" not in await served.table()


async def test_no_venue_loaded_at_start_still_stops_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttle_all = {"kind": "rate_limit", "endpoint": EXCHANGE_INFO}
    async with AsyncExitStack() as outer:
        path = await venues_file(outer, tmp_path, monkeypatch, [throttle_all])
        opener = configured_venues(load_venues(path), path.name, sleep=GatedSleep())
        with pytest.raises(NoVenueLoaded, match="429"):
            async with AsyncExitStack() as stack:
                await opener(stack)
        loaders = [t for t in asyncio.all_tasks() if t.get_name().startswith("load ")]
        assert loaders == []


async def test_readiness_needs_one_loaded_venue(served: Served) -> None:
    for name in ("alpha", "charlie"):
        served.venues.adapters[name].loaded = False
        served.venues.adapters[name].load_error = f"{name}: load_markets failed: down"
    response = await served.client.get("/readyz", headers={"Authorization": f"Bearer {READ}"})
    assert response.status == 503
    body = await conforms(response, "/readyz", "get")
    assert body["checks"] == {"journal": True, "venues": False}
    assert set(body["loading"]) == {"alpha", "bravo", "charlie"}
    assert body["loading"]["alpha"] == "alpha: load_markets failed: down"
