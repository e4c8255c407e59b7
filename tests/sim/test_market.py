"""The simulated outside market: mid paths, real-profile books, stages, determinism."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.sim.market import MarketFrame, MarketModel, load_candles, load_profile
from router.sim.scenario import Scenario, ScenarioError, parse_scenario

D = Decimal


def _venue(name: str = "alpha", **overrides: Any) -> dict[str, Any]:
    return {"name": name, **overrides}


def _scenario(**overrides: Any) -> Scenario:
    raw: dict[str, Any] = {
        "name": "unit",
        "duration_s": "600",
        "tick_s": "0.25",
        "path": {"kind": "synthetic", "start_price": "60000", "volatility_per_sqrt_hour": "0.02"},
        "stages": [
            {"at_s": "0", "label": "normal", "depth": "1", "spread_bps": "2", "sell_flow": "0.1"},
            {
                "at_s": "100",
                "label": "panic",
                "depth": "0.5",
                "spread_bps": "22",
                "book_stretch": "11",
                "sell_flow": "0.5",
                "buy_flow": "0.2",
            },
            {"at_s": "200", "label": "exhaustion", "depth": "0.05", "spread_bps": "200"},
        ],
        "venues": [_venue()],
    }
    raw.update(overrides)
    return parse_scenario(raw)


def _model(scenario: Scenario | None = None, market: str = "spot", seed: int = 7) -> MarketModel:
    sc = scenario or _scenario()
    return MarketModel(sc, sc.venues[0], "spot" if market == "spot" else "linear", seed)


def _total(levels: tuple[tuple[Decimal, Decimal], ...]) -> Decimal:
    return sum((q for _, q in levels), D(0))


def _assert_well_formed(frame: MarketFrame, tick: Decimal, step: Decimal) -> None:
    bid_prices = [p for p, _ in frame.bids]
    ask_prices = [p for p, _ in frame.asks]
    assert bid_prices == sorted(bid_prices, reverse=True)
    assert ask_prices == sorted(ask_prices)
    assert len(set(bid_prices)) == len(bid_prices)
    assert len(set(ask_prices)) == len(ask_prices)
    if frame.bids and frame.asks:
        assert frame.bids[0][0] < frame.mid < frame.asks[0][0]
    for price, qty in frame.bids + frame.asks:
        assert isinstance(price, Decimal)
        assert isinstance(qty, Decimal)
        assert price > 0
        assert qty > 0
        assert price % tick == 0
        assert qty % step == 0


class TestDeterminism:
    def test_same_seed_gives_identical_frames_in_any_call_order(self) -> None:
        times = [D("0"), D("12.5"), D("99.75"), D("150"), D("420.25")]
        first = _model()
        forward = [first.frame(t) for t in times]
        second = _model()
        backward = [second.frame(t) for t in reversed(times)]
        assert forward == list(reversed(backward))

    def test_different_seed_gives_a_different_synthetic_path(self) -> None:
        times = [D(t) for t in range(30, 600, 30)]
        a = [_model(seed=1).mid(t) for t in times]
        b = [_model(seed=2).mid(t) for t in times]
        assert a != b
        assert _model(seed=1).mid(D(0)) == _model(seed=2).mid(D(0)) == D("60000")

    def test_venues_share_the_world_price_and_apply_their_offset(self) -> None:
        sc = _scenario(venues=[_venue("alpha"), _venue("bravo", price_offset_bps="10")])
        alpha = MarketModel(sc, sc.venues[0], "spot", 3)
        bravo = MarketModel(sc, sc.venues[1], "spot", 3)
        for t in (D(0), D("77.5"), D(300)):
            assert alpha.world_mid(t) == bravo.world_mid(t) == alpha.mid(t)
            assert bravo.mid(t) / alpha.mid(t) == pytest.approx(D("1.001"), abs=D("1e-10"))

    def test_book_noise_depends_on_venue_and_tick_but_not_within_a_tick(self) -> None:
        sc = _scenario(venues=[_venue("alpha"), _venue("bravo")])
        alpha = MarketModel(sc, sc.venues[0], "spot", 3)
        bravo = MarketModel(sc, sc.venues[1], "spot", 3)

        # Totals do not depend on how the moving mid merges levels onto the tick grid.
        def totals(frame: MarketFrame) -> tuple[Decimal, Decimal]:
            return _total(frame.bids), _total(frame.asks)

        assert totals(alpha.frame(D(300))) != totals(bravo.frame(D(300)))
        assert totals(alpha.frame(D(300))) != totals(alpha.frame(D("300.25")))
        assert totals(alpha.frame(D(300))) == totals(alpha.frame(D("300.2")))

    def test_noise_stays_within_ten_percent(self) -> None:
        profile = load_profile("spot")
        frame = _model(_scenario(stages=[{"at_s": "0", "spread_bps": "2"}])).frame(D(0))
        ratio = frame.bids[0][1] / D(repr(profile.bid_qty[0]))
        assert D("0.9") <= ratio < D("1.1")


class TestCandles:
    FILE = "BTCUSDT-1m-2020-03-12_13.csv"
    START = "2020-03-12T23:00:00Z"

    def _candle_scenario(self, start: str | None = START) -> Scenario:
        path: dict[str, Any] = {"kind": "candles", "file": self.FILE}
        if start is not None:
            path["start"] = start
        return _scenario(path=path, duration_s="3600")

    def _first_index(self) -> int:
        candles = load_candles(self.FILE)
        return next(i for i, c in enumerate(candles) if c.open_ms == 1584054000000)

    def test_mid_at_each_minute_is_that_candles_open(self) -> None:
        model = _model(self._candle_scenario())
        candles = load_candles(self.FILE)[self._first_index() :]
        for k in range(0, 60):
            assert model.mid(D(60 * k)) == D(repr(candles[k].open))
        assert model.mid(D(0)) == D("5797.56")

    def test_highs_and_lows_are_visited_within_each_minute(self) -> None:
        model = _model(self._candle_scenario())
        candles = load_candles(self.FILE)[self._first_index() :]
        for k in range(0, 30):
            mids = [model.mid(D(60 * k) + D(s) / 4) for s in range(0, 240)]
            assert max(mids) == D(repr(candles[k].high))
            assert min(mids) == D(repr(candles[k].low))

    def test_without_start_the_path_begins_at_the_first_candle(self) -> None:
        model = _model(self._candle_scenario(start=None))
        assert model.mid(D(0)) == D(repr(load_candles(self.FILE)[0].open))

    def test_beyond_the_data_the_last_close_holds(self) -> None:
        model = _model(self._candle_scenario(start=None))
        last = D(repr(load_candles(self.FILE)[-1].close))
        assert model.mid(D(60 * 2880)) == last
        assert model.mid(D(10**7)) == last

    def test_a_start_outside_the_file_is_a_scenario_error(self) -> None:
        with pytest.raises(ScenarioError, match=r"path\.candles: .*start: 2021"):
            self._candle_scenario(start="2021-01-01T00:00:00Z")

    def test_a_start_within_a_minute_uses_the_candle_containing_it(self) -> None:
        model = _model(self._candle_scenario(start="2020-03-12T23:00:30+00:00"))
        assert model.mid(D(0)) == D("5797.56")


class TestBook:
    def test_levels_are_sorted_uncrossed_and_on_the_venue_grids(self) -> None:
        sc = _scenario(
            venues=[
                _venue(
                    spot={"tick_size": "0.5", "step_size": "0.001"},
                    futures={"tick_size": "0.1", "step_size": "0.001"},
                )
            ]
        )
        for t in (D(0), D(150), D(400)):
            _assert_well_formed(_model(sc).frame(t), D("0.5"), D("0.001"))
            _assert_well_formed(_model(sc, "linear").frame(t), D("0.1"), D("0.001"))

    def test_at_full_depth_the_book_is_the_real_profile(self) -> None:
        profile = load_profile("spot")
        frame = _model(_scenario(stages=[{"at_s": "0", "spread_bps": "1"}])).frame(D(0))
        assert len(frame.bids) > 950
        assert _total(frame.bids) == pytest.approx(D(repr(sum(profile.bid_qty))), rel=D("0.02"))
        assert _total(frame.asks) == pytest.approx(D(repr(sum(profile.ask_qty))), rel=D("0.02"))

    def test_quantities_scale_with_venue_and_stage_depth(self) -> None:
        one = _model(_scenario(venues=[_venue()])).frame(D(0))
        two = _model(_scenario(venues=[_venue(depth_scale="2")])).frame(D(0))
        half = _model().frame(D(100))
        assert _total(two.bids) / _total(one.bids) == pytest.approx(D(2), rel=D("0.001"))
        assert _total(half.bids) / _total(one.bids) == pytest.approx(D("0.5"), rel=D("0.05"))

    def test_spread_is_honoured_and_rounded_away_from_the_mid(self) -> None:
        sc = _scenario(venues=[_venue(spread_extra_bps="3")])
        model = _model(sc)
        for t, spread in ((D(0), D(5)), (D(100), D(25)), (D(200), D(203))):
            frame = model.frame(t)
            best_bid, best_ask = frame.bids[0][0], frame.asks[0][0]
            half = frame.mid * spread / 2 / 10000
            assert frame.mid - best_bid >= half
            assert best_ask - frame.mid >= half
            assert best_ask - best_bid < 2 * half + D("0.5")

    def test_stretch_widens_the_gaps_between_levels(self) -> None:
        flat = [{"at_s": "0", "spread_bps": "10"}]
        wide = [{"at_s": "0", "spread_bps": "10", "book_stretch": "10"}]
        a = _model(_scenario(stages=flat)).frame(D(0))
        b = _model(_scenario(stages=wide)).frame(D(0))
        reach_a = a.bids[0][0] - a.bids[-1][0]
        reach_b = b.bids[0][0] - b.bids[-1][0]
        assert reach_b / reach_a == pytest.approx(D(10), rel=D("0.01"))

    def test_bids_below_the_minimum_price_are_dropped(self) -> None:
        stages = [{"at_s": "0", "spread_bps": "10", "book_stretch": "400"}]
        sc = _scenario(stages=stages, venues=[_venue(spot={"min_price": "40000"})])
        frame = _model(sc).frame(D(0))
        assert frame.bids
        assert frame.bids[-1][0] >= D(40000)
        assert len(frame.bids) < 900

    def test_zero_depth_empties_the_book(self) -> None:
        frame = _model(_scenario(stages=[{"at_s": "0", "depth": "0"}])).frame(D(5))
        assert frame.bids == ()
        assert frame.asks == ()

    def test_linear_uses_the_usdm_profile_and_the_futures_basis(self) -> None:
        sc = _scenario(futures_basis_bps="-20")
        spot, linear = _model(sc), _model(sc, "linear")
        for t in (D(0), D("33.3"), D(500)):
            assert linear.mid(t) / spot.mid(t) == pytest.approx(D("0.998"), abs=D("1e-10"))
        usdm = load_profile("linear")
        total = _total(linear.frame(D(0)).bids)
        assert total == pytest.approx(D(repr(sum(usdm.bid_qty))), rel=D("0.03"))

    def test_default_futures_basis_is_two_bps_up(self) -> None:
        assert _model(market="linear").mid(D(0)) == D("60012")

    def test_a_venue_without_futures_has_no_linear_model(self) -> None:
        sc = _scenario(venues=[_venue(futures=False)])
        with pytest.raises(ValueError, match="no futures"):
            MarketModel(sc, sc.venues[0], "linear", 1)


class TestStages:
    def test_values_interpolate_linearly_between_stages(self) -> None:
        model = _model()
        mid_way = model.conditions(D(50))
        assert mid_way.depth == D("0.75")
        assert mid_way.spread_bps == D(12)
        assert mid_way.book_stretch == D(6)
        assert mid_way.sell_flow == D("0.3")
        assert mid_way.buy_flow == D("0.1")
        assert mid_way.stage == "normal"
        assert model.conditions(D(150)).depth == D("0.275")
        assert model.conditions(D(100)).stage == "panic"

    def test_the_last_stage_holds_beyond_it(self) -> None:
        model = _model()
        for t in (D(200), D(599), D(10**6)):
            cond = model.conditions(t)
            assert (cond.stage, cond.depth, cond.spread_bps) == ("exhaustion", D("0.05"), D(200))

    def test_frames_carry_the_stage_and_venue_scaled_flows(self) -> None:
        sc = _scenario(venues=[_venue(depth_scale="2")])
        frame = _model(sc).frame(D(50))
        assert (frame.stage, frame.sell_flow, frame.buy_flow) == ("normal", D("0.6"), D("0.2"))

    def test_venue_multipliers_apply_on_top_of_the_stages(self) -> None:
        points = [{"at_s": "0"}, {"at_s": "100", "depth": "0.5", "spread": "3"}]
        sc = _scenario(venues=[_venue(depth_scale="2", stage_multipliers=points)])
        cond = _model(sc).conditions(D(100))
        assert cond.depth == D("0.5")
        assert cond.spread_bps == D(66)

    def test_stage_drift_moves_a_synthetic_path(self) -> None:
        calm = _scenario(path={"kind": "synthetic", "volatility_per_sqrt_hour": "0"})
        falling = _scenario(
            path={"kind": "synthetic", "volatility_per_sqrt_hour": "0"},
            stages=[{"at_s": "0", "drift_per_hour": "-1"}],
        )
        assert _model(calm).mid(D(360)) == D(60000)
        assert _model(falling).mid(D(360)) == pytest.approx(
            D(60000) * D("-0.1").exp(), rel=D("1e-9")
        )


@settings(max_examples=60, deadline=None)
@given(
    quarter_seconds=st.integers(min_value=0, max_value=4 * 700),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_frame_is_well_formed(quarter_seconds: int, seed: int) -> None:
    sc = _scenario(
        venues=[_venue(spot={"tick_size": "0.1", "step_size": "0.0001"}, price_offset_bps="-7")]
    )
    t = D(quarter_seconds) / 4
    frame = _model(sc, seed=seed).frame(t)
    assert frame.t == t
    assert frame.mid == _model(sc, seed=seed).mid(t)
    _assert_well_formed(frame, D("0.1"), D("0.0001"))
    linear = _model(sc, "linear", seed=seed).frame(t)
    _assert_well_formed(linear, D("0.1"), D("0.001"))
