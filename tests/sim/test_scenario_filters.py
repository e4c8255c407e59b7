"""Market filters must be consistent: limits on their tick / step grid, minimums below maximums.

Regression: a venue whose USD-M perpetual had a 0.5 tick kept the USD-M default
``min_price`` 556.80, which is off that grid, so Binance's rule
``(price - minPrice) % tickSize == 0`` refused every price ccxt sends (multiples of the
tick from 0) with -4014, and no shipped scenario had a second working hedge venue.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.harness.connect import connect_binance
from router.sim.clock import ManualClock
from router.sim.paths import repo_root
from router.sim.scenario import MarketFilters, Scenario, ScenarioError, load_scenario
from router.sim.server import SimCluster
from tests.sim.conftest import small_world

D = Decimal
PERP = "BTC/USDT:USDT"
SCENARIOS = repo_root() / "config" / "scenarios"
SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def _venue_with(market: str, table: dict[str, Any]) -> dict[str, Any]:
    return {"name": "x", "venues": [{"name": "a"}, {"name": "b", market: table}]}


@pytest.mark.parametrize(
    ("market", "table", "key", "message"),
    [
        (
            "futures",
            {"tick_size": "0.5", "min_price": "556.80"},
            "venues.1.futures.min_price",
            "min_price 556.80 is not a multiple of tick_size 0.5",
        ),
        (
            "futures",
            {"tick_size": "0.5", "max_price": "4529764.2"},
            "venues.1.futures.max_price",
            "max_price 4529764.2 is not a multiple of tick_size 0.5",
        ),
        (
            "spot",
            {"min_price": "0.005"},
            "venues.1.spot.min_price",
            "min_price 0.005 is not a multiple of tick_size 0.01",
        ),
        (
            "futures",
            {"min_price": "1000", "max_price": "1000"},
            "venues.1.futures.max_price",
            "max_price 1000 is not above min_price 1000",
        ),
        (
            "spot",
            {"max_price": "0.01"},
            "venues.1.spot.max_price",
            "max_price 0.01 is not above min_price 0.01",
        ),
        (
            "futures",
            {"min_qty": "0.0015"},
            "venues.1.futures.min_qty",
            "min_qty 0.0015 is not a multiple of step_size 0.001",
        ),
        (
            "spot",
            {"step_size": "0.001", "max_qty": "10.0005"},
            "venues.1.spot.max_qty",
            "max_qty 10.0005 is not a multiple of step_size 0.001",
        ),
        (
            "futures",
            {"min_qty": "5", "max_qty": "1"},
            "venues.1.futures.max_qty",
            "max_qty 1 is below min_qty 5",
        ),
        (
            "futures",
            {"market_min_qty": "0.0005"},
            "venues.1.futures.market_min_qty",
            "market_min_qty 0.0005 is not a multiple of step_size 0.001",
        ),
        (
            "futures",
            {"market_step_size": "0.01", "market_min_qty": "0.005"},
            "venues.1.futures.market_min_qty",
            "market_min_qty 0.005 is not a multiple of market_step_size 0.01",
        ),
        (
            "spot",
            {"market_step_size": "0.01", "market_max_qty": "100.005"},
            "venues.1.spot.market_max_qty",
            "market_max_qty 100.005 is not a multiple of market_step_size 0.01",
        ),
        (
            "spot",
            {"market_max_qty": "50.000001"},
            "venues.1.spot.market_max_qty",
            "market_max_qty 50.000001 is not a multiple of step_size 0.00001",
        ),
        (
            "futures",
            {"market_min_qty": "5", "market_max_qty": "1"},
            "venues.1.futures.market_max_qty",
            "market_max_qty 1 is below market_min_qty 5",
        ),
        (
            "spot",
            {"min_qty": "200", "max_qty": "1000"},
            "venues.1.spot.market_max_qty",
            "market_max_qty 100 is below min_qty 200",
        ),
    ],
)
def test_inconsistent_filters_are_refused_naming_the_key(
    tmp_path: Path, market: str, table: dict[str, Any], key: str, message: str
) -> None:
    lines = ['name = "x"', "[[venues]]", 'name = "a"', "[[venues]]", 'name = "b"']
    lines += [f"[venues.{market}]", *(f'{k} = "{v}"' for k, v in table.items())]
    path = tmp_path / "broken.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert str(info.value).startswith("broken.toml: ")
    assert f"{key}: Value error, {message}" in str(info.value)


def test_filters_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match=r"min_price 556\.80 is not a multiple of tick_size 0\.5"):
        MarketFilters(tick_size=D("0.5"), min_price=D("556.80"))


@pytest.mark.parametrize(
    ("tick", "min_price", "max_price"),
    [
        ("0.1", "556.80", "4529764"),  # the USD-M defaults, kept exactly
        ("0.01", "556.80", "4529764"),
        ("0.5", "557.0", "4529764"),  # 556.80 rounded up onto the grid
        ("0.3", "556.80", "4529763.9"),  # max rounded down onto the grid
        ("1000", "1000", "4529000"),
    ],
)
def test_a_partial_futures_table_fits_the_usdm_limits_onto_its_tick(
    tick: str, min_price: str, max_price: str
) -> None:
    scenario = small_world(venues=[{"name": "alpha", "futures": {"tick_size": tick}}])
    futures = scenario.venues[0].futures
    assert futures is not None
    assert (str(futures.min_price), str(futures.max_price)) == (min_price, max_price)


def test_a_partial_table_fits_missing_quantity_limits_onto_its_step() -> None:
    venue = {
        "name": "alpha",
        "spot": {"tick_size": "0.5", "step_size": "0.001"},
        "futures": {"step_size": "0.007"},
    }
    scenario = small_world(venues=[venue])
    spot, futures = scenario.venues[0].spot, scenario.venues[0].futures
    assert futures is not None
    # Spot: the price grid starts at one tick, the quantity grid at one step.
    assert (spot.min_price, spot.min_qty, spot.max_qty) == (D("0.5"), D("0.001"), D(9000))
    assert (futures.min_qty, futures.max_qty, futures.market_max_qty) == (
        D("0.007"),
        D("999.999"),
        D("119.994"),
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_have_consistent_filters(name: str) -> None:
    scenario = load_scenario(str(SCENARIOS / f"{name}.toml"))
    markets = [m for v in scenario.venues for m in (v.spot, v.futures) if m is not None]
    for f in markets:
        assert f.min_price % f.tick_size == 0
        assert f.max_price % f.tick_size == 0
        assert f.min_qty % f.step_size == 0
        assert f.max_qty % f.step_size == 0
    hedges = [v for v in scenario.venues if v.futures is not None]
    assert len(hedges) >= 2
    assert any(v.futures.tick_size == D("0.5") for v in hedges if v.futures is not None)


# Regression through unmodified ccxt: a 0.5-tick perpetual accepts orders.


@pytest.fixture
def world() -> Scenario:
    """Venue alpha with the issue's partial USD-M table: a 0.5 tick and no min_price."""
    return small_world(
        venues=[
            {
                "name": "alpha",
                "balances": {"BTC": "5", "USDT": "200000"},
                "futures": {"tick_size": "0.5", "step_size": "0.001"},
            }
        ]
    )


@pytest.mark.parametrize("price", ["57423.5", "57423", "60000"])
async def test_half_tick_perpetual_accepts_a_sell_ioc_through_ccxt(alpha: Any, price: str) -> None:
    perp = alpha.market(PERP)
    assert D(str(perp["precision"]["price"])) == D("0.5")
    assert D(str(perp["limits"]["price"]["min"])) == D("557")
    order = await alpha.create_order(
        PERP, "limit", "sell", 0.01, float(price), {"timeInForce": "IOC"}
    )
    assert D(str(order["price"])) == D(price)
    assert order["status"] in ("closed", "expired")
    assert D(str(order["filled"])) == D("0.01")


@pytest.mark.parametrize("name", SHIPPED)
async def test_every_shipped_half_tick_perpetual_accepts_a_sell_ioc(
    name: str, tls_dir: Path
) -> None:
    scenario = load_scenario(str(SCENARIOS / f"{name}.toml"))
    half_tick = [
        v.name for v in scenario.venues if v.futures is not None and v.futures.tick_size == D("0.5")
    ]
    assert half_tick
    async with SimCluster(scenario, seed=11, tls_dir=tls_dir, clock=ManualClock()) as cluster:
        for venue in half_tick:
            async with connect_binance(cluster.endpoint(venue)) as exchange:
                await exchange.load_markets()
                best_bid = D(str((await exchange.fetch_order_book(PERP, 5))["bids"][0][0]))
                amount = math.ceil(200 / best_bid * 1000) / 1000  # above the 100 min notional
                # Before the fix: ccxt.BadRequest {"code":-4014,...} on every such venue.
                order = await exchange.create_order(
                    PERP, "limit", "sell", amount, float(best_bid), {"timeInForce": "IOC"}
                )
                assert order["status"] in ("closed", "expired"), (name, venue)
                assert D(str(order["filled"])) > 0, (name, venue)
