"""Reading configuration files: the I/O edge in front of the pure core's policies."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.core.guard import GuardedPosition
from router.core.policy import Policy, PolicyError, parse_policy


def config_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "config"


def default_policy_path() -> Path:
    return config_dir() / "policy.toml"


def load_policy(path: Path | None = None) -> Policy:
    """The policy file (``config/policy.toml`` by default); seed defaults if it is absent."""
    target = path or default_policy_path()
    if not target.exists():
        if path is not None:
            raise PolicyError(f"policy file not found: {path}")
        return Policy()
    try:
        raw = tomllib.loads(target.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{target.name}: invalid TOML: {exc}") from exc
    return parse_policy(raw, source=target.name)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardPositionConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")]
    side: Literal["long", "short"]
    entry_price: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    quantity: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class GuardConfig(_Strict):
    poll_s: Annotated[Decimal, Field(gt=0)] = Decimal(5)
    danger: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    allow_hedge: bool = True
    positions: Annotated[list[GuardPositionConfig], Field(min_length=1)]

    def guarded(self) -> list[GuardedPosition]:
        return [
            GuardedPosition(p.name, p.symbol, p.side, p.entry_price, p.quantity)
            for p in self.positions
        ]


def load_guard_config(path: Path) -> GuardConfig:
    """The guard's positions; a wrong key or value fails naming it."""
    if not path.is_file():
        raise PolicyError(f"guard configuration not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return GuardConfig.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(f"{path.name}: {problems}") from exc
