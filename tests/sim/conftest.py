"""Fixtures that run simulated venues on loopback for a test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.harness.connect import connect_binance
from router.sim.clock import ManualClock
from router.sim.scenario import Scenario, parse_scenario
from router.sim.server import SimCluster


def small_world(**overrides: Any) -> Scenario:
    """Two venues with fixed, calm books: the default world of contract tests."""
    raw: dict[str, Any] = {
        "name": "contract",
        "stages": [{"at_s": 0, "depth": 1, "spread_bps": 2}],
        "venues": [
            {
                "name": "alpha",
                "balances": {"BTC": "5", "USDT": "200000"},
                "spot": {"maker_fee": "0.0008", "taker_fee": "0.001"},
            },
            {
                "name": "bravo",
                "depth_scale": "0.5",
                "balances": {"BTC": "3", "USDT": "50000"},
                "spot": {
                    "tick_size": "0.1",
                    "step_size": "0.0001",
                    "min_qty": "0.0001",
                    "taker_fee": "0.0015",
                },
                "futures": None,
            },
        ],
    }
    raw.update(overrides)
    return parse_scenario(raw)


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world() -> Scenario:
    return small_world()


@pytest.fixture
async def cluster(world: Scenario, clock: ManualClock, tls_dir: Path) -> AsyncIterator[SimCluster]:
    async with SimCluster(world, seed=11, tls_dir=tls_dir, clock=clock) as running:
        yield running


@pytest.fixture
async def alpha(cluster: SimCluster) -> AsyncIterator[Any]:
    """An unmodified ccxt binance client wired to venue ``alpha``."""
    async with connect_binance(cluster.endpoint("alpha")) as exchange:
        await exchange.load_markets()
        yield exchange


def advance(cluster: SimCluster, clock: ManualClock) -> Callable[[float], None]:
    def step(seconds: float) -> None:
        clock.advance(Decimal(str(seconds)))
        cluster.step()

    return step
