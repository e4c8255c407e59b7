"""Scenario files: the simulated world's market, venues, accounts and faults.

A scenario is a TOML file validated here. It names a mid-price path (synthetic or
real one-minute candles), a schedule of depth, spread and order flow over scenario
time (the seed's panic / exhaustion / collapse stages), the venues with their fees,
filters, balances and latency, and the faults to inject. See docs/scenarios.md.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from router.sim.paths import data_dir, scenario_dir

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0)]


class ScenarioError(ValueError):
    """A scenario file is missing or invalid: fix the file named in the message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticPath(_Strict):
    """A seeded geometric random walk with optional drift, in scenario time."""

    kind: Literal["synthetic"] = "synthetic"
    start_price: PositiveDecimal = Decimal("60000")
    drift_per_hour: Decimal = Decimal("0")
    volatility_per_sqrt_hour: NonNegativeDecimal = Decimal("0.005")


class CandlePath(_Strict):
    """Real one-minute candles; one candle per 60 scenario seconds."""

    kind: Literal["candles"] = "candles"
    file: str
    start: str | None = Field(
        default=None, description="ISO-8601 UTC time of the first candle used; default the first"
    )

    @field_validator("file")
    @classmethod
    def _shipped_file(cls, value: str) -> str:
        known = sorted(p.name for p in data_dir().glob("*.csv"))
        if value not in known:
            raise ValueError(f"no candle file {value!r} ships with the simulator; known: {known}")
        return value

    @field_validator("start")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_utc(value)
        return value

    @model_validator(mode="after")
    def _start_in_file(self) -> CandlePath:
        start = self.start_epoch_ms()
        if start is not None:
            first, last = _candle_span_ms(self.file)
            if not first <= start < last + 60_000:
                raise ValueError(f"start: {self.start} is outside {self.file}")
        return self

    def start_epoch_ms(self) -> int | None:
        """``start`` as Unix epoch milliseconds (UTC), or None for the file's first candle."""
        if self.start is None:
            return None
        return int(_parse_utc(self.start).timestamp() * 1000)


@cache
def _candle_span_ms(file: str) -> tuple[int, int]:
    """Open times (epoch ms) of the first and last candle of a shipped file."""
    lines = (data_dir() / file).read_text(encoding="utf-8").split()
    return int(lines[1].split(",", 1)[0]), int(lines[-1].split(",", 1)[0])


def _parse_utc(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class Stage(_Strict):
    """A point of the market-condition schedule; values are interpolated linearly."""

    at_s: NonNegativeDecimal
    label: str = ""
    depth: NonNegativeDecimal = Decimal("1")
    spread_bps: NonNegativeDecimal = Decimal("1")
    sell_flow: NonNegativeDecimal = Field(
        default=Decimal("0"), description="base quantity other sellers dump per scenario second"
    )
    buy_flow: NonNegativeDecimal = Field(
        default=Decimal("0"), description="base quantity other buyers take per scenario second"
    )
    book_stretch: PositiveDecimal = Field(
        default=Decimal("1"),
        description="multiplier on the gaps between the real profile's levels beyond the best",
    )
    drift_per_hour: Decimal = Field(
        default=Decimal("0"), description="added to a synthetic path's drift while in force"
    )
    futures_depth: NonNegativeDecimal | None = Field(
        default=None, description="depth of the USD-M books (default: the same as spot's)"
    )
    futures_spread_bps: NonNegativeDecimal | None = Field(
        default=None, description="spread of the USD-M books (default: the same as spot's)"
    )


class MarketFilters(_Strict):
    """Exchange filters and fees of one market (spot or USD-M) on one venue.

    The limits must sit on their grids, as :mod:`router.sim.rules` enforces them:
    ``min_price`` and ``max_price`` are multiples of ``tick_size`` (Binance checks
    ``(price - minPrice) % tickSize == 0`` while ccxt rounds prices to multiples of the
    tick from 0, so both hold only when ``minPrice`` is on the tick grid), the quantity
    limits are multiples of their step, and every minimum is below its maximum.
    A limit a table leaves out is fitted onto the table's grid instead (see
    :func:`_fit_missing_limits`); one it sets explicitly is refused when off the grid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    tick_size: PositiveDecimal = Decimal("0.01")
    step_size: PositiveDecimal = Decimal("0.00001")
    min_qty: PositiveDecimal = Decimal("0.00001")
    max_qty: PositiveDecimal = Decimal("9000")
    market_step_size: PositiveDecimal | None = None
    market_min_qty: PositiveDecimal | None = None
    market_max_qty: PositiveDecimal = Decimal("100")
    min_notional: NonNegativeDecimal = Decimal("5")
    min_price: PositiveDecimal = Decimal("0.01")
    max_price: PositiveDecimal = Decimal("1000000")
    percent_up: PositiveDecimal = Decimal("5")
    percent_down: PositiveDecimal = Decimal("0.2")
    maker_fee: NonNegativeDecimal = Decimal("0.001")
    taker_fee: NonNegativeDecimal = Decimal("0.001")

    @model_validator(mode="before")
    @classmethod
    def _price_grid_start(cls, data: object) -> object:
        """Without an explicit ``min_price`` the price grid starts at one tick; the other
        limits left out are the defaults fitted onto the table's grid."""
        if not isinstance(data, dict):
            return data
        if "tick_size" in data and "min_price" not in data:
            data = {**data, "min_price": data["tick_size"]}
        defaults = {name: field.default for name, field in cls.model_fields.items()}
        return _fit_missing_limits(data, defaults)

    # Fields are validated in declaration order, so ``info.data`` already holds the
    # grids (declared first) when a limit is checked; a grid that failed is absent.

    @field_validator("min_price", "max_price")
    @classmethod
    def _price_on_tick(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        _require_on_grid(info.field_name, value, "tick_size", info.data.get("tick_size"))
        if info.field_name == "max_price":
            low = info.data.get("min_price")
            if low is not None and not low < value:
                raise ValueError(f"max_price {value} is not above min_price {low}")
        return value

    @field_validator("min_qty", "max_qty")
    @classmethod
    def _qty_on_step(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        _require_on_grid(info.field_name, value, "step_size", info.data.get("step_size"))
        if info.field_name == "max_qty":
            low = info.data.get("min_qty")
            if low is not None and low > value:
                raise ValueError(f"max_qty {value} is below min_qty {low}")
        return value

    @field_validator("market_min_qty", "market_max_qty")
    @classmethod
    def _market_qty_on_step(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        """MARKET_LOT_SIZE: on ``market_step_size`` (``step_size`` when unset)."""
        if value is None or "market_step_size" not in info.data:
            return value
        step_key = "market_step_size" if info.data["market_step_size"] else "step_size"
        _require_on_grid(info.field_name, value, step_key, info.data.get(step_key))
        if info.field_name == "market_max_qty":
            low_key = "market_min_qty" if info.data.get("market_min_qty") else "min_qty"
            low = info.data.get(low_key)
            if low is not None and low > value:
                raise ValueError(f"market_max_qty {value} is below {low_key} {low}")
        return value


def _require_on_grid(key: str | None, value: Decimal, grid_key: str, grid: object) -> None:
    """Refuse ``value`` unless it is a whole multiple of ``grid`` (skipped if the grid is bad)."""
    if not isinstance(grid, Decimal):
        return
    try:
        on_grid = value % grid == 0
    except InvalidOperation as exc:  # more grid steps than Decimal's 28 digits
        raise ValueError(f"{grid_key} {grid} is too fine for {key} {value}") from exc
    if not on_grid:
        raise ValueError(f"{key} {value} is not a multiple of {grid_key} {grid}")


_LIMIT_GRIDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("min_price", ("tick_size",), ROUND_CEILING),
    ("max_price", ("tick_size",), ROUND_FLOOR),
    ("min_qty", ("step_size",), ROUND_CEILING),
    ("max_qty", ("step_size",), ROUND_FLOOR),
    ("market_max_qty", ("market_step_size", "step_size"), ROUND_FLOOR),
)
"""Each limit a table may leave out, its grid (the first one set) and how it is fitted."""


def _as_decimal(value: object) -> Decimal | None:
    """A positive finite decimal from a TOML value, or None (the model will report it)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def _fit_missing_limits(table: dict[str, object], defaults: dict[str, object]) -> dict[str, object]:
    """``table`` with the limits it leaves out taken from ``defaults``, fitted onto the
    grid in force (the table's own, else the default one): minimums rounded up and
    maximums rounded down to the nearest multiple of the tick or step. A default already
    on the grid is kept exactly; limits the table sets are left for validation."""
    fitted = dict(table)
    for key, grid_keys, rounding in _LIMIT_GRIDS:
        if key in table:
            continue
        default = _as_decimal(defaults.get(key))
        grid = next(
            (
                g
                for g in (_as_decimal(table.get(k, defaults.get(k))) for k in grid_keys)
                if g is not None
            ),
            None,
        )
        if default is None or grid is None:
            continue
        try:
            if default % grid != 0:
                fitted[key] = (default / grid).to_integral_value(rounding=rounding) * grid
        except InvalidOperation:
            continue
    return fitted


def _default_futures() -> MarketFilters:
    return MarketFilters(
        tick_size=Decimal("0.1"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("1000"),
        market_max_qty=Decimal("120"),
        min_notional=Decimal("100"),
        min_price=Decimal("556.80"),
        max_price=Decimal("4529764"),
        percent_up=Decimal("1.05"),
        percent_down=Decimal("0.95"),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
    )


class VenueStage(_Strict):
    """A point of one venue's own multipliers on the common stage schedule.

    Interpolated linearly in ``at_s`` like :class:`Stage`; before the first point the
    first applies, after the last the last. Lets venues suffer a crisis unequally.
    """

    at_s: NonNegativeDecimal
    depth: NonNegativeDecimal = Decimal("1")
    spread: NonNegativeDecimal = Decimal("1")


class VenueSpec(_Strict):
    """One simulated exchange: its books' shape, markets, account and latency."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
    depth_scale: PositiveDecimal = Decimal("1")
    spread_extra_bps: NonNegativeDecimal = Decimal("0")
    price_offset_bps: Decimal = Decimal("0")
    resilience_s: PositiveDecimal = Field(
        default=Decimal("5"), description="half-life of liquidity consumed by aggressive orders"
    )
    latency_ms: NonNegativeDecimal = Decimal("0")
    latency_jitter_ms: NonNegativeDecimal = Decimal("0")
    spot: MarketFilters = Field(default_factory=MarketFilters)
    futures: MarketFilters | None = Field(default_factory=_default_futures)
    leverage: Annotated[int, Field(ge=1, le=125)] = 10
    balances: dict[str, NonNegativeDecimal] = Field(
        default_factory=lambda: {"BTC": Decimal("10"), "USDT": Decimal("100000")}
    )
    futures_wallet: NonNegativeDecimal = Decimal("100000")
    stage_multipliers: list[VenueStage] = Field(
        default_factory=list, description="this venue's multipliers on stage depth and spread"
    )

    @field_validator("futures", mode="before")
    @classmethod
    def _futures_off(cls, value: object) -> object:
        """``false`` disables the USD-M market (TOML has no null), ``true`` keeps the
        defaults, and a table's missing keys take the USD-M defaults, not the spot ones.

        Missing limits are fitted onto the table's grid like Binance lists them, on the
        grid: a 0.5 tick without ``min_price`` gets 557.0, the USD-M floor 556.80 rounded
        up, rather than an off-grid minPrice that fails every order with -4014."""
        if value is True:
            return _default_futures()
        if isinstance(value, dict):
            defaults = _default_futures().model_dump()
            return {**defaults, **_fit_missing_limits(value, defaults)}
        return None if value is False else value

    @model_validator(mode="after")
    def _check_multipliers(self) -> VenueSpec:
        times = [point.at_s for point in self.stage_multipliers]
        if times != sorted(times):
            raise ValueError("stage_multipliers: at_s must increase")
        return self


FaultKind = Literal[
    "outage",
    "rate_limit",
    "ip_ban",
    "latency",
    "timeout_after_accept",
    "garbled",
    "partial_fill",
    "insufficient_balance",
    "nonsense",
]
NonsenseVariant = Literal[
    "crossed_book",
    "negative_price",
    "string_numbers",
    "null_numbers",
    "missing_fields",
    "other_client_id",
]
"""How a ``nonsense`` fault spoils a well-formed answer (see ``router.sim.faults.nonsense``)."""


class FaultSpec(_Strict):
    """A fault injected on one venue (or all) for a window of scenario time.

    ``endpoint`` is a shell-style pattern matched against ``"METHOD /path"``, for
    example ``"POST /api/v3/order"`` or ``"* /fapi/*"``; ``"*"`` matches everything.
    """

    kind: FaultKind
    venue: str = "*"
    endpoint: str = "*"
    start_s: NonNegativeDecimal = Decimal("0")
    end_s: Decimal | None = None
    probability: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("1")
    count: Annotated[int, Field(ge=1)] | None = None
    retry_after_s: Annotated[int, Field(ge=0)] = 1
    latency_ms: NonNegativeDecimal = Decimal("0")
    fill_ratio: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.3")
    mode: Literal["code_1007", "drop"] = "code_1007"
    variant: NonsenseVariant = "crossed_book"


class CloseSpec(_Strict):
    """The close decision a replay sends through the router (``router simulate``)."""

    at_s: NonNegativeDecimal = Field(
        default=Decimal("0"), description="scenario time at which the decision arrives"
    )
    side: Literal["sell", "buy"] = "sell"
    quantity: str = Field(default="all", description='"all" or a quantity of the base asset')
    urgency: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.9")
    danger: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    unrealized_pnl: Annotated[Decimal, Field(ge=-1, le=10)] | None = None
    volatility: Annotated[Decimal, Field(ge=0, le=1)] | None = None
    allow_hedge: bool = True
    deadline_s: PositiveDecimal | None = None


class Scenario(_Strict):
    """A whole simulated world."""

    name: str
    description: str = ""
    symbol: str = "BTCUSDT"
    base_asset: str = "BTC"
    quote_asset: str = "USDT"
    extra_assets: Annotated[int, Field(ge=0, le=99)] = Field(
        default=0,
        description="synthetic spot assets A01, A02, ... whose markets, books and balances "
        "mirror the base asset's, each with its own order book",
    )
    duration_s: PositiveDecimal = Decimal("1800")
    speed: PositiveDecimal = Field(
        default=Decimal("1"), description="scenario seconds per wall-clock second"
    )
    tick_s: PositiveDecimal = Decimal("0.25")
    futures_basis_bps: Decimal = Field(
        default=Decimal("2"), description="USD-M mid above the spot mid, in basis points"
    )
    path: SyntheticPath | CandlePath = Field(discriminator="kind", default_factory=SyntheticPath)
    stages: list[Stage] = Field(default_factory=lambda: [Stage(at_s=Decimal("0"))])
    venues: list[VenueSpec]
    faults: list[FaultSpec] = Field(default_factory=list)
    close: CloseSpec = Field(default_factory=CloseSpec)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if not self.venues:
            raise ValueError("venues: at least one venue is required")
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venues: names must be unique, got {names}")
        if not self.stages:
            raise ValueError("stages: at least one stage is required")
        times = [s.at_s for s in self.stages]
        if times != sorted(times) or times[0] != 0:
            raise ValueError("stages: at_s must start at 0 and increase")
        for fault in self.faults:
            if fault.venue != "*" and fault.venue not in names:
                raise ValueError(f"faults: unknown venue {fault.venue!r}")
        clash = {self.base_asset, self.quote_asset} & set(self.extra_asset_names())
        if clash:
            raise ValueError(f"extra_assets: {sorted(clash)} is already the base or quote asset")
        return self

    def extra_asset_names(self) -> list[str]:
        """Names of the synthetic assets: ``A01`` .. ``A{extra_assets:02d}``."""
        return [f"A{index:02d}" for index in range(1, self.extra_assets + 1)]

    def venue(self, name: str) -> VenueSpec:
        for spec in self.venues:
            if spec.name == name:
                return spec
        raise KeyError(name)


def resolve_scenario_path(name_or_file: str) -> Path:
    """A scenario name (``calm``) or a path to a TOML file."""
    candidate = Path(name_or_file)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"scenario file not found: {name_or_file}")
        return candidate
    named = scenario_dir() / f"{name_or_file}.toml"
    if not named.is_file():
        known = ", ".join(sorted(p.stem for p in scenario_dir().glob("*.toml")))
        raise ScenarioError(f"unknown scenario {name_or_file!r}; known: {known}")
    return named


def load_scenario(name_or_file: str) -> Scenario:
    """Load and validate a scenario; errors name the file and the offending key."""
    path = resolve_scenario_path(name_or_file)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path.name}: invalid TOML: {exc}") from exc
    return parse_scenario(raw, source=path.name)


def parse_scenario(raw: dict[str, object], *, source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(f"{source}: {problems}") from exc
