"""``router bench speed``: a smoke run of every figure, and the simulator's extra assets."""

from __future__ import annotations

import json
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.bench.cli import bench_app
from router.bench.speed_world import calm_world, scenario_toml
from router.harness.connect import connect_binance
from router.sim.clock import ManualClock, wall_ms
from router.sim.errors import ApiError
from router.sim.orders import Order
from router.sim.scenario import Scenario, ScenarioError, parse_scenario
from router.sim.server import SimCluster
from router.sim.venue import SimVenue
from tests.sim.conftest import small_world

FIGURES = [
    "plan_allocate_median_ms",
    "plan_allocate_p99_ms",
    "plan_oracle_median_ms",
    "plan_oracle_p99_ms",
    *(
        f"first_wave_{venues}v{suffix}_{what}"
        for venues in (3, 10)
        for suffix in ("", "_unthrottled")
        for what in ("median_ms", "p99_ms", "orders")
    ),
    *(
        f"journal_{db}_{what}"
        for db in ("sqlite", "postgresql")
        for what in (
            "intent_median_ms",
            "intent_p99_ms",
            "attempt_median_ms",
            "attempt_p99_ms",
            "concurrent_attempts_per_s",
        )
    ),
    *(
        f"burst{suffix}_{what}"
        for suffix in ("", "_unthrottled")
        for what in ("all_out_s", "close_median_ms", "close_p99_ms", "cpu_s")
    ),
    *(
        f"overhead{suffix}_{what}"
        for suffix in ("", "_unthrottled")
        for what in (
            "share_pct",
            "time_to_flat_median_ms",
            "time_to_flat_p99_ms",
            "cpu_per_close_ms",
        )
    ),
]


@pytest.mark.timeout(300)
def test_quick_run_prints_every_figure() -> None:
    result = CliRunner().invoke(bench_app, ["speed", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert sorted(figures) == sorted(FIGURES)
    for key, value in figures.items():
        assert isinstance(value, int | float), key
        assert math.isfinite(value), key
        assert value > 0, key


def _venue(scenario: Scenario) -> SimVenue:
    return SimVenue(scenario, scenario.venues[0], seed=1, clock=ManualClock(), wall_ms=wall_ms)


def _sell(venue: SimVenue, symbol: str, quantity: str) -> Order:
    params = {
        "symbol": symbol,
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "IOC",
        "quantity": quantity,
        "price": "50000",
    }
    return venue.new_order("spot", venue.parse_order("spot", params))


def test_extra_assets_are_named_and_mirror_the_base_balance() -> None:
    scenario = small_world(extra_assets=3)
    venue = _venue(scenario)
    assert scenario.extra_asset_names() == ["A01", "A02", "A03"]
    assert sorted(venue.asset_markets) == ["A01USDT", "A02USDT", "A03USDT"]
    assert [m.rules.symbol for m in venue.spot_markets()] == [
        "BTCUSDT",
        "A01USDT",
        "A02USDT",
        "A03USDT",
    ]
    for asset in ("A01", "A02", "A03"):
        assert venue.spot.get(asset).free == venue.spot.get("BTC").free == Decimal(5)
    assert venue.asset_markets["A01USDT"].book.bids.best() is not None


def test_without_extra_assets_the_venue_is_unchanged() -> None:
    venue = _venue(small_world())
    assert venue.asset_markets == {}
    assert set(venue.spot.balances) == {"BTC", "USDT"}
    with pytest.raises(ApiError):
        venue.market("spot", "A01USDT")


def test_an_extra_asset_trades_independently_of_btc() -> None:
    venue = _venue(small_world(extra_assets=1))
    btc_book = venue.markets["spot"].book.bids.levels(20)
    order = _sell(venue, "A01USDT", "1.5")
    assert order.status == "FILLED"
    assert venue.spot.get("A01").free == Decimal("3.5")
    assert venue.spot.get("BTC").free == Decimal(5)
    assert venue.markets["spot"].book.bids.levels(20) == btc_book
    assert venue.asset_markets["A01USDT"].book.bids.levels(20) != btc_book
    assert {t.symbol for t in venue.trades} == {"A01USDT"}
    with pytest.raises(ApiError):
        venue.market("linear", "A01USDT")


def test_order_listeners_see_each_accepted_order() -> None:
    venue = _venue(small_world(extra_assets=1))
    seen: list[str] = []
    venue.order_listeners.append(lambda order: seen.append(order.symbol))
    _sell(venue, "BTCUSDT", "0.1")
    _sell(venue, "A01USDT", "0.1")
    assert seen == ["BTCUSDT", "A01USDT"]


def test_extra_asset_names_may_not_clash() -> None:
    with pytest.raises(ScenarioError, match="extra_assets"):
        small_world(extra_assets=2, base_asset="A02")


async def test_ccxt_trades_an_extra_asset_without_touching_btc(tmp_path: Path) -> None:
    scenario = small_world(extra_assets=2)
    async with (
        SimCluster(scenario, seed=5, tls_dir=tmp_path / "tls", clock=ManualClock()) as cluster,
        connect_binance(cluster.endpoint("alpha")) as exchange,
    ):
        await exchange.load_markets()
        assert {"BTC/USDT", "A01/USDT", "A02/USDT"} <= set(exchange.markets)
        btc_book = await exchange.fetch_order_book("BTC/USDT", 20)
        order = await exchange.create_order(
            "A01/USDT", "limit", "sell", 2, 50_000, {"timeInForce": "IOC"}
        )
        assert order["filled"] == 2
        balance = await exchange.fetch_balance()
        assert balance["A01"]["free"] == 3
        assert balance["A02"]["free"] == 5
        assert balance["BTC"]["free"] == 5
        after = await exchange.fetch_order_book("BTC/USDT", 20)
        assert after["bids"] == btc_book["bids"]
        assert all(t.symbol == "A01USDT" for t in cluster.venue("alpha").trades)


def test_benchmark_scenarios_round_trip_through_toml() -> None:
    scenario = calm_world(10, extra_assets=4, frozen=True)
    assert [v.name for v in scenario.venues][:4] == ["alpha", "bravo", "charlie", "alpha2"]
    assert all(v.latency_ms == 0 for v in scenario.venues)
    parsed = parse_scenario(tomllib.loads(scenario_toml(scenario)))
    assert parsed == scenario
