"""The shipped scenario files: they load, reject mistakes by key, and reach their crises."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router.sim.market import MarketFrame, MarketModel
from router.sim.paths import repo_root
from router.sim.scenario import Scenario, ScenarioError, load_scenario

D = Decimal
SCENARIOS = repo_root() / "config" / "scenarios"
SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.toml"))
CRISES = ("black-thursday-2020", "exhaustion", "ftx-2022", "venue-outage")
SEED = 11


def _load(name: str) -> Scenario:
    return load_scenario(str(SCENARIOS / f"{name}.toml"))


def _spot_models(scenario: Scenario) -> list[MarketModel]:
    return [MarketModel(scenario, venue, "spot", SEED) for venue in scenario.venues]


def _top10_bids(models: list[MarketModel], t: Decimal) -> Decimal:
    """Consolidated bid quantity of the ten best levels of every venue (the liquidity score)."""
    return sum((q for m in models for _, q in m.frame(t).bids[:10]), D(0))


def _sell_cost_bps(frame: MarketFrame, qty: Decimal) -> Decimal | None:
    """Slippage from the mid of a market sell of ``qty``; None when the book is too thin."""
    left, proceeds = qty, D(0)
    for price, available in frame.bids:
        take = min(left, available)
        proceeds += take * price
        left -= take
        if left == 0:
            return (1 - proceeds / qty / frame.mid) * 10000
    return None


def test_all_five_scenarios_ship() -> None:
    assert set(SHIPPED) >= {"calm", *CRISES}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_loads_and_builds_every_market(name: str) -> None:
    scenario = _load(name)
    assert scenario.name == name
    assert len(scenario.venues) == 3
    assert sum(1 for v in scenario.venues if v.futures is not None) >= 2
    for attribute in ("depth_scale", "spread_extra_bps", "latency_ms", "balances"):
        assert len({str(getattr(v, attribute)) for v in scenario.venues}) == 3, attribute
    assert len({(v.spot.tick_size, v.spot.step_size) for v in scenario.venues}) > 1
    assert len({v.spot.taker_fee for v in scenario.venues}) > 1
    for venue in scenario.venues:
        assert D(2) <= venue.balances["BTC"] <= D(10)
        assert venue.balances["USDT"] > 0
        markets = ("spot", "linear") if venue.futures is not None else ("spot",)
        for market in markets:
            model = MarketModel(scenario, venue, "spot" if market == "spot" else "linear", SEED)
            for t in (D(0), scenario.duration_s / 2, scenario.duration_s):
                frame = model.frame(t)
                assert frame.bids
                assert frame.asks
                assert frame.bids[0][0] < frame.asks[0][0]
    for fault in scenario.faults:
        assert fault.end_s is None or fault.start_s < fault.end_s <= scenario.duration_s


@pytest.mark.parametrize("name", CRISES)
def test_crises_replay_thirty_minutes_in_about_thirty_seconds(name: str) -> None:
    scenario = _load(name)
    assert scenario.speed == 60
    assert scenario.tick_s in (D("0.25"), D("0.5"))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "x"\n[[venues]]\nname = "a"\ndepht_scale = "2"\n', "venues.0.depht_scale"),
        ('name = "x"\n[[venues]]\nname = "a"\n[venues.spot]\ntick_size = "0"\n', "tick_size"),
        ('name = "x"\n[[stages]]\nat_s = "0"\ndepth = "-1"\n[[venues]]\nname = "a"\n', "depth"),
        ('name = "x"\nvenues = []\n', "venues"),
        (
            'name = "x"\n[path]\nkind = "candles"\nfile = "nope.csv"\n[[venues]]\nname = "a"\n',
            "path.candles.file",
        ),
        (
            'name = "x"\n[path]\nkind = "candles"\nfile = "BTCUSDT-1m-2020-03-12_13.csv"\n'
            'start = "yesterday"\n[[venues]]\nname = "a"\n',
            "path.candles.start",
        ),
        (
            'name = "x"\n[path]\nkind = "candles"\nfile = "BTCUSDT-1m-2022-11-08_09.csv"\n'
            'start = "2022-11-10T00:00:00Z"\n[[venues]]\nname = "a"\n',
            "start: 2022-11-10T00:00:00Z is outside",
        ),
        (
            'name = "x"\n[[venues]]\nname = "a"\n[[faults]]\nkind = "outage"\nvenue = "b"\n',
            "faults",
        ),
        (
            'name = "x"\n[[venues]]\nname = "a"\n[[venues.stage_multipliers]]\nat_s = "9"\n'
            '[[venues.stage_multipliers]]\nat_s = "1"\n',
            "stage_multipliers",
        ),
        ('name = "x"\n[[venues]\n', "invalid TOML"),
    ],
)
def test_invalid_files_name_the_offending_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert "broken.toml" in str(info.value)
    assert key in str(info.value)


def test_futures_false_disables_the_market_and_a_table_keeps_usdm_defaults(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text(
        'name = "f"\n[[venues]]\nname = "a"\nfutures = false\n'
        '[[venues]]\nname = "b"\n[venues.futures]\ntaker_fee = "0.0004"\n',
        encoding="utf-8",
    )
    scenario = load_scenario(str(path))
    assert scenario.venues[0].futures is None
    futures = scenario.venues[1].futures
    assert futures is not None
    assert (futures.taker_fee, futures.tick_size, futures.min_notional) == (
        D("0.0004"),
        D("0.1"),
        D(100),
    )


@pytest.mark.parametrize("name", ["exhaustion", "black-thursday-2020"])
def test_crises_get_deep_into_exhaustion(name: str) -> None:
    scenario = _load(name)
    models = _spot_models(scenario)
    start = _top10_bids(models, D(0))
    worst = min(_top10_bids(models, D(t)) for t in range(0, int(scenario.duration_s) + 1, 30))
    assert worst < start / 10


def test_exhaustion_walks_the_seeds_three_stages() -> None:
    scenario = _load("exhaustion")
    alpha = _spot_models(scenario)[0]
    normal = alpha.conditions(D(0)).depth
    exhausted = [t for t in range(0, 1801, 10) if alpha.conditions(D(t)).depth < normal / 20]
    assert exhausted[-1] - exhausted[0] >= 300
    assert {alpha.conditions(D(t)).stage for t in exhausted} == {"exhaustion"}
    panic = _sell_cost_bps(alpha.frame(D(600)), D(8))
    assert panic is not None
    assert D(100) <= panic <= D(500)
    assert _sell_cost_bps(alpha.frame(D(1000)), D(8)) is None
    collapse = alpha.frame(D(1500))
    assert collapse.stage == "collapse"
    assert _top10_bids([alpha], D(1500)) > 4 * _top10_bids([alpha], D(1000))
    assert collapse.mid < alpha.mid(D(0)) * D("0.8")


def test_black_thursday_matches_the_published_figures() -> None:
    scenario = _load("black-thursday-2020")
    models = _spot_models(scenario)
    opening = [_sell_cost_bps(m.frame(D(0)), D(25)) for m in models]
    assert all(cost is not None for cost in opening)
    mean = sum(cost for cost in opening if cost is not None) / len(opening)
    assert D(150) <= mean <= D(250)
    for t in (D(1800), D(11700)):
        for model in models:
            cost = _sell_cost_bps(model.frame(t), D(25))
            assert cost is None or cost > 700
    charlie = scenario.venue("charlie")
    worst = MarketModel(scenario, charlie, "spot", SEED).frame(D(11700))
    spread_bps = (worst.asks[0][0] - worst.bids[0][0]) / worst.mid * 10000
    assert D(900) <= spread_bps <= D(1200)
    outage = next(f for f in scenario.faults if f.kind == "outage")
    assert (outage.venue, outage.start_s, outage.end_s) == ("charlie", D(11760), D(13200))
    assert models[0].mid(D(11760)) < D(3900)
    assert min(m.conditions(scenario.duration_s).spread_bps for m in models) > 20


def test_ftx_depth_falls_by_each_venues_published_share() -> None:
    scenario = _load("ftx-2022")
    trough = D(9000)
    drops = {}
    for model in _spot_models(scenario):
        before = model.conditions(D(0)).depth
        drops[model.venue.name] = 1 - model.conditions(trough).depth / before
    assert drops["alpha"] == pytest.approx(D("0.25"), abs=D("0.01"))
    assert drops["bravo"] == pytest.approx(D("0.32"), abs=D("0.01"))
    assert drops["charlie"] == pytest.approx(D("0.57"), abs=D("0.01"))


def test_venue_outage_has_an_outage_and_a_rate_limit_on_different_venues() -> None:
    scenario = _load("venue-outage")
    kinds = {f.kind: f for f in scenario.faults}
    outage, limit = kinds["outage"], kinds["rate_limit"]
    assert outage.venue != limit.venue
    assert "*" not in (outage.venue, limit.venue)
    assert outage.end_s is not None
    assert 60 <= outage.end_s - outage.start_s <= 600
    assert limit.retry_after_s >= 1
    crisis = MarketModel(scenario, scenario.venue(outage.venue), "spot", SEED)
    assert crisis.conditions(outage.start_s + 120).depth < D("0.5")
