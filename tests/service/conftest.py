"""The API over a simulated world: venues on loopback, a manual clock, a real journal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from router.service.app import build_app
from router.service.metrics import Metrics
from router.service.state import ServiceState
from router.sim.scenario import Scenario
from tests.engine.conftest import World, build_world, check_invariants, three_venues

READ = "read-token-0123456789abcdef"
TRADE = "trade-token-0123456789abcdef"
TOKENS = f"{READ}:read,{TRADE}:trade"


@dataclass
class Api:
    world: World
    state: ServiceState
    client: TestClient[Any, Any]

    def headers(self, token: str = TRADE) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, token: str = READ, **kwargs: Any) -> Any:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return await self.client.get(path, headers=headers, **kwargs)

    async def post(self, path: str, token: str = TRADE, **kwargs: Any) -> Any:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return await self.client.post(path, headers=headers, **kwargs)

    def orders_on_venues(self) -> int:
        return sum(
            len(orders)
            for name in self.world.adapters
            for orders in self.world.venue(name).orders.values()
        )

    async def finished(self, close_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll ``GET /v1/closes/{id}`` until the close has an outcome."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = await self.get(f"/v1/closes/{close_id}")
            assert response.status == 200
            body: dict[str, Any] = await response.json()
            if body["outcome"] is not None and not body["running"]:
                return body
            assert time.monotonic() < deadline, f"close {close_id} did not finish"
            await asyncio.sleep(0.01)


def close_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": "BTC",
        "side": "sell",
        "quantity": "2",
        "urgency": "0.9",
        "idempotency_key": "api-close-1",
    }
    body.update(fields)
    return body


@pytest.fixture
def scenario() -> Scenario:
    return three_venues()


@pytest.fixture
async def api(scenario: Scenario, tmp_path: Path) -> AsyncIterator[Api]:
    stack: list[Callable[[], Any]] = []
    try:
        world = await build_world(scenario, tmp_path, stack)
        metrics = Metrics()
        world.engine.orders = metrics
        state = ServiceState(
            engine=world.engine,
            journal=world.journal,
            adapters=world.adapters,
            health=world.health,
            tokens={READ: "read", TRADE: "trade"},
            metrics=metrics,
        )
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(state), host="127.0.0.1"))
        await client.start_server()
        stack.append(client.close)
        yield Api(world, state, client)
        await check_invariants(world)
    finally:
        for undo in reversed(stack):
            await undo()
