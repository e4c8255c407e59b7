"""The outside market of each simulated venue: mid price, external book and order flow.

The venue engine asks a :class:`MarketModel` for a :class:`MarketFrame` every tick and
rebuilds the external part of its order book from it. The model is pure and
deterministic: a frame is a function of the scenario, the venue, the market, the seed
and the scenario time only.

* The world's mid follows the scenario's path: a seeded geometric random walk, or
  real one-minute candles (open, then high or low as a seeded coin says, then the
  other, then close, piecewise linearly over the minute). Every venue shares it,
  shifted by its ``price_offset_bps``; the USD-M market adds ``futures_basis_bps``.
* The book is the real Binance L2 profile shipped in ``data/`` (1,000 levels a side),
  quantities scaled by ``depth_scale`` × stage depth × the venue's own multiplier,
  the best levels moved out to mid ∓ half the spread and the gaps between deeper
  levels multiplied by the stage's ``book_stretch``, with ±10 % seeded noise per level
  that changes every tick. Prices are rounded away from the mid onto the tick grid and
  quantities down onto the step grid.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from typing import Literal

from router.sim.paths import data_dir
from router.sim.scenario import (
    CandlePath,
    MarketFilters,
    Scenario,
    SyntheticPath,
    VenueSpec,
)

Market = Literal["spot", "linear"]
Level = tuple[Decimal, Decimal]

NOISE = 0.10
"""Each level's quantity is multiplied by a seeded factor in [1 - NOISE, 1 + NOISE)."""
CANDLE_S = 60
PROFILE_FILES: dict[Market, str] = {
    "spot": "l2-profile-spot.json",
    "linear": "l2-profile-usdm.json",
}
_LEG_S = CANDLE_S / 3
_WALK_STEP_S = 1.0
_EPS_TICKS = 1e-6
_FLOW_PLACES = Decimal("0.00000001")
_BPS = Decimal(10000)


@dataclass(frozen=True)
class MarketFrame:
    """What the rest of the market offers on one venue's market at scenario time ``t``."""

    t: Decimal
    mid: Decimal
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    sell_flow: Decimal
    buy_flow: Decimal
    stage: str


@dataclass(frozen=True)
class Conditions:
    """The schedule at one time, with the venue's own scale and multipliers applied."""

    stage: str
    depth: Decimal
    spread_bps: Decimal
    book_stretch: Decimal
    sell_flow: Decimal
    buy_flow: Decimal


@dataclass(frozen=True)
class Profile:
    """A real order book as distances from its mid (bps) and quantities, best first."""

    mid: Decimal
    bid_bps: tuple[float, ...]
    bid_qty: tuple[float, ...]
    ask_bps: tuple[float, ...]
    ask_qty: tuple[float, ...]


@dataclass(frozen=True)
class Candle:
    open_ms: int
    open: float
    high: float
    low: float
    close: float


@cache
def load_profile(market: Market) -> Profile:
    """The shipped L2 profile of a market (read once)."""
    raw = json.loads((data_dir() / PROFILE_FILES[market]).read_text(encoding="utf-8"))
    return Profile(
        mid=Decimal(raw["mid"]),
        bid_bps=tuple(float(d) for d, _ in raw["bids"]),
        bid_qty=tuple(float(q) for _, q in raw["bids"]),
        ask_bps=tuple(float(d) for d, _ in raw["asks"]),
        ask_qty=tuple(float(q) for _, q in raw["asks"]),
    )


@cache
def load_candles(file: str) -> tuple[Candle, ...]:
    """A shipped one-minute candle file (read once)."""
    with (data_dir() / file).open(newline="", encoding="utf-8") as handle:
        return tuple(
            Candle(
                open_ms=int(row["open_time"]),
                open=float(row["open"]),
                high=float(row["high"]),
                low=float(row["low"]),
                close=float(row["close"]),
            )
            for row in csv.DictReader(handle)
        )


class _Schedule:
    """Numeric columns given at increasing times, interpolated linearly, held at the ends."""

    def __init__(self, times: Sequence[Decimal], rows: Sequence[tuple[Decimal, ...]]) -> None:
        self.times = list(times)
        self.rows = list(rows)

    def at(self, t: Decimal) -> tuple[Decimal, ...]:
        i = bisect_right(self.times, t) - 1
        if i < 0:
            return self.rows[0]
        if i >= len(self.rows) - 1:
            return self.rows[-1]
        t0, t1 = self.times[i], self.times[i + 1]
        frac = (t - t0) / (t1 - t0)
        return tuple(
            a + (b - a) * frac for a, b in zip(self.rows[i], self.rows[i + 1], strict=True)
        )


def _to_decimal(value: float) -> Decimal:
    return Decimal(repr(round(value, 8)))


def _stable_int(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _SyntheticMid:
    """Seeded geometric random walk sampled every second, linear in between.

    The grid does not depend on ``tick_s``, so a seed gives the same path at any tick.
    """

    def __init__(self, path: SyntheticPath, scenario: Scenario, rng: random.Random) -> None:
        self._dt = _WALK_STEP_S
        steps = math.ceil(float(scenario.duration_s) / self._dt)
        times = [float(s.at_s) for s in scenario.stages]
        drifts = [float(s.drift_per_hour) for s in scenario.stages]
        base_drift = float(path.drift_per_hour)
        sigma = float(path.volatility_per_sqrt_hour)
        dt_h = self._dt / 3600
        shock = sigma * math.sqrt(dt_h)
        log_price = math.log(float(path.start_price))
        prices = [float(path.start_price)]
        for n in range(steps):
            mu = base_drift + _float_interp(times, drifts, n * self._dt)
            log_price += (mu - sigma * sigma / 2) * dt_h + shock * rng.gauss(0.0, 1.0)
            prices.append(math.exp(log_price))
        self._prices = prices

    def at(self, t: float) -> float:
        x = t / self._dt
        n = int(x)
        if n >= len(self._prices) - 1:
            return self._prices[-1]
        a = self._prices[n]
        return a + (self._prices[n + 1] - a) * (x - n)


def _float_interp(times: list[float], values: list[float], t: float) -> float:
    i = bisect_right(times, t) - 1
    if i < 0:
        return values[0]
    if i >= len(values) - 1:
        return values[-1]
    frac = (t - times[i]) / (times[i + 1] - times[i])
    return values[i] + (values[i + 1] - values[i]) * frac


class _CandleMid:
    """Real candles, one per 60 s: open → first extreme → other extreme → close."""

    def __init__(self, path: CandlePath, rng: random.Random) -> None:
        candles = load_candles(path.file)
        start_ms = path.start_epoch_ms()
        first = 0
        if start_ms is not None:
            # The scenario checked that start lies within the file.
            first = max(bisect_right([c.open_ms for c in candles], start_ms) - 1, 0)
        self._candles = candles[first:]
        self._legs = [
            (c.open, c.high, c.low, c.close)
            if rng.random() < 0.5
            else (c.open, c.low, c.high, c.close)
            for c in self._candles
        ]

    def at(self, t: float) -> float:
        k = int(t // CANDLE_S)
        if k >= len(self._legs):
            return self._candles[-1].close
        points = self._legs[k]
        within = t - k * CANDLE_S
        leg = min(int(within // _LEG_S), 2)
        a, b = points[leg], points[leg + 1]
        return a + (b - a) * ((within - leg * _LEG_S) / _LEG_S)


def _for_market(market: Market, spot: Decimal, futures: Decimal | None) -> Decimal:
    return futures if market == "linear" and futures is not None else spot


class MarketModel:
    """External liquidity and flow of one market (spot or USD-M) of one venue."""

    def __init__(
        self,
        scenario: Scenario,
        venue: VenueSpec,
        market: Literal["spot", "linear"],
        seed: int,
        *,
        asset: str = "",
    ) -> None:
        """``asset`` names a synthetic asset (``Scenario.extra_assets``): the same mid path
        and stages as the base asset, its own per-level noise."""
        filters = venue.spot if market == "spot" else venue.futures
        if filters is None:
            raise ValueError(f"venue {venue.name!r} has no futures market")
        self.scenario = scenario
        self.venue = venue
        self.market = market
        self.filters: MarketFilters = filters
        world = random.Random(f"{seed}|{scenario.name}")
        path = scenario.path
        self._path = (
            _SyntheticMid(path, scenario, world)
            if isinstance(path, SyntheticPath)
            else _CandleMid(path, world)
        )
        offset = venue.price_offset_bps
        if market == "linear":
            offset += scenario.futures_basis_bps
        self._price_factor = float(1 + offset / _BPS)
        self._stages = _Schedule(
            [s.at_s for s in scenario.stages],
            [
                (
                    _for_market(market, s.depth, s.futures_depth),
                    _for_market(market, s.spread_bps, s.futures_spread_bps),
                    s.book_stretch,
                    s.sell_flow,
                    s.buy_flow,
                )
                for s in scenario.stages
            ],
        )
        self._labels = [s.label for s in scenario.stages]
        points = venue.stage_multipliers
        self._multipliers = _Schedule(
            [p.at_s for p in points] or [Decimal(0)],
            [(p.depth, p.spread) for p in points] or [(Decimal(1), Decimal(1))],
        )
        profile = load_profile(market)
        self._bid_rel = [d - profile.bid_bps[0] for d in profile.bid_bps]
        self._ask_rel = [d - profile.ask_bps[0] for d in profile.ask_bps]
        self._bid_qty = profile.bid_qty
        self._ask_qty = profile.ask_qty
        self._tick = filters.tick_size
        self._step = filters.step_size
        self._tick_f = float(filters.tick_size)
        self._step_f = float(filters.step_size)
        self._min_ticks = math.ceil(filters.min_price / filters.tick_size)
        self._max_ticks = math.floor(filters.max_price / filters.tick_size)
        self._noise_base = _stable_int(seed, venue.name, market, *([asset] if asset else []))
        self._noise_tick = -1
        self._noisy_bids: list[float] = []
        self._noisy_asks: list[float] = []

    def world_mid(self, t: Decimal) -> Decimal:
        """The shared price of the world before any venue offset or futures basis."""
        return _to_decimal(self._path.at(float(max(t, Decimal(0)))))

    def mid(self, t: Decimal) -> Decimal:
        """This venue's mid for this market: the world's, with offset (and basis for USD-M)."""
        return _to_decimal(self._mid_f(t))

    def _mid_f(self, t: Decimal) -> float:
        return self._path.at(float(max(t, Decimal(0)))) * self._price_factor

    def conditions(self, t: Decimal) -> Conditions:
        """Stage values at ``t`` for this venue: scaled depth and flows, total spread."""
        depth, spread, stretch, sell, buy = self._stages.at(t)
        depth_mult, spread_mult = self._multipliers.at(t)
        label = self._labels[max(bisect_right(self._stages.times, t) - 1, 0)]
        scale = self.venue.depth_scale
        return Conditions(
            stage=label,
            depth=scale * depth * depth_mult,
            spread_bps=spread * spread_mult + self.venue.spread_extra_bps,
            book_stretch=stretch,
            sell_flow=(sell * scale).quantize(_FLOW_PLACES),
            buy_flow=(buy * scale).quantize(_FLOW_PLACES),
        )

    def frame(self, t: Decimal) -> MarketFrame:
        """The outside market at scenario time ``t`` (times before 0 count as 0)."""
        now = max(t, Decimal(0))
        cond = self.conditions(now)
        mid_f = self._mid_f(now)
        self._refresh_noise(int((now / self.scenario.tick_s).to_integral_value(ROUND_FLOOR)))
        mid_ticks = mid_f / self._tick_f
        half = float(cond.spread_bps) / 2
        stretch = float(cond.book_stretch)
        qty_scale = float(cond.depth) / self._step_f
        bids = self._side(mid_ticks, half, stretch, qty_scale, is_bid=True)
        floor = next(iter(bids)) + 1 if bids else None
        asks = self._side(mid_ticks, half, stretch, qty_scale, is_bid=False, above=floor)
        return MarketFrame(
            t=t,
            mid=_to_decimal(mid_f),
            bids=self._to_levels(bids),
            asks=self._to_levels(asks),
            sell_flow=cond.sell_flow,
            buy_flow=cond.buy_flow,
            stage=cond.stage,
        )

    def _refresh_noise(self, tick_index: int) -> None:
        """Per-level noisy quantities for one tick, kept until the tick changes."""
        if tick_index == self._noise_tick:
            return
        rng = random.Random((self._noise_base << 40) ^ tick_index)
        low, width = 1 - NOISE, 2 * NOISE
        rand = rng.random
        self._noisy_bids = [q * (low + width * rand()) for q in self._bid_qty]
        self._noisy_asks = [q * (low + width * rand()) for q in self._ask_qty]
        self._noise_tick = tick_index

    def _side(
        self,
        mid_ticks: float,
        half_bps: float,
        stretch: float,
        qty_scale: float,
        *,
        is_bid: bool,
        above: int | None = None,
    ) -> dict[int, int]:
        """Quantity in steps by price in ticks, best first, merged, zero levels dropped."""
        per_bps = mid_ticks * 1e-4
        gap = per_bps * stretch
        steps = [int(q * qty_scale) for q in (self._noisy_bids if is_bid else self._noisy_asks)]
        if is_bid:
            top = mid_ticks - per_bps * half_bps + _EPS_TICKS
            ticks = [math.floor(top - gap * r) for r in self._bid_rel]
        else:
            top = mid_ticks + per_bps * half_bps - _EPS_TICKS
            ticks = [math.ceil(top + gap * r) for r in self._ask_rel]
            if above is not None and ticks[0] < above:
                ticks = [tk if tk >= above else above for tk in ticks]
        merged: dict[int, int] = {}
        get = merged.get
        for tk, qty in zip(ticks, steps, strict=True):
            if qty > 0:
                merged[tk] = get(tk, 0) + qty
        low, high = self._min_ticks, self._max_ticks
        if merged and not (low <= min(ticks) and max(ticks) <= high):
            merged = {tk: q for tk, q in merged.items() if low <= tk <= high}
        return merged

    def _to_levels(self, levels: dict[int, int]) -> tuple[Level, ...]:
        prices = map(self._tick.__mul__, levels)
        return tuple(zip(prices, map(self._step.__mul__, levels.values()), strict=True))
