"""The seed's policies as data: stop-loss tiers, the escalation ladder, urgency batching.

Defaults are the seed's: -10% / -20% / -30% unrealised PnL stop at 5% / 10% /
unbounded slippage; a close climbs 5% -> 10% -> unbounded when a wave fills too
little; urgency above 0.8 exits in one aggressive batch, above 0.5 in three batches a
second apart, otherwise in five passive batches five seconds apart. The ``[policy]``
table of ``config/default.toml`` overrides any of it (read by :mod:`router.config`); an
invalid file fails at load with the key named.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

UNBOUNDED = "unbounded"
Fraction = Annotated[Decimal, Field(ge=0, le=1)]


class PolicyError(ValueError):
    """The policy file is invalid: the message names the file and the key to fix."""


def _slippage(value: object) -> object:
    """``"unbounded"`` (or 1, "accept any slippage") means no cap: ``None``."""
    if value is None or (isinstance(value, str) and value.strip().lower() == UNBOUNDED):
        return None
    if isinstance(value, float):
        value = str(value)
    if isinstance(value, str | int | Decimal) and Decimal(str(value)) == 1:
        return None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StopTier(_Strict):
    """A stop-loss level: at or below ``pnl_at_or_below`` the close tolerates ``max_slippage``."""

    name: str
    pnl_at_or_below: Annotated[Decimal, Field(lt=0, ge=-1)]
    max_slippage: Annotated[Decimal, Field(gt=0, lt=1)] | None

    _unbounded = field_validator("max_slippage", mode="before")(_slippage)


class UrgencyBand(_Strict):
    """Urgency strictly above ``above`` gets this batch schedule."""

    above: Annotated[Decimal, Field(ge=0, lt=1)]
    batches: Annotated[int, Field(ge=1, le=100)]
    spacing_s: Annotated[Decimal, Field(ge=0)]
    pricing: Literal["aggressive", "passive"]


class LiquidityPolicy(_Strict):
    close_below: Fraction = Decimal("0.3")
    escape_now_below_s: Annotated[Decimal, Field(ge=0)] = Decimal(60)
    escape_horizon_s: Annotated[Decimal, Field(gt=0)] = Decimal(1800)
    depth_levels: Annotated[int, Field(ge=1, le=1000)] = 10
    baseline_window: Annotated[int, Field(ge=1)] = 360
    volatility_horizon_s: Annotated[Decimal, Field(gt=0)] = Decimal(86400)
    vote_confidence: Fraction = Decimal("0.95")


def _seed_tiers() -> list[StopTier]:
    return [
        StopTier(name="normal", pnl_at_or_below=Decimal("-0.10"), max_slippage=Decimal("0.05")),
        StopTier(name="emergency", pnl_at_or_below=Decimal("-0.20"), max_slippage=Decimal("0.10")),
        StopTier(name="survival", pnl_at_or_below=Decimal("-0.30"), max_slippage=None),
    ]


def _seed_urgency() -> list[UrgencyBand]:
    return [
        UrgencyBand(above=Decimal("0.8"), batches=1, spacing_s=Decimal(0), pricing="aggressive"),
        UrgencyBand(above=Decimal("0.5"), batches=3, spacing_s=Decimal(1), pricing="aggressive"),
        UrgencyBand(above=Decimal(0), batches=5, spacing_s=Decimal(5), pricing="passive"),
    ]


class Policy(_Strict):
    stop_tiers: list[StopTier] = Field(default_factory=_seed_tiers)
    ladder: list[Annotated[Decimal, Field(gt=0, lt=1)] | None] = Field(
        default_factory=lambda: [Decimal("0.05"), Decimal("0.10"), None]
    )
    escalate_below_fill_ratio: Fraction = Field(
        default=Decimal("0.5"),
        description="a wave that fills less than this share of what it sent climbs a rung",
    )
    hedge_margin: Annotated[Decimal, Field(ge=0, lt=1)] | None = Field(
        default=Decimal("0.005"),
        description="hedge the rest as soon as the perpetual beats spot at the current "
        "tier by more than this fraction; 'never' hedges only when spot cannot fill",
    )
    split_above_impact: Fraction = Field(
        default=Decimal("0.001"),
        description="urgency batches split a close only when selling the rest at once "
        "would cost this fraction of the reference or more (0: always split)",
    )
    urgency: list[UrgencyBand] = Field(default_factory=_seed_urgency)
    liquidity: LiquidityPolicy = Field(default_factory=LiquidityPolicy)

    @field_validator("hedge_margin", mode="before")
    @classmethod
    def _never(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "never":
            return None
        return value

    @field_validator("ladder", mode="before")
    @classmethod
    def _ladder_unbounded(cls, value: object) -> object:
        if isinstance(value, list):
            return [_slippage(item) for item in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> Policy:
        thresholds = [t.pnl_at_or_below for t in self.stop_tiers]
        if thresholds != sorted(thresholds, reverse=True) or len(set(thresholds)) != len(
            thresholds
        ):
            raise ValueError("stop_tiers: pnl_at_or_below must strictly decrease (-0.1, -0.2, …)")
        if not self.ladder:
            raise ValueError("ladder: at least one rung is required")
        bounded = [r for r in self.ladder if r is not None]
        if bounded != sorted(bounded) or len(set(bounded)) != len(bounded):
            raise ValueError("ladder: tolerances must strictly increase")
        if None in self.ladder[:-1]:
            raise ValueError("ladder: 'unbounded' can only be the last rung")
        for tier in self.stop_tiers:
            if tier.max_slippage not in self.ladder:
                raise ValueError(
                    f"stop_tiers.{tier.name}: max_slippage {tier.max_slippage or UNBOUNDED} "
                    "is not a rung of the ladder"
                )
        floors = [band.above for band in self.urgency]
        if floors != sorted(floors, reverse=True) or not floors or floors[-1] != 0:
            raise ValueError("urgency: bands must be ordered by 'above', highest first, last 0")
        return self

    def stop_tier(self, unrealized_pnl: Decimal) -> StopTier | None:
        """The deepest tier the position's unrealised PnL (a fraction) has reached."""
        reached = [t for t in self.stop_tiers if unrealized_pnl <= t.pnl_at_or_below]
        return reached[-1] if reached else None

    def starting_rung(self, unrealized_pnl: Decimal | None) -> int:
        """The ladder rung a close starts on: its stop tier's tolerance, else the first."""
        tier = self.stop_tier(unrealized_pnl) if unrealized_pnl is not None else None
        if tier is None:
            return 0
        return self.ladder.index(tier.max_slippage)

    def next_rung(self, rung: int) -> int | None:
        return rung + 1 if rung + 1 < len(self.ladder) else None

    def tolerance(self, rung: int) -> Decimal | None:
        """The rung's slippage cap as a fraction of the reference; ``None`` = unbounded."""
        return self.ladder[rung]

    def schedule(self, urgency: Decimal, *, escape_now: bool = False) -> UrgencyBand:
        """Batch schedule for an urgency in [0, 1]; escaping now means the highest urgency."""
        level = Decimal(1) if escape_now else max(Decimal(0), min(Decimal(1), urgency))
        for band in self.urgency:
            if level > band.above:
                return band
        return self.urgency[-1]


def parse_policy(raw: dict[str, object], *, source: str = "<policy>") -> Policy:
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from exc
